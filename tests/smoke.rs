//! Small programs compiled and run against the interpreter: arithmetic, loops, jumps into runs of JUMPDESTs, sections that overflow the stack.

mod common;
use common::Scenario;
use revm::primitives::hex;

#[test]
fn add_and_return() {
    // PUSH1 2 PUSH1 3 ADD PUSH1 0 MSTORE PUSH1 32 PUSH1 0 RETURN
    let code = hex::decode("600260030160005260206000f3").unwrap();
    let out = Scenario::new(code).assert_same();
    assert!(out.result.result.is_success());
    assert_eq!(out.result.result.output().unwrap()[31], 5);
}

#[test]
fn loop_with_jumps() {
    // counter loop: i = 10; while i != 0 { i -= 1 } ; return i
    // 0: PUSH1 10
    // 2: JUMPDEST        (loop)
    // 3: DUP1 ISZERO PUSH1 0x0f JUMPI
    // 8: PUSH1 1 SWAP1 SUB PUSH1 2 JUMP (ends at 0x0e)
    // f: JUMPDEST PUSH1 0 MSTORE PUSH1 32 PUSH1 0 RETURN
    let code = hex::decode("600a5b8015600f57600190036002565b60005260206000f3").unwrap();
    let out = Scenario::new(code).assert_same();
    assert!(out.result.result.is_success(), "{:?}", out.result.result);
}

/// A section that pushes more than 1024 items can never pass its overflow check, even from an
/// empty stack (found by the state tests: 1025 PUSH0s after a TSTORE).
#[test]
fn section_growing_past_the_stack_limit_overflows_like_the_interpreter() {
    let mut code = vec![0x60, 0x45, 0x60, 0x01, 0x5d]; // PUSH1 0x45 PUSH1 1 TSTORE
    code.extend(std::iter::repeat_n(0x5f, 1025)); // 1025 x PUSH0
    let out = Scenario::new(code).gas(10_000_000).assert_same();
    assert!(matches!(
        out.result.result,
        revm::context::result::ExecutionResult::Halt { reason: revm::context::result::HaltReason::StackOverflow, .. }
    ));
    // And with exactly 1024 pushes from an empty stack, native code runs them all.
    let code = [vec![0x5f; 1024], vec![0x00]].concat();
    let out = Scenario::new(code).gas(10_000_000).assert_same();
    assert!(out.result.result.is_success());
}

/// Code with a run of JUMPDESTs: `PUSH2 target; JUMP; JUMPDEST x 100; PUSH1 1 PUSH1 0 SSTORE STOP`,
/// with the target given as calldata (dynamic jump) or as a constant (static jump).
fn jump_into_run(target: u16, dynamic: bool) -> Vec<u8> {
    let mut code = if dynamic {
        vec![0x60, 0x00, 0x35, 0x60, 0xf0, 0x1c] // PUSH1 0 CALLDATALOAD PUSH1 240 SHR: top 2 bytes
    } else {
        vec![0x61, (target >> 8) as u8, target as u8]
    };
    code.push(0x56); // JUMP
    code.extend(std::iter::repeat_n(0x5b, 100));
    code.extend([0x60, 0x01, 0x60, 0x00, 0x55, 0x00]);
    code
}

/// Jumps into a run of JUMPDESTs charge one JUMPDEST per remaining byte and run on after it;
/// with too little gas the interpreter takes over and runs out inside the run.
#[test]
fn jumps_into_a_run_of_jumpdests_match_the_interpreter() {
    for dynamic in [true, false] {
        let start = if dynamic { 7u16 } else { 4u16 };
        for target in [start, start + 1, start + 50, start + 99, start + 100, start + 101] {
            for gas in [21_000 + 68 * 2 + 120, 21_000 + 68 * 2 + 23_000, 100_000] {
                let scenario =
                    Scenario::new(jump_into_run(target, dynamic)).gas(gas).calldata(target.to_be_bytes().to_vec());
                scenario.assert_same();
            }
        }
    }
}

/// 60,000 JUMPDESTs (as in the state test static_Call50000bytesContract50_2) compile quickly:
/// a run of JUMPDESTs is one section, not 60,000 blocks.
#[test]
fn a_huge_run_of_jumpdests_compiles_and_matches() {
    let mut code = vec![0x60, 0x01];
    code.extend(std::iter::repeat_n(0x5b, 60_000));
    code.extend([0x60, 0x00, 0x55, 0x00]);
    let out = Scenario::new(code).gas(1_000_000).assert_same();
    assert!(out.result.result.is_success());
}
