//! Sections: runs of instructions whose static gas and stack bounds are checked at once.

use super::decode::Instruction;
use revm::bytecode::opcode as op;
use revm::interpreter::instructions::gas_table_spec;
use revm::primitives::hardfork::SpecId;

/// Most instructions in one section. A longer section is split (exactly: a check per piece is
/// only closer to the interpreter's per-instruction checks). Each section check starts a new
/// basic block in the generated code, and LLVM's instruction selection works on one basic
/// block at a time in time that grows faster than linearly with its size: a 24 KiB run of
/// `DUP1 MUL` in one block took minutes. Bounded pieces keep that cost linear in code size,
/// for one extra gas comparison per piece.
pub const MAX_SECTION_INSTRUCTIONS: usize = 64;

/// A run of instructions checked once, at its start, for static gas and stack bounds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Section {
    /// Index of the first instruction in [`super::Analysis::instructions`].
    pub first: usize,
    /// Index one past the last instruction.
    pub end: usize,
    /// Whether the section starts a basic block (a jump destination, the code start, the
    /// instruction after a JUMPI, or a resume point after a call).
    pub starts_block: bool,
    /// Sum of the static gas of the section's instructions: what its start charges.
    pub gas: u64,
    /// Gas its check requires: `gas`, plus the `check_gas` of the section its JUMPI falls
    /// through to when that one's check was folded into this one (see [`Section::checked`]).
    pub check_gas: u64,
    /// Stack length the section needs at entry so that no instruction underflows (its own and,
    /// folded, those of the fall-through section it checks for).
    pub min_len: u32,
    /// Largest growth of the stack above its entry length inside the section (and inside the
    /// fall-through section it checks for).
    pub max_growth: u32,
    /// Whether the section checks at its start. `false`: the section before it (ending in the
    /// JUMPI that falls through to it, its only way in) checked for it, and its start only
    /// charges its gas.
    pub checked: bool,
}

/// Splits the reachable instructions into sections.
pub(super) fn build(instructions: &[Instruction], spec: SpecId) -> Vec<Section> {
    let gas_table = gas_table_spec(spec);
    let mut sections = Vec::new();
    let mut current: Option<Section> = None;
    let mut delta: i64 = 0;
    let mut reachable = true;
    let mut prev_ends_block = true;

    for (index, ins) in instructions.iter().enumerate() {
        let prev = index.checked_sub(1).map(|i| &instructions[i]);
        let prev_is_jumpdest = prev.is_some_and(|p| p.opcode == op::JUMPDEST);
        // In a run of consecutive JUMPDESTs only the first starts a block (jumps into the rest
        // of the run are dispatched by range, see `Analysis::jumpdest_runs`), and the
        // instruction after a run of two or more starts one, as the place those jumps continue.
        let after_run = ins.opcode != op::JUMPDEST
            && prev_is_jumpdest
            && index.checked_sub(2).is_some_and(|i| instructions[i].opcode == op::JUMPDEST);
        let leader = index == 0 || (ins.opcode == op::JUMPDEST && !prev_is_jumpdest) || after_run || prev_ends_block;
        if ins.opcode == op::JUMPDEST {
            reachable = true;
        }
        if leader {
            sections.extend(current.take());
        }
        prev_ends_block = ins.ends_block();
        if !reachable {
            continue;
        }
        let section = current.get_or_insert_with(|| {
            delta = 0;
            Section {
                first: index,
                end: index,
                starts_block: leader,
                gas: 0,
                check_gas: 0,
                min_len: 0,
                max_growth: 0,
                checked: true,
            }
        });
        section.end = index + 1;
        section.gas += gas_table[ins.opcode as usize] as u64;
        section.check_gas = section.gas;
        let inputs = ins.inputs() as i64;
        section.min_len = section.min_len.max((inputs - delta).max(0) as u32);
        delta += ins.outputs() as i64 - inputs;
        section.max_growth = section.max_growth.max(delta.max(0) as u32);

        if ins.is_terminator() {
            reachable = false;
        }
        let full = section.end - section.first >= MAX_SECTION_INSTRUCTIONS;
        if ins.op.is_revm() || ins.opcode == op::GAS || ins.ends_block() || full {
            sections.extend(current.take());
        }
    }
    sections.extend(current);
    fold_fallthrough_checks(&mut sections, instructions);
    sections
}

/// Folds the check of each section that only a JUMPI's fall-through enters into the check of
/// the section ending in that JUMPI, so that a loop or a chain of `require`s pays one gas
/// comparison where it paid two. Exact: a stricter check fails only earlier, at the JUMPI's
/// section start, where the interpreter takes over and then runs out of gas (or stack) at
/// exactly the instruction it would have; and a section that passed the folded check has
/// the gas and stack room for the fall-through section, which then only charges its gas.
/// The fall-through section must not start with a JUMPDEST (a jump could enter it). Chains
/// fold from the end, so a section checks for every fall-through section after it.
fn fold_fallthrough_checks(sections: &mut [Section], instructions: &[Instruction]) {
    for i in (1..sections.len()).rev() {
        let (before, after) = (sections[i - 1], sections[i]);
        let falls_through = before.end == after.first
            && instructions[before.end - 1].opcode == op::JUMPI
            && instructions[after.first].opcode != op::JUMPDEST;
        if !falls_through {
            continue;
        }
        // The stack length at `after`'s entry, relative to `before`'s.
        let delta: i64 =
            instructions[before.first..before.end].iter().map(|ins| ins.outputs() as i64 - ins.inputs() as i64).sum();
        let folded = &mut sections[i - 1];
        folded.check_gas = before.check_gas + after.check_gas;
        folded.min_len = before.min_len.max((after.min_len as i64 - delta).max(0) as u32);
        folded.max_growth = before.max_growth.max((delta + after.max_growth as i64).max(0) as u32);
        sections[i].checked = false;
    }
}
