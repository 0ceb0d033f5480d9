//! Cold blocks: blocks that native code hands to the interpreter instead of compiling.
//!
//! Two kinds, both safe to replace by "continue in the interpreter at this block's first pc"
//! (the hand-off every failed section check already uses, exact because nothing of the block
//! has run yet):
//!
//! - *Doomed* blocks, from which every static path ends in `REVERT`, `INVALID` or an undefined
//!   opcode. A reverting frame's remaining work is rarely more than building an error message,
//!   so the interpreter loses little time on it, while compiling it costs: in Solidity
//!   contracts a large share of the code (checks, error strings, panics) sits in such blocks.
//!   Computed as a least fixpoint over the static successors, so a block with a dynamic jump,
//!   a loop without a doomed exit, or a way to STOP or RETURN is never doomed.
//! - *Unreached* blocks, which native code can never enter: not reachable from the code start
//!   through blocks that are not doomed, not a resume point after a call made natively, and
//!   not a jump destination while native code makes dynamic jumps.

use super::decode::Instruction;
use super::sections::Section;
use revm::bytecode::opcode as op;
use revm::bytecode::opcode::OPCODE_INFO;
use std::collections::{HashMap, HashSet};

/// The first pcs of every cold block (see the module documentation).
pub(super) fn compute(
    instructions: &[Instruction],
    sections: &[Section],
    successors: &HashMap<u32, Vec<u32>>,
    jumpdest_runs: &[(u32, u32)],
) -> HashSet<u32> {
    let blocks = block_ends(instructions, sections);
    let doomed = doomed(&blocks, successors);
    let reached = reached(instructions, &blocks, successors, &doomed, jumpdest_runs);
    blocks.keys().copied().filter(|pc| doomed.contains(pc) || !reached.contains(pc)).collect()
}

/// Each block's first pc mapped to its last instruction.
fn block_ends<'a>(instructions: &'a [Instruction], sections: &[Section]) -> HashMap<u32, &'a Instruction> {
    let mut ends = HashMap::new();
    let mut current = None;
    for section in sections {
        if section.starts_block {
            current = Some(instructions[section.first].pc);
        }
        if let Some(pc) = current {
            ends.insert(pc, &instructions[section.end - 1]);
        }
    }
    ends
}

/// Whether `ins` ends every path through it in a revert or an exceptional halt.
fn always_fails(ins: &Instruction) -> bool {
    matches!(ins.opcode, op::REVERT | op::INVALID) || OPCODE_INFO[ins.opcode as usize].is_none()
}

/// Blocks from which every path ends in a failure: a least fixpoint, by a worklist over the
/// predecessors of each block found doomed, so linear in the number of edges.
fn doomed(blocks: &HashMap<u32, &Instruction>, successors: &HashMap<u32, Vec<u32>>) -> HashSet<u32> {
    let mut predecessors: HashMap<u32, Vec<u32>> = HashMap::new();
    for (&pc, next) in successors {
        for &s in next {
            predecessors.entry(s).or_default().push(pc);
        }
    }
    let mut doomed: HashSet<u32> = blocks.iter().filter(|(_, last)| always_fails(last)).map(|(&pc, _)| pc).collect();
    let mut work: Vec<u32> = doomed.iter().copied().collect();
    while let Some(pc) = work.pop() {
        for &p in predecessors.get(&pc).map(Vec::as_slice).unwrap_or_default() {
            if !doomed.contains(&p) && all_ways_doomed(blocks[&p], &successors[&p], &doomed) {
                doomed.insert(p);
                work.push(p);
            }
        }
    }
    doomed
}

/// Whether every way out of the block ending in `last` (with static successors `next`) leads
/// to a doomed block. STOP, RETURN and SELFDESTRUCT succeed, so only a fall-through, a JUMPI, a
/// call's resume point or a static JUMP can qualify.
fn all_ways_doomed(last: &Instruction, next: &[u32], doomed: &HashSet<u32>) -> bool {
    (!last.is_terminator() || last.opcode == op::JUMP)
        && complete_successors(last, next)
        && !next.is_empty()
        && next.iter().all(|s| doomed.contains(s))
}

/// Whether `next` lists every way out of the block ending in `last`: a JUMP or JUMPI whose
/// static target is not a block start (an invalid destination, or the middle of a JUMPDEST
/// run, dispatched at run time) has a way out that the successor list does not show.
fn complete_successors(last: &Instruction, next: &[u32]) -> bool {
    match last.opcode {
        op::JUMP => next.len() == 1,
        op::JUMPI => next.len() == 2,
        _ => true,
    }
}

/// Blocks native code can enter (see the module documentation): a traversal from the code
/// start through blocks that are not doomed; once it meets a dynamic jump, every JUMPDEST
/// block (and every block after a JUMPDEST run) is an entry too, and the traversal goes on
/// from them.
fn reached(
    instructions: &[Instruction],
    blocks: &HashMap<u32, &Instruction>,
    successors: &HashMap<u32, Vec<u32>>,
    doomed: &HashSet<u32>,
    jumpdest_runs: &[(u32, u32)],
) -> HashSet<u32> {
    let mut reached = HashSet::new();
    let mut work = vec![0u32];
    let mut dispatch_seeded = false;
    loop {
        let mut dispatch_used = false;
        while let Some(pc) = work.pop() {
            if !blocks.contains_key(&pc) || !reached.insert(pc) || doomed.contains(&pc) {
                continue;
            }
            let last = blocks[&pc];
            let next = successors.get(&pc).map(Vec::as_slice).unwrap_or_default();
            if matches!(last.opcode, op::JUMP | op::JUMPI) && !complete_successors(last, next) {
                dispatch_used = true;
            }
            work.extend_from_slice(next);
        }
        if !dispatch_used || dispatch_seeded {
            return reached;
        }
        dispatch_seeded = true;
        let by_pc: HashMap<u32, &Instruction> = instructions.iter().map(|i| (i.pc, i)).collect();
        for &pc in blocks.keys() {
            let after_run = jumpdest_runs.iter().any(|&(_, end)| end == pc);
            if by_pc[&pc].opcode == op::JUMPDEST || after_run {
                work.push(pc);
            }
        }
    }
}
