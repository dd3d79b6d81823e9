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
}

impl FromStr for Duration {
    type Err = ParseDuration;

    fn from_str(input: &str) -> Result<Self, Self::Err> {
        if input.starts_with('-') && input != "-0" {
            return Err(ParseDuration::Negative {
                input: input.to_owned(),
            });
        }
        if input.is_empty() || input.chars().any(char::is_whitespace) {
            return Err(ParseDuration::Format {
                input: input.to_owned(),
            });
        }
        let parsed: kube::core::Duration = input.parse().map_err(|_| ParseDuration::Format {
            input: input.to_owned(),
        })?;
        Ok(Self(parsed.into()))
    }
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
        for text in ["5 minutes", "", "-5s", "10", "5d", " 5m"] {
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
}
