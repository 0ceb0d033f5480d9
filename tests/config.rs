//! `JitConfig` as a node reads it: serde round trips, partial files, environment overrides
//! with typed errors, and node defaults; `StatsSnapshot` serializes.

use revm_jit::{CompileProcess, ConfigError, JitConfig, OptLevel, StatsSnapshot};
use std::{collections::HashMap, time::Duration};

fn env(vars: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
    let vars: HashMap<String, String> = vars.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
    move |name| vars.get(name).cloned()
}

#[test]
fn defaults_are_a_nodes() {
    let config = JitConfig::default();
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    assert_eq!(config.workers, (cores / 4).clamp(1, 4));
    assert!(config.cache_time_to_idle.is_some(), "idle eviction is on");
    assert!(config.enabled && !config.eager);
}

#[test]
fn the_config_round_trips_through_serde() {
    let config = JitConfig {
        workers: 3,
        hot_threshold: 17,
        cache_time_to_idle: None,
        preload_timeout: Duration::from_millis(1500),
        compiler: revm_jit::CompilerConfig { opt_level: OptLevel::Aggressive, ..Default::default() },
        ..JitConfig::default()
    };
    let json = serde_json::to_value(&config).expect("serializes");
    assert_eq!(json["compiler"]["opt_level"], "aggressive");
    assert_eq!(json["preload_timeout"], 1.5);
    assert!(json["cache_time_to_idle"].is_null());
    let back: JitConfig = serde_json::from_value(json.clone()).expect("deserializes");
    assert_eq!(serde_json::to_value(&back).expect("serializes"), json);
    assert_eq!((back.workers, back.hot_threshold, back.cache_time_to_idle), (3, 17, None));
    assert_eq!(back.compiler.opt_level, OptLevel::Aggressive);
}

#[test]
fn a_partial_config_takes_defaults_and_an_unknown_field_is_an_error() {
    let config: JitConfig = serde_json::from_str(r#"{"workers": 2, "cache_time_to_idle": 60}"#).expect("reads");
    assert_eq!(config.workers, 2);
    assert_eq!(config.cache_time_to_idle, Some(Duration::from_secs(60)));
    assert_eq!(config.hot_threshold, JitConfig::default().hot_threshold);
    let error = serde_json::from_str::<JitConfig>(r#"{"wokers": 2}"#).expect_err("a typo is refused");
    assert!(error.to_string().contains("wokers"), "{error}");
    let error = serde_json::from_str::<JitConfig>(r#"{"compiler": {"opt_level": "max"}}"#).expect_err("bad level");
    assert!(error.to_string().contains("max"), "{error}");
}

#[test]
fn environment_overrides_apply_and_bad_values_are_typed_errors() {
    let mut config = JitConfig::default();
    config
        .apply_env_from(env(&[
            ("REVM_JIT_ENABLED", "off"),
            ("REVM_JIT_WORKERS", "3"),
            ("REVM_JIT_HOT_THRESHOLD", "1_000"),
            ("REVM_JIT_CACHE_TIME_TO_IDLE_SECS", "never"),
            ("REVM_JIT_PRELOAD_TIMEOUT_SECS", "2.5"),
            ("REVM_JIT_OPT_LEVEL", "less"),
            ("REVM_JIT_CACHE_CAPACITY_BYTES", "1048576"),
            ("REVM_JIT_TIER_UP_GAS", "off"),
        ]))
        .expect("valid values");
    assert_eq!(config.tier_up_gas, None);
    let mut tiered = JitConfig { tier_up_gas: None, ..JitConfig::default() };
    tiered
        .apply_env_from(env(&[
            ("REVM_JIT_TIER_UP_GAS", "100"),
            ("REVM_JIT_OPT_LEVEL", "Baseline"),
            ("REVM_JIT_BASELINE_MIN_COST", "0"),
        ]))
        .expect("valid");
    assert_eq!((tiered.tier_up_gas, tiered.compiler.opt_level), (Some(100), OptLevel::Baseline));
    assert_eq!(tiered.baseline_min_cost, 0);
    assert!(!config.enabled);
    assert_eq!((config.workers, config.hot_threshold), (3, 1000));
    assert_eq!(config.cache_time_to_idle, None);
    assert_eq!(config.preload_timeout, Duration::from_millis(2500));
    assert_eq!(config.compiler.opt_level, OptLevel::Less);
    assert_eq!(config.cache_capacity_bytes, 1 << 20);

    for (var, value) in [
        ("REVM_JIT_WORKERS", "many"),
        ("REVM_JIT_WORKERS", "0"),
        ("REVM_JIT_EAGER", "maybe"),
        ("REVM_JIT_HOT_THRESHOLD", "-1"),
        ("REVM_JIT_PRELOAD_TIMEOUT_SECS", "soon"),
        ("REVM_JIT_OPT_LEVEL", "O9"),
        ("REVM_JIT_TIER_UP_GAS", "soon"),
        ("REVM_JIT_BASELINE_MIN_COST", "cheap"),
    ] {
        let error: ConfigError = JitConfig::default().apply_env_from(env(&[(var, value)])).expect_err(value);
        assert_eq!((error.var, error.value.as_str()), (var, value));
        assert!(error.to_string().contains(var), "{error}");
    }
    // Nothing set: nothing changes.
    let mut untouched = JitConfig::default();
    untouched.apply_env_from(|_| None).expect("no variables");
    assert_eq!(
        serde_json::to_value(&untouched).expect("serializes"),
        serde_json::to_value(JitConfig::default()).expect("serializes")
    );
}

#[test]
fn the_compiler_process_is_read_from_the_environment_and_from_serde() {
    let mut config = JitConfig::default();
    assert_eq!(config.compiler.process, None, "in process by default");
    config
        .apply_env_from(env(&[
            ("REVM_JIT_COMPILE_PROCESS", "/usr/bin/revm-jit"),
            ("REVM_JIT_COMPILE_TIME_LIMIT_SECS", "2.5"),
            ("REVM_JIT_COMPILE_MEMORY_LIMIT_BYTES", "1_000_000"),
        ]))
        .expect("valid");
    let expected = CompileProcess {
        program: "/usr/bin/revm-jit".into(),
        time_limit: Duration::from_millis(2500),
        memory_limit: 1_000_000,
    };
    assert_eq!(config.compiler.process.as_ref(), Some(&expected));
    let json = serde_json::to_value(&config).expect("serializes");
    assert_eq!(json["compiler"]["process"]["time_limit"], 2.5);
    let back: JitConfig = serde_json::from_value(json).expect("deserializes");
    assert_eq!(back.compiler.process, Some(expected));
    // A partial table takes the default budget.
    let partial: JitConfig =
        serde_json::from_str(r#"{"compiler": {"process": {"program": "revm-jit"}}}"#).expect("reads");
    assert_eq!(partial.compiler.process, Some(CompileProcess::new("revm-jit")));

    config.apply_env_from(env(&[("REVM_JIT_COMPILE_PROCESS", "off")])).expect("valid");
    assert_eq!(config.compiler.process, None);
    let mut itself = JitConfig::default();
    itself.apply_env_from(env(&[("REVM_JIT_COMPILE_PROCESS", "self")])).expect("valid");
    assert_eq!(itself.compiler.process.map(|p| p.program), Some(std::env::current_exe().unwrap()));
    // A budget without a program, or one that cannot be read, is an error naming its variable.
    for (var, value) in [("REVM_JIT_COMPILE_TIME_LIMIT_SECS", "1"), ("REVM_JIT_COMPILE_MEMORY_LIMIT_BYTES", "1")] {
        let error = JitConfig::default().apply_env_from(env(&[(var, value)])).expect_err(var);
        assert_eq!(error.var, var);
    }
    let error = JitConfig::default()
        .apply_env_from(env(&[("REVM_JIT_COMPILE_PROCESS", "x"), ("REVM_JIT_COMPILE_TIME_LIMIT_SECS", "soon")]))
        .expect_err("not seconds");
    assert_eq!(error.var, "REVM_JIT_COMPILE_TIME_LIMIT_SECS");
}

#[test]
fn stats_serialize_with_the_fallback_reasons() {
    let stats = StatsSnapshot { lookups: 5, ..Default::default() };
    let json = serde_json::to_value(stats).expect("serializes");
    assert_eq!(json["lookups"], 5);
    assert_eq!(json["interpreted"]["not_hot"], 0);
    let back: StatsSnapshot = serde_json::from_value(json).expect("deserializes");
    assert_eq!(back, stats);
}
