//! The rule files as a user meets them: the example rules validate, their
//! regression cases pass, and broken rules are reported by file, line and a
//! sentence.
#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};

use quotecast_rules::{RuleIssue, RulesError, Source, compile_sources, load_cases, run_case};
use quotecast_tests::{dec, example_configurators, example_rules, rules_dir};

#[test]
fn example_rules_cover_the_catalog_the_issue_asks_for() {
    let rules = example_rules();
    assert!(rules.products().count() >= 40);
    assert!(rules.product_lines().count() >= 3);
    let currencies: Vec<String> = rules
        .price_books()
        .map(|b| b.currency.to_string())
        .collect();
    assert_eq!(currencies, ["CNY", "EUR", "USD"]);
    for group in ["cpu", "memory", "storage", "warranty", "installation"] {
        assert!(
            rules
                .products()
                .any(|p| p.option_group.as_deref() == Some(group)),
            "no option group {group}"
        );
    }
}

#[test]
fn example_regression_cases_all_pass() {
    let rules = example_rules();
    let cases = load_cases(&rules_dir().join("tests")).unwrap();
    assert!(cases.len() >= 5);
    for case in &cases {
        let outcome = run_case(&rules, example_configurators(), case);
        assert!(outcome.passed(), "{}: {:?}", case.id, outcome.mismatches);
    }
}

#[test]
fn a_wrong_expectation_is_reported_with_expected_and_actual() {
    let rules = example_rules();
    let mut case = load_cases(&rules_dir().join("tests"))
        .unwrap()
        .into_iter()
        .find(|c| c.id == "acme-contract-laptops")
        .unwrap();
    case.expect.net_total = Some("2300.00".parse().unwrap());
    let outcome = run_case(&rules, example_configurators(), &case);
    assert_eq!(outcome.mismatches.len(), 1);
    let m = &outcome.mismatches[0];
    assert_eq!(
        (m.what.as_str(), m.expected.as_str(), m.actual.as_str()),
        ("net total", "2300.00", "2298.00")
    );
}

/// The example rules with one file's text edited.
fn with_edit(file: &str, edit: impl Fn(&str) -> String) -> Vec<Source> {
    let mut sources = quotecast_rules::read_dir(&rules_dir()).unwrap();
    let target: PathBuf = rules_dir().join(file);
    let source = sources.iter_mut().find(|s| s.path == target).unwrap();
    let edited = edit(&source.text);
    assert_ne!(edited, source.text, "the edit must change {file}");
    source.text = edited;
    sources
}

fn issues(sources: &[Source]) -> Vec<RuleIssue> {
    match compile_sources(sources) {
        Err(RulesError::Invalid(issues)) => issues,
        Err(e) => panic!("unexpected error {e}"),
        Ok(_) => panic!("broken rules were accepted"),
    }
}

/// Asserts exactly one issue, in `file`, at the line of a record holding
/// `line_text` (the record runs from that line to the next blank line),
/// whose message contains `needle`.
fn assert_single_issue(sources: &[Source], file: &str, line_text: &str, needle: &str) {
    let found = issues(sources);
    assert_eq!(found.len(), 1, "{found:#?}");
    let issue = &found[0];
    assert_eq!(issue.file, rules_dir().join(file));
    let text = &sources.iter().find(|s| s.path == issue.file).unwrap().text;
    let record: Vec<&str> = text
        .lines()
        .skip(issue.line - 1)
        .take_while(|l| !l.trim().is_empty())
        .collect();
    assert!(
        record.iter().any(|l| l.contains(line_text)),
        "record at line {} is {record:?}, wanted `{line_text}`",
        issue.line
    );
    assert!(issue.message.contains(needle), "{}", issue.message);
}

#[test]
fn unknown_sku_in_a_price_book() {
    let s = with_edit("price_books/usd.toml", |t| {
        t.replacen("sku = \"SRV-1U\"", "sku = \"SRV-1X\"", 1)
    });
    assert_single_issue(
        &s,
        "price_books/usd.toml",
        "book = \"usd\"",
        "unknown SKU `SRV-1X`",
    );
}

#[test]
fn overlapping_tiers() {
    let s = with_edit("pricing/volume.toml", |t| {
        t.replacen(
            "{ from = 10, to = 50, percent = \"4\" }",
            "{ from = 8, to = 50, percent = \"4\" }",
            1,
        )
    });
    assert_single_issue(
        &s,
        "pricing/volume.toml",
        "id = \"vol-laptops\"",
        "tier 2 (from 8) overlaps tier 1 (to 10)",
    );
}

#[test]
fn gaps_between_tiers() {
    let s = with_edit("pricing/volume.toml", |t| {
        t.replacen(
            "{ from = 10, to = 50, percent = \"4\" }",
            "{ from = 12, to = 50, percent = \"4\" }",
            1,
        )
    });
    assert_single_issue(
        &s,
        "pricing/volume.toml",
        "id = \"vol-laptops\"",
        "gap between tier 1",
    );
}

#[test]
fn overlapping_dates_within_a_price_book() {
    let s = with_edit("price_books/eur.toml", |t| {
        format!(
            "{t}\n[[price]]\nbook = \"eur\"\nsku = \"DSP-24\"\nprice = \"175.00\"\nfrom = \"2026-09-01\"\n"
        )
    });
    assert_single_issue(
        &s,
        "price_books/eur.toml",
        "book = \"eur\"",
        "overlap the entry (from 2026-01-01)",
    );
}

#[test]
fn duplicate_ids() {
    let s = with_edit("pricing/promotions.toml", |t| {
        t.replacen("id = \"promo-education\"", "id = \"promo-q2-laptops\"", 1)
    });
    assert_single_issue(
        &s,
        "pricing/promotions.toml",
        "id = \"promo-q2-laptops\"",
        "duplicate promotion id",
    );
}

#[test]
fn money_written_as_a_float() {
    let s = with_edit("catalog/servers.toml", |t| {
        t.replacen("cost = \"1450.00\"", "cost = 1450.5", 1)
    });
    assert_single_issue(
        &s,
        "catalog/servers.toml",
        "cost = 1450.5",
        "write decimals as strings",
    );
}

#[test]
fn more_decimals_than_the_currency_has() {
    let s = with_edit("price_books/cny.toml", |t| {
        t.replacen("price = \"6380.00\"", "price = \"6380.005\"", 1)
    });
    assert_single_issue(
        &s,
        "price_books/cny.toml",
        "book = \"cny\"",
        "more decimals than CNY allows (2)",
    );
}

#[test]
fn unknown_setting_names_the_allowed_words() {
    let s = with_edit("pricing/floors.toml", |t| {
        t.replacen("\naction = \"reject\"", "\naction = \"warn\"", 1)
    });
    assert_single_issue(
        &s,
        "pricing/floors.toml",
        "id = \"floor-services-list\"",
        "`warn` is not one of clamp, reject",
    );
}

#[test]
fn misspelt_keys_are_not_ignored() {
    let s = with_edit("pricing/promotions.toml", |t| {
        t.replacen("exclusive = true", "exclusiv = true", 1)
    });
    assert_single_issue(
        &s,
        "pricing/promotions.toml",
        "exclusiv = true",
        "unknown field `exclusiv`",
    );
}

#[test]
fn equally_specific_schedules_are_ambiguous() {
    let s = with_edit("pricing/volume.toml", |t| {
        format!(
            "{t}\n[[volume_schedule]]\nid = \"vol-laptops-2\"\nname = \"x\"\nmethod = \"range\"\nbasis = \"quantity\"\naggregate = \"line\"\napplies_to = {{ product_lines = [\"laptops\"] }}\ntiers = [{{ from = 0, percent = \"1\" }}]\n"
        )
    });
    let found = issues(&s);
    assert!(!found.is_empty());
    assert!(
        found
            .iter()
            .all(|i| i.message.contains("both apply to SKU")),
        "{found:#?}"
    );
}

#[test]
fn broken_fixture_directory_reports_every_problem() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/broken_rules");
    let found = match quotecast_rules::load_dir(&dir) {
        Err(RulesError::Invalid(i)) => i,
        other => panic!("{other:?}"),
    };
    let text: Vec<String> = found.iter().map(ToString::to_string).collect();
    let expected = [
        "rules.toml:12: product `B-1` refers to unknown product line `gadgets`",
        "rules.toml:24: price of `X-9` in book `usd` refers to unknown SKU `X-9`",
        "rules.toml:30: price of `A-1` in book `usd`: ends (2026-01-01) before it starts (2026-06-01)",
        "rules.toml:42: approval rule `big` refers to unknown approval level `ceo`",
    ];
    let suffixes: Vec<String> = text
        .iter()
        .map(|t| t.rsplit('/').next().unwrap_or(t).to_string())
        .collect();
    assert_eq!(suffixes, expected);
}

fn warnings(sources: &[Source]) -> Vec<RuleIssue> {
    compile_sources(sources).unwrap().1.warnings
}

#[test]
fn the_example_rules_have_no_warnings() {
    let sources = quotecast_rules::read_dir(&rules_dir()).unwrap();
    assert_eq!(warnings(&sources), []);
}

#[test]
fn a_sku_missing_from_a_price_book_is_a_warning_not_an_error() {
    // Drop ACC-BAG's entry from the EUR book.
    let s = with_edit("price_books/eur.toml", |t| {
        t.replacen(
            "[[price]]\nbook = \"eur\"\nsku = \"ACC-BAG\"\nprice = \"56.00\"\nfrom = \"2026-01-01\"\n",
            "",
            1,
        )
    });
    let found = warnings(&s);
    assert_eq!(found.len(), 1, "{found:#?}");
    assert_eq!(found[0].file, rules_dir().join("price_books/eur.toml"));
    assert!(
        found[0]
            .message
            .contains("no price for 1 SKU(s), which cannot be quoted in EUR: ACC-BAG"),
        "{}",
        found[0].message
    );
}

#[test]
fn a_gap_between_dated_prices_is_a_warning() {
    // The second-half memory price now starts on 2026-07-05, not 07-01.
    let s = with_edit("price_books/usd.toml", |t| {
        t.replacen(
            "sku = \"SRV-MEM-32\"\nprice = \"230.00\"\nfrom = \"2026-07-01\"",
            "sku = \"SRV-MEM-32\"\nprice = \"230.00\"\nfrom = \"2026-07-05\"",
            1,
        )
    });
    let found = warnings(&s);
    assert_eq!(found.len(), 1, "{found:#?}");
    assert!(
        found[0]
            .message
            .contains("`SRV-MEM-32` has no price in book `usd` from 2026-07-01 to 2026-07-04"),
        "{}",
        found[0].message
    );
    let text = &s.iter().find(|x| x.path == found[0].file).unwrap().text;
    let record: Vec<&str> = text
        .lines()
        .skip(found[0].line - 1)
        .take_while(|l| !l.trim().is_empty())
        .collect();
    assert!(
        record.iter().any(|l| l.contains("2026-07-05")),
        "{record:?}"
    );
}

#[test]
fn configuration_rule_naming_an_unknown_option() {
    let s = with_edit("configuration/laptops.toml", |t| {
        t.replacen(
            "option = \"LT-CPU-I9\", any_of",
            "option = \"LT-CPU-I3\", any_of",
            1,
        )
    });
    assert_single_issue(
        &s,
        "configuration/laptops.toml",
        "id = \"lt14pro-i9-memory\"",
        "unknown option of `LT-14-PRO` `LT-CPU-I3`",
    );
}

#[test]
fn configuration_rule_with_two_kinds() {
    let s = with_edit("configuration/laptops.toml", |t| {
        t.replacen(
            "excludes = { option = \"LT-CPU-I5\", options = [\"LT-MEM-64\"] }",
            "excludes = { option = \"LT-CPU-I5\", options = [\"LT-MEM-64\"] }\nrequires = { option = \"LT-CPU-I5\", any_of = [\"LT-MEM-16\"] }",
            1,
        )
    });
    assert_single_issue(
        &s,
        "configuration/laptops.toml",
        "id = \"lt14pro-i5-memory\"",
        "exactly one of requires, excludes",
    );
}

#[test]
fn an_option_no_configuration_can_hold_is_reported_with_its_rules() {
    // The i5 excludes 64 GB; a rule requiring 64 GB with the i5 makes the
    // i5 impossible: it needs what it excludes. Rules in file order.
    let s = with_edit("configuration/laptops.toml", |t| {
        t.replacen(
            "any_of = [\"LT-MEM-32\", \"LT-MEM-64\"] }",
            "any_of = [\"LT-MEM-32\", \"LT-MEM-64\"] }\n\n[[config_rule]]\nid = \"lt14pro-i5-needs-64\"\nproduct = \"LT-14-PRO\"\ndescription = \"test\"\nrequires = { option = \"LT-CPU-I5\", any_of = [\"LT-MEM-64\"] }",
            1,
        )
    });
    assert_single_issue(
        &s,
        "configuration/laptops.toml",
        "LT-CPU-I5",
        "option `LT-CPU-I5` of `LT-14-PRO` can never be chosen: `lt14pro-i5-needs-64`, `lt14pro-i5-memory` rule it out",
    );
}

#[test]
fn a_product_with_no_valid_configuration_is_reported_with_a_minimal_conflict() {
    // Every drive needs four bay units, the chassis has eight, and at
    // least three drives are required.
    let s = with_edit("configuration/servers.toml", unsatisfiable_servers);
    assert_single_issue(
        &s,
        "configuration/servers.toml",
        "product = \"SRV-2U\"",
        "`SRV-2U` has no valid configuration: `group:storage`, `srv2u-drive-bays` cannot all hold",
    );
}

/// Makes `SRV-2U` unsatisfiable: at least three drives of four bay units
/// each in a chassis with eight.
fn unsatisfiable_servers(t: &str) -> String {
    t.replacen(
        "id = \"storage\"\nname = \"Drives\"\nmin = 1",
        "id = \"storage\"\nname = \"Drives\"\nmin = 3",
        1,
    )
    .replace("bays = 1 }", "bays = 4 }")
    .replace("bays = 2 }", "bays = 4 }")
}

#[test]
fn every_problem_is_reported_even_when_other_files_have_problems_too() {
    // A price book naming an unknown SKU, a laptop rule naming an unknown
    // option, and a server model with no valid configuration: the first
    // two once stopped the solving of every model, hiding the third.
    let mut sources = with_edit("configuration/servers.toml", unsatisfiable_servers);
    for (file, from, to) in [
        (
            "price_books/usd.toml",
            "sku = \"SRV-1U\"",
            "sku = \"SRV-1X\"",
        ),
        (
            "configuration/laptops.toml",
            "option = \"LT-CPU-I9\", any_of",
            "option = \"LT-CPU-I11\", any_of",
        ),
    ] {
        let source = sources
            .iter_mut()
            .find(|s| s.path == rules_dir().join(file))
            .unwrap();
        assert!(source.text.contains(from), "{file}");
        source.text = source.text.replacen(from, to, 1);
    }
    let found = issues(&sources);
    let messages: Vec<&str> = found.iter().map(|i| i.message.as_str()).collect();
    assert_eq!(found.len(), 3, "{messages:#?}");
    assert!(
        messages.iter().any(|m| m.contains("SRV-1X")),
        "{messages:#?}"
    );
    assert!(
        messages.iter().any(|m| m.contains("LT-CPU-I11")),
        "{messages:#?}"
    );
    assert!(
        messages
            .iter()
            .any(|m| m.contains("`SRV-2U` has no valid configuration")),
        "{messages:#?}"
    );
}

#[test]
fn the_example_funnel_has_open_stages_then_won_and_lost() {
    let rules = example_rules();
    let ids: Vec<&str> = rules.stages().iter().map(|s| s.id.as_str()).collect();
    assert_eq!(
        ids,
        [
            "qualify",
            "discover",
            "sponsor",
            "propose",
            "negotiate",
            "won",
            "lost"
        ]
    );
    let sponsor = rules.stage("sponsor").unwrap();
    assert_eq!(sponsor.win_rate.0, dec("50"));
    assert_eq!(sponsor.time_limit_days, Some(30));
}

#[test]
fn an_open_stage_without_a_time_limit() {
    let s = with_edit("pipeline/stages.toml", |t| {
        t.replacen("time_limit_days = 30\n", "", 1)
    });
    assert_single_issue(
        &s,
        "pipeline/stages.toml",
        "id = \"discover\"",
        "stage `discover`: an open stage needs time_limit_days",
    );
}

#[test]
fn a_stage_id_starting_with_a_star() {
    // The slippage's points over every stage are the stage `*`.
    let s = with_edit("pipeline/stages.toml", |t| {
        t.replacen("id = \"discover\"", "id = \"*discover\"", 1)
    });
    assert_single_issue(
        &s,
        "pipeline/stages.toml",
        "id = \"*discover\"",
        "stage `*discover`: an id starting with `*` is kept for the forecast's tables",
    );
}

#[test]
fn a_crm_label_names_one_stage() {
    // A label given to two stages.
    let s = with_edit("pipeline/stages.toml", |t| {
        t.replacen(
            "labels = [\"Proposal/Price Quote\"",
            "labels = [\"Qualification\"",
            1,
        )
    });
    assert_single_issue(
        &s,
        "pipeline/stages.toml",
        "id = \"propose\"",
        "stage `propose`: label `Qualification` already names stage `qualify`",
    );
    // A label that is another stage's id.
    let s = with_edit("pipeline/stages.toml", |t| {
        t.replacen("labels = [\"Closed Lost\"", "labels = [\"won\"", 1)
    });
    assert_single_issue(
        &s,
        "pipeline/stages.toml",
        "id = \"lost\"",
        "stage `lost`: label `won` is the id of stage `won`",
    );
}

#[test]
fn a_crm_column_label_names_a_column_of_the_files_once() {
    // A column the files do not have.
    let s = with_edit("pipeline/columns.toml", |t| {
        t.replacen("id = \"quote_ref\"", "id = \"quote\"", 1)
    });
    assert_single_issue(
        &s,
        "pipeline/columns.toml",
        "id = \"quote\"",
        "column `quote` is not a column of pipeline or history files",
    );
    // A label that is a column's own name, and one given twice.
    let s = with_edit("pipeline/columns.toml", |t| {
        t.replacen("\"Qty\", \"Units\"", "\"Qty\", \"amount\"", 1)
    });
    assert_single_issue(
        &s,
        "pipeline/columns.toml",
        "id = \"quantity\"",
        "column `quantity`: label `amount` is the name of a column",
    );
    let s = with_edit("pipeline/columns.toml", |t| {
        t.replacen("\"Qty\", \"Units\"", "\"Qty\", \"Qty\"", 1)
    });
    assert_single_issue(
        &s,
        "pipeline/columns.toml",
        "id = \"quantity\"",
        "column `quantity`: label `Qty` is given twice",
    );
}

#[test]
fn a_stage_order_taken_twice() {
    let s = with_edit("pipeline/stages.toml", |t| {
        t.replacen("order = 40", "order = 30", 1)
    });
    assert_single_issue(
        &s,
        "pipeline/stages.toml",
        "id = \"propose\"",
        "order 30 is already taken by stage `sponsor`",
    );
}

#[test]
fn a_fiscal_year_is_a_month_set_once() {
    assert_eq!(example_rules().fiscal_year().name(), "january");
    let s = with_edit("pipeline/calendar.toml", |t| {
        t.replacen("= \"january\"", "= \"Februar\"", 1)
    });
    assert_single_issue(
        &s,
        "pipeline/calendar.toml",
        "fiscal_year_start",
        "fiscal_year_start `Februar` is not a month (expected one of january, february,",
    );
    let s = with_edit("pipeline/stages.toml", |t| {
        format!("fiscal_year_start = \"July\"\n{t}")
    });
    assert_single_issue(
        &s,
        "pipeline/stages.toml",
        "fiscal_year_start",
        "fiscal_year_start is set twice: first at",
    );
    let s = with_edit("pipeline/calendar.toml", |t| {
        t.replacen("= \"january\"", "= \"February\"", 1)
    });
    let (rules, _) = compile_sources(&s).unwrap();
    assert_eq!(rules.fiscal_year().first_month0(), 1);
}

#[test]
fn a_won_stage_below_certainty_and_an_unknown_category() {
    let s = with_edit("pipeline/stages.toml", |t| {
        t.replacen("win_rate = \"100\"", "win_rate = \"95\"", 1)
    });
    assert_single_issue(
        &s,
        "pipeline/stages.toml",
        "id = \"won\"",
        "the won stage's win_rate must be 100",
    );
    let s = with_edit("pipeline/stages.toml", |t| {
        t.replacen("category = \"commit\"", "category = \"upside\"", 1)
    });
    assert_single_issue(
        &s,
        "pipeline/stages.toml",
        "id = \"negotiate\"",
        "category `upside` is not one of omitted, pipeline, best_case, commit, closed",
    );
}

#[test]
fn a_later_stage_that_wins_less_is_a_warning() {
    let s = with_edit("pipeline/stages.toml", |t| {
        t.replacen("win_rate = \"80\"", "win_rate = \"60\"", 1)
    });
    let found = warnings(&s);
    assert_eq!(found.len(), 1, "{found:#?}");
    assert!(
        found[0].message.contains(
            "stage `negotiate` wins less often (60 %) than the earlier stage `propose` (65 %)"
        ),
        "{}",
        found[0].message
    );
}

#[test]
fn a_bom_cycle_is_named() {
    let s = with_edit("planning/bom.toml", |t| {
        format!(
            "{t}\n[[bom]]\nparent = \"ASM-KB-MODULE\"\ncomponent = \"ASM-LT14-CHASSIS\"\nquantity = \"1\"\n"
        )
    });
    let found = issues(&s);
    assert_eq!(found.len(), 1, "{found:#?}");
    assert_eq!(found[0].file, rules_dir().join("planning/bom.toml"));
    let m = &found[0].message;
    assert!(
        m.contains("BOM cycle: ")
            && (m.contains("ASM-KB-MODULE → ASM-LT14-CHASSIS → ASM-KB-MODULE")
                || m.contains("ASM-LT14-CHASSIS → ASM-KB-MODULE → ASM-LT14-CHASSIS")),
        "{m}"
    );
}

#[test]
fn bom_lines_with_unknown_items_or_no_quantity() {
    let s = with_edit("planning/bom.toml", |t| {
        t.replacen(
            "component = \"CMP-CPU-LT-24C\"",
            "component = \"CMP-CPU-LT-99C\"",
            1,
        )
    });
    assert_single_issue(
        &s,
        "planning/bom.toml",
        "parent = \"LT-16-WS\"",
        "unknown item `CMP-CPU-LT-99C`",
    );
    let s = with_edit("planning/bom.toml", |t| {
        t.replacen(
            "parent = \"ASM-DOC-PACK\"\ncomponent = \"CMP-MANUAL\"\nquantity = \"1\"",
            "parent = \"ASM-DOC-PACK\"\ncomponent = \"CMP-MANUAL\"\nquantity = \"0\"",
            1,
        )
    });
    assert_single_issue(
        &s,
        "planning/bom.toml",
        "component = \"CMP-MANUAL\"",
        "quantity 0 must be above 0",
    );
}

#[test]
fn an_option_without_a_bom_where_its_product_has_one() {
    let s = with_edit("planning/bom.toml", |t| {
        t.replacen(
            "[[bom]]\nparent = \"LT-CPU-I9\"\ncomponent = \"CMP-CPU-LT-24C\"\nquantity = \"1\"\n",
            "",
            1,
        )
    });
    let found = issues(&s);
    assert_eq!(found.len(), 1, "{found:#?}");
    assert!(
        found[0].message.contains("its option LT-CPU-I9 has none"),
        "{}",
        found[0].message
    );
}

#[test]
fn attach_rates_that_no_mix_of_configurations_can_have() {
    let s = with_edit("planning/attach_rates.toml", |t| {
        t.replacen(
            "option = \"LT-CPU-I9\"\npercent = \"15\"",
            "option = \"LT-CPU-I9\"\npercent = \"25\"",
            1,
        )
    });
    let found = issues(&s);
    assert_eq!(found.len(), 1, "{found:#?}");
    assert!(
        found[0]
            .message
            .contains("group `cpu` is exactly-one, but its rates sum to 110 %"),
        "{}",
        found[0].message
    );
    // The i9 needs 32 or 64 GB: at 15 % it cannot ride on 10 % of them.
    let s = with_edit("planning/attach_rates.toml", |t| {
        t.replacen(
            "option = \"LT-MEM-16\"\npercent = \"45\"",
            "option = \"LT-MEM-16\"\npercent = \"90\"",
            1,
        )
        .replacen(
            "option = \"LT-MEM-32\"\npercent = \"40\"",
            "option = \"LT-MEM-32\"\npercent = \"5\"",
            1,
        )
        .replacen(
            "option = \"LT-MEM-64\"\npercent = \"15\"",
            "option = \"LT-MEM-64\"\npercent = \"5\"",
            1,
        )
    });
    let found = issues(&s);
    assert_eq!(found.len(), 1, "{found:#?}");
    assert!(
        found[0].message.contains("break rule `lt14pro-i9-memory`"),
        "{}",
        found[0].message
    );
}

#[test]
fn payment_terms_must_sum_to_100_percent_and_name_known_things() {
    let file = "planning/payment_terms.toml";
    let s = with_edit(file, |t| {
        t.replacen(
            "{ percent = 30, at = \"signing\" }",
            "{ percent = 20, at = \"signing\" }",
            1,
        )
    });
    assert_single_issue(
        &s,
        file,
        "id = \"server_milestones\"",
        "payment terms `server_milestones`: the installments sum to 90 %, not 100 %",
    );
    let s = with_edit(file, |t| {
        t.replacen("at = \"signing\" }", "at = \"shipping\" }", 1)
    });
    assert_single_issue(
        &s,
        file,
        "id = \"server_milestones\"",
        "installment 1: at `shipping` is not one of signing, delivery",
    );
    let s = with_edit(file, |t| {
        t.replacen("account = \"northstate\"", "account = \"nobody\"", 1)
    });
    assert_single_issue(
        &s,
        file,
        "account = \"nobody\"",
        "account terms of `nobody` refers to unknown account `nobody`",
    );
    let s = with_edit(file, |t| {
        t.replacen("terms = \"prepaid\"", "terms = \"cash_on_delivery\"", 1)
    });
    assert_single_issue(
        &s,
        file,
        "terms = \"cash_on_delivery\"",
        "refers to unknown payment terms `cash_on_delivery`",
    );
}

#[test]
fn every_product_line_needs_default_terms_and_only_one() {
    let file = "planning/payment_terms.toml";
    let s = with_edit(file, |t| {
        t.replacen("product_lines = [\"services\"]", "product_lines = []", 1)
    });
    assert_single_issue(
        &s,
        file,
        "id = \"hardware_standard\"",
        "no default terms for product line(s) services",
    );
    let s = with_edit(file, |t| {
        t.replacen(
            "product_lines = [\"servers\"]",
            "product_lines = [\"servers\", \"laptops\"]",
            1,
        )
    });
    assert_single_issue(
        &s,
        file,
        "id = \"server_milestones\"",
        "product line `laptops` already has default terms",
    );
}

/// Every click of every example model, as the rep sees it.
fn clicks(configurators: &quotecast_configurator::Configurators) -> Vec<String> {
    let mut out = Vec::new();
    for (sku, model) in configurators {
        for option in 0..model.model().options.len() {
            let choice = quotecast_configurator::Choice {
                option,
                quantity: 1,
            };
            out.push(format!(
                "{sku} {option}: {:?}",
                model.configure(&[choice], true)
            ));
        }
    }
    out
}

#[test]
fn compiled_models_are_read_back_from_the_cache_with_the_same_answers() {
    use quotecast_rules::{ModelCache, load_dir_with};
    let dir = tempfile::tempdir().unwrap();
    let cache_dir = dir.path().join("configurators");
    let first = ModelCache::new(&cache_dir);
    let cold = load_dir_with(&rules_dir(), &first).unwrap();
    let models = cold.configurators.len();
    assert!(models >= 2);
    assert_eq!(first.report().compiled, models);
    assert_eq!(first.report().read, 0);
    assert_eq!(first.report().unwritable, None);

    let second = ModelCache::new(&cache_dir);
    let warm = load_dir_with(&rules_dir(), &second).unwrap();
    assert_eq!(second.report().read, models);
    assert_eq!(second.report().compiled, 0);
    assert_eq!(clicks(&warm.configurators), clicks(&cold.configurators));
    assert_eq!(clicks(&cold.configurators), clicks(example_configurators()));

    // A torn file and an altered one are compiled again, never trusted.
    let mut files: Vec<PathBuf> = std::fs::read_dir(&cache_dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    let torn = std::fs::read(&files[0]).unwrap();
    std::fs::write(&files[0], &torn[..torn.len() / 2]).unwrap();
    let mut altered = std::fs::read(&files[1]).unwrap();
    let middle = altered.len() / 2;
    altered[middle] ^= 1;
    std::fs::write(&files[1], altered).unwrap();
    let third = ModelCache::new(&cache_dir);
    let repaired = load_dir_with(&rules_dir(), &third).unwrap();
    assert_eq!(third.report().refused, 2);
    assert_eq!(third.report().compiled, 2);
    assert_eq!(clicks(&repaired.configurators), clicks(&cold.configurators));

    // A model no longer loaded leaves its file behind until pruned.
    std::fs::write(
        cache_dir.join("0123456789abcdef0123456789abcdef.qccm"),
        b"old",
    )
    .unwrap();
    assert_eq!(third.prune().unwrap(), 1);
    assert_eq!(std::fs::read_dir(&cache_dir).unwrap().count(), models);
}

#[test]
fn a_cache_that_cannot_be_written_still_loads_the_rules() {
    use quotecast_rules::{ModelCache, load_dir_with};
    let dir = tempfile::tempdir().unwrap();
    // A file where the cache directory should be.
    let blocked = dir.path().join("configurators");
    std::fs::write(&blocked, b"not a directory").unwrap();
    let cache = ModelCache::new(&blocked);
    let loaded = load_dir_with(&rules_dir(), &cache).unwrap();
    assert_eq!(
        clicks(&loaded.configurators),
        clicks(example_configurators())
    );
    assert!(cache.report().unwritable.is_some());
}

#[test]
fn an_approval_route_to_an_unknown_group_is_named_with_its_line() {
    let s = with_edit("approval_chains.toml", |t| {
        t.replacen("groups = [\"finance\"]", "groups = [\"treasury\"]", 1)
    });
    assert_single_issue(
        &s,
        "approval_chains.toml",
        "rule = \"appr-margin-15\"",
        "unknown approver group `treasury`",
    );
}

#[test]
fn an_approver_group_must_say_how_it_decides_in_known_words() {
    let s = with_edit("approval_chains.toml", |t| {
        t.replacen("decide = \"all\"", "decide = \"most\"", 1)
    });
    assert_single_issue(
        &s,
        "approval_chains.toml",
        "id = \"deal-desk\"",
        "decide `most` is not one of first, all",
    );
    let s = with_edit("approval_chains.toml", |t| {
        t.replacen("rule = \"appr-margin-15\"", "rule = \"appr-margin-5\"", 1)
    });
    assert_single_issue(
        &s,
        "approval_chains.toml",
        "rule = \"appr-margin-5\"",
        "unknown approval rule `appr-margin-5`",
    );
}

#[test]
fn approvals_can_ask_for_lines_below_their_floor_and_for_a_product_line() {
    use quotecast_tests::{QuoteBuilder, percent, quote};
    let s = with_edit("approvals.toml", |t| {
        format!(
            "{t}\n[[approval_rule]]\nid = \"appr-below-floor\"\nname = \"Asked below a floor\"\n\
             level = \"director\"\nline_below_floor = true\n\n[[approval_rule]]\n\
             id = \"appr-servers\"\nname = \"Server deals\"\nlevel = \"manager\"\n\
             product_line_present = \"servers\"\n"
        )
    });
    let (rules, _) = compile_sources(&s).unwrap();
    // 35 % off a laptop hits its floor (897.73: asked 844.35, 5.95 % below).
    let q = quote("USD", "2026-03-01")
        .account("initech")
        .line("LT-14-PRO", "1")
        .line_discount(percent("35"))
        .line("SRV-1U", "2");
    let priced = quotecast_pricing::price_quote(&rules, example_configurators(), &q).unwrap();
    let found: Vec<(&str, Option<String>)> = priced
        .approval
        .triggered
        .iter()
        .filter(|t| t.rule_id == "appr-below-floor" || t.rule_id == "appr-servers")
        .map(|t| (t.rule_id.as_str(), t.figure.map(|f| f.to_string())))
        .collect();
    assert_eq!(
        found,
        [
            ("appr-below-floor", Some("5.95".to_owned())),
            ("appr-servers", Some("4800.00".to_owned())),
        ],
        "{:#?}",
        priced.approval.triggered
    );
    // Nothing below a floor, no server: neither asks.
    let plain = quote("USD", "2026-03-01").line("LT-14-PRO", "1");
    let priced = quotecast_pricing::price_quote(&rules, example_configurators(), &plain).unwrap();
    assert!(
        priced.approval.triggered.is_empty(),
        "{:?}",
        priced.approval
    );
    // An unknown product line is named with its line.
    let s = with_edit("approvals.toml", |t| {
        format!(
            "{t}\n[[approval_rule]]\nid = \"appr-boats\"\nname = \"Boats\"\nlevel = \"manager\"\n\
             product_line_present = \"boats\"\n"
        )
    });
    assert_single_issue(
        &s,
        "approvals.toml",
        "id = \"appr-boats\"",
        "unknown product line `boats`",
    );
}
