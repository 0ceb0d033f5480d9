use super::*;
use revm::bytecode::opcode as op;
use revm::primitives::U256;

fn analyse(code: &[u8]) -> Analysis {
    Analysis::new(code, SpecId::CANCUN)
}

#[test]
fn truncated_push_reads_zeros_for_missing_bytes() {
    // PUSH3 0xAB 0xCD, truncated: the value is 0xABCD00.
    let a = analyse(&[op::PUSH3, 0xAB, 0xCD]);
    assert_eq!(a.instructions[0].op, Operation::Push(U256::from(0xABCD00u32)));
    // Falling off the end executes the padding: an implicit STOP where the PUSH would end.
    assert_eq!(a.instructions.len(), 2);
    assert_eq!(a.instructions[1].opcode, op::STOP);
    assert_eq!(a.instructions[1].pc, 4);
}

#[test]
fn jumpdest_inside_push_data_is_not_a_destination() {
    let a = analyse(&[op::PUSH2, op::JUMPDEST, op::JUMPDEST, op::JUMPDEST, op::STOP]);
    assert!(!a.is_jumpdest(1));
    assert!(!a.is_jumpdest(2));
    assert!(a.is_jumpdest(3));
    assert!(!a.is_jumpdest(100));
}

#[test]
fn no_implicit_stop_after_a_terminator() {
    let a = analyse(&[op::PUSH1, 0, op::PUSH1, 0, op::RETURN]);
    assert_eq!(a.instructions.last().unwrap().opcode, op::RETURN);
}

#[test]
fn constant_jump_targets_are_resolved_through_dup_and_swap() {
    // PUSH1 8, PUSH1 1, SWAP1, JUMP  -> target 8.
    let a = analyse(&[op::PUSH1, 8, op::PUSH1, 1, op::SWAP1, op::JUMP, op::INVALID, op::INVALID, op::JUMPDEST]);
    let jump = a.instructions.iter().find(|i| i.opcode == op::JUMP).unwrap();
    assert_eq!(jump.static_target, Some(U256::from(8)));
    // A target that is computed stays dynamic.
    let a = analyse(&[op::CALLDATASIZE, op::JUMP]);
    assert_eq!(a.instructions[1].static_target, None);
}

#[test]
fn a_jumpi_section_checks_for_the_section_it_falls_through_to() {
    // [PUSH1 PUSH1 JUMPI] [POP PUSH1 PUSH1 ADD STOP] [JUMPDEST STOP]
    let a = analyse(&[
        op::PUSH1,
        1,
        op::PUSH1,
        13,
        op::JUMPI,
        op::POP,
        op::PUSH1,
        2,
        op::PUSH1,
        3,
        op::ADD,
        op::STOP,
        op::INVALID,
        op::JUMPDEST,
        op::STOP,
    ]);
    let [jumpi, fallthrough, target] = a.sections[..] else { panic!("{:?}", a.sections) };
    assert_eq!((jumpi.gas, fallthrough.gas), (3 + 3 + 10, 2 + 3 + 3 + 3));
    assert!(jumpi.checked && !fallthrough.checked && target.checked);
    assert_eq!(jumpi.check_gas, jumpi.gas + fallthrough.gas, "one check for both");
    // The fall-through pops one item the JUMPI section leaves as it found it: the folded check
    // needs one at entry; and grows by 2 above its entry, as the JUMPI section does.
    assert_eq!((fallthrough.min_len, jumpi.min_len), (1, 1));
    assert_eq!(jumpi.max_growth, 2);
    // A JUMPDEST after a JUMPI can be jumped to: it keeps its own check.
    let a = analyse(&[op::PUSH1, 1, op::PUSH1, 5, op::JUMPI, op::JUMPDEST, op::STOP]);
    assert!(a.sections.iter().all(|s| s.checked && s.check_gas == s.gas), "{:?}", a.sections);
}

#[test]
fn sections_sum_static_gas_and_stack_bounds() {
    // ADD needs 2 items; PUSH1 PUSH1 grows by 2 first, so the section needs 0 at entry.
    let a = analyse(&[op::PUSH1, 1, op::PUSH1, 2, op::ADD, op::POP, op::STOP]);
    assert_eq!(a.sections.len(), 1);
    let s = a.sections[0];
    assert_eq!(s.gas, 3 + 3 + 3 + 2);
    assert_eq!(s.min_len, 0);
    assert_eq!(s.max_growth, 2);

    // POP POP ADD: needs 4 items at entry.
    let a = analyse(&[op::POP, op::POP, op::ADD, op::STOP]);
    assert_eq!(a.sections[0].min_len, 4);
}

#[test]
fn revm_executed_instructions_and_gas_end_sections() {
    // SLOAD is executed by revm, GAS reads gas: each ends its section.
    let a = analyse(&[op::PUSH1, 0, op::SLOAD, op::GAS, op::POP, op::POP, op::STOP]);
    let ends: Vec<u8> = a.sections.iter().map(|s| a.instructions[s.end - 1].opcode).collect();
    assert_eq!(ends, vec![op::SLOAD, op::GAS, op::STOP]);
    assert!(a.sections[0].starts_block);
    assert!(!a.sections[1].starts_block, "a section after SLOAD continues the same block");
}

#[test]
fn blocks_start_at_jumpdests_after_jumpi_and_after_calls() {
    let code = [
        op::PUSH1,
        0,
        op::PUSH1,
        7,
        op::JUMPI, // 0..5
        op::PUSH0,
        op::STOP,     // 5: after JUMPI
        op::JUMPDEST, // 7
        op::PUSH0,
        op::PUSH0,
        op::PUSH0,
        op::PUSH0,
        op::PUSH0,
        op::PUSH0,
        op::PUSH0,
        op::CALL, // 8..16
        op::STOP, // 16: resume point
    ];
    let a = analyse(&code);
    let block_pcs: Vec<u32> =
        a.sections.iter().filter(|s| s.starts_block).map(|s| a.instructions[s.first].pc).collect();
    assert_eq!(block_pcs, vec![0, 5, 7, 16]);
    assert_eq!(a.resume_points().collect::<Vec<_>>(), vec![16]);
}

#[test]
fn unreachable_code_gets_no_section() {
    // Code after STOP that is not a JUMPDEST can never run.
    let a = analyse(&[op::STOP, op::PUSH1, 1, op::JUMPDEST, op::STOP]);
    let firsts: Vec<u32> = a.sections.iter().map(|s| a.instructions[s.first].pc).collect();
    assert_eq!(firsts, vec![0, 3]);
}

#[test]
fn opcodes_before_their_fork_are_left_to_revm() {
    let frontier = Analysis::new(&[op::PUSH1, 1, op::PUSH1, 1, op::SHL, op::STOP], SpecId::FRONTIER);
    assert_eq!(frontier.instructions[2].op, Operation::Revm);
    let cancun = Analysis::new(&[op::PUSH1, 1, op::PUSH1, 1, op::SHL, op::STOP], SpecId::CANCUN);
    assert_eq!(cancun.instructions[2].op, Operation::Inline);
    let push0 = Analysis::new(&[op::PUSH0], SpecId::LONDON);
    assert_eq!(push0.instructions[0].op, Operation::Revm);
}

#[test]
fn a_run_of_jumpdests_is_one_section_with_a_block_after_it() {
    let code = [op::JUMPDEST, op::JUMPDEST, op::JUMPDEST, op::PUSH0, op::STOP];
    let a = analyse(&code);
    assert_eq!(a.jumpdest_runs, vec![(0, 3)]);
    let blocks: Vec<u32> = a.sections.iter().filter(|s| s.starts_block).map(|s| a.instructions[s.first].pc).collect();
    assert_eq!(blocks, vec![0, 3]);
    assert_eq!(a.sections[0].gas, 3);
    // A single JUMPDEST is an ordinary block start, not a run.
    assert!(analyse(&[op::PUSH0, op::JUMPDEST, op::STOP]).jumpdest_runs.is_empty());
}

#[test]
fn static_heights_follow_static_jumps_and_fallthrough() {
    // 0: PUSH1 1, PUSH1 7, JUMPI (-> 7 at height 0, fallthrough 5 at height 0)
    // 5: PUSH0, STOP | 7: JUMPDEST, PUSH0, PUSH0, STOP
    let a = analyse(&[op::PUSH1, 1, op::PUSH1, 7, op::JUMPI, op::PUSH0, op::STOP, op::JUMPDEST, op::STOP]);
    assert_eq!(a.heights.get(&0), Some(&0));
    assert_eq!(a.heights.get(&5), Some(&0));
    assert_eq!(a.heights.get(&7), Some(&0));
}

#[test]
fn disagreeing_heights_leave_a_block_dynamic() {
    // 0: PUSH0, PUSH1 1, PUSH1 8, JUMPI  (-> 8 at height 1)
    // 6: PUSH0, (fallthrough into 8 at height 2)
    // 7: (part of block 6) ... 8: JUMPDEST STOP
    let code = [op::PUSH0, op::PUSH1, 1, op::PUSH1, 8, op::JUMPI, op::PUSH0, op::PUSH0, op::JUMPDEST, op::STOP];
    let a = analyse(&code);
    assert_eq!(a.heights.get(&6), Some(&1));
    assert_eq!(a.heights.get(&8), None);
}

#[test]
fn a_dynamic_jump_makes_every_jumpdest_dynamic() {
    // 0: PUSH1 4, CALLDATALOAD... use an unknown target: PUSH0 CALLDATALOAD JUMP; 4: JUMPDEST STOP
    let a = analyse(&[op::PUSH0, op::CALLDATALOAD, op::JUMP, op::INVALID, op::JUMPDEST, op::STOP]);
    assert_eq!(a.heights.get(&0), Some(&0));
    assert_eq!(a.heights.get(&4), None);
}

#[test]
fn resume_points_get_the_height_after_the_call() {
    // 7 zeros, CALL (7 in, 1 out), STOP: resume at 8 with height 1.
    let mut code = vec![op::PUSH0; 7];
    code.extend([op::CALL, op::STOP]);
    let a = analyse(&code);
    assert_eq!(a.heights.get(&8), Some(&1));
}

/// The cold set of `code`, sorted.
fn cold(code: &[u8]) -> Vec<u32> {
    let mut cold: Vec<u32> = analyse(code).cold.into_iter().collect();
    cold.sort_unstable();
    cold
}

#[test]
fn a_reverting_branch_is_cold_and_the_succeeding_one_is_not() {
    // 0: PUSH1 0 CALLDATALOAD PUSH1 10 JUMPI | 6: PUSH0 PUSH0 REVERT | 9: INVALID | 10: JUMPDEST STOP
    let code =
        [op::PUSH1, 0, op::CALLDATALOAD, op::PUSH1, 10, op::JUMPI, op::PUSH0, op::PUSH0, op::REVERT, op::INVALID];
    let code = [&code[..], &[op::JUMPDEST, op::STOP]].concat();
    assert_eq!(cold(&code), vec![6]);
}

#[test]
fn blocks_whose_every_static_path_fails_are_cold() {
    // 0: PUSH1 0 CALLDATALOAD PUSH1 8 JUMPI | 6: STOP | 7: INVALID (unreached)
    // 8: JUMPDEST PUSH1 0 CALLDATALOAD PUSH1 18 JUMPI | 15: PUSH1 20 JUMP
    // 18: JUMPDEST INVALID | 20: JUMPDEST PUSH0 PUSH0 REVERT
    let code = [
        op::PUSH1,
        0,
        op::CALLDATALOAD,
        op::PUSH1,
        8,
        op::JUMPI,
        op::STOP,
        op::INVALID,
        op::JUMPDEST,
        op::PUSH1,
        0,
        op::CALLDATALOAD,
        op::PUSH1,
        18,
        op::JUMPI,
        op::PUSH1,
        20,
        op::JUMP,
        op::JUMPDEST,
        0xEF,
        op::JUMPDEST,
        op::PUSH0,
        op::PUSH0,
        op::REVERT,
    ];
    // Block 8 is doomed through both of its ways out, 15 through its static jump, 18 ends in
    // an undefined opcode, 20 reverts; the block at 0 can stop, so it is not.
    assert_eq!(cold(&code), vec![8, 15, 18, 20]);
}

#[test]
fn a_dynamic_jump_or_a_loop_is_never_doomed() {
    // 0: PUSH1 0 CALLDATALOAD JUMP | 4: JUMPDEST PUSH0 PUSH0 REVERT | 8: JUMPDEST STOP
    let code = [
        op::PUSH1,
        0,
        op::CALLDATALOAD,
        op::JUMP,
        op::JUMPDEST,
        op::PUSH0,
        op::PUSH0,
        op::REVERT,
        op::JUMPDEST,
        op::STOP,
    ];
    assert_eq!(cold(&code), vec![4]);
    // A loop whose only exit reverts: 0: JUMPDEST PUSH1 0 CALLDATALOAD PUSH1 0 JUMPI | 7: PUSH0 PUSH0 REVERT
    let code =
        [op::JUMPDEST, op::PUSH1, 0, op::CALLDATALOAD, op::PUSH1, 0, op::JUMPI, op::PUSH0, op::PUSH0, op::REVERT];
    assert_eq!(cold(&code), vec![7]);
}

#[test]
fn blocks_native_code_never_enters_are_cold() {
    // Without dynamic jumps, a JUMPDEST nobody jumps to is unreached:
    // 0: PUSH1 0 PUSH1 0 RETURN | 5: JUMPDEST STOP
    let code = [op::PUSH1, 0, op::PUSH1, 0, op::RETURN, op::JUMPDEST, op::STOP];
    assert_eq!(cold(&code), vec![5]);
    // With a dynamic jump anywhere native code runs, every JUMPDEST may be entered.
    let code = [op::PUSH1, 0, op::CALLDATALOAD, op::JUMP, op::JUMPDEST, op::STOP, op::JUMPDEST, op::STOP];
    assert_eq!(cold(&code), Vec::<u32>::new());
    // A call made only on a doomed path: its resume point is never entered natively.
    // 0: PUSH1 0 CALLDATALOAD PUSH1 6 JUMPI | ... STOP | 6: JUMPDEST, seven PUSH0, CALL | 15: POP PUSH0 PUSH0 REVERT
    let mut code = vec![op::PUSH1, 0, op::CALLDATALOAD, op::PUSH1, 7, op::JUMPI, op::STOP, op::JUMPDEST];
    code.extend([op::PUSH0; 6]);
    code.extend([op::GAS, op::CALL, op::POP, op::PUSH0, op::PUSH0, op::REVERT]);
    assert_eq!(cold(&code), vec![7, 16]);
}

#[test]
fn code_after_a_dynamically_reached_jumpdest_is_reached() {
    // 0: PUSH1 0 CALLDATALOAD JUMP | 4: JUMPDEST PUSH1 0 CALLDATALOAD PUSH1 13 JUMPI
    // 11: PUSH0 STOP (reached only by falling through from the JUMPDEST block at 4)
    // 13: JUMPDEST STOP
    let code = [
        op::PUSH1,
        0,
        op::CALLDATALOAD,
        op::JUMP,
        op::JUMPDEST,
        op::PUSH1,
        0,
        op::CALLDATALOAD,
        op::PUSH1,
        13,
        op::JUMPI,
        op::PUSH0,
        op::STOP,
        op::JUMPDEST,
        op::STOP,
    ];
    assert_eq!(cold(&code), Vec::<u32>::new());
}

#[test]
fn loop_heads_are_the_jumpdests_static_jumps_go_back_to() {
    // A counting loop whose head (2) a static JUMPI goes back to; a JUMPDEST (15) reached by
    // a forward jump only; and a dynamic jump back to 2, which adds nothing.
    let code = [
        op::PUSH1,
        3,            // 0
        op::JUMPDEST, // 2: loop head
        op::PUSH1,
        1,
        op::SWAP1,
        op::SUB, // 3..6
        op::DUP1,
        op::PUSH1,
        2,
        op::JUMPI, // 7..10: back to 2 while non-zero
        op::PUSH1,
        15,
        op::JUMP,     // 11..13: forward to 15
        op::INVALID,  // 14
        op::JUMPDEST, // 15: reached forward only
        op::CALLVALUE,
        op::PUSH1,
        2,
        op::ADD,
        op::JUMP, // 16..20: dynamic (CALLVALUE + 2)
    ];
    let analysis = analyse(&code);
    assert_eq!(analysis.loop_heads().collect::<Vec<_>>(), [2]);
}
