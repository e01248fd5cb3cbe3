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

/// Writes the digits of `m` (least significant first) into `buf`, after
/// dropping trailing zeros while `scale` is above `min_scale`.
fn trimmed_digits<T>(mut m: T, scale: &mut u32, min_scale: u32, buf: &mut [u8; 64], len: &mut usize)
where
    T: Copy + PartialEq + From<u8> + std::ops::Rem<Output = T> + std::ops::Div<Output = T>,
    u8: TryFrom<T>,
{
    let (zero, ten) = (T::from(0), T::from(10));
    while *scale > min_scale && m % ten == zero {
        m = m / ten;
        *scale -= 1;
        if m == zero {
            *scale = (*scale).min(min_scale);
        }
    }
    loop {
        buf[*len] = b'0' + u8::try_from(m % ten).unwrap_or(0);
        m = m / ten;
        *len += 1;
        if m == zero {
            break;
        }
    }
}

impl Trimmed {
    /// Writes the text into `out` and returns its length (at most 96 bytes:
    /// 29 digits, a sign, a point and up to 28 zeros of padding, with room).
    fn render(self, out: &mut [u8; 96]) -> usize {
        let Trimmed(value, min_scale) = self;
        let mut scale = value.scale();
        // Digits, least significant first: a Decimal mantissa has at most 29.
        let mut buf = [b'0'; 64];
        let mut len = 0usize;
        let wide = value.mantissa().unsigned_abs();
        // Money fits 64 bits; 128-bit division is done in software and
        // costs tens of nanoseconds a digit.
        match u64::try_from(wide) {
            Ok(narrow) => trimmed_digits(narrow, &mut scale, min_scale, &mut buf, &mut len),
            Err(_) => trimmed_digits(wide, &mut scale, min_scale, &mut buf, &mut len),
        }
        let scale = scale as usize;
        let len = len.max(scale + 1);
        let negative = value.is_sign_negative() && buf[..len].iter().any(|&d| d != b'0');
        let mut n = 0;
        if negative {
            out[n] = b'-';
            n += 1;
        }
        for i in (0..len).rev() {
            out[n] = buf[i];
            n += 1;
            if i == scale && scale > 0 {
                out[n] = b'.';
                n += 1;
            }
        }
        let pad = (min_scale as usize).saturating_sub(scale);
        if pad > 0 {
            if scale == 0 {
                out[n] = b'.';
                n += 1;
            }
            out[n..n + pad].fill(b'0');
            n += pad;
        }
        n
    }

    /// Appends the text to `out`, without going through `fmt`.
    pub fn push_to(self, out: &mut String) {
        let mut text = [0u8; 96];
        let n = self.render(&mut text);
        // Only ASCII digits, '-' and '.' were written, one byte a char.
        out.extend(text[..n].iter().map(|&b| char::from(b)));
    }

    /// The text as a `String` of exactly its length.
    pub fn to_text(self) -> String {
        let mut text = [0u8; 96];
        let n = self.render(&mut text);
        let mut out = String::with_capacity(n);
        out.extend(text[..n].iter().map(|&b| char::from(b)));
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
