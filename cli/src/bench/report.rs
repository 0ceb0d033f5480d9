//! Bench output: the text table (printed row by row as cases finish) and the JSON
//! report.

use super::{BenchError, Row, Speedup};
use crate::exec::Mode;
use serde_json::{Map, Value, json};

/// Prints aligned table rows for a fixed set of cases and modes.
#[derive(Clone, Debug)]
pub struct Table {
    name_width: usize,
    modes: Vec<Mode>,
    speedups: bool,
}

/// Width of every numeric column.
const NUM: usize = 11;
/// Width of an interquartile-range column (`12.3%`).
const IQR: usize = 6;
/// Width of a speedup-range column (`0.91-1.07`).
const RANGE: usize = 11;

impl Table {
    /// A table for cases whose longest name is `name_width` characters, measured in
    /// `modes` (in column order). Speedup columns appear when `interp` and at least
    /// one other mode are measured.
    pub fn new(name_width: usize, modes: &[Mode]) -> Self {
        let speedups = modes.contains(&Mode::Interp) && modes.len() > 1;
        Self { name_width: name_width.max(4), modes: modes.to_vec(), speedups }
    }

    fn compiled_modes(&self) -> impl Iterator<Item = Mode> + '_ {
        self.modes.iter().copied().filter(|&m| m != Mode::Interp)
    }

    /// The header line followed by a rule.
    pub fn header(&self) -> String {
        let mut line = format!("{:<w$}  {:>NUM$}  {:<9}", "name", "gas used", "status", w = self.name_width);
        for mode in &self.modes {
            line += &format!("  {:>NUM$}  {:>IQR$}  {:>NUM$}", format!("{mode} time"), "iqr", format!("{mode} Mgas/s"));
        }
        for mode in self.compiled_modes() {
            if self.speedups {
                line += &format!("  {:>NUM$}  {:>RANGE$}", format!("{mode} speedup"), "range");
            }
            line += &format!("  {:>NUM$}  {:>NUM$}", format!("{mode} compile"), "tier-up");
        }
        let rule = "-".repeat(line.chars().count());
        format!("{line}\n{rule}")
    }

    /// One row. Modes missing from `row` show as `-`.
    pub fn row(&self, row: &Row) -> String {
        let gas = row.outcome.gas_used;
        let mut line = format!(
            "{:<w$}  {:>NUM$}  {:<9}",
            row.name,
            thousands(gas),
            row.outcome.status.to_string(),
            w = self.name_width
        );
        for &mode in &self.modes {
            match row.get(mode) {
                Some(m) => {
                    line += &format!(
                        "  {:>NUM$}  {:>IQR$}  {:>NUM$.1}",
                        duration(m.median_ns),
                        format!("{:.1}%", m.relative_iqr() * 100.0),
                        mgas_per_s(gas, m.median_ns)
                    )
                }
                None => line += &format!("  {:>NUM$}  {:>IQR$}  {:>NUM$}", "-", "-", "-"),
            }
        }
        for mode in self.compiled_modes() {
            if self.speedups {
                match row.speedup(mode) {
                    Some(s) => {
                        line +=
                            &format!("  {:>NUM$}  {:>RANGE$}", speedup_cell(&s), format!("{:.2}-{:.2}", s.low, s.high))
                    }
                    None => line += &format!("  {:>NUM$}  {:>RANGE$}", "-", "-"),
                }
            }
            match row.get(mode) {
                Some(m) => {
                    let tier_up = if m.tier_up_ns == 0 { "-".to_owned() } else { duration(m.tier_up_ns) };
                    line += &format!("  {:>NUM$}  {:>NUM$}", duration(m.compile_ns), tier_up)
                }
                None => line += &format!("  {:>NUM$}  {:>NUM$}", "-", "-"),
            }
        }
        line
    }

    /// The row printed for a case that failed (the reason goes to stderr).
    pub fn failed_row(&self, name: &str) -> String {
        format!("{name:<w$}  FAILED (see the error below)", w = self.name_width)
    }

    /// Lines with the geometric mean speedup of each compiled mode over `rows`, how many rows
    /// could not be told from 1.0, and a legend of the columns (empty without speedup columns
    /// or rows).
    pub fn summary(&self, rows: &[Row]) -> Vec<String> {
        if !self.speedups || rows.is_empty() {
            return Vec::new();
        }
        let mut lines: Vec<String> = self
            .compiled_modes()
            .filter_map(|mode| {
                let speedups: Vec<Speedup> = rows.iter().filter_map(|r| r.speedup(mode)).collect();
                if speedups.is_empty() {
                    return None;
                }
                let geomean = (speedups.iter().map(|s| s.ratio.ln()).sum::<f64>() / speedups.len() as f64).exp();
                let indistinct = speedups.iter().filter(|s| s.indistinct()).count();
                Some(format!(
                    "{mode} vs interp: geometric mean speedup {geomean:.2}x over {} case(s), {indistinct} within the spread (~)",
                    speedups.len()
                ))
            })
            .collect();
        lines.push(LEGEND.to_string());
        lines
    }
}

/// What the columns mean, printed under a table with speedups.
const LEGEND: &str = "time: median of interleaved runs (modes alternate run by run); iqr: interquartile \
range / median; speedup: interp median / mode median; range: interp q1 / mode q3 .. interp q3 / mode q1; \
~: the range contains 1.0, so at this spread the modes cannot be told apart; compile: time to the first \
native code (the baseline tier); tier-up: the optimising recompilation the timed runs use (compiled at once \
in jit mode, in the background in runtime mode)";

/// A speedup as shown: `5.12x`, or `~0.98x` when it cannot be told from 1.0.
pub fn speedup_cell(speedup: &Speedup) -> String {
    let mark = if speedup.indistinct() { "~" } else { "" };
    format!("{mark}{:.2}x", speedup.ratio)
}

/// Millions of gas per second for `gas` used in `ns` nanoseconds.
pub fn mgas_per_s(gas: u64, ns: u64) -> f64 {
    gas as f64 * 1e3 / ns.max(1) as f64
}

/// `ns` with a unit that keeps 3–4 significant digits.
pub fn duration(ns: u64) -> String {
    let ns_f = ns as f64;
    if ns < 1_000 {
        format!("{ns} ns")
    } else if ns < 1_000_000 {
        format!("{:.2} µs", ns_f / 1e3)
    } else if ns < 1_000_000_000 {
        format!("{:.2} ms", ns_f / 1e6)
    } else {
        format!("{:.2} s", ns_f / 1e9)
    }
}

/// `n` with `,` between groups of three digits.
pub fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// The JSON report:
///
/// ```text
/// {"rows": [{"name", "gas_used", "status", "output_hash",
///            "<mode>": {"median_ns", "q1_ns", "q3_ns", "min_ns", "runs",
///                       "compile_ns", "tier_up_ns",                    (not for interp)
///                       "speedup", "speedup_low", "speedup_high",      (when interp was measured)
///                       "indistinct"}}],                               (the range contains 1.0)
///  "failures": [{"name", "error"}]}
/// ```
///
/// Times are in nanoseconds, over the timed runs of interleaved rounds; `speedup` is interp
/// median / mode median and `speedup_low`/`speedup_high` the interval from the quartiles (see
/// [`Speedup`]).
pub fn json(rows: &[Row], failures: &[(String, BenchError)], evm: EvmUse) -> Value {
    let rows: Vec<Value> = rows
        .iter()
        .map(|row| {
            let mut obj = Map::new();
            obj.insert("name".into(), json!(row.name));
            obj.insert("gas_used".into(), json!(row.outcome.gas_used));
            obj.insert("status".into(), json!(row.outcome.status.to_string()));
            obj.insert("output_hash".into(), json!(row.outcome.output_hash().to_string()));
            for m in &row.measurements {
                let mut entry = Map::new();
                entry.insert("median_ns".into(), json!(m.median_ns));
                entry.insert("q1_ns".into(), json!(m.q1_ns));
                entry.insert("q3_ns".into(), json!(m.q3_ns));
                entry.insert("min_ns".into(), json!(m.min_ns));
                entry.insert("runs".into(), json!(m.runs));
                if m.mode != Mode::Interp {
                    entry.insert("compile_ns".into(), json!(m.compile_ns));
                    entry.insert("tier_up_ns".into(), json!(m.tier_up_ns));
                    if let Some(s) = row.speedup(m.mode) {
                        entry.insert("speedup".into(), json!(s.ratio));
                        entry.insert("speedup_low".into(), json!(s.low));
                        entry.insert("speedup_high".into(), json!(s.high));
                        entry.insert("indistinct".into(), json!(s.indistinct()));
                    }
                }
                obj.insert(m.mode.name().into(), Value::Object(entry));
            }
            Value::Object(obj)
        })
        .collect();
    let failures: Vec<Value> =
        failures.iter().map(|(name, error)| json!({ "name": name, "error": error.to_string() })).collect();
    json!({ "evm": evm.name(), "rows": rows, "failures": failures })
}

/// How the timed runs got their EVM, which the report states beside the figures: building
/// a mainnet EVM costs about as much as a small contract's transaction, in every mode.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EvmUse {
    /// A fresh EVM per transaction (the default).
    PerTransaction,
    /// One EVM per mode, kept across a case's runs (`--reuse-evm`).
    Reused,
}

impl EvmUse {
    /// The name the JSON report uses.
    pub fn name(self) -> &'static str {
        match self {
            EvmUse::PerTransaction => "per-transaction",
            EvmUse::Reused => "reused",
        }
    }

    /// The line the table ends with.
    pub fn legend(self) -> &'static str {
        match self {
            EvmUse::PerTransaction => "evm: a fresh EVM per timed run (its building is timed, in every mode)",
            EvmUse::Reused => {
                "evm: one EVM per mode kept across a case's runs (--reuse-evm), each run from the pre-state"
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1_000), "1,000");
        assert_eq!(thousands(205_087_902), "205,087,902");
        assert_eq!(duration(999), "999 ns");
        assert_eq!(duration(1_500), "1.50 µs");
        assert_eq!(duration(2_345_678), "2.35 ms");
        assert_eq!(duration(3_000_000_000), "3.00 s");
        assert_eq!(mgas_per_s(1_000_000, 1_000_000), 1000.0);
        let s = |ratio, low, high| speedup_cell(&Speedup { ratio, low, high });
        assert_eq!(s(5.123, 4.0, 6.0), "5.12x");
        assert_eq!(s(0.98, 0.9, 1.07), "~0.98x");
        assert_eq!(s(0.5, 0.4, 0.6), "0.50x");
    }
}
