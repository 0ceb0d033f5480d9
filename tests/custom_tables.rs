//! Custom instruction and gas tables: compiled code implements mainnet's tables for its spec,
//! so a `JitEvm` whose tables differ runs its frames in revm's interpreter, which honours
//! them: the results are the interpreter's with the same tables.

use revm::handler::EvmTr;
use revm::inspector::{InspectorEvmTr, NoOpInspector};
use revm::{
    ExecuteEvm, MainBuilder,
    bytecode::opcode,
    context::result::ResultAndState,
    database::{CacheDB, EmptyDB},
    handler::{MainnetContext, MainnetEvm},
    interpreter::{Instruction, InstructionContext, InstructionExecResult, interpreter::EthInterpreter},
    primitives::{Bytes, U256, hardfork::SpecId},
};
use revm_jit::{JitConfig, JitEvm, JitRuntime};
use revm_jit_cli::{asm, fixture::Case};

type Ctx = MainnetContext<CacheDB<EmptyDB>>;
type Evm = MainnetEvm<Ctx>;
type Instructions = revm::handler::instructions::EthInstructions<EthInterpreter, Ctx>;

/// A custom ADD: multiplies instead.
fn add_that_multiplies(context: InstructionContext<'_, Ctx, EthInterpreter>) -> InstructionExecResult {
    let stack = &mut context.interpreter.stack;
    let a = stack.pop()?;
    let b = stack.pop()?;
    if !stack.push(a.wrapping_mul(b)) {
        return Err(revm::interpreter::InstructionResult::StackOverflow);
    }
    Ok(())
}

/// A new opcode at an undefined slot (0x0c): pushes 77.
fn push_77(context: InstructionContext<'_, Ctx, EthInterpreter>) -> InstructionExecResult {
    if !context.interpreter.stack.push(U256::from(77)) {
        return Err(revm::interpreter::InstructionResult::StackOverflow);
    }
    Ok(())
}

/// Adds 6 and 7 (in a loop, so there is something to compile), stores the sum, and runs
/// `extra` before returning the top of the stack.
fn case(extra: &str) -> Case {
    let code = asm::assemble(&format!(
        "PUSH 3 loop: PUSH 1 SWAP1 SUB DUP1 PUSH @loop JUMPI POP
         PUSH 6 PUSH 7 ADD DUP1 PUSH 0 SSTORE
         {extra}
         PUSH 0 MSTORE PUSH 32 PUSH 0 RETURN"
    ))
    .expect("assembles");
    Case::call_code("custom", SpecId::CANCUN, code, Bytes::new(), 1_000_000)
}

/// Runs `case` in the interpreter and in a JitEvm, both with the tables `customize` makes;
/// returns both results and how many frames ran native.
fn both(case: &Case, customize: impl Fn(&mut Evm)) -> (ResultAndState, ResultAndState, u64) {
    let mut plain = case.context().build_mainnet();
    customize(&mut plain);
    let expected = plain.transact(case.tx()).expect("valid transaction");
    let runtime = JitRuntime::new(JitConfig::eager());
    let mut evm = JitEvm::new(case.context().build_mainnet(), runtime.handle());
    customize(evm.inner_mut());
    let result = evm.transact(case.tx()).expect("valid transaction");
    (expected, result, evm.frame_counts().native)
}

fn output(result: &ResultAndState) -> U256 {
    U256::from_be_slice(result.result.output().expect("returns"))
}

#[test]
fn mainnet_tables_run_native() {
    let (expected, result, native) = both(&case(""), |_| {});
    assert_eq!(result, expected);
    assert_eq!(output(&result), U256::from(13));
    assert_eq!(native, 1, "mainnet tables must not be mistaken for custom ones");
}

#[test]
fn an_inserted_instruction_runs_interpreted_and_is_honoured() {
    let (expected, result, native) = both(&case(""), |evm| {
        evm.instruction.insert_instruction(opcode::ADD, Instruction::new(add_that_multiplies), 3)
    });
    assert_eq!(output(&expected), U256::from(42), "the custom ADD ran in the interpreter");
    assert_eq!(result, expected);
    assert_eq!(native, 0);
}

#[test]
fn an_inserted_gas_cost_runs_interpreted_and_is_honoured() {
    let mainnet = both(&case(""), |_| {}).0;
    let (expected, result, native) = both(&case(""), |evm| evm.instruction.insert_gas(opcode::ADD, 1_000));
    // ADD runs once: 1,000 instead of 3.
    assert!(
        expected.result.tx_gas_used() == mainnet.result.tx_gas_used() + 997,
        "the custom gas cost was charged: {} vs {}",
        expected.result.tx_gas_used(),
        mainnet.result.tx_gas_used()
    );
    assert_eq!(result, expected);
    assert_eq!(native, 0);
}

/// A new instruction at an undefined opcode, with mainnet's gas for it (0) or its own: only
/// the instruction table tells, and the frame runs interpreted.
#[test]
fn an_instruction_at_an_undefined_opcode_runs_interpreted_and_is_honoured() {
    let case = case(".bytes 0x0c\n ADD");
    for gas in [0, 5] {
        let (expected, result, native) =
            both(&case, |evm| evm.instruction.insert_instruction(0x0c, Instruction::new(push_77), gas));
        assert_eq!(output(&expected), U256::from(90), "13 + 77");
        assert_eq!(result, expected, "gas {gas}");
        assert_eq!(native, 0, "gas {gas}");
    }
}

/// Tables changed between transactions of one JitEvm through `inner_mut` are seen at the
/// next transaction.
#[test]
fn tables_changed_between_transactions_are_seen() {
    let case = case("");
    let runtime = JitRuntime::new(JitConfig::eager());
    let mut evm = JitEvm::new(case.context().build_mainnet(), runtime.handle());
    let first = evm.transact(case.tx()).expect("valid transaction");
    assert_eq!((output(&first), evm.frame_counts().native), (U256::from(13), 1));
    evm.inner_mut().instruction.insert_instruction(opcode::ADD, Instruction::new(add_that_multiplies), 3);
    let second = evm.transact(case.tx()).expect("valid transaction");
    assert_eq!((output(&second), evm.frame_counts().native), (U256::from(42), 1));
}

/// A `JitEvm` kept across transactions checks its tables once, and again whenever it hands
/// out its instructions mutably: a custom ADD put in through `EvmTr::all_mut`,
/// `EvmTr::ctx_instructions` or `InspectorEvmTr::all_mut_inspector` after a native
/// transaction is honoured by the next one, which runs interpreted.
#[test]
fn tables_changed_through_any_mutable_accessor_are_seen() {
    type Jit = JitEvm<Ctx, NoOpInspector, Instructions, revm::handler::EthPrecompiles>;
    type Accessor = fn(&mut Jit) -> &mut Instructions;
    let accessors: [(&str, Accessor); 3] = [
        ("all_mut", |evm| EvmTr::all_mut(evm).1),
        ("ctx_instructions", |evm| EvmTr::ctx_instructions(evm).1),
        ("all_mut_inspector", |evm| InspectorEvmTr::all_mut_inspector(evm).1),
    ];
    let case = case("");
    let runtime = JitRuntime::new(JitConfig::eager());
    for (name, instructions) in accessors {
        let mut evm = JitEvm::new(case.context().build_mainnet_with_inspector(NoOpInspector), runtime.handle());
        for round in 0..2 {
            let mainnet = evm.transact(case.tx()).expect("valid transaction");
            assert_eq!((output(&mainnet), evm.frame_counts().native), (U256::from(13), round + 1), "{name}");
            // The context alone, as the handler reaches it: the tables stay mainnet's.
            let _ = EvmTr::ctx(&mut evm);
        }
        instructions(&mut evm).insert_instruction(opcode::ADD, Instruction::new(add_that_multiplies), 3);
        let custom = evm.transact(case.tx()).expect("valid transaction");
        assert_eq!((output(&custom), evm.frame_counts().native), (U256::from(42), 2), "{name}");
    }
}

/// Verdicts on tables are remembered per thread (a new `JitEvm` per block or transaction must
/// not rebuild mainnet's tables): on one thread, EVMs with mainnet and with custom tables, in
/// turn and repeatedly, each get the verdict of their own tables.
#[test]
fn remembered_verdicts_tell_each_evm_its_own_tables() {
    let case = case("");
    let custom_add = |evm: &mut Evm| {
        evm.instruction.insert_instruction(opcode::ADD, Instruction::new(add_that_multiplies), 3);
    };
    let custom_gas = |evm: &mut Evm| evm.instruction.insert_gas(opcode::ADD, 1_000);
    for round in 0..3 {
        let (expected, result, native) = both(&case, |_| {});
        assert_eq!((result == expected, native), (true, 1), "mainnet, round {round}");
        let (expected, result, native) = both(&case, custom_add);
        assert_eq!((result == expected, native), (true, 0), "custom ADD, round {round}");
        let (expected, result, native) = both(&case, custom_gas);
        assert_eq!((result == expected, native), (true, 0), "custom gas, round {round}");
    }
}
