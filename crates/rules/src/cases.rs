//! Quote regression cases: files under `rules/tests/` holding a quote and
//! the figures it must price to. They make price rules testable like code.
use std::path::{Path, PathBuf};

use quotecast_model::RuleSet;
use quotecast_pricing::{Configurators, PricedLine, PricedQuote, price_quote};
use rust_decimal::Decimal;
use serde::Deserialize;

use crate::{QuoteInput, RuleIssue, RulesError, decimal::exact_opt, source::Source};

#[derive(Debug, Clone, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct ExpectLine {
    pub id: String,
    #[serde(default, deserialize_with = "exact_opt")]
    pub list_unit: Option<Decimal>,
    #[serde(default, deserialize_with = "exact_opt")]
    pub list_extended: Option<Decimal>,
    #[serde(default, deserialize_with = "exact_opt")]
    pub net_unit: Option<Decimal>,
    #[serde(default, deserialize_with = "exact_opt")]
    pub net_extended: Option<Decimal>,
    /// The waterfall's step kinds, in order, exactly.
    #[serde(default)]
    pub steps: Option<Vec<String>>,
    /// Rule ids that must appear in the waterfall.
    #[serde(default)]
    pub rules: Vec<String>,
}

#[derive(Debug, Clone, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct Expect {
    #[serde(default)]
    pub approval: Option<String>,
    #[serde(default)]
    pub approval_rules: Option<Vec<String>>,
    #[serde(default, deserialize_with = "exact_opt")]
    pub list_total: Option<Decimal>,
    #[serde(default, deserialize_with = "exact_opt")]
    pub discount_total: Option<Decimal>,
    #[serde(default, deserialize_with = "exact_opt")]
    pub net_total: Option<Decimal>,
    #[serde(default, deserialize_with = "exact_opt")]
    pub cost_total: Option<Decimal>,
    /// Quote margin percent, two decimals.
    #[serde(default, deserialize_with = "exact_opt")]
    pub margin_percent: Option<Decimal>,
    #[serde(default)]
    pub lines: Vec<ExpectLine>,
    /// Request fields that must be rejected (the quote must not price).
    #[serde(default)]
    pub rejected_fields: Vec<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct CaseFile {
    #[serde(default)]
    id: Option<String>,
    #[serde(default)]
    description: String,
    quote: QuoteInput,
    expect: Expect,
}

/// A quote and what it must price to.
#[derive(Debug, Clone)]
pub struct RegressionCase {
    pub path: PathBuf,
    pub id: String,
    pub description: String,
    pub quote: QuoteInput,
    pub expect: Expect,
}

/// One figure that differs from its expectation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mismatch {
    pub what: String,
    pub expected: String,
    pub actual: String,
}

#[derive(Debug, Clone)]
pub struct CaseOutcome<'r> {
    pub mismatches: Vec<Mismatch>,
    /// The priced quote, when it priced.
    pub priced: Option<PricedQuote<'r>>,
}

impl CaseOutcome<'_> {
    pub fn passed(&self) -> bool {
        self.mismatches.is_empty()
    }
}

/// Reads every `*.toml` case in `dir`, in path order.
pub fn load_cases(dir: &Path) -> Result<Vec<RegressionCase>, RulesError> {
    let io = |source| RulesError::Io {
        path: dir.to_path_buf(),
        source,
    };
    let mut paths: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(io)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .collect();
    paths.sort();
    let mut cases = Vec::new();
    let mut issues = Vec::new();
    for path in paths {
        let text = std::fs::read_to_string(&path).map_err(|source| RulesError::Io {
            path: path.clone(),
            source,
        })?;
        let source = Source {
            path: path.clone(),
            text,
        };
        match toml::from_str::<CaseFile>(&source.text) {
            Ok(file) => {
                if file.quote.date.is_none() {
                    issues.push(RuleIssue {
                        file: path.clone(),
                        line: 0,
                        message: "a regression case needs a fixed quote.date".into(),
                    });
                }
                let stem = path.file_stem().map(|s| s.to_string_lossy().into_owned());
                cases.push(RegressionCase {
                    id: file.id.or(stem).unwrap_or_default(),
                    path,
                    description: file.description,
                    quote: file.quote,
                    expect: file.expect,
                });
            }
            Err(e) => issues.push(RuleIssue {
                file: path,
                line: e.span().map_or(0, |s| source.line_of(s.start)),
                message: e.message().trim().to_owned(),
            }),
        }
    }
    if issues.is_empty() {
        Ok(cases)
    } else {
        Err(RulesError::Invalid(issues))
    }
}

fn compare<T: PartialEq + ToString>(
    out: &mut Vec<Mismatch>,
    what: impl FnOnce() -> String,
    expected: Option<T>,
    actual: T,
) {
    if let Some(expected) = expected
        && expected != actual
    {
        out.push(Mismatch {
            what: what(),
            expected: expected.to_string(),
            actual: actual.to_string(),
        });
    }
}

/// Prices the case's quote and compares every expected figure.
pub fn run_case<'r>(
    rules: &'r RuleSet,
    configurators: &Configurators,
    case: &RegressionCase,
) -> CaseOutcome<'r> {
    let mut mismatches = Vec::new();
    let fallback_date = chrono::NaiveDate::MIN;
    let request = match case.quote.to_request(fallback_date) {
        Ok(r) => r,
        Err(problems) => {
            mismatches.push(Mismatch {
                what: "quote".into(),
                expected: "a valid quote".into(),
                actual: problems.join("; "),
            });
            return CaseOutcome {
                mismatches,
                priced: None,
            };
        }
    };
    let e = &case.expect;
    let priced = match price_quote(rules, configurators, &request) {
        Err(err) => {
            let mut fields: Vec<String> =
                err.rejections().iter().map(|r| r.field.clone()).collect();
            fields.sort();
            let mut expected = e.rejected_fields.clone();
            expected.sort();
            if fields != expected {
                mismatches.push(Mismatch {
                    what: "rejected fields".into(),
                    expected: format!("{expected:?}"),
                    actual: format!("{fields:?} ({err})"),
                });
            }
            return CaseOutcome {
                mismatches,
                priced: None,
            };
        }
        Ok(priced) => priced,
    };
    if !e.rejected_fields.is_empty() {
        mismatches.push(Mismatch {
            what: "rejected fields".into(),
            expected: format!("{:?}", e.rejected_fields),
            actual: "the quote priced".into(),
        });
    }
    compare_quote(&mut mismatches, e, &priced);
    for expected in &e.lines {
        match priced.lines.iter().find(|l| l.line_id == expected.id) {
            Some(line) => compare_line(&mut mismatches, expected, line),
            None => mismatches.push(Mismatch {
                what: format!("line {}", expected.id),
                expected: "present".into(),
                actual: "no such line".into(),
            }),
        }
    }
    CaseOutcome {
        mismatches,
        priced: Some(priced),
    }
}

/// The quote's approval and totals against what `e` expects.
fn compare_quote(mismatches: &mut Vec<Mismatch>, e: &Expect, priced: &PricedQuote) {
    let t = &priced.totals;
    compare(
        mismatches,
        || "approval level".into(),
        e.approval.clone(),
        priced.approval.level.clone(),
    );
    if let Some(expected) = &e.approval_rules {
        let actual: Vec<String> = priced
            .approval
            .triggered
            .iter()
            .map(|t| t.rule_id.clone())
            .collect();
        compare(
            mismatches,
            || "approval rules".into(),
            Some(format!("{expected:?}")),
            format!("{actual:?}"),
        );
    }
    compare(mismatches, || "list total".into(), e.list_total, t.list);
    compare(
        mismatches,
        || "discount total".into(),
        e.discount_total,
        t.discount,
    );
    compare(mismatches, || "net total".into(), e.net_total, t.net);
    compare(mismatches, || "cost total".into(), e.cost_total, t.cost);
    compare(
        mismatches,
        || "margin percent".into(),
        e.margin_percent,
        t.margin_percent_2dp().unwrap_or_default(),
    );
}

/// One priced line's prices, steps and rules against what `expected`
/// says of it.
fn compare_line(mismatches: &mut Vec<Mismatch>, expected: &ExpectLine, line: &PricedLine) {
    let id = &expected.id;
    compare(
        mismatches,
        || format!("line {id} list_unit"),
        expected.list_unit,
        line.list_unit_price,
    );
    compare(
        mismatches,
        || format!("line {id} list_extended"),
        expected.list_extended,
        line.list_extended,
    );
    compare(
        mismatches,
        || format!("line {id} net_unit"),
        expected.net_unit,
        line.net_unit_price,
    );
    compare(
        mismatches,
        || format!("line {id} net_extended"),
        expected.net_extended,
        line.net_extended,
    );
    if let Some(steps) = &expected.steps {
        let actual: Vec<&str> = line.waterfall.iter().map(|s| s.step.name()).collect();
        compare(
            mismatches,
            || format!("line {id} steps"),
            Some(steps.join(", ")),
            actual.join(", "),
        );
    }
    for rule in &expected.rules {
        if !line.waterfall.iter().any(|s| s.rule_id == *rule) {
            mismatches.push(Mismatch {
                what: format!("line {id} rules"),
                expected: format!("rule `{rule}` fires"),
                actual: "it does not".into(),
            });
        }
    }
}
