//! Progress of a run, reported per directory of fixture files.

use super::report::Counts;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::{io::IsTerminal, time::Duration};

/// A finished directory: its files and the counts of their cases.
#[derive(Debug, Clone)]
pub struct DirSummary {
    /// The directory, relative to the path it was found under.
    pub dir: String,
    /// Number of fixture files in it (not counting subdirectories).
    pub files: usize,
    /// Counts of its cases.
    pub counts: Counts,
    /// Wall-clock time from the start of the run until the directory finished.
    pub elapsed: Duration,
}

impl std::fmt::Display for DirSummary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}: {} files, {} passed, {} failed, {} skipped [{:.1}s]",
            self.dir,
            self.files,
            self.counts.passed,
            self.counts.failed,
            self.counts.skipped,
            self.elapsed.as_secs_f64()
        )
    }
}

/// Receives the progress of a run (called from the thread that started the run).
pub trait Progress {
    /// The run starts with `files` fixture files.
    fn start(&mut self, files: usize);
    /// A file of directory `dir` is done.
    fn file_done(&mut self, dir: &str);
    /// Every file of a directory is done.
    fn dir_done(&mut self, summary: &DirSummary);
    /// The run is over.
    fn finish(&mut self);
}

/// Reports nothing (library use, tests).
#[derive(Debug, Default, Clone, Copy)]
pub struct Quiet;

impl Progress for Quiet {
    fn start(&mut self, _files: usize) {}
    fn file_done(&mut self, _dir: &str) {}
    fn dir_done(&mut self, _summary: &DirSummary) {}
    fn finish(&mut self) {}
}

/// Progress on stderr: an indicatif bar when stderr is a terminal, plain lines (one per
/// finished directory) otherwise, so that logs stay readable.
#[derive(Debug)]
pub struct Console {
    bar: Option<ProgressBar>,
    prefix: String,
}

impl Console {
    /// Chooses the bar or plain lines by whether stderr is a terminal; `prefix` starts
    /// every line (e.g. the mode, when several modes run one after the other).
    pub fn new(prefix: impl Into<String>) -> Self {
        let bar = std::io::stderr().is_terminal().then(|| {
            let bar = ProgressBar::with_draw_target(Some(0), ProgressDrawTarget::stderr());
            let style = ProgressStyle::with_template("{prefix}[{elapsed_precise}] {wide_bar} {pos}/{len} files  {msg}")
                .unwrap_or_else(|_| ProgressStyle::default_bar());
            bar.set_style(style);
            bar
        });
        Self { bar, prefix: prefix.into() }
    }
}

impl Progress for Console {
    fn start(&mut self, files: usize) {
        match &self.bar {
            Some(bar) => {
                bar.set_length(files as u64);
                bar.set_prefix(self.prefix.clone());
            }
            None => eprintln!("{}running {files} files", self.prefix),
        }
    }

    fn file_done(&mut self, dir: &str) {
        if let Some(bar) = &self.bar {
            bar.set_message(dir.to_string());
            bar.inc(1);
        }
    }

    fn dir_done(&mut self, summary: &DirSummary) {
        let c = summary.counts;
        if c.passed + c.failed + c.skipped == 0 {
            // Nothing in it was selected (--filter): not worth a line.
            return;
        }
        match &self.bar {
            Some(bar) => bar.println(format!("{}{summary}", self.prefix)),
            None => eprintln!("{}{summary}", self.prefix),
        }
    }

    fn finish(&mut self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}
