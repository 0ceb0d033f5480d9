//! Export of the runtime's counters through the `metrics` facade (the `metrics` feature).

use super::StatsSnapshot;

/// Fields of [`StatsSnapshot`] that are levels, not totals: exported as gauges.
const GAUGES: [&str; 6] = [
    "cached_entries",
    "resident_code_bytes",
    "jit_mappings",
    "jit_mapped_bytes",
    "jit_allocated_bytes",
    "jit_resident_bytes",
];

/// Records every field of `stats`: `revm_jit_<field>` as a counter (absolute value) or a
/// gauge, and the interpreted lookups as `revm_jit_interpreted{reason=...}`. The fields are
/// read through serde, so a counter added to [`StatsSnapshot`] is exported without a change
/// here.
pub(super) fn publish(stats: &StatsSnapshot) {
    let serde_json::Value::Object(fields) = serde_json::to_value(stats).expect("stats serialize") else {
        unreachable!("a struct serializes to an object")
    };
    for (name, value) in fields {
        if name == "interpreted" {
            continue;
        }
        let Some(value) = value.as_u64() else { continue };
        let metric = format!("revm_jit_{name}");
        if GAUGES.contains(&name.as_str()) {
            ::metrics::gauge!(metric).set(value as f64);
        } else {
            ::metrics::counter!(metric).absolute(value);
        }
    }
    for (reason, count) in stats.interpreted.iter() {
        ::metrics::counter!("revm_jit_interpreted", "reason" => reason.name()).absolute(count);
    }
}
