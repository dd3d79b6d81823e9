//! A pod's uid is kept in 16 bytes when it is a canonical UUID, and as text otherwise: either
//! way it reads back, compares and serializes exactly as the text it was made from.
#![allow(clippy::expect_used, clippy::unwrap_used, clippy::panic)]

use kube_spread::planner::uid::Uid;
use proptest::prelude::*;

/// Canonical UUIDs, the same in capitals, near misses, and any text.
fn uid_text() -> impl Strategy<Value = String> {
    let uuid = "[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}";
    prop_oneof![
        uuid.prop_map(|text| text),
        uuid.prop_map(|text| text.to_uppercase()),
        "[0-9a-fA-F_-]{35,37}",
        any::<String>(),
    ]
}

proptest! {
    #[test]
    fn a_uid_reads_back_and_serializes_as_the_text_it_was_made_from(text in uid_text()) {
        let uid = Uid::new(&text);
        prop_assert_eq!(uid.to_string(), text.clone());
        prop_assert!(uid == *text.as_str());
        prop_assert_eq!(serde_json::to_value(&uid).unwrap(), serde_json::Value::String(text.clone()));
        prop_assert_eq!(uid.is_empty(), text.is_empty());
    }

    #[test]
    fn two_uids_are_equal_exactly_when_their_texts_are(a in uid_text(), b in uid_text()) {
        prop_assert_eq!(Uid::new(&a) == Uid::new(&b), a == b);
        prop_assert_eq!(Uid::new(&a) == *b.as_str(), a == b);
        prop_assert!(Uid::new(&a) == Uid::new(&a.clone()));
    }
}
