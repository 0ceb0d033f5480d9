//! Inspected transactions on a [`JitEvm`]: revm's inspector traits, and the choice between
//! step-level inspection (interpreted) and native frames with frame-level hooks.
//!
//! revm's frame layer reports calls, creates and frame ends to the inspector whatever runs a
//! frame, so those need nothing from native code. What happens *inside* a frame is different:
//! native code has no instruction boundaries an inspector could observe, so `step` and
//! `step_end` cannot be delivered from it. [`InspectionMode`] makes that a visible choice:
//! - [`InspectionMode::Interpreted`] (the default) runs every frame of an inspected
//!   transaction in revm's interpreter, so step-level tracers (opcode tracers, gas profilers,
//!   debuggers) see every instruction exactly as with a plain `Evm`;
//! - [`InspectionMode::Native`] runs frames that have compiled code natively and reports
//!   logs (`Inspector::log_full`, the moment the LOG executes, through the inspected
//!   builtin table in [`crate::abi::EvmContext`]) and selfdestructs (`Inspector::selfdestruct`,
//!   replayed from what the journal recorded), besides the frame-level hooks. Call tracers
//!   such as revm-inspectors' `TracingInspector` with call and log recording produce the
//!   same traces either way.

use super::{JitEvm, NativeHooks, gas_spent, run_native_with};
use crate::JitHandle;
use crate::builtins::{self, report_logs, report_selfdestruct};
use revm::DatabaseCommit;
use revm::context::{ContextSetters, ContextTr, JournalTr, result::ExecutionResult};
use revm::handler::{
    FrameInitOrResult, Handler, ItemOrResult, MainnetHandler, PrecompileProvider, SystemCallCommitEvm, SystemCallEvm,
    evm::ContextDbError, instructions::InstructionProvider, system_call::SystemCallTx,
};
use revm::inspector::{
    InspectCommitEvm, InspectEvm, InspectSystemCallEvm, Inspector, InspectorEvmTr, InspectorHandler, JournalExt,
    handler::frame_end,
};
use revm::interpreter::{
    GasTable, Host, InstructionTable, Interpreter, InterpreterAction, InterpreterResult, interpreter::EthInterpreter,
    interpreter_types::LoopControl,
};
use revm::primitives::{Address, Bytes};
use revm::state::EvmState;
use std::ffi::c_void;

/// How a [`JitEvm`] runs the frames of inspected transactions (`inspect_*` methods).
/// Uninspected transactions are not affected.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum InspectionMode {
    /// Every frame runs in revm's interpreter, so every inspector hook fires, `step` and
    /// `step_end` included. The default, because it keeps any inspector correct.
    #[default]
    Interpreted,
    /// Frames with compiled code run natively. The inspector sees calls, creates, frame ends,
    /// logs and selfdestructs, but no `step`/`step_end` for instructions run natively. For
    /// call tracers and log collectors, at native speed.
    Native,
}

impl<CTX, INSP, INST, P> JitEvm<CTX, INSP, INST, P> {
    /// Chooses how inspected transactions run; see [`InspectionMode`].
    pub fn set_inspection_mode(&mut self, mode: InspectionMode) {
        self.inspection = mode;
    }

    /// How inspected transactions run.
    pub fn inspection_mode(&self) -> InspectionMode {
        self.inspection
    }
}

/// Native-run hooks of an inspected frame in [`InspectionMode::Native`].
struct InspectorHooks<'a, I> {
    inspector: &'a mut I,
    /// Where hand-offs are counted.
    handle: &'a JitHandle,
}

impl<H, I> NativeHooks<H> for InspectorHooks<'_, I>
where
    H: Host + ContextTr<Journal: JournalExt>,
    I: Inspector<H, EthInterpreter>,
{
    fn builtins(&self) -> &'static crate::abi::Builtins {
        builtins::inspected_table::<H, I>()
    }

    fn inspector_ptr(&mut self) -> *mut c_void {
        std::ptr::from_mut(self.inspector).cast()
    }

    fn handed_off(&mut self, _interpreter: &Interpreter<EthInterpreter>) {
        self.handle.count_handoff();
    }

    /// The interpreted rest of a frame that native code handed back: revm's interpreter,
    /// one instruction at a time, reporting logs and a selfdestruct like the native part did
    /// (and, like it, no step hooks, so a frame never shows a partial step trace).
    fn interpret(
        &mut self,
        interpreter: &mut Interpreter<EthInterpreter>,
        host: &mut H,
        table: &InstructionTable<EthInterpreter, H>,
        gas_table: &GasTable,
    ) -> InterpreterAction {
        let mut journal_before;
        loop {
            let logs_before = host.journal().logs().len();
            journal_before = host.journal().journal().len();
            if let Err(reason) = interpreter.step(table, gas_table, host)
                && interpreter.bytecode.action().is_none()
            {
                interpreter.halt(reason);
            }
            if host.journal().logs().len() != logs_before {
                report_logs(interpreter, host, self.inspector, logs_before);
            }
            if interpreter.bytecode.is_end() {
                break;
            }
        }
        report_selfdestruct(interpreter, host, self.inspector, journal_before);
        interpreter.take_next_action()
    }
}

impl<CTX, INSP, INST, P> JitEvm<CTX, INSP, INST, P>
where
    CTX: ContextSetters + ContextTr<Journal: JournalExt>,
    INSP: Inspector<CTX, EthInterpreter>,
    INST: InstructionProvider<Context = CTX, InterpreterTypes = EthInterpreter>,
    P: PrecompileProvider<CTX, Output = InterpreterResult>,
{
    /// Runs `tx` inspected, with `handler` instead of revm's `MainnetHandler`: the inspected
    /// counterpart of [`JitEvm::transact_with`]. Frames run as the [`InspectionMode`] says,
    /// through this `JitEvm`'s `InspectorEvmTr::inspect_frame_run`.
    pub fn inspect_with<H>(&mut self, handler: &mut H, tx: CTX::Tx) -> Result<ExecutionResult<H::HaltReason>, H::Error>
    where
        H: InspectorHandler<Evm = Self, IT = EthInterpreter>,
    {
        self.start_transaction(tx);
        handler.inspect_run(self)
    }
}

impl<CTX, INSP, INST, P> InspectorEvmTr for JitEvm<CTX, INSP, INST, P>
where
    CTX: ContextTr<Journal: JournalExt> + ContextSetters,
    INST: InstructionProvider<Context = CTX, InterpreterTypes = EthInterpreter>,
    P: PrecompileProvider<CTX, Output = InterpreterResult>,
    INSP: Inspector<CTX, EthInterpreter>,
{
    type Inspector = INSP;

    fn all_inspector(&self) -> (&CTX, &INST, &P, &revm::context_interface::local::FrameStack<Self::Frame>, &INSP) {
        self.inner.all_inspector()
    }

    /// Hands out the instructions mutably, so the tables are checked again at the next frame.
    fn all_mut_inspector(
        &mut self,
    ) -> (&mut CTX, &mut INST, &mut P, &mut revm::context_interface::local::FrameStack<Self::Frame>, &mut INSP) {
        self.tables = None;
        self.inner.all_mut_inspector()
    }

    // revm's inspector handler calls these on every frame; their default bodies go through
    // `all_mut_inspector`, which would make every frame check the tables again. None of them
    // hands out the instructions.

    fn inspector(&mut self) -> &mut INSP {
        self.inner.inspector()
    }

    fn ctx_inspector(&mut self) -> (&mut CTX, &mut INSP) {
        self.inner.ctx_inspector()
    }

    fn ctx_inspector_frame(&mut self) -> (&mut CTX, &mut INSP, &mut Self::Frame) {
        self.inner.ctx_inspector_frame()
    }

    fn inspect_frame_run(&mut self) -> Result<FrameInitOrResult<Self::Frame>, ContextDbError<CTX>> {
        let native_allowed = self.inspection == InspectionMode::Native;
        let Some(compiled) = self.compiled_for_current_frame(native_allowed) else {
            return self.inner.inspect_frame_run();
        };
        let (ctx, inspector, frame, instructions) = self.inner.ctx_inspector_frame_instructions();
        let mut hooks = InspectorHooks { inspector, handle: &self.handle };
        let gas_before = frame.interpreter.gas.remaining();
        // SAFETY: `compiled_for_current_frame` returns only code compiled from the frame's
        // bytecode for its spec, and only while the tables are mainnet's for it.
        let action = unsafe {
            run_native_with(
                &compiled,
                &mut frame.interpreter,
                ctx,
                instructions.instruction_table(),
                instructions.gas_table(),
                &mut hooks,
            )
        };
        self.handle.count_baseline_gas(&compiled, gas_spent(gas_before, &frame.interpreter, &action));
        let mut result = frame.process_next_action(ctx, action);
        if let Ok(ItemOrResult::Result(frame_result)) = &mut result {
            frame_end(ctx, hooks.inspector, &frame.input, frame_result);
            frame.set_finished(true);
        }
        result
    }
}

impl<CTX, INSP, INST, P> InspectEvm for JitEvm<CTX, INSP, INST, P>
where
    CTX: ContextSetters + ContextTr<Journal: JournalTr<State = EvmState> + JournalExt>,
    INSP: Inspector<CTX, EthInterpreter>,
    INST: InstructionProvider<Context = CTX, InterpreterTypes = EthInterpreter>,
    P: PrecompileProvider<CTX, Output = InterpreterResult>,
{
    type Inspector = INSP;

    fn set_inspector(&mut self, inspector: INSP) {
        self.inner.inspector = inspector;
    }

    fn inspect_one_tx(&mut self, tx: Self::Tx) -> Result<Self::ExecutionResult, Self::Error> {
        self.inspect_with(&mut MainnetHandler::default(), tx)
    }
}

impl<CTX, INSP, INST, P> InspectCommitEvm for JitEvm<CTX, INSP, INST, P>
where
    CTX: ContextSetters + ContextTr<Journal: JournalTr<State = EvmState> + JournalExt, Db: DatabaseCommit>,
    INSP: Inspector<CTX, EthInterpreter>,
    INST: InstructionProvider<Context = CTX, InterpreterTypes = EthInterpreter>,
    P: PrecompileProvider<CTX, Output = InterpreterResult>,
{
}

impl<CTX, INSP, INST, P> SystemCallEvm for JitEvm<CTX, INSP, INST, P>
where
    CTX: ContextTr<Journal: JournalTr<State = EvmState>, Tx: SystemCallTx> + ContextSetters,
    INST: InstructionProvider<Context = CTX, InterpreterTypes = EthInterpreter>,
    P: PrecompileProvider<CTX, Output = InterpreterResult>,
{
    fn system_call_one_with_caller(
        &mut self,
        caller: Address,
        system_contract_address: Address,
        data: Bytes,
    ) -> Result<Self::ExecutionResult, Self::Error> {
        self.start_transaction(CTX::Tx::new_system_tx_with_caller(caller, system_contract_address, data));
        MainnetHandler::default().run_system_call(self)
    }
}

impl<CTX, INSP, INST, P> SystemCallCommitEvm for JitEvm<CTX, INSP, INST, P>
where
    CTX: ContextTr<Journal: JournalTr<State = EvmState>, Db: DatabaseCommit, Tx: SystemCallTx> + ContextSetters,
    INST: InstructionProvider<Context = CTX, InterpreterTypes = EthInterpreter>,
    P: PrecompileProvider<CTX, Output = InterpreterResult>,
{
    fn system_call_with_caller_commit(
        &mut self,
        caller: Address,
        system_contract_address: Address,
        data: Bytes,
    ) -> Result<Self::ExecutionResult, Self::Error> {
        let output = self.system_call_with_caller(caller, system_contract_address, data)?;
        self.inner.ctx.db_mut().commit(output.state);
        Ok(output.result)
    }
}

impl<CTX, INSP, INST, P> InspectSystemCallEvm for JitEvm<CTX, INSP, INST, P>
where
    CTX: ContextSetters + ContextTr<Journal: JournalTr<State = EvmState> + JournalExt, Tx: SystemCallTx>,
    INSP: Inspector<CTX, EthInterpreter>,
    INST: InstructionProvider<Context = CTX, InterpreterTypes = EthInterpreter>,
    P: PrecompileProvider<CTX, Output = InterpreterResult>,
{
    fn inspect_one_system_call_with_caller(
        &mut self,
        caller: Address,
        system_contract_address: Address,
        data: Bytes,
    ) -> Result<Self::ExecutionResult, Self::Error> {
        self.start_transaction(CTX::Tx::new_system_tx_with_caller(caller, system_contract_address, data));
        MainnetHandler::default().inspect_run_system_call(self)
    }
}
