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
        *value.entry(&*o.item).or_default() += o.value;
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
    /// Of the first bucket's expected demand, what is needed before the
    /// plan date (lead times already run out).
    past_due: f64,
}

impl Series {
    /// The top of the y axis: the largest value drawn, except that a
    /// first bucket more than twice any other (demand overdue or due now:
    /// deliveries already late, lead times already run out) does not set
    /// the scale; it is drawn cut at the top, its figures written beside.
    fn top(&self) -> f64 {
        let largest = |from: usize| {
            [&self.p90, &self.on_hand, &self.receipts]
                .iter()
                .flat_map(|v| v[from.min(v.len())..].iter())
                .copied()
                .fold(1.0, f64::max)
        };
        let rest = largest(1);
        let all = largest(0);
        if self.buckets.len() > 1 && all > 2.0 * rest {
            rest * 1.1
        } else {
            all * 1.1
        }
    }

    /// The buckets worth drawing: up to the last with demand or receipts,
    /// and a few after (stock that only sits there is not drawn on).
    fn shown(&self) -> usize {
        let last = (0..self.buckets.len())
            .rev()
            .find(|&i| self.p90[i] > 0.0 || self.expected[i] > 0.0 || self.receipts[i] > 0.0)
            .unwrap_or(0);
        (last + 4).min(self.buckets.len())
    }

    /// Whether the first bucket is drawn cut at `top`.
    fn first_cut(&self, top: f64) -> bool {
        self.p90.first().is_some_and(|&v| v > top)
            || self.receipts.first().is_some_and(|&v| v > top)
    }
}

fn series(plan: &Plan, item: &str) -> Series {
    let mut buckets: Vec<chrono::NaiveDate> = plan
        .component_demand
        .iter()
        .filter(|r| &*r.item == item)
        .map(|r| r.bucket)
        .chain(
            plan.projections
                .iter()
                .filter(|r| &*r.item == item)
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
        past_due: 0.0,
    };
    for r in plan.component_demand.iter().filter(|r| &*r.item == item) {
        let i = at(r.bucket);
        s.expected[i] = r.expected;
        if i == 0 {
            s.past_due = r.past_due;
        }
        let [p10, _, p90] = r.percentiles.unwrap_or([r.expected; 3]);
        s.p10[i] = p10;
        s.p90[i] = p90;
    }
    for r in plan.projections.iter().filter(|r| &*r.item == item) {
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
        let top = s.top();
        let cut = |v: f64| v.min(top);
        let bottom = s.on_hand.iter().copied().fold(0.0, f64::min);
        let last = s.shown() - 1;
        let mut chart = ChartBuilder::on(panel)
            .caption(format!("{item}: {name}"), ("sans-serif", 18))
            .margin(10)
            .x_label_area_size(36)
            .y_label_area_size(70)
            .build_cartesian_2d(-0.5f64..last as f64 + 0.5, bottom..top)
            .map_err(drawing_error)?;
        let labels = s.buckets[..=last].to_vec();
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
        let band: Vec<(f64, f64)> = (0..=last)
            .map(|i| (i as f64, cut(s.p90[i])))
            .chain((0..=last).rev().map(|i| (i as f64, cut(s.p10[i]))))
            .collect();
        chart
            .draw_series(std::iter::once(Polygon::new(band, BAND.mix(0.6).filled())))
            .map_err(drawing_error)?
            .label("demand P10 – P90")
            .legend(|(x, y)| Rectangle::new([(x, y - 5), (x + 16, y + 5)], BAND.filled()));
        chart
            .draw_series(LineSeries::new(
                s.expected[..=last]
                    .iter()
                    .enumerate()
                    .map(|(i, v)| (i as f64, cut(*v))),
                EXPECTED.stroke_width(2),
            ))
            .map_err(drawing_error)?
            .label("expected demand")
            .legend(|(x, y)| PathElement::new([(x, y), (x + 16, y)], EXPECTED.stroke_width(2)));
        chart
            .draw_series(LineSeries::new(
                s.on_hand[..=last]
                    .iter()
                    .enumerate()
                    .map(|(i, v)| (i as f64, cut(*v))),
                ON_HAND.stroke_width(2),
            ))
            .map_err(drawing_error)?
            .label("projected on hand")
            .legend(|(x, y)| PathElement::new([(x, y), (x + 16, y)], ON_HAND.stroke_width(2)));
        chart
            .draw_series(
                s.receipts[..=last]
                    .iter()
                    .enumerate()
                    .filter(|(_, r)| **r > 0.0)
                    .map(|(i, r)| {
                        Rectangle::new(
                            [(i as f64 - 0.3, 0.0), (i as f64 + 0.3, cut(*r))],
                            RECEIPT.mix(0.5).filled(),
                        )
                    }),
            )
            .map_err(drawing_error)?
            .label("receipts (open and planned)")
            .legend(|(x, y)| {
                Rectangle::new([(x, y - 5), (x + 16, y + 5)], RECEIPT.mix(0.5).filled())
            });
        if s.first_cut(top) {
            let note = format!(
                "first bucket cut at the top (overdue and due now): expected {:.0}, P90 {:.0}, receipts {:.0} units; {:.0} past due",
                s.expected[0], s.p90[0], s.receipts[0], s.past_due
            );
            chart
                .draw_series(std::iter::once(Text::new(
                    note,
                    (0.0, top * 0.97),
                    ("sans-serif", 13).into_font().color(&BLACK),
                )))
                .map_err(drawing_error)?;
        }
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
