//! `JitEvm`: a revm `Evm` whose frames run as native code when compiled code is available.
//!
//! `JitEvm` delegates everything to the wrapped `Evm` except one step, `frame_run`: for each
//! frame it looks up (code hash, SpecId) through its [`JitHandle`] and runs native code on the
//! frame's own interpreter state, or revm's interpreter when there is none. Because native
//! code resumes from the interpreter's pc after a call, native and interpreted execution can
//! hand a frame back and forth at any resume point.
//!
//! # A drop-in for `Evm`
//!
//! A `JitEvm` dereferences to the `Evm` it wraps, so code written against revm's `Evm` keeps
//! compiling: `evm.ctx`, `evm.block`, `evm.cfg`, `evm.journal()` and the like reach the
//! wrapped EVM's context. revm's traits (`ExecuteEvm`, `ExecuteCommitEvm`, `InspectEvm`,
//! `SystemCallEvm`, ...) are implemented on `JitEvm` itself, so that their frames run natively.
//!
//! # Custom handlers
//!
//! The `ExecuteEvm` methods run revm's `MainnetHandler`. A chain with its own handler (other
//! fee rules, extra validation, a different reward) drives a `JitEvm` with it through
//! [`JitEvm::transact_with`] (or [`JitEvm::inspect_with`]): any `Handler` whose `Evm` is the
//! `JitEvm` works, because a handler runs frames through `EvmTr::frame_run`, which is where
//! `JitEvm` runs native code. The handler keeps every step it overrides.
//!
//! One caution that comes with `Deref`: a method call that resolves on `JitEvm` runs natively,
//! but a call that only the wrapped `Evm` can answer (a trait `JitEvm` does not implement for
//! the types at hand) resolves on the `Evm` and runs interpreted. Every revm execution trait
//! is implemented on `JitEvm` under the same bounds as on `Evm`, so this happens only with
//! traits from elsewhere implemented for `Evm` alone.

#[cfg(feature = "alloy-evm")]
pub mod alloy;
pub mod inspect;

pub use inspect::InspectionMode;

use crate::abi::{Builtins, EvmContext, ExitStatus};
use crate::builtins;
use crate::compiler::CompiledFn;
use crate::runtime::{CodeKey, Fallback, JitHandle};
use revm::bytecode::{Bytecode, opcode as op};
use revm::primitives::{B256, Bytes, hardfork::SpecId};
use revm::{
    DatabaseCommit, ExecuteCommitEvm, ExecuteEvm,
    context::{ContextSetters, ContextTr, Database, Evm, JournalTr, result::*},
    handler::{
        EthFrame, EvmTr, FrameInitOrResult, FrameTr, Handler, MainnetHandler, PrecompileProvider, evm::ContextDbError,
        instructions::InstructionProvider,
    },
    interpreter::{
        FrameInput, GasTable, Host, Instruction, InstructionResult, InstructionTable, Interpreter, InterpreterAction,
        InterpreterResult,
        instructions::{gas_table_spec, instruction_table},
        interpreter::EthInterpreter,
        interpreter_types::{Jumps, LegacyBytecode, LoopControl, RuntimeFlag},
    },
    state::EvmState,
};
use smallvec::SmallVec;
use std::cell::RefCell;
use std::ffi::c_void;
use std::ops::{Deref, DerefMut};
use std::sync::Arc;

/// A revm `Evm` that runs compiled code where it has some; see the module documentation.
#[derive(Debug)]
pub struct JitEvm<CTX, INSP, INST, P> {
    inner: Evm<CTX, INSP, INST, P, EthFrame<EthInterpreter>>,
    handle: JitHandle,
    enabled: bool,
    inspection: InspectionMode,
    frames: FrameCounts,
    recent: RecentCode,
    /// The key of the top frame's code when the lookup just made found it queued for or under
    /// compilation: the frame then watches for the code in its loops (see
    /// [`interpret_until_native`]).
    pending: Option<CodeKey>,
    /// Whether the instruction and gas tables are mainnet's for a spec, checked at the first
    /// frame after this `JitEvm` was made or last handed out its instructions mutably (see
    /// [`JitEvm::tables_are_mainnet`]).
    tables: Option<(SpecId, bool)>,
}

/// A verdict on an EVM's tables and the tables it was reached on. A transaction whose tables
/// are entry for entry the same (a 2.5 KiB comparison) reuses it, instead of building
/// mainnet's tables for the spec again and comparing against them: that cost more than the
/// whole native run of a small contract. Verdicts are remembered per thread (a node builds a
/// new EVM per block, `revm-jit bench` one per transaction).
#[derive(Debug)]
struct TablesVerdict {
    spec: SpecId,
    /// The instruction table's function addresses.
    instructions: Box<[usize; 256]>,
    gas: GasTable,
    mainnet: bool,
}

/// Verdicts a thread remembers, most recently used first.
const REMEMBERED_VERDICTS: usize = 8;

thread_local! {
    /// The verdicts reached or reused on this thread, most recently used first.
    static VERDICTS: RefCell<Vec<Arc<TablesVerdict>>> = const { RefCell::new(Vec::new()) };
}

impl TablesVerdict {
    /// The verdict on `table` and `gas` under `spec`: one this thread remembers, or one reached
    /// now. `None` if the table cannot be read as addresses (see [`instruction_addresses`]).
    fn of<H: Host>(table: &InstructionTable<EthInterpreter, H>, gas: &GasTable, spec: SpecId) -> Option<Arc<Self>> {
        let addresses = instruction_addresses(table)?;
        VERDICTS.with_borrow_mut(|remembered| {
            let verdict = match remembered.iter().position(|verdict| verdict.is_for(table, gas, spec)) {
                Some(index) => remembered.remove(index),
                None => {
                    let mainnet = is_mainnet_tables(table, gas, spec);
                    if !mainnet {
                        tracing::debug!(?spec, "custom instruction or gas table: frames run interpreted");
                    }
                    Arc::new(TablesVerdict { spec, instructions: Box::new(*addresses), gas: *gas, mainnet })
                }
            };
            remembered.insert(0, Arc::clone(&verdict));
            remembered.truncate(REMEMBERED_VERDICTS);
            Some(verdict)
        })
    }

    /// Whether `table` and `gas` under `spec` are the tables this verdict was reached on.
    fn is_for<H: Host>(&self, table: &InstructionTable<EthInterpreter, H>, gas: &GasTable, spec: SpecId) -> bool {
        self.spec == spec && self.gas == *gas && instruction_addresses(table).is_some_and(|a| *a == *self.instructions)
    }
}

/// The instruction table as the function addresses it holds, if an `Instruction` is exactly
/// one function pointer (as in revm 43).
fn instruction_addresses<H: Host>(table: &InstructionTable<EthInterpreter, H>) -> Option<&[usize; 256]> {
    if size_of::<Instruction<EthInterpreter, H>>() != size_of::<usize>() {
        return None;
    }
    // SAFETY: the table is an array of 256 `Instruction`s, each exactly one function pointer
    // (checked above: no padding, the alignment of a pointer), so it has the size, alignment
    // and initialised bytes of 256 `usize`s, and the borrow keeps it alive and unmodified.
    Some(unsafe { &*std::ptr::from_ref(table).cast::<[usize; 256]>() })
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
///
/// Each entry also remembers the bytecode buffer it was last checked against
/// ([`CompiledFn::is_compiled_from`]), and holds it, so that a frame running the same
/// account's code again costs a pointer comparison rather than a byte comparison (holding the
/// buffer keeps its address from being reused for other bytes).
///
/// It also remembers the keys that missed in this transaction, with the reason, so that the
/// next frames of the same contract count their miss without probing the shared cache (code
/// compiled meanwhile is found by the next transaction).
///
/// The first [`RECENT_INLINE`] entries and misses live inline: most transactions touch one
/// to three contracts, and an EVM built per transaction (as many tools do) would otherwise
/// pay a heap allocation for the first entry (measured with callgrind on a small fixture:
/// about 290 instructions per transaction, most of them in the allocator).
#[derive(Debug, Default)]
struct RecentCode {
    entries: SmallVec<[RecentEntry; RECENT_INLINE]>,
    next: usize,
    missed: SmallVec<[(B256, SpecId, Fallback); RECENT_INLINE]>,
}

/// Entries (and misses) a [`RecentCode`] keeps without a heap allocation.
const RECENT_INLINE: usize = 4;

#[derive(Debug)]
struct RecentEntry {
    hash: B256,
    spec: SpecId,
    compiled: CompiledFn,
    /// The bytecode `compiled` was last found to be compiled from.
    checked: Bytes,
}

impl RecentCode {
    const CAPACITY: usize = 16;

    /// The code recorded under (`hash`, `spec`), if it was compiled from `code`.
    fn get(&mut self, hash: &B256, spec: SpecId, code: &Bytecode) -> Lookup {
        let Some(entry) = self.entries.iter_mut().find(|e| e.hash == *hash && e.spec == spec) else {
            return Lookup::Unknown;
        };
        let bytes = code.original_byte_slice();
        if entry.checked.as_ptr() == bytes.as_ptr() && entry.checked.len() == bytes.len() {
            return Lookup::Found(entry.compiled.clone());
        }
        if !entry.compiled.is_compiled_from(bytes) {
            return Lookup::OtherCode;
        }
        entry.checked = code.original_bytes();
        Lookup::Found(entry.compiled.clone())
    }

    fn insert(&mut self, hash: B256, spec: SpecId, compiled: CompiledFn, checked: Bytes) {
        let entry = RecentEntry { hash, spec, compiled, checked };
        if self.entries.len() < Self::CAPACITY {
            self.entries.push(entry);
        } else {
            self.entries[self.next] = entry;
            self.next = (self.next + 1) % Self::CAPACITY;
        }
    }

    fn clear(&mut self) {
        self.entries.clear();
        self.next = 0;
        self.missed.clear();
    }

    /// Why (`hash`, `spec`) missed earlier in this transaction, if it did.
    fn missed(&self, hash: &B256, spec: SpecId) -> Option<Fallback> {
        self.missed.iter().find(|(h, s, _)| h == hash && *s == spec).map(|&(_, _, reason)| reason)
    }

    /// Remembers a miss (up to [`RecentCode::CAPACITY`] keys; later ones probe the cache).
    fn remember_miss(&mut self, hash: B256, spec: SpecId, reason: Fallback) {
        if let Some(entry) = self.missed.iter_mut().find(|(h, s, _)| *h == hash && *s == spec) {
            entry.2 = reason;
        } else if self.missed.len() < Self::CAPACITY {
            self.missed.push((hash, spec, reason));
        }
    }
}

/// What [`RecentCode::get`] found.
enum Lookup {
    /// Code compiled from the frame's bytecode.
    Found(CompiledFn),
    /// Code recorded under the frame's hash, but compiled from other bytes: the account's
    /// code hash does not match its code.
    OtherCode,
    /// Nothing recorded under the frame's hash.
    Unknown,
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
            pending: None,
            tables: None,
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

    /// The wrapped `Evm`, mutably. Its instruction and gas tables are checked against
    /// mainnet's again at the next frame.
    pub fn inner_mut(&mut self) -> &mut Evm<CTX, INSP, INST, P, EthFrame<EthInterpreter>> {
        self.tables = None;
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

/// The wrapped `Evm`, so that a `JitEvm` reads like one: `evm.ctx`, `evm.block`, `evm.cfg`.
impl<CTX, INSP, INST, P> Deref for JitEvm<CTX, INSP, INST, P> {
    type Target = Evm<CTX, INSP, INST, P, EthFrame<EthInterpreter>>;

    fn deref(&self) -> &Self::Target {
        &self.inner
    }
}

/// The wrapped `Evm`, mutably, as [`JitEvm::inner_mut`]: its instruction and gas tables are
/// checked against mainnet's again at the next frame, since they may be changed through it.
impl<CTX, INSP, INST, P> DerefMut for JitEvm<CTX, INSP, INST, P> {
    fn deref_mut(&mut self) -> &mut Self::Target {
        self.inner_mut()
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

    /// Hands out the instructions mutably, so the tables are checked again at the next frame.
    fn all_mut(
        &mut self,
    ) -> (&mut CTX, &mut INST, &mut P, &mut revm::context_interface::local::FrameStack<Self::Frame>) {
        self.tables = None;
        self.inner.all_mut()
    }

    // revm's handler reaches the context, precompiles and frames through these on every
    // transaction; their default bodies go through `all_mut`, which would make every
    // transaction check the tables again. None of them hands out the instructions.

    fn ctx(&mut self) -> &mut CTX {
        self.inner.ctx()
    }

    fn ctx_mut(&mut self) -> &mut CTX {
        self.inner.ctx_mut()
    }

    fn ctx_precompiles(&mut self) -> (&mut CTX, &mut P) {
        self.inner.ctx_precompiles()
    }

    fn frame_stack(&mut self) -> &mut revm::context_interface::local::FrameStack<Self::Frame> {
        self.inner.frame_stack()
    }

    // Forwarders the handler calls for every frame: inlined, they cost a disabled `JitEvm`
    // about 30 instructions less per frame (callgrind, the embedded `call` program).
    #[inline]
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
            Some(f) => {
                let gas_before = interpreter.gas.remaining();
                // SAFETY: `compiled_for_current_frame` returns only code compiled from the
                // frame's bytecode for its spec, and only while the tables are mainnet's for it.
                let action = unsafe {
                    run_native_with(&f, interpreter, ctx, table, gas_table, &mut PlainHooks(Some(&self.handle)))
                };
                self.handle.count_baseline_gas(&f, gas_spent(gas_before, interpreter, &action));
                action
            }
            None => match self.pending.take() {
                Some(key) => {
                    // SAFETY: `pending` is set only for a frame of mainnet tables for its spec
                    // (a lookup was made), and `interpret_until_native` runs code only once it
                    // was found compiled from this frame's bytecode for `key`'s spec, which is
                    // the frame's.
                    unsafe { interpret_until_native(&self.handle, key, interpreter, ctx, table, gas_table) }
                }
                None => interpreter.run_plain(table, gas_table, ctx),
            },
        };
        frame.process_next_action(ctx, action).inspect(|i| {
            if i.is_result() {
                frame.set_finished(true);
            }
        })
    }

    #[inline]
    fn frame_return_result(
        &mut self,
        result: <Self::Frame as FrameTr>::FrameResult,
    ) -> Result<Option<<Self::Frame as FrameTr>::FrameResult>, ContextDbError<CTX>> {
        self.inner.frame_return_result(result)
    }
}

impl<CTX, INSP, INST, P> JitEvm<CTX, INSP, INST, P>
where
    CTX: ContextTr + ContextSetters,
    INST: InstructionProvider<Context = CTX, InterpreterTypes = EthInterpreter>,
    P: PrecompileProvider<CTX, Output = InterpreterResult>,
{
    /// Runs `tx` with `handler` instead of revm's `MainnetHandler`, for chains whose handler
    /// differs from mainnet's (fees, validation, rewards). Frames still run natively: the
    /// handler runs them through this `JitEvm`'s `EvmTr::frame_run`. Like
    /// `ExecuteEvm::transact_one`, the state changes stay in the journal until
    /// `ExecuteEvm::finalize`.
    ///
    /// A handler that changes one step wraps `MainnetHandler` (or is generic over the EVM
    /// like it) and overrides that step; `tests/custom_handler.rs` has one that pays the
    /// beneficiary nothing, run on a `JitEvm` with its frames native.
    pub fn transact_with<H>(&mut self, handler: &mut H, tx: CTX::Tx) -> Result<ExecutionResult<H::HaltReason>, H::Error>
    where
        H: Handler<Evm = Self>,
    {
        self.start_transaction(tx);
        handler.run(self)
    }
}

impl<CTX, INSP, INST, P> JitEvm<CTX, INSP, INST, P>
where
    CTX: ContextTr,
    INST: InstructionProvider<Context = CTX, InterpreterTypes = EthInterpreter>,
{
    /// Sets the next transaction, and forgets the code the previous one used and what its
    /// tables were.
    fn start_transaction(&mut self, tx: CTX::Tx)
    where
        CTX: ContextSetters,
    {
        self.forget_transaction();
        self.inner.ctx.set_tx(tx);
    }

    /// Forgets what the previous transaction looked up. The verdict on the tables stays: it
    /// is dropped whenever the instructions are handed out mutably (see
    /// [`JitEvm::tables_are_mainnet`]).
    fn forget_transaction(&mut self) {
        self.recent.clear();
    }

    /// The compiled code to run the top frame with, if native execution is on (and `allowed`)
    /// and there is some; counts the frame when it starts.
    fn compiled_for_current_frame(&mut self, allowed: bool) -> Option<CompiledFn> {
        let spec = self.inner.frame_stack.get().interpreter.runtime_flag.spec_id();
        let native = self.enabled && allowed && self.tables_are_mainnet(spec);
        if self.enabled && allowed && !native {
            self.handle.count_fallback(Fallback::CustomTables);
        }
        let interpreter = &mut self.inner.frame_stack.get().interpreter;
        self.pending = None;
        let compiled = if native {
            match lookup(&self.handle, &mut self.recent, interpreter) {
                Ok(found) => Some(found),
                Err(Some(Miss { key, reason: Fallback::Queued | Fallback::Compiling })) => {
                    self.pending = Some(key);
                    None
                }
                Err(_) => None,
            }
        } else {
            None
        };
        if interpreter.bytecode.pc() == 0 && !interpreter.bytecode.bytecode_slice().is_empty() {
            match compiled {
                Some(_) => self.frames.native += 1,
                None => self.frames.interpreted += 1,
            }
        }
        compiled
    }

    /// Whether the EVM's instruction and gas tables are mainnet's for `spec`, which is what
    /// compiled code implements (its static gas and inline opcodes are resolved at compile
    /// time). Frames of an EVM with custom entries (`EthInstructions::insert_instruction`,
    /// `insert_gas`, ...) run in revm's interpreter, which honours them.
    ///
    /// Checked at the first frame of a `JitEvm`, then again only after the instructions were
    /// handed out mutably: [`JitEvm::inner_mut`] (and `DerefMut`), `EvmTr::all_mut` (and
    /// `ctx_instructions`), `InspectorEvmTr::all_mut_inspector` (and
    /// `ctx_inspector_frame_instructions`) each drop the verdict. Tables can change only
    /// through one of those, so a `JitEvm` kept for a block pays the check once, not per
    /// transaction; a change made mid-transaction is seen from the next frame on.
    fn tables_are_mainnet(&mut self, spec: SpecId) -> bool {
        if let Some((checked, mainnet)) = self.tables
            && checked == spec
        {
            return mainnet;
        }
        let instructions = &self.inner.instruction;
        let (table, gas) = (instructions.instruction_table(), instructions.gas_table());
        let mainnet = match TablesVerdict::of(table, gas, spec) {
            Some(verdict) => verdict.mainnet,
            None => is_mainnet_tables(table, gas, spec),
        };
        self.tables = Some((spec, mainnet));
        mainnet
    }
}

/// Whether `table` and `gas_table` are revm's mainnet tables for `spec`, as far as that can
/// be told.
///
/// The gas table is compared entry by entry. Instructions are compared by function address,
/// except where revm's implementations are tiny `const fn`s (STOP, JUMPDEST, INVALID and the
/// one shared by all undefined opcodes), which rustc copies into every codegen unit that uses
/// them, so that two mainnet tables built in different places hold different addresses
/// there. For the undefined opcodes the table must hold one and the same function at every
/// one of them, as a mainnet table does: a custom instruction at some undefined opcode is
/// told apart. Custom STOP, JUMPDEST and INVALID implementations cannot be, and are not
/// honoured by native code.
pub fn is_mainnet_tables<H: Host>(
    table: &InstructionTable<EthInterpreter, H>,
    gas_table: &GasTable,
    spec: SpecId,
) -> bool {
    if *gas_table != gas_table_spec(spec) {
        return false;
    }
    let mainnet = instruction_table::<EthInterpreter, H>();
    let mut undefined = (0..=u8::MAX).filter(|&opcode| op::OPCODE_INFO[opcode as usize].is_none());
    let first_undefined = undefined.next().map(|opcode| &table[opcode as usize]);
    let undefined_shared =
        undefined.all(|opcode| first_undefined.is_some_and(|first| same_instruction(first, &table[opcode as usize])));
    undefined_shared
        && (0..=u8::MAX).all(|opcode| {
            matches!(opcode, op::STOP | op::JUMPDEST | op::INVALID)
                || op::OPCODE_INFO[opcode as usize].is_none()
                || same_instruction(&table[opcode as usize], &mainnet[opcode as usize])
        })
}

/// Whether two instructions are the same function (by address).
fn same_instruction<H: Host>(a: &Instruction<EthInterpreter, H>, b: &Instruction<EthInterpreter, H>) -> bool {
    // An `Instruction` is one function pointer; should revm ever add to it, this says "not
    // the same" (frames run interpreted) rather than compare padding.
    if size_of::<Instruction<EthInterpreter, H>>() != size_of::<usize>() {
        return false;
    }
    // SAFETY: both are `Instruction`s of exactly one function pointer's size (checked above),
    // so they have no padding and read as the address they hold.
    let address = |i: &Instruction<EthInterpreter, H>| unsafe { std::ptr::from_ref(i).cast::<usize>().read() };
    address(a) == address(b)
}

/// Looks up compiled code for the frame's bytecode and fork: first among the code this
/// transaction already used, then in the runtime. Only code compiled from the frame's very
/// bytes is returned: the hash a call frame carries is the account's `code_hash` from the
/// database, which nothing guarantees to match its code.
///
/// Initcode (a CREATE frame, whose bytecode carries no hash) is hashed only once the runtime
/// has seen the same initcode often enough ([`JitHandle::initcode_is_hot`]); most initcode
/// runs once, and hashing up to 48 KiB per CREATE would cost more than it ever saves.
fn lookup(
    handle: &JitHandle,
    recent: &mut RecentCode,
    interpreter: &mut Interpreter<EthInterpreter>,
) -> Result<CompiledFn, Option<Miss>> {
    if interpreter.bytecode.original_byte_slice().is_empty() {
        return Err(None);
    }
    if !handle.is_enabled() {
        handle.count_fallback(Fallback::Disabled);
        return Err(None);
    }
    let spec = interpreter.runtime_flag.spec_id();
    let hash = match interpreter.bytecode.hash() {
        Some(hash) => hash,
        // The first entry of a frame without a hash decides; resumes follow that decision.
        None if interpreter.bytecode.pc() == 0
            && handle.initcode_is_hot(interpreter.bytecode.original_byte_slice()) =>
        {
            interpreter.bytecode.get_or_calculate_hash()
        }
        None => return Err(None),
    };
    let code: &Bytecode = &interpreter.bytecode;
    match recent.get(&hash, spec, code) {
        Lookup::Found(f) => return Ok(f),
        Lookup::OtherCode => {
            handle.count_code_mismatch();
            return Err(None);
        }
        Lookup::Unknown => {}
    }
    let outcome = match recent.missed(&hash, spec) {
        Some(reason) => handle.lookup_again((hash, spec), code, reason),
        None => handle.lookup_outcome(hash, spec, code),
    };
    let found = match outcome {
        Ok(found) => found,
        Err(reason) => {
            recent.remember_miss(hash, spec, reason);
            return Err(Some(Miss { key: (hash, spec), reason }));
        }
    };
    let bytes = code.original_bytes();
    if !found.is_compiled_from_bytes(&bytes) {
        handle.count_code_mismatch();
        return Err(None);
    }
    recent.insert(hash, spec, found.clone(), bytes);
    Ok(found)
}

/// A lookup that found no code for a frame's key, and why (counted by the lookup).
struct Miss {
    key: CodeKey,
    reason: Fallback,
}

/// Interpreter steps between two looks for a pending frame's compiled code: with an
/// interpreter step at a few nanoseconds, a look (a cache probe, ~50 ns) every 16,384 steps
/// costs well under 1% of the frame, and a frame whose code became ready continues natively
/// within about a tenth of a millisecond.
const STEPS_BETWEEN_LOOKS: u32 = 1 << 14;

/// Loop heads at which a frame tries native code that turns out to have no entry there (a
/// JUMPDEST reached by a dynamic jump back, say), before it stays in the interpreter for good.
const LOOP_ENTRY_ATTEMPTS: u32 = 4;

/// Runs a frame whose code was queued for or under compilation (`key`) in revm's interpreter,
/// step by step as `Interpreter::run_plain` does, and moves it to native code once that code
/// is cached and the frame has just jumped back to a JUMPDEST: a loop head, where native code
/// can be entered (see `codegen`'s entry switch). A frame stuck in a long loop thus turns
/// native at its next iteration rather than at its next call. Should native code have no entry
/// at that JUMPDEST, it hands the frame back untouched and the frame goes on watching, up to
/// [`LOOP_ENTRY_ATTEMPTS`] times.
///
/// # Safety
/// The frame's instruction and gas tables are mainnet's for its spec, which is `key`'s (native
/// code runs only after [`JitHandle::ready_for`] found it compiled from the frame's bytecode
/// for `key`).
unsafe fn interpret_until_native<H: Host>(
    handle: &JitHandle,
    key: CodeKey,
    interpreter: &mut Interpreter<EthInterpreter>,
    host: &mut H,
    table: &InstructionTable<EthInterpreter, H>,
    gas_table: &GasTable,
) -> InterpreterAction {
    let mut watch = LoopEntry { handle, key, attempts_left: LOOP_ENTRY_ATTEMPTS, entered_at: None, fell_back: false };
    // SAFETY: forwarded.
    unsafe { watch.run(interpreter, host, table, gas_table) }
}

/// A frame watching for its native code (see [`interpret_until_native`]); also the hooks of
/// its native run, which notice when native code hands the frame back without running it.
struct LoopEntry<'a> {
    handle: &'a JitHandle,
    key: CodeKey,
    attempts_left: u32,
    /// The pc and remaining gas at which native code was last entered.
    entered_at: Option<(usize, u64)>,
    /// Set by the hooks when the native run just made handed the frame back untouched.
    fell_back: bool,
}

impl LoopEntry<'_> {
    /// Whether the native run just made returned where it was entered, with the same gas:
    /// native code has no entry at that loop head, and ran nothing.
    fn is_untouched(&self, interpreter: &Interpreter<EthInterpreter>) -> bool {
        self.entered_at == Some((interpreter.bytecode.pc(), interpreter.gas.remaining()))
    }

    /// # Safety
    /// See [`interpret_until_native`].
    unsafe fn run<H: Host>(
        &mut self,
        interpreter: &mut Interpreter<EthInterpreter>,
        host: &mut H,
        table: &InstructionTable<EthInterpreter, H>,
        gas_table: &GasTable,
    ) -> InterpreterAction {
        let mut steps = 0u32;
        loop {
            let before = interpreter.bytecode.pc();
            if let Err(result) = interpreter.step(table, gas_table, host) {
                if interpreter.bytecode.action().is_none() {
                    interpreter.halt(result);
                }
                return interpreter.take_next_action();
            }
            steps += 1;
            let pc = interpreter.bytecode.pc();
            let jumped_back = pc < before && interpreter.bytecode.opcode() == op::JUMPDEST;
            if steps < STEPS_BETWEEN_LOOKS || !jumped_back || self.entered_at.is_some_and(|(at, _)| at == pc) {
                continue;
            }
            steps = 0;
            let Some(compiled) = self.handle.ready_for(&self.key, &interpreter.bytecode.original_bytes()) else {
                continue;
            };
            let gas_before = interpreter.gas.remaining();
            self.entered_at = Some((pc, gas_before));
            self.fell_back = false;
            // SAFETY: compiled from this frame's bytecode for its spec (`ready_for`), and the
            // tables are mainnet's for it (this function's contract).
            let action = unsafe { run_native_with(&compiled, interpreter, host, table, gas_table, self) };
            if !self.fell_back {
                self.handle.count_loop_entry();
                self.handle.count_baseline_gas(&compiled, gas_spent(gas_before, interpreter, &action));
            }
            return action;
        }
    }
}

impl<H: Host> NativeHooks<H> for LoopEntry<'_> {
    /// A hand-off, unless native code returned untouched: it has no entry at that loop head.
    fn handed_off(&mut self, interpreter: &Interpreter<EthInterpreter>) {
        if !self.is_untouched(interpreter) {
            self.handle.count_handoff();
        }
    }

    /// Native code handed the frame back. Untouched (same pc, same gas), it has no entry at
    /// that loop head: the frame watches on for another, up to the attempts left. Otherwise
    /// native code ran, and the interpreter finishes the frame as after any native run.
    fn interpret(
        &mut self,
        interpreter: &mut Interpreter<EthInterpreter>,
        host: &mut H,
        table: &InstructionTable<EthInterpreter, H>,
        gas_table: &GasTable,
    ) -> InterpreterAction {
        if !self.is_untouched(interpreter) {
            return interpreter.run_plain(table, gas_table, host);
        }
        let action = if self.attempts_left > 0 {
            self.attempts_left -= 1;
            // SAFETY: the frame, tables and key are those `run` was called with.
            unsafe { self.run(interpreter, host, table, gas_table) }
        } else {
            interpreter.run_plain(table, gas_table, host)
        };
        // Whatever a nested attempt did, this one ran no native code.
        self.fell_back = true;
        action
    }
}

/// What a native run of a frame does besides running its code: which builtins it gets, the
/// inspector they report to, and how the interpreter finishes a frame native code hands back.
pub(crate) trait NativeHooks<H: Host> {
    /// The builtin table native code calls: by default the uninspected one.
    fn builtins(&self) -> &'static Builtins {
        builtins::table::<H>()
    }
    /// The value of [`EvmContext::inspector`]: by default none.
    fn inspector_ptr(&mut self) -> *mut c_void {
        std::ptr::null_mut()
    }
    /// Native code handed the frame to the interpreter part-way, which [`Self::interpret`]
    /// is about to continue: counted by hooks that know a runtime
    /// ([`crate::StatsSnapshot::handoffs`]).
    fn handed_off(&mut self, _interpreter: &Interpreter<EthInterpreter>) {}
    /// Runs the rest of the frame in revm's interpreter.
    fn interpret(
        &mut self,
        interpreter: &mut Interpreter<EthInterpreter>,
        host: &mut H,
        table: &InstructionTable<EthInterpreter, H>,
        gas_table: &GasTable,
    ) -> InterpreterAction;
}

/// Uninspected frames: plain builtins, plain interpreter; hand-offs counted in the runtime's
/// statistics when there is one (a frame of a `JitEvm`, not a bare [`run_native`]).
struct PlainHooks<'a>(Option<&'a JitHandle>);

impl<H: Host> NativeHooks<H> for PlainHooks<'_> {
    fn handed_off(&mut self, _interpreter: &Interpreter<EthInterpreter>) {
        if let Some(handle) = self.0 {
            handle.count_handoff();
        }
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
///
/// Native code runs only where it computes what the interpreter would: when `compiled` was
/// compiled from the frame's very bytecode ([`CompiledFn::is_compiled_from`]) for the frame's
/// spec, and `table` and `gas_table` are mainnet's for that spec ([`is_mainnet_tables`]).
/// Otherwise the frame runs in revm's interpreter. These checks compare the bytecode and the
/// tables on every call; [`JitEvm`] makes them once per transaction.
pub fn run_native<H: Host>(
    compiled: &CompiledFn,
    interpreter: &mut Interpreter<EthInterpreter>,
    host: &mut H,
    table: &InstructionTable<EthInterpreter, H>,
    gas_table: &GasTable,
) -> InterpreterAction {
    let spec = interpreter.runtime_flag.spec_id();
    if compiled.spec != spec
        || !compiled.is_compiled_from(interpreter.bytecode.original_byte_slice())
        || !is_mainnet_tables(table, gas_table, spec)
    {
        return interpreter.run_plain(table, gas_table, host);
    }
    // SAFETY: checked just above.
    unsafe { run_native_with(compiled, interpreter, host, table, gas_table, &mut PlainHooks(None)) }
}

/// Gas a frame spent on one entry into native code (its interpreter's gas went from
/// `gas_before` to what it is now): gas handed to a child frame by the call or create that
/// ended the entry is the child's work, not this code's. What tiers baseline code up
/// ([`crate::JitConfig::tier_up_gas`]).
pub(crate) fn gas_spent(gas_before: u64, interpreter: &Interpreter<EthInterpreter>, action: &InterpreterAction) -> u64 {
    let handed_to_child = match action {
        InterpreterAction::NewFrame(FrameInput::Call(call)) => call.gas_limit,
        InterpreterAction::NewFrame(FrameInput::Create(create)) => create.gas_limit(),
        _ => 0,
    };
    gas_before.saturating_sub(interpreter.gas.remaining()).saturating_sub(handed_to_child)
}

/// [`run_native`] with the given hooks, without its checks.
///
/// # Safety
/// `compiled` was compiled from the frame's bytecode ([`CompiledFn::is_compiled_from`]):
/// native code hands revm pcs of that bytecode, which revm uses unchecked. It is meant for
/// the frame's spec and for mainnet's tables of that spec, or the frame's results differ from
/// the interpreter's.
pub(crate) unsafe fn run_native_with<H: Host, K: NativeHooks<H>>(
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
    // A panic in user code called by a builtin goes on from here, as it would have from
    // revm's interpreter.
    builtins::resume_caught_panic();
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
            hooks.handed_off(interpreter);
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
        self.transact_with(&mut MainnetHandler::default(), tx)
    }

    fn finalize(&mut self) -> Self::State {
        self.inner.ctx.journal_mut().finalize()
    }

    fn replay(&mut self) -> Result<ResultAndState<HaltReason>, Self::Error> {
        self.forget_transaction();
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
