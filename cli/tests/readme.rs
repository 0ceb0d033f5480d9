//! The README is the truth about the command line: every command, subcommand and long flag
//! the parser accepts, every value of a flag that takes a fixed set (the modes, the
//! optimisation levels), and every cargo feature of the workspace must be in README.md.
//!
//! Each command has its synopsis in the README, one line starting `revm-jit <command>` (long
//! synopses go on over indented lines), and each long flag of the command must be in that
//! synopsis, so a flag is documented where its command is. The test walks the clap command
//! tree, so a flag added to the code without a word in the README fails here, naming it.

use clap::CommandFactory;
use revm_jit_cli::Cli;

fn readme() -> String {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../README.md");
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("reading {path}: {e}"))
}

/// The synopsis of `revm-jit <path>` in `readme`: every line starting with it (followed by a
/// space or the end of the line), each with the indented lines after it. Empty if there is
/// none.
fn synopsis(readme: &str, path: &str) -> String {
    let head = format!("revm-jit {path}");
    let mut out = String::new();
    let mut lines = readme.lines().peekable();
    while let Some(line) = lines.next() {
        let starts = line.strip_prefix(&head).is_some_and(|rest| rest.is_empty() || rest.starts_with(' '));
        if !starts {
            continue;
        }
        out.push_str(line);
        out.push('\n');
        while let Some(next) = lines.peek().filter(|l| l.starts_with(' ') && !l.trim().is_empty()) {
            out.push_str(next);
            out.push('\n');
            lines.next();
        }
    }
    out
}

/// Whether `text` holds `flag` as a whole flag (`--store` is not found in `--store-dir`).
fn has_flag(text: &str, flag: &str) -> bool {
    text.match_indices(flag).any(|(i, _)| {
        let after = text[i + flag.len()..].chars().next();
        !after.is_some_and(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    })
}

/// Every command path below the root (`bench`, `store list`, ...) with its clap command.
fn commands(cmd: &clap::Command, prefix: &str, out: &mut Vec<(String, clap::Command)>) {
    for sub in cmd.get_subcommands().filter(|s| !s.is_hide_set() && s.get_name() != "help") {
        let path = if prefix.is_empty() { sub.get_name().to_owned() } else { format!("{prefix} {}", sub.get_name()) };
        out.push((path.clone(), sub.clone()));
        commands(sub, &path, out);
    }
}

#[test]
fn every_command_and_flag_is_in_the_readme() {
    let readme = readme();
    let mut root = Cli::command();
    root.build();
    let mut all = Vec::new();
    commands(&root, "", &mut all);
    assert!(all.len() >= 8, "the command tree looks empty: {:?}", all.iter().map(|(p, _)| p).collect::<Vec<_>>());

    let mut missing = Vec::new();
    for (path, cmd) in &all {
        let synopsis = synopsis(&readme, path);
        if synopsis.is_empty() {
            missing.push(format!("command `revm-jit {path}`: no synopsis line starting `revm-jit {path}`"));
            continue;
        }
        for arg in cmd.get_arguments().filter(|a| !a.is_hide_set()) {
            // clap's own `--help` and `--version`.
            if matches!(arg.get_id().as_str(), "help" | "version") {
                continue;
            }
            if let Some(long) = arg.get_long() {
                let flag = format!("--{long}");
                if !has_flag(&synopsis, &flag) {
                    missing.push(format!("flag `{flag}` of `revm-jit {path}`: not in its synopsis"));
                }
            }
            for value in arg.get_possible_values().iter().filter(|v| !v.is_hide_set()) {
                let quoted = format!("`{}`", value.get_name());
                if !readme.contains(&quoted) && !synopsis.contains(value.get_name()) {
                    missing.push(format!("value {quoted} of `--{}` of `revm-jit {path}`", arg.get_id()));
                }
            }
        }
    }
    assert!(missing.is_empty(), "README.md does not mention:\n  {}", missing.join("\n  "));
}

/// The names of the `[features]` of a Cargo.toml (read line by line: no TOML parser needed
/// for `name = [...]` lines).
fn features(manifest: &str) -> Vec<String> {
    let mut in_features = false;
    let mut out = Vec::new();
    for line in manifest.lines() {
        let line = line.trim();
        if line.starts_with('[') {
            in_features = line == "[features]";
        } else if in_features && let Some((name, _)) = line.split_once('=') {
            let name = name.trim();
            if !name.starts_with('#') && name != "default" {
                out.push(name.to_owned());
            }
        }
    }
    out
}

#[test]
fn every_feature_and_the_inspection_mode_are_in_the_readme() {
    let readme = readme();
    let mut missing = Vec::new();
    for manifest in
        [concat!(env!("CARGO_MANIFEST_DIR"), "/../Cargo.toml"), concat!(env!("CARGO_MANIFEST_DIR"), "/Cargo.toml")]
    {
        let text = std::fs::read_to_string(manifest).unwrap();
        let names = features(&text);
        assert!(!names.is_empty() || manifest.ends_with("cli/Cargo.toml"), "no features read from {manifest}");
        for name in names {
            if !readme.contains(&format!("`{name}`")) {
                missing.push(format!("feature `{name}` of {manifest}"));
            }
        }
    }
    for name in
        ["InspectionMode", "InspectionMode::Native", "InspectionMode::Interpreted", "JitEvm::new", "set_enabled"]
    {
        if !readme.contains(name) {
            missing.push(format!("`{name}`"));
        }
    }
    assert!(missing.is_empty(), "README.md does not mention:\n  {}", missing.join("\n  "));
}

#[test]
fn synopsis_and_flag_matching() {
    let text = "intro\nrevm-jit bench [--mode M]\n    [--json FILE]\nrevm-jit benchmark --x\nrevm-jit store list --json FILE DIR\n";
    assert_eq!(synopsis(text, "bench"), "revm-jit bench [--mode M]\n    [--json FILE]\n");
    assert_eq!(synopsis(text, "store list"), "revm-jit store list --json FILE DIR\n");
    // A command's synopsis includes its subcommands' lines.
    assert_eq!(synopsis(text, "store"), "revm-jit store list --json FILE DIR\n");
    assert_eq!(synopsis(text, "run"), "");
    assert!(has_flag("[--store DIR]", "--store"));
    assert!(!has_flag("[--store-dir DIR]", "--store"));
    assert_eq!(
        features("[package]\nx = 1\n[features]\ndefault = [\"a\"]\na = []\nb = [\"dep:c\"]\n[deps]\nd = 1\n"),
        ["a", "b"]
    );
}
