//! Out of gas at each kind of dynamic cost, every fork: every gas limit around the point where
//! the frame stops running out of gas is tried, in both modes.

use crate::code::{Code, w};
use crate::common::frame::{FrameTest, Mismatches};
use crate::common::{CALLER, OTHER};
use crate::{FORKS, full_sweep};
use revm::bytecode::opcode as op;
use revm::interpreter::InstructionResult;
use revm::primitives::{Address, U256, address, hardfork::SpecId};

const EMPTY: Address = address!("0x00000000000000000000000000000000000000e0");

fn addr(a: Address) -> U256 {
    U256::from_be_slice(a.as_slice())
}

/// A prefix of inline work so the dynamic cost is not the first thing in the frame.
fn prefix() -> Code {
    Code::new().push(w(3)).push(w(4)).op(op::MUL).op(op::POP)
}

/// (name, code, first fork it applies to, result with enough gas: None = a new frame).
fn cases() -> Vec<(&'static str, Code, SpecId, Option<InstructionResult>)> {
    let stop = Some(InstructionResult::Stop);
    let new_frame = None;
    let call = |opcode: u8, to: Address, value: u64| {
        let mut c = prefix().push(w(32)).push(w(64)).push(w(10)).push(w(0));
        if opcode == op::CALL || opcode == op::CALLCODE {
            c = c.push(w(value));
        }
        c.push(addr(to)).push(w(1000)).op(opcode)
    };
    vec![
        ("MSTORE expansion", prefix().push(w(1)).push(w(992)).op(op::MSTORE).op(op::STOP), SpecId::FRONTIER, stop),
        (
            "MSTORE large expansion",
            prefix().push(w(1)).push(w(60_000)).op(op::MSTORE).op(op::STOP),
            SpecId::FRONTIER,
            stop,
        ),
        ("MLOAD expansion", prefix().push(w(5000)).op(op::MLOAD).op(op::STOP), SpecId::FRONTIER, stop),
        ("MSTORE8 expansion", prefix().push(w(1)).push(w(3000)).op(op::MSTORE8).op(op::STOP), SpecId::FRONTIER, stop),
        (
            "RETURN expansion",
            prefix().push(w(700)).push(w(100)).op(op::RETURN),
            SpecId::FRONTIER,
            Some(InstructionResult::Return),
        ),
        (
            "REVERT expansion",
            prefix().push(w(700)).push(w(100)).op(op::REVERT),
            SpecId::BYZANTIUM,
            Some(InstructionResult::Revert),
        ),
        (
            "CALLDATACOPY",
            prefix().push(w(300)).push(w(0)).push(w(5)).op(op::CALLDATACOPY).op(op::STOP),
            SpecId::FRONTIER,
            stop,
        ),
        ("CODECOPY", prefix().push(w(500)).push(w(1)).push(w(0)).op(op::CODECOPY).op(op::STOP), SpecId::FRONTIER, stop),
        (
            "RETURNDATACOPY",
            prefix().push(w(60)).push(w(2)).push(w(0)).op(op::RETURNDATACOPY).op(op::STOP),
            SpecId::BYZANTIUM,
            stop,
        ),
        (
            "EXTCODECOPY cold",
            prefix().push(w(200)).push(w(0)).push(w(0)).push(addr(OTHER)).op(op::EXTCODECOPY).op(op::STOP),
            SpecId::FRONTIER,
            stop,
        ),
        (
            "EXTCODECOPY warm",
            prefix()
                .push(addr(OTHER))
                .op(op::BALANCE)
                .op(op::POP)
                .push(w(200))
                .push(w(0))
                .push(w(0))
                .push(addr(OTHER))
                .op(op::EXTCODECOPY)
                .op(op::STOP),
            SpecId::FRONTIER,
            stop,
        ),
        ("MCOPY", prefix().push(w(700)).push(w(0)).push(w(40)).op(op::MCOPY).op(op::STOP), SpecId::CANCUN, stop),
        ("KECCAK256 words", prefix().push(w(1000)).push(w(3)).op(op::KECCAK256).op(op::STOP), SpecId::FRONTIER, stop),
        ("EXP 1 byte", prefix().push(w(0xff)).push(w(3)).op(op::EXP).op(op::STOP), SpecId::FRONTIER, stop),
        ("EXP 2 bytes", prefix().push(w(0x100)).push(w(3)).op(op::EXP).op(op::STOP), SpecId::FRONTIER, stop),
        ("EXP 32 bytes", prefix().push(U256::MAX).push(w(3)).op(op::EXP).op(op::STOP), SpecId::FRONTIER, stop),
        ("EXP exponent 0", prefix().push(w(0)).push(w(3)).op(op::EXP).op(op::STOP), SpecId::FRONTIER, stop),
        ("BALANCE cold", prefix().push(addr(EMPTY)).op(op::BALANCE).op(op::STOP), SpecId::FRONTIER, stop),
        ("BALANCE of caller (warm)", prefix().push(addr(CALLER)).op(op::BALANCE).op(op::STOP), SpecId::FRONTIER, stop),
        ("EXTCODESIZE cold", prefix().push(addr(OTHER)).op(op::EXTCODESIZE).op(op::STOP), SpecId::FRONTIER, stop),
        ("EXTCODEHASH cold", prefix().push(addr(OTHER)).op(op::EXTCODEHASH).op(op::STOP), SpecId::PETERSBURG, stop),
        (
            "SLOAD cold then warm",
            prefix().push(w(5)).op(op::SLOAD).push(w(5)).op(op::SLOAD).op(op::STOP),
            SpecId::FRONTIER,
            stop,
        ),
        ("SSTORE new slot", prefix().push(w(1)).push(w(9)).op(op::SSTORE).op(op::STOP), SpecId::FRONTIER, stop),
        ("SSTORE modify", prefix().push(w(2)).push(w(1)).op(op::SSTORE).op(op::STOP), SpecId::FRONTIER, stop),
        ("SSTORE clear", prefix().push(w(0)).push(w(1)).op(op::SSTORE).op(op::STOP), SpecId::FRONTIER, stop),
        ("SSTORE no-op", prefix().push(w(7)).push(w(1)).op(op::SSTORE).op(op::STOP), SpecId::FRONTIER, stop),
        (
            "SSTORE twice",
            prefix().push(w(1)).push(w(9)).op(op::SSTORE).push(w(2)).push(w(9)).op(op::SSTORE).op(op::STOP),
            SpecId::FRONTIER,
            stop,
        ),
        ("TSTORE", prefix().push(w(1)).push(w(9)).op(op::TSTORE).op(op::STOP), SpecId::CANCUN, stop),
        ("LOG0 data", prefix().push(w(500)).push(w(0)).op(op::LOG0).op(op::STOP), SpecId::FRONTIER, stop),
        (
            "LOG4 data",
            prefix().pushes(&[w(1), w(2), w(3), w(4)]).push(w(65)).push(w(30)).op(op::LOG4).op(op::STOP),
            SpecId::FRONTIER,
            stop,
        ),
        ("CALL value to new account", call(op::CALL, EMPTY, 5), SpecId::FRONTIER, new_frame),
        ("CALL no value to new account", call(op::CALL, EMPTY, 0), SpecId::FRONTIER, new_frame),
        ("CALL value to existing", call(op::CALL, OTHER, 5), SpecId::FRONTIER, new_frame),
        ("CALLCODE value", call(op::CALLCODE, OTHER, 5), SpecId::FRONTIER, new_frame),
        ("DELEGATECALL", call(op::DELEGATECALL, OTHER, 0), SpecId::HOMESTEAD, new_frame),
        ("STATICCALL", call(op::STATICCALL, OTHER, 0), SpecId::BYZANTIUM, new_frame),
        ("CREATE init code", prefix().push(w(2000)).push(w(0)).push(w(0)).op(op::CREATE), SpecId::FRONTIER, new_frame),
        (
            "CREATE2 init code",
            prefix().push(w(7)).push(w(1500)).push(w(0)).push(w(0)).op(op::CREATE2),
            SpecId::PETERSBURG,
            new_frame,
        ),
        (
            "SELFDESTRUCT to new account",
            prefix().push(addr(EMPTY)).op(op::SELFDESTRUCT),
            SpecId::FRONTIER,
            Some(InstructionResult::SelfDestruct),
        ),
        (
            "SELFDESTRUCT to existing",
            prefix().push(addr(OTHER)).op(op::SELFDESTRUCT),
            SpecId::FRONTIER,
            Some(InstructionResult::SelfDestruct),
        ),
    ]
}

#[test]
fn out_of_gas_at_dynamic_costs_every_fork() {
    let mut m = Mismatches::default();
    for (name, code, since, ok) in cases() {
        let code = code.build();
        for &spec in FORKS.iter().filter(|s| s.is_enabled_in(since)) {
            let test = FrameTest::new(code.clone())
                .spec(spec)
                .calldata(vec![0x11; 100])
                .return_data(vec![0x22; 80])
                .storage(&[(1, 7), (5, 3)])
                .label(name);
            full_sweep(&mut m, &test, ok.unwrap_or(InstructionResult::Suspend), 300);
        }
    }
    m.finish();
}

/// EIP-2200: SSTORE fails when no more than the 2300 call stipend is left (Istanbul on), even
/// when the store itself would be cheaper.
#[test]
fn sstore_stipend_check() {
    let mut m = Mismatches::default();
    for &spec in FORKS {
        for (key, value) in [(1u64, 7u64), (1, 8), (9, 1)] {
            let code = Code::new().push(w(value)).push(w(key)).op(op::SSTORE).op(op::STOP).build();
            let test = FrameTest::new(code).spec(spec).storage(&[(1, 7)]);
            let seen = crate::sweep_gas(&mut m, &test, (2200..2400).chain(2800..3000).chain(4900..5100));
            if spec.is_enabled_in(SpecId::ISTANBUL) {
                // With 2300 + the PUSH costs or less, revm halts (ReentrancySentryOOG).
                let out = m.check(&test.clone().gas(2306));
                assert_eq!(out.result(), Some(InstructionResult::ReentrancySentryOOG), "{spec:?} {key} {value}");
            }
            assert!(!seen.is_empty());
        }
    }
    m.finish();
}

/// EIP-3860: init code longer than 49152 bytes halts CREATE (Shanghai on), before any gas is
/// charged for it.
#[test]
fn create_init_code_size_limit() {
    let mut m = Mismatches::default();
    for &spec in FORKS {
        for len in [49152u64, 49153] {
            for opcode in [op::CREATE, op::CREATE2] {
                let mut c = Code::new();
                if opcode == op::CREATE2 {
                    c = c.push(w(1));
                }
                let code = c.push(w(len)).push(w(0)).push(w(0)).op(opcode).op(op::STOP).build();
                let test = FrameTest::new(code).spec(spec).gas(5_000_000);
                let out = m.check(&test);
                if spec.is_enabled_in(SpecId::SHANGHAI)
                    && len > 49152
                    && (opcode == op::CREATE || spec.is_enabled_in(SpecId::PETERSBURG))
                {
                    assert_eq!(out.result(), Some(InstructionResult::CreateInitCodeSizeLimit), "{}", test.describe());
                }
            }
        }
    }
    m.finish();
}
