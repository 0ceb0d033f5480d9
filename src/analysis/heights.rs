//! Static stack heights: the stack length at the entry of each block, where it is the same on
//! every path that reaches the block.
//!
//! Knowing the height at compile time lets codegen keep a block's stack items in SSA values
//! (see `codegen`), so loops run in registers instead of through the interpreter's stack
//! buffer. The dataflow starts at pc 0 (height 0) and follows every edge the interpreter can
//! take: fall-through, static jumps, the two ways out of a JUMPI, and the resume point after a
//! call or create (a child frame leaves exactly one result). A block whose predecessors
//! disagree gets no height and keeps dynamic addressing. Dynamic jumps (and static jumps into
//! the middle of a JUMPDEST run, which go through the same dispatch) can reach every JUMPDEST
//! at any height, so when the code has any, every JUMPDEST block and every block after a run
//! is left without a height.
//!
//! Heights hold whoever executes the code: a frame handed to the interpreter at a failed check
//! follows the same control flow, so it reaches a resume point with the same height native
//! code would have had.

use super::decode::Instruction;
use super::sections::Section;
use revm::bytecode::opcode as op;
use revm::interpreter::interpreter::STACK_LIMIT;
use std::collections::HashMap;

/// Entry height of every block whose height is static, keyed by the block's first pc, and the
/// static successors of every block (fall-through, static jump targets, resume points).
pub(super) fn compute(
    instructions: &[Instruction],
    sections: &[Section],
    jumpdests: &[bool],
    jumpdest_runs: &[(u32, u32)],
) -> (HashMap<u32, u32>, HashMap<u32, Vec<u32>>) {
    // Blocks: (first pc, index of first instruction, index one past the last instruction).
    let mut blocks: Vec<(u32, usize, usize)> = Vec::new();
    for section in sections {
        if section.starts_block {
            blocks.push((instructions[section.first].pc, section.first, section.end));
        } else if let Some(last) = blocks.last_mut() {
            last.2 = section.end;
        }
    }
    let index: HashMap<u32, usize> = blocks.iter().enumerate().map(|(i, b)| (b.0, i)).collect();
    let is_block_jumpdest = |t: usize| jumpdests.get(t).copied().unwrap_or(false) && index.contains_key(&(t as u32));

    // Any jump that goes through the dispatch makes every JUMPDEST (and run end) reachable at
    // an unknown height.
    let dispatch_used = blocks.iter().any(|&(_, _, end)| {
        let last = &instructions[end - 1];
        matches!(last.opcode, op::JUMP | op::JUMPI)
            && match last.static_target {
                None => true,
                Some(t) => {
                    usize::try_from(t).is_ok_and(|t| jumpdests.get(t).copied().unwrap_or(false))
                        && !is_block_jumpdest(usize::try_from(t).unwrap_or(usize::MAX))
                }
            }
    });

    let successors: Vec<Vec<u32>> = (0..blocks.len())
        .map(|block| {
            let last = &instructions[blocks[block].2 - 1];
            let mut out: Vec<u32> = Vec::new();
            match last.opcode {
                op::JUMP | op::JUMPI => {
                    if let Some(t) = last.static_target.and_then(|t| usize::try_from(t).ok())
                        && is_block_jumpdest(t)
                    {
                        out.push(t as u32);
                    }
                    if last.opcode == op::JUMPI {
                        out.push(last.pc + 1);
                    }
                }
                _ if last.suspends() => out.push(last.pc + 1),
                _ if last.is_terminator() => {}
                _ => {
                    if let Some(next) = blocks.get(block + 1) {
                        out.push(next.0);
                    }
                }
            }
            out.retain(|pc| index.contains_key(pc));
            out
        })
        .collect();

    let mut heights = vec![Height::Unvisited; blocks.len()];
    let mut work: Vec<usize> = Vec::new();
    if dispatch_used {
        for (i, &(pc, first, _)) in blocks.iter().enumerate() {
            let after_run = jumpdest_runs.iter().any(|&(_, end)| end == pc);
            if instructions[first].opcode == op::JUMPDEST || after_run {
                join(&mut heights, &mut work, i, Height::Unknown);
            }
        }
    }
    if let Some(&start) = index.get(&0) {
        join(&mut heights, &mut work, start, Height::Known(0));
    }

    while let Some(block) = work.pop() {
        let (_, first, end) = blocks[block];
        let entry = heights[block];
        // Simulate the block; `None` means the height is unknown, and a block that underflows
        // or overflows at a known height always fails its check and goes nowhere.
        let mut h = match entry {
            Height::Known(h) => Some(h as i64),
            _ => None,
        };
        let mut fails = false;
        for ins in &instructions[first..end] {
            if let Some(v) = h.as_mut() {
                if *v < ins.inputs() as i64 {
                    fails = true;
                    break;
                }
                *v += ins.outputs() as i64 - ins.inputs() as i64;
                if *v > STACK_LIMIT as i64 {
                    fails = true;
                    break;
                }
            }
        }
        if fails {
            continue;
        }
        let out = match h {
            Some(h) => Height::Known(h as u32),
            None => Height::Unknown,
        };
        for pc in &successors[block] {
            join(&mut heights, &mut work, index[pc], out);
        }
    }

    let known = blocks
        .iter()
        .zip(heights)
        .filter_map(|(b, h)| match h {
            Height::Known(h) => Some((b.0, h)),
            _ => None,
        })
        .collect();
    let edges = blocks.iter().zip(successors).map(|(b, s)| (b.0, s)).collect();
    (known, edges)
}

/// A block's entry height in the dataflow.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Height {
    Unvisited,
    Known(u32),
    Unknown,
}

/// Merges `h` into `block`'s height, queueing the block when it changed.
fn join(heights: &mut [Height], work: &mut Vec<usize>, block: usize, h: Height) {
    let merged = match (heights[block], h) {
        (Height::Unvisited, h) => h,
        (Height::Known(a), Height::Known(b)) if a == b => Height::Known(a),
        _ => Height::Unknown,
    };
    if merged != heights[block] {
        heights[block] = merged;
        work.push(block);
    }
}
