//! Section checks: native code checks static gas and stack bounds once per section and hands
//! the frame to the interpreter at the section start when a check fails. These tests make the
//! failure happen at every instruction of long sections (first, middle, last and all others)
//! and compare the outcome with the interpreter's.

use crate::code::{Code, w};
use crate::common::frame::{FrameTest, Mismatches};
use crate::{expect_result, full_sweep, sweep_gas};
use revm::bytecode::opcode as op;
use revm::interpreter::InstructionResult;
use revm::primitives::{U256, hardfork::SpecId};

const SPECS: &[SpecId] = &[SpecId::FRONTIER, SpecId::ISTANBUL, SpecId::OSAKA];

/// Programs with long sections of different shapes; all end in STOP when given enough gas.
fn long_sections() -> Vec<(&'static str, Code)> {
    let mut out = Vec::new();
    // 1. A prefix section, then one long section of pushes and arithmetic after a JUMPDEST.
    let mut c = Code::new().push(w(1)).push(w(2)).op(op::ADD).op(op::JUMPDEST);
    for i in 0..16 {
        c = c.push(w(i)).op(op::ADD).op(op::DUP1).op(op::MUL);
    }
    out.push(("pushes and arithmetic", c.op(op::STOP)));
    // 2. A long section ending in revm-executed instructions (SLOAD, MSTORE, EXP).
    let mut c = Code::new();
    for i in 0..10 {
        c = c.push(w(i)).push(w(3)).op(op::SIGNEXTEND).op(op::POP);
    }
    c = c.push(w(1)).op(op::SLOAD);
    for i in 0..10 {
        c = c.push(w(i)).op(op::XOR);
    }
    c = c.push(w(64)).op(op::MSTORE);
    for _ in 0..8 {
        c = c.push(w(0xffff)).op(op::NOT).op(op::ISZERO).op(op::POP);
    }
    c = c.push(w(0x0102)).push(w(3)).op(op::EXP);
    out.push(("sections ending in SLOAD, MSTORE, EXP", c.op(op::STOP)));
    // 3. Arithmetic builtins in the middle of a section.
    let mut c = Code::new().push(w(1000));
    for i in 1..20 {
        c = c.push(w(i)).op(op::SWAP1).op(op::DIV).push(w(7)).op(op::ADD).push(w(5)).push(w(9)).op(op::ADDMOD);
    }
    out.push(("DIV and ADDMOD", c.op(op::STOP)));
    // 4. Sections ending in JUMPI (taken and not taken), JUMP, and GAS.
    let mut c = Code::new();
    for i in 0..6 {
        c = c.push(w(i)).push(w(i + 1)).op(op::ADD).op(op::POP).push(w(i % 2));
        c = match i {
            0 => c.jumpi_to("a").label("a"),
            1 => c.jumpi_to("b").label("b"),
            2 => c.op(op::POP).jump_to("c").label("c"),
            3 => c.op(op::GAS).op(op::POP).op(op::POP),
            4 => c.jumpi_to("e").label("e"),
            _ => c.op(op::POP).op(op::PC).op(op::POP),
        };
    }
    out.push(("JUMPI, JUMP and GAS boundaries", c.op(op::STOP)));
    out
}

/// Every gas limit from 0 to the full cost: out of gas at every instruction.
#[test]
fn out_of_gas_at_every_instruction() {
    let mut m = Mismatches::default();
    for &spec in SPECS {
        for (name, code) in long_sections() {
            let test = FrameTest::new(code.build()).spec(spec).storage(&[(1, 3)]).label(name);
            full_sweep(&mut m, &test, InstructionResult::Stop, 3);
        }
    }
    m.finish();
}

/// A section of 20 consuming instructions entered with 0..=20 items: underflow at each.
#[test]
fn underflow_at_every_instruction() {
    let mut m = Mismatches::default();
    for &spec in SPECS {
        for consumer in [op::POP, op::ADD, op::SWAP1, op::DUP2] {
            for k in 0..=21u64 {
                let mut c = Code::new();
                for i in 0..k {
                    c = c.push(w(i));
                }
                c = c.op(op::JUMPDEST);
                for _ in 0..20 {
                    c = match consumer {
                        op::SWAP1 => c.op(op::POP).op(op::SWAP1),
                        op::DUP2 => c.op(op::POP).op(op::DUP2),
                        _ => c.op(consumer),
                    };
                }
                let test = FrameTest::new(c.op(op::STOP).build()).spec(spec).label(format!("{k} items"));
                let out = m.check(&test);
                assert!(out.result().is_some(), "{}", test.describe());
            }
        }
    }
    m.finish();
}

/// A section of 20 pushes entered with 1004..=1024 items: overflow at each.
#[test]
fn overflow_at_every_instruction() {
    let mut m = Mismatches::default();
    for &spec in SPECS {
        for pusher in [op::PC, op::DUP1, op::PUSH1, op::CALLVALUE] {
            for start in 1000..=1024usize {
                let mut c = Code::new().op(op::JUMPDEST);
                for _ in 0..20 {
                    c = if pusher == op::PUSH1 { c.push(w(9)) } else { c.op(pusher) };
                }
                let test = FrameTest::new(c.op(op::STOP).build())
                    .spec(spec)
                    .stack(vec![w(5); start])
                    .label(format!("{start} items"));
                let out = m.check(&test);
                let expected =
                    if start + 20 > 1024 { InstructionResult::StackOverflow } else { InstructionResult::Stop };
                expect_result(&out, &test, expected);
            }
        }
    }
    m.finish();
}

/// Stack and gas failing in the same section: whichever comes first in the interpreter wins.
#[test]
fn gas_and_stack_failing_in_one_section() {
    let mut m = Mismatches::default();
    for &spec in SPECS {
        // 10 pushes then 15 POPs: the POPs underflow at the 11th; gas may run out earlier.
        let mut c = Code::new();
        for i in 0..10 {
            c = c.push(w(i));
        }
        for _ in 0..15 {
            c = c.op(op::POP);
        }
        let test = FrameTest::new(c.op(op::STOP).build()).spec(spec);
        let seen = sweep_gas(&mut m, &test, 0..=60);
        assert!(seen.iter().any(|(r, _)| *r == InstructionResult::OutOfGas));
        assert!(seen.iter().any(|(r, _)| *r == InstructionResult::StackUnderflow));
        // Preloaded 1020 items, pushes overflow at the 5th; gas runs out before for small limits.
        let mut c = Code::new();
        for i in 0..8 {
            c = c.push(w(i));
        }
        let test = FrameTest::new(c.op(op::STOP).build()).spec(spec).stack(vec![U256::MAX; 1020]);
        let seen = sweep_gas(&mut m, &test, 0..=30);
        assert!(seen.iter().any(|(r, _)| *r == InstructionResult::OutOfGas));
        assert!(seen.iter().any(|(r, _)| *r == InstructionResult::StackOverflow));
    }
    m.finish();
}

/// Revm-executed instructions inside a block split it into several sections that do not
/// start blocks; running out of gas or stack in any of them must resume at the right pc.
#[test]
fn failures_after_revm_instructions_in_one_block() {
    let mut m = Mismatches::default();
    for &spec in SPECS {
        let mut c = Code::new();
        for i in 0..6u64 {
            c = c.push(w(i)).push(w(i * 32)).op(op::MSTORE).op(op::ADDRESS).op(op::CALLER).op(op::XOR);
        }
        let code = c.op(op::STOP).build();
        let test = FrameTest::new(code.clone()).spec(spec);
        full_sweep(&mut m, &test, InstructionResult::Stop, 2);
        // The same block entered with too little stack for its later sections.
        let mut c = Code::new();
        for _ in 0..6u64 {
            c = c.op(op::CALLVALUE).op(op::POP).op(op::ADD);
        }
        for k in 0..8 {
            let test = FrameTest::new(c.clone().op(op::STOP).build()).spec(spec).stack(vec![w(1); k]);
            m.check(&test);
        }
    }
    m.finish();
}
