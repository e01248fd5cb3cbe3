//! `--chart FILE.svg`: the P10–P90 fan chart of a forecast per bucket and
//! the funnel chart of stage conversion, drawn with plotters (SVG only;
//! the viewer renders the text).
use std::path::Path;

use anyhow::{Context, anyhow};
use plotters::prelude::*;
use quotecast_forecast::DataFrame;

/// One bucket of the fan chart.
#[derive(Debug, Clone, PartialEq)]
pub struct FanPoint {
    pub bucket: String,
    pub p10: f64,
    pub p50: f64,
    pub p90: f64,
    pub mean: f64,
}

/// One stage of the funnel chart.
#[derive(Debug, Clone, PartialEq)]
pub struct FunnelStep {
    pub stage: String,
    pub entered: f64,
    pub conversion: f64,
    pub mean_days: f64,
}

const WIDTH: u32 = 960;
const HEIGHT: u32 = 540;
const BAND: RGBColor = RGBColor(158, 202, 225);
const MEDIAN: RGBColor = RGBColor(33, 102, 172);
const MEAN: RGBColor = RGBColor(214, 96, 77);

fn number(frame: &DataFrame, column: &str, row: usize) -> anyhow::Result<f64> {
    let value = frame.column(column)?.get(row)?;
    value
        .extract::<f64>()
        .ok_or_else(|| anyhow!("column `{column}` row {row}: not a number"))
}

fn text(frame: &DataFrame, column: &str, row: usize) -> anyhow::Result<String> {
    Ok(frame.column(column)?.get(row)?.str_value().into_owned())
}

/// The fan points of a Monte Carlo table per bucket (`bucket`, `mean`,
/// `p10`, `p50`, `p90`).
pub fn fan_points(by_bucket: &DataFrame) -> anyhow::Result<Vec<FanPoint>> {
    (0..by_bucket.height())
        .map(|r| {
            Ok(FanPoint {
                bucket: text(by_bucket, "bucket", r)?,
                p10: number(by_bucket, "p10", r)?,
                p50: number(by_bucket, "p50", r)?,
                p90: number(by_bucket, "p90", r)?,
                mean: number(by_bucket, "mean", r)?,
            })
        })
        .collect()
}

/// The funnel steps of a company funnel table (`stage`, `entered`,
/// `conversion`, `mean_days`).
pub fn funnel_steps(company: &DataFrame) -> anyhow::Result<Vec<FunnelStep>> {
    (0..company.height())
        .map(|r| {
            Ok(FunnelStep {
                stage: text(company, "stage", r)?,
                entered: number(company, "entered", r)?,
                conversion: number(company, "conversion", r)?,
                mean_days: number(company, "mean_days", r).unwrap_or(f64::NAN),
            })
        })
        .collect()
}

fn drawing_error(e: impl std::fmt::Display) -> anyhow::Error {
    anyhow!("drawing the chart: {e}")
}

/// Writes the fan chart: per bucket the P10–P90 band, the median and the
/// mean, amounts in `currency`.
pub fn fan_chart(
    path: &Path,
    title: &str,
    currency: &str,
    points: &[FanPoint],
) -> anyhow::Result<()> {
    if points.is_empty() {
        return Err(anyhow!("no buckets to draw"));
    }
    let top = points.iter().map(|p| p.p90.max(p.mean)).fold(0.0, f64::max) * 1.1;
    let root = SVGBackend::new(path, (WIDTH, HEIGHT)).into_drawing_area();
    root.fill(&WHITE).map_err(drawing_error)?;
    let last = points.len() - 1;
    let mut chart = ChartBuilder::on(&root)
        .caption(title, ("sans-serif", 22))
        .margin(16)
        .x_label_area_size(48)
        .y_label_area_size(96)
        .build_cartesian_2d(-0.5f64..last as f64 + 0.5, 0f64..top.max(1.0))
        .map_err(drawing_error)?;
    chart
        .configure_mesh()
        .x_labels(points.len().min(24))
        .x_label_formatter(&|x| {
            let i = x.round();
            if (x - i).abs() < 1e-6 && i >= 0.0 {
                points
                    .get(i as usize)
                    .map(|p| p.bucket.clone())
                    .unwrap_or_default()
            } else {
                String::new()
            }
        })
        .y_desc(currency)
        .y_label_formatter(&|y| format!("{:.0}", y))
        .draw()
        .map_err(drawing_error)?;
    let band: Vec<(f64, f64)> = points
        .iter()
        .enumerate()
        .map(|(i, p)| (i as f64, p.p90))
        .chain(
            points
                .iter()
                .enumerate()
                .rev()
                .map(|(i, p)| (i as f64, p.p10)),
        )
        .collect();
    chart
        .draw_series(std::iter::once(Polygon::new(band, BAND.mix(0.6).filled())))
        .map_err(drawing_error)?
        .label("P10 – P90")
        .legend(|(x, y)| Rectangle::new([(x, y - 5), (x + 16, y + 5)], BAND.filled()));
    chart
        .draw_series(LineSeries::new(
            points.iter().enumerate().map(|(i, p)| (i as f64, p.p50)),
            MEDIAN.stroke_width(2),
        ))
        .map_err(drawing_error)?
        .label("P50")
        .legend(|(x, y)| PathElement::new([(x, y), (x + 16, y)], MEDIAN.stroke_width(2)));
    chart
        .draw_series(
            points
                .iter()
                .enumerate()
                .map(|(i, p)| Circle::new((i as f64, p.mean), 4, MEAN.filled())),
        )
        .map_err(drawing_error)?
        .label("mean (expected value)")
        .legend(|(x, y)| Circle::new((x + 8, y), 4, MEAN.filled()));
    chart
        .configure_series_labels()
        .background_style(WHITE.mix(0.8))
        .border_style(BLACK)
        .draw()
        .map_err(drawing_error)?;
    root.present()
        .with_context(|| format!("writing {}", path.display()))?;
    Ok(())
}

/// Writes the funnel chart: one centred bar per stage, as wide as the deals
/// that entered it, labelled with its conversion and days in stage.
pub fn funnel_chart(path: &Path, title: &str, steps: &[FunnelStep]) -> anyhow::Result<()> {
    if steps.is_empty() {
        return Err(anyhow!("no stages to draw"));
    }
    let widest = steps.iter().map(|s| s.entered).fold(0.0, f64::max).max(1.0);
    let root = SVGBackend::new(path, (WIDTH, HEIGHT)).into_drawing_area();
    root.fill(&WHITE).map_err(drawing_error)?;
    let rows = steps.len() as f64;
    let mut chart = ChartBuilder::on(&root)
        .caption(title, ("sans-serif", 22))
        .margin(16)
        // Bars centred on 0; the labels sit in the left part.
        .build_cartesian_2d(-widest * 1.35..widest * 0.55, 0f64..rows)
        .map_err(drawing_error)?;
    let bars = steps.iter().enumerate().map(|(i, s)| {
        let y = rows - i as f64;
        let half = s.entered / 2.0;
        Rectangle::new(
            [(-half, y - 0.85), (half, y - 0.15)],
            MEDIAN.mix(0.75).filled(),
        )
    });
    chart.draw_series(bars).map_err(drawing_error)?;
    let labels = steps.iter().enumerate().map(|(i, s)| {
        let y = rows - i as f64 - 0.42;
        let days = if s.mean_days.is_finite() {
            format!(", {:.0} days in stage", s.mean_days)
        } else {
            String::new()
        };
        Text::new(
            format!(
                "{}: {:.0} entered, {:.0} % moved on{days}",
                s.stage,
                s.entered,
                s.conversion * 100.0
            ),
            (-widest * 1.32, y),
            ("sans-serif", 14).into_font().color(&BLACK),
        )
    });
    chart.draw_series(labels).map_err(drawing_error)?;
    root.present()
        .with_context(|| format!("writing {}", path.display()))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn the_fan_chart_draws_a_band_a_median_and_labelled_buckets() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("fan.svg");
        let points = vec![
            FanPoint {
                bucket: "2026-11-01".into(),
                p10: 100.0,
                p50: 150.0,
                p90: 210.0,
                mean: 155.0,
            },
            FanPoint {
                bucket: "2026-12-01".into(),
                p10: 80.0,
                p50: 140.0,
                p90: 260.0,
                mean: 150.0,
            },
        ];
        fan_chart(&path, "forecast", "USD", &points).unwrap();
        let svg = std::fs::read_to_string(&path).unwrap();
        assert!(svg.starts_with("<svg"));
        assert!(svg.contains("<polygon"), "the P10–P90 band");
        assert!(svg.contains("2026-12-01"), "bucket labels");
        assert!(svg.contains("P10 – P90") && svg.contains("P50"));
        assert!(svg.contains("USD"));
    }

    #[test]
    fn the_funnel_chart_labels_every_stage_with_its_conversion() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("funnel.svg");
        let steps = vec![
            FunnelStep {
                stage: "qualify".into(),
                entered: 1000.0,
                conversion: 0.62,
                mean_days: 14.2,
            },
            FunnelStep {
                stage: "propose".into(),
                entered: 620.0,
                conversion: 0.5,
                mean_days: f64::NAN,
            },
        ];
        funnel_chart(&path, "funnel", &steps).unwrap();
        let svg = std::fs::read_to_string(&path).unwrap();
        assert!(svg.contains("qualify: 1000 entered, 62 % moved on, 14 days in stage"));
        assert!(svg.contains("propose: 620 entered, 50 % moved on"));
        assert_eq!(svg.matches("days in stage").count(), 1, "no days for NaN");
        assert_eq!(svg.matches("<rect").count(), 3, "background and two bars");
    }

    #[test]
    fn nothing_to_draw_is_an_error_not_an_empty_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("none.svg");
        assert!(fan_chart(&path, "t", "USD", &[]).is_err());
        assert!(!path.exists());
    }
}
