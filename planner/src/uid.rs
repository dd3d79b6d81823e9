//! A pod's uid in 16 bytes when it is the UUID the API server assigns.

use std::fmt;

use serde::{Serialize, Serializer};

/// An object's `metadata.uid`. The API server assigns each object a UUID, 36 characters of
/// text; held as its 16 bytes, each of 150,000 pods spares a 48-byte allocation. Any other
/// text (a snapshot written by hand, a fuzzed object) is held as written, so two uids are
/// equal exactly when their texts are.
#[derive(Clone, Default, PartialEq, Eq, Hash)]
pub struct Uid(Repr);

#[derive(Clone, PartialEq, Eq, Hash)]
enum Repr {
    /// A UUID in its canonical text (lowercase, hyphenated 8-4-4-4-12), as its bytes: only
    /// that one spelling is packed, so that the text comes back as it was written.
    Uuid([u8; 16]),
    /// Any other text, as written.
    Text(Box<str>),
}

impl Default for Repr {
    fn default() -> Self {
        Self::Text(Box::default())
    }
}

/// Where the hyphens of a canonical UUID are.
const HYPHENS: [usize; 4] = [8, 13, 18, 23];
const HEX: &[u8; 16] = b"0123456789abcdef";

impl Uid {
    /// The uid `text` names.
    pub fn new(text: &str) -> Self {
        Self(packed(text).map_or_else(|| Repr::Text(text.into()), Repr::Uuid))
    }

    /// Whether it is the empty uid (an object read without one).
    pub fn is_empty(&self) -> bool {
        matches!(&self.0, Repr::Text(text) if text.is_empty())
    }
}

/// The 16 bytes of a UUID in canonical text; None for any other text.
fn packed(text: &str) -> Option<[u8; 16]> {
    let text = text.as_bytes();
    if text.len() != 36 || HYPHENS.iter().any(|&at| text.get(at) != Some(&b'-')) {
        return None;
    }
    let mut digits = text
        .iter()
        .enumerate()
        .filter(|(at, _)| !HYPHENS.contains(at))
        .map(|(_, &digit)| match digit {
            b'0'..=b'9' => Some(digit - b'0'),
            b'a'..=b'f' => Some(digit - b'a' + 10),
            _ => None,
        });
    let mut bytes = [0u8; 16];
    for byte in &mut bytes {
        let high = digits.next()??;
        let low = digits.next()??;
        *byte = high << 4 | low;
    }
    Some(bytes)
}

impl fmt::Display for Uid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.0 {
            Repr::Text(text) => f.write_str(text),
            Repr::Uuid(bytes) => {
                let mut text = [0u8; 36];
                let mut digits = bytes
                    .iter()
                    .flat_map(|byte| [HEX[usize::from(byte >> 4)], HEX[usize::from(byte & 15)]]);
                for (at, slot) in text.iter_mut().enumerate() {
                    *slot = if HYPHENS.contains(&at) {
                        b'-'
                    } else {
                        digits.next().unwrap_or(b'0')
                    };
                }
                f.write_str(std::str::from_utf8(&text).map_err(|_| fmt::Error)?)
            }
        }
    }
}

impl fmt::Debug for Uid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.to_string(), f)
    }
}

impl From<&str> for Uid {
    fn from(text: &str) -> Self {
        Self::new(text)
    }
}

impl From<String> for Uid {
    fn from(text: String) -> Self {
        Self::new(&text)
    }
}

impl PartialEq<str> for Uid {
    fn eq(&self, other: &str) -> bool {
        match &self.0 {
            Repr::Text(text) => **text == *other,
            Repr::Uuid(bytes) => packed(other).is_some_and(|other| other == *bytes),
        }
    }
}

impl PartialEq<&str> for Uid {
    fn eq(&self, other: &&str) -> bool {
        *self == **other
    }
}

impl Serialize for Uid {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_canonical_uuid_is_packed_and_reads_back_as_written() {
        let text = "0f8e6a2c-4b7d-4f35-9a51-6c1e8d2b7f40";
        let uid = Uid::new(text);
        assert!(matches!(uid.0, Repr::Uuid(_)));
        assert_eq!(uid.to_string(), text);
        assert!(uid == *text);
        assert_eq!(format!("{uid:?}"), format!("{text:?}"));
    }

    #[test]
    fn any_other_text_is_held_as_written_and_equals_only_itself() {
        for text in [
            "",
            "uid-web-0",
            "0F8E6A2C-4B7D-4F35-9A51-6C1E8D2B7F40",
            "0f8e6a2c4b7d4f359a516c1e8d2b7f40",
            "0f8e6a2c-4b7d-4f35-9a51-6c1e8d2b7f4g",
            "0f8e6a2c-4b7d-4f35-9a51-6c1e8d2b7f4",
            "0f8e6a2c-4b7d-4f35-9a51_6c1e8d2b7f40",
            "0f8e6a2c-4b7d-4f35-9a51-6c1e8d2b7f4é",
        ] {
            let uid = Uid::new(text);
            assert!(matches!(uid.0, Repr::Text(_)), "{text}");
            assert_eq!(uid.to_string(), text);
            assert!(uid == *text);
            assert!(uid != Uid::new("0f8e6a2c-4b7d-4f35-9a51-6c1e8d2b7f40"));
        }
        assert!(Uid::new("").is_empty());
        assert!(!Uid::new("0f8e6a2c-4b7d-4f35-9a51-6c1e8d2b7f40").is_empty());
    }

    #[test]
    fn uids_are_equal_exactly_when_their_texts_are() {
        let texts = [
            "0f8e6a2c-4b7d-4f35-9a51-6c1e8d2b7f40",
            "0f8e6a2c-4b7d-4f35-9a51-6c1e8d2b7f41",
            "0F8E6A2C-4B7D-4F35-9A51-6C1E8D2B7F40",
            "uid-web-0",
        ];
        for a in texts {
            for b in texts {
                assert_eq!(Uid::new(a) == Uid::new(b), a == b, "{a} {b}");
                assert_eq!(Uid::new(a) == *b, a == b, "{a} {b}");
            }
        }
    }
}
