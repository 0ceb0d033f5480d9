//! Bytecode analysis: from raw EVM bytes to the plain data structure that codegen consumes.
//!
//! The analysis decodes instructions (a PUSH truncated by the end of code reads zeros for the
//! missing bytes, as revm's padded bytecode does), finds the valid jump destinations (a 0x5B
//! byte inside PUSH data is not one), splits the code into basic blocks, resolves jump targets
//! that are known statically, and groups instructions into *sections*.
//!
//! A section is the unit of checking: native code checks gas and stack bounds once at the start
//! of a section instead of once per instruction. A section ends after every instruction that
//! hands control to revm (an instruction executed by revm's own implementation must see the
//! exact gas the interpreter would have at that point) and after `GAS`, so gas is exact whenever
//! it is observable. When a section's check fails at run time, native code hands the frame to
//! revm's interpreter at the section's first instruction; the interpreter then fails at exactly
//! the instruction where it would have failed anyway, with the same status and gas. Checks are
//! therefore allowed to be conservative: a check that fails too eagerly only costs speed.

mod cold;
mod cost;
mod decode;
mod heights;
mod sections;

pub use cost::DEFAULT_BUDGET as DEFAULT_COMPILE_BUDGET;
pub use decode::{Instruction, Operation, decode};
pub use sections::{MAX_SECTION_INSTRUCTIONS, Section};

use revm::primitives::hardfork::SpecId;

/// The result of analysing one contract for one [`SpecId`].
#[derive(Clone, Debug)]
pub struct Analysis {
    /// Length of the original (unpadded) code.
    pub code_len: usize,
    /// Decoded instructions in program order; the last one is always a terminator
    /// (an implicit `STOP` is appended when the code does not end in one).
    pub instructions: Vec<Instruction>,
    /// Per byte offset: whether a jump to it is valid (a JUMPDEST opcode, not PUSH data).
    pub jumpdests: Vec<bool>,
    /// Sections in program order; every reachable instruction belongs to exactly one.
    pub sections: Vec<Section>,
    /// The fork the analysis was made for (gas and opcode availability depend on it).
    pub spec: SpecId,
    /// Runs of two or more consecutive JUMPDESTs, as `(first pc, pc after the run)`. Only the
    /// first JUMPDEST of a run starts a block; a jump into the rest of the run charges one
    /// JUMPDEST's gas per remaining byte and continues after the run. Without this, padding
    /// made of thousands of JUMPDESTs became thousands of blocks and LLVM took minutes.
    pub jumpdest_runs: Vec<(u32, u32)>,
    /// Stack length at the entry of each block whose length is the same on every path that
    /// reaches it, keyed by the block's first pc (see `heights`).
    pub heights: std::collections::HashMap<u32, u32>,
    /// Static successors of every block, keyed by first pc: fall-through, constant jump
    /// targets that start a block, and the resume point after a call. Dynamic jumps add no
    /// edge here.
    pub successors: std::collections::HashMap<u32, Vec<u32>>,
    /// First pcs of the blocks native code hands to the interpreter instead of compiling:
    /// those from which every path fails (REVERT, INVALID) and those native code never
    /// enters (see `cold`). Most of a Solidity contract's error handling is here, and not
    /// compiling it saves compile time at no cost to frames that succeed.
    pub cold: std::collections::HashSet<u32>,
}

impl Analysis {
    /// Analyses `code` for `spec`.
    pub fn new(code: &[u8], spec: SpecId) -> Self {
        let (instructions, jumpdests) = decode(code, spec);
        let sections = sections::build(&instructions, spec);
        let jumpdest_runs = jumpdest_runs(&instructions);
        let (heights, successors) = heights::compute(&instructions, &sections, &jumpdests, &jumpdest_runs);
        let cold = cold::compute(&instructions, &sections, &successors, &jumpdest_runs);
        Self { code_len: code.len(), instructions, jumpdests, sections, spec, jumpdest_runs, heights, successors, cold }
    }

    /// Whether `target` is a valid jump destination.
    pub fn is_jumpdest(&self, target: usize) -> bool {
        self.jumpdests.get(target).copied().unwrap_or(false)
    }

    /// Loop heads: JUMPDESTs that a static jump from the same block or a later one goes back
    /// to. Native code can be entered there as well, so that a frame the interpreter started
    /// before its code was compiled moves to native code at its next iteration (see
    /// `crate::evm`).
    pub fn loop_heads(&self) -> impl Iterator<Item = u32> + '_ {
        let mut heads: Vec<u32> = self
            .successors
            .iter()
            .flat_map(|(&block, targets)| targets.iter().filter(move |&&t| t <= block).copied())
            .filter(|&t| self.is_jumpdest(t as usize))
            .collect();
        heads.sort_unstable();
        heads.dedup();
        heads.into_iter()
    }

    /// Program counters at which execution resumes after a call or create returns.
    pub fn resume_points(&self) -> impl Iterator<Item = u32> + '_ {
        self.instructions.iter().filter(|i| i.suspends()).map(|i| i.pc + 1).filter(|&pc| (pc as usize) <= self.code_len)
    }
}

/// Finds runs of two or more consecutive JUMPDEST instructions.
fn jumpdest_runs(instructions: &[Instruction]) -> Vec<(u32, u32)> {
    let mut runs = Vec::new();
    let mut i = 0;
    while i < instructions.len() {
        if instructions[i].opcode != revm::bytecode::opcode::JUMPDEST {
            i += 1;
            continue;
        }
        let start = i;
        while i < instructions.len() && instructions[i].opcode == revm::bytecode::opcode::JUMPDEST {
            i += 1;
        }
        if i - start >= 2 {
            // JUMPDEST is one byte, so the run's pcs are contiguous.
            runs.push((instructions[start].pc, instructions[i - 1].pc + 1));
        }
    }
    runs
}

#[cfg(test)]
mod tests;
