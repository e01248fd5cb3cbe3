//! Won orders as firm demand: an order's lines (its configured products'
//! options included, so each is exploded through its exact configuration)
//! become the lines of one deal won for certain on the day it was
//! accepted, needed on its product line's delivery day. Lines already
//! delivered by the plan date are left out; every order counts once as a
//! won deal for the attach rates.
use chrono::{Days, NaiveDate};
pub use quotecast_forecast::{WonOrder, WonOrderLine};
use quotecast_model::RuleSet;
use rust_decimal::{Decimal, prelude::ToPrimitive};

use crate::{DemandLine, Name, Names};

/// What won orders bring to a plan.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FirmDemand {
    /// Lines of orders not yet delivered on the plan date.
    pub lines: Vec<DemandLine>,
    /// The SKUs of each order already delivered: won deals whose
    /// configurations teach the attach rates.
    pub won: Vec<Vec<String>>,
}

/// The firm demand of `orders` accepted on or before `as_of`.
pub fn firm_demand(rules: &RuleSet, orders: &[WonOrder], as_of: NaiveDate) -> FirmDemand {
    let mut firm = FirmDemand::default();
    let mut names = Names::default();
    for order in orders.iter().filter(|o| o.accepted_on <= as_of) {
        let delivered = |line: &WonOrderLine| {
            rules
                .product_line(&line.product_line)
                .and_then(|p| {
                    order
                        .accepted_on
                        .checked_add_days(Days::new(u64::from(p.delivery_days)))
                })
                .is_some_and(|due| due < as_of)
        };
        // An amount in the corporate currency (for cash-in); an order in a
        // currency the rules no longer know brings no cash.
        let per_corporate = rules
            .currency(&order.currency)
            .map(|c| c.from_corporate(Decimal::ONE))
            .filter(|r| !r.is_zero());
        let deal: Name = format!("order-{}", order.number).into();
        if order.lines.iter().all(delivered) {
            // Delivered: no demand left, but its configuration still
            // teaches the attach rates (an order planned below does so as
            // a won deal among the lines).
            firm.won
                .push(order.lines.iter().map(|l| l.sku.clone()).collect());
            continue;
        }
        for line in order.lines.iter().filter(|l| !delivered(l)) {
            firm.lines.push(DemandLine {
                deal: deal.clone(),
                account: names.get(&order.account),
                product_line: names.get(&line.product_line),
                sku: names.get(&line.sku),
                quantity: line.quantity.to_f64().unwrap_or(0.0),
                amount: per_corporate
                    .and_then(|r| (line.net / r).to_f64())
                    .unwrap_or(0.0),
                close_date: order.accepted_on,
                probability: 1.0,
                point: 0,
                points: 1,
                ..DemandLine::default()
            });
        }
    }
    firm
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_common::{d, dec, example_rules};

    fn order(number: i64, accepted_on: &str, currency: &str) -> WonOrder {
        WonOrder {
            number,
            account: "acme".into(),
            owner: "ana".into(),
            currency: currency.into(),
            accepted_on: d(accepted_on),
            lines: vec![
                // Servers deliver 21 days after signing, laptops 7.
                WonOrderLine {
                    sku: "SRV-2U".into(),
                    product_line: "servers".into(),
                    quantity: dec("2"),
                    net: dec("7200.00"),
                },
                WonOrderLine {
                    sku: "LT-14-PRO".into(),
                    product_line: "laptops".into(),
                    quantity: dec("3"),
                    net: dec("3447.00"),
                },
            ],
        }
    }

    #[test]
    fn delivered_lines_leave_the_plan_and_every_order_teaches_attach_rates_once() {
        let rules = example_rules();
        let as_of = d("2026-06-20");
        let firm = firm_demand(
            &rules,
            &[
                // Laptops delivered on the 11th, servers due on the 25th.
                order(1, "2026-06-04", "USD"),
                // All delivered.
                order(2, "2026-05-01", "USD"),
                // Accepted after the plan date: not in this plan.
                order(3, "2026-06-21", "USD"),
            ],
            as_of,
        );
        let planned: Vec<(&str, &str, f64)> = firm
            .lines
            .iter()
            .map(|l| (&*l.deal, &*l.sku, l.probability))
            .collect();
        assert_eq!(planned, [("order-1", "SRV-2U", 1.0)]);
        assert_eq!(firm.lines[0].quantity, 2.0);
        assert_eq!(firm.lines[0].amount, 7200.0);
        assert_eq!(firm.lines[0].close_date, d("2026-06-04"));
        assert_eq!(
            firm.won,
            [vec!["SRV-2U".to_owned(), "LT-14-PRO".to_owned()]]
        );
    }

    #[test]
    fn amounts_are_brought_to_the_corporate_currency() {
        let rules = example_rules();
        let eur = rules.currency("EUR").unwrap().from_corporate(Decimal::ONE);
        let firm = firm_demand(&rules, &[order(1, "2026-06-18", "EUR")], d("2026-06-20"));
        let expected = (dec("7200.00") / eur).to_f64().unwrap();
        assert!((firm.lines[0].amount - expected).abs() < 1e-9);
    }
}
