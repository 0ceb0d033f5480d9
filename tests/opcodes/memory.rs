//! Memory opcodes: MLOAD, MSTORE, MSTORE8, MSIZE, MCOPY, KECCAK256 and the copy opcodes, with
//! expansion, zero lengths, huge offsets and RETURNDATACOPY bounds.

use crate::code::{Code, w, words};
use crate::common::frame::{FrameTest, Mismatches};
use crate::{FORKS, expect_result};
use revm::bytecode::opcode as op;
use revm::interpreter::InstructionResult;
use revm::primitives::{U256, hardfork::SpecId};

fn offsets() -> Vec<U256> {
    vec![
        w(0),
        w(1),
        w(31),
        w(32),
        w(33),
        w(0x3ff),
        w(0x10000),
        w(0xffff_ffff),
        U256::from(u64::MAX),
        U256::from(1) << 64,
        U256::MAX,
    ]
}

#[test]
fn mstore_mload_mstore8_msize() {
    let mut m = Mismatches::default();
    let value = U256::from_be_slice(&(1..=32).collect::<Vec<u8>>());
    for &spec in FORKS {
        for off in offsets() {
            for code in [
                Code::new().push(value).push(off).op(op::MSTORE).op(op::MSIZE).push(off).op(op::MLOAD).op(op::STOP),
                Code::new().push(value).push(off).op(op::MSTORE8).op(op::MSIZE).push(w(0)).op(op::MLOAD).op(op::STOP),
                Code::new().push(off).op(op::MLOAD).op(op::MSIZE).op(op::STOP),
                Code::new().cd(32).cd(0).op(op::MSTORE).op(op::MSIZE).cd(0).op(op::MLOAD).op(op::STOP),
            ] {
                let test = FrameTest::new(code.build()).spec(spec).calldata(words(&[off, value]));
                let out = m.check(&test);
                let small = off < w(0x20000);
                let expected = if small { InstructionResult::Stop } else { InstructionResult::MemoryOOG };
                if out.result() != Some(expected) {
                    // Huge offsets fail with one of the out-of-gas results; which one is revm's
                    // business, equality with native is what is checked.
                    assert!(!small && crate::is_oog(out.result().unwrap()), "{:?} {}", out.result(), test.describe());
                }
            }
        }
    }
    m.finish();
}

/// Accesses inside memory that is already paid for (native code's direct path) and at its
/// edges: the last word and byte inside, the first that needs one more word, offsets with
/// high bits set (`2^32 + k` must not wrap into the direct path), and MSIZE after each.
#[test]
fn direct_accesses_at_the_memory_edge() {
    let mut m = Mismatches::default();
    let value = U256::from_be_slice(&(1..=32).collect::<Vec<u8>>());
    // MSTORE at 0x100 makes memory 0x120 bytes long.
    let edges = [0u64, 1, 0xff, 0x100, 0x101, 0x11f, 0x120, 0x121];
    let far = [U256::from(1u64) << 32, (U256::from(1u64) << 32) + w(0x40), (U256::from(1u64) << 64) + w(8)];
    for &spec in [SpecId::FRONTIER, SpecId::CANCUN].iter() {
        for off in edges.iter().map(|&o| w(o)).chain(far) {
            for opcode in [op::MLOAD, op::MSTORE, op::MSTORE8] {
                let mut code = Code::new().push(w(0xabcd)).push(w(0x100)).op(op::MSTORE);
                if opcode != op::MLOAD {
                    code = code.push(value);
                }
                let code = code.push(off).op(opcode).op(op::MSIZE).push(w(0x100)).op(op::MLOAD).op(op::STOP);
                let test = FrameTest::new(code.build()).spec(spec);
                let out = m.check(&test);
                if off < w(0x200) {
                    expect_result(&out, &test, InstructionResult::Stop);
                }
            }
        }
    }
    m.finish();
}

#[test]
fn keccak256_lengths() {
    let mut m = Mismatches::default();
    for &spec in [SpecId::FRONTIER, SpecId::BERLIN, SpecId::OSAKA].iter() {
        for (off, len) in [(0u64, 0u64), (0, 1), (0, 32), (5, 33), (100, 64), (0, 1000), (1 << 40, 0), (1 << 40, 1)] {
            let code = Code::new()
                .push(w(0x1122334455667788))
                .push(w(3))
                .op(op::MSTORE)
                .push(w(len))
                .push(w(off))
                .op(op::KECCAK256)
                .op(op::MSIZE)
                .op(op::STOP)
                .build();
            m.check(&FrameTest::new(code).spec(spec));
        }
    }
    m.finish();
}

#[test]
fn mcopy_by_fork_and_overlap() {
    let mut m = Mismatches::default();
    let data: Vec<u8> = (0..=255).collect();
    for &spec in FORKS {
        for (dst, src, len) in [
            (0u64, 0u64, 0u64),
            (0, 32, 32),
            (32, 0, 64),
            (1, 0, 100),
            (0, 1, 100),
            (500, 10, 5),
            (0, 0, 1 << 40),
            (1 << 40, 0, 0),
        ] {
            let code = Code::new()
                .push(w(256))
                .push(w(0))
                .push(w(0))
                .op(op::CALLDATACOPY)
                .push(w(len))
                .push(w(src))
                .push(w(dst))
                .op(op::MCOPY)
                .op(op::MSIZE)
                .op(op::STOP)
                .build();
            let test = FrameTest::new(code).spec(spec).calldata(data.clone());
            let out = m.check(&test);
            if !spec.is_enabled_in(SpecId::CANCUN) {
                expect_result(&out, &test, InstructionResult::NotActivated);
            }
        }
    }
    m.finish();
}

#[test]
fn copy_opcodes_bounds() {
    let mut m = Mismatches::default();
    let ranges: &[(u64, u64, u64)] = &[
        (0, 0, 0),
        (0, 0, 10),
        (3, 5, 40),
        (0, 90, 20),
        (0, 1000, 32),
        (64, 1 << 40, 32),
        (0, 0, 1 << 40),
        (1 << 40, 0, 0),
        (1 << 40, 0, 1),
    ];
    for &spec in FORKS {
        for &(mem, src, len) in ranges {
            for opcode in [op::CALLDATACOPY, op::CODECOPY, op::RETURNDATACOPY, op::EXTCODECOPY] {
                let mut code = Code::new().push(w(len)).push(w(src)).push(w(mem));
                if opcode == op::EXTCODECOPY {
                    code = code.push(U256::from_be_slice(crate::common::OTHER.as_slice()));
                }
                let code = code.op(opcode).op(op::MSIZE).push(w(0)).op(op::MLOAD).op(op::STOP).build();
                let test = FrameTest::new(code)
                    .spec(spec)
                    .calldata((0..100u8).collect::<Vec<u8>>())
                    .return_data((0..64u8).map(|b| b ^ 0x5a).collect::<Vec<u8>>());
                let out = m.check(&test);
                if opcode == op::RETURNDATACOPY {
                    let expected = if !spec.is_enabled_in(SpecId::BYZANTIUM) {
                        Some(InstructionResult::NotActivated)
                    } else if src.saturating_add(len) > 64 {
                        Some(InstructionResult::OutOfOffset)
                    } else {
                        None
                    };
                    if let Some(e) = expected
                        && !(e == InstructionResult::OutOfOffset && len >= 1 << 40)
                    {
                        expect_result(&out, &test, e);
                    }
                }
            }
        }
    }
    m.finish();
}

/// RETURNDATACOPY at the exact bounds of the buffer, and with an offset overflowing u64.
#[test]
fn returndatacopy_out_of_bounds() {
    let mut m = Mismatches::default();
    for spec in [SpecId::BYZANTIUM, SpecId::CANCUN, SpecId::OSAKA] {
        for (src, len, ok) in [
            (0u64, 64u64, true),
            (64, 0, true),
            (63, 1, true),
            (64, 1, false),
            (0, 65, false),
            (65, 0, false),
            (u64::MAX, 2, false),
        ] {
            let code = Code::new()
                .push(w(len))
                .push(w(src))
                .push(w(0))
                .op(op::RETURNDATACOPY)
                .op(op::RETURNDATASIZE)
                .op(op::STOP)
                .build();
            let test = FrameTest::new(code).spec(spec).return_data(vec![7u8; 64]);
            let out = m.check(&test);
            let expected = if ok { InstructionResult::Stop } else { InstructionResult::OutOfOffset };
            expect_result(&out, &test, expected);
        }
    }
    m.finish();
}

#[test]
fn calldataload_offsets() {
    let mut m = Mismatches::default();
    for &spec in [SpecId::FRONTIER, SpecId::OSAKA].iter() {
        for off in offsets().into_iter().chain([w(60), w(63), w(64), w(90)]) {
            let code = Code::new().push(off).op(op::CALLDATALOAD).op(op::CALLDATASIZE).op(op::STOP).build();
            let test = FrameTest::new(code).spec(spec).calldata((0..64u8).collect::<Vec<u8>>());
            let out = m.check(&test);
            expect_result(&out, &test, InstructionResult::Stop);
        }
    }
    m.finish();
}
