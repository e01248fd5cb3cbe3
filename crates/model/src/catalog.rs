//! Products, product lines and the customers they are sold to.
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProductLine {
    pub id: String,
    pub name: String,
    /// Days from signing to delivery of the line's products (the demand
    /// roll-down needs them on the delivery day; payment terms count from
    /// it).
    pub delivery_days: u32,
}

/// What a SKU is in the catalog.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ProductKind {
    /// A sellable main unit: laptop, server chassis, display.
    Base,
    /// An option of a base unit, in an option group (CPU, memory, ...).
    Option,
    /// An accessory sold on its own.
    Accessory,
    /// Warranty, installation, support.
    Service,
}

impl ProductKind {
    pub fn name(self) -> &'static str {
        match self {
            Self::Base => "base",
            Self::Option => "option",
            Self::Accessory => "accessory",
            Self::Service => "service",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Product {
    pub sku: String,
    pub name: String,
    pub product_line: String,
    pub kind: ProductKind,
    /// Option group for options ("cpu", "memory", ...).
    pub option_group: Option<String>,
    /// Unit of measure: "each", "year", ...
    pub unit: String,
    /// Standard cost per unit, in the corporate currency.
    pub cost: Decimal,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Segment {
    pub id: String,
    pub name: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Region {
    pub id: String,
    pub name: String,
}

/// A named customer account with its segment and region.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Account {
    pub id: String,
    pub name: String,
    pub segment: String,
    pub region: String,
}
