//! Currencies, exact rounding, percentages and effective-date ranges.
use std::fmt;

use chrono::NaiveDate;
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

/// `value` rounded to `dp` decimals with `strategy`: exactly what
/// `Decimal::round_dp_with_strategy` gives, in 64-bit integers when the
/// mantissa fits them (the usual case for money and quantities), where
/// rust_decimal works on 96 bits whatever the value.
pub fn round_dp(value: Decimal, dp: u32, strategy: RoundingStrategy) -> Decimal {
    let scale = value.scale();
    if scale <= dp {
        return value;
    }
    let narrow = u64::try_from(value.mantissa().unsigned_abs())
        .ok()
        .filter(|&m| m <= i64::MAX as u64);
    let unit = 10u64.checked_pow(scale - dp);
    let (Some(m), Some(unit)) = (narrow, unit) else {
        return value.round_dp_with_strategy(dp, strategy);
    };
    let (q, r) = (m / unit, m % unit);
    match rounds_up(q, r, unit, strategy) {
        // q + 1 fits: q is at most i64::MAX / 10.
        Some(up) => signed(q + u64::from(up), dp, value.is_sign_negative()),
        None => value.round_dp_with_strategy(dp, strategy),
    }
}

/// Whether a magnitude cut to `whole`, with `rest` left over out of
/// `divisor`, rounds away from zero; `None` for the strategies left to
/// rust_decimal. Halves are found by comparing twice the rest with the
/// divisor, so odd divisors work too.
fn rounds_up(whole: u64, rest: u64, divisor: u64, strategy: RoundingStrategy) -> Option<bool> {
    let (twice, divisor) = (u128::from(rest) * 2, u128::from(divisor));
    Some(match strategy {
        RoundingStrategy::ToZero => false,
        RoundingStrategy::AwayFromZero => rest != 0,
        RoundingStrategy::MidpointAwayFromZero => twice >= divisor,
        RoundingStrategy::MidpointNearestEven => {
            twice > divisor || (twice == divisor && whole % 2 == 1)
        }
        _ => return None,
    })
}

/// A rounded magnitude (at most `i64::MAX`) at `scale` decimals with its
/// sign; one that rounds to zero is zero, not minus zero, as in
/// rust_decimal.
fn signed(magnitude: u64, scale: u32, negative: bool) -> Decimal {
    let mut value = Decimal::new(magnitude as i64, scale);
    value.set_sign_negative(negative && magnitude != 0);
    value
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
        match amount.scale().cmp(&self.scale) {
            std::cmp::Ordering::Equal => amount,
            std::cmp::Ordering::Greater => {
                let mut rounded = round_dp(amount, self.scale, self.rounding.strategy());
                if rounded.scale() != self.scale {
                    rounded.rescale(self.scale);
                }
                rounded
            }
            std::cmp::Ordering::Less => {
                let mut padded = amount;
                padded.rescale(self.scale);
                padded
            }
        }
    }

    /// `amount / quantity` rounded to this currency with its mode, as
    /// `round(amount / quantity)` but exact: a whole quantity dividing an
    /// amount that fits 64 bits is one integer division, rounded once
    /// from the true remainder (a Decimal division first cuts the quotient
    /// to 28 digits, which can land on a false half).
    pub fn round_quotient(&self, amount: Decimal, quantity: Decimal) -> Decimal {
        let whole_quantity = (quantity.scale() == 0)
            .then(|| u64::try_from(quantity.mantissa()).ok())
            .flatten()
            .filter(|&q| q > 0);
        let lifted = (amount.scale() <= self.scale)
            .then(|| 10i64.checked_pow(self.scale - amount.scale()))
            .flatten()
            .and_then(|by| i64::try_from(amount.mantissa()).ok()?.checked_mul(by))
            // So that |m| fits i64.
            .filter(|&m| m != i64::MIN);
        let (Some(q), Some(m)) = (whole_quantity, lifted) else {
            return self.round(amount / quantity);
        };
        let (whole, rest) = (m.unsigned_abs() / q, m.unsigned_abs() % q);
        match rounds_up(whole, rest, q, self.rounding.strategy()) {
            // At most |m|, so it fits.
            Some(up) => signed(whole + u64::from(up), self.scale, m < 0),
            None => self.round(amount / quantity),
        }
    }

    /// A statistic in this currency (an expected amount, a percentile),
    /// computed in floating point, as money: rounded to the minor unit
    /// with this currency's mode, at its scale. `None` for a value that is
    /// not a finite number a decimal can hold.
    pub fn round_statistic(&self, value: f64) -> Option<Decimal> {
        let mut rounded = self.round(rust_decimal::prelude::FromPrimitive::from_f64(value)?);
        rounded.rescale(self.scale);
        Some(rounded)
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
        let mut d = round_dp(self.0, 2, RoundingStrategy::MidpointAwayFromZero);
        d.rescale(2);
        d
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
    fn a_unit_price_is_the_amount_over_the_quantity_rounded_once() {
        let modes = [
            RoundingMode::HalfUp,
            RoundingMode::HalfEven,
            RoundingMode::Down,
            RoundingMode::Up,
        ];
        assert_eq!(
            usd(RoundingMode::HalfUp)
                .round_quotient(d("100"), d("8"))
                .to_string(),
            "12.50"
        );
        // 0.25 / 2 = 0.125: a true half, rounded by the mode.
        assert_eq!(
            usd(RoundingMode::HalfUp).round_quotient(d("0.25"), d("2")),
            d("0.13")
        );
        assert_eq!(
            usd(RoundingMode::HalfEven).round_quotient(d("0.25"), d("2")),
            d("0.12")
        );
        assert_eq!(
            usd(RoundingMode::Down).round_quotient(d("-0.29"), d("2")),
            d("-0.14")
        );
        assert_eq!(
            usd(RoundingMode::Up).round_quotient(d("-0.29"), d("2")),
            d("-0.15")
        );
        assert_eq!(
            usd(RoundingMode::HalfUp)
                .round_quotient(d("-0.001"), d("3"))
                .to_string(),
            "0.00"
        );
        // Agrees with dividing then rounding wherever the quotient's 28
        // digits hold no false half; fractional quantities and amounts with
        // more decimals than the currency take that path.
        let amounts = [
            "0",
            "0.01",
            "1",
            "7.77",
            "-12.34",
            "99999.99",
            "1234567890123.45",
            "0.005",
            "3.333333",
            "-92233720368547758.08",
        ];
        let quantities = [
            "1", "2", "3", "7", "12", "40", "999", "65537", "0.5", "2.25",
        ];
        for mode in modes {
            let c = usd(mode);
            for a in amounts {
                for q in quantities {
                    let (a, q) = (d(a), d(q));
                    let ours = c.round_quotient(a, q);
                    assert_eq!(ours, c.round(a / q), "{a} / {q} {mode:?}");
                    assert_eq!(ours.scale(), 2, "{a} / {q}");
                }
            }
        }
    }

    #[test]
    fn rounding_in_integers_agrees_with_rust_decimal() {
        let strategies = [
            RoundingStrategy::ToZero,
            RoundingStrategy::AwayFromZero,
            RoundingStrategy::MidpointAwayFromZero,
            RoundingStrategy::MidpointNearestEven,
            RoundingStrategy::MidpointTowardZero,
            RoundingStrategy::ToNegativeInfinity,
        ];
        // Mantissas of every length around the 64-bit edge, halves and
        // near-halves, both signs, every scale and target.
        let mut mantissas = vec![0i128, 1, 5, 15, 25, 125, 135, 994999, 995000, 995001];
        let mut m: i128 = 3;
        while m < 10i128.pow(28) {
            mantissas.extend([m, m * 10 + 5, m * 100 + 50]);
            m = m * 7 + 1;
        }
        mantissas.extend([
            i64::MAX as i128,
            i64::MAX as i128 + 1,
            u64::MAX as i128,
            79_228_162_514_264_337_593_543_950_335,
        ]);
        for &m in &mantissas {
            for scale in 0..=28u32 {
                for sign in [1i128, -1] {
                    let Ok(x) = Decimal::try_from_i128_with_scale(sign * m, scale) else {
                        continue;
                    };
                    for dp in 0..=8u32 {
                        for strategy in strategies {
                            let ours = round_dp(x, dp, strategy);
                            let theirs = x.round_dp_with_strategy(dp, strategy);
                            assert_eq!(ours, theirs, "{x} to {dp} by {strategy:?}");
                            assert_eq!(ours.scale(), theirs.scale(), "{x} to {dp}");
                            assert_eq!(ours.to_string(), theirs.to_string(), "{x} to {dp}");
                        }
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

/// The one form a decimal is written in on the API and in rule and quote
/// files: digits, an optional `-`, an optional point with digits on both
/// sides (`12`, `-3`, `1299.00`). No `+`, exponent, bare point, digit
/// separator or surrounding space; and no more digits than a decimal holds
/// exactly (nothing is rounded away). The error says what is wrong.
pub fn parse_strict_decimal(text: &str) -> Result<Decimal, String> {
    let digits = text.strip_prefix('-').unwrap_or(text);
    let (whole, fraction) = match digits.split_once('.') {
        Some((w, f)) => (w, Some(f)),
        None => (digits, None),
    };
    let all_digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    if !all_digits(whole) || fraction.is_some_and(|f| !all_digits(f)) {
        let shown: String = text.chars().take(40).collect();
        return Err(format!(
            "`{shown}` is not a decimal in the form 12, -3 or 1299.00 (digits with an optional - and point; no +, exponent, spaces or separators)"
        ));
    }
    Decimal::from_str_exact(text).map_err(|_| {
        let shown: String = text.chars().take(40).collect();
        format!("`{shown}` has more digits than a decimal holds exactly (28)")
    })
}

#[cfg(test)]
mod strict_decimal_tests {
    use super::parse_strict_decimal;

    #[test]
    fn only_plain_decimals_are_read_and_nothing_is_rounded_away() {
        for ok in [
            "0",
            "12",
            "-3",
            "1299.00",
            "0.333",
            "79228162514264337593543950335",
        ] {
            assert_eq!(parse_strict_decimal(ok).unwrap().to_string(), ok, "{ok}");
        }
        for bad in [
            "",
            " 1",
            "1 ",
            "+5",
            ".5",
            "5.",
            "1e3",
            "1E1",
            "1_0",
            "1,5",
            "--1",
            "-",
            "0x10",
            "1.00000000000000000000000000001",
            "792281625142643375935439503350",
        ] {
            assert!(parse_strict_decimal(bad).is_err(), "`{bad}` was accepted");
        }
    }
}
