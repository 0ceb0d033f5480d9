//! Loading state-test fixture files into revm-statetest-types' serde types.
//!
//! A fixture file maps test names to test units. Each unit is deserialized with the
//! types of `revm-statetest-types` ([`Env`], [`AccountInfo`], [`Test`],
//! [`TransactionParts`]), with two differences from that crate's `TestUnit`:
//!
//! - fork names in `post` are kept as strings, so that a fork the runner does not know
//!   can be skipped *by name* instead of being folded into an anonymous "unknown";
//! - the transaction is read through [`serde_json::Value`] first, so that the
//!   ethereum/tests notation `0x:bigint 0x…` for integers wider than 256 bits (used by
//!   `ValueOverflow*` to describe a transaction whose RLP is invalid) is understood: such
//!   a field makes every case that uses it a rejected transaction instead of making the
//!   whole file unreadable.
//!
//! Errors name the file and the JSON path of the offending field (found by scanning the
//! text up to the position serde reports), e.g.
//! `…/add11.json: field \`add11/pre/0x0f…/nonce\`: invalid digit found in string at line 12 column 31`.

use revm::primitives::{AddressMap, Bytes, U256};
use revm_statetest_types::{AccountInfo, Env, Test, TransactionParts};
use serde::Deserialize;
use serde_json::error::Category;
use std::{
    collections::BTreeMap,
    fmt,
    path::{Path, PathBuf},
};

/// A state-test file that could not be loaded.
///
/// Every variant names the file; parse errors also name the JSON path of the field
/// serde was reading when it failed.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// The file could not be read (missing, unreadable, not UTF-8).
    #[error("{}: cannot read the file: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// What the operating system said.
        source: std::io::Error,
    },
    /// The file is not valid JSON (malformed or truncated).
    #[error("{}: malformed JSON at {field}: {source}", path.display())]
    Syntax {
        /// The file.
        path: PathBuf,
        /// JSON path of the value being read when the syntax error was found.
        field: FieldPath,
        /// serde_json's error, with line and column.
        source: serde_json::Error,
    },
    /// The file is valid JSON but not a valid state test (missing field, wrong type,
    /// a hex string that is not hex, …).
    #[error("{}: field {field}: {source}", path.display())]
    Data {
        /// The file.
        path: PathBuf,
        /// JSON path of the offending field (for a missing field: the object lacking it).
        field: FieldPath,
        /// serde_json's error.
        source: serde_json::Error,
    },
}

impl LoadError {
    /// The file this error is about.
    pub fn path(&self) -> &Path {
        match self {
            LoadError::Io { path, .. } | LoadError::Syntax { path, .. } | LoadError::Data { path, .. } => path,
        }
    }
}

/// A JSON path such as `add11/pre/0x0f…/nonce`, naming where in a fixture an error is.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FieldPath(pub Vec<String>);

impl FieldPath {
    /// The path with `segments` appended.
    fn join<I: IntoIterator<Item = String>>(mut self, segments: I) -> Self {
        self.0.extend(segments);
        self
    }
}

impl fmt::Display for FieldPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.is_empty() { f.write_str("`(top level)`") } else { write!(f, "`{}`", self.0.join("/")) }
    }
}

/// One parsed fixture file: its tests, sorted by name.
#[derive(Debug)]
pub struct FixtureFile {
    /// Where the file was read from.
    pub path: PathBuf,
    /// The tests of the file, sorted by name.
    pub tests: Vec<FixtureTest>,
}

/// One named test of a fixture file: environment, pre-state, transaction parts and the
/// expected post-states per fork.
#[derive(Debug)]
pub struct FixtureTest {
    /// The test's name (its key in the file).
    pub name: String,
    /// Block environment.
    pub env: Env,
    /// Accounts before the transaction.
    pub pre: AddressMap<AccountInfo>,
    /// Expected results per fork name (as written in the file) and post-state index.
    pub post: BTreeMap<String, Vec<Test>>,
    /// The transaction, with one entry per index in its `data`, `gasLimit`, `value` lists.
    pub transaction: TransactionParts,
    /// Transaction fields written as `0x:bigint` that do not fit in 256 bits; a case
    /// using one is an invalid transaction. Their value in `transaction` is zero.
    pub oversized: Vec<OversizedField>,
    /// Expected return data, when the fixture gives it.
    pub out: Option<Bytes>,
}

/// A transaction field whose `0x:bigint` value does not fit in 256 bits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OversizedField {
    /// The field's name in the fixture (`value`, `gasLimit`, `nonce`, …).
    pub field: String,
    /// The position in the field's list, for list fields.
    pub index: Option<usize>,
}

impl fmt::Display for OversizedField {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.index {
            Some(i) => write!(f, "transaction.{}[{i}]", self.field),
            None => write!(f, "transaction.{}", self.field),
        }
    }
}

/// A test unit as it is in the file, before the transaction is interpreted.
#[derive(Deserialize)]
struct RawUnit {
    env: Env,
    pre: AddressMap<AccountInfo>,
    post: BTreeMap<String, Vec<Test>>,
    transaction: serde_json::Value,
    #[serde(default)]
    out: Option<Bytes>,
}

/// Reads and parses the state-test file at `path`.
pub fn load_file(path: &Path) -> Result<FixtureFile, LoadError> {
    let text = std::fs::read_to_string(path).map_err(|source| LoadError::Io { path: path.to_path_buf(), source })?;
    parse_fixture(path, &text)
}

/// Parses the text of a state-test file; `path` is only used to name it in errors.
pub fn parse_fixture(path: &Path, text: &str) -> Result<FixtureFile, LoadError> {
    let raw: BTreeMap<String, RawUnit> =
        serde_json::from_str(text).map_err(|source| json_error(path, text, FieldPath::default(), source))?;
    let mut tests = Vec::with_capacity(raw.len());
    for (name, unit) in raw {
        let (transaction, oversized) = parse_transaction(path, &name, unit.transaction)?;
        tests.push(FixtureTest {
            name,
            env: unit.env,
            pre: unit.pre,
            post: unit.post,
            transaction,
            oversized,
            out: unit.out,
        });
    }
    Ok(FixtureFile { path: path.to_path_buf(), tests })
}

/// Interprets a test's `transaction` object, resolving `0x:bigint` values.
fn parse_transaction(
    path: &Path,
    test: &str,
    mut value: serde_json::Value,
) -> Result<(TransactionParts, Vec<OversizedField>), LoadError> {
    let mut oversized = Vec::new();
    if let serde_json::Value::Object(fields) = &mut value {
        for (name, field) in fields.iter_mut() {
            let items: Vec<(Option<usize>, &mut serde_json::Value)> = match field {
                serde_json::Value::Array(items) => {
                    items.iter_mut().enumerate().map(|(i, item)| (Some(i), item)).collect()
                }
                scalar => vec![(None, scalar)],
            };
            for (index, item) in items {
                if let serde_json::Value::String(s) = item
                    && resolve_bigint(s)
                {
                    oversized.push(OversizedField { field: name.clone(), index });
                }
            }
        }
    }
    match TransactionParts::deserialize(&value) {
        Ok(parts) => Ok((parts, oversized)),
        Err(source) => {
            // A `Value` has no positions; re-read a rendering of it to find the field.
            let base = FieldPath(vec![test.to_string(), "transaction".to_string()]);
            let rendered = serde_json::to_string_pretty(&value).unwrap_or_default();
            let field = match serde_json::from_str::<TransactionParts>(&rendered) {
                Err(e) => base.join(path_at(&rendered, e.line(), e.column()).0),
                Ok(_) => base,
            };
            Err(LoadError::Data { path: path.to_path_buf(), field, source })
        }
    }
}

/// Rewrites an ethereum/tests `0x:bigint 0x…` string in place into plain hex.
///
/// Returns true when the number does not fit in 256 bits (the string then becomes `0x00`).
fn resolve_bigint(s: &mut String) -> bool {
    let Some(rest) = s.strip_prefix("0x:bigint ") else {
        return false;
    };
    let digits = rest.trim().trim_start_matches("0x");
    match U256::from_str_radix(digits, 16) {
        Ok(v) => {
            *s = format!("{v:#x}");
            false
        }
        Err(_) => {
            *s = "0x00".to_string();
            true
        }
    }
}

/// Turns a serde_json error on `text` into a [`LoadError`] naming the field.
///
/// serde_json reports a data error just after the offending value (or on the `}` of an
/// object missing a field), and a syntax error *on* the offending character, so the
/// scan for the field's path stops after, respectively before, that position.
fn json_error(path: &Path, text: &str, base: FieldPath, source: serde_json::Error) -> LoadError {
    let (line, column) = (source.line(), source.column());
    match source.classify() {
        Category::Data => {
            LoadError::Data { path: path.to_path_buf(), field: base.join(path_at(text, line, column).0), source }
        }
        Category::Syntax | Category::Eof | Category::Io => LoadError::Syntax {
            path: path.to_path_buf(),
            field: base.join(path_at(text, line, column.saturating_sub(1)).0),
            source,
        },
    }
}

/// Where the scan of [`path_at`] is inside a JSON container.
enum Frame {
    /// Inside an object; the last key read, and whether the next string is a key.
    Object { key: Option<String>, expect_key: bool },
    /// Inside an array, at this element.
    Array { index: usize },
}

/// The JSON path of the value being read at 1-based `line`, `column` of `text`.
///
/// Scans the text up to that point keeping a stack of open objects (with their last
/// key) and arrays (with the current index). serde_json reports data errors just
/// after the offending value, or at the end of an object missing a field, so the
/// stack names the field, or the object lacking one.
fn path_at(text: &str, line: usize, column: usize) -> FieldPath {
    let bytes = text.as_bytes();
    let end = byte_offset(text, line, column).min(bytes.len());
    let mut stack: Vec<Frame> = Vec::new();
    let mut i = 0;
    while i < end {
        match bytes[i] {
            b'{' => stack.push(Frame::Object { key: None, expect_key: true }),
            b'[' => stack.push(Frame::Array { index: 0 }),
            b'}' | b']' => {
                stack.pop();
            }
            b',' => match stack.last_mut() {
                Some(Frame::Object { expect_key, .. }) => *expect_key = true,
                Some(Frame::Array { index }) => *index += 1,
                None => {}
            },
            b':' => {
                if let Some(Frame::Object { expect_key, .. }) = stack.last_mut() {
                    *expect_key = false;
                }
            }
            b'"' => {
                let start = i + 1;
                i += 1;
                while i < end && bytes[i] != b'"' {
                    if bytes[i] == b'\\' {
                        i += 1;
                    }
                    i += 1;
                }
                if let Some(Frame::Object { key, expect_key: true }) = stack.last_mut() {
                    *key = Some(String::from_utf8_lossy(&bytes[start..i.min(end)]).into_owned());
                }
            }
            _ => {}
        }
        i += 1;
    }
    FieldPath(
        stack
            .into_iter()
            .filter_map(|frame| match frame {
                Frame::Object { key, .. } => key,
                Frame::Array { index } => Some(index.to_string()),
            })
            .collect(),
    )
}

/// Byte offset just past the 1-based `line`/`column` position serde_json reports.
fn byte_offset(text: &str, line: usize, column: usize) -> usize {
    if line == 0 {
        return text.len();
    }
    let line_start: usize = text.split_inclusive('\n').take(line - 1).map(str::len).sum();
    line_start + column
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn path_of_a_nested_value() {
        let text = "{\n \"t\": {\"pre\": {\"0xab\": {\"nonce\": \"zz\"}}, \"l\": [1, 2]}}";
        let line2 = &text[text.find('\n').unwrap() + 1..];
        let col = line2.find("\"zz\"").unwrap() + 4;
        assert_eq!(path_at(text, 2, col).0, vec!["t", "pre", "0xab", "nonce"]);
        let col = line2.find('2').unwrap() + 1;
        assert_eq!(path_at(text, 2, col).0, vec!["t", "l", "1"]);
    }

    #[test]
    fn bigint_values() {
        let mut small = "0x:bigint 0x10".to_string();
        assert!(!resolve_bigint(&mut small));
        assert_eq!(small, "0x10");
        let mut big = format!("0x:bigint 0x1{}", "0".repeat(64));
        assert!(resolve_bigint(&mut big));
        assert_eq!(big, "0x00");
        let mut plain = "0x05".to_string();
        assert!(!resolve_bigint(&mut plain));
        assert_eq!(plain, "0x05");
    }
}
