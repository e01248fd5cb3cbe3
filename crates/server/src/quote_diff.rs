//! What changed between two stored versions of a quote: its terms, each
//! priced line (matched by line id) and the totals, figure by figure, as
//! the quote shows them.
use crate::pb::{self, FigureChange, LineChange, LineChangeKind};

/// Named figures of one side.
type Figures = Vec<(&'static str, String)>;

fn totals(t: Option<&pb::Totals>) -> Figures {
    let t = t.cloned().unwrap_or_default();
    vec![
        ("list", t.list),
        ("discount", t.discount),
        ("net", t.net),
        ("cost", t.cost),
        ("margin", t.margin),
        ("discount_percent", t.discount_percent),
        ("margin_percent", t.margin_percent),
    ]
}

fn line(l: &pb::PricedLine) -> Figures {
    vec![
        ("sku", l.sku.clone()),
        ("quantity", l.quantity.clone()),
        ("list_unit_price", l.list_unit_price.clone()),
        ("net_unit_price", l.net_unit_price.clone()),
        ("net_extended", l.net_extended.clone()),
        ("discount_percent", l.discount_percent.clone()),
        ("rep_discount_percent", l.rep_discount_percent.clone()),
        ("margin_percent", l.margin_percent.clone()),
        ("parent_line_id", l.parent_line_id.clone()),
    ]
}

fn header(q: &pb::StoredQuote) -> Figures {
    let priced = q.priced.clone().unwrap_or_default();
    vec![
        ("currency_code", priced.currency_code),
        ("price_date", priced.price_date),
        ("account_id", q.account_id.clone()),
        ("segment", priced.segment),
        ("region", priced.region),
        ("price_book_id", priced.price_book_id),
        ("valid_until", q.valid_until.clone()),
        (
            "approval_level",
            priced.approval.map(|a| a.level).unwrap_or_default(),
        ),
        ("rules_fingerprint", q.rules_fingerprint.clone()),
    ]
}

/// The figures of `before` and `after` (the same names in the same order)
/// that differ.
fn changes(before: Figures, after: Figures) -> Vec<FigureChange> {
    before
        .into_iter()
        .zip(after)
        .filter(|((_, b), (_, a))| a != b)
        .map(|((figure, before), (_, after))| FigureChange {
            figure: figure.to_owned(),
            before,
            after,
        })
        .collect()
}

/// One side's figures alone (an added or removed line), empty ones left out.
fn alone(figures: Figures, added: bool) -> Vec<FigureChange> {
    figures
        .into_iter()
        .filter(|(_, v)| !v.is_empty())
        .map(|(figure, value)| FigureChange {
            figure: figure.to_owned(),
            before: if added { String::new() } else { value.clone() },
            after: if added { value } else { String::new() },
        })
        .collect()
}

/// The differences from version `from` to version `to` of one quote.
pub fn diff(from: &pb::StoredQuote, to: &pb::StoredQuote) -> pb::DiffQuoteVersionsResponse {
    let lines_of = |q: &pb::StoredQuote| q.priced.clone().unwrap_or_default().lines;
    let (before, after) = (lines_of(from), lines_of(to));
    let mut lines = Vec::new();
    for b in &before {
        match after.iter().find(|a| a.line_id == b.line_id) {
            None => lines.push(LineChange {
                line_id: b.line_id.clone(),
                sku: b.sku.clone(),
                kind: LineChangeKind::Removed as i32,
                figures: alone(line(b), false),
            }),
            Some(a) => {
                let figures = changes(line(b), line(a));
                if !figures.is_empty() {
                    lines.push(LineChange {
                        line_id: a.line_id.clone(),
                        sku: a.sku.clone(),
                        kind: LineChangeKind::Changed as i32,
                        figures,
                    });
                }
            }
        }
    }
    for a in after
        .iter()
        .filter(|a| !before.iter().any(|b| b.line_id == a.line_id))
    {
        lines.push(LineChange {
            line_id: a.line_id.clone(),
            sku: a.sku.clone(),
            kind: LineChangeKind::Added as i32,
            figures: alone(line(a), true),
        });
    }
    let totals_of = |q: &pb::StoredQuote| totals(q.priced.as_ref().and_then(|p| p.totals.as_ref()));
    pb::DiffQuoteVersionsResponse {
        quote_number: to.quote_number,
        from_version: from.version,
        to_version: to.version,
        header: changes(header(from), header(to)),
        lines,
        totals: changes(totals_of(from), totals_of(to)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn priced_line(id: &str, sku: &str, quantity: &str, net: &str) -> pb::PricedLine {
        pb::PricedLine {
            line_id: id.into(),
            sku: sku.into(),
            quantity: quantity.into(),
            net_extended: net.into(),
            ..Default::default()
        }
    }

    fn version(v: i64, lines: Vec<pb::PricedLine>, net: &str) -> pb::StoredQuote {
        pb::StoredQuote {
            quote_number: 7,
            version: v,
            valid_until: "2026-04-01".into(),
            priced: Some(pb::PriceQuoteResponse {
                currency_code: "USD".into(),
                lines,
                totals: Some(pb::Totals {
                    net: net.into(),
                    ..Default::default()
                }),
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    #[test]
    fn lines_are_matched_by_id_and_only_moved_figures_reported() {
        let from = version(
            1,
            vec![
                priced_line("1", "DSP-24", "10", "1890.00"),
                priced_line("2", "LT-14-PRO", "3", "3447.00"),
            ],
            "5337.00",
        );
        let to = version(
            2,
            vec![
                priced_line("1", "DSP-24", "12", "2268.00"),
                priced_line("3", "SVC-INSTALL", "1", "100.00"),
            ],
            "2368.00",
        );
        let d = diff(&from, &to);
        assert_eq!((d.from_version, d.to_version), (1, 2));
        assert!(d.header.is_empty());
        assert_eq!(d.lines.len(), 3);
        let changed = &d.lines[0];
        assert_eq!(changed.kind, LineChangeKind::Changed as i32);
        let moved: Vec<(&str, &str, &str)> = changed
            .figures
            .iter()
            .map(|f| (f.figure.as_str(), f.before.as_str(), f.after.as_str()))
            .collect();
        assert_eq!(
            moved,
            [
                ("quantity", "10", "12"),
                ("net_extended", "1890.00", "2268.00")
            ]
        );
        assert_eq!(d.lines[1].kind, LineChangeKind::Removed as i32);
        assert_eq!(d.lines[1].sku, "LT-14-PRO");
        assert_eq!(d.lines[2].kind, LineChangeKind::Added as i32);
        assert!(d.lines[2].figures.iter().all(|f| f.before.is_empty()));
        assert_eq!(d.totals.len(), 1);
        assert_eq!(
            (d.totals[0].before.as_str(), d.totals[0].after.as_str()),
            ("5337.00", "2368.00")
        );
        // A version against itself: nothing.
        let same = diff(&to, &to);
        assert!(same.header.is_empty() && same.lines.is_empty() && same.totals.is_empty());
    }
}
