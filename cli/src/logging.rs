//! Where the library's `tracing` events go when it runs inside the `revm-jit` binary.
//!
//! The library reports what a user must not miss — an artifact the store refused, a
//! contract that failed to compile and runs interpreted — as `tracing` warnings. Without a
//! subscriber they vanish, so the binary installs one that prints warnings and errors to
//! stderr by default; `RUST_LOG` (e.g. `RUST_LOG=revm_jit=debug`) selects more or less.

use std::io::IsTerminal;
use tracing_subscriber::{EnvFilter, filter::LevelFilter};

/// The level shown when `RUST_LOG` is unset: warnings and errors.
pub const DEFAULT_LEVEL: LevelFilter = LevelFilter::WARN;

/// The filter for the directives in `rust_log` (the value of `RUST_LOG`), or
/// [`DEFAULT_LEVEL`] when there are none. Invalid directives are skipped rather than
/// stopping the command (tracing-subscriber says which on stderr).
pub fn filter(rust_log: Option<&str>) -> EnvFilter {
    let builder = EnvFilter::builder().with_default_directive(DEFAULT_LEVEL.into());
    match rust_log {
        Some(directives) => builder.parse_lossy(directives),
        None => builder.parse_lossy(""),
    }
}

/// Installs the binary's subscriber: events at or above the level [`filter`] selects from
/// `RUST_LOG`, formatted on stderr (stdout carries the commands' results), coloured only on a
/// terminal so redirected logs stay plain text. Does nothing if a subscriber is already
/// installed.
pub fn init() {
    let rust_log = std::env::var(EnvFilter::DEFAULT_ENV).ok();
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter(rust_log.as_deref()))
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .try_init();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn warnings_by_default_and_rust_log_overrides() {
        assert_eq!(filter(None).max_level_hint(), Some(LevelFilter::WARN));
        assert_eq!(filter(Some("")).max_level_hint(), Some(LevelFilter::WARN));
        assert_eq!(filter(Some("debug")).max_level_hint(), Some(LevelFilter::DEBUG));
        assert_eq!(filter(Some("error")).max_level_hint(), Some(LevelFilter::ERROR));
        assert_eq!(filter(Some("revm_jit=trace")).max_level_hint(), Some(LevelFilter::TRACE));
        // An invalid directive is dropped, not fatal.
        assert_eq!(filter(Some("[[[")).max_level_hint(), Some(LevelFilter::WARN));
    }
}
