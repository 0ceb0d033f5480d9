//! `JitEvm`: a revm `Evm` whose frames run as native code when compiled code is available.
//!
//! `JitEvm` delegates everything to the wrapped `Evm` except one step, `frame_run`: for each
//! frame it looks up (code hash, SpecId) through its [`JitHandle`] and runs native code on the
//! frame's own interpreter state, or revm's interpreter when there is none. Because native
//! code resumes from the interpreter's pc after a call, native and interpreted execution can
//! hand a frame back and forth at any resume point.

pub mod inspect;

pub use inspect::InspectionMode;

use crate::abi::{Builtins, EvmContext, ExitStatus};
use crate::builtins;
use crate::compiler::CompiledFn;
use crate::runtime::JitHandle;
use revm::primitives::{B256, hardfork::SpecId};
use revm::{
    DatabaseCommit, ExecuteCommitEvm, ExecuteEvm,
    context::{ContextSetters, ContextTr, Database, Evm, JournalTr, result::*},
    handler::{
        EthFrame, EvmTr, FrameInitOrResult, FrameTr, Handler, MainnetHandler, PrecompileProvider, evm::ContextDbError,
        instructions::InstructionProvider,
    },
    interpreter::{
        GasTable, Host, InstructionResult, InstructionTable, Interpreter, InterpreterAction, InterpreterResult,
        interpreter::EthInterpreter,
        interpreter_types::{Jumps, LegacyBytecode, RuntimeFlag},
    },
    state::EvmState,
};
use std::ffi::c_void;

/// A revm `Evm` that runs compiled code where it has some; see the module documentation.
#[derive(Debug)]
pub struct JitEvm<CTX, INSP, INST, P> {
    inner: Evm<CTX, INSP, INST, P, EthFrame<EthInterpreter>>,
    handle: JitHandle,
    enabled: bool,
    inspection: InspectionMode,
    frames: FrameCounts,
    recent: RecentCode,
}

/// How many frames ran as native code and how many ran in revm's interpreter.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct FrameCounts {
    /// Frames whose code started executing as native code.
    pub native: u64,
    /// Frames with code that ran in revm's interpreter.
    pub interpreted: u64,
}

/// Compiled code this `JitEvm` used in the current transaction, probed before the shared
/// cache: a call and the caller's resume each look code up, and a scan of a few entries costs
/// far less than a shared-cache probe. Cleared at every transaction, so it never keeps code
/// alive beyond the transaction that used it.
#[derive(Debug, Default)]
struct RecentCode {
    entries: Vec<(B256, SpecId, CompiledFn)>,
    next: usize,
}

impl RecentCode {
    const CAPACITY: usize = 16;

    fn get(&self, hash: &B256, spec: SpecId) -> Option<&CompiledFn> {
        self.entries.iter().find(|(h, s, _)| h == hash && *s == spec).map(|(_, _, f)| f)
    }

    fn insert(&mut self, hash: B256, spec: SpecId, compiled: CompiledFn) {
        if self.entries.len() < Self::CAPACITY {
            self.entries.push((hash, spec, compiled));
        } else {
            self.entries[self.next] = (hash, spec, compiled);
            self.next = (self.next + 1) % Self::CAPACITY;
        }
    }

    fn clear(&mut self) {
        self.entries.clear();
        self.next = 0;
    }
}

impl<CTX, INSP, INST, P> JitEvm<CTX, INSP, INST, P> {
    /// Wraps `evm`; compiled code comes from `handle`.
    pub fn new(evm: Evm<CTX, INSP, INST, P, EthFrame<EthInterpreter>>, handle: JitHandle) -> Self {
        Self {
            inner: evm,
            handle,
            enabled: true,
            inspection: InspectionMode::default(),
            frames: FrameCounts::default(),
            recent: RecentCode::default(),
        }
    }

    /// Turns native execution on or off, effective from the next frame. Off means revm's
    /// interpreter only, with no cache lookups.
    pub fn set_enabled(&mut self, enabled: bool) {
        self.enabled = enabled;
    }

    /// Whether native execution is on.
    pub fn is_enabled(&self) -> bool {
        self.enabled
    }

    /// Frames started so far, by how they started.
    pub fn frame_counts(&self) -> FrameCounts {
        self.frames
    }

    /// The wrapped `Evm`.
    pub fn inner(&self) -> &Evm<CTX, INSP, INST, P, EthFrame<EthInterpreter>> {
        &self.inner
    }

    /// The wrapped `Evm`, mutably.
    pub fn inner_mut(&mut self) -> &mut Evm<CTX, INSP, INST, P, EthFrame<EthInterpreter>> {
        &mut self.inner
    }

    /// Unwraps the `Evm`.
    pub fn into_inner(self) -> Evm<CTX, INSP, INST, P, EthFrame<EthInterpreter>> {
        self.inner
    }

    /// The handle compiled code is looked up through.
    pub fn handle(&self) -> &JitHandle {
        &self.handle
    }
}

impl<CTX, INSP, INST, P> EvmTr for JitEvm<CTX, INSP, INST, P>
where
    CTX: ContextTr,
    INST: InstructionProvider<Context = CTX, InterpreterTypes = EthInterpreter>,
    P: PrecompileProvider<CTX, Output = InterpreterResult>,
{
    type Context = CTX;
    type Instructions = INST;
    type Precompiles = P;
    type Frame = EthFrame<EthInterpreter>;

    fn all(&self) -> (&CTX, &INST, &P, &revm::context_interface::local::FrameStack<Self::Frame>) {
        self.inner.all()
    }

    fn all_mut(
        &mut self,
    ) -> (&mut CTX, &mut INST, &mut P, &mut revm::context_interface::local::FrameStack<Self::Frame>) {
        self.inner.all_mut()
    }

    fn frame_init(
        &mut self,
        frame_input: <Self::Frame as FrameTr>::FrameInit,
    ) -> Result<revm::handler::evm::FrameInitResult<'_, Self::Frame>, ContextDbError<CTX>> {
        self.inner.frame_init(frame_input)
    }

    fn frame_run(&mut self) -> Result<FrameInitOrResult<Self::Frame>, ContextDbError<CTX>> {
        let compiled = self.compiled_for_current_frame(true);
        let (ctx, instructions, _, frame_stack) = self.inner.all_mut();
        let frame = frame_stack.get();
        let interpreter = &mut frame.interpreter;
        let table = instructions.instruction_table();
        let gas_table = instructions.gas_table();
        let action = match compiled {
            Some(f) => run_native(&f, interpreter, ctx, table, gas_table),
            None => interpreter.run_plain(table, gas_table, ctx),
        };
        frame.process_next_action(ctx, action).inspect(|i| {
            if i.is_result() {
                frame.set_finished(true);
            }
        })
    }

    fn frame_return_result(
        &mut self,
        result: <Self::Frame as FrameTr>::FrameResult,
    ) -> Result<Option<<Self::Frame as FrameTr>::FrameResult>, ContextDbError<CTX>> {
        self.inner.frame_return_result(result)
    }
}

impl<CTX, INSP, INST, P> JitEvm<CTX, INSP, INST, P>
where
    CTX: ContextTr,
{
    /// Sets the next transaction, and forgets the code the previous one used.
    fn start_transaction(&mut self, tx: CTX::Tx)
    where
        CTX: ContextSetters,
    {
        self.recent.clear();
        self.inner.ctx.set_tx(tx);
    }

    /// The compiled code to run the top frame with, if native execution is on (and `allowed`)
    /// and there is some; counts the frame when it starts.
    fn compiled_for_current_frame(&mut self, allowed: bool) -> Option<CompiledFn> {
        let interpreter = &mut self.inner.frame_stack.get().interpreter;
        let compiled = if self.enabled && allowed { lookup(&self.handle, &mut self.recent, interpreter) } else { None };
        if interpreter.bytecode.pc() == 0 && !interpreter.bytecode.bytecode_slice().is_empty() {
            match compiled {
                Some(_) => self.frames.native += 1,
                None => self.frames.interpreted += 1,
            }
        }
        compiled
    }
}

/// Looks up compiled code for the frame's bytecode and fork: first among the code this
/// transaction already used, then in the runtime.
fn lookup(
    handle: &JitHandle,
    recent: &mut RecentCode,
    interpreter: &mut Interpreter<EthInterpreter>,
) -> Option<CompiledFn> {
    let spec = interpreter.runtime_flag.spec_id();
    let hash = interpreter.bytecode.get_or_calculate_hash();
    if let Some(f) = recent.get(&hash, spec) {
        return Some(f.clone());
    }
    let found = handle.lookup(hash, spec, &interpreter.bytecode)?;
    recent.insert(hash, spec, found.clone());
    Some(found)
}

/// What a native run of a frame does besides running its code: which builtins it gets, the
/// inspector they report to, and how the interpreter finishes a frame native code hands back.
pub(crate) trait NativeHooks<H: Host> {
    /// The builtin table native code calls.
    fn builtins(&self) -> &'static Builtins;
    /// The value of [`EvmContext::inspector`].
    fn inspector_ptr(&mut self) -> *mut c_void;
    /// Runs the rest of the frame in revm's interpreter.
    fn interpret(
        &mut self,
        interpreter: &mut Interpreter<EthInterpreter>,
        host: &mut H,
        table: &InstructionTable<EthInterpreter, H>,
        gas_table: &GasTable,
    ) -> InterpreterAction;
}

/// Uninspected frames: plain builtins, plain interpreter.
struct PlainHooks;

impl<H: Host> NativeHooks<H> for PlainHooks {
    fn builtins(&self) -> &'static Builtins {
        builtins::table::<H>()
    }

    fn inspector_ptr(&mut self) -> *mut c_void {
        std::ptr::null_mut()
    }

    fn interpret(
        &mut self,
        interpreter: &mut Interpreter<EthInterpreter>,
        host: &mut H,
        table: &InstructionTable<EthInterpreter, H>,
        gas_table: &GasTable,
    ) -> InterpreterAction {
        interpreter.run_plain(table, gas_table, host)
    }
}

/// Runs the frame in `interpreter` as native code until it returns, halts or calls out, and
/// returns the action for revm, exactly as `Interpreter::run_plain` would.
pub fn run_native<H: Host>(
    compiled: &CompiledFn,
    interpreter: &mut Interpreter<EthInterpreter>,
    host: &mut H,
    table: &InstructionTable<EthInterpreter, H>,
    gas_table: &GasTable,
) -> InterpreterAction {
    run_native_with(compiled, interpreter, host, table, gas_table, &mut PlainHooks)
}

/// [`run_native`] with the given hooks.
pub(crate) fn run_native_with<H: Host, K: NativeHooks<H>>(
    compiled: &CompiledFn,
    interpreter: &mut Interpreter<EthInterpreter>,
    host: &mut H,
    table: &InstructionTable<EthInterpreter, H>,
    gas_table: &GasTable,
    hooks: &mut K,
) -> InterpreterAction {
    if interpreter.stack.data().capacity() < revm::interpreter::interpreter::STACK_LIMIT {
        // Not a stack revm built for execution; native code needs the full buffer.
        return hooks.interpret(interpreter, host, table, gas_table);
    }
    // Everything read through `interpreter` before raw pointers into it are taken.
    let (memory, memory_len, calldata, calldata_len) = builtins::views(interpreter);
    let input = &interpreter.input;
    let (caller, call_value, address) =
        (input.caller_address.into_word().into(), input.call_value, input.target_address.into_word().into());
    let stack = interpreter.stack.data_mut();
    let stack_len = stack.len() as u64;
    let stack = stack.as_mut_ptr();
    let mut ctx = EvmContext {
        stack,
        stack_len,
        gas: interpreter.gas.remaining(),
        pc: interpreter.bytecode.pc() as u64,
        builtins: hooks.builtins(),
        interpreter: std::ptr::from_mut(interpreter).cast(),
        host: std::ptr::from_mut(host).cast(),
        instruction_table: std::ptr::from_ref(table).cast(),
        inspector: hooks.inspector_ptr(),
        memory,
        memory_len,
        calldata,
        calldata_len,
        caller,
        call_value,
        address,
    };
    // SAFETY: `compiled` holds the machine code alive for this call. The context points to the
    // frame's interpreter, the host, the instruction table for `H` and (for inspected frames)
    // the inspector the builtins were instantiated for, all live and not used by anything else
    // until the call returns; the stack buffer has STACK_LIMIT capacity (checked above). These
    // are the invariants documented in `crate::abi`.
    let raw = unsafe { (compiled.entry())(&mut ctx) };
    match ExitStatus::from_raw(raw) {
        Some(ExitStatus::ActionSet) => {}
        Some(ExitStatus::Stop) => {
            builtins::sync_into_interpreter(&ctx, interpreter);
            interpreter.halt(InstructionResult::Stop);
        }
        Some(ExitStatus::InvalidJump) => {
            builtins::sync_into_interpreter(&ctx, interpreter);
            interpreter.halt(InstructionResult::InvalidJump);
        }
        Some(ExitStatus::Interpret) => {
            builtins::sync_into_interpreter(&ctx, interpreter);
            interpreter.bytecode.absolute_jump(ctx.pc as usize);
            return hooks.interpret(interpreter, host, table, gas_table);
        }
        None => {
            tracing::error!(raw, "compiled code returned an unknown status");
            interpreter.halt_fatal();
        }
    }
    interpreter.take_next_action()
}

impl<CTX, INSP, INST, P> ExecuteEvm for JitEvm<CTX, INSP, INST, P>
where
    CTX: ContextTr<Journal: JournalTr<State = EvmState>> + ContextSetters,
    INST: InstructionProvider<Context = CTX, InterpreterTypes = EthInterpreter>,
    P: PrecompileProvider<CTX, Output = InterpreterResult>,
{
    type ExecutionResult = ExecutionResult<HaltReason>;
    type State = EvmState;
    type Error = EVMError<<CTX::Db as Database>::Error, InvalidTransaction>;
    type Tx = <CTX as ContextTr>::Tx;
    type Block = <CTX as ContextTr>::Block;

    fn set_block(&mut self, block: Self::Block) {
        self.inner.ctx.set_block(block);
    }

    fn transact_one(&mut self, tx: Self::Tx) -> Result<Self::ExecutionResult, Self::Error> {
        self.start_transaction(tx);
        MainnetHandler::default().run(self)
    }

    fn finalize(&mut self) -> Self::State {
        self.inner.ctx.journal_mut().finalize()
    }

    fn replay(&mut self) -> Result<ResultAndState<HaltReason>, Self::Error> {
        self.recent.clear();
        MainnetHandler::default()
            .run(self)
            .inspect_err(|_| {
                let _ = self.finalize();
            })
            .map(|result| {
                let state = self.finalize();
                ResultAndState::new(result, state)
            })
    }
}

impl<CTX, INSP, INST, P> ExecuteCommitEvm for JitEvm<CTX, INSP, INST, P>
where
    CTX: ContextTr<Journal: JournalTr<State = EvmState>, Db: DatabaseCommit> + ContextSetters,
    INST: InstructionProvider<Context = CTX, InterpreterTypes = EthInterpreter>,
    P: PrecompileProvider<CTX, Output = InterpreterResult>,
{
    fn commit(&mut self, state: Self::State) {
        self.inner.ctx.db_mut().commit(state);
    }
}
