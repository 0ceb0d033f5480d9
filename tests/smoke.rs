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
