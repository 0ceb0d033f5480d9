//! A `JitEvm` is a drop-in for revm's `Evm`: it dereferences to it (`evm.block`, `evm.cfg`,
//! `evm.ctx`), and a chain's own handler drives it (`JitEvm::transact_with`,
//! `JitEvm::inspect_with`) with its frames still native.

use revm::{
    ExecuteEvm, MainBuilder,
    context::{ContextTr, JournalTr, result::*},
    handler::{EthFrame, EvmTr, EvmTrError, FrameResult, Handler, MainnetHandler},
    inspector::{InspectorEvmTr, InspectorHandler, NoOpInspector},
    interpreter::interpreter::EthInterpreter,
    primitives::{Address, U256, hardfork::SpecId},
    state::EvmState,
};
use revm_jit::{InspectionMode, JitConfig, JitEvm, JitRuntime};
use revm_jit_cli::{fixture::Case, programs};

/// A chain whose handler pays the block's beneficiary nothing: mainnet's handler with one
/// step overridden, generic over the EVM as `MainnetHandler` is.
struct NoReward<EVM, ERROR>(MainnetHandler<EVM, ERROR, EthFrame<EthInterpreter>>);

impl<EVM, ERROR> Default for NoReward<EVM, ERROR> {
    fn default() -> Self {
        Self(MainnetHandler::default())
    }
}

impl<EVM, ERROR> Handler for NoReward<EVM, ERROR>
where
    EVM: EvmTr<Context: ContextTr<Journal: JournalTr<State = EvmState>>, Frame = EthFrame<EthInterpreter>>,
    ERROR: EvmTrError<EVM>,
{
    type Evm = EVM;
    type Error = ERROR;
    type HaltReason = HaltReason;

    fn reward_beneficiary(&self, _evm: &mut EVM, _result: &mut FrameResult) -> Result<(), ERROR> {
        Ok(())
    }
}

impl<EVM, ERROR> InspectorHandler for NoReward<EVM, ERROR>
where
    EVM: InspectorEvmTr<
            Context: ContextTr<Journal: JournalTr<State = EvmState>>,
            Frame = EthFrame<EthInterpreter>,
            Inspector: revm::Inspector<EVM::Context, EthInterpreter>,
        >,
    ERROR: EvmTrError<EVM>,
{
    type IT = EthInterpreter;
}

/// The error type of the test's EVMs (their database cannot fail).
type Error = EVMError<core::convert::Infallible>;

const BENEFICIARY: Address = Address::repeat_byte(0xbe);

/// The `storage` program with a gas price, so that the beneficiary's reward is not zero.
fn case() -> Case {
    programs::storage().case(SpecId::CANCUN)
}

fn tx(case: &Case) -> revm::context::TxEnv {
    revm::context::TxEnv { gas_price: 7, ..case.tx() }
}

/// Plain revm run with `NoReward`: what the `JitEvm` must produce.
fn expected(case: &Case) -> (ExecutionResult, EvmState) {
    let mut evm = case.context().build_mainnet();
    evm.block.beneficiary = BENEFICIARY;
    let mut handler: NoReward<_, Error> = NoReward::default();
    revm::context::ContextSetters::set_tx(&mut evm.ctx, tx(case));
    let result = handler.run(&mut evm).expect("valid transaction");
    (result, evm.finalize())
}

fn beneficiary_paid(state: &EvmState) -> bool {
    state.get(&BENEFICIARY).is_some_and(|account| account.info.balance > U256::ZERO)
}

#[test]
fn custom_handler_runs_frames_natively() {
    let runtime = JitRuntime::new(JitConfig::eager());
    let case = case();
    let (expected_result, expected_state) = expected(&case);
    assert!(!beneficiary_paid(&expected_state));

    let mut evm = JitEvm::new(case.context().build_mainnet(), runtime.handle());
    // Through `DerefMut`, as on a plain `Evm`.
    evm.block.beneficiary = BENEFICIARY;
    let result = evm.transact_with(&mut NoReward::<_, Error>::default(), tx(&case)).expect("valid transaction");
    let state = evm.finalize();
    assert_eq!(result, expected_result);
    assert_eq!(state, expected_state);
    assert!(evm.frame_counts().native > 0, "{:?}", evm.frame_counts());

    // The mainnet handler, on the same EVM, does pay: the handler is what made the difference.
    let paid = evm.transact(tx(&case)).expect("valid transaction");
    assert!(beneficiary_paid(&paid.state));
}

#[test]
fn custom_inspector_handler_runs_frames_natively() {
    let runtime = JitRuntime::new(JitConfig::eager());
    let case = case();
    let (expected_result, expected_state) = expected(&case);

    let mut evm = JitEvm::new(case.context().build_mainnet_with_inspector(NoOpInspector), runtime.handle());
    evm.set_inspection_mode(InspectionMode::Native);
    evm.block.beneficiary = BENEFICIARY;
    let result = evm.inspect_with(&mut NoReward::<_, Error>::default(), tx(&case)).expect("valid transaction");
    assert_eq!(result, expected_result);
    assert_eq!(evm.finalize(), expected_state);
    assert!(evm.frame_counts().native > 0, "{:?}", evm.frame_counts());
}

/// Reading and writing the wrapped `Evm` through `Deref`/`DerefMut` reaches the very context
/// transactions run in.
#[test]
fn deref_reaches_the_wrapped_evm() {
    let runtime = JitRuntime::new(JitConfig::eager());
    let case = case();
    let mut evm = JitEvm::new(case.context().build_mainnet(), runtime.handle());
    assert_eq!(evm.cfg.spec, SpecId::CANCUN);
    assert_eq!(evm.block.number, case.context().block.number);
    evm.block.number = U256::from(1234);
    evm.cfg.chain_id = 77;
    assert_eq!(evm.ctx().block().number, U256::from(1234));
    assert_eq!(evm.inner().ctx.cfg.chain_id, 77);
    // The transaction is checked against the chain id set through `DerefMut`.
    assert!(evm.transact(tx(&case)).is_err());
    let _ = evm.transact(revm::context::TxEnv { chain_id: Some(77), ..tx(&case) }).expect("valid transaction");
    assert!(evm.frame_counts().native > 0);
}
