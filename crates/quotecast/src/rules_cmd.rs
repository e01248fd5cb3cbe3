//! `quotecast rules check` and `quotecast rules test`.
use std::{path::Path, process::ExitCode};

use quotecast_rules::{RulesError, load_cases, load_dir, run_case};

use crate::render;

fn report(error: &RulesError) -> ExitCode {
    match error {
        RulesError::Invalid(issues) => {
            for issue in issues {
                eprintln!("{issue}");
            }
            eprintln!("{} problem(s) found", issues.len());
        }
        RulesError::Io { .. } => eprintln!("error: {error}"),
    }
    ExitCode::FAILURE
}

pub fn check(dir: &Path) -> anyhow::Result<ExitCode> {
    match load_dir(dir) {
        Ok((_, summary)) => {
            println!("{}: ok ({summary})", dir.display());
            Ok(ExitCode::SUCCESS)
        }
        Err(e) => Ok(report(&e)),
    }
}

pub fn test(dir: &Path) -> anyhow::Result<ExitCode> {
    let rules = match load_dir(dir) {
        Ok((rules, _)) => rules,
        Err(e) => return Ok(report(&e)),
    };
    let cases = match load_cases(&dir.join("tests")) {
        Ok(cases) => cases,
        Err(e) => return Ok(report(&e)),
    };
    let mut failed = 0;
    for case in &cases {
        let outcome = run_case(&rules, case);
        if outcome.passed() {
            println!("PASS {} ({})", case.id, case.path.display());
            continue;
        }
        failed += 1;
        println!("FAIL {} ({})", case.id, case.path.display());
        if !case.description.is_empty() {
            println!("     {}", case.description);
        }
        for m in &outcome.mismatches {
            println!("  - {}: expected {}", m.what, m.expected);
            println!("    + {}: actual   {}", m.what, m.actual);
        }
        if let Some(priced) = &outcome.priced {
            let response = quotecast_server::pb::PriceQuoteResponse::from(priced);
            for line in render::waterfall_table(&response).lines() {
                println!("    | {line}");
            }
        }
    }
    println!("{} passed, {} failed", cases.len() - failed, failed);
    Ok(if failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}
