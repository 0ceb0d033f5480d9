//! A compile-cost model: predicts, before LLVM sees a contract, how long its code generation
//! takes, so that the compiler can refuse what would take too long (the contract then runs
//! interpreted) instead of tying up a worker for seconds or minutes.
//!
//! Codegen is linear in code size by construction (sections are split, no value lives across
//! a call), but the constant differs by two orders of magnitude between instructions: a
//! 256-bit MUL or variable shift expands to dozens of machine instructions and costs LLVM as
//! much as a hundred ADDs. The weights below are per-instruction codegen costs measured with
//! `revm-jit compile` on single-shape contracts (chains of one instruction, thousands of
//! blocks, of dynamic jumps, of JUMPIs), in units of roughly 0.1 ms of a loaded 2-core machine (see [`DEFAULT_BUDGET`]).
//! Cold blocks (see `cold`) cost nothing: they are not compiled.

use super::Analysis;
use super::decode::Operation;
use revm::bytecode::opcode as op;

/// Predicted codegen cost above which the compiler refuses a contract by default, in the
/// model's units. Calibration (one loaded 2-core machine, so only ratios matter): real
/// contracts compiled at 0.03 to 0.07 ms of CPU per unit; the largest real contract we have,
/// a 23 KB token, predicts 108,522, so the budget is 2.3 times that. Hostile 24 KiB shapes
/// predict 300,000 to 1,800,000 (chains of MUL or shifts, thousands of dynamic jumps or
/// blocks, DUP/SWAP chains, SLOAD runs) and are refused in the milliseconds analysis takes.
pub const DEFAULT_BUDGET: u64 = 250_000;

impl Analysis {
    /// The predicted codegen cost of this contract, in the model's units (see the module
    /// documentation and [`DEFAULT_BUDGET`]).
    pub fn predicted_cost(&self) -> u64 {
        let mut cost = 0;
        let mut cold = false;
        // The stack height before the instruction: exact where the block's entry height is
        // static, else counted from 0 at the block's start (a lower bound).
        let mut height = 0i64;
        for section in &self.sections {
            let first = &self.instructions[section.first];
            if section.starts_block {
                cold = self.cold.contains(&first.pc);
                cost += if cold { 1 } else { BLOCK };
                height = self.heights.get(&first.pc).map_or(0, |&h| i64::from(h));
            }
            // A block is cold as a whole, and the height starts afresh at the next block.
            if cold {
                continue;
            }
            cost += SECTION;
            for ins in &self.instructions[section.first..section.end] {
                cost += instruction_cost(ins);
                if height > DEEP_STACK {
                    cost += DEEP_STACK_INSTRUCTION;
                }
                height += ins.outputs() as i64 - ins.inputs() as i64;
            }
        }
        cost
    }
}

/// Stack height above which instructions cost [`DEEP_STACK_INSTRUCTION`] more.
const DEEP_STACK: i64 = 64;
/// What an instruction costs on top of its own weight while more than [`DEEP_STACK`] items
/// are on the stack. Found by the coverage-guided fuzzer: 1,024 `CALLVALUE`s and then 1,023
/// `OR`s (2 KiB) took LLVM's DAG combiner 4 s at every optimising level, a 12 KiB repetition
/// 20 s, and 1.7 s at the baseline tier; the same ORs on a shallow stack take 77 ms. An OR
/// reading an item pushed hundreds of instructions earlier cost 2.3 to 2.9 ms, where one
/// unit is about 0.03 ms of an optimising compile. Real code stays far below this height
/// (Solidity reaches 16 items deep), so it only weighs on such shapes.
const DEEP_STACK_INSTRUCTION: u64 = 90;

/// Every block that is compiled: its entry, reloads and its share of the dispatch.
const BLOCK: u64 = 40;
/// Every section: its gas and stack check.
const SECTION: u64 = 5;

/// One instruction's weight.
fn instruction_cost(ins: &super::Instruction) -> u64 {
    match ins.op {
        Operation::Push(_) => 1,
        Operation::Arith => 25,
        Operation::RevmRead | Operation::CalldataLoad => 8,
        Operation::Memory => 25,
        Operation::Revm => 15,
        Operation::Inline => match ins.opcode {
            op::MUL | op::SHL | op::SHR | op::SAR => 150,
            op::SIGNEXTEND | op::BYTE => 40,
            op::JUMP | op::JUMPI if ins.static_target.is_none() => 80,
            op::JUMPI => 60,
            op::DUP1..=op::DUP16 | op::SWAP1..=op::SWAP16 => 12,
            // Emits nothing: its gas is part of the section's check (a block's first JUMPDEST
            // is paid for by `BLOCK`).
            op::JUMPDEST => 0,
            _ => 6,
        },
    }
}
