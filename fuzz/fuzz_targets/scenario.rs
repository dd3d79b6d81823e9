//! What `kube-spread simulate --scenario FILE` reads: the YAML scenario, checked up front.
//! Reading it may refuse it with an error, never panic, hang or run out of memory.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // The CLI reads the file as UTF-8 text and refuses anything else before the reader runs.
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let _ = kube_spread::sim::scenario::Scenario::parse("fuzz", text);
});
