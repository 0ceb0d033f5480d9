//! Coverage-guided differential fuzzing: raw bytes become a scenario
//! ([`FuzzInput::decode`]: fork, gas limit, value, calldata, then the code under test), run in
//! revm's interpreter and as native code at every `OptLevel`; any difference in status, gas
//! used or refunded, output, logs or state, or a panic in native execution, is a crash.
#![no_main]

use libfuzzer_sys::fuzz_target;
use revm_jit_cli::differential::{Comparator, FuzzInput, OPT_LEVELS};
use std::sync::OnceLock;

/// One eager runtime per level, kept for the whole run so that a program run again under
/// the same fork reuses its code. libFuzzer runs inputs on one thread.
fn comparator() -> &'static Comparator {
    static COMPARATOR: OnceLock<Comparator> = OnceLock::new();
    COMPARATOR.get_or_init(|| Comparator::new(&OPT_LEVELS))
}

fuzz_target!(|data: &[u8]| {
    // EIP-170's limit on deployed code: longer inputs say nothing new.
    if data.len() > 24_576 + 260 {
        return;
    }
    let input = FuzzInput::decode(data);
    for (level, _, mismatch) in comparator().compare(&input.scenario) {
        if let Some(mismatch) = mismatch {
            panic!("{level:?}: {}\nscenario: {:?}", mismatch.difference, input.scenario);
        }
    }
});
