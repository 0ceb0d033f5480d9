//! PUSH0..PUSH32, DUP1..DUP16, SWAP1..SWAP16, POP: values, truncated PUSH, underflow and
//! overflow at 1024 items.

use crate::code::{Code, w};
use crate::common::frame::{FrameTest, Mismatches};
use crate::{FORKS, expect_result};
use revm::bytecode::opcode as op;
use revm::interpreter::InstructionResult;
use revm::primitives::{U256, hardfork::SpecId};

/// A value of `n` bytes 0x01, 0x02, ..., with a 0x5B (JUMPDEST) byte in it when n > 3.
fn push_value(n: usize) -> U256 {
    let mut bytes: Vec<u8> = (1..=n as u8).collect();
    if n > 3 {
        bytes[2] = op::JUMPDEST;
    }
    U256::from_be_slice(&bytes)
}

#[test]
fn push_every_width_every_fork() {
    let mut m = Mismatches::default();
    for &spec in FORKS {
        let mut code = Code::new();
        let mut expected = Vec::new();
        for n in 1..=32 {
            for v in [push_value(n), U256::MAX >> (256 - 8 * n), U256::ZERO] {
                code = code.push_n(n, v);
                expected.push(v);
            }
        }
        let test = FrameTest::new(code.op(op::STOP).build()).spec(spec);
        let out = m.check(&test);
        expect_result(&out, &test, InstructionResult::Stop);
        assert_eq!(out.stack, expected);
    }
    m.finish();
}

#[test]
fn push0_by_fork() {
    let mut m = Mismatches::default();
    for &spec in FORKS {
        let test = FrameTest::new(Code::new().push(w(5)).push0().push0().op(op::ADD).op(op::STOP).build()).spec(spec);
        let out = m.check(&test);
        if spec.is_enabled_in(SpecId::SHANGHAI) {
            expect_result(&out, &test, InstructionResult::Stop);
            assert_eq!(out.stack, vec![w(5), w(0)]);
        } else {
            expect_result(&out, &test, InstructionResult::NotActivated);
            assert_eq!(out.stack, vec![w(5)]);
        }
    }
    m.finish();
}

/// A PUSH cut short by the end of code reads zeros for the missing bytes, then stops.
#[test]
fn truncated_push_at_end_of_code() {
    let mut m = Mismatches::default();
    for spec in [SpecId::FRONTIER, SpecId::PETERSBURG, SpecId::SHANGHAI, SpecId::OSAKA] {
        for n in 1..=32usize {
            for available in 0..n {
                let bytes: Vec<u8> = (0..available).map(|i| 0xa0 + i as u8).collect();
                let code = Code::new().push(w(1)).op(op::PUSH1 + n as u8 - 1).raw(&bytes).build();
                let test = FrameTest::new(code).spec(spec);
                let out = m.check(&test);
                expect_result(&out, &test, InstructionResult::Stop);
                let mut full = bytes.clone();
                full.resize(n, 0);
                assert_eq!(out.stack, vec![w(1), U256::from_be_slice(&full)], "{}", test.describe());
            }
        }
        // A truncated PUSH whose data would have been a JUMPDEST, jumped to: invalid.
        let code = Code::new().push(w(4)).op(op::JUMP).op(op::PUSH2).op(op::JUMPDEST).build();
        let test = FrameTest::new(code).spec(spec);
        let out = m.check(&test);
        expect_result(&out, &test, InstructionResult::InvalidJump);
    }
    m.finish();
}

#[test]
fn dup_and_swap_every_depth_every_fork() {
    let mut m = Mismatches::default();
    let values: Vec<U256> = (0..18u64).map(|i| w(0x1000 + i) << (i * 13)).collect();
    for &spec in FORKS {
        for n in 1..=16u8 {
            for opcode in [op::DUP1 + n - 1, op::SWAP1 + n - 1] {
                // Exactly enough items, then more than enough; twice, so values move back.
                for extra in [0usize, 1] {
                    let needed = if opcode >= op::SWAP1 { n as usize + 1 } else { n as usize };
                    let items = &values[..needed + extra];
                    let code = Code::new().pushes(items).op(opcode).op(opcode).op(op::STOP).build();
                    let test = FrameTest::new(code).spec(spec);
                    let out = m.check(&test);
                    expect_result(&out, &test, InstructionResult::Stop);
                    let mut expected = items.to_vec();
                    let top = expected.len() - 1;
                    if opcode >= op::SWAP1 {
                        assert_eq!(out.stack, expected, "SWAP twice restores order");
                    } else {
                        let d = expected[top + 1 - n as usize];
                        expected.push(d);
                        expected.push(expected[expected.len() - n as usize]);
                        assert_eq!(out.stack, expected, "DUP{n} twice");
                    }
                }
                // One item short: underflow. (revm reports a DUP with too few items as
                // StackOverflow; whatever it reports, native must report the same.)
                let needed = if opcode >= op::SWAP1 { n as usize + 1 } else { n as usize };
                let code = Code::new().pushes(&values[..needed - 1]).op(opcode).op(op::STOP).build();
                let test = FrameTest::new(code).spec(spec);
                let out = m.check(&test);
                let expected = if opcode >= op::SWAP1 {
                    InstructionResult::StackUnderflow
                } else {
                    InstructionResult::StackOverflow
                };
                expect_result(&out, &test, expected);
            }
        }
    }
    m.finish();
}

/// SWAPs mixed with arithmetic, where the swapped values come from calldata and from
/// earlier blocks (below the block's entry stack).
#[test]
fn swaps_across_blocks() {
    let mut m = Mismatches::default();
    let mut code = Code::new();
    for i in 0..17 {
        code = code.cd(i * 32);
    }
    code = code.label("b1");
    for n in 1..=16u8 {
        code = code.op(op::SWAP1 + n - 1).op(op::DUP1 + n - 1).op(op::ADD).op(op::DUP1 + (n % 16));
    }
    code = code.push(w(0)).jumpi_to("b1").label("b2");
    for n in (1..=16u8).rev() {
        code = code.op(op::SWAP1 + n - 1).op(op::POP).op(op::DUP16);
    }
    let code = code.op(op::STOP).build();
    let data: Vec<u8> = (0..17 * 32).map(|i| (i * 7 % 251) as u8).collect();
    for spec in [SpecId::FRONTIER, SpecId::OSAKA] {
        let test = FrameTest::new(code.clone()).spec(spec).calldata(data.clone());
        let out = m.check(&test);
        expect_result(&out, &test, InstructionResult::Stop);
    }
    m.finish();
}

/// 1024 items is the limit: the 1025th push overflows, for every way of pushing.
#[test]
fn overflow_at_1024_items() {
    let mut m = Mismatches::default();
    let mut pushers: Vec<Vec<u8>> = vec![vec![op::PUSH1, 1], vec![op::PUSH0], vec![op::DUP1], vec![op::DUP16]];
    pushers.push([vec![op::PUSH32], vec![op::JUMPDEST; 32]].concat());
    for opcode in [op::PC, op::GAS, op::MSIZE, op::ADDRESS, op::CALLDATASIZE, op::CALLVALUE, op::RETURNDATASIZE] {
        pushers.push(vec![opcode]);
    }
    for &spec in FORKS {
        for pusher in &pushers {
            // The stack filled before the frame starts: the pushes in the first section.
            for preloaded in [1022usize, 1023, 1024] {
                let code = Code::new().raw(pusher).raw(pusher).op(op::STOP).build();
                let test = FrameTest::new(code).spec(spec).stack(vec![w(7); preloaded]);
                let out = m.check(&test);
                let activated = match pusher[0] {
                    op::PUSH0 => spec.is_enabled_in(SpecId::SHANGHAI),
                    op::RETURNDATASIZE => spec.is_enabled_in(SpecId::BYZANTIUM),
                    _ => true,
                };
                let expected = if !activated {
                    InstructionResult::NotActivated
                } else if preloaded + 2 > 1024 {
                    InstructionResult::StackOverflow
                } else {
                    InstructionResult::Stop
                };
                expect_result(&out, &test, expected);
            }
        }
    }
    // The stack filled by the code itself in an earlier section (a JUMPDEST splits them).
    for pusher in [vec![op::PUSH1, 1], vec![op::DUP1], vec![op::ADDRESS]] {
        for prefix_items in [1022usize, 1023] {
            let code = Code::new().repeat(op::PC, prefix_items).op(op::JUMPDEST).raw(&pusher).raw(&pusher);
            let test = FrameTest::new(code.op(op::STOP).build()).gas(10_000_000);
            let out = m.check(&test);
            let expected =
                if prefix_items + 2 > 1024 { InstructionResult::StackOverflow } else { InstructionResult::Stop };
            expect_result(&out, &test, expected);
        }
    }
    m.finish();
}

/// Regression (fixed compiler bug): one section whose instructions push more than 1024 items
/// in total (e.g. 1025 inline PC/PUSH/DUP in a row) used to pass its stack check on a small
/// stack, because the limit was computed as `1024.saturating_sub(max_growth)`, which is 0 when
/// `max_growth > 1024`; native code then wrote past the 1024-slot stack buffer instead of
/// handing the frame to the interpreter, which halts with StackOverflow.
/// Runs in a child process so that a regression (heap corruption) fails this test instead of
/// killing the whole test binary.
#[test]
fn overflow_past_1024_in_one_section() {
    crate::common::frame::isolated("stack::overflow_past_1024_in_one_section", || {
        let mut m = Mismatches::default();
        // Below the limit in one section: must stop normally (this part passes).
        for (filler, pusher) in [(op::PC, vec![op::PC]), (op::PC, vec![op::PUSH1, 1]), (op::PC, vec![op::DUP1])] {
            let code = Code::new().repeat(filler, 1022).raw(&pusher).raw(&pusher).op(op::STOP).build();
            let test = FrameTest::new(code).gas(10_000_000);
            let out = m.check(&test);
            expect_result(&out, &test, InstructionResult::Stop);
        }
        // Past the limit in one section: the interpreter halts with StackOverflow.
        for n in [1025usize, 1026, 1100, 2048] {
            let code = Code::new().repeat(op::PC, n).op(op::STOP).build();
            let test = FrameTest::new(code).gas(10_000_000).label(format!("{n} x PC"));
            let out = m.check(&test);
            expect_result(&out, &test, InstructionResult::StackOverflow);
        }
        for pusher in [vec![op::PUSH1, 1], vec![op::DUP1], vec![op::ADDRESS]] {
            let code = Code::new().repeat(op::PC, 1023).raw(&pusher).raw(&pusher).op(op::STOP).build();
            let test = FrameTest::new(code).gas(10_000_000);
            let out = m.check(&test);
            expect_result(&out, &test, InstructionResult::StackOverflow);
        }
        m.finish();
    });
}

#[test]
fn pop_and_underflow_on_empty_stack() {
    let mut m = Mismatches::default();
    for &spec in FORKS {
        for code in [
            Code::new().op(op::POP).build(),
            Code::new().push(w(1)).op(op::POP).op(op::POP).build(),
            Code::new().push(w(1)).push(w(2)).op(op::POP).op(op::STOP).build(),
            Code::new().op(op::ADD).build(),
            Code::new().push(w(1)).op(op::ADD).build(),
        ] {
            m.check(&FrameTest::new(code).spec(spec));
        }
    }
    m.finish();
}
