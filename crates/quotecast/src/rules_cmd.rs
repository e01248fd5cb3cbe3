//! `quotecast rules check` and `quotecast rules test`.
use std::{
    io::{Write, stderr, stdout},
    path::Path,
    process::ExitCode,
};

use quotecast_rules::{
    Fresh, RuleIssue, RulesError, load_cases, load_dir, load_dir_with, run_case,
};

use quotecast_server::{convert::QuoteResponse, pb};

use crate::render;

fn report(error: &RulesError) -> anyhow::Result<ExitCode> {
    let mut err = stderr().lock();
    match error {
        RulesError::Invalid(issues) => {
            for issue in issues {
                writeln!(err, "{issue}")?;
            }
            writeln!(err, "{} problem(s) found", issues.len())?;
        }
        RulesError::Io { .. } => writeln!(err, "error: {error}")?,
    }
    Ok(ExitCode::FAILURE)
}

pub fn check(dir: &Path) -> anyhow::Result<ExitCode> {
    match load_dir(dir) {
        Ok((_, summary)) => {
            for warning in &summary.warnings {
                let RuleIssue {
                    file,
                    line,
                    message,
                } = warning;
                writeln!(stderr(), "{}:{line}: warning: {message}", file.display())?;
            }
            writeln!(stdout(), "{}: ok ({summary})", dir.display())?;
            Ok(ExitCode::SUCCESS)
        }
        Err(e) => report(&e),
    }
}

pub fn test(dir: &Path) -> anyhow::Result<ExitCode> {
    let loaded = match load_dir_with(dir, &Fresh) {
        Ok(loaded) => loaded,
        Err(e) => return report(&e),
    };
    let (rules, configurators) = (loaded.rules, loaded.configurators);
    let cases = match load_cases(&dir.join("tests")) {
        Ok(cases) => cases,
        Err(e) => return report(&e),
    };
    let mut out = stdout().lock();
    let mut failed = 0;
    for case in &cases {
        let outcome = run_case(&rules, &configurators, case);
        if outcome.passed() {
            writeln!(out, "PASS {} ({})", case.id, case.path.display())?;
            continue;
        }
        failed += 1;
        writeln!(out, "FAIL {} ({})", case.id, case.path.display())?;
        if !case.description.is_empty() {
            writeln!(out, "     {}", case.description)?;
        }
        for m in &outcome.mismatches {
            writeln!(out, "  - {}: expected {}", m.what, m.expected)?;
            writeln!(out, "    + {}: actual   {}", m.what, m.actual)?;
        }
        if let Some(priced) = &outcome.priced {
            let response = pb::PriceQuoteResponse::try_from(QuoteResponse {
                quote: priced,
                view: pb::PriceQuoteView::Full,
            })?;
            for line in render::waterfall_table(&response).lines() {
                writeln!(out, "    | {line}")?;
            }
        }
    }
    writeln!(out, "{} passed, {} failed", cases.len() - failed, failed)?;
    Ok(if failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}
