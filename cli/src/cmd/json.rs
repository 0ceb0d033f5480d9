//! `--json FILE`, the same on every command that has it (`statetest`, `bench`, `run`,
//! `compile`, `store list`, `store verify`): one JSON document written to `FILE`, or to
//! stdout when `FILE` is `-`.
//!
//! One rule for every command, so a script never has to remember which command prints and
//! which writes. When the document goes to stdout, stdout carries that document and nothing
//! else: the human-readable report a command prints goes to stderr instead
//! ([`JsonTarget::human_to_stderr`]), so `revm-jit run --json - ... | jq` works and a person
//! watching still sees the report.

use serde_json::Value;
use std::{
    io::Write,
    path::{Path, PathBuf},
};

/// Where `--json` sends its document.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum JsonTarget {
    /// `--json -`: stdout, instead of the human-readable report (which goes to stderr).
    Stdout,
    /// `--json FILE`: this file, created or truncated, beside the human-readable report.
    File(PathBuf),
}

impl JsonTarget {
    /// Parses a `--json` value: `-` is stdout, anything else a file path. (The `value_parser`
    /// of every `--json` argument.)
    pub fn parse(value: &str) -> Result<Self, String> {
        match value {
            "" => Err("give a file name, or - for stdout".to_owned()),
            "-" => Ok(Self::Stdout),
            path => Ok(Self::File(PathBuf::from(path))),
        }
    }

    /// Whether the human-readable report must go to stderr, because stdout carries the
    /// document.
    pub fn human_to_stderr(target: Option<&Self>) -> bool {
        matches!(target, Some(Self::Stdout))
    }

    /// Writes `document` (pretty-printed, with a final newline) to the target.
    pub fn write(&self, document: &Value) -> Result<(), JsonWriteError> {
        let text = serde_json::to_string_pretty(document).expect("a JSON value always serializes") + "\n";
        match self {
            Self::Stdout => {
                let mut out = std::io::stdout().lock();
                out.write_all(text.as_bytes())
                    .and_then(|()| out.flush())
                    .map_err(|source| JsonWriteError { path: PathBuf::from("-"), source })
            }
            Self::File(path) => {
                std::fs::write(path, text).map_err(|source| JsonWriteError { path: path.clone(), source })
            }
        }
    }

    /// The file, when the target is one (to say where the document went).
    pub fn file(&self) -> Option<&Path> {
        match self {
            Self::Stdout => None,
            Self::File(path) => Some(path),
        }
    }
}

/// A `--json` document could not be written.
#[derive(Debug, thiserror::Error)]
#[error("cannot write the --json document to {}: {source}", path.display())]
pub struct JsonWriteError {
    /// The file (`-` for stdout).
    pub path: PathBuf,
    /// What the operating system said.
    pub source: std::io::Error,
}

/// Prints a line of a command's human-readable report: to stdout, or to stderr when `--json -`
/// gave stdout to the JSON document.
#[derive(Clone, Copy, Debug)]
pub struct Human {
    to_stderr: bool,
}

impl Human {
    /// The report's destination for a command whose `--json` is `json`.
    pub fn new(json: Option<&JsonTarget>) -> Self {
        Self { to_stderr: JsonTarget::human_to_stderr(json) }
    }

    /// Prints `line` and a newline.
    pub fn line(&self, line: impl std::fmt::Display) {
        if self.to_stderr {
            eprintln!("{line}");
        } else {
            println!("{line}");
        }
    }

    /// Flushes the destination, so rows printed as cases finish appear at once.
    pub fn flush(&self) {
        let _ = if self.to_stderr { std::io::stderr().flush() } else { std::io::stdout().flush() };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dash_is_stdout_and_anything_else_a_file() {
        assert_eq!(JsonTarget::parse("-"), Ok(JsonTarget::Stdout));
        assert_eq!(JsonTarget::parse("out.json"), Ok(JsonTarget::File("out.json".into())));
        assert!(JsonTarget::parse("").is_err());
        assert!(JsonTarget::human_to_stderr(Some(&JsonTarget::Stdout)));
        assert!(!JsonTarget::human_to_stderr(Some(&JsonTarget::File("x".into()))));
        assert!(!JsonTarget::human_to_stderr(None));
    }

    #[test]
    fn a_file_gets_the_document() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("doc.json");
        JsonTarget::File(path.clone()).write(&serde_json::json!({ "a": 1 })).unwrap();
        let read: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        assert_eq!(read["a"], 1);
        let missing = JsonTarget::File(dir.path().join("no/such/dir/doc.json"));
        let error = missing.write(&Value::Null).unwrap_err();
        assert!(error.to_string().contains("no/such/dir/doc.json"), "{error}");
    }
}
