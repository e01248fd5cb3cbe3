//! Properties of pricing that must hold for every quote: generated quotes
//! over the example rules (random currency, date, customer, SKUs,
//! quantities and discounts).
#![allow(clippy::unwrap_used)]

use std::sync::OnceLock;

use proptest::prelude::*;
use quotecast_model::{FloorKind, RuleSet};
use quotecast_pricing::{
    LineRequest, ManualDiscount, PricedQuote, PricingError, QuoteRequest, RejectReason, StepKind,
    price_quote,
};
use quotecast_tests::{date, example_rules};
use rust_decimal::Decimal;

/// Properties of the waterfall over plain lines: no configuration models.
fn no_models() -> quotecast_pricing::Configurators {
    quotecast_pricing::Configurators::new()
}

fn rules() -> &'static RuleSet {
    static RULES: OnceLock<RuleSet> = OnceLock::new();
    RULES.get_or_init(example_rules)
}

const DATES: &[&str] = &["2026-03-01", "2026-05-01", "2026-08-15", "2026-11-22"];
const CURRENCIES: &[&str] = &["USD", "EUR", "CNY"];
const ACCOUNTS: &[Option<&str>] = &[
    None,
    Some("acme"),
    Some("globex"),
    Some("initech"),
    Some("hanhai"),
    Some("northstate"),
    Some("zephyr"),
    Some("unilyon"),
];

fn skus() -> Vec<String> {
    rules().products().map(|p| p.sku.clone()).collect()
}

fn discount(currency: &'static str) -> impl Strategy<Value = Option<ManualDiscount>> {
    prop_oneof![
        3 => Just(None),
        2 => (0u32..=2500).prop_map(|bp| Some(ManualDiscount::Percent(Decimal::new(bp.into(), 2)))),
        1 => (0u32..=5000).prop_map(move |c| Some(ManualDiscount::Amount {
            currency: currency.into(),
            amount: Decimal::new(c.into(), 2),
        })),
    ]
}

fn quote_strategy(sku_pool: Vec<String>) -> impl Strategy<Value = QuoteRequest> {
    (
        prop::sample::select(CURRENCIES),
        prop::sample::select(DATES),
        prop::sample::select(ACCOUNTS),
    )
        .prop_flat_map(move |(currency, on, account)| {
            let line = (
                prop::sample::select(sku_pool.clone()),
                1u32..=300,
                prop::bool::weighted(0.2),
                discount(currency),
            );
            (
                prop::collection::vec(line, 1..25),
                prop_oneof![
                    4 => Just(None),
                    1 => (0u32..=800).prop_map(|bp| Some(ManualDiscount::Percent(Decimal::new(bp.into(), 2)))),
                    1 => (0u32..=20000).prop_map(move |c| Some(ManualDiscount::Amount {
                        currency: currency.into(),
                        amount: Decimal::new(c.into(), 2),
                    })),
                ],
            )
                .prop_map(move |(lines, header)| QuoteRequest {
                    currency: currency.into(),
                    price_date: date(on),
                    account: account.map(str::to_owned),
                    segment: None,
                    region: None,
                    lines: lines
                        .into_iter()
                        .enumerate()
                        .map(|(i, (sku, qty, fractional, discount))| LineRequest {
                            line_id: format!("L{i}"),
                            sku,
                            // Some quantities are fractional (e.g. service hours).
                            quantity: if fractional {
                                Decimal::new(i64::from(qty) * 25, 2)
                            } else {
                                Decimal::from(qty)
                            },
                            discount,
                            configuration: None,
                            part_of: None,
                        })
                        .collect(),
                    header_discount: header,
                })
        })
}

/// Prices, or checks that a refusal is one the rules allow (a rejecting
/// floor or a discount larger than the amount it applies to).
fn price_or_refusal(q: &QuoteRequest) -> Option<PricedQuote<'static>> {
    match price_quote(rules(), &no_models(), q) {
        Ok(p) => Some(p),
        Err(PricingError::RuleViolation(r)) => {
            assert!(
                r.iter().all(|r| r.reason == RejectReason::BelowFloor),
                "{r:?}"
            );
            None
        }
        Err(PricingError::InvalidRequest(r)) => {
            assert!(
                r.iter()
                    .all(|r| r.reason == RejectReason::DiscountExceedsAmount),
                "{r:?}"
            );
            None
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, ..ProptestConfig::default() })]

    #[test]
    fn totals_are_the_sums_of_the_lines(q in quote_strategy(skus())) {
        let Some(p) = price_or_refusal(&q) else { return Ok(()) };
        let sum = |f: fn(&quotecast_pricing::PricedLine<'_>) -> Decimal| p.lines.iter().map(f).sum::<Decimal>();
        prop_assert_eq!(p.totals.list, sum(|l| l.list_extended));
        prop_assert_eq!(p.totals.net, sum(|l| l.net_extended));
        prop_assert_eq!(p.totals.cost, sum(|l| l.cost_extended));
        prop_assert_eq!(p.totals.discount, p.totals.list - p.totals.net);
        prop_assert_eq!(p.totals.margin, p.totals.net - p.totals.cost);
        let sub_net: Decimal = p.subtotals.iter().map(|(_, t)| t.net).sum();
        prop_assert_eq!(sub_net, p.totals.net);
        // Each line's waterfall adds up to its net amount.
        for l in &p.lines {
            let steps: Decimal = l.waterfall.iter().map(|s| s.amount).sum();
            prop_assert_eq!(steps, l.net_extended, "line {}", l.line_id);
        }
    }

    #[test]
    fn line_order_does_not_change_the_result(q in quote_strategy(skus()), seed in any::<u64>()) {
        let mut shuffled = q.clone();
        // A deterministic permutation from the seed.
        let n = shuffled.lines.len();
        let mut state = seed | 1;
        for i in (1..n).rev() {
            state ^= state << 13; state ^= state >> 7; state ^= state << 17;
            let j = (state % (i as u64 + 1)) as usize;
            shuffled.lines.swap(i, j);
        }
        let a = price_quote(rules(), &no_models(), &q);
        let b = price_quote(rules(), &no_models(), &shuffled);
        match (a, b) {
            (Ok(a), Ok(b)) => {
                prop_assert_eq!(&a.totals, &b.totals);
                prop_assert_eq!(&a.approval.level, &b.approval.level);
                for la in &a.lines {
                    let lb = b.lines.iter().find(|l| l.line_id == la.line_id).unwrap();
                    prop_assert_eq!(la.net_extended, lb.net_extended, "line {}", la.line_id);
                    prop_assert_eq!(&la.waterfall, &lb.waterfall);
                }
            }
            (Err(a), Err(b)) => {
                let mut fa: Vec<String> = a.rejections().iter().map(|r| r.message.clone()).collect();
                let mut fb: Vec<String> = b.rejections().iter().map(|r| r.message.clone()).collect();
                fa.sort(); fb.sort();
                prop_assert_eq!(fa, fb);
            }
            (a, b) => prop_assert!(false, "one order priced and the other did not: {:?} / {:?}", a.is_ok(), b.is_ok()),
        }
    }

    #[test]
    fn no_line_nets_below_its_floor(
        q in quote_strategy(skus().into_iter().filter(|s| s != "SRV-RAIL-KIT").collect())
    ) {
        // Without the rail kit no unit is included free, so every unit of a
        // line is chargeable and must respect each floor that applies.
        let Some(p) = price_or_refusal(&q) else { return Ok(()) };
        let currency = rules().currency(&q.currency).unwrap();
        for l in &p.lines {
            let product = rules().product(l.sku).unwrap();
            for floor in rules().floors_for(l.sku) {
                // Each floor's definition, in exact arithmetic (no division).
                let (holds, floor_text) = match floor.kind {
                    FloorKind::PercentOfList(pct) => {
                        let min = pct.of(l.list_unit_price) * l.quantity;
                        (l.net_extended >= min, min.to_string())
                    }
                    FloorKind::MinMarginPercent(m) => {
                        // margin >= m  <=>  net × (1 - m/100) >= cost
                        let cost = currency.from_corporate(product.cost) * l.quantity;
                        let keep = Decimal::ONE - m.0 / Decimal::ONE_HUNDRED;
                        (l.net_extended * keep >= cost, format!("margin {m} on cost {cost}"))
                    }
                };
                prop_assert!(holds, "line {} {} nets {} below floor {} of {}",
                    l.line_id, l.sku, l.net_extended, floor_text, floor.id);
            }
        }
    }

    #[test]
    fn rounding_moves_each_line_by_at_most_half_a_minor_unit(q in quote_strategy(skus())) {
        let Some(p) = price_or_refusal(&q) else { return Ok(()) };
        let currency = rules().currency(&q.currency).unwrap();
        let half = currency.minor_unit() / Decimal::TWO;
        for l in &p.lines {
            let rounding: Decimal = l.waterfall.iter().filter(|s| s.step == StepKind::Rounding).map(|s| s.amount).sum();
            prop_assert!(rounding.abs() <= half, "line {} rounded by {}", l.line_id, rounding);
            prop_assert_eq!(l.net_extended.scale(), currency.scale);
            prop_assert_eq!(l.net_extended, currency.round(l.net_extended));
        }
    }

    #[test]
    fn a_quote_only_uses_its_own_currencys_prices(q in quote_strategy(skus())) {
        let Some(p) = price_or_refusal(&q) else { return Ok(()) };
        let currency = rules().currency(&q.currency).unwrap();
        prop_assert_eq!(p.currency.as_str(), q.currency.as_str());
        let book = rules().price_book(&currency.code).unwrap();
        for l in &p.lines {
            let entry = book.price_on(l.sku, q.price_date).unwrap();
            prop_assert_eq!(l.list_unit_price, entry.price);
            let book_prefix = format!("{}:", book.id);
            prop_assert!(l.waterfall[0].rule_id.starts_with(&book_prefix));
            let cost = currency.round(currency.from_corporate(rules().product(l.sku).unwrap().cost) * l.quantity);
            prop_assert_eq!(l.cost_extended, cost);
            for step in &l.waterfall {
                if step.step == StepKind::ContractPrice {
                    let contract = rules().contract_prices(l.sku).iter().find(|c| c.id == step.rule_id).unwrap();
                    prop_assert_eq!(&contract.currency, &currency.code);
                }
            }
        }
    }
}

#[test]
fn most_generated_quotes_price_so_the_properties_are_not_vacuous() {
    use proptest::strategy::ValueTree;
    use proptest::test_runner::TestRunner;
    let mut runner = TestRunner::deterministic();
    let strategy = quote_strategy(skus());
    let priced = (0..200)
        .filter(|_| {
            let q = strategy.new_tree(&mut runner).unwrap().current();
            price_or_refusal(&q).is_some()
        })
        .count();
    assert!(
        priced >= 140,
        "only {priced} of 200 generated quotes priced"
    );
}

/// Rules at the allowed maxima: prices and costs of 10^11, a currency at
/// 10^5 per corporate unit, amount tiers, floors, bundles and thresholds.
fn extreme_rules() -> &'static RuleSet {
    static RULES: OnceLock<RuleSet> = OnceLock::new();
    RULES.get_or_init(|| {
        let text = r#"
corporate_currency = "USD"
currency = [
  { code = "USD", name = "US dollar", scale = 2, rounding = "half_up", per_corporate = "1" },
  { code = "IDR", name = "Rupiah", scale = 0, rounding = "half_even", per_corporate = "100000" },
]
product_line = [{ id = "big", name = "Big" }]
segment = [{ id = "s", name = "S" }]
region = [{ id = "r", name = "R" }]
account = [{ id = "a", name = "A", segment = "s", region = "r" }]
product = [
  { sku = "MAX", name = "Max", product_line = "big", kind = "base", cost = "100000000000" },
  { sku = "PART", name = "Part", product_line = "big", kind = "option", option_group = "g", cost = "99999999999.99" },
]
price_book = [
  { id = "usd", name = "USD", currency = "USD" },
  { id = "idr", name = "IDR", currency = "IDR" },
]
price = [
  { book = "usd", sku = "MAX", price = "100000000000", from = "2026-01-01" },
  { book = "usd", sku = "PART", price = "99999999999.99", from = "2026-01-01" },
  { book = "idr", sku = "MAX", price = "100000000000", from = "2026-01-01" },
  { book = "idr", sku = "PART", price = "1", from = "2026-01-01" },
]
contract_price = [{ id = "c", account = "a", sku = "PART", currency = "USD", price = "99999999999", from = "2026-01-01" }]
volume_schedule = [{ id = "v", name = "V", method = "slab", basis = "amount", aggregate = "product_line", tiers = [
  { from = 0, to = "99999999999", percent = "1" }, { from = "99999999999", percent = "99.9999" } ] }]
bundle = [{ id = "b", name = "B", parent = "MAX", component = "PART", per_parent = "100000000000", included = true }]
promotion = [{ id = "p", name = "P", from = "2026-01-01", percent = "0.0001", min_quote_total = "100000000000" }]
floor = [{ id = "f", name = "F", min_margin_percent = "99", action = "clamp" }]
approval_level = [{ id = "none", name = "None", rank = 0 }, { id = "vp", name = "VP", rank = 1 }]
approval_rule = [
  { id = "n", name = "N", level = "vp", net_total_above = "100000000000" },
  { id = "m", name = "M", level = "vp", margin_below = "100" },
  { id = "d", name = "D", level = "vp", manual_discount_above = "0" },
]
"#;
        let source = quotecast_rules::Source { path: "extreme.toml".into(), text: text.into() };
        quotecast_rules::compile_sources(&[source]).expect("extreme rules are valid").0
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 1000, ..ProptestConfig::default() })]

    /// Extreme but allowed inputs never panic: the largest quantities, odd
    /// scales, tiny and huge discounts, many lines of the priciest SKUs.
    #[test]
    fn extreme_inputs_are_priced_or_refused_never_panic(
        currency in prop::sample::select(&["USD", "IDR"][..]),
        lines in prop::collection::vec(
            (
                prop::sample::select(vec!["MAX", "PART"]),
                prop_oneof![
                    Just(quotecast_pricing::MAX_QUANTITY),
                    Just(Decimal::new(1, 6)),
                    (1u64..=100_000_000).prop_map(Decimal::from),
                    (1i64..=i64::MAX).prop_map(|m| Decimal::new(m, 6)),
                ],
                prop_oneof![
                    Just(None),
                    Just(Some(ManualDiscount::Percent(Decimal::new(999_999, 4)))),
                    Just(Some(ManualDiscount::Amount { currency: String::new(), amount: quotecast_pricing::MAX_DISCOUNT_AMOUNT })),
                    (0i64..=i64::MAX).prop_map(|m| Some(ManualDiscount::Percent(Decimal::new(m, 18)))),
                ],
            ),
            1..40,
        ),
        header in prop_oneof![
            Just(None),
            Just(Some(quotecast_pricing::MAX_DISCOUNT_AMOUNT)),
            (0i64..=i64::MAX).prop_map(|m| Some(Decimal::new(m, 3))),
        ],
    ) {
        let q = QuoteRequest {
            currency: currency.into(),
            price_date: date("2026-05-01"),
            account: Some("a".into()),
            segment: None,
            region: None,
            lines: lines
                .into_iter()
                .enumerate()
                .map(|(i, (sku, quantity, discount))| LineRequest {
                    line_id: i.to_string(),
                    sku: sku.into(),
                    quantity,
                    // Amount discounts in the quote's own currency.
                    discount: discount.map(|d| match d {
                        ManualDiscount::Amount { amount, .. } => {
                            ManualDiscount::Amount { currency: currency.into(), amount }
                        }
                        other => other,
                    }),
                    configuration: None,
                    part_of: None,
                })
                .collect(),
            header_discount: header.map(|amount| ManualDiscount::Amount { currency: currency.into(), amount }),
        };
        // Either result is fine; a panic (an overflow) fails the test.
        let _ = price_quote(extreme_rules(), &no_models(), &q);
    }
}
