//! Arithmetic, comparison and bitwise opcodes over edge values, every fork.
//!
//! Each opcode runs over many operand tuples in one program, twice: once with the operands as
//! PUSH constants (which LLVM may fold at compile time) and once loaded from calldata (computed
//! at run time). When a program differs, every tuple is re-run alone to name the ones that do.

use crate::code::{Code, edge_values, min_signed, neg, neg_pow2, w, words};
use crate::common::BINARY_OPS as BINARY;
use crate::common::frame::{FrameTest, Mismatches};
use crate::{FORKS, expect_result};
use revm::bytecode::opcode as op;
use revm::interpreter::InstructionResult;
use revm::primitives::{U256, hardfork::SpecId};

/// The constant program for `opcode` over `tuples` (each tuple lists operands top first):
/// operands as PUSH constants, which LLVM may fold at compile time.
fn constant_program(opcode: u8, tuples: &[Vec<U256>]) -> FrameTest {
    let mut code = Code::new();
    for t in tuples {
        for v in t.iter().rev() {
            code = code.push(*v);
        }
        code = code.op(opcode);
    }
    FrameTest::new(code.op(op::STOP).build()).label("constant operands")
}

/// The run-time case: `opcode` alone, its operands already on the stack when the frame starts
/// (so nothing is known at compile time, and one compilation serves every tuple).
fn runtime_case(opcode: u8, tuple: &[U256]) -> FrameTest {
    let stack: Vec<U256> = tuple.iter().rev().copied().collect();
    FrameTest::new(vec![opcode, op::STOP]).stack(stack).label(format!("operands {tuple:x?}"))
}

/// Checks `opcode` over `tuples` for `spec` with run-time operands, and with constant
/// operands when `constant`; returns the interpreter's results (one per tuple) when the
/// opcode is activated.
fn check_op(m: &mut Mismatches, spec: SpecId, opcode: u8, tuples: &[Vec<U256>], constant: bool) -> Option<Vec<U256>> {
    let mut results = Vec::new();
    let mut activated = true;
    for t in tuples {
        let test = runtime_case(opcode, t).spec(spec).gas(30_000_000);
        let out = m.check(&test);
        if out.result() == Some(InstructionResult::Stop) {
            results.push(out.stack[0]);
        } else {
            assert_eq!(out.result(), Some(InstructionResult::NotActivated), "{}", test.describe());
            activated = false;
        }
    }
    if constant {
        for chunk in tuples.chunks(300) {
            let test = constant_program(opcode, chunk).spec(spec).gas(30_000_000);
            let before = m.failures.len();
            let out = m.check(&test);
            if m.failures.len() > before {
                pinpoint(m, spec, opcode, chunk);
            }
            if activated {
                expect_result(&out, &test, InstructionResult::Stop);
            }
        }
    }
    activated.then_some(results)
}

/// Re-runs each tuple of a differing constant program alone and records which ones differ.
fn pinpoint(m: &mut Mismatches, spec: SpecId, opcode: u8, tuples: &[Vec<U256>]) {
    for t in tuples {
        let test = constant_program(opcode, std::slice::from_ref(t)).spec(spec);
        if let Err(msg) = test.compare() {
            m.record(format!("  single tuple {}({t:x?}): {msg}", op::OPCODE_INFO[opcode as usize].unwrap().name()));
        }
    }
}

/// Forks where the constant programs run (inline code generation only depends on the fork
/// through opcode activation: SHL/SHR/SAR in Petersburg, PUSH0 in Shanghai, CLZ in Osaka).
const CONSTANT_FORKS: &[SpecId] = &[SpecId::FRONTIER, SpecId::PETERSBURG, SpecId::OSAKA];

fn pairs(a: &[U256], b: &[U256]) -> Vec<Vec<U256>> {
    a.iter().flat_map(|x| b.iter().map(move |y| vec![*x, *y])).collect()
}

#[test]
fn binary_ops_edge_values_every_fork() {
    let v = edge_values();
    let tuples = pairs(&v, &v);
    let mut m = Mismatches::default();
    for &spec in FORKS {
        for &opcode in BINARY {
            let activated = match opcode {
                op::SHL | op::SHR | op::SAR => spec.is_enabled_in(SpecId::PETERSBURG),
                _ => true,
            };
            let results = check_op(&mut m, spec, opcode, &tuples, CONSTANT_FORKS.contains(&spec));
            assert_eq!(results.is_some(), activated, "{opcode:#x} activation in {spec:?}");
        }
    }
    m.finish();
}

/// DIV, SDIV, MOD and SMOD around the widths where the generated code and the division
/// builtins change strategy: 64 bits (native code's own division), 128 bits (the builtins'
/// 128-bit division) and the signed extremes of each (`i128::MIN / -1` needs 129 bits).
#[test]
fn division_at_the_64_and_128_bit_boundaries() {
    let pow2 = |n: u32| U256::from(1) << n;
    let mut values = vec![w(0), w(1), w(3), w(7), neg(1), neg(3), neg(7)];
    for n in [63, 64, 100, 127, 128] {
        values.extend([pow2(n) - w(1), pow2(n), pow2(n) + w(1), neg_pow2(n) - w(1), neg_pow2(n), neg_pow2(n) + w(1)]);
    }
    values.push(U256::from(u128::MAX) / w(3));
    let tuples = pairs(&values, &values);
    let at = |r: &[U256], a: U256, b: U256| {
        let i = values.iter().position(|x| *x == a).unwrap();
        let j = values.iter().position(|x| *x == b).unwrap();
        r[i * values.len() + j]
    };
    let mut m = Mismatches::default();
    for spec in [SpecId::FRONTIER, SpecId::CANCUN] {
        for opcode in [op::DIV, op::SDIV, op::MOD, op::SMOD] {
            let r = check_op(&mut m, spec, opcode, &tuples, spec == SpecId::CANCUN).expect("always activated");
            // The interpreter's own results at the extremes (operands top first: a, b).
            match opcode {
                op::SDIV => {
                    assert_eq!(at(&r, neg_pow2(127), neg(1)), pow2(127), "i128::MIN / -1");
                    assert_eq!(at(&r, neg_pow2(127), w(1)), neg_pow2(127));
                    assert_eq!(at(&r, neg(7), w(3)), neg(2), "rounds toward zero");
                }
                op::SMOD => {
                    assert_eq!(at(&r, neg_pow2(127), neg(1)), w(0));
                    assert_eq!(at(&r, neg(7), w(3)), neg(1), "sign of the dividend");
                }
                op::DIV => assert_eq!(at(&r, pow2(128) - w(1), pow2(64) + w(1)), pow2(64) - w(1)),
                _ => assert_eq!(at(&r, pow2(128), w(7)), w(4), "2^128 = 7 * (2^128 / 7) + 4"),
            }
        }
    }
    m.finish();
}

/// Operand combinations around the index/shift boundaries of BYTE, SIGNEXTEND and shifts.
#[test]
fn index_and_shift_boundaries() {
    let mut index: Vec<U256> = (0..=40).map(w).collect();
    index.extend([w(127), w(128), w(247), w(248), w(254), w(255), w(256), w(257), w(512)]);
    index.extend([U256::from(1) << 64, (U256::from(1) << 64) + w(3), U256::MAX, min_signed()]);
    let values = [
        w(0),
        w(1),
        w(0x80),
        w(0xff),
        w(0x7fff),
        w(0x8000),
        U256::MAX,
        min_signed(),
        min_signed() - w(1),
        U256::from_be_slice(&(1..=32).collect::<Vec<u8>>()),
        U256::from_be_slice(&(0..32).map(|i| 0x80 | i).collect::<Vec<u8>>()),
    ];
    let tuples = pairs(&index, &values);
    let mut m = Mismatches::default();
    for spec in [SpecId::FRONTIER, SpecId::PETERSBURG, SpecId::SHANGHAI, SpecId::OSAKA] {
        for opcode in [op::BYTE, op::SIGNEXTEND, op::SHL, op::SHR, op::SAR] {
            let results = check_op(&mut m, spec, opcode, &tuples, spec == SpecId::OSAKA);
            if let Some(r) = results {
                // Spot checks on the interpreter's own results (tuple order is index-major).
                let at = |i: u64, vi: usize| {
                    let ii = index.iter().position(|x| *x == w(i)).unwrap();
                    r[ii * values.len() + vi]
                };
                match opcode {
                    op::BYTE => {
                        assert_eq!(at(31, 9), w(32));
                        assert_eq!(at(0, 9), w(1));
                        assert_eq!(at(32, 6), w(0));
                    }
                    op::SIGNEXTEND => {
                        assert_eq!(at(0, 2), U256::MAX - w(0x7f));
                        assert_eq!(at(31, 2), w(0x80));
                        assert_eq!(at(40, 7), min_signed());
                    }
                    op::SHL => assert_eq!(at(256, 1), w(0)),
                    op::SHR => assert_eq!(at(255, 7), w(1)),
                    op::SAR => {
                        assert_eq!(at(256, 7), U256::MAX);
                        assert_eq!(at(256, 8), w(0));
                    }
                    _ => unreachable!(),
                }
            }
        }
    }
    m.finish();
}

#[test]
fn unary_ops_every_fork() {
    let mut v = edge_values();
    for k in 0..256 {
        v.push(U256::from(1) << k);
        v.push((U256::from(1) << k) - w(1));
        v.push(U256::MAX >> k);
    }
    let tuples: Vec<Vec<U256>> = v.iter().map(|x| vec![*x]).collect();
    let mut m = Mismatches::default();
    for &spec in FORKS {
        for opcode in [op::ISZERO, op::NOT, op::CLZ] {
            let results = check_op(&mut m, spec, opcode, &tuples, CONSTANT_FORKS.contains(&spec));
            let activated = opcode != op::CLZ || spec.is_enabled_in(SpecId::OSAKA);
            assert_eq!(results.is_some(), activated, "{opcode:#x} activation in {spec:?}");
            if opcode == op::CLZ
                && let Some(r) = results
            {
                assert_eq!(r[0], w(256), "CLZ(0)");
                assert_eq!(r[1], w(255), "CLZ(1)");
                assert_eq!(r[12], w(0), "CLZ(MAX)");
            }
        }
    }
    m.finish();
}

#[test]
fn ternary_ops_every_fork() {
    let v = [w(0), w(1), w(2), w(7), U256::MAX, neg(2), min_signed(), U256::from(1) << 128, edge_values()[20]];
    let mut tuples = Vec::new();
    for a in v {
        for b in v {
            for n in v {
                tuples.push(vec![a, b, n]);
            }
        }
    }
    let mut m = Mismatches::default();
    for &spec in FORKS {
        for opcode in [op::ADDMOD, op::MULMOD] {
            let r = check_op(&mut m, spec, opcode, &tuples, CONSTANT_FORKS.contains(&spec)).expect("always activated");
            // (MAX + MAX) % 7 and (MAX * MAX) % 7 are computed without overflow.
            let i = 4 * 81 + 4 * 9 + 3;
            let expected = if opcode == op::ADDMOD { w(2) } else { w(1) };
            assert_eq!(r[i], expected, "{opcode:#x}(MAX, MAX, 7)");
            assert_eq!(r[9], w(0), "{opcode:#x}(0, 1, 0): modulus 0");
        }
    }
    m.finish();
}

/// The classic division edge cases, one frame each, checked against known answers.
#[test]
fn division_edge_cases() {
    let cases: &[(u8, U256, U256, U256)] = &[
        (op::DIV, w(7), w(0), w(0)),
        (op::SDIV, w(7), w(0), w(0)),
        (op::MOD, w(7), w(0), w(0)),
        (op::SMOD, w(7), w(0), w(0)),
        (op::SDIV, min_signed(), U256::MAX, min_signed()),
        (op::SMOD, min_signed(), U256::MAX, w(0)),
        (op::SDIV, neg(7), w(2), neg(3)),
        (op::SMOD, neg(7), w(2), neg(1)),
        (op::SMOD, w(7), neg(2), w(1)),
        (op::DIV, U256::MAX, w(1), U256::MAX),
        // Around the 64-bit path: operands that fit, that just do not, and the one division
        // a machine cannot do (i64::MIN / -1).
        (op::SDIV, neg_pow2(63), neg(1), U256::from(1) << 63),
        (op::SMOD, neg_pow2(63), neg(1), w(0)),
        (op::SDIV, neg_pow2(63), w(2), neg_pow2(62)),
        (op::SDIV, neg_pow2(63) - w(1), w(2), neg_pow2(62)),
        (op::SDIV, U256::from(i64::MAX as u64), neg(1), neg(i64::MAX as u64)),
        (op::SMOD, neg(7), neg(2), neg(1)),
        (op::SDIV, U256::from(1) << 63, neg(1), neg_pow2(63)),
        (op::DIV, U256::from(u64::MAX), w(1), U256::from(u64::MAX)),
        (op::DIV, U256::from(1) << 64, w(2), U256::from(1) << 63),
        (op::DIV, w(10), U256::from(1) << 64, w(0)),
        (op::MOD, U256::from(u64::MAX), U256::from(u64::MAX - 1), w(1)),
        (op::MOD, (U256::from(1) << 64) + w(5), w(7), w((((1u128 << 64) + 5) % 7) as u64)),
        (op::EXP, w(2), w(255), min_signed()),
        (op::EXP, w(0), w(0), w(1)),
        (op::EXP, w(2), w(256), w(0)),
    ];
    let mut m = Mismatches::default();
    for &(opcode, a, b, expected) in cases {
        for spec in [SpecId::FRONTIER, SpecId::OSAKA] {
            for from_calldata in [false, true] {
                let code = if from_calldata {
                    Code::new().cd(32).cd(0).op(opcode).op(op::STOP).build()
                } else {
                    Code::new().push(b).push(a).op(opcode).op(op::STOP).build()
                };
                let test = FrameTest::new(code).spec(spec).calldata(words(&[a, b]));
                let out = m.check(&test);
                expect_result(&out, &test, InstructionResult::Stop);
                assert_eq!(out.stack, vec![expected], "{}", test.describe());
            }
        }
    }
    m.finish();
}

/// Chains of inline operations whose intermediate values never leave registers.
#[test]
fn chained_inline_arithmetic() {
    let mut m = Mismatches::default();
    let v = edge_values();
    for (i, a) in v.iter().enumerate() {
        let b = v[(i * 7 + 3) % v.len()];
        let c = v[(i * 5 + 1) % v.len()];
        // ((a + b) * c - a) ^ (b >> 3) < a, SIGNEXTEND(i % 33, ...), BYTE(i, ...), SAR, CLZ
        let body = |code: Code| {
            code.op(op::DUP2)
                .op(op::DUP2)
                .op(op::ADD)
                .op(op::DUP4)
                .op(op::MUL)
                .op(op::DUP2)
                .op(op::SWAP1)
                .op(op::SUB)
                .push(w(3))
                .op(op::DUP4)
                .op(op::SHR)
                .op(op::XOR)
                .op(op::DUP1)
                .op(op::DUP3)
                .op(op::LT)
                .op(op::SWAP1)
                .push(w(i as u64 % 33))
                .op(op::SIGNEXTEND)
                .op(op::DUP1)
                .push(w(i as u64))
                .op(op::BYTE)
                .op(op::SWAP1)
                .push(w(i as u64 * 13 % 300))
                .op(op::SAR)
                .op(op::DUP1)
                .op(op::CLZ)
                .op(op::SWAP4)
                .op(op::SDIV)
                .op(op::SMOD)
                .op(op::NOT)
                .op(op::ISZERO)
                .op(op::STOP)
        };
        let constant = body(Code::new().push(c).push(b).push(*a)).build();
        let loaded = body(Code::new().cd(64).cd(32).cd(0)).build();
        // Before Osaka CLZ halts the program part way; the comparison still holds.
        for spec in [SpecId::PETERSBURG, SpecId::OSAKA] {
            m.check(&FrameTest::new(constant.clone()).spec(spec));
            m.check(&FrameTest::new(loaded.clone()).spec(spec).calldata(words(&[*a, b, c])));
        }
    }
    m.finish();
}
