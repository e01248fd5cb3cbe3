//! Configured lines through the waterfall: a configured SRV-2U becomes its
//! base line and one sub-line per option, each priced by the example rules;
//! contradictory, incomplete and misdirected configurations are refused by
//! field with their explanation. Figures derived by hand from rules/.
#![allow(clippy::unwrap_used)]

use quotecast_pricing::{
    ConfiguredBy, PricedQuote, PricingError, QuoteRequest, RejectReason, StepKind, price_quote,
};
use quotecast_tests::*;
use rust_decimal::Decimal;

fn rules() -> &'static quotecast_model::RuleSet {
    static RULES: std::sync::OnceLock<quotecast_model::RuleSet> = std::sync::OnceLock::new();
    RULES.get_or_init(example_rules)
}

fn price(request: &QuoteRequest) -> PricedQuote<'static> {
    price_quote(rules(), example_configurators(), request).unwrap()
}

fn refused(request: &QuoteRequest) -> Vec<(String, RejectReason, String)> {
    match price_quote(rules(), example_configurators(), request) {
        Err(PricingError::InvalidRequest(r)) => r
            .into_iter()
            .map(|r| (r.field, r.reason, r.message))
            .collect(),
        other => panic!("expected a refusal, got {other:?}"),
    }
}

fn server_quote() -> QuoteRequest {
    quote("USD", "2026-03-01").segment("mid_market", "na")
}

#[test]
fn a_configured_server_is_priced_option_by_option() {
    // Two SRV-2U with 2 × SRV-CPU-32C and a rack kit each. The model's
    // defaults fill in the SP5 board, 2 × 1100 W supplies, 4 × 32 GB and
    // 2 × 960 GB; the rack kit adds a rail kit (srv2u-rack-rails).
    // USD list on 2026-03-01, times 2 servers:
    //   SRV-2U        2 × 3600.00 =  7200.00
    //   SRV-BRD-SP5   2 ×  690.00 =  1380.00  (default)
    //   SRV-CPU-32C   4 × 2900.00 = 11600.00  (chosen)
    //   SRV-MEM-32    8 ×  210.00 =  1680.00  (default; 8 < 16: slab 0 %)
    //   SRV-SSD-960   4 ×  260.00 =  1040.00  (default)
    //   SRV-PSU-1100  4 ×  180.00 =   720.00  (default)
    //   SRV-RACK-KIT  2 ×  120.00 =   240.00  (chosen)
    //   SRV-RAIL-KIT  2 ×   90.00 =   180.00 -> 0.00, included with the
    //                 2 SRV-2U (bdl-2u-rails)  (added)
    // net 7200 + 1380 + 11600 + 1680 + 1040 + 720 + 240 = 23860.00;
    // list adds the 180.00 of rails: 24040.00.
    let q = price(
        &server_quote()
            .line("SRV-2U", "2")
            .configured(&[("SRV-CPU-32C", 2), ("SRV-RACK-KIT", 1)]),
    );
    let got: Vec<(&str, Decimal, Decimal)> = q
        .lines
        .iter()
        .map(|l| (l.sku, l.quantity, l.net_extended))
        .collect();
    let want = [
        ("SRV-2U", "2", "7200.00"),
        ("SRV-BRD-SP5", "2", "1380.00"),
        ("SRV-CPU-32C", "4", "11600.00"),
        ("SRV-MEM-32", "8", "1680.00"),
        ("SRV-SSD-960", "4", "1040.00"),
        ("SRV-PSU-1100", "4", "720.00"),
        ("SRV-RACK-KIT", "2", "240.00"),
        ("SRV-RAIL-KIT", "2", "0.00"),
    ]
    .map(|(s, qty, net)| (s, dec(qty), dec(net)));
    assert_eq!(got, want);
    assert_eq!(q.totals.net, dec("23860.00"));
    assert_eq!(q.totals.list, dec("24040.00"));
    let by = |sku: &str| {
        let l = q.lines.iter().find(|l| l.sku == sku).unwrap();
        l.part_of
            .as_ref()
            .map(|p| (p.line_id.as_str(), p.configured_by.clone()))
    };
    assert_eq!(by("SRV-2U"), None);
    assert_eq!(by("SRV-CPU-32C"), Some(("1", ConfiguredBy::Chosen)));
    assert_eq!(
        by("SRV-PSU-1100"),
        Some(("1", ConfiguredBy::Default("srv2u-default-psu".into())))
    );
    assert_eq!(by("SRV-RAIL-KIT"), Some(("1", ConfiguredBy::Added)));
    let rails = q.lines.iter().find(|l| l.sku == "SRV-RAIL-KIT").unwrap();
    assert_eq!(rails.line_id, "1/SRV-RAIL-KIT");
    assert!(rails.waterfall.iter().any(|s| s.step == StepKind::Bundle));
}

#[test]
fn a_percent_discount_on_a_configured_line_applies_to_every_option() {
    // 10 % off one SRV-2U with one SRV-CPU-16C: base 3600.00 -> 3240.00,
    // CPU 1400.00 -> 1260.00; defaults board 690 -> 621.00, 4 × 210 = 840
    // -> 756.00, 2 × 260 = 520 -> 468.00, 2 × 180 = 360 -> 324.00.
    // 3240 + 1260 + 621 + 756 + 468 + 324 = 6669.00.
    let q = price(
        &server_quote()
            .line("SRV-2U", "1")
            .configured(&[("SRV-CPU-16C", 1)])
            .line_discount(percent("10")),
    );
    assert_eq!(q.totals.net, dec("6669.00"));
}

#[test]
fn a_contradictory_configuration_is_refused_with_its_conflict() {
    let errors = refused(
        &server_quote()
            .line("DSP-24", "1")
            .line("SRV-2U", "1")
            .configured(&[("SRV-CPU-16C", 1), ("SRV-HDD-8T", 1), ("SRV-GPU-L4", 1)]),
    );
    assert_eq!(errors.len(), 1, "{errors:?}");
    let (field, reason, message) = &errors[0];
    assert_eq!(field, "lines[1].configuration");
    assert_eq!(*reason, RejectReason::InvalidConfiguration);
    // The minimal conflict is the two choices and the airflow rule; either
    // one dropped repairs it.
    assert!(
        message.contains("SRV-HDD-8T ×1, SRV-GPU-L4 ×1"),
        "{message}"
    );
    assert!(message.contains("srv2u-hdd-airflow"), "{message}");
    assert!(!message.contains("SRV-CPU-16C"), "{message}");
    assert!(
        message.contains("drop SRV-HDD-8T ×1, or drop SRV-GPU-L4 ×1"),
        "{message}"
    );
}

#[test]
fn a_server_sold_only_configured_needs_its_processors() {
    // SRV-2U's model is required and no default picks a processor.
    let errors = refused(&server_quote().line("SRV-2U", "1"));
    let (field, reason, message) = &errors[0];
    assert_eq!(field, "lines[0].configuration");
    assert_eq!(*reason, RejectReason::IncompleteConfiguration);
    assert!(
        message.contains("choose Processors (at least 1)"),
        "{message}"
    );
}

#[test]
fn bad_options_are_named_by_position() {
    let errors = refused(&server_quote().line("SRV-2U", "1").configured(&[
        ("SRV-CPU-16C", 1),
        ("LT-CPU-I9", 1),
        ("SRV-CPU-32C", 3),
    ]));
    let fields: Vec<(&str, RejectReason)> =
        errors.iter().map(|(f, r, _)| (f.as_str(), *r)).collect();
    assert_eq!(
        fields,
        [
            ("lines[0].configuration[1].sku", RejectReason::UnknownOption),
            (
                "lines[0].configuration[2].quantity",
                RejectReason::QuantityOutOfRange
            ),
        ]
    );
    let errors = refused(
        &server_quote()
            .line("DSP-24", "1")
            .configured(&[("SRV-CPU-16C", 1)]),
    );
    assert_eq!(errors[0].0, "lines[0].configuration");
    assert_eq!(errors[0].1, RejectReason::NotConfigurable);
}

#[test]
fn an_option_missing_from_the_price_book_is_named_in_the_configuration() {
    // SRV-CPU-32C at 2 per server is chosen at configuration[0]; pricing on
    // a date before the USD book starts refuses it there, not at a line
    // index the caller never sent.
    let errors = refused(
        &quote("USD", "2025-06-01")
            .line("SRV-2U", "1")
            .configured(&[("SRV-CPU-32C", 2)]),
    );
    let fields: Vec<&str> = errors.iter().map(|(f, _, _)| f.as_str()).collect();
    assert!(fields.contains(&"lines[0].sku"), "{fields:?}");
    assert!(
        fields.contains(&"lines[0].configuration[0].sku"),
        "{fields:?}"
    );
    assert!(
        errors
            .iter()
            .any(|(f, _, m)| f == "lines[0].configuration" && m.contains("SRV-PSU-1100")),
        "{errors:?}"
    );
}

#[test]
fn quantities_beyond_any_decimal_product_are_refused_not_panicked_on() {
    // The largest decimal, and 1 followed by 26 zeros: on a plain line
    // and on a configured line (whose options multiply the quantity).
    for quantity in [
        "79228162514264337593543950335",
        "100000000000000000000000000",
        "-79228162514264337593543950335",
    ] {
        let errors = refused(&server_quote().line("DSP-24", quantity));
        assert_eq!(errors.len(), 1, "{errors:?}");
        assert_eq!(errors[0].0, "lines[0].quantity");
        let errors = refused(
            &server_quote()
                .line("SRV-2U", quantity)
                .configured(&[("SRV-CPU-32C", 2)]),
        );
        assert!(
            errors.iter().all(|e| e.0.starts_with("lines[0]")),
            "{errors:?}"
        );
        assert!(
            errors.iter().any(|e| e.0 == "lines[0].quantity"),
            "{errors:?}"
        );
    }
}

#[test]
fn too_many_configured_lines_are_refused_before_any_is_expanded() {
    let mut request = server_quote();
    for _ in 0..(quotecast_pricing::MAX_LINES + 1) {
        request = request.line("SRV-2U", "1");
    }
    let errors = refused(&request);
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert_eq!(errors[0].1, RejectReason::TooManyLines);
    assert!(errors[0].2.starts_with("10001 lines"), "{}", errors[0].2);
}

/// The rail kit line's net when `r1` SRV-1U, `r2` configured SRV-2U and
/// `rails` rail kits are quoted together.
fn rails_net(r1: u32, r2: u32, rails: u32) -> Decimal {
    let mut request = server_quote();
    if r1 > 0 {
        request = request.line("SRV-1U", &r1.to_string());
    }
    if r2 > 0 {
        request = request
            .line("SRV-2U", &r2.to_string())
            .configured(&[("SRV-CPU-16C", 1)]);
    }
    request = request.line("SRV-RAIL-KIT", &rails.to_string());
    let q = price(&request);
    q.lines
        .iter()
        .filter(|l| l.sku == "SRV-RAIL-KIT" && l.part_of.is_none())
        .map(|l| l.net_extended)
        .sum()
}

#[test]
fn two_bundles_covering_one_component_count_each_unit_once() {
    // One rail kit comes free with each server: two servers, two kits.
    assert_eq!(rails_net(1, 1, 2), Decimal::ZERO);
    let one_kit = rails_net(0, 0, 1);
    assert!(one_kit > Decimal::ZERO);
    for r1 in 0..4u32 {
        for r2 in 0..4u32 {
            for rails in 1..8u32 {
                let net = rails_net(r1, r2, rails);
                // Covered units are free; the rest cost what a lone kit does.
                let paid = rails.saturating_sub(r1 + r2);
                assert_eq!(
                    net,
                    one_kit * Decimal::from(paid),
                    "{r1} × 1U, {r2} × 2U, {rails} kits"
                );
                // Adding either parent never raises the kits' price.
                assert!(rails_net(r1 + 1, r2, rails) <= net);
                assert!(rails_net(r1, r2 + 1, rails) <= net);
            }
        }
    }
}
