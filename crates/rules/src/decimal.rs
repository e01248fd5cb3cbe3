//! Exact decimals from text: money and percentages are written as strings
//! ("1299.00") or integers, never as binary floating point.
use std::fmt;

use rust_decimal::Decimal;
use serde::{Deserialize, Deserializer, de};

/// A decimal read exactly from a string or an integer; a float is refused
/// because it may already have lost the value the author wrote.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ExactDecimal(pub Decimal);

impl<'de> Deserialize<'de> for ExactDecimal {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl de::Visitor<'_> for Visitor {
            type Value = ExactDecimal;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a decimal written as a string, such as \"1299.00\", or an integer")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                quotecast_model::parse_strict_decimal(v)
                    .map(ExactDecimal)
                    .map_err(E::custom)
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
                Ok(ExactDecimal(Decimal::from(v)))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
                Ok(ExactDecimal(Decimal::from(v)))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Self::Value, E> {
                Err(E::custom(format!(
                    "write decimals as strings (\"{v}\"), not as floating-point numbers"
                )))
            }
        }
        deserializer.deserialize_any(Visitor)
    }
}

/// `deserialize_with` helper for a required exact decimal.
pub(crate) fn exact<'de, D: Deserializer<'de>>(d: D) -> Result<Decimal, D::Error> {
    ExactDecimal::deserialize(d).map(|e| e.0)
}

/// `deserialize_with` helper for an optional exact decimal.
pub(crate) fn exact_opt<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Decimal>, D::Error> {
    Option::<ExactDecimal>::deserialize(d).map(|o| o.map(|e| e.0))
}
