//! JUMP, JUMPI, JUMPDEST, PC, GAS, STOP, INVALID, undefined opcodes, falling off the end, and
//! every opcode byte in every fork.

use crate::code::{Code, w, words};
use crate::common::frame::{FrameTest, Mismatches};
use crate::{FORKS, expect_result, min_gas, sweep_gas, sweep_points};
use revm::bytecode::opcode::{self as op, OPCODE_INFO};
use revm::interpreter::InstructionResult;
use revm::primitives::{U256, hardfork::SpecId};

const SPECS: &[SpecId] = &[SpecId::FRONTIER, SpecId::BYZANTIUM, SpecId::SHANGHAI, SpecId::OSAKA];

/// Static and computed jumps to valid and invalid targets: a JUMPDEST, a non-JUMPDEST
/// opcode, 0x5B bytes inside PUSH data, the end of code, beyond code, and huge values.
#[test]
fn jump_targets() {
    let mut m = Mismatches::default();
    // Both prefixes are 4 bytes, so the layout is the same:
    // prefix (0..4) JUMP (4) INVALID (5) JUMPDEST (6) PUSH1 42 (7,8) STOP (9)
    // PUSH2 5b5b (10,11,12) STOP (13); code length 14.
    let body = |code: Code| {
        code.op(op::JUMP)
            .op(op::INVALID)
            .op(op::JUMPDEST)
            .push(w(0x42))
            .op(op::STOP)
            .push_n(2, w(0x5b5b))
            .op(op::STOP)
            .build()
    };
    let targets: &[(U256, InstructionResult)] = &[
        (w(6), InstructionResult::Stop),
        (w(5), InstructionResult::InvalidJump),
        (w(4), InstructionResult::InvalidJump),
        (w(11), InstructionResult::InvalidJump),
        (w(12), InstructionResult::InvalidJump),
        (w(13), InstructionResult::InvalidJump),
        (w(14), InstructionResult::InvalidJump),
        (w(15), InstructionResult::InvalidJump),
        (w(0xffff), InstructionResult::InvalidJump),
        ((U256::from(1) << 64) | w(6), InstructionResult::InvalidJump),
        ((U256::from(1) << 32) | w(6), InstructionResult::InvalidJump),
        (U256::MAX, InstructionResult::InvalidJump),
        (w(0), InstructionResult::InvalidJump),
    ];
    for &spec in SPECS {
        for &(target, expected) in targets {
            // Static: the target is a constant pushed in the same block.
            let static_code = body(Code::new().op(op::ADDRESS).op(op::POP).push_n(1, target));
            let static_code =
                if target < w(256) { static_code } else { body(Code::new().op(op::ADDRESS).op(op::POP).push(target)) };
            // Computed: the target comes from calldata.
            let computed = body(Code::new().op(op::PC).cd(0));
            for (code, data) in [(static_code, vec![]), (computed, words(&[target]).to_vec())] {
                let test = FrameTest::new(code).spec(spec).calldata(data);
                let out = m.check(&test);
                expect_result(&out, &test, expected);
            }
        }
    }
    m.finish();
}

#[test]
fn jumpi_taken_and_not_taken() {
    let mut m = Mismatches::default();
    let conds = [w(0), w(1), U256::MAX, U256::from(1) << 255, U256::from(1) << 128];
    let targets = [w(0), w(3), w(100), U256::MAX];
    for &spec in SPECS {
        for cond in conds {
            for target_is_valid in [true, false] {
                // PUSH cond PUSH target JUMPI PUSH1 1 STOP JUMPDEST PUSH1 2 STOP
                let mk = |c: Code| c.op(op::JUMPI).push(w(1)).op(op::STOP).label("t").push(w(2)).op(op::STOP).build();
                let static_code = if target_is_valid {
                    mk(Code::new().push(cond).push_label("t"))
                } else {
                    mk(Code::new().push(cond).push(w(3)))
                };
                let test = FrameTest::new(static_code).spec(spec);
                let out = m.check(&test);
                let expected = if cond.is_zero() || target_is_valid {
                    InstructionResult::Stop
                } else {
                    InstructionResult::InvalidJump
                };
                expect_result(&out, &test, expected);
                // Both operands from calldata.
                for target in targets {
                    let code = mk(Code::new().cd(0).cd(32));
                    let test = FrameTest::new(code).spec(spec).calldata(words(&[cond, target]));
                    m.check(&test);
                }
            }
        }
        // A computed JUMPI target that is the JUMPDEST.
        let code =
            Code::new().cd(0).cd(32).op(op::JUMPI).push(w(1)).op(op::STOP).label("t").push(w(2)).op(op::STOP).build();
        let dest = code.iter().position(|b| *b == op::JUMPDEST).unwrap() as u64;
        let test = FrameTest::new(code).spec(spec).calldata(words(&[w(1), w(dest)]));
        let out = m.check(&test);
        expect_result(&out, &test, InstructionResult::Stop);
        assert_eq!(out.stack, vec![w(2)]);
    }
    m.finish();
}

/// A loop whose jump targets are computed (DUP'd from the stack, not pushed in the block).
#[test]
fn loops_with_static_and_computed_targets() {
    let mut m = Mismatches::default();
    for &spec in SPECS {
        for iterations in [0u64, 1, 2, 17] {
            // counter on the stack; loop address kept under it and DUP'd before each jump.
            let code = Code::new()
                .push_label("loop")
                .cd(0)
                .label("loop")
                .op(op::DUP1)
                .op(op::ISZERO)
                .jumpi_to("end")
                .push(w(1))
                .op(op::SWAP1)
                .op(op::SUB)
                .op(op::DUP2)
                .op(op::JUMP)
                .label("end")
                .op(op::PC)
                .op(op::GAS)
                .op(op::STOP)
                .build();
            let test = FrameTest::new(code).spec(spec).calldata(words(&[w(iterations)]));
            let out = m.check(&test);
            expect_result(&out, &test, InstructionResult::Stop);
            assert_eq!(out.stack.len(), 4);
        }
    }
    m.finish();
}

/// Jumping to a JUMPDEST in the middle of straight-line code (so into what would otherwise be
/// one section), and to the byte just after a section's first instruction.
#[test]
fn jump_into_middle_of_straight_line_code() {
    let mut m = Mismatches::default();
    for &spec in SPECS {
        let mut code = Code::new().cd(0).op(op::JUMP);
        let mut dests = Vec::new();
        for i in 0..12u64 {
            dests.push(code.pc() as u64);
            code = code.op(op::JUMPDEST).push(w(i)).op(op::ADDRESS).op(op::POP);
        }
        let code = code.op(op::STOP).build();
        for d in dests.iter().copied().chain([dests[3] + 1, dests[3] + 2, dests[5] + 3]) {
            let test = FrameTest::new(code.clone()).spec(spec).calldata(words(&[w(d)]));
            let out = m.check(&test);
            let valid = dests.contains(&d);
            expect_result(&out, &test, if valid { InstructionResult::Stop } else { InstructionResult::InvalidJump });
        }
    }
    m.finish();
}

#[test]
fn pc_and_gas() {
    let mut m = Mismatches::default();
    for &spec in FORKS {
        // GAS after inline ops, after a revm-executed op, after a jump, twice in a row.
        let code = Code::new()
            .op(op::PC)
            .push(w(1))
            .push(w(2))
            .op(op::ADD)
            .op(op::GAS)
            .op(op::GAS)
            .op(op::CALLVALUE)
            .op(op::GAS)
            .push(w(2))
            .op(op::MSTORE)
            .op(op::GAS)
            .jump_to("x")
            .label("x")
            .op(op::GAS)
            .op(op::PC)
            .push_n(5, w(0))
            .op(op::PC)
            .op(op::STOP)
            .build();
        for gas in [100_000u64, 1_000_000, 50, 60, 70, 200] {
            let test = FrameTest::new(code.clone()).spec(spec).gas(gas);
            m.check(&test);
        }
    }
    m.finish();
}

#[test]
fn falling_off_the_end_of_code() {
    let mut m = Mismatches::default();
    let cases = [
        Code::new().push(w(1)).build(),
        Code::new().push(w(1)).push(w(2)).op(op::ADD).build(),
        Code::new().op(op::JUMPDEST).build(),
        Code::new().push(w(1)).op(op::ADDRESS).build(),
        Code::new().push(w(1)).jumpi_to("e").label("e").build(),
        Code::new().push(w(0)).push(w(7)).op(op::JUMPI).build(),
        Code::new().op(op::GAS).build(),
        Code::new().push(w(4)).op(op::JUMP).op(op::INVALID).op(op::JUMPDEST).build(),
        Code::new().op(op::CALLDATASIZE).op(op::PUSH32).build(),
    ];
    for &spec in FORKS {
        for code in &cases {
            let test = FrameTest::new(code.clone()).spec(spec);
            let out = m.check(&test);
            expect_result(&out, &test, InstructionResult::Stop);
        }
    }
    m.finish();
}

#[test]
fn invalid_and_undefined_opcodes() {
    let mut m = Mismatches::default();
    for &spec in FORKS {
        for byte in 0..=255u8 {
            if OPCODE_INFO[byte as usize].is_some() && byte != op::INVALID {
                continue;
            }
            for code in [
                Code::new().op(byte).build(),
                Code::new().push(w(1)).push(w(2)).op(byte).op(op::STOP).build(),
                Code::new().cd(0).op(op::JUMP).op(byte).label("d").op(byte).build(),
            ] {
                // The computed jump goes to the JUMPDEST at 5, then runs the opcode.
                let test = FrameTest::new(code).spec(spec).calldata(words(&[w(5)]));
                let out = m.check(&test);
                let expected = if byte == op::INVALID {
                    InstructionResult::InvalidFEOpcode
                } else {
                    InstructionResult::OpcodeNotFound
                };
                expect_result(&out, &test, expected);
            }
        }
    }
    m.finish();
}

/// Every byte value as an opcode, in every fork, on stacks prepared before the frame starts:
/// empty, one operand short, benign operands (0x20), zeros, ones, small and big mixed
/// values, and a full stack. Then once more with the opcode twice in a row.
#[test]
fn every_opcode_every_fork() {
    let mut m = Mismatches::default();
    let mut results = std::collections::HashSet::new();
    for &spec in FORKS {
        for byte in 0..=255u8 {
            let inputs = OPCODE_INFO[byte as usize].map_or(0, |i| i.inputs() as usize);
            let operands = inputs.max(2) + 1;
            let mixed: Vec<U256> =
                (0..operands as u64).map(|i| if i % 2 == 0 { w(i * 32) } else { U256::MAX >> i }).collect();
            let mut stacks = vec![
                ("no operands", vec![]),
                ("operands 0x20", vec![w(0x20); operands]),
                ("operands 0", vec![w(0); operands]),
                ("operands 1", vec![w(1); operands]),
                ("mixed operands", mixed),
                ("1023 items", vec![w(0x40); 1023]),
                ("1024 items", vec![w(0x40); 1024]),
            ];
            if inputs > 0 {
                stacks.push(("one operand short", vec![w(3); inputs - 1]));
            }
            for code in [vec![byte, op::STOP], vec![byte, byte, op::GAS, op::STOP]] {
                for (name, stack) in &stacks {
                    let test = FrameTest::new(code.clone())
                        .spec(spec)
                        .stack(stack.clone())
                        .calldata(vec![0xab; 40])
                        .value(w(3))
                        .return_data(vec![0xcd; 50])
                        .storage(&[(0x20, 1), (0x40, 2)])
                        .label(*name);
                    let out = m.check(&test);
                    results.insert(format!("{:?}", out.result()));
                }
            }
        }
    }
    // The sweep reached the interesting outcomes.
    for r in [
        "NotActivated",
        "OpcodeNotFound",
        "StackUnderflow",
        "StackOverflow",
        "Stop",
        "None",
        "InvalidJump",
        "Return",
        "Revert",
    ] {
        assert!(results.iter().any(|x| x.contains(r)), "no case ended in {r}: {results:?}");
    }
    m.finish();
}

/// Blocks from which every path reverts or fails are not compiled: native code hands the frame
/// to the interpreter at their first pc. A `require`-shaped contract whose failing branch
/// writes memory and storage, then reaches a REVERT, INVALID or an undefined opcode through a
/// static jump, must give the interpreter's result, gas and state on both branches and at
/// every gas limit.
#[test]
fn cold_failing_paths_hand_over_exactly() {
    let mut m = Mismatches::default();
    let tails: [(&[u8], InstructionResult); 3] = [
        (&[op::PUSH1, 32, op::PUSH0, op::REVERT], InstructionResult::Revert),
        (&[op::INVALID], InstructionResult::InvalidFEOpcode),
        (&[0xEF], InstructionResult::OpcodeNotFound),
    ];
    for (tail, failure) in tails {
        let code = Code::new()
            .cd(0)
            .jumpi_to("ok")
            .push(w(7))
            .push(w(1))
            .op(op::SSTORE)
            .push(w(0x2a))
            .push(w(0))
            .op(op::MSTORE)
            .jump_to("fail")
            .label("ok")
            .push(w(9))
            .ret_top()
            .label("fail")
            .raw(tail)
            .build();
        let analysis = revm_jit::analysis::Analysis::new(&code, SpecId::CANCUN);
        assert_eq!(analysis.cold.len(), 2, "the failing branch and its target are cold: {:?}", analysis.cold);
        for (data, expected) in [(w(1), InstructionResult::Return), (w(0), failure)] {
            let test = FrameTest::new(code.clone()).spec(SpecId::CANCUN).calldata(words(&[data]).to_vec());
            let out = m.check(&test);
            expect_result(&out, &test, expected);
            sweep_gas(&mut m, &test, sweep_points(min_gas(&test), 400));
        }
    }
    m.finish();
}

/// A JUMPI's section checks for the section its fall-through enters (see
/// `analysis::Section::checked`): every gas limit, across a loop whose body is such a
/// fall-through, and a fall-through that underflows the stack, hands over to the interpreter
/// exactly where it would have failed.
#[test]
fn folded_fallthrough_checks_fail_exactly() {
    let mut m = Mismatches::default();
    for iterations in [0u64, 1, 5] {
        // counter; loop: if counter == 0 exit; counter -= 1 (the body is the fall-through).
        let code = Code::new()
            .cd(0)
            .label("loop")
            .op(op::DUP1)
            .op(op::ISZERO)
            .jumpi_to("end")
            .push(w(1))
            .op(op::SWAP1)
            .op(op::SUB)
            .jump_to("loop")
            .label("end")
            .op(op::GAS)
            .op(op::STOP)
            .build();
        let analysis = revm_jit::analysis::Analysis::new(&code, SpecId::CANCUN);
        assert!(analysis.sections.iter().any(|s| !s.checked), "the loop body is folded: {:?}", analysis.sections);
        let test = FrameTest::new(code).spec(SpecId::CANCUN).calldata(words(&[w(iterations)]));
        expect_result(&m.check(&test), &test, InstructionResult::Stop);
        sweep_gas(&mut m, &test, sweep_points(min_gas(&test), 400));
    }
    // The fall-through pops more than there is: the folded check hands the JUMPI's section to
    // the interpreter, which underflows at the POPs, after the JUMPI, as it would.
    for taken in [w(0), w(1)] {
        let code =
            Code::new().cd(0).jumpi_to("end").op(op::POP).op(op::POP).op(op::STOP).label("end").op(op::STOP).build();
        let test = FrameTest::new(code).spec(SpecId::CANCUN).calldata(words(&[taken]));
        let expected = if taken == w(0) { InstructionResult::StackUnderflow } else { InstructionResult::Stop };
        expect_result(&m.check(&test), &test, expected);
        sweep_gas(&mut m, &test, 0..=60);
    }
    m.finish();
}
