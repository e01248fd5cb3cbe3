//! Currencies, exact rounding, percentages and effective-date ranges.
use std::fmt;

use chrono::{Datelike, NaiveDate};
use rust_decimal::{Decimal, RoundingStrategy};
use serde::{Deserialize, Serialize};

use crate::ModelError;

/// An ISO 4217 currency code: three upper-case ASCII letters.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct CurrencyCode(String);

impl CurrencyCode {
    pub fn new(code: &str) -> Result<Self, ModelError> {
        if code.len() == 3 && code.bytes().all(|b| b.is_ascii_uppercase()) {
            Ok(Self(code.to_owned()))
        } else {
            Err(ModelError::InvalidCurrencyCode(code.to_owned()))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for CurrencyCode {
    type Error = ModelError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::new(&value)
    }
}

impl From<CurrencyCode> for String {
    fn from(code: CurrencyCode) -> Self {
        code.0
    }
}

impl fmt::Display for CurrencyCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// How an amount is brought to a currency's minor unit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RoundingMode {
    /// Halves go away from zero (commercial rounding): 0.125 -> 0.13.
    HalfUp,
    /// Halves go to the even digit (banker's rounding): 0.125 -> 0.12.
    HalfEven,
    /// Towards zero (truncate): 0.129 -> 0.12.
    Down,
    /// Away from zero: 0.121 -> 0.13.
    Up,
}

impl RoundingMode {
    fn strategy(self) -> RoundingStrategy {
        match self {
            Self::HalfUp => RoundingStrategy::MidpointAwayFromZero,
            Self::HalfEven => RoundingStrategy::MidpointNearestEven,
            Self::Down => RoundingStrategy::ToZero,
            Self::Up => RoundingStrategy::AwayFromZero,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Self::HalfUp => "half_up",
            Self::HalfEven => "half_even",
            Self::Down => "down",
            Self::Up => "up",
        }
    }
}

/// A currency the rules price in, with its rounding and its rate against
/// the corporate currency (in which costs, amount tiers and thresholds are
/// written once for all currencies).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Currency {
    pub code: CurrencyCode,
    pub name: String,
    /// Digits after the decimal point of the minor unit (2 for cents).
    pub scale: u32,
    pub rounding: RoundingMode,
    /// Units of this currency per one unit of the corporate currency.
    pub per_corporate: Decimal,
}

impl Currency {
    /// Rounds an amount to this currency's minor unit with its mode.
    pub fn round(&self, amount: Decimal) -> Decimal {
        let mut rounded = if amount.scale() <= self.scale {
            amount
        } else {
            amount.round_dp_with_strategy(self.scale, self.rounding.strategy())
        };
        rounded.rescale(self.scale);
        rounded
    }

    /// Converts an amount written in the corporate currency into this one
    /// (exact, not rounded).
    pub fn from_corporate(&self, amount: Decimal) -> Decimal {
        amount * self.per_corporate
    }

    /// The smallest amount of this currency, e.g. 0.01.
    pub fn minor_unit(&self) -> Decimal {
        Decimal::new(1, self.scale)
    }
}

/// A percentage, 0 to 100 unless a rule says otherwise: `Percent(12.5)` is
/// 12.5 %.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default)]
pub struct Percent(pub Decimal);

impl Percent {
    pub const ZERO: Percent = Percent(Decimal::ZERO);
    pub const HUNDRED: Percent = Percent(Decimal::ONE_HUNDRED);

    /// The share of `amount` this percentage stands for (exact: a product
    /// with 0.01, no division).
    pub fn of(self, amount: Decimal) -> Decimal {
        let mut share = amount * self.0;
        // Dividing by 100 is a shift of the decimal point: exact and cheap
        // while the scale has room, which it has for all but extreme inputs.
        if share.scale() + 2 <= 28 && share.set_scale(share.scale() + 2).is_ok() {
            share
        } else {
            amount * self.0 / Decimal::ONE_HUNDRED
        }
    }

    /// `part / whole` as a percentage, or `None` when `whole` is zero (or
    /// the percentage is beyond what a Decimal holds).
    pub fn ratio(part: Decimal, whole: Decimal) -> Option<Percent> {
        part.checked_div(whole)?
            .checked_mul(Decimal::ONE_HUNDRED)
            .map(Percent)
    }

    /// `part / whole` as a percentage rounded to two decimals, half away
    /// from zero: what [`Percent::ratio`] then [`Percent::display_2dp`]
    /// give, in integers when the amounts fit 64 bits (a Decimal division
    /// carries 28 digits only to drop 26 of them).
    pub fn ratio_2dp(part: Decimal, whole: Decimal) -> Option<Decimal> {
        if whole.is_zero() {
            return None;
        }
        let scale = part.scale().max(whole.scale());
        let aligned = |d: Decimal| -> Option<i128> {
            let m = i64::try_from(d.mantissa()).ok()?;
            Some(i128::from(m) * 10i128.checked_pow(scale - d.scale())?)
        };
        let exact = aligned(part).zip(aligned(whole)).and_then(|(p, w)| {
            // Basis points of a percent: part × 100 × 100 / whole, with the
            // machine's 64-bit division when both fit (128-bit division is
            // done in software).
            let scaled = p.checked_mul(10_000)?;
            let narrow = i64::try_from(scaled).ok().zip(i64::try_from(w).ok());
            let (q, r) = match narrow.and_then(|(p, w)| p.checked_div(w).zip(p.checked_rem(w))) {
                Some((q, r)) => (i128::from(q), i128::from(r)),
                None => (scaled / w, scaled % w),
            };
            let up = r.unsigned_abs() * 2 >= w.unsigned_abs();
            let q = if up { q + (p.signum() * w.signum()) } else { q };
            Decimal::try_from_i128_with_scale(q, 2).ok()
        });
        exact.or_else(|| Percent::ratio(part, whole).map(Percent::display_2dp))
    }

    /// Rounded to two decimals (half away from zero) for display.
    pub fn display_2dp(self) -> Decimal {
        let mut d = self
            .0
            .round_dp_with_strategy(2, RoundingStrategy::MidpointAwayFromZero);
        d.rescale(2);
        d
    }
}

impl Percent {
    /// Appends the percentage as text, e.g. "12.5%".
    pub fn push_to(self, out: &mut String) {
        Trimmed(self.0, 0).push_to(out);
        out.push('%');
    }
}

impl fmt::Display for Percent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut text = String::with_capacity(16);
        self.push_to(&mut text);
        f.write_str(&text)
    }
}

/// A decimal as text with trailing zeros dropped down to `min_scale`
/// decimals (and padded up to it): `Trimmed(18096.000000, 2)` prints
/// "18096.00", `Trimmed(0.0825, 2)` prints "0.0825", `Trimmed(5, 0)` "5".
/// Exact, and much cheaper than `normalize()` followed by `Display`.
#[derive(Debug, Clone, Copy)]
pub struct Trimmed(pub Decimal, pub u32);

/// `m` with trailing zeros dropped while `scale` is above `min_scale` (a
/// zero takes `min_scale` at most).
fn trimmed<T>(mut m: T, scale: &mut u32, min_scale: u32) -> T
where
    T: Copy + PartialEq + From<u8> + std::ops::Rem<Output = T> + std::ops::Div<Output = T>,
{
    let (zero, ten) = (T::from(0), T::from(10));
    if m == zero {
        *scale = (*scale).min(min_scale);
        return m;
    }
    while *scale > min_scale && m % ten == zero {
        m = m / ten;
        *scale -= 1;
    }
    m
}

fn push_zeros(out: &mut String, n: usize) {
    out.extend(std::iter::repeat_n('0', n));
}

impl Trimmed {
    /// Appends the text to `out`, without going through `fmt`.
    pub fn push_to(self, out: &mut String) {
        let Trimmed(value, min_scale) = self;
        let mut scale = value.scale();
        let wide = value.mantissa().unsigned_abs();
        let mut buffer = itoa::Buffer::new();
        // Money fits 64 bits; 128-bit division is done in software and
        // costs tens of nanoseconds a digit.
        let digits = match u64::try_from(wide) {
            Ok(narrow) => buffer.format(trimmed(narrow, &mut scale, min_scale)),
            Err(_) => buffer.format(trimmed(wide, &mut scale, min_scale)),
        };
        if value.is_sign_negative() && digits != "0" {
            out.push('-');
        }
        let scale = scale as usize;
        if digits.len() > scale {
            let (whole, fraction) = digits.split_at(digits.len() - scale);
            out.push_str(whole);
            if scale > 0 {
                out.push('.');
                out.push_str(fraction);
            }
        } else {
            out.push_str("0.");
            push_zeros(out, scale - digits.len());
            out.push_str(digits);
        }
        let pad = (min_scale as usize).saturating_sub(scale);
        if pad > 0 {
            if scale == 0 {
                out.push('.');
            }
            push_zeros(out, pad);
        }
    }

    /// The text as a `String`.
    pub fn to_text(self) -> String {
        let mut out = String::with_capacity(24);
        self.push_to(&mut out);
        out
    }
}

impl fmt::Display for Trimmed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_text())
    }
}

/// An effective-date range; both ends inclusive, `to: None` is open-ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DateRange {
    pub from: NaiveDate,
    pub to: Option<NaiveDate>,
}

impl DateRange {
    pub fn contains(&self, date: NaiveDate) -> bool {
        date >= self.from && self.to.is_none_or(|to| date <= to)
    }

    /// Whether some day lies in both ranges.
    pub fn overlaps(&self, other: &DateRange) -> bool {
        let starts_before_other_ends = other.to.is_none_or(|to| self.from <= to);
        let other_starts_before_self_ends = self.to.is_none_or(|to| other.from <= to);
        starts_before_other_ends && other_starts_before_self_ends
    }
}

/// Appends `value` as exactly `width` decimal digits, zero-padded.
fn push_digits(out: &mut String, value: u32, width: u32) {
    for place in (0..width).rev() {
        let digit = (value / 10u32.pow(place)) % 10;
        out.push(char::from(b'0' + digit as u8));
    }
}

/// Appends a date as YYYY-MM-DD (the form `NaiveDate` displays for years 0
/// to 9999), without going through `fmt`.
fn push_date(date: NaiveDate, out: &mut String) {
    push_digits(out, date.year().clamp(0, 9999).unsigned_abs(), 4);
    out.push('-');
    push_digits(out, date.month(), 2);
    out.push('-');
    push_digits(out, date.day(), 2);
}

impl DateRange {
    /// Appends the range as text: "2026-01-01 to 2026-06-30" or
    /// "from 2026-07-01".
    pub fn push_to(&self, out: &mut String) {
        match self.to {
            Some(to) => {
                push_date(self.from, out);
                out.push_str(" to ");
                push_date(to, out);
            }
            None => {
                out.push_str("from ");
                push_date(self.from, out);
            }
        }
    }
}

impl fmt::Display for DateRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut text = String::with_capacity(24);
        self.push_to(&mut text);
        f.write_str(&text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::str::FromStr;

    fn d(s: &str) -> Decimal {
        Decimal::from_str(s).unwrap()
    }

    fn usd(mode: RoundingMode) -> Currency {
        Currency {
            code: CurrencyCode::new("USD").unwrap(),
            name: "US dollar".into(),
            scale: 2,
            rounding: mode,
            per_corporate: Decimal::ONE,
        }
    }

    #[test]
    fn rounding_modes_treat_halves_as_named() {
        assert_eq!(usd(RoundingMode::HalfUp).round(d("0.125")), d("0.13"));
        assert_eq!(usd(RoundingMode::HalfEven).round(d("0.125")), d("0.12"));
        assert_eq!(usd(RoundingMode::Down).round(d("0.129")), d("0.12"));
        assert_eq!(usd(RoundingMode::Up).round(d("0.121")), d("0.13"));
        assert_eq!(usd(RoundingMode::HalfUp).round(d("-0.125")), d("-0.13"));
        // Always carries the currency's scale, so "5" prints as "5.00".
        assert_eq!(usd(RoundingMode::HalfUp).round(d("5")).to_string(), "5.00");
    }

    #[test]
    fn trimmed_text_is_exact() {
        let t = |v: &str, s: u32| {
            let text = Trimmed(d(v), s).to_text();
            assert_eq!(text, Trimmed(d(v), s).to_string());
            text
        };
        assert_eq!(t("18096.000000", 2), "18096.00");
        assert_eq!(t("0.0825", 2), "0.0825");
        assert_eq!(t("5", 2), "5.00");
        assert_eq!(t("5", 0), "5");
        assert_eq!(t("-0.005", 2), "-0.005");
        assert_eq!(t("-12.50", 0), "-12.5");
        assert_eq!(t("0.000", 0), "0");
        assert_eq!(t("1234.5", 2), "1234.50");
        assert_eq!(t("0.01", 2), "0.01");
        // Agrees with normalize() + Display on values of every shape.
        for v in [
            "100",
            "1e-6",
            "3.14159",
            "-7.0700",
            "79228162514264337593543950335",
        ] {
            let x = if v.contains('e') {
                Decimal::from_scientific(v).unwrap()
            } else {
                d(v)
            };
            assert_eq!(Trimmed(x, 0).to_string(), x.normalize().to_string(), "{v}");
        }
    }

    #[test]
    fn trimmed_text_agrees_with_rust_decimal_over_a_sweep() {
        // Mantissas of every length, both signs, every scale, with and
        // without trailing zeros; the reference is rust_decimal's own
        // normalize, rescale and Display.
        let mut mantissas = vec![0i128, 1, 7, 10, 100, 1005, 120000];
        let mut m: i128 = 3;
        while m < 10i128.pow(28) {
            mantissas.push(m);
            mantissas.push(m * 10);
            m = m * 7 + 1;
        }
        mantissas.push(79_228_162_514_264_337_593_543_950_335);
        for &m in &mantissas {
            for scale in 0..=28u32 {
                for min_scale in 0..=4u32 {
                    for sign in [1i128, -1] {
                        let Ok(x) = Decimal::try_from_i128_with_scale(sign * m, scale) else {
                            continue;
                        };
                        let mut expected = x.normalize();
                        if expected.scale() < min_scale {
                            expected.rescale(min_scale);
                        }
                        if expected.scale() < min_scale {
                            // Too many digits for rust_decimal to pad.
                            continue;
                        }
                        assert_eq!(
                            Trimmed(x, min_scale).to_text(),
                            expected.to_string(),
                            "{x} at {min_scale}"
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn ratio_to_two_decimals_agrees_with_the_decimal_division() {
        let amounts = [
            "0",
            "1",
            "-1",
            "3",
            "7",
            "0.01",
            "-0.01",
            "2.5",
            "12.345",
            "100",
            "999.99",
            "-4321.05",
            "0.000001",
            "1234567.891",
            "33.333333",
            "6",
            "0.005",
        ];
        for part in amounts {
            for whole in amounts {
                let (p, w) = (d(part), d(whole));
                assert_eq!(
                    Percent::ratio_2dp(p, w),
                    Percent::ratio(p, w).map(Percent::display_2dp),
                    "{part} / {whole}"
                );
            }
        }
        // Halves round away from zero: 1/8 = 12.5 %, 1/800 = 0.125 %.
        assert_eq!(Percent::ratio_2dp(d("1"), d("800")), Some(d("0.13")));
        assert_eq!(Percent::ratio_2dp(d("-1"), d("800")), Some(d("-0.13")));
        // Beyond 64 bits it still answers, through the division.
        let big = Decimal::MAX / Decimal::TWO;
        assert_eq!(Percent::ratio_2dp(big, big), Some(d("100.00")));
    }

    #[test]
    fn percent_of_is_exact() {
        assert_eq!(Percent(d("12.5")).of(d("80")), d("10"));
        assert_eq!(Percent(d("7")).of(d("0.01")), d("0.0007"));
        assert_eq!(Percent(d("100")).of(d("-3.3")), d("-3.3"));
        // At the edge of the scale it still divides exactly.
        let tiny = Decimal::new(1, 28);
        assert_eq!(Percent(d("50")).of(tiny * Decimal::TWO), tiny);
    }

    #[test]
    fn currency_codes_are_three_upper_case_letters() {
        assert!(CurrencyCode::new("EUR").is_ok());
        assert!(CurrencyCode::new("eur").is_err());
        assert!(CurrencyCode::new("EURO").is_err());
    }

    #[test]
    fn date_ranges_overlap_when_they_share_a_day() {
        let day = |s: &str| NaiveDate::from_str(s).unwrap();
        let h1 = DateRange {
            from: day("2026-01-01"),
            to: Some(day("2026-06-30")),
        };
        let h2 = DateRange {
            from: day("2026-07-01"),
            to: None,
        };
        let mid = DateRange {
            from: day("2026-06-30"),
            to: Some(day("2026-07-01")),
        };
        assert!(!h1.overlaps(&h2));
        assert!(h1.overlaps(&mid) && h2.overlaps(&mid));
        assert!(h2.contains(day("2030-01-01")) && !h1.contains(day("2026-07-01")));
        assert_eq!(h1.to_string(), "2026-01-01 to 2026-06-30");
        assert_eq!(h2.to_string(), "from 2026-07-01");
        let early = DateRange {
            from: day("0999-02-03"),
            to: None,
        };
        assert_eq!(early.to_string(), format!("from {}", day("0999-02-03")));
    }
}
