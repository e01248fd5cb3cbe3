//! Floating-point noise in text amounts. pandas (and every tool that
//! prints a double by its shortest round-trip form) writes a sum of cents
//! as `24878.379999999997`: the double nearest to no decimal of the
//! currency's minor unit, printed in full. Such a text stands for
//! 24878.38; a text such as `10.125` (USD) is a genuine half cent and
//! stays refused.
//!
//! A text is noise when both hold:
//! - it has 16 or 17 significant digits: a double nearest to a decimal of
//!   at most 15 significant digits prints as that decimal, so only a
//!   double that is not (a result of float arithmetic) prints longer;
//! - it lies within [`NOISE_ULPS`] units in the last place of the value
//!   rounded to the minor unit, and within a thousandth of the minor unit:
//!   the error of a few float additions, not a fraction of a cent.
use std::str::FromStr;

use rust_decimal::Decimal;

/// Units in the last place a float sum may be off by and still be read
/// as the decimal it stands for (a sum of up to dozens of terms).
const NOISE_ULPS: f64 = 64.0;
/// The fewest significant digits a double's shortest form has when it is
/// not the double nearest to a 15-digit decimal.
const NOISY_DIGITS: u32 = 16;

/// `text` at `decimals` places when its extra places are a double's
/// binary noise; `None` when it has no more places than `decimals`, is
/// not a number, or means its extra places.
pub(crate) fn without_float_noise(text: &str, decimals: u32) -> Option<String> {
    let trimmed = text.trim();
    let scientific = trimmed.contains(['e', 'E']);
    if !scientific && Decimal::from_str(trimmed).ok()?.scale() <= decimals {
        return None;
    }
    if significant_digits(trimmed) < NOISY_DIGITS {
        return None;
    }
    let printed: f64 = trimmed.parse().ok()?;
    if !printed.is_finite() {
        return None;
    }
    let places = usize::try_from(decimals).ok()?;
    let rounded = Decimal::from_str(&format!("{printed:.places$}")).ok()?;
    let meant: f64 = rounded.to_string().parse().ok()?;
    // A few float additions' error, and far below the minor unit (a
    // thousandth of it), whatever the magnitude.
    let tolerance =
        (NOISE_ULPS * f64::EPSILON * meant.abs().max(1.0)).min(10f64.powi(-(decimals as i32) - 3));
    ((printed - meant).abs() <= tolerance).then(|| rounded.to_string())
}

/// Significant digits of a number's text: its mantissa's digits, leading
/// and trailing zeros not counted.
fn significant_digits(text: &str) -> u32 {
    let mantissa = text.split(['e', 'E']).next().unwrap_or("");
    let digits: String = mantissa.chars().filter(char::is_ascii_digit).collect();
    let digits = digits.trim_start_matches('0').trim_end_matches('0');
    u32::try_from(digits.len()).unwrap_or(u32::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_float_sum_printed_in_full_is_read_as_the_cents_it_stands_for() {
        let sum: f64 = [24000.12, 878.26].iter().sum();
        assert_eq!(sum.to_string(), "24878.379999999997");
        assert_eq!(
            without_float_noise(&sum.to_string(), 2).as_deref(),
            Some("24878.38")
        );
        let sum: f64 = 0.1 + 0.2;
        assert_eq!(
            without_float_noise(&sum.to_string(), 2).as_deref(),
            Some("0.30")
        );
        assert_eq!(
            without_float_noise("157559.77000000002", 2).as_deref(),
            Some("157559.77")
        );
        assert_eq!(
            without_float_noise("5.551115123125783e-17", 2).as_deref(),
            Some("0.00")
        );
        assert_eq!(
            without_float_noise("1999.9999999999998", 0).as_deref(),
            Some("2000")
        );
    }

    #[test]
    fn extra_places_a_person_wrote_are_not_noise() {
        // Too few digits to come from float arithmetic.
        assert_eq!(without_float_noise("10.125", 2), None);
        assert_eq!(without_float_noise("1000000000000.125", 2), None);
        // Long, but a fraction of a cent away from any cent.
        assert_eq!(without_float_noise("24878.374999999997", 2), None);
        assert_eq!(without_float_noise("1.0050000000000001", 2), None);
        // Within the currency's places, or not a number: left to the
        // reader's other checks.
        assert_eq!(without_float_noise("24878.38", 2), None);
        assert_eq!(without_float_noise("n/a", 2), None);
        assert_eq!(without_float_noise("", 2), None);
    }
}
