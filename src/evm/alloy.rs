//! [alloy-evm]'s `EvmFactory` and `Evm` on top of [`JitEvm`], the way reth and other
//! alloy-based nodes take a custom EVM (feature `alloy-evm`).
//!
//! A node builds its EVMs through an `EvmFactory`: one per block, one per RPC call, one per
//! traced transaction. [`JitEvmFactory`] builds [`JitEthEvm`]s: alloy-evm's Ethereum EVM
//! (same context, instructions and precompiles as `EthEvmFactory`'s, built by alloy-evm's own
//! `EthEvmBuilder`) wrapped in a [`JitEvm`] whose frames run as native code. Every EVM of a
//! factory shares the factory's [`JitHandle`], so code compiled while executing one block
//! runs natively in every later block, RPC call and trace.
//!
//! ```no_run
//! use alloy_evm::{EvmEnv, EvmFactory};
//! use revm::database::{CacheDB, EmptyDB};
//! use revm_jit::{JitConfig, JitRuntime, evm::alloy::JitEvmFactory};
//!
//! let runtime = JitRuntime::new(JitConfig::default());
//! let factory = JitEvmFactory::new(runtime.handle());
//! // Wherever the node took `EthEvmFactory::default()`:
//! let evm = factory.create_evm(CacheDB::new(EmptyDB::new()), EvmEnv::default());
//! ```
//!
//! [alloy-evm]: https://github.com/alloy-rs/evm

use super::{InspectionMode, JitEvm};
use crate::runtime::JitHandle;
use alloy_evm::{Database, EthEvmFactory, EvmEnv, EvmFactory, eth::EthEvmBuilder, precompiles::PrecompilesMap};
use revm::{
    Context, ExecuteEvm, InspectEvm, Inspector, SystemCallEvm,
    context::{BlockEnv, CfgEnv, TxEnv},
    context_interface::result::{EVMError, HaltReason, ResultAndState},
    handler::instructions::EthInstructions,
    inspector::NoOpInspector,
    interpreter::interpreter::EthInterpreter,
    primitives::{Address, Bytes, hardfork::SpecId},
};
use std::fmt;
use std::ops::{Deref, DerefMut};

/// The context of a [`JitEthEvm`]: alloy-evm's Ethereum context (`EthEvmContext`), so that
/// inspectors written for `EthEvmFactory`'s EVMs work unchanged.
pub type JitEthEvmContext<DB> = alloy_evm::eth::EthEvmContext<DB>;

/// The [`JitEvm`] inside a [`JitEthEvm`]: mainnet instructions, alloy-evm's precompiles map.
pub type JitEthEvmInner<DB, I> =
    JitEvm<JitEthEvmContext<DB>, I, EthInstructions<EthInterpreter, JitEthEvmContext<DB>>, PrecompilesMap>;

/// An alloy-evm [`EvmFactory`] whose EVMs run frames as native code: the drop-in replacement
/// for alloy-evm's `EthEvmFactory` in a node's EVM configuration.
///
/// Cloning is cheap (a [`JitHandle`] is shared), and every clone feeds and uses the same
/// runtime: one compiled contract serves every EVM the node creates. The EVMs it creates
/// behave as `EthEvmFactory`'s, results included; only their speed differs.
#[derive(Clone, Debug)]
pub struct JitEvmFactory {
    handle: JitHandle,
    inspection: InspectionMode,
}

impl JitEvmFactory {
    /// A factory whose EVMs look compiled code up through `handle` (from
    /// [`crate::JitRuntime::handle`]). Inspected transactions run interpreted
    /// ([`InspectionMode::Interpreted`]), so every tracer works as with `EthEvmFactory`.
    pub fn new(handle: JitHandle) -> Self {
        Self { handle, inspection: InspectionMode::default() }
    }

    /// Chooses how the EVMs it creates run inspected transactions. A node whose tracing is
    /// call-level only (call traces, logs) can take [`InspectionMode::Native`] to trace at
    /// native speed; see [`InspectionMode`] for what inspectors see then.
    pub fn with_inspection_mode(mut self, mode: InspectionMode) -> Self {
        self.inspection = mode;
        self
    }

    /// The handle the factory's EVMs share: its runtime's stats, its switch.
    pub fn handle(&self) -> &JitHandle {
        &self.handle
    }

    /// Wraps an EVM built by alloy-evm's builder, so it is built exactly as `EthEvmFactory`
    /// builds one.
    fn wrap<DB: Database, I>(&self, builder: EthEvmBuilder<DB, I>, inspect: bool) -> JitEthEvm<DB, I>
    where
        I: Inspector<JitEthEvmContext<DB>>,
    {
        let mut inner = JitEvm::new(builder.build().into_inner(), self.handle.clone());
        inner.set_inspection_mode(self.inspection);
        JitEthEvm { inner, inspect }
    }
}

impl EvmFactory for JitEvmFactory {
    type Evm<DB: Database, I: Inspector<JitEthEvmContext<DB>>> = JitEthEvm<DB, I>;
    type Context<DB: Database> = JitEthEvmContext<DB>;
    type Tx = <EthEvmFactory as EvmFactory>::Tx;
    type Error<DBError: revm::context::DBErrorMarker> = EVMError<DBError>;
    type HaltReason = HaltReason;
    type Spec = SpecId;
    type BlockEnv = BlockEnv;
    type Precompiles = PrecompilesMap;

    fn create_evm<DB: Database>(&self, db: DB, env: EvmEnv) -> JitEthEvm<DB, NoOpInspector> {
        self.wrap(EthEvmBuilder::new(db, env), false)
    }

    fn create_evm_with_inspector<DB: Database, I: Inspector<JitEthEvmContext<DB>>>(
        &self,
        db: DB,
        env: EvmEnv,
        inspector: I,
    ) -> JitEthEvm<DB, I> {
        self.wrap(EthEvmBuilder::new(db, env).inspector(inspector), true)
    }
}

/// An alloy-evm [`Evm`](alloy_evm::Evm) running frames as native code: what
/// [`JitEvmFactory`] creates. It dereferences to its [`JitEvm`], so
/// [`JitEvm::frame_counts`], [`JitEvm::set_enabled`] and the revm context (`evm.block`,
/// `evm.cfg`, `evm.ctx`) are at hand.
pub struct JitEthEvm<DB: Database, I> {
    inner: JitEthEvmInner<DB, I>,
    /// Whether transactions run through the inspector (alloy-evm's
    /// `Evm::set_inspector_enabled`).
    inspect: bool,
}

impl<DB: Database, I> JitEthEvm<DB, I> {
    /// Wraps a [`JitEvm`] over alloy-evm's Ethereum context; `inspect` says whether
    /// transactions run through its inspector.
    pub fn new(inner: JitEthEvmInner<DB, I>, inspect: bool) -> Self {
        Self { inner, inspect }
    }

    /// Unwraps the [`JitEvm`].
    pub fn into_inner(self) -> JitEthEvmInner<DB, I> {
        self.inner
    }
}

/// Shows what identifies the EVM's behaviour, not its database or inspector (which need not be
/// `Debug`).
impl<DB: Database, I> fmt::Debug for JitEthEvm<DB, I> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JitEthEvm")
            .field("spec", &self.inner.ctx.cfg.spec)
            .field("inspect", &self.inspect)
            .field("enabled", &self.inner.is_enabled())
            .field("inspection_mode", &self.inner.inspection_mode())
            .field("frames", &self.inner.frame_counts())
            .finish_non_exhaustive()
    }
}

impl<DB: Database, I> Deref for JitEthEvm<DB, I> {
    type Target = JitEthEvmInner<DB, I>;

    fn deref(&self) -> &Self::Target {
        &self.inner
    }
}

impl<DB: Database, I> DerefMut for JitEthEvm<DB, I> {
    fn deref_mut(&mut self) -> &mut Self::Target {
        &mut self.inner
    }
}

impl<DB, I> alloy_evm::Evm for JitEthEvm<DB, I>
where
    DB: Database,
    I: Inspector<JitEthEvmContext<DB>>,
{
    type DB = DB;
    type Tx = TxEnv;
    type Error = EVMError<DB::Error>;
    type HaltReason = HaltReason;
    type Spec = SpecId;
    type BlockEnv = BlockEnv;
    type Precompiles = PrecompilesMap;
    type Inspector = I;

    fn block(&self) -> &BlockEnv {
        &self.inner.ctx.block
    }

    fn cfg_env(&self) -> &CfgEnv<SpecId> {
        &self.inner.ctx.cfg
    }

    fn chain_id(&self) -> u64 {
        self.inner.ctx.cfg.chain_id
    }

    fn transact_raw(&mut self, tx: TxEnv) -> Result<ResultAndState<HaltReason>, Self::Error> {
        if self.inspect { self.inner.inspect_tx(tx) } else { self.inner.transact(tx) }
    }

    fn transact_system_call(
        &mut self,
        caller: Address,
        contract: Address,
        data: Bytes,
    ) -> Result<ResultAndState<HaltReason>, Self::Error> {
        self.inner.system_call_with_caller(caller, contract, data)
    }

    fn finish(self) -> (DB, EvmEnv<SpecId>) {
        let Context { block, cfg, journaled_state, .. } = self.inner.into_inner().ctx;
        (journaled_state.database, EvmEnv { block_env: block, cfg_env: cfg })
    }

    fn set_inspector_enabled(&mut self, enabled: bool) {
        self.inspect = enabled;
    }

    fn components(&self) -> (&DB, &I, &PrecompilesMap) {
        let evm = self.inner.inner();
        (&evm.ctx.journaled_state.database, &evm.inspector, &evm.precompiles)
    }

    fn components_mut(&mut self) -> (&mut DB, &mut I, &mut PrecompilesMap) {
        let evm = self.inner.inner_mut();
        (&mut evm.ctx.journaled_state.database, &mut evm.inspector, &mut evm.precompiles)
    }
}
