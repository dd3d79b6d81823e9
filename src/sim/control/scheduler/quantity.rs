//! Resource quantities in the Kubernetes syntax (`250m`, `1.5Gi`, `2e3`), read as the
//! scheduler reads them: cpu in millicores, everything else in whole units, rounded up.

/// A quantity in thousandths of a unit (`milli`) or in units, rounded up toward positive
/// infinity as apimachinery's `MilliValue` and `Value` do; None when unreadable or too large.
pub(super) fn parse(text: &str, milli: bool) -> Option<i64> {
    let text = text.trim();
    let split = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.' || c == '+' || c == '-'))
        .unwrap_or(text.len());
    let (number, suffix) = text.split_at(split);
    let (negative, digits) = match number.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, number.strip_prefix('+').unwrap_or(number)),
    };
    let (whole, fraction) = digits.split_once('.').unwrap_or((digits, ""));
    if whole.is_empty() && fraction.is_empty()
        || !whole
            .bytes()
            .chain(fraction.bytes())
            .all(|b| b.is_ascii_digit())
    {
        return None;
    }
    let mut mantissa: i128 = 0;
    for digit in whole.bytes().chain(fraction.bytes()) {
        mantissa = mantissa
            .checked_mul(10)?
            .checked_add(i128::from(digit - b'0'))?;
    }
    // value = mantissa × binary × 10^(decimal - fraction digits)
    let (binary, decimal): (i128, i32) = match suffix {
        "" => (1, 0),
        "Ki" => (1 << 10, 0),
        "Mi" => (1 << 20, 0),
        "Gi" => (1 << 30, 0),
        "Ti" => (1 << 40, 0),
        "Pi" => (1 << 50, 0),
        "Ei" => (1 << 60, 0),
        "n" => (1, -9),
        "u" => (1, -6),
        "m" => (1, -3),
        "k" => (1, 3),
        "M" => (1, 6),
        "G" => (1, 9),
        "T" => (1, 12),
        "P" => (1, 15),
        "E" => (1, 18),
        exponent => {
            let power = exponent
                .strip_prefix('e')
                .or_else(|| exponent.strip_prefix('E'))?;
            (1, power.parse::<i32>().ok().filter(|p| p.abs() <= 30)?)
        }
    };
    let fraction_digits = i32::try_from(fraction.len()).ok()?;
    let exponent = decimal - fraction_digits + if milli { 3 } else { 0 };
    let ten = |power: i32| 10_i128.checked_pow(power.unsigned_abs());
    let mut numerator = mantissa.checked_mul(binary)?;
    let mut denominator: i128 = 1;
    if exponent >= 0 {
        numerator = numerator.checked_mul(ten(exponent)?)?;
    } else {
        denominator = ten(exponent)?;
    }
    let value = if negative {
        -(numerator / denominator)
    } else {
        (numerator + denominator - 1) / denominator
    };
    i64::try_from(value).ok()
}

#[cfg(test)]
mod tests {
    use super::parse;

    #[test]
    fn quantities_read_as_apimachinery_scales_and_rounds_them() {
        let cases = [
            ("250m", true, Some(250)),
            ("1", true, Some(1000)),
            ("1.5", true, Some(1500)),
            ("0.0001", true, Some(1)),
            ("100n", true, Some(1)),
            ("2e3", false, Some(2000)),
            ("128Mi", false, Some(128 << 20)),
            ("1.5Gi", false, Some(3 << 29)),
            ("1k", false, Some(1000)),
            ("500m", false, Some(1)),
            ("", false, None),
            ("12x", false, None),
            ("Mi", false, None),
        ];
        for (text, milli, expected) in cases {
            assert_eq!(parse(text, milli), expected, "{text}");
        }
    }
}
