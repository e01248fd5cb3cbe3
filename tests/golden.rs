//! Golden quotes on the example rules: one or more per waterfall step. Each
//! expected figure is derived by hand in the comment above it from the rule
//! files (price books, rates, tiers), never copied from the engine.
#![allow(clippy::unwrap_used)]

use quotecast_pricing::{
    PricedLine, PricedQuote, PricingError, RejectReason, StepKind, price_quote,
};
use quotecast_tests::*;

fn rules() -> &'static quotecast_model::RuleSet {
    static RULES: std::sync::OnceLock<quotecast_model::RuleSet> = std::sync::OnceLock::new();
    RULES.get_or_init(example_rules)
}

fn price(request: &quotecast_pricing::QuoteRequest) -> PricedQuote<'static> {
    price_quote(rules(), example_configurators(), request).unwrap()
}

fn line<'q>(q: &'q PricedQuote<'static>, id: &str) -> &'q PricedLine<'static> {
    q.lines.iter().find(|l| l.line_id == id).unwrap()
}

fn steps(l: &PricedLine<'_>) -> Vec<StepKind> {
    l.waterfall.iter().map(|s| s.step).collect()
}

fn step_amount(l: &PricedLine<'_>, kind: StepKind) -> rust_decimal::Decimal {
    l.waterfall
        .iter()
        .filter(|s| s.step == kind)
        .map(|s| s.amount)
        .sum()
}

#[test]
fn list_price_comes_from_the_book_of_the_currency_and_date() {
    // SRV-MEM-64: USD 390.00 until 2026-06-30, 430.00 from 2026-07-01.
    let h1 = price(&quote("USD", "2026-06-30").line("SRV-MEM-64", "1"));
    let h2 = price(&quote("USD", "2026-07-01").line("SRV-MEM-64", "1"));
    assert_eq!(line(&h1, "1").list_unit_price, dec("390.00"));
    assert_eq!(line(&h2, "1").list_unit_price, dec("430.00"));
    // EUR book: 390 × 0.95 = 370.50, set at 371.00 in rules/price_books/eur.toml.
    let eur = price(&quote("EUR", "2026-03-01").line("SRV-MEM-64", "1"));
    assert_eq!(line(&eur, "1").list_unit_price, dec("371.00"));
    assert_eq!(eur.price_book_id, "eur");
    // Cost is USD 228.00 at 0.92 EUR per USD = 209.76 EUR.
    assert_eq!(line(&eur, "1").cost_extended, dec("209.76"));
}

#[test]
fn account_contract_replaces_list_price() {
    // acme has LT-14-PRO at 1149.00 USD in 2026. 2 × 1299.00 = 2598.00 list,
    // 2 × 1149.00 = 2298.00 contract: a -300.00 step. 2 laptops stay in the
    // 0 % volume tier; the Q2 promotion starts on 2026-04-01.
    let q = price(
        &quote("USD", "2026-03-01")
            .account("acme")
            .line("LT-14-PRO", "2"),
    );
    let l = line(&q, "1");
    assert_eq!(steps(l), [StepKind::ListPrice, StepKind::ContractPrice]);
    assert_eq!(step_amount(l, StepKind::ContractPrice), dec("-300.00"));
    assert_eq!(l.net_unit_price, dec("1149.00"));
    assert_eq!(l.net_extended, dec("2298.00"));
    // Margin: cost 2 × 790 = 1580; (2298 - 1580) / 2298 = 31.24 %: no approval.
    assert_eq!(q.approval.level, "none");
    // Another account pays list.
    let other = price(
        &quote("USD", "2026-03-01")
            .account("initech")
            .line("LT-14-PRO", "2"),
    );
    assert_eq!(line(&other, "1").net_extended, dec("2598.00"));
}

#[test]
fn segment_contract_then_segment_promotion() {
    // northstate is in segment education: LT-14-STD contract 799.00 (list
    // 899.00), then promo-education 8 %: 799 × 0.08 = 63.92 -> 735.08.
    let q = price(
        &quote("USD", "2026-03-01")
            .account("northstate")
            .line("LT-14-STD", "1"),
    );
    let l = line(&q, "1");
    assert_eq!(
        steps(l),
        [
            StepKind::ListPrice,
            StepKind::ContractPrice,
            StepKind::Promotion
        ]
    );
    assert_eq!(step_amount(l, StepKind::ContractPrice), dec("-100.00"));
    assert_eq!(step_amount(l, StepKind::Promotion), dec("-63.92"));
    assert_eq!(l.net_extended, dec("735.08"));
}

#[test]
fn range_volume_tier_counts_the_whole_product_line() {
    // vol-laptops: range tiers over all laptops on the quote. 6 + 6 = 12
    // units reach [10, 50): 4 % on every laptop line.
    // LT-14-STD: 6 × 899 = 5394.00; 4 % = 215.76 -> 5178.24.
    // LT-16-WS:  6 × 2199 = 13194.00; 4 % = 527.76 -> 12666.24.
    let q = price(
        &quote("USD", "2026-03-01")
            .account("initech")
            .line("LT-14-STD", "6")
            .line("LT-16-WS", "6"),
    );
    assert_eq!(
        step_amount(line(&q, "1"), StepKind::VolumeDiscount),
        dec("-215.76")
    );
    assert_eq!(line(&q, "1").net_extended, dec("5178.24"));
    assert_eq!(line(&q, "2").net_extended, dec("12666.24"));
    assert_eq!(q.totals.net, dec("17844.48"));
    // The sentence says what was counted: the schedule's lines of the
    // product line, not every line of it.
    let volume = line(&q, "1")
        .waterfall
        .iter()
        .find(|s| s.step == StepKind::VolumeDiscount)
        .unwrap()
        .explanation();
    assert!(
        volume.contains(
            "12 units on the quote's lines of product line laptops that this schedule prices"
        ),
        "{volume}"
    );
    // 6 laptops alone stay in the 0 % tier.
    let alone = price(
        &quote("USD", "2026-03-01")
            .account("initech")
            .line("LT-14-STD", "6"),
    );
    assert_eq!(line(&alone, "1").net_extended, dec("5394.00"));
}

#[test]
fn slab_volume_tier_aggregated_per_product_across_lines() {
    // vol-server-memory: slabs per SKU over the quote. 10 + 30 = 40 units:
    // 16 at 0 %, 24 at 5 % -> blended 24 × 5 / 40 = 3 %.
    // Line 1: 10 × 390 = 3900.00 - 117.00 = 3783.00.
    // Line 2: 30 × 390 = 11700.00 - 351.00 = 11349.00.
    let q = price(
        &quote("USD", "2026-03-01")
            .line("SRV-MEM-64", "10")
            .line("SRV-MEM-64", "30"),
    );
    assert_eq!(line(&q, "1").net_extended, dec("3783.00"));
    assert_eq!(line(&q, "2").net_extended, dec("11349.00"));
}

#[test]
fn slab_volume_tier_per_line() {
    // vol-displays: per-line slabs. 120 × DSP-27-4K at 429.00 = 51480.00.
    // 20 at 0 %, 80 at 6 %, 20 at 12 %: (480 + 240) / 120 = 6 % blended;
    // 51480 × 6 % = 3088.80 -> 48391.20.
    let q = price(
        &quote("USD", "2026-03-01")
            .account("initech")
            .line("DSP-27-4K", "120"),
    );
    assert_eq!(
        step_amount(line(&q, "1"), StepKind::VolumeDiscount),
        dec("-3088.80")
    );
    assert_eq!(line(&q, "1").net_extended, dec("48391.20"));
    assert_eq!(line(&q, "1").net_unit_price, dec("403.26"));
}

#[test]
fn amount_tiers_convert_through_the_quote_currency() {
    // vol-services-amount: [0, 20000) 0 %, [20000, 100000) 5 % in USD.
    // 13 × SVC-SUP-24X7: USD 13 × 1500 = 19500.00 < 20000: no discount.
    let usd = price(&quote("USD", "2026-03-01").line("SVC-SUP-24X7", "13"));
    assert_eq!(line(&usd, "1").net_extended, dec("19500.00"));
    // EUR: price 1425.00, bound 20000 × 0.92 = 18400 EUR; 13 × 1425 =
    // 18525.00 >= 18400: 5 % = 926.25 -> 17598.75.
    let eur = price(&quote("EUR", "2026-03-01").line("SVC-SUP-24X7", "13"));
    assert_eq!(line(&eur, "1").net_extended, dec("17598.75"));
    // CNY: price 10650.00, bound 20000 × 7.20 = 144000 CNY; 14 × 10650 =
    // 149100.00 >= 144000: 5 % = 7455.00 -> 141645.00.
    let cny = price(&quote("CNY", "2026-03-01").line("SVC-SUP-24X7", "14"));
    assert_eq!(line(&cny, "1").net_extended, dec("141645.00"));
}

#[test]
fn bundle_includes_rails_up_to_one_per_chassis() {
    // bdl-1u-rails: one rail kit per SRV-1U included. 2 chassis, 3 kits:
    // 2 kits at zero, 1 at 90.00 -> 270.00 - 180.00 = 90.00.
    let q = price(
        &quote("USD", "2026-03-01")
            .line("SRV-1U", "2")
            .line("SRV-RAIL-KIT", "3"),
    );
    let rails = line(&q, "2");
    assert_eq!(step_amount(rails, StepKind::Bundle), dec("-180.00"));
    assert_eq!(rails.net_extended, dec("90.00"));
    assert_eq!(rails.waterfall[1].rule_id, "bdl-1u-rails");
}

#[test]
fn bundle_percent_off_and_fixed_price() {
    // bdl-ws-dock: 30 % off one dock per LT-16-WS. 2 docks: 2 × 249 = 498;
    // 249 × 30 % = 74.70 off -> 423.30.
    let q = price(
        &quote("USD", "2026-03-01")
            .line("LT-16-WS", "1")
            .line("ACC-DOCK-TB4", "2"),
    );
    assert_eq!(line(&q, "2").net_extended, dec("423.30"));
    // bdl-std-bag: ACC-BAG at 27.00 EUR with LT-14-STD (EUR list 56.00).
    // Its floor, cost 21 USD × 0.92 / 0.88 = 21.95 EUR, is not hit.
    let eur = price(
        &quote("EUR", "2026-03-01")
            .line("LT-14-STD", "1")
            .line("ACC-BAG", "1"),
    );
    assert_eq!(
        step_amount(line(&eur, "2"), StepKind::Bundle),
        dec("-29.00")
    );
    assert_eq!(line(&eur, "2").net_extended, dec("27.00"));
}

#[test]
fn stackable_promotions_compound_in_priority_order() {
    // northstate (education, na), LT-14-PRO on 2026-05-01: promo-education
    // 8 % (priority 20) then promo-q2-laptops 5 % (priority 10), both
    // stackable. 1299 × 0.92 = 1195.08; × 0.95 = 1135.326 -> 1135.33
    // (USD rounds half up).
    let q = price(
        &quote("USD", "2026-05-01")
            .account("northstate")
            .line("LT-14-PRO", "1"),
    );
    let l = line(&q, "1");
    let promos: Vec<&str> = l
        .waterfall
        .iter()
        .filter(|s| s.step == StepKind::Promotion)
        .map(|s| s.rule_id)
        .collect();
    assert_eq!(promos, ["promo-education", "promo-q2-laptops"]);
    assert_eq!(l.net_extended, dec("1135.33"));
}

#[test]
fn exclusive_promotion_applies_alone() {
    // unilyon (education, emea), 12 × DSP-24 at 180.00 EUR = 2160.00.
    // promo-emea-displays (exclusive, priority 30, needs 10+ units) outranks
    // promo-education: only 10 % -> 1944.00.
    let q = price(
        &quote("EUR", "2026-05-01")
            .account("unilyon")
            .line("DSP-24", "12"),
    );
    let l = line(&q, "1");
    assert_eq!(step_amount(l, StepKind::Promotion), dec("-216.00"));
    assert_eq!(l.net_extended, dec("1944.00"));
    // With 5 units the exclusive deal is out of reach: education 8 % of
    // 900.00 = 72.00 -> 828.00.
    let few = price(
        &quote("EUR", "2026-05-01")
            .account("unilyon")
            .line("DSP-24", "5"),
    );
    assert_eq!(line(&few, "1").net_extended, dec("828.00"));
}

#[test]
fn promotion_with_a_quote_total_threshold() {
    // promo-big-server-deal: 3 % on servers when the quote reaches 250000
    // USD. 50 × SRV-CPU-64C = 295000.00 -> 8850.00 off -> 286150.00.
    let big = price(&quote("USD", "2026-03-01").line("SRV-CPU-64C", "50"));
    assert_eq!(line(&big, "1").net_extended, dec("286150.00"));
    // 40 × 5900 = 236000.00 is below: no promotion.
    let small = price(&quote("USD", "2026-03-01").line("SRV-CPU-64C", "40"));
    assert_eq!(line(&small, "1").net_extended, dec("236000.00"));
}

#[test]
fn manual_line_discount_and_the_approvals_it_triggers() {
    // 25 % off 1299.00 = 324.75 -> 974.25. Floor: 790 / 0.88 = 897.73, not hit.
    // Rep discount 25 % > 10 and > 20: manager and director rules; margin
    // (974.25 - 790) / 974.25 = 18.91 % < 25: director. Quote discount is
    // exactly 25 %, not above 25.
    let q = price(
        &quote("USD", "2026-03-01")
            .account("initech")
            .line("LT-14-PRO", "1")
            .line_discount(percent("25")),
    );
    assert_eq!(line(&q, "1").net_extended, dec("974.25"));
    assert_eq!(q.approval.level, "director");
    let fired: Vec<&str> = q
        .approval
        .triggered
        .iter()
        .map(|t| t.rule_id.as_str())
        .collect();
    assert_eq!(
        fired,
        ["appr-manual-10", "appr-manual-20", "appr-margin-25"]
    );
}

#[test]
fn header_amount_is_spread_exactly() {
    // Three lines of 69.00 (207.00), 10.00 off the header: 10 × 69 / 207 =
    // 3.333… -> 3.33 each = 9.99; the 0.01 left goes to the largest line
    // (a tie: the lowest id, line 1). Nets 65.66, 65.67, 65.67 = 197.00.
    let q = price(
        &quote("USD", "2026-03-01")
            .line("ACC-KB-MS", "1")
            .line("ACC-KB-MS", "1")
            .line("ACC-KB-MS", "1")
            .header(amount("USD", "10.00")),
    );
    assert_eq!(line(&q, "1").net_extended, dec("65.66"));
    assert_eq!(line(&q, "2").net_extended, dec("65.67"));
    assert_eq!(line(&q, "3").net_extended, dec("65.67"));
    assert_eq!(q.totals.net, dec("197.00"));
    assert_eq!(q.totals.discount, dec("10.00"));
}

#[test]
fn header_percent_applies_to_every_line() {
    // 5 % of 2 × 189.00 = 378.00 -> 359.10; of 69.00 -> 65.55.
    let q = price(
        &quote("USD", "2026-03-01")
            .line("DSP-24", "2")
            .line("ACC-KB-MS", "1")
            .header(percent("5")),
    );
    assert_eq!(line(&q, "1").net_extended, dec("359.10"));
    assert_eq!(line(&q, "2").net_extended, dec("65.55"));
    assert_eq!(
        step_amount(line(&q, "2"), StepKind::HeaderDiscount),
        dec("-3.45")
    );
}

#[test]
fn floor_clamps_to_the_minimum_margin() {
    // 35 % off 1299.00 = 844.35, below the hardware floor 790 / (1 - 0.12) =
    // 897.7272…, raised to 897.73 (rounded up so rounding cannot undercut).
    // Rep discount 35 % > 30 and margin (897.73 - 790) / 897.73 = 12.00 % <
    // 15: VP approval.
    let q = price(
        &quote("USD", "2026-03-01")
            .account("initech")
            .line("LT-14-PRO", "1")
            .line_discount(percent("35")),
    );
    let l = line(&q, "1");
    assert_eq!(l.waterfall.last().unwrap().step, StepKind::FloorGuard);
    assert_eq!(l.waterfall.last().unwrap().rule_id, "floor-hardware-margin");
    assert_eq!(l.net_extended, dec("897.73"));
    assert_eq!(q.approval.level, "vp");
}

#[test]
fn floor_rejects_services_below_seventy_percent_of_list() {
    // floor-services-list rejects: 40 % off 450.00 = 270.00 < 315.00.
    let request = quote("USD", "2026-03-01")
        .line("SVC-INST-RACK", "1")
        .line_discount(percent("40"));
    let err = price_quote(rules(), example_configurators(), &request).unwrap_err();
    assert!(matches!(err, PricingError::RuleViolation(_)));
    assert_eq!(err.rejections()[0].field, "lines[0].discount");
    assert_eq!(err.rejections()[0].reason, RejectReason::BelowFloor);
    assert!(err.rejections()[0].message.contains("315.00"), "{err}");
    // 30 % off (315.00) is exactly the floor and prices.
    let ok = quote("USD", "2026-03-01")
        .line("SVC-INST-RACK", "1")
        .line_discount(percent("30"));
    assert_eq!(price(&ok).totals.net, dec("315.00"));
}

#[test]
fn rounding_follows_each_currencys_mode() {
    // 0.5 % off 189.00 USD leaves 188.055; 0.075 % off 180.00 EUR leaves
    // 179.865. USD rounds half up -> 188.06; EUR half to even -> 179.86.
    // (Discount amounts finer than the currency are refused, so the half
    // cents come from percentages.)
    let usd = price(
        &quote("USD", "2026-03-01")
            .line("DSP-24", "1")
            .line_discount(percent("0.5")),
    );
    let eur = price(
        &quote("EUR", "2026-03-01")
            .line("DSP-24", "1")
            .line_discount(percent("0.075")),
    );
    assert_eq!(line(&usd, "1").net_extended, dec("188.06"));
    assert_eq!(line(&eur, "1").net_extended, dec("179.86"));
    let rounding = |q: &PricedQuote<'static>| step_amount(line(q, "1"), StepKind::Rounding);
    assert_eq!(rounding(&usd), dec("0.005"));
    assert_eq!(rounding(&eur), dec("-0.005"));
}

#[test]
fn totals_subtotals_and_margin() {
    // LT-14-PRO 1299.00 (cost 790.00) + SVC-IMG 35.00 (cost 12.00).
    // Totals: list 1334.00, net 1334.00, cost 802.00, margin 532.00;
    // 532 / 1334 = 39.88 %.
    let q = price(
        &quote("USD", "2026-03-01")
            .line("LT-14-PRO", "1")
            .line("SVC-IMG", "1"),
    );
    assert_eq!(q.totals.list, dec("1334.00"));
    assert_eq!(q.totals.cost, dec("802.00"));
    assert_eq!(q.totals.margin, dec("532.00"));
    assert_eq!(
        q.totals.margin_percent().unwrap().display_2dp(),
        dec("39.88")
    );
    let lines: Vec<&str> = q.subtotals.iter().map(|(l, _)| *l).collect();
    assert_eq!(lines, ["laptops", "services"]);
    assert_eq!(q.subtotals[1].1.net, dec("35.00"));
}

#[test]
fn large_deals_need_the_vp() {
    // 100 × SRV-CPU-64C = 590000.00, 3 % big-deal promotion -> 572300.00,
    // above 500000 USD: appr-deal-500k (vp).
    let q = price(&quote("USD", "2026-03-01").line("SRV-CPU-64C", "100"));
    assert_eq!(q.totals.net, dec("572300.00"));
    assert_eq!(q.approval.level, "vp");
    assert!(
        q.approval
            .triggered
            .iter()
            .any(|t| t.rule_id == "appr-deal-500k")
    );
}

fn rejected(request: quotecast_pricing::QuoteRequest) -> Vec<(String, RejectReason)> {
    match price_quote(rules(), example_configurators(), &request) {
        Err(PricingError::InvalidRequest(r)) => {
            r.into_iter().map(|r| (r.field, r.reason)).collect()
        }
        other => panic!("expected an invalid request, got {other:?}"),
    }
}

#[test]
fn every_bad_input_is_named_by_field() {
    let on = "2026-03-01";
    assert_eq!(
        rejected(quote("USD", on).line("NOPE-1", "1")),
        [("lines[0].sku".into(), RejectReason::UnknownSku)]
    );
    // LT-14-STD is discontinued after 2026-12-31.
    assert_eq!(
        rejected(quote("USD", "2027-01-15").line("LT-14-STD", "1")),
        [("lines[0].sku".into(), RejectReason::NotInPriceBook)]
    );
    assert_eq!(
        rejected(quote("USD", on).line("DSP-24", "1").line("DSP-24", "0")),
        [(
            "lines[1].quantity".into(),
            RejectReason::NonPositiveQuantity
        )]
    );
    assert_eq!(
        rejected(
            quote("USD", on)
                .line("DSP-24", "1")
                .line_discount(percent("100.5"))
        ),
        [(
            "lines[0].discount.percent".into(),
            RejectReason::DiscountOutOfRange
        )]
    );
    assert_eq!(
        rejected(
            quote("USD", on)
                .line("DSP-24", "1")
                .header(amount("EUR", "5"))
        ),
        [(
            "header_discount.amount.currency_code".into(),
            RejectReason::CurrencyMismatch
        )]
    );
    assert_eq!(
        rejected(quote("JPY", on).line("DSP-24", "1")),
        [("currency_code".into(), RejectReason::UnknownCurrency)]
    );
    assert_eq!(
        rejected(
            quote("USD", on)
                .account("acme")
                .segment("smb", "na")
                .line("DSP-24", "1")
        ),
        [("segment".into(), RejectReason::ConflictsWithAccount)]
    );
    assert_eq!(
        rejected(
            quote("USD", on)
                .line("DSP-24", "1")
                .line_discount(amount("USD", "190"))
        ),
        [(
            "lines[0].discount.amount.amount".into(),
            RejectReason::DiscountExceedsAmount
        )]
    );
    assert_eq!(
        rejected(quote("USD", on).line("DSP-24", "200000000")),
        [("lines[0].quantity".into(), RejectReason::QuantityOutOfRange)]
    );
    assert_eq!(
        rejected(quote("USD", on)),
        [("lines".into(), RejectReason::MissingField)]
    );
}

#[test]
fn all_problems_are_reported_at_once() {
    let r = rejected(
        quote("USD", "2026-03-01")
            .line("NOPE-1", "1")
            .line("DSP-24", "-1")
            .line("DSP-24", "1")
            .line_discount(percent("-5")),
    );
    assert_eq!(r.len(), 3, "{r:?}");
}

#[test]
fn each_step_is_explained_in_a_sentence() {
    let sentences = |q: &PricedQuote<'static>| -> Vec<String> {
        line(q, "1")
            .waterfall
            .iter()
            .map(|s| s.explanation())
            .collect()
    };
    // usd.toml: DSP-27-4K at 429.00 from 2026-01-01, open-ended;
    // vol-displays: slabs 0-20 at 0 %, 20-100 at 6 %, 100+ at 12 %.
    let displays = price(
        &quote("USD", "2026-03-01")
            .account("initech")
            .line("DSP-27-4K", "120"),
    );
    assert_eq!(
        sentences(&displays),
        [
            "120 × 429.00 list price (from 2026-01-01)",
            "120 units on this line; slabs 20 at 0%, 80 at 6%, 20 at 12% = 6% blended",
        ]
    );
    // contracts.toml: acme pays 1149.00 for LT-14-PRO through 2026.
    let laptops = price(
        &quote("USD", "2026-03-01")
            .account("acme")
            .line("LT-14-PRO", "2"),
    );
    assert_eq!(
        sentences(&laptops),
        [
            "2 × 1299.00 list price (from 2026-01-01)",
            "contract price 1149.00 for account acme (2026-01-01 to 2026-12-31)",
        ]
    );
}

#[test]
fn discount_amounts_need_their_currency_and_its_precision() {
    let on = "2026-03-01";
    assert_eq!(
        rejected(
            quote("USD", on)
                .line("DSP-24", "1")
                .line_discount(amount("", "10"))
        ),
        [(
            "lines[0].discount.amount.currency_code".into(),
            RejectReason::MissingField
        )]
    );
    assert_eq!(
        rejected(
            quote("USD", on)
                .line("DSP-24", "1")
                .line_discount(amount("USD", "1.005"))
        ),
        [(
            "lines[0].discount.amount.amount".into(),
            RejectReason::DiscountOutOfRange
        )]
    );
}

#[test]
fn a_floor_between_cents_is_met_at_the_next_cent_up() {
    // 0.125 × SVC-IMG (35.00) = 4.375 lists at 4.38; its 70 % floor, of
    // the list unit price, is 3.0625. 30.2 % off nets 3.05724, which
    // rounds to 3.06: below the floor, and the message says the floor as
    // it decides and the least net, 3.07.
    let at_floor = quote("USD", "2026-03-01")
        .line("SVC-IMG", "0.125")
        .line_discount(percent("30.2"));
    let err = price_quote(rules(), example_configurators(), &at_floor).unwrap_err();
    let message = &err.rejections()[0].message;
    assert!(message.contains("nets 3.06 USD"), "{message}");
    assert!(message.contains("below the floor 3.0625"), "{message}");
    assert!(message.contains("at least 3.07 USD"), "{message}");
    // 29.8 % off nets 3.07476, rounding to 3.07: it prices.
    let above = quote("USD", "2026-03-01")
        .line("SVC-IMG", "0.125")
        .line_discount(percent("29.8"));
    assert_eq!(price(&above).totals.net, dec("3.07"));
}

#[test]
fn a_fractional_quantity_lists_its_extended_amount_and_never_nets_above_list() {
    // 0.333 × 1299.00 = 432.567: the list step is the list extended amount
    // itself, 432.57, so nothing is left to round; at 0 % off the net per
    // unit is the list unit price, not 432.57 / 0.333 = 1299.01.
    let q = price(
        &quote("USD", "2026-03-02")
            .segment("mid_market", "na")
            .line("LT-14-PRO", "0.333"),
    );
    let l = line(&q, "1");
    assert_eq!(steps(l), [StepKind::ListPrice]);
    assert_eq!(step_amount(l, StepKind::ListPrice), l.list_extended);
    assert_eq!(l.list_extended, dec("432.57"));
    assert_eq!(l.net_extended, dec("432.57"));
    assert_eq!(l.net_unit_price, dec("1299.00"));
    assert!(
        l.waterfall[0]
            .explanation()
            .contains("= 432.567, rounded to the currency"),
        "{}",
        l.waterfall[0].explanation()
    );
    // 10 % off: 432.57 − 43.257 = 389.313 → 389.31; per unit 1299.00 ×
    // 389.31 / 432.57 = 1169.09, below the list unit price.
    let q = price(
        &quote("USD", "2026-03-02")
            .segment("mid_market", "na")
            .line("LT-14-PRO", "0.333")
            .line_discount(percent("10")),
    );
    let l = line(&q, "1");
    assert_eq!(l.net_extended, dec("389.31"));
    assert_eq!(l.net_unit_price, dec("1169.09"));
    assert!(l.net_unit_price < l.list_unit_price);
}
