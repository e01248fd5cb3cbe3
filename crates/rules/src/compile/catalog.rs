//! Currencies, the catalog, customers and price books.
use std::collections::BTreeMap;

use quotecast_model::{
    Account, Currency, CurrencyCode, PriceBook, PriceEntry, Product, ProductKind, ProductLine,
    Region, RoundingMode, RuleSetParts, Segment,
};
use rust_decimal::Decimal;

use super::{Compiler, MAX_DELIVERY_DAYS};
use crate::format::{At, ParsedFile};

const ROUNDING: &[(&str, RoundingMode)] = &[
    ("half_up", RoundingMode::HalfUp),
    ("half_even", RoundingMode::HalfEven),
    ("down", RoundingMode::Down),
    ("up", RoundingMode::Up),
];

const KINDS: &[(&str, ProductKind)] = &[
    ("base", ProductKind::Base),
    ("option", ProductKind::Option),
    ("accessory", ProductKind::Accessory),
    ("service", ProductKind::Service),
];

/// The records of one kind whose ids are new (duplicates are reported).
fn newly_defined<'a, T>(
    c: &mut Compiler<'_>,
    f: &ParsedFile<'_>,
    records: &'a [At<T>],
    kind: &'static str,
    id: impl Fn(&T) -> &str,
) -> Vec<&'a T> {
    records
        .iter()
        .filter(|r| c.define(f, r.line, kind, id(&r.value)))
        .map(|r| &r.value)
        .collect()
}

/// First pass: every id any file defines, with duplicates reported.
fn gather(c: &mut Compiler<'_>, files: &[ParsedFile<'_>]) {
    for f in files {
        for d in newly_defined(c, f, &f.currencies, "currency", |d| &d.code) {
            c.known.currencies.insert(d.code.clone(), d.scale);
        }
        for d in newly_defined(c, f, &f.product_lines, "product line", |d| &d.id) {
            c.known.product_lines.insert(d.id.clone());
        }
        for d in newly_defined(c, f, &f.products, "product", |d| &d.sku) {
            c.known
                .products
                .insert(d.sku.clone(), d.product_line.clone());
        }
        for d in newly_defined(c, f, &f.segments, "segment", |d| &d.id) {
            c.known.segments.insert(d.id.clone());
        }
        for d in newly_defined(c, f, &f.regions, "region", |d| &d.id) {
            c.known.regions.insert(d.id.clone());
        }
        for d in newly_defined(c, f, &f.accounts, "account", |d| &d.id) {
            c.known.accounts.insert(d.id.clone());
        }
        for d in newly_defined(c, f, &f.price_books, "price book", |d| &d.id) {
            c.known.price_books.insert(d.id.clone(), d.currency.clone());
        }
        for d in newly_defined(c, f, &f.approval_levels, "approval level", |d| &d.id) {
            c.known.approval_levels.insert(d.id.clone());
        }
    }
}

pub(super) fn compile(c: &mut Compiler<'_>, files: &[ParsedFile<'_>], parts: &mut RuleSetParts) {
    gather(c, files);
    currencies(c, files, parts);
    for f in files {
        for r in &f.product_lines {
            if r.value.delivery_days > MAX_DELIVERY_DAYS {
                let message = format!(
                    "product line `{}`: delivery_days {} is more than {MAX_DELIVERY_DAYS}",
                    r.value.id, r.value.delivery_days
                );
                c.report(f, r.line, message);
            }
            parts.product_lines.push(ProductLine {
                id: r.value.id.clone(),
                name: r.value.name.clone(),
                delivery_days: r.value.delivery_days.min(MAX_DELIVERY_DAYS),
            });
        }
        for r in &f.products {
            let p = &r.value;
            let owner = format!("product `{}`", p.sku);
            let line_known = c.known.product_lines.contains(&p.product_line);
            c.check_ref(
                f,
                r.line,
                &owner,
                "product line",
                &p.product_line,
                line_known,
            );
            let kind = c.choice(f, r.line, &owner, "kind", &p.kind, KINDS);
            if kind == Some(ProductKind::Option) && p.option_group.is_none() {
                c.report(
                    f,
                    r.line,
                    format!("{owner}: an option needs an option_group"),
                );
            }
            c.non_negative(f, r.line, &owner, p.cost.0);
            if let Some(kind) = kind {
                parts.products.push(Product {
                    sku: p.sku.clone(),
                    name: p.name.clone(),
                    product_line: p.product_line.clone(),
                    kind,
                    option_group: p.option_group.clone(),
                    unit: p.unit.clone(),
                    cost: p.cost.0,
                });
            }
        }
        for r in &f.segments {
            parts.segments.push(Segment {
                id: r.value.id.clone(),
                name: r.value.name.clone(),
            });
        }
        for r in &f.regions {
            parts.regions.push(Region {
                id: r.value.id.clone(),
                name: r.value.name.clone(),
            });
        }
        for r in &f.accounts {
            let a = &r.value;
            let owner = format!("account `{}`", a.id);
            let seg = c.known.segments.contains(&a.segment);
            let reg = c.known.regions.contains(&a.region);
            c.check_ref(f, r.line, &owner, "segment", &a.segment, seg);
            c.check_ref(f, r.line, &owner, "region", &a.region, reg);
            parts.accounts.push(Account {
                id: a.id.clone(),
                name: a.name.clone(),
                segment: a.segment.clone(),
                region: a.region.clone(),
            });
        }
    }
    price_books(c, files, parts);
}

fn currencies(c: &mut Compiler<'_>, files: &[ParsedFile<'_>], parts: &mut RuleSetParts) {
    let mut corporate: Option<(String, &ParsedFile<'_>, usize)> = None;
    for f in files {
        if let Some(at) = &f.corporate_currency {
            if let Some((_, first, first_line)) = &corporate {
                let message = format!(
                    "corporate_currency is set twice: first at {}:{first_line}",
                    first.source.path.display()
                );
                c.report(f, at.line, message);
            } else {
                corporate = Some((at.value.clone(), f, at.line));
            }
        }
        for r in &f.currencies {
            let d = &r.value;
            let owner = format!("currency `{}`", d.code);
            let Ok(code) = CurrencyCode::new(&d.code) else {
                c.report(
                    f,
                    r.line,
                    format!("{owner}: a currency code is three upper-case letters"),
                );
                continue;
            };
            if d.scale > 6 {
                c.report(
                    f,
                    r.line,
                    format!("{owner}: scale {} is more than 6 decimals", d.scale),
                );
            }
            if d.per_corporate.0 <= Decimal::ZERO
                || d.per_corporate.0 > Decimal::from(super::MAX_RATE)
            {
                c.report(
                    f,
                    r.line,
                    format!(
                        "{owner}: per_corporate must be above 0 and at most {}",
                        super::MAX_RATE
                    ),
                );
                continue;
            }
            let Some(rounding) = c.choice(f, r.line, &owner, "rounding", &d.rounding, ROUNDING)
            else {
                continue;
            };
            parts.currencies.push(Currency {
                code,
                name: d.name.clone(),
                scale: d.scale,
                rounding,
                per_corporate: d.per_corporate.0,
            });
        }
    }
    match corporate {
        None => {
            if let Some(f) = files.first() {
                c.report(f, 0, "no file sets corporate_currency (the currency of costs, amount tiers and thresholds)");
            }
        }
        Some((code, f, line)) => {
            match parts
                .currencies
                .iter()
                .find(|cur| cur.code.as_str() == code)
            {
                None => c.report(
                    f,
                    line,
                    format!("corporate_currency `{code}` is not a defined currency"),
                ),
                Some(cur) if cur.per_corporate != Decimal::ONE => c.report(
                    f,
                    line,
                    format!("corporate_currency `{code}` must have per_corporate = \"1\""),
                ),
                Some(cur) => parts.corporate_currency = Some(cur.code.clone()),
            }
        }
    }
}

fn price_books(c: &mut Compiler<'_>, files: &[ParsedFile<'_>], parts: &mut RuleSetParts) {
    let mut books: BTreeMap<String, PriceBook> = BTreeMap::new();
    let mut book_by_currency: BTreeMap<String, (String, String, usize)> = BTreeMap::new();
    for f in files {
        for r in &f.price_books {
            let b = &r.value;
            let owner = format!("price book `{}`", b.id);
            let known = c.known.currencies.contains_key(&b.currency);
            if !c.check_ref(f, r.line, &owner, "currency", &b.currency, known) {
                continue;
            }
            if let Some((other, file, line)) = book_by_currency.get(&b.currency) {
                let message = format!(
                    "{owner}: currency {} already has price book `{other}` ({file}:{line}); one book per currency",
                    b.currency
                );
                c.report(f, r.line, message);
                continue;
            }
            book_by_currency.insert(
                b.currency.clone(),
                (b.id.clone(), f.source.path.display().to_string(), r.line),
            );
            let Ok(currency) = CurrencyCode::new(&b.currency) else {
                continue;
            };
            books.insert(
                b.id.clone(),
                PriceBook {
                    id: b.id.clone(),
                    name: b.name.clone(),
                    currency,
                    entries: BTreeMap::new(),
                },
            );
        }
    }
    // Where each entry was defined, to report overlaps at both places.
    let mut origins: BTreeMap<String, (String, usize)> = BTreeMap::new();
    for f in files {
        for r in &f.prices {
            let p = &r.value;
            let owner = format!("price of `{}` in book `{}`", p.sku, p.book);
            let sku_known = c.known.products.contains_key(&p.sku);
            let book_known = books.contains_key(&p.book);
            c.check_ref(f, r.line, &owner, "SKU", &p.sku, sku_known);
            c.check_ref(f, r.line, &owner, "price book", &p.book, book_known);
            c.non_negative(f, r.line, &owner, p.price.0);
            let Some(valid) = c.range(f, r.line, &owner, &p.from, p.to.as_deref()) else {
                continue;
            };
            let Some(book) = books.get_mut(&p.book) else {
                continue;
            };
            let scale = c
                .known
                .currencies
                .get(book.currency.as_str())
                .copied()
                .unwrap_or(0);
            if p.price.0.normalize().scale() > scale {
                c.report(
                    f,
                    r.line,
                    format!(
                        "{owner}: {} has more decimals than {} allows ({scale})",
                        p.price.0, book.currency
                    ),
                );
            }
            if !sku_known {
                continue;
            }
            let entries = book.entries.entry(p.sku.clone()).or_default();
            if let Some(other) = entries.iter().find(|e| e.valid.overlaps(&valid)) {
                let (of, ol) = origins.get(&other.id).cloned().unwrap_or_default();
                c.report(
                    f,
                    r.line,
                    format!(
                        "{owner}: dates ({valid}) overlap the entry ({}) at {of}:{ol}",
                        other.valid
                    ),
                );
                continue;
            }
            let id = format!("{}:{}@{}", book.id, p.sku, valid.from);
            origins.insert(id.clone(), (f.source.path.display().to_string(), r.line));
            entries.push(PriceEntry {
                id,
                sku: p.sku.clone(),
                price: p.price.0,
                valid,
            });
        }
    }
    warn_about_coverage(c, files, &books, &parts.products, &origins);
    parts.price_books.extend(books.into_values());
}

/// Warnings about price books that are valid but look unintended: a SKU
/// missing from a book (it cannot be quoted in that currency), and a gap
/// between two dated entries of a SKU (no price on those days).
fn warn_about_coverage(
    c: &mut Compiler<'_>,
    files: &[ParsedFile<'_>],
    books: &BTreeMap<String, PriceBook>,
    products: &[quotecast_model::Product],
    origins: &BTreeMap<String, (String, usize)>,
) {
    for book in books.values() {
        let Some((f, line)) = files.iter().find_map(|f| {
            f.price_books
                .iter()
                .find(|r| r.value.id == book.id)
                .map(|r| (f, r.line))
        }) else {
            continue;
        };
        let missing: Vec<&str> = products
            .iter()
            .filter(|p| !book.entries.contains_key(&p.sku))
            .map(|p| p.sku.as_str())
            .collect();
        if !missing.is_empty() {
            c.warn(
                f,
                line,
                format!(
                    "price book `{}` has no price for {} SKU(s), which cannot be quoted in {}: {}",
                    book.id,
                    missing.len(),
                    book.currency,
                    missing.join(", ")
                ),
            );
        }
        for entries in book.entries.values() {
            let mut sorted: Vec<&PriceEntry> = entries.iter().collect();
            sorted.sort_by_key(|e| e.valid.from);
            for pair in sorted.windows(2) {
                let (earlier, later) = (pair[0], pair[1]);
                let Some(end) = earlier.valid.to else {
                    continue;
                };
                let Some(next_day) = end.succ_opt() else {
                    continue;
                };
                if next_day < later.valid.from {
                    let gap_end = later.valid.from.pred_opt().unwrap_or(later.valid.from);
                    let (file, line) = origins.get(&later.id).cloned().unwrap_or_default();
                    if let Some(f) = files
                        .iter()
                        .find(|f| f.source.path.display().to_string() == file)
                    {
                        c.warn(
                            f,
                            line,
                            format!(
                                "`{}` has no price in book `{}` from {next_day} to {gap_end}",
                                later.sku, book.id
                            ),
                        );
                    }
                }
            }
        }
    }
}
