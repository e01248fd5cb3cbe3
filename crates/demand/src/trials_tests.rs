//! The Monte Carlo against what it must reproduce: the expected
//! explosion, the correlation of items sharing products, and a
//! closed-form safety stock.
#![allow(clippy::unwrap_used)]

use crate::{
    Inventory, PlanOptions, plan,
    prepare::prepare,
    structure::Structure,
    test_common::{line, options, rules_with},
    trials::{item_series, trial_totals},
};

const TWO_PRODUCTS: &str = r#"
[[item]]
id = "FG-A"
name = "A"
supply = "make"
lead_time_days = 2

[[item]]
id = "FG-B"
name = "B"
supply = "make"
lead_time_days = 1

[[item]]
id = "SUB-X"
name = "X"
supply = "make"
lead_time_days = 3

[[item]]
id = "CMP-P"
name = "P"
supply = "buy"
lead_time_days = 5

[[item]]
id = "CMP-Q"
name = "Q"
supply = "buy"
lead_time_days = 4

[[bom]]
parent = "FG-A"
component = "SUB-X"
quantity = "2"

[[bom]]
parent = "SUB-X"
component = "CMP-P"
quantity = "3"

[[bom]]
parent = "FG-A"
component = "CMP-Q"
quantity = "1.5"

[[bom]]
parent = "FG-B"
component = "CMP-P"
quantity = "4"
"#;

/// 300 deals of A or B over eight weeks, some slipping over three points.
fn deals() -> Vec<crate::DemandLine> {
    let mut lines = Vec::new();
    for i in 0..300u32 {
        let sku = if i % 3 == 0 { "FG-B" } else { "FG-A" };
        let day = 4 + (i * 7) % 50;
        let date =
            chrono::NaiveDate::from_ymd_opt(2026, 3, 1).unwrap() + chrono::Days::new(day.into());
        let probability = 0.1 + 0.8 * f64::from(i % 9) / 8.0;
        let quantity = f64::from(1 + i % 20);
        let points = if i % 4 == 0 { 3 } else { 1 };
        for point in 0..points {
            let mut l = line(
                &format!("D{i:03}"),
                sku,
                quantity,
                "2026-03-02",
                probability,
            );
            l.close_date = date + chrono::Days::new(u64::from(point) * 10);
            l.point = point;
            l.points = points;
            lines.push(l);
        }
    }
    lines
}

fn mean(v: &[f64]) -> f64 {
    v.iter().sum::<f64>() / v.len() as f64
}

/// Per trial, the item's demand summed over the horizon.
fn totals_per_trial(series: &[f64], trials: usize) -> Vec<f64> {
    let buckets = series.len() / trials;
    (0..trials)
        .map(|t| series[t * buckets..(t + 1) * buckets].iter().sum())
        .collect()
}

#[test]
fn the_mean_over_trials_matches_the_expected_explosion_within_one_percent() {
    let rules = rules_with(TWO_PRODUCTS);
    let opts = options(12, 4000);
    let s = Structure::new(rules.planning()).unwrap();
    let p = prepare(&rules, &s, deals(), &opts.calendar, &[]).unwrap();
    let totals = trial_totals(&p, &opts).unwrap();
    let result = plan(&rules, deals(), &Inventory::default(), &opts).unwrap();
    for item in ["FG-A", "SUB-X", "CMP-P", "CMP-Q"] {
        let simulated = mean(&totals_per_trial(
            &item_series(&s, &p, &opts, &totals, item),
            4000,
        ));
        let expected: f64 = result
            .component_demand
            .iter()
            .filter(|r| &*r.item == item)
            .map(|r| r.expected)
            .sum();
        assert!(expected > 0.0);
        let error = (simulated - expected).abs() / expected;
        assert!(
            error < 0.01,
            "{item}: simulated {simulated}, expected {expected}"
        );
    }
}

fn correlation(a: &[f64], b: &[f64]) -> f64 {
    let (ma, mb) = (mean(a), mean(b));
    let cov: f64 = a.iter().zip(b).map(|(x, y)| (x - ma) * (y - mb)).sum();
    let va: f64 = a.iter().map(|x| (x - ma).powi(2)).sum();
    let vb: f64 = b.iter().map(|y| (y - mb).powi(2)).sum();
    cov / (va * vb).sqrt()
}

#[test]
fn items_of_one_product_move_together_and_a_shared_part_is_not_the_sum_of_p90s() {
    let rules = rules_with(TWO_PRODUCTS);
    let opts = options(12, 2000);
    let s = Structure::new(rules.planning()).unwrap();
    let p = prepare(&rules, &s, deals(), &opts.calendar, &[]).unwrap();
    let totals = trial_totals(&p, &opts).unwrap();
    let per_trial = |item| totals_per_trial(&item_series(&s, &p, &opts, &totals, item), 2000);
    // SUB-X and CMP-Q come only from FG-A: the same trials drive both.
    let r = correlation(&per_trial("SUB-X"), &per_trial("CMP-Q"));
    assert!(r > 0.999, "correlation {r}");
    // CMP-P comes from A's and B's independent deals: its P90 is below
    // the P90 of A's share plus the P90 of B's share.
    let p90 = |mut v: Vec<f64>| {
        v.sort_by(f64::total_cmp);
        quotecast_forecast::percentile(&v, 0.9)
    };
    let from_a: Vec<f64> = per_trial("SUB-X").iter().map(|x| x * 3.0).collect();
    let both = per_trial("CMP-P");
    let from_b: Vec<f64> = both.iter().zip(&from_a).map(|(t, a)| t - a).collect();
    let (pa, pb, pboth) = (p90(from_a), p90(from_b), p90(both));
    assert!(pboth < 0.99 * (pa + pb), "P90 {pboth} vs {pa} + {pb}");
}

/// The smallest k with P(Binomial(n, p) ≤ k) ≥ level.
fn binomial_quantile(n: u32, p: f64, level: f64) -> f64 {
    let mut pmf = (1.0 - p).powi(n as i32);
    let mut cdf = pmf;
    let mut k = 0;
    while cdf < level {
        pmf *= f64::from(n - k) / f64::from(k + 1) * p / (1.0 - p);
        k += 1;
        cdf += pmf;
    }
    f64::from(k)
}

#[test]
fn suggested_safety_stock_is_the_service_level_quantile_less_the_mean() {
    let rules = rules_with(
        r#"
[[item]]
id = "CMP-Z"
name = "Z"
supply = "buy"
lead_time_days = 14
safety_stock = "computed"
"#,
    );
    // 400 deals of one unit each at 50 %, all needed this week: demand
    // over the lead time is Binomial(400, 0.5).
    let lines = (0..400)
        .map(|i| line(&format!("D{i}"), "CMP-Z", 1.0, "2026-03-04", 0.5))
        .collect();
    let result = plan(&rules, lines, &Inventory::default(), &options(8, 4000)).unwrap();
    let row = &result.safety_stock[0];
    let exact = binomial_quantile(400, 0.5, 0.95) - 200.0;
    assert!((row.mean - 200.0).abs() < 1.0, "{row:?}");
    assert!((row.suggested - exact).abs() < 2.0, "{row:?} vs {exact}");
    // z σ √LT with σ² = 100 in the first week and 0 in the second, two
    // weeks of lead time: 1.645 × √50 × √2 = 16.45.
    assert!((row.textbook - 16.45).abs() < 1.0, "{row:?}");
    assert_eq!(row.used, row.suggested.ceil());
}

#[test]
fn the_same_inputs_in_another_order_give_the_same_plan() {
    let rules = rules_with(TWO_PRODUCTS);
    let opts = options(12, 200);
    let a = plan(&rules, deals(), &Inventory::default(), &opts).unwrap();
    let mut shuffled = deals();
    shuffled.reverse();
    shuffled.rotate_left(17);
    let b = plan(&rules, shuffled, &Inventory::default(), &opts).unwrap();
    assert_eq!(a.id, b.id);
    assert_eq!(a.component_demand, b.component_demand);
    assert_eq!(a.planned_orders, b.planned_orders);
    assert_eq!(a.pegging, b.pegging);
    assert_eq!(a, b);
    let mut other = opts.clone();
    other.seed = 8;
    let c = plan(&rules, deals(), &Inventory::default(), &other).unwrap();
    assert_ne!(a.id, c.id);
    // Every field of a line is an input: a line's stage (its win rate
    // shock's) or that shock's rate alone makes another plan.
    for change in [
        |l: &mut crate::DemandLine| l.shocks.stage = 3,
        |l: &mut crate::DemandLine| l.shocks.rate = 0.25,
        |l: &mut crate::DemandLine| l.horizon = 2,
    ] {
        let mut lines = deals();
        change(&mut lines[5]);
        let d = plan(&rules, lines, &Inventory::default(), &opts).unwrap();
        assert_ne!(a.id, d.id);
    }
}

#[test]
fn the_expected_only_path_gives_the_figures_of_the_per_cell_path() {
    let rules = rules_with(TWO_PRODUCTS);
    let opts = options(12, 0);
    let s = Structure::new(rules.planning()).unwrap();
    let p = prepare(&rules, &s, deals(), &opts.calendar, &[]).unwrap();
    let full = crate::trials::component_demand(&s, &p, &opts).unwrap();
    let light = crate::trials::expected_only(&s, &p, &opts, Some("too large".into()));
    assert!(light.without_cells.is_some() && full.without_cells.is_none());
    // Without pegging nothing needs the cells: the same path, no note.
    let bare = PlanOptions {
        pegging: false,
        ..opts.clone()
    };
    let unpegged = crate::trials::component_demand(&s, &p, &bare).unwrap();
    assert_eq!(unpegged.rows, light.rows);
    assert!(unpegged.without_cells.is_none());
    assert_eq!(full.rows.len(), light.rows.len());
    for (a, b) in full.rows.iter().zip(&light.rows) {
        assert_eq!((&a.item, a.bucket), (&b.item, b.bucket));
        assert!(
            (a.expected - b.expected).abs() < 1e-9 * a.expected.max(1.0),
            "{a:?} {b:?}"
        );
        assert!(
            (a.past_due - b.past_due).abs() < 1e-9 * a.past_due.max(1.0),
            "{a:?} {b:?}"
        );
    }
}

/// `deals()` split over two teams, every line drawn with `shocks`.
fn shocked(shocks: crate::ShockVariances) -> Vec<crate::DemandLine> {
    deals()
        .into_iter()
        .map(|mut l| {
            let i: u32 = l.deal[1..].parse().unwrap();
            l.team = if i.is_multiple_of(2) { "east" } else { "west" }.into();
            l.shocks = shocks;
            l
        })
        .collect()
}

#[test]
fn shared_shocks_keep_the_mean_and_widen_the_range() {
    let rules = rules_with(TWO_PRODUCTS);
    let opts = options(12, 4000);
    let s = Structure::new(rules.planning()).unwrap();
    let per_trial = |lines: Vec<crate::DemandLine>, item| {
        let p = prepare(&rules, &s, lines, &opts.calendar, &[]).unwrap();
        let totals = trial_totals(&p, &opts).unwrap();
        totals_per_trial(&item_series(&s, &p, &opts, &totals, item), 4000)
    };
    let sd =
        |v: &[f64]| (v.iter().map(|x| (x - mean(v)).powi(2)).sum::<f64>() / v.len() as f64).sqrt();
    let alone = per_trial(shocked(crate::ShockVariances::default()), "CMP-P");
    let company = crate::ShockVariances {
        company: 0.09,
        ..Default::default()
    };
    let together = per_trial(shocked(company), "CMP-P");
    // The same expected demand within 2 %, a wider spread: a 30 % company
    // shock on the total.
    assert!(
        (mean(&together) / mean(&alone) - 1.0).abs() < 0.02,
        "{} vs {}",
        mean(&together),
        mean(&alone)
    );
    assert!(
        sd(&together) > 2.0 * sd(&alone),
        "{} vs {}",
        sd(&together),
        sd(&alone)
    );
    let relative = sd(&together) / mean(&together);
    assert!((0.2..0.4).contains(&relative), "relative spread {relative}");
    // A team's own shock moves only its deals: the total spreads less
    // than with the same variance shared by both teams.
    let own = crate::ShockVariances {
        own: 0.09,
        ..Default::default()
    };
    let apart = per_trial(shocked(own), "CMP-P");
    assert!(
        sd(&apart) < 0.85 * sd(&together),
        "{} vs {}",
        sd(&apart),
        sd(&together)
    );
}
