//! Whole transactions through `common::Scenario`: calls of every kind, re-entrancy, deep
//! recursion, static-call violations, CREATE/CREATE2, SELFDESTRUCT and refunds, every fork.
//! Each compares the interpreter's and native code's results and state, and requires every
//! frame of the native run to have run natively.

use crate::FORKS;
use crate::code::{Code, w};
use crate::common::frame::Mismatches;
use crate::common::{OTHER, Outcome, Scenario, TARGET};
use revm::bytecode::opcode as op;
use revm::context::result::{ExecutionResult, HaltReason};
use revm::primitives::{Address, Bytes, U256, address, hardfork::SpecId};
use revm_jit_cli::exec::Mode;

const FRESH: Address = address!("0x00000000000000000000000000000000000000e0");

fn addr(a: Address) -> U256 {
    U256::from_be_slice(a.as_slice())
}

/// Runs `s` in both modes and records any difference; returns the interpreter's outcome.
fn compare(m: &mut Mismatches, s: &Scenario, name: &str) -> Outcome {
    m.cases += 1;
    let interp = s.run(Mode::Interp);
    let jit = s.run(Mode::Jit);
    let head = format!(
        "[{name}] spec={:?} gas={} code=0x{} other=0x{} calldata=0x{}\n",
        s.spec,
        s.gas_limit,
        revm::primitives::hex::encode(&s.code),
        revm::primitives::hex::encode(&s.other_code),
        revm::primitives::hex::encode(&s.calldata)
    );
    if jit.result.result != interp.result.result {
        m.record(format!(
            "{head}  result:\n    interp: {:?}\n    native: {:?}\n",
            interp.result.result, jit.result.result
        ));
    } else if jit.result.state != interp.result.state {
        m.record(format!(
            "{head}  state:\n    interp: {:?}\n    native: {:?}\n",
            interp.result.state, jit.result.state
        ));
    }
    if jit.frames.interpreted != 0 || (jit.frames.native == 0 && !s.code.is_empty()) {
        m.record(format!("{head}  frames not all native: {:?}\n", jit.frames));
    }
    interp
}

/// `kind` call to `to` with `value` (ignored for DELEGATECALL/STATICCALL), `gas`, input
/// memory [0, in_len), output memory [64, 96). Leaves the success flag on the stack.
fn call(code: Code, kind: u8, to: U256, value: u64, gas: U256, in_len: u64) -> Code {
    let mut c = code.push(w(32)).push(w(64)).push(w(in_len)).push(w(0));
    if kind == op::CALL || kind == op::CALLCODE {
        c = c.push(w(value));
    }
    c.push(to).push(gas).op(kind)
}

/// Records the call's success flag (slot 0), RETURNDATASIZE where it exists (slot 1) and the
/// output word (slot 2), then stops.
fn record(code: Code, spec: SpecId) -> Code {
    let mut c = code.push(w(0)).op(op::SSTORE);
    if spec.is_enabled_in(SpecId::BYZANTIUM) {
        c = c.op(op::RETURNDATASIZE).push(w(1)).op(op::SSTORE);
    }
    c.push(w(64)).op(op::MLOAD).push(w(2)).op(op::SSTORE).op(op::STOP)
}

/// Code for OTHER, by behaviour.
fn callee(kind: &str) -> Bytes {
    match kind {
        "return" => Code::new()
            .op(op::CALLVALUE)
            .op(op::CALLER)
            .op(op::XOR)
            .push(w(0))
            .op(op::CALLDATALOAD)
            .op(op::ADD)
            .ret_top()
            .build(),
        "revert" => Code::new().push(w(0xdead)).push(w(0)).op(op::MSTORE).push(w(32)).push(w(0)).op(op::REVERT).build(),
        "oog" => Code::new().label("l").jump_to("l").build(),
        "invalid" => Code::new().push(w(1)).push(w(2)).op(op::INVALID).build(),
        "sstore" => Code::new().push(w(0x55)).push(w(3)).op(op::SSTORE).op(op::ADDRESS).ret_top().build(),
        "selfdestruct" => Code::new().push(addr(FRESH)).op(op::SELFDESTRUCT).build(),
        "stop" => Code::new().op(op::STOP).build(),
        _ => unreachable!("{kind}"),
    }
}

#[test]
fn calls_of_every_kind() {
    let mut m = Mismatches::default();
    let kinds = [op::CALL, op::CALLCODE, op::DELEGATECALL, op::STATICCALL];
    for &spec in FORKS {
        for kind in kinds {
            for behaviour in ["return", "revert", "oog", "invalid", "sstore", "selfdestruct", "stop"] {
                for value in [0u64, 3] {
                    if value > 0 && !(kind == op::CALL || kind == op::CALLCODE) {
                        continue;
                    }
                    let c = Code::new().push(w(0x1234)).push(w(0)).op(op::MSTORE);
                    let code = record(call(c, kind, addr(OTHER), value, w(100_000), 32), spec).build();
                    let s = Scenario::new(code).spec(spec).other(callee(behaviour));
                    compare(&mut m, &s, &format!("{kind:#x} {behaviour} value {value}"));
                }
            }
        }
    }
    m.finish();
}

/// Calls to an account without code, a precompile, with all gas, with more value than the
/// balance, and with gas given as a huge number.
#[test]
fn call_edge_cases() {
    let mut m = Mismatches::default();
    for &spec in FORKS {
        let cases: Vec<(&str, Code)> = vec![
            ("to empty account with value", call(Code::new(), op::CALL, addr(FRESH), 1, w(0), 0)),
            ("to empty account no value", call(Code::new(), op::CALL, addr(FRESH), 0, w(5000), 0)),
            (
                "to identity precompile",
                call(Code::new().push(w(0xabcdef)).push(w(0)).op(op::MSTORE), op::CALL, w(4), 0, w(5000), 32),
            ),
            ("to sha256 precompile", call(Code::new(), op::STATICCALL, w(2), 0, w(5000), 32)),
            ("value above balance", call(Code::new(), op::CALL, addr(OTHER), 10_000_000, w(5000), 0)),
            ("gas u256 max", call(Code::new(), op::CALL, addr(OTHER), 0, U256::MAX, 0)),
        ];
        for (name, c) in cases {
            let code = record(c, spec).build();
            let s = Scenario::new(code).spec(spec).other(callee("return")).gas(500_000);
            compare(&mut m, &s, name);
        }
    }
    m.finish();
}

/// A calls B calls A: the inner A frame writes storage and returns a word that flows back.
#[test]
fn reentrancy() {
    let mut m = Mismatches::default();
    for &spec in FORKS {
        // TARGET: with calldata → inner role: SSTORE(5, calldata word), return it + 1.
        //         without → outer role: CALL OTHER, record.
        let outer = record(call(Code::new(), op::CALL, addr(OTHER), 0, w(200_000), 0), spec);
        let code = Code::new()
            .op(op::CALLDATASIZE)
            .jumpi_to("inner")
            .raw(&outer.build())
            .label("inner")
            .push(w(0))
            .op(op::CALLDATALOAD)
            .op(op::DUP1)
            .push(w(5))
            .op(op::SSTORE)
            .push(w(1))
            .op(op::ADD)
            .ret_top()
            .build();
        // OTHER: CALL TARGET with calldata word 0x99, return what it returned.
        let other = Code::new()
            .push(w(0x99))
            .push(w(0))
            .op(op::MSTORE)
            .push(w(32))
            .push(w(0))
            .push(w(32))
            .push(w(0))
            .push(w(0))
            .push(addr(TARGET))
            .push(w(100_000))
            .op(op::CALL)
            .op(op::POP)
            .push(w(32))
            .push(w(0))
            .op(op::RETURN)
            .build();
        let s = Scenario::new(code).spec(spec).other(other);
        let out = compare(&mut m, &s, "reentrancy");
        assert!(out.result.result.is_success(), "{spec:?}: {:?}", out.result.result);
    }
    m.finish();
}

/// A contract calling itself until the depth limit (or the gas runs out), counting frames in
/// storage. Before Tangerine Whistle the callee gets exactly what is asked, so with enough gas
/// the 1025th call fails on depth.
#[test]
fn deep_recursion() {
    let mut m = Mismatches::default();
    for &spec in FORKS {
        // depth = SLOAD(0) + 1; SSTORE(0, depth); CALL(self, gas - 20000 or all); STOP
        let code = Code::new()
            .push(w(0))
            .op(op::SLOAD)
            .push(w(1))
            .op(op::ADD)
            .push(w(0))
            .op(op::SSTORE)
            .push(w(0))
            .push(w(0))
            .push(w(0))
            .push(w(0))
            .push(w(0))
            .op(op::ADDRESS)
            .push(w(12_000))
            .op(op::GAS)
            .op(op::SUB)
            .op(op::CALL)
            .push(w(1))
            .op(op::SSTORE)
            .op(op::STOP)
            .build();
        let gas = if spec.is_enabled_in(SpecId::OSAKA) { 16_000_000 } else { 30_000_000 };
        let s = Scenario::new(code).spec(spec).gas(gas);
        let out = compare(&mut m, &s, "recursion");
        let depth = out.result.state.get(&TARGET).and_then(|a| a.storage.get(&U256::ZERO)).map(|s| s.present_value);
        if !spec.is_enabled_in(SpecId::TANGERINE) {
            assert_eq!(depth, Some(w(1025)), "{spec:?}: depth limit reached");
        } else {
            assert!(depth.is_some_and(|d| d > w(10)), "{spec:?}: {depth:?}");
        }
    }
    m.finish();
}

/// State changes inside a STATICCALL fail the callee (and only it).
#[test]
fn static_call_violations() {
    let mut m = Mismatches::default();
    let violations: Vec<(&str, Code, SpecId)> = vec![
        ("SSTORE", Code::new().push(w(1)).push(w(0)).op(op::SSTORE), SpecId::BYZANTIUM),
        ("LOG0", Code::new().push(w(0)).push(w(0)).op(op::LOG0), SpecId::BYZANTIUM),
        ("LOG2", Code::new().pushes(&[w(1), w(2), w(0), w(0)]).op(op::LOG2), SpecId::BYZANTIUM),
        ("CREATE", Code::new().push(w(0)).push(w(0)).push(w(0)).op(op::CREATE), SpecId::BYZANTIUM),
        ("CREATE2", Code::new().pushes(&[w(0), w(0), w(0), w(0)]).op(op::CREATE2), SpecId::PETERSBURG),
        (
            "CALL with value",
            Code::new().pushes(&[w(0), w(0), w(0), w(0), w(1), addr(FRESH), w(0)]).op(op::CALL),
            SpecId::BYZANTIUM,
        ),
        ("SELFDESTRUCT", Code::new().push(addr(FRESH)).op(op::SELFDESTRUCT), SpecId::BYZANTIUM),
        ("TSTORE", Code::new().push(w(1)).push(w(0)).op(op::TSTORE), SpecId::CANCUN),
        // Allowed: a CALL without value and reading opcodes.
        (
            "CALL without value (allowed)",
            Code::new().pushes(&[w(0), w(0), w(0), w(0), w(0), addr(FRESH), w(0)]).op(op::CALL),
            SpecId::BYZANTIUM,
        ),
        ("SLOAD (allowed)", Code::new().push(w(0)).op(op::SLOAD), SpecId::BYZANTIUM),
    ];
    for &spec in FORKS {
        for (name, violation, since) in &violations {
            if !spec.is_enabled_in(*since) {
                continue;
            }
            let other = violation.clone().push(w(1)).ret_top().build();
            let code = record(call(Code::new(), op::STATICCALL, addr(OTHER), 0, w(100_000), 0), spec).build();
            let s = Scenario::new(code).spec(spec).other(other);
            let out = compare(&mut m, &s, name);
            let flag = out.result.state.get(&TARGET).and_then(|a| a.storage.get(&U256::ZERO)).map(|s| s.present_value);
            let allowed = name.contains("allowed");
            assert_eq!(flag, Some(if allowed { w(1) } else { w(0) }), "{name} {spec:?}");
        }
        // Nested: STATICCALL OTHER, which CALLs (no value) back into TARGET, which SSTOREs.
        if spec.is_enabled_in(SpecId::BYZANTIUM) {
            let other = call(Code::new(), op::CALL, addr(TARGET), 0, w(50_000), 1).ret_top().build();
            let outer = record(call(Code::new(), op::STATICCALL, addr(OTHER), 0, w(100_000), 0), spec).build();
            let code = Code::new()
                .op(op::CALLDATASIZE)
                .jumpi_to("inner")
                .raw(&outer)
                .label("inner")
                .push(w(1))
                .push(w(7))
                .op(op::SSTORE)
                .op(op::STOP)
                .build();
            let s = Scenario::new(code).spec(spec).other(other);
            compare(&mut m, &s, "nested static");
        }
    }
    m.finish();
}

/// Init code that returns `runtime` as the new contract's code.
fn deployer(runtime: &[u8]) -> Vec<u8> {
    let mut word = [0u8; 32];
    word[..runtime.len()].copy_from_slice(runtime);
    Code::new()
        .push(U256::from_be_bytes(word))
        .push(w(0))
        .op(op::MSTORE)
        .push(w(runtime.len() as u64))
        .push(w(0))
        .op(op::RETURN)
        .build()
        .to_vec()
}

/// TARGET code: copy `init` to memory, CREATE or CREATE2 it (twice when `twice`), record the
/// address(es), then call the first created contract and record its output.
fn creator(init: &[u8], create2: bool, twice: bool, value: u64, spec: SpecId) -> Bytes {
    // Put init code in memory at 0 with CODECOPY from the end of this code.
    let times = if twice { 2 } else { 1 };
    let mut body = Code::new();
    for i in 0..times {
        if create2 {
            body = body.push(w(0x5a17));
        }
        body = body.push(w(init.len() as u64)).push(w(0)).push(w(value));
        body = body.op(if create2 { op::CREATE2 } else { op::CREATE }).push(w(10 + i)).op(op::SSTORE);
    }
    // Call the first created contract (its address is in slot 10) and record.
    let tail = Code::new()
        .push(w(32))
        .push(w(64))
        .push(w(0))
        .push(w(0))
        .push(w(0))
        .push(w(10))
        .op(op::SLOAD)
        .push(w(50_000))
        .op(op::CALL);
    let tail = record(tail, spec);
    let body = body.build();
    let tail = tail.build();
    // Layout: CODECOPY prefix (13 bytes) | body | tail | init
    let prefix_len = 13usize;
    let init_at = prefix_len + body.len() + tail.len();
    let c = Code::new().push_n(3, w(init.len() as u64)).push_n(3, w(init_at as u64)).push_n(3, w(0)).op(op::CODECOPY);
    assert_eq!(c.pc(), prefix_len);
    c.raw(&body).raw(&tail).raw(init).build()
}

#[test]
fn create_and_create2() {
    let mut m = Mismatches::default();
    let runtime = Code::new().push(w(0x77)).ret_top().build();
    let init_ok = deployer(&runtime);
    let init_revert =
        Code::new().push(w(0xbad)).push(w(0)).op(op::MSTORE).push(w(32)).push(w(0)).op(op::REVERT).build().to_vec();
    let init_invalid = vec![op::INVALID];
    let init_oog = Code::new().label("l").jump_to("l").build().to_vec();
    let init_ef = deployer(&[0xef, 0x00, 0x01]);
    let init_sstore = [Code::new().push(w(1)).push(w(1)).op(op::SSTORE).build().to_vec(), deployer(&runtime)].concat();
    let big_runtime = {
        // Returns 24577 bytes of zeros: over the EIP-170 limit from Spurious Dragon.
        Code::new().push(w(24577)).push(w(0)).op(op::RETURN).build().to_vec()
    };
    let inits: Vec<(&str, Vec<u8>)> = vec![
        ("deploys", init_ok),
        ("reverts", init_revert),
        ("invalid", init_invalid),
        ("out of gas", init_oog),
        ("0xEF code", init_ef),
        ("writes storage", init_sstore),
        ("code too large", big_runtime),
        ("empty init code", vec![]),
    ];
    for &spec in FORKS {
        for (name, init) in &inits {
            for create2 in [false, true] {
                if create2 && !spec.is_enabled_in(SpecId::PETERSBURG) {
                    continue;
                }
                for (twice, value) in [(false, 0u64), (true, 0), (false, 5)] {
                    let code = creator(init, create2, twice, value, spec);
                    let s = Scenario::new(code).spec(spec).gas(3_000_000);
                    compare(&mut m, &s, &format!("create {name} create2={create2} twice={twice} value={value}"));
                }
            }
        }
    }
    m.finish();
}

/// SELFDESTRUCT of an existing contract and of one created in the same transaction, per fork
/// (EIP-6780 from Cancun), to itself, an existing and a fresh beneficiary.
#[test]
fn selfdestruct_by_fork() {
    let mut m = Mismatches::default();
    for &spec in FORKS {
        for beneficiary in [addr(OTHER), addr(FRESH), addr(TARGET)] {
            // Existing contract destroys itself.
            let code = Code::new().push(w(1)).push(w(4)).op(op::SSTORE).push(beneficiary).op(op::SELFDESTRUCT).build();
            let s = Scenario::new(code).spec(spec).other(callee("stop"));
            let out = compare(&mut m, &s, "selfdestruct existing");
            assert!(matches!(out.result.result, ExecutionResult::Success { .. }));
            // A contract created in this transaction, destroyed by a call into it.
            let runtime = Code::new().push(beneficiary).op(op::SELFDESTRUCT).build();
            let code = creator(&deployer(&runtime), false, false, 7, spec);
            let s = Scenario::new(code).spec(spec).gas(3_000_000);
            compare(&mut m, &s, "selfdestruct created in same tx");
            // Init code that destroys itself.
            let init = Code::new().push(beneficiary).op(op::SELFDESTRUCT).build();
            let code = creator(&init, false, false, 7, spec);
            let s = Scenario::new(code).spec(spec).gas(3_000_000);
            compare(&mut m, &s, "selfdestruct in init code");
        }
        // Calling a contract that destroys itself, twice in one transaction.
        let code = record(
            call(
                call(Code::new(), op::CALL, addr(OTHER), 0, w(50_000), 0).op(op::POP),
                op::CALL,
                addr(OTHER),
                1,
                w(50_000),
                0,
            ),
            spec,
        )
        .build();
        let s = Scenario::new(code).spec(spec).other(callee("selfdestruct"));
        compare(&mut m, &s, "selfdestruct twice");
    }
    m.finish();
}

/// (name, code, initial storage of TARGET).
type RefundCase = (&'static str, Code, Vec<(U256, U256)>);

/// SSTORE refunds: clearing a slot, and setting then restoring one, before and after London.
#[test]
fn sstore_refunds() {
    let mut m = Mismatches::default();
    for &spec in FORKS {
        let cases: Vec<RefundCase> = vec![
            ("clear", Code::new().push(w(0)).push(w(1)).op(op::SSTORE), vec![(w(1), w(5))]),
            (
                "set and restore",
                Code::new().push(w(9)).push(w(1)).op(op::SSTORE).push(w(5)).push(w(1)).op(op::SSTORE),
                vec![(w(1), w(5))],
            ),
            (
                "create and clear",
                Code::new().push(w(9)).push(w(2)).op(op::SSTORE).push(w(0)).push(w(2)).op(op::SSTORE),
                vec![],
            ),
            (
                "clear many",
                (1..=6u64).fold(Code::new(), |c, k| c.push(w(0)).push(w(k)).op(op::SSTORE)),
                (1..=6u64).map(|k| (w(k), w(k))).collect(),
            ),
        ];
        for (name, c, storage) in cases {
            let mut s = Scenario::new(c.op(op::STOP).build()).spec(spec);
            s.storage = storage;
            let out = compare(&mut m, &s, name);
            match &out.result.result {
                ExecutionResult::Success { .. } => {}
                other => panic!("{name} {spec:?}: {other:?}"),
            }
        }
    }
    m.finish();
}

/// RETURNDATACOPY after a real call: within the returned data, and past it (a halt).
#[test]
fn returndatacopy_after_call() {
    let mut m = Mismatches::default();
    for &spec in FORKS.iter().filter(|s| s.is_enabled_in(SpecId::BYZANTIUM)) {
        for (offset, len) in [(0u64, 32u64), (31, 1), (32, 0), (32, 1), (0, 33), (u64::MAX, 1)] {
            let c = call(Code::new(), op::CALL, addr(OTHER), 0, w(100_000), 0).op(op::POP);
            let code = c
                .push(w(len))
                .push(w(offset))
                .push(w(0))
                .op(op::RETURNDATACOPY)
                .push(w(0))
                .op(op::MLOAD)
                .ret_top()
                .build();
            let s = Scenario::new(code).spec(spec).other(callee("return"));
            let out = compare(&mut m, &s, "returndatacopy");
            let oob = offset.saturating_add(len) > 32;
            assert_eq!(
                matches!(out.result.result, ExecutionResult::Halt { reason: HaltReason::OutOfOffset, .. }),
                oob,
                "{offset} {len}: {:?}",
                out.result.result
            );
        }
    }
    m.finish();
}

/// Calls in a loop: native code suspends at the call, resumes after it (the resume point is
/// also a JUMPDEST reached by a backward jump), several times in one frame.
#[test]
fn calls_in_a_loop() {
    let mut m = Mismatches::default();
    for &spec in FORKS {
        for iterations in [1u64, 3] {
            let code = Code::new()
                .push(w(iterations))
                .label("loop")
                .op(op::DUP1)
                .op(op::ISZERO)
                .jumpi_to("end")
                .op(op::DUP1)
                .push(w(0))
                .op(op::MSTORE);
            let code = call(code, op::CALL, addr(OTHER), 0, w(30_000), 32)
                .label("after")
                .op(op::POP)
                .push(w(64))
                .op(op::MLOAD)
                .op(op::DUP2)
                .op(op::SSTORE)
                .push(w(1))
                .op(op::SWAP1)
                .op(op::SUB)
                .jump_to("loop")
                .label("end")
                .op(op::STOP)
                .build();
            let s = Scenario::new(code).spec(spec).other(callee("return"));
            let out = compare(&mut m, &s, "calls in a loop");
            assert!(out.result.result.is_success(), "{spec:?}: {:?}", out.result.result);
        }
    }
    m.finish();
}

/// Transaction gas limits from the intrinsic cost up to what a call-making transaction
/// needs: out of gas before the call, inside the callee, and right after native code resumes.
#[test]
fn transaction_gas_sweep_around_a_call() {
    let mut m = Mismatches::default();
    for spec in [SpecId::HOMESTEAD, SpecId::ISTANBUL, SpecId::OSAKA] {
        let code =
            record(call(Code::new().push(w(5)).push(w(0)).op(op::MSTORE), op::CALL, addr(OTHER), 0, w(3000), 32), spec)
                .build();
        let s = Scenario::new(code).spec(spec).other(callee("return"));
        let needed = match s.clone().gas(10_000_000).run(Mode::Interp).result.result {
            ExecutionResult::Success { gas, .. } => gas.tx_gas_used(),
            other => panic!("{spec:?}: {other:?}"),
        };
        let mut outcomes = std::collections::BTreeSet::new();
        // Coarse below, every value just around the amount needed (each run builds a fresh
        // executor and compiles, so the sweep is sparse).
        for gas in (21_000..needed).step_by(499).chain(needed.saturating_sub(60)..needed + 5) {
            let out = compare(&mut m, &s.clone().gas(gas), &format!("gas {gas}"));
            outcomes.insert(match out.result.result {
                ExecutionResult::Success { .. } => "success",
                ExecutionResult::Revert { .. } => "revert",
                ExecutionResult::Halt { .. } => "halt",
            });
        }
        assert!(outcomes.contains("success") && outcomes.contains("halt"), "{spec:?}: {outcomes:?}");
    }
    m.finish();
}
