//! Bench output: the text table (printed row by row as cases finish) and the JSON
//! report.

use super::{BenchError, Row};
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
            line += &format!("  {:>NUM$}  {:>NUM$}", format!("{mode} time"), format!("{mode} Mgas/s"));
        }
        for mode in self.compiled_modes() {
            if self.speedups {
                line += &format!("  {:>NUM$}", format!("{mode} speedup"));
            }
            line += &format!("  {:>NUM$}", format!("{mode} compile"));
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
                    line += &format!("  {:>NUM$}  {:>NUM$.1}", duration(m.median_ns), mgas_per_s(gas, m.median_ns))
                }
                None => line += &format!("  {:>NUM$}  {:>NUM$}", "-", "-"),
            }
        }
        for mode in self.compiled_modes() {
            if self.speedups {
                match row.speedup(mode) {
                    Some(s) => line += &format!("  {:>NUM$}", format!("{s:.2}x")),
                    None => line += &format!("  {:>NUM$}", "-"),
                }
            }
            match row.get(mode) {
                Some(m) => line += &format!("  {:>NUM$}", duration(m.compile_ns)),
                None => line += &format!("  {:>NUM$}", "-"),
            }
        }
        line
    }

    /// The row printed for a case that failed (the reason goes to stderr).
    pub fn failed_row(&self, name: &str) -> String {
        format!("{name:<w$}  FAILED (see the error below)", w = self.name_width)
    }

    /// Lines with the geometric mean speedup of each compiled mode over `rows` (empty
    /// without speedup columns or rows).
    pub fn summary(&self, rows: &[Row]) -> Vec<String> {
        if !self.speedups || rows.is_empty() {
            return Vec::new();
        }
        self.compiled_modes()
            .filter_map(|mode| {
                let speedups: Vec<f64> = rows.iter().filter_map(|r| r.speedup(mode)).collect();
                if speedups.is_empty() {
                    return None;
                }
                let geomean = (speedups.iter().map(|s| s.ln()).sum::<f64>() / speedups.len() as f64).exp();
                Some(format!("{mode} vs interp: geometric mean speedup {geomean:.2}x over {} case(s)", speedups.len()))
            })
            .collect()
    }
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

/// The JSON report: `{"rows": [{"name", "gas_used", "status", "output_hash",
/// "<mode>": {"median_ns", "runs", "compile_ns"}}], "failures": [{"name", "error"}]}`;
/// `compile_ns` only for modes other than `interp`.
pub fn json(rows: &[Row], failures: &[(String, BenchError)]) -> Value {
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
                entry.insert("runs".into(), json!(m.runs));
                if m.mode != Mode::Interp {
                    entry.insert("compile_ns".into(), json!(m.compile_ns));
                }
                obj.insert(m.mode.name().into(), Value::Object(entry));
            }
            Value::Object(obj)
        })
        .collect();
    let failures: Vec<Value> =
        failures.iter().map(|(name, error)| json!({ "name": name, "error": error.to_string() })).collect();
    json!({ "rows": rows, "failures": failures })
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
    }
}
