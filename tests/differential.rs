//! Differential test: random but mostly well-formed programs run in revm's interpreter and as
//! native code must give identical results (status, gas used and refunded, output, logs) and
//! identical state.
//!
//! `REVM_JIT_DIFF_PROGRAMS` sets how many programs run (default 10,000, split over four
//! tests); `REVM_JIT_DIFF_SEED` sets the first seed. A failure names the seed, and
//! `REVM_JIT_DIFF_PROGRAMS=1 REVM_JIT_DIFF_SEED=<seed>` replays exactly that program.

mod common;

use common::{BINARY_OPS, FORKS, OTHER, Scenario};
use revm::bytecode::opcode as op;
use revm::primitives::{Bytes, U256, hardfork::SpecId};

/// splitmix64: small, fast, and enough for generating programs.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }

    fn pick<T: Copy>(&mut self, items: &[T]) -> T {
        items[self.below(items.len() as u64) as usize]
    }

    /// A word biased towards the values where EVM arithmetic has edge cases.
    fn word(&mut self) -> U256 {
        match self.below(10) {
            0 => U256::ZERO,
            1 => U256::from(1),
            2 => U256::MAX,
            3 => U256::from(1) << 255,
            4 => U256::from(self.pick(&[31u64, 32, 33, 255, 256, 257, 64, 0x40, 0x80])),
            5 => U256::MAX - U256::from(self.below(3)),
            6 => U256::from_limbs([self.next(), self.next(), self.next(), self.next()]),
            _ => U256::from(self.below(1000)),
        }
    }
}

/// A program under construction, with forward labels patched at the end.
struct Program {
    code: Vec<u8>,
    /// (position of a PUSH2 operand, label) pairs to patch.
    fixups: Vec<(usize, usize)>,
    labels: Vec<Option<usize>>,
    /// Approximate stack height, used to keep most instructions valid.
    height: usize,
}

impl Program {
    fn new() -> Self {
        Self { code: Vec::new(), fixups: Vec::new(), labels: Vec::new(), height: 0 }
    }

    fn op(&mut self, opcode: u8, pops: usize, pushes: usize) {
        self.code.push(opcode);
        self.height = self.height.saturating_sub(pops) + pushes;
    }

    fn push(&mut self, value: U256) {
        let bytes = value.to_be_bytes::<32>();
        let skip = bytes.iter().take_while(|&&b| b == 0).count().min(31);
        let n = 32 - skip;
        self.code.push(op::PUSH0 + n as u8);
        self.code.extend_from_slice(&bytes[skip..]);
        self.height += 1;
    }

    fn push_u64(&mut self, value: u64) {
        self.push(U256::from(value));
    }

    fn new_label(&mut self) -> usize {
        self.labels.push(None);
        self.labels.len() - 1
    }

    fn push_label(&mut self, label: usize) {
        self.code.push(op::PUSH2);
        self.fixups.push((self.code.len(), label));
        self.code.extend_from_slice(&[0, 0]);
        self.height += 1;
    }

    fn place_label(&mut self, label: usize) {
        self.labels[label] = Some(self.code.len());
        self.code.push(op::JUMPDEST);
    }

    fn finish(mut self) -> Bytes {
        for (at, label) in self.fixups {
            let target = self.labels[label].unwrap_or(0xffff) as u16;
            self.code[at..at + 2].copy_from_slice(&target.to_be_bytes());
        }
        self.code.into()
    }
}

const UNARY: &[u8] = &[op::ISZERO, op::NOT, op::CLZ];
const TERNARY: &[u8] = &[op::ADDMOD, op::MULMOD];
const ENV: &[u8] = &[
    op::ADDRESS,
    op::ORIGIN,
    op::CALLER,
    op::CALLVALUE,
    op::CALLDATASIZE,
    op::CODESIZE,
    op::GASPRICE,
    op::RETURNDATASIZE,
    op::COINBASE,
    op::TIMESTAMP,
    op::NUMBER,
    op::DIFFICULTY,
    op::GASLIMIT,
    op::CHAINID,
    op::SELFBALANCE,
    op::BASEFEE,
    op::BLOBBASEFEE,
    op::MSIZE,
    op::GAS,
    op::PC,
];

/// Emits one random instruction group.
fn emit_piece(rng: &mut Rng, p: &mut Program, depth: u32) {
    // Keep enough operands around for most instructions.
    while p.height < 3 || (p.height < 8 && rng.chance(20)) {
        let w = rng.word();
        p.push(w);
    }
    match rng.below(100) {
        0..=24 => {
            let opcode = rng.pick(BINARY_OPS);
            p.op(opcode, 2, 1);
        }
        25..=29 => p.op(rng.pick(UNARY), 1, 1),
        30..=32 => p.op(rng.pick(TERNARY), 3, 1),
        33..=40 => {
            let n = rng.below(p.height.min(16) as u64) as u8;
            p.op(op::DUP1 + n, 0, 1);
        }
        41..=47 => {
            let n = rng.below((p.height - 1).clamp(1, 16) as u64) as u8;
            p.op(op::SWAP1 + n, 0, 0);
        }
        48..=50 => p.op(op::POP, 1, 0),
        51..=55 => p.op(rng.pick(ENV), 0, 1),
        56..=61 => {
            // Memory: mostly small offsets, sometimes huge (out of gas on expansion).
            let offset = if rng.chance(3) { rng.word() } else { U256::from(rng.below(200)) };
            p.push(offset);
            match rng.below(5) {
                0 => p.op(op::MLOAD, 1, 1),
                1 => p.op(op::MSTORE8, 2, 0),
                2 => {
                    p.push_u64(rng.below(100));
                    p.op(op::SWAP1, 0, 0);
                    p.op(op::KECCAK256, 2, 1);
                }
                3 => {
                    p.push_u64(rng.below(64));
                    p.op(op::SWAP1, 0, 0);
                    p.push_u64(rng.below(128));
                    p.op(op::MCOPY, 3, 0);
                }
                _ => p.op(op::MSTORE, 2, 0),
            }
        }
        62..=66 => {
            p.push_u64(rng.below(4));
            match rng.below(4) {
                0 => p.op(op::SLOAD, 1, 1),
                1 => p.op(op::TLOAD, 1, 1),
                2 => p.op(op::TSTORE, 2, 0),
                _ => p.op(op::SSTORE, 2, 0),
            }
        }
        67..=69 => {
            p.push_u64(rng.below(64));
            p.push_u64(rng.below(64));
            let topics = rng.below(3) as usize;
            p.op(op::LOG0 + topics as u8, 2 + topics, 0);
        }
        70..=72 => {
            // Copies from calldata, code or return data.
            p.push_u64(rng.below(80));
            p.push_u64(rng.below(40));
            p.push_u64(rng.below(100));
            let opcode = rng.pick(&[op::CALLDATACOPY, op::CODECOPY, op::RETURNDATACOPY]);
            p.op(opcode, 3, 0);
        }
        73..=75 => {
            p.push_u64(rng.below(64));
            p.op(op::CALLDATALOAD, 1, 1);
        }
        76..=79 => emit_call(rng, p),
        80..=87 if depth < 3 => emit_branch(rng, p, depth),
        88..=90 if depth < 2 => emit_loop(rng, p, depth),
        91 => {
            // A jump to a computed, probably invalid, destination.
            p.push(rng.word());
            p.op(op::JUMP, 1, 0);
        }
        92 => {
            // A random byte: undefined opcode, not-yet-activated opcode, or anything else.
            let byte = rng.below(256) as u8;
            if !(op::PUSH1..=op::PUSH32).contains(&byte) {
                p.op(byte, 0, 0);
            }
        }
        93 => {
            p.op(rng.pick(&[op::BALANCE, op::EXTCODESIZE, op::EXTCODEHASH, op::BLOCKHASH, op::BLOBHASH]), 1, 1);
        }
        _ => {
            let w = rng.word();
            p.push(w);
        }
    }
}

/// A call to OTHER (or to an empty account) with random gas and value.
fn emit_call(rng: &mut Rng, p: &mut Program) {
    let opcode = rng.pick(&[op::CALL, op::STATICCALL, op::DELEGATECALL, op::CALLCODE]);
    p.push_u64(rng.below(64)); // ret length
    p.push_u64(rng.below(64)); // ret offset
    p.push_u64(rng.below(64)); // args length
    p.push_u64(rng.below(64)); // args offset
    if matches!(opcode, op::CALL | op::CALLCODE) {
        p.push_u64(rng.pick(&[0, 0, 1, 10]));
    }
    let to = if rng.chance(85) { OTHER } else { revm::primitives::Address::with_last_byte(0x42) };
    p.push(U256::from_be_slice(to.as_slice()));
    let gas = if rng.chance(50) { U256::from(rng.below(100_000)) } else { U256::MAX };
    p.push(gas);
    let pops = if matches!(opcode, op::CALL | op::CALLCODE) { 7 } else { 6 };
    p.op(opcode, pops, 1);
}

/// `if (cond) { body }` with a forward JUMPI.
fn emit_branch(rng: &mut Rng, p: &mut Program, depth: u32) {
    let skip = p.new_label();
    p.push_u64(rng.below(2));
    p.push_label(skip);
    p.op(op::JUMPI, 2, 0);
    let height = p.height;
    for _ in 0..rng.below(6) {
        emit_piece(rng, p, depth + 1);
    }
    // Rebalance so both paths reach the label with the same height (mostly).
    while p.height > height {
        p.op(op::POP, 1, 0);
    }
    while p.height < height {
        p.push_u64(7);
    }
    p.place_label(skip);
}

/// A counted loop: `for (i = n; i != 0; i--) { body }`, keeping the counter on top.
fn emit_loop(rng: &mut Rng, p: &mut Program, depth: u32) {
    let head = p.new_label();
    let exit = p.new_label();
    p.push_u64(rng.below(6));
    p.place_label(head);
    p.op(op::DUP1, 0, 1);
    p.op(op::ISZERO, 1, 1);
    p.push_label(exit);
    p.op(op::JUMPI, 2, 0);
    let height = p.height;
    for _ in 0..rng.below(5) {
        emit_piece(rng, p, depth + 1);
    }
    while p.height > height {
        p.op(op::POP, 1, 0);
    }
    while p.height < height {
        p.push_u64(3);
        p.op(op::SWAP1, 0, 0);
    }
    p.push_u64(1);
    p.op(op::SWAP1, 0, 0);
    p.op(op::SUB, 2, 1);
    p.push_label(head);
    p.op(op::JUMP, 1, 0);
    p.place_label(exit);
}

/// The callee: writes storage, logs, and returns or reverts depending on calldata size.
fn other_contract() -> Bytes {
    let mut p = Program::new();
    p.op(op::CALLDATASIZE, 0, 1);
    p.push_u64(1);
    p.op(op::SSTORE, 2, 0);
    p.op(op::CALLER, 0, 1);
    p.push_u64(0);
    p.op(op::MSTORE, 2, 0);
    p.push_u64(32);
    p.push_u64(0);
    p.op(op::LOG0, 2, 0);
    let revert = p.new_label();
    p.op(op::CALLDATASIZE, 0, 1);
    p.push_u64(40);
    p.op(op::GT, 2, 1);
    p.push_label(revert);
    p.op(op::JUMPI, 2, 0);
    p.push_u64(48);
    p.push_u64(0);
    p.op(op::RETURN, 2, 0);
    p.place_label(revert);
    p.push_u64(16);
    p.push_u64(8);
    p.op(op::REVERT, 2, 0);
    p.finish()
}

/// Generates the program for `seed`.
fn generate(seed: u64) -> Scenario {
    let mut rng = Rng(seed);
    let mut p = Program::new();
    for _ in 0..1 + rng.below(40) {
        emit_piece(&mut rng, &mut p, 0);
    }
    match rng.below(4) {
        0 => p.op(op::STOP, 0, 0),
        1 => {
            p.push_u64(rng.below(40));
            p.push_u64(rng.below(64));
            p.op(op::REVERT, 2, 0);
        }
        2 => {}
        _ => {
            p.push_u64(rng.below(96));
            p.push_u64(rng.below(64));
            p.op(op::RETURN, 2, 0);
        }
    }
    let spec = if rng.chance(50) { SpecId::OSAKA } else { rng.pick(FORKS) };
    let calldata: Vec<u8> = (0..rng.below(70)).map(|_| rng.below(256) as u8).collect();
    // Intrinsic gas: 68 per byte covers pre-Istanbul calldata and the EIP-7623 floor.
    let intrinsic = 21_000 + 68 * calldata.len() as u64;
    let gas = match rng.below(4) {
        0 => intrinsic + rng.below(3_000),
        1 => intrinsic + rng.below(30_000),
        _ => 1_000_000,
    };
    Scenario::new(p.finish()).other(other_contract()).spec(spec).gas(gas).calldata(calldata)
}

fn env_u64(name: &str, default: u64) -> u64 {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

/// Runs the share `part` (of 4) of the configured programs.
fn run_part(part: u64) {
    let total = env_u64("REVM_JIT_DIFF_PROGRAMS", 10_000);
    let first = env_u64("REVM_JIT_DIFF_SEED", 1);
    let seeds = (first..first + total).filter(|s| s % 4 == part || total < 4 && part == 0);
    let mut ran = 0u64;
    let mut kinds = std::collections::BTreeMap::<String, u64>::new();
    for seed in seeds {
        let scenario = generate(seed);
        let outcome = std::panic::catch_unwind(|| scenario.assert_same());
        if let Ok(outcome) = &outcome {
            *kinds.entry(outcome_kind(&outcome.result.result)).or_default() += 1;
        }
        if let Err(panic) = outcome {
            eprintln!(
                "differential test failed for seed {seed} (replay: REVM_JIT_DIFF_PROGRAMS=1 REVM_JIT_DIFF_SEED={seed})\ncode: {}\nspec: {:?}, gas: {}",
                scenario.code, scenario.spec, scenario.gas_limit
            );
            std::panic::resume_unwind(panic);
        }
        ran += 1;
    }
    eprintln!("part {part}: {ran} programs agreed; outcomes: {kinds:?}");
    // A generator whose programs all fail the same way would test little.
    assert!(ran < 100 || kinds.len() >= 4, "generated programs are not diverse: {kinds:?}");
}

/// A short label of how a program ended, for the outcome histogram.
fn outcome_kind(result: &revm::context::result::ExecutionResult) -> String {
    use revm::context::result::ExecutionResult::*;
    match result {
        Success { .. } => "success".into(),
        Revert { .. } => "revert".into(),
        Halt { reason, .. } => format!("{reason:?}"),
    }
}

#[test]
fn generated_programs_part0() {
    run_part(0);
}

#[test]
fn generated_programs_part1() {
    run_part(1);
}

#[test]
fn generated_programs_part2() {
    run_part(2);
}

#[test]
fn generated_programs_part3() {
    run_part(3);
}
