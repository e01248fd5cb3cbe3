//! `demand plan --chart FILE.svg`: one panel per chosen item, with its
//! demand's P10–P90 band and expected value per bucket against projected
//! on hand, open receipts and planned receipts (plotters, SVG only).
use std::{collections::BTreeMap, path::Path};

use anyhow::{Context, anyhow};
use plotters::prelude::*;
use quotecast_demand::Plan;
use quotecast_model::RuleSet;
use rust_decimal::Decimal;

const BAND: RGBColor = RGBColor(158, 202, 225);
const EXPECTED: RGBColor = RGBColor(33, 102, 172);
const ON_HAND: RGBColor = RGBColor(27, 120, 55);
const RECEIPT: RGBColor = RGBColor(214, 96, 77);

/// The items named, else the five with the most planned value.
pub fn chosen(plan: &Plan, named: &[String]) -> Vec<String> {
    if !named.is_empty() {
        return named.to_vec();
    }
    let mut value: BTreeMap<&str, Decimal> = BTreeMap::new();
    for o in &plan.planned_orders {
        *value.entry(o.item.as_str()).or_default() += o.value;
    }
    let mut ranked: Vec<_> = value.into_iter().collect();
    ranked.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
    ranked
        .into_iter()
        .take(5)
        .map(|(i, _)| i.to_owned())
        .collect()
}

fn drawing_error(e: impl std::fmt::Display) -> anyhow::Error {
    anyhow!("drawing the chart: {e}")
}

/// Per bucket of one item: p10, expected, p90, on hand, receipts.
struct Series {
    buckets: Vec<chrono::NaiveDate>,
    p10: Vec<f64>,
    expected: Vec<f64>,
    p90: Vec<f64>,
    on_hand: Vec<f64>,
    receipts: Vec<f64>,
}

fn series(plan: &Plan, item: &str) -> Series {
    let mut buckets: Vec<chrono::NaiveDate> = plan
        .component_demand
        .iter()
        .filter(|r| r.item == item)
        .map(|r| r.bucket)
        .chain(
            plan.projections
                .iter()
                .filter(|r| r.item == item)
                .map(|r| r.bucket),
        )
        .collect();
    buckets.sort();
    buckets.dedup();
    let at = |b: chrono::NaiveDate| buckets.binary_search(&b).unwrap_or(0);
    let n = buckets.len();
    let mut s = Series {
        p10: vec![0.0; n],
        expected: vec![0.0; n],
        p90: vec![0.0; n],
        on_hand: vec![f64::NAN; n],
        receipts: vec![0.0; n],
        buckets: buckets.clone(),
    };
    for r in plan.component_demand.iter().filter(|r| r.item == item) {
        let i = at(r.bucket);
        s.expected[i] = r.expected;
        let [p10, _, p90] = r.percentiles.unwrap_or([r.expected; 3]);
        s.p10[i] = p10;
        s.p90[i] = p90;
    }
    for r in plan.projections.iter().filter(|r| r.item == item) {
        let i = at(r.bucket);
        s.on_hand[i] = r.on_hand;
        s.receipts[i] = r.receipts + r.planned_receipts;
    }
    // Carry the projection over buckets without a row.
    let mut last = 0.0;
    for v in &mut s.on_hand {
        if v.is_nan() {
            *v = last;
        }
        last = *v;
    }
    s
}

pub fn draw(path: &Path, plan: &Plan, items: &[String], rules: &RuleSet) -> anyhow::Result<()> {
    if items.is_empty() {
        return Err(anyhow!(
            "no planned orders, so no item to chart: name one with --component"
        ));
    }
    let height = 300 * items.len() as u32;
    let root = SVGBackend::new(path, (1000, height)).into_drawing_area();
    root.fill(&WHITE).map_err(drawing_error)?;
    for (panel, item) in root.split_evenly((items.len(), 1)).iter().zip(items) {
        let s = series(plan, item);
        if s.buckets.is_empty() {
            return Err(anyhow!(
                "{item} has no demand and no projection in this plan"
            ));
        }
        let name = rules
            .planning()
            .item(item)
            .map_or(item.as_str(), |i| i.name.as_str());
        let top = s
            .p90
            .iter()
            .chain(&s.on_hand)
            .chain(&s.receipts)
            .copied()
            .fold(1.0, f64::max)
            * 1.1;
        let bottom = s.on_hand.iter().copied().fold(0.0, f64::min);
        let last = s.buckets.len() - 1;
        let mut chart = ChartBuilder::on(panel)
            .caption(format!("{item}: {name}"), ("sans-serif", 18))
            .margin(10)
            .x_label_area_size(36)
            .y_label_area_size(70)
            .build_cartesian_2d(-0.5f64..last as f64 + 0.5, bottom..top)
            .map_err(drawing_error)?;
        let labels = s.buckets.clone();
        chart
            .configure_mesh()
            .x_labels(labels.len().min(13))
            .x_label_formatter(&|x| {
                let i = x.round();
                if (x - i).abs() < 1e-6 && i >= 0.0 {
                    labels
                        .get(i as usize)
                        .map(|d| d.to_string())
                        .unwrap_or_default()
                } else {
                    String::new()
                }
            })
            .y_desc("units")
            .draw()
            .map_err(drawing_error)?;
        let band: Vec<(f64, f64)> = (0..s.buckets.len())
            .map(|i| (i as f64, s.p90[i]))
            .chain((0..s.buckets.len()).rev().map(|i| (i as f64, s.p10[i])))
            .collect();
        chart
            .draw_series(std::iter::once(Polygon::new(band, BAND.mix(0.6).filled())))
            .map_err(drawing_error)?
            .label("demand P10 – P90")
            .legend(|(x, y)| Rectangle::new([(x, y - 5), (x + 16, y + 5)], BAND.filled()));
        chart
            .draw_series(LineSeries::new(
                s.expected.iter().enumerate().map(|(i, v)| (i as f64, *v)),
                EXPECTED.stroke_width(2),
            ))
            .map_err(drawing_error)?
            .label("expected demand")
            .legend(|(x, y)| PathElement::new([(x, y), (x + 16, y)], EXPECTED.stroke_width(2)));
        chart
            .draw_series(LineSeries::new(
                s.on_hand.iter().enumerate().map(|(i, v)| (i as f64, *v)),
                ON_HAND.stroke_width(2),
            ))
            .map_err(drawing_error)?
            .label("projected on hand")
            .legend(|(x, y)| PathElement::new([(x, y), (x + 16, y)], ON_HAND.stroke_width(2)));
        chart
            .draw_series(
                s.receipts
                    .iter()
                    .enumerate()
                    .filter(|(_, r)| **r > 0.0)
                    .map(|(i, r)| {
                        Rectangle::new(
                            [(i as f64 - 0.3, 0.0), (i as f64 + 0.3, *r)],
                            RECEIPT.mix(0.5).filled(),
                        )
                    }),
            )
            .map_err(drawing_error)?
            .label("receipts (open and planned)")
            .legend(|(x, y)| {
                Rectangle::new([(x, y - 5), (x + 16, y + 5)], RECEIPT.mix(0.5).filled())
            });
        chart
            .configure_series_labels()
            .background_style(WHITE.mix(0.8))
            .border_style(BLACK)
            .draw()
            .map_err(drawing_error)?;
    }
    root.present()
        .with_context(|| format!("writing {}", path.display()))?;
    Ok(())
}
