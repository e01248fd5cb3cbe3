//! Figures and dates as text, appended straight to a buffer.
//!
//! A fully explained quote is some 300 decimals and dates as text. Going
//! through `fmt` for each (or through a scratch `String` copied into the
//! output) costs more than pricing the quote, so the figures here write
//! themselves into any [`TextOut`]: a `String` for sentences, or the bytes
//! of a protobuf message being encoded, where the text lands in place.
use std::fmt;

use chrono::{Datelike, NaiveDate};
use rust_decimal::Decimal;

use crate::{DateRange, Percent};

/// Somewhere UTF-8 text can be appended.
pub trait TextOut {
    fn push_str(&mut self, text: &str);

    /// One ASCII character.
    fn push_ascii(&mut self, ascii: u8);

    /// ASCII text given as bytes.
    fn push_ascii_bytes(&mut self, ascii: &[u8]);
}

impl TextOut for String {
    #[inline]
    fn push_str(&mut self, text: &str) {
        String::push_str(self, text);
    }

    #[inline]
    fn push_ascii(&mut self, ascii: u8) {
        debug_assert!(ascii.is_ascii());
        self.push(char::from(ascii));
    }

    #[inline]
    fn push_ascii_bytes(&mut self, ascii: &[u8]) {
        debug_assert!(ascii.is_ascii());
        self.extend(ascii.iter().map(|&b| char::from(b)));
    }
}

/// Text as the bytes of a UTF-8 string (what a protobuf string holds).
impl TextOut for Vec<u8> {
    #[inline]
    fn push_str(&mut self, text: &str) {
        self.extend_from_slice(text.as_bytes());
    }

    #[inline]
    fn push_ascii(&mut self, ascii: u8) {
        debug_assert!(ascii.is_ascii());
        self.push(ascii);
    }

    #[inline]
    fn push_ascii_bytes(&mut self, ascii: &[u8]) {
        debug_assert!(ascii.is_ascii());
        self.extend_from_slice(ascii);
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

const ZEROS: &str = "0000000000000000000000000000";

/// `n` zeros (a decimal has at most 28 decimals, so one slice serves).
fn push_zeros(out: &mut (impl TextOut + ?Sized), mut n: usize) {
    while n > 0 {
        let now = n.min(ZEROS.len());
        out.push_str(&ZEROS[..now]);
        n -= now;
    }
}

/// The two-digit numbers 00 to 99, as text.
const PAIRS: &[u8; 200] = b"\
0001020304050607080910111213141516171819\
2021222324252627282930313233343536373839\
4041424344454647484950515253545556575859\
6061626364656667686970717273747576777879\
8081828384858687888990919293949596979899";

/// Writes the digits of `n` into `buf` from the right, ending before `end`,
/// zero-padded to at least `width` digits (and at least one); returns where
/// they start.
fn digits_from_right(buf: &mut [u8], end: usize, mut n: u64, width: usize) -> usize {
    let mut pos = end;
    while n >= 100 {
        let pair = (n % 100) as usize * 2;
        n /= 100;
        pos -= 2;
        buf[pos..pos + 2].copy_from_slice(&PAIRS[pair..pair + 2]);
    }
    if n >= 10 {
        let pair = n as usize * 2;
        pos -= 2;
        buf[pos..pos + 2].copy_from_slice(&PAIRS[pair..pair + 2]);
    } else {
        pos -= 1;
        buf[pos] = b'0' + n as u8;
    }
    while end - pos < width {
        pos -= 1;
        buf[pos] = b'0';
    }
    pos
}

/// Powers of ten that fit 64 bits.
const POW10: [u64; 20] = {
    let mut table = [1u64; 20];
    let mut i = 1;
    while i < table.len() {
        table[i] = table[i - 1] * 10;
        i += 1;
    }
    table
};

/// `m` scaled by `scale` decimals, as its whole part and its fraction (none
/// for no decimals). The usual scales divide by a constant, which the
/// compiler turns into a multiplication.
fn split_at_point(m: u64, scale: u32) -> (u64, Option<u64>) {
    let by = |unit: u64| (m / unit, Some(m % unit));
    match scale {
        0 => (m, None),
        1 => by(10),
        2 => by(100),
        3 => by(1_000),
        4 => by(10_000),
        5 => by(100_000),
        6 => by(1_000_000),
        _ => POW10
            .get(scale as usize)
            .map_or((m, None), |&unit| by(unit)),
    }
}

impl Trimmed {
    /// Appends the text to `out`, without going through `fmt`.
    pub fn push_to(self, out: &mut (impl TextOut + ?Sized)) {
        let Trimmed(value, min_scale) = self;
        let mut scale = value.scale();
        let wide = value.mantissa().unsigned_abs();
        // Money fits 64 bits, and is built in one buffer and appended at
        // once; 128-bit division is done in software and costs tens of
        // nanoseconds a digit, so wider values take the general path.
        match u64::try_from(wide) {
            Ok(narrow) if scale < 20 && min_scale <= 28 => {
                let m = trimmed(narrow, &mut scale, min_scale);
                let mut buf = [b'0'; 80];
                // Padding zeros (the buffer starts as zeros), the fraction,
                // the point, the whole part and the sign, from the right.
                let mut pos = buf.len() - (min_scale.saturating_sub(scale) as usize);
                let (whole, fraction) = split_at_point(m, scale);
                if let Some(fraction) = fraction {
                    pos = digits_from_right(&mut buf, pos, fraction, scale as usize);
                }
                if fraction.is_some() || pos < buf.len() {
                    pos -= 1;
                    buf[pos] = b'.';
                }
                pos = digits_from_right(&mut buf, pos, whole, 1);
                if value.is_sign_negative() && m != 0 {
                    pos -= 1;
                    buf[pos] = b'-';
                }
                out.push_ascii_bytes(&buf[pos..]);
            }
            _ => {
                let mut buffer = itoa::Buffer::new();
                let digits = buffer.format(trimmed(wide, &mut scale, min_scale));
                push_general(out, value.is_sign_negative(), digits, scale, min_scale);
            }
        }
    }

    /// The text as a `String`.
    pub fn to_text(self) -> String {
        let mut out = String::with_capacity(24);
        self.push_to(&mut out);
        out
    }
}

/// The text of a value whose trimmed mantissa has `digits` and `scale`
/// decimals, padded to `min_scale`.
fn push_general(
    out: &mut (impl TextOut + ?Sized),
    negative: bool,
    digits: &str,
    scale: u32,
    min_scale: u32,
) {
    if negative && digits != "0" {
        out.push_ascii(b'-');
    }
    let scale = scale as usize;
    if digits.len() > scale {
        let (whole, fraction) = digits.split_at(digits.len() - scale);
        out.push_str(whole);
        if scale > 0 {
            out.push_ascii(b'.');
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
            out.push_ascii(b'.');
        }
        push_zeros(out, pad);
    }
}

impl fmt::Display for Trimmed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_text())
    }
}

impl Percent {
    /// Appends the percentage as text, e.g. "12.5%".
    pub fn push_to(self, out: &mut (impl TextOut + ?Sized)) {
        Trimmed(self.0, 0).push_to(out);
        out.push_ascii(b'%');
    }
}

impl fmt::Display for Percent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut text = String::with_capacity(16);
        self.push_to(&mut text);
        f.write_str(&text)
    }
}

/// Appends `value` as exactly `width` decimal digits, zero-padded.
fn push_digits(out: &mut (impl TextOut + ?Sized), value: u32, width: u32) {
    for place in (0..width).rev() {
        let digit = (value / 10u32.pow(place)) % 10;
        out.push_ascii(b'0' + digit as u8);
    }
}

/// Appends a date as YYYY-MM-DD (the form `NaiveDate` displays for years 0
/// to 9999), without going through `fmt`.
pub fn push_date(date: NaiveDate, out: &mut (impl TextOut + ?Sized)) {
    push_digits(out, date.year().clamp(0, 9999).unsigned_abs(), 4);
    out.push_ascii(b'-');
    push_digits(out, date.month(), 2);
    out.push_ascii(b'-');
    push_digits(out, date.day(), 2);
}

impl DateRange {
    /// Appends the range as text: "2026-01-01 to 2026-06-30" or
    /// "from 2026-07-01".
    pub fn push_to(&self, out: &mut (impl TextOut + ?Sized)) {
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

/// The months' names in English, in lower case, January first: rule
/// files and exports name months so.
pub const MONTH_NAMES: [&str; 12] = [
    "january",
    "february",
    "march",
    "april",
    "may",
    "june",
    "july",
    "august",
    "september",
    "october",
    "november",
    "december",
];

#[cfg(test)]
mod tests {
    use std::str::FromStr;

    use super::*;

    fn d(s: &str) -> Decimal {
        Decimal::from_str(s).unwrap()
    }

    #[test]
    fn text_lands_the_same_in_a_string_and_in_bytes() {
        let mut text = String::new();
        let mut bytes = Vec::new();
        for (v, s) in [("-0.000120", 2), ("18096.000000", 2), ("0", 3)] {
            Trimmed(d(v), s).push_to(&mut text);
            Trimmed(d(v), s).push_to(&mut bytes);
        }
        let range = DateRange {
            from: NaiveDate::from_ymd_opt(2026, 1, 1).unwrap(),
            to: NaiveDate::from_ymd_opt(2026, 6, 30),
        };
        range.push_to(&mut text);
        range.push_to(&mut bytes);
        assert_eq!(text, "-0.0001218096.000.0002026-01-01 to 2026-06-30");
        assert_eq!(bytes, text.as_bytes());
    }

    #[test]
    fn dates_print_as_chrono_prints_them() {
        for (y, m, day) in [(2026, 1, 1), (999, 12, 31), (2030, 2, 28)] {
            let date = NaiveDate::from_ymd_opt(y, m, day).unwrap();
            let mut text = String::new();
            push_date(date, &mut text);
            assert_eq!(text, date.to_string());
        }
        let open = DateRange {
            from: NaiveDate::from_ymd_opt(2026, 7, 1).unwrap(),
            to: None,
        };
        assert_eq!(open.to_string(), "from 2026-07-01");
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
}
