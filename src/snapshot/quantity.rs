//! Kubernetes resource quantities (`500m`, `2`, `1.5Gi`, `1e3`) parsed with apimachinery's
//! `ParseQuantity` grammar and rounding: exact to the nano-unit, rounded up, capped at the
//! int64 range. Knows nothing of which resource a quantity measures.
//!
//! One deliberate difference: Go truncates an `e` exponent to int32 (so `1e4294967296` is 1);
//! here exponents saturate, and such a quantity is capped like any other huge one.

use std::{fmt, str::FromStr};

/// Nano-units in one unit.
const NANOS_PER_UNIT: i128 = 1_000_000_000;
/// Nano-units in one milli-unit.
const NANOS_PER_MILLI: i128 = 1_000_000;
/// apimachinery caps every quantity at 2^63-1 units.
const MAX_NANOS: i128 = i64::MAX as i128 * NANOS_PER_UNIT;

/// A quantity, held exactly as a whole number of nano-units (the finest scale Kubernetes keeps).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Quantity {
    nanos: i128,
}

/// Why a string is not a quantity.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseQuantity {
    /// Not `<sign><digits>.<digits><suffix>` at all.
    #[error("{input:?} is not a quantity")]
    Format {
        /// The text that was read.
        input: String,
    },
    /// The number is fine but the suffix is none of `n u m k M G T P E Ki Mi Gi Ti Pi Ei e<n>`.
    #[error("{input:?} is not a quantity: unknown suffix {suffix:?}")]
    Suffix {
        /// The text that was read.
        input: String,
        /// The suffix that was not understood.
        suffix: String,
    },
}

impl Quantity {
    /// Zero.
    pub const ZERO: Self = Self { nanos: 0 };

    /// A quantity of whole nano-units, capped as apimachinery caps quantities.
    pub fn from_nanos(nanos: i128) -> Self {
        Self {
            nanos: nanos.clamp(-MAX_NANOS, MAX_NANOS),
        }
    }

    /// A quantity of milli-units (`100m` is `from_millis(100)`).
    pub fn from_millis(millis: i64) -> Self {
        Self::from_nanos(i128::from(millis) * NANOS_PER_MILLI)
    }

    /// A quantity of whole units (`200Mi` is `from_units(200 << 20)`).
    pub fn from_units(units: i64) -> Self {
        Self::from_nanos(i128::from(units) * NANOS_PER_UNIT)
    }

    /// The exact amount in nano-units.
    pub fn nanos(self) -> i128 {
        self.nanos
    }

    /// `Quantity.MilliValue()`: milli-units, rounded away from zero; saturates at the int64 range.
    pub fn milli_value(self) -> i64 {
        scaled(self.nanos, NANOS_PER_MILLI)
    }

    /// `Quantity.Value()`: whole units, rounded away from zero; saturates at the int64 range.
    pub fn value(self) -> i64 {
        scaled(self.nanos, NANOS_PER_UNIT)
    }

    /// Whether the quantity is below zero.
    pub fn is_negative(self) -> bool {
        self.nanos < 0
    }

    /// The exact sum, as `Quantity.Add` computes it.
    #[must_use]
    pub fn plus(self, other: Self) -> Self {
        Self {
            nanos: self.nanos.saturating_add(other.nanos),
        }
    }

    /// Parses `ParseQuantity`'s grammar:
    /// `<sign>? <digits>? (. <digits>?)? (<decimalSI> | <binarySI> | (e|E) <sign>? <digits>)`.
    pub fn parse(input: &str) -> Result<Self, ParseQuantity> {
        let parts = split(input).ok_or_else(|| ParseQuantity::Format {
            input: input.to_owned(),
        })?;
        let scale = suffix_scale(parts.suffix).ok_or_else(|| ParseQuantity::Suffix {
            input: input.to_owned(),
            suffix: parts.suffix.to_owned(),
        })?;
        let magnitude = magnitude_nanos(parts.integer, parts.fraction, scale);
        Ok(Self {
            nanos: if parts.negative {
                -magnitude
            } else {
                magnitude
            },
        })
    }
}

impl FromStr for Quantity {
    type Err = ParseQuantity;

    fn from_str(input: &str) -> Result<Self, Self::Err> {
        Self::parse(input)
    }
}

impl fmt::Display for Quantity {
    /// Writes the amount in the smallest exact decimal form: `2`, `1500m`, `5n`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let nanos = self.nanos;
        if nanos % NANOS_PER_UNIT == 0 {
            write!(f, "{}", nanos / NANOS_PER_UNIT)
        } else if nanos % NANOS_PER_MILLI == 0 {
            write!(f, "{}m", nanos / NANOS_PER_MILLI)
        } else if nanos % 1000 == 0 {
            write!(f, "{}u", nanos / 1000)
        } else {
            write!(f, "{nanos}n")
        }
    }
}

/// Divides nano-units by a scale, rounding away from zero, saturating at the int64 range.
fn scaled(nanos: i128, per: i128) -> i64 {
    let whole = nanos / per;
    let rounded = if nanos % per == 0 {
        whole
    } else if nanos > 0 {
        whole + 1
    } else {
        whole - 1
    };
    i64::try_from(rounded).unwrap_or(if rounded > 0 { i64::MAX } else { i64::MIN })
}

/// The pieces of a quantity string, as `parseQuantityString` splits it.
struct Parts<'a> {
    negative: bool,
    /// Digits before the point, leading zeros stripped (may be empty).
    integer: &'a str,
    /// Digits after the point (may be empty).
    fraction: &'a str,
    suffix: &'a str,
}

/// `parseQuantityString`, quirks included: `""` is refused, but `"-"`, `"."` and `"m"` are zero.
fn split(input: &str) -> Option<Parts<'_>> {
    if input.is_empty() {
        return None;
    }
    let bytes = input.as_bytes();
    let mut pos = 0;
    let negative = match bytes.first() {
        Some(b'-') => {
            pos += 1;
            true
        }
        Some(b'+') => {
            pos += 1;
            false
        }
        _ => false,
    };
    while bytes.get(pos) == Some(&b'0') {
        pos += 1;
    }
    let integer_start = pos;
    while bytes.get(pos).is_some_and(u8::is_ascii_digit) {
        pos += 1;
    }
    let integer = input.get(integer_start..pos)?;
    let mut fraction = "";
    if bytes.get(pos) == Some(&b'.') {
        pos += 1;
        let fraction_start = pos;
        while bytes.get(pos).is_some_and(u8::is_ascii_digit) {
            pos += 1;
        }
        fraction = input.get(fraction_start..pos)?;
    }
    // The suffix: letters from "eEinumkKMGTP", then an optional sign and digits (an exponent).
    let suffix_start = pos;
    while bytes.get(pos).is_some_and(|b| b"eEinumkKMGTP".contains(b)) {
        pos += 1;
    }
    if matches!(bytes.get(pos), Some(b'-' | b'+')) {
        pos += 1;
    }
    while bytes.get(pos).is_some_and(u8::is_ascii_digit) {
        pos += 1;
    }
    if pos != bytes.len() {
        return None;
    }
    Some(Parts {
        negative,
        integer,
        fraction,
        suffix: input.get(suffix_start..)?,
    })
}

/// What a suffix multiplies by: a power of ten and a power of two.
#[derive(Clone, Copy)]
struct Scale {
    ten: i64,
    two: u32,
}

/// apimachinery's suffixer: decimal SI (with `n` and `u`), binary SI, and `e`/`E` exponents.
fn suffix_scale(suffix: &str) -> Option<Scale> {
    let ten = |ten| Some(Scale { ten, two: 0 });
    let two = |two| Some(Scale { ten: 0, two });
    match suffix {
        "n" => ten(-9),
        "u" => ten(-6),
        "m" => ten(-3),
        "" => ten(0),
        "k" => ten(3),
        "M" => ten(6),
        "G" => ten(9),
        "T" => ten(12),
        "P" => ten(15),
        "E" => ten(18),
        "Ki" => two(10),
        "Mi" => two(20),
        "Gi" => two(30),
        "Ti" => two(40),
        "Pi" => two(50),
        "Ei" => two(60),
        _ => {
            let exponent = suffix
                .strip_prefix('e')
                .or_else(|| suffix.strip_prefix('E'))?;
            // Go's strconv.ParseInt: an optional sign, then digits only.
            let digits = exponent.strip_prefix(['+', '-']).unwrap_or(exponent);
            if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
                return None;
            }
            // Exponents beyond any representable quantity only need to keep their sign.
            let value = exponent
                .parse::<i64>()
                .unwrap_or(if exponent.starts_with('-') {
                    i64::MIN
                } else {
                    i64::MAX
                });
            ten(value)
        }
    }
}

/// The magnitude in nano-units of `integer.fraction × 10^ten × 2^two`, rounded up to a whole
/// nano-unit and capped at 2^63-1 units, exactly as apimachinery rounds and caps.
fn magnitude_nanos(integer: &str, fraction: &str, scale: Scale) -> i128 {
    // All significant digits as one decimal number, and where the nano-unit point falls.
    let mut digits: Vec<u8> = integer
        .bytes()
        .chain(fraction.bytes())
        .map(|b| b - b'0')
        .skip_while(|d| *d == 0)
        .collect();
    if digits.is_empty() {
        return 0;
    }
    let fraction_len = i64::try_from(fraction.len()).unwrap_or(i64::MAX);
    let mut exponent = scale.ten.saturating_sub(fraction_len).saturating_add(9);
    while digits.last() == Some(&0) {
        digits.pop();
        exponent = exponent.saturating_add(1);
    }
    // Over 38 digits of whole nano-units is far above the cap (and beyond i128); doubling
    // only makes a number longer, so the check holds before and after it.
    let too_big = |len: usize, exponent: i64| {
        i64::try_from(len)
            .unwrap_or(i64::MAX)
            .saturating_add(exponent)
            > 38
    };
    if too_big(digits.len(), exponent) {
        return MAX_NANOS;
    }
    for _ in 0..scale.two {
        double(&mut digits);
    }
    if too_big(digits.len(), exponent) {
        return MAX_NANOS;
    }
    // Split at the nano-unit point: whole nano-units, and whether anything is left below them.
    let (whole, rest_nonzero) = if exponent >= 0 {
        (digits.as_slice(), false)
    } else {
        let below = usize::try_from(exponent.unsigned_abs()).unwrap_or(usize::MAX);
        let split = digits.len().saturating_sub(below);
        let (whole, rest) = digits.split_at(split);
        (whole, rest.iter().any(|d| *d != 0))
    };
    let mut nanos: i128 = 0;
    for digit in whole {
        nanos = nanos * 10 + i128::from(*digit);
    }
    if exponent > 0 {
        for _ in 0..exponent {
            nanos *= 10;
        }
    }
    if rest_nonzero {
        nanos += 1;
    }
    nanos.min(MAX_NANOS)
}

/// Doubles a big-endian decimal digit vector in place.
fn double(digits: &mut Vec<u8>) {
    let mut carry = 0;
    for digit in digits.iter_mut().rev() {
        let doubled = *digit * 2 + carry;
        *digit = doubled % 10;
        carry = doubled / 10;
    }
    if carry > 0 {
        digits.insert(0, carry);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tiny_amounts_round_up_to_one_nano_unit() {
        assert_eq!(Quantity::parse("0.1n").map(Quantity::nanos), Ok(1));
        assert_eq!(Quantity::parse("1e-20").map(Quantity::nanos), Ok(1));
        assert_eq!(Quantity::parse("-0.1n").map(Quantity::nanos), Ok(-1));
    }

    #[test]
    fn huge_amounts_are_capped_at_the_int64_range() {
        assert_eq!(Quantity::parse("1e300").map(Quantity::value), Ok(i64::MAX));
        assert_eq!(Quantity::parse("100Ei").map(Quantity::value), Ok(i64::MAX));
        assert_eq!(
            Quantity::parse("9223372036854775807").map(Quantity::value),
            Ok(i64::MAX)
        );
    }

    #[test]
    fn quantities_print_in_their_exact_smallest_form() {
        for (text, printed) in [("1.5", "1500m"), ("2k", "2000"), ("5n", "5n"), ("0", "0")] {
            assert_eq!(
                Quantity::parse(text).map(|q| q.to_string()),
                Ok(printed.to_owned())
            );
        }
    }
}
