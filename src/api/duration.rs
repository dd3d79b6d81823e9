//! Durations as users write them in a SpreadPolicy (`"5m"`, `"1h30m"`, `"30s"`): Go's
//! `time.ParseDuration` format, never negative, carried as `std::time::Duration`.

use std::{borrow::Cow, fmt, str::FromStr, time};

use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::{Deserialize, Deserializer, Serialize, Serializer, de};

/// The regular expression the CRD schema enforces: one or more `<number><unit>` parts, or `0`.
pub const DURATION_PATTERN: &str = r"^(0|([0-9]+(\.[0-9]+)?(ns|us|µs|ms|s|m|h))+)$";

/// A non-negative duration written in Go's format.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Duration(pub time::Duration);

impl Duration {
    /// A duration of whole seconds.
    pub const fn from_secs(secs: u64) -> Self {
        Self(time::Duration::from_secs(secs))
    }

    /// The duration as `std::time::Duration`.
    pub const fn get(self) -> time::Duration {
        self.0
    }
}

/// Why a duration string was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ParseDuration {
    /// Not Go's duration format.
    #[error("{input:?} is not a duration such as \"30s\", \"5m\" or \"1h30m\"")]
    Format { input: String },
    /// A minus sign: durations here are never negative.
    #[error("{input:?} is negative; durations must be zero or more")]
    Negative { input: String },
    /// Longer than Go's largest duration (about 292 years).
    #[error("{input:?} is longer than the largest duration (about 292 years)")]
    TooLong { input: String },
}

impl FromStr for Duration {
    type Err = ParseDuration;

    /// Parses Go's format by hand, in checked arithmetic: anything the CRD's pattern admits,
    /// however long, is either a duration Go could hold (at most 2^63-1 ns) or an error,
    /// never a panic.
    fn from_str(input: &str) -> Result<Self, Self::Err> {
        let format = || ParseDuration::Format {
            input: input.to_owned(),
        };
        if input.starts_with('-') && input != "-0" {
            return Err(ParseDuration::Negative {
                input: input.to_owned(),
            });
        }
        let text = input.strip_prefix('+').unwrap_or(input);
        if text == "0" || text == "-0" {
            return Ok(Self::default());
        }
        if text.is_empty() {
            return Err(format());
        }
        let mut nanos: u128 = 0;
        let mut rest = text;
        while !rest.is_empty() {
            let (value, after) = number(rest).ok_or_else(format)?;
            let unit_end = after
                .find(|c: char| c.is_ascii_digit() || c == '.')
                .unwrap_or(after.len());
            let (unit, after) = after.split_at(unit_end);
            let per_unit = unit_nanos(unit).ok_or_else(format)?;
            nanos = value
                .nanos(per_unit)
                .and_then(|part| nanos.checked_add(part))
                .filter(|total| *total <= MAX_NANOS)
                .ok_or_else(|| ParseDuration::TooLong {
                    input: input.to_owned(),
                })?;
            rest = after;
        }
        let secs = u64::try_from(nanos / NANOS_PER_SEC).map_err(|_| format())?;
        let subsec = u32::try_from(nanos % NANOS_PER_SEC).map_err(|_| format())?;
        Ok(Self(time::Duration::new(secs, subsec)))
    }
}

/// Go's largest duration: 2^63-1 nanoseconds, about 292 years.
const MAX_NANOS: u128 = i64::MAX as u128;
const NANOS_PER_SEC: u128 = 1_000_000_000;

/// A decimal number as Go's duration parser reads it: digits, then an optional fraction.
struct Decimal<'a> {
    whole: &'a str,
    fraction: &'a str,
}

impl Decimal<'_> {
    /// The number times `per_unit` nanoseconds, truncated as Go truncates; None on overflow.
    fn nanos(&self, per_unit: u128) -> Option<u128> {
        let mut whole: u128 = 0;
        for digit in self.whole.bytes() {
            whole = whole
                .checked_mul(10)?
                .checked_add(u128::from(digit - b'0'))?;
            if whole > MAX_NANOS {
                return None;
            }
        }
        let mut total = whole.checked_mul(per_unit)?;
        let mut scale = per_unit;
        for digit in self.fraction.bytes() {
            if scale < 10 {
                break;
            }
            scale /= 10;
            total = total.checked_add(u128::from(digit - b'0') * scale)?;
        }
        Some(total)
    }
}

/// The number at the start of `text` and what follows it; None when there is none.
fn number(text: &str) -> Option<(Decimal<'_>, &str)> {
    let whole_end = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (whole, rest) = text.split_at(whole_end);
    let (fraction, rest) = match rest.strip_prefix('.') {
        Some(after) => {
            let end = after
                .find(|c: char| !c.is_ascii_digit())
                .unwrap_or(after.len());
            after.split_at(end)
        }
        None => ("", rest),
    };
    // Go accepts ".5s" and "5.s" but not "."; our schema wants a leading digit anyway.
    if whole.is_empty() {
        return None;
    }
    Some((Decimal { whole, fraction }, rest))
}

/// Nanoseconds per unit, for the units Go accepts.
fn unit_nanos(unit: &str) -> Option<u128> {
    Some(match unit {
        "ns" => 1,
        "us" | "\u{b5}s" | "\u{3bc}s" => 1_000,
        "ms" => 1_000_000,
        "s" => NANOS_PER_SEC,
        "m" => 60 * NANOS_PER_SEC,
        "h" => 3600 * NANOS_PER_SEC,
        _ => return None,
    })
}

impl fmt::Display for Duration {
    /// Writes the shortest exact form: `5m`, `1h30m`, `90ms`, `0s`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let total = self.0;
        if total.is_zero() {
            return f.write_str("0s");
        }
        if total.subsec_nanos() != 0 {
            if total.as_secs() == 0 && total.subsec_nanos().is_multiple_of(1_000_000) {
                return write!(f, "{}ms", total.subsec_millis());
            }
            return write!(f, "{}s", total.as_secs_f64());
        }
        let secs = total.as_secs();
        let (hours, minutes, seconds) = (secs / 3600, (secs % 3600) / 60, secs % 60);
        if hours > 0 {
            write!(f, "{hours}h")?;
        }
        if minutes > 0 {
            write!(f, "{minutes}m")?;
        }
        if seconds > 0 {
            write!(f, "{seconds}s")?;
        }
        Ok(())
    }
}

impl Serialize for Duration {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Duration {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = Cow::<str>::deserialize(deserializer)?;
        text.parse().map_err(de::Error::custom)
    }
}

impl JsonSchema for Duration {
    fn schema_name() -> Cow<'static, str> {
        "Duration".into()
    }

    fn inline_schema() -> bool {
        true
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "type": "string",
            "pattern": DURATION_PATTERN,
            "maxLength": 64,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_durations_parse_to_their_length() {
        let cases = [
            ("0", 0),
            ("30s", 30),
            ("5m", 300),
            ("1h", 3600),
            ("1h30m", 5400),
            ("2h0m5s", 7205),
        ];
        for (text, secs) in cases {
            assert_eq!(
                text.parse::<Duration>(),
                Ok(Duration::from_secs(secs)),
                "{text}"
            );
        }
        assert_eq!(
            "250ms".parse::<Duration>().map(Duration::get),
            Ok(time::Duration::from_millis(250))
        );
    }

    #[test]
    fn words_negative_values_and_bare_numbers_are_refused() {
        for text in [
            "5 minutes",
            "",
            "-5s",
            "10",
            "5d",
            " 5m",
            "5m ",
            ".5s",
            "s",
            "1h5",
        ] {
            assert!(text.parse::<Duration>().is_err(), "{text} was accepted");
        }
    }

    #[test]
    fn durations_print_in_their_shortest_form_and_read_back() {
        for (secs, text) in [
            (0, "0s"),
            (30, "30s"),
            (300, "5m"),
            (5400, "1h30m"),
            (3601, "1h1s"),
        ] {
            let duration = Duration::from_secs(secs);
            assert_eq!(duration.to_string(), text);
            assert_eq!(text.parse::<Duration>(), Ok(duration));
        }
    }

    #[test]
    fn a_duration_longer_than_go_can_hold_is_an_error_not_a_panic() {
        for text in [
            "99999999999999999999h",
            "9223372037s",
            "2562048h",
            "99999999999999999999999999999999999999999ns",
        ] {
            assert_eq!(
                text.parse::<Duration>(),
                Err(ParseDuration::TooLong {
                    input: text.to_owned()
                }),
                "{text}"
            );
        }
        assert_eq!(
            "2562047h".parse::<Duration>().map(|d| d.get().as_secs()),
            Ok(2_562_047 * 3600)
        );
    }

    #[test]
    fn fractions_and_every_go_unit_parse_as_go_parses_them() {
        let cases = [
            ("1.5h", 5_400_000_000_000u128),
            ("1.5s", 1_500_000_000),
            ("2m30s", 150_000_000_000),
            ("10ms", 10_000_000),
            ("10us", 10_000),
            ("10\u{b5}s", 10_000),
            ("10\u{3bc}s", 10_000),
            ("7ns", 7),
            ("1.0000000001s", 1_000_000_000),
        ];
        for (text, nanos) in cases {
            assert_eq!(
                text.parse::<Duration>().map(|d| d.get().as_nanos()),
                Ok(nanos),
                "{text}"
            );
        }
    }
}
