//! The `metrics` feature exports every counter of the stats to the installed recorder.

use metrics_util::debugging::{DebugValue, DebuggingRecorder};
use revm::primitives::{Bytes, hardfork::SpecId, keccak256};
use revm_jit::{JitConfig, JitRuntime};

#[test]
fn every_counter_reaches_the_recorder() {
    let runtime = JitRuntime::new(JitConfig { enabled: false, ..JitConfig::default() });
    let handle = runtime.handle();
    let code: Bytes = vec![0x60, 0x01, 0x00].into();
    let bytecode = revm::bytecode::Bytecode::new_raw(code.clone());
    for _ in 0..3 {
        assert!(handle.lookup(keccak256(&code), SpecId::CANCUN, &bytecode).is_none());
    }
    let recorder = DebuggingRecorder::new();
    let snapshotter = recorder.snapshotter();
    metrics::with_local_recorder(&recorder, || handle.publish_metrics());
    let recorded = snapshotter.snapshot().into_vec();
    let value = |name: &str, label: Option<(&str, &str)>| {
        recorded
            .iter()
            .find(|(key, ..)| {
                key.key().name() == name
                    && label.is_none_or(|(k, v)| key.key().labels().any(|l| l.key() == k && l.value() == v))
            })
            .map(|(.., value)| value)
    };
    assert_eq!(value("revm_jit_interpreted", Some(("reason", "disabled"))), Some(&DebugValue::Counter(3)));
    assert_eq!(value("revm_jit_lookups", None), Some(&DebugValue::Counter(0)));
    assert!(matches!(value("revm_jit_cached_entries", None), Some(DebugValue::Gauge(_))));
    // Every field of the snapshot is there.
    let json = serde_json::to_value(handle.stats()).expect("serializes");
    for field in json.as_object().expect("an object").keys().filter(|f| *f != "interpreted") {
        assert!(value(&format!("revm_jit_{field}"), None).is_some(), "{field} not exported");
    }
    for reason in revm_jit::Fallback::ALL {
        assert!(value("revm_jit_interpreted", Some(("reason", reason.name()))).is_some(), "{reason} not exported");
    }
}
