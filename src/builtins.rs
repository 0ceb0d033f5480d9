//! Rust functions that native code calls through the [`Builtins`] table.
//!
//! Two kinds: pure arithmetic on stack slots (LLVM's generic i256 division is slow and large,
//! these use ruint's, or 128-bit division where the operands fit), and the entries of
//! [`Builtins::opcodes`] ([`revm_opcode`], [`revm_instruction`]), which run revm's own
//! implementation of an opcode on the frame's interpreter, with [`grow_memory`], the part of
//! MLOAD, MSTORE and MSTORE8 that grows memory. The second kind is what keeps native code
//! exactly equal to the interpreter for everything that touches the host, memory, or
//! fork-dependent dynamic gas: it *is* the interpreter's code, run on the same state.

use crate::abi::{
    ArithFn, Builtins, EvmContext, GrowMemoryFn, OFFSET_BEYOND_32_BITS, RevmInstructionFn, WordCopyFn, grow_outcome,
};
use revm::bytecode::opcode as op;
use revm::context::{ContextTr, JournalEntry, JournalTr};
use revm::inspector::{Inspector, JournalExt};
use revm::interpreter::{
    CallInput, Host, InstructionContext, InstructionExecResult, InstructionResult, InstructionTable, Interpreter,
    InterpreterAction, instruction_table,
    instructions::i256::{i256_cmp, i256_div, i256_mod},
    interpreter::EthInterpreter,
    interpreter_types::{Jumps, LoopControl},
};
use revm::primitives::U256;
use std::{
    any::Any,
    cell::Cell,
    cmp::Ordering,
    marker::PhantomData,
    panic::{AssertUnwindSafe, catch_unwind, resume_unwind},
};

/// A builtin table: the given entries for running opcodes through revm and for growing memory,
/// and the arithmetic builtins, which are the same for every table.
const fn with_revm_entries(opcodes: [RevmInstructionFn; 256], grow_memory: GrowMemoryFn) -> Builtins {
    Builtins {
        div: div as ArithFn,
        sdiv: sdiv as ArithFn,
        rem: rem as ArithFn,
        smod: smod as ArithFn,
        addmod: addmod as ArithFn,
        mulmod: mulmod as ArithFn,
        mul: mul as ArithFn,
        slt: slt as ArithFn,
        sgt: sgt as ArithFn,
        byte: byte as ArithFn,
        shl: shl as ArithFn,
        shr: shr as ArithFn,
        sar: sar as ArithFn,
        signextend: signextend as ArithFn,
        clz: clz as ArithFn,
        load_be_word: load_be_word as WordCopyFn,
        store_be_word: store_be_word as WordCopyFn,
        grow_memory,
        opcodes,
    }
}

/// [`Builtins::opcodes`] for frames whose host is `H`: an entry of its own ([`revm_opcode`])
/// for each opcode that native code hands to revm and that real contracts run often, the
/// shared [`revm_instruction`] for the rest (opcodes that are rare, or inline in native code
/// and so never called, or undefined).
const fn opcode_entries<H: Host>() -> [RevmInstructionFn; 256] {
    let mut entries = [revm_instruction::<H> as RevmInstructionFn; 256];
    macro_rules! own_entry {
        ($($name:ident),* $(,)?) => {
            $(entries[op::$name as usize] = revm_opcode::<H, { op::$name }> as RevmInstructionFn;)*
        };
    }
    own_entry!(
        // Storage, transient storage and the account reads.
        SLOAD,
        SSTORE,
        TLOAD,
        TSTORE,
        BALANCE,
        SELFBALANCE,
        EXTCODESIZE,
        EXTCODEHASH,
        BLOCKHASH,
        // Environment reads native code does not make itself.
        ORIGIN,
        GASPRICE,
        COINBASE,
        TIMESTAMP,
        NUMBER,
        DIFFICULTY,
        GASLIMIT,
        CHAINID,
        BASEFEE,
        BLOBHASH,
        BLOBBASEFEE,
        RETURNDATASIZE,
        CODESIZE,
        // Arithmetic and memory work done by revm (CALLDATALOAD: reads past the input's end).
        EXP,
        KECCAK256,
        MCOPY,
        CALLDATALOAD,
        CALLDATACOPY,
        CODECOPY,
        RETURNDATACOPY,
        EXTCODECOPY,
        LOG0,
        LOG1,
        LOG2,
        LOG3,
        LOG4,
        // Frame ends and new frames.
        RETURN,
        REVERT,
        CALL,
        CALLCODE,
        DELEGATECALL,
        STATICCALL,
        CREATE,
        CREATE2,
        SELFDESTRUCT,
    );
    entries
}

/// The builtin table for frames whose host is `H`.
///
/// The table is a promoted constant, so the pointer is valid for the whole program.
pub fn table<H: Host>() -> &'static Builtins {
    trait HasTable {
        const TABLE: Builtins;
    }
    impl<H: Host> HasTable for H {
        const TABLE: Builtins = with_revm_entries(opcode_entries::<H>(), grow_memory::<H>);
    }
    &<H as HasTable>::TABLE
}

/// The builtin table for inspected frames whose host is `H` and inspector `I`: the same as
/// [`table`], except that opcodes run through revm report the logs and selfdestructs they
/// cause to the inspector in [`EvmContext::inspector`] before native code goes on.
pub fn inspected_table<H, I>() -> &'static Builtins
where
    H: Host + ContextTr<Journal: JournalExt>,
    I: Inspector<H, EthInterpreter>,
{
    struct Inspected<H, I>(PhantomData<(H, I)>);
    impl<H, I> Inspected<H, I>
    where
        H: Host + ContextTr<Journal: JournalExt>,
        I: Inspector<H, EthInterpreter>,
    {
        // Every opcode goes through the reporting entry. Growing memory reports nothing to an
        // inspector: the plain builtin serves.
        const TABLE: Builtins =
            with_revm_entries([revm_instruction_inspected::<H, I> as RevmInstructionFn; 256], grow_memory::<H>);
    }
    &Inspected::<H, I>::TABLE
}

thread_local! {
    /// A panic caught in a builtin during the native run on this thread, to be resumed once
    /// native code returned ([`resume_caught_panic`]).
    static CAUGHT_PANIC: Cell<Option<Box<dyn Any + Send>>> = const { Cell::new(None) };
    /// Whether `CAUGHT_PANIC` holds a panic. Every builtin call and every native return asks;
    /// a `bool` with no destructor is a plain thread-local read, where asking `CAUGHT_PANIC`
    /// itself goes through its lazily registered destructor and moves the box out and back.
    static PANIC_PENDING: Cell<bool> = const { Cell::new(false) };
}

/// Runs a builtin's body, which may call user code (the `Database`, the `Inspector`, custom
/// instructions), so that a panic never unwinds into native code: generated code is not
/// guaranteed unwind tables that Rust's unwinder could walk, so the panic is caught here, its
/// payload kept, and 1 ("stop the frame") returned. The runtime resumes the panic as soon as
/// native code returned, so the caller sees it exactly as with revm's interpreter. Once a
/// panic is pending, later calls of the same native run do nothing and return 1.
fn contain_panic(body: impl FnOnce() -> u32) -> u32 {
    if PANIC_PENDING.get() {
        return 1;
    }
    match catch_unwind(AssertUnwindSafe(body)) {
        Ok(status) => status,
        Err(payload) => {
            CAUGHT_PANIC.set(Some(payload));
            PANIC_PENDING.set(true);
            1
        }
    }
}

/// Resumes the panic a builtin caught during the native run that just returned, if any; the
/// runtime calls it after every native call.
pub(crate) fn resume_caught_panic() {
    if PANIC_PENDING.get() {
        PANIC_PENDING.set(false);
        if let Some(payload) = CAUGHT_PANIC.take() {
            resume_unwind(payload);
        }
    }
}

/// Runs `opcode` (at `pc`) with revm's implementation; see [`crate::abi::RevmInstructionFn`].
/// A panic inside (in the `Database`, a custom instruction) is caught here and resumed by
/// the runtime once native code has returned, so it never unwinds through generated code.
///
/// # Safety
/// `ctx` must be the context the runtime built for the current native call: its interpreter,
/// host and instruction table pointers point to live values of the types this function is
/// instantiated for, and no other reference to them is in use.
pub unsafe extern "C" fn revm_instruction<H: Host>(ctx: *mut EvmContext, opcode: u32, pc: u32) -> u32 {
    // SAFETY: forwarded from our caller, who upholds the same contract.
    contain_panic(|| unsafe { run_revm_instruction::<H>(ctx, opcode, pc) })
}

/// The body of [`revm_instruction`], whose contract it has.
unsafe fn run_revm_instruction<H: Host>(ctx: *mut EvmContext, opcode: u32, pc: u32) -> u32 {
    // SAFETY: forwarded from our caller, who upholds the same contract.
    let table = unsafe { &*(*ctx).instruction_table.cast::<InstructionTable<EthInterpreter, H>>() };
    let instruction = table[opcode as usize];
    // SAFETY: as above.
    unsafe { run_instruction::<H>(ctx, pc, |context| instruction.execute(context), true) }
}

/// Runs `OP` (at `pc`) with revm's implementation, called directly rather than through the
/// frame's instruction table: native code runs only under mainnet's tables (see
/// [`crate::evm::is_mainnet_tables`]), whose entry for `OP` is the function called here. The
/// call is then known to the compiler, which inlines it, and an opcode that cannot resize
/// memory skips refreshing the memory view. Otherwise as [`revm_instruction`], whose
/// signature it has so that native code calls every entry of [`Builtins::opcodes`] alike.
///
/// # Safety
/// As for [`revm_instruction`], and the frame's instruction table is mainnet's.
pub unsafe extern "C" fn revm_opcode<H: Host, const OP: u8>(ctx: *mut EvmContext, _opcode: u32, pc: u32) -> u32 {
    let instruction = const { instruction_table::<EthInterpreter, H>()[OP as usize] };
    // SAFETY: forwarded from our caller, who upholds the same contract.
    contain_panic(|| unsafe {
        run_instruction::<H>(ctx, pc, |context| instruction.execute(context), may_move_memory(OP))
    })
}

/// Whether `opcode` can resize or move the frame's memory, or its input (which can live in
/// the same buffer), so that native code's view of them must be refreshed after it. Opcodes
/// that touch only the stack, gas, storage or accounts, or only read memory, cannot.
const fn may_move_memory(opcode: u8) -> bool {
    !matches!(
        opcode,
        op::SLOAD
            | op::SSTORE
            | op::TLOAD
            | op::TSTORE
            | op::BALANCE
            | op::SELFBALANCE
            | op::EXTCODESIZE
            | op::EXTCODEHASH
            | op::BLOCKHASH
            | op::ORIGIN
            | op::GASPRICE
            | op::COINBASE
            | op::TIMESTAMP
            | op::NUMBER
            | op::DIFFICULTY
            | op::GASLIMIT
            | op::CHAINID
            | op::BASEFEE
            | op::BLOBHASH
            | op::BLOBBASEFEE
            | op::RETURNDATASIZE
            | op::CODESIZE
            | op::CALLDATALOAD
            | op::EXP
    )
}

/// The body shared by [`revm_instruction`] and [`revm_opcode`]: brings the interpreter up to
/// date with native code, runs `execute` as revm's loop would at `pc`, and hands the result
/// back (refreshing the memory view when `refresh`).
///
/// # Safety
/// As for [`revm_instruction`].
#[inline(always)]
unsafe fn run_instruction<H: Host>(
    ctx: *mut EvmContext,
    pc: u32,
    execute: impl FnOnce(InstructionContext<'_, H, EthInterpreter>) -> InstructionExecResult,
    refresh: bool,
) -> u32 {
    // SAFETY: forwarded from our caller, who upholds the same contract.
    let (ctx, interpreter, host) = unsafe { frame_parts::<H>(ctx) };
    sync_into_interpreter(ctx, interpreter);
    // The interpreter advances the pc past the opcode before executing it.
    interpreter.bytecode.absolute_jump(pc as usize + 1);
    match execute(InstructionContext { interpreter: &mut *interpreter, host }) {
        Ok(()) => {
            ctx.gas = interpreter.gas.remaining();
            if refresh {
                refresh_views(ctx, interpreter);
            }
            0
        }
        Err(reason) => {
            if interpreter.bytecode.action().is_none() {
                interpreter.halt(reason);
            }
            1
        }
    }
}

/// The context, the frame's interpreter and the host that `ctx` points to.
///
/// # Safety
/// As for [`revm_instruction`]: `ctx` is the runtime's context for the current native call,
/// whose pointers are live, unaliased for the duration of the call (see
/// `crate::evm::run_native`), and point to values of the types this is instantiated for. The
/// references must not outlive the builtin call that made them.
#[inline(always)]
unsafe fn frame_parts<'a, H>(
    ctx: *mut EvmContext,
) -> (&'a mut EvmContext, &'a mut Interpreter<EthInterpreter>, &'a mut H) {
    // SAFETY: guaranteed by the caller.
    unsafe {
        let ctx = &mut *ctx;
        let interpreter = &mut *ctx.interpreter.cast::<Interpreter<EthInterpreter>>();
        let host = &mut *ctx.host.cast::<H>();
        (ctx, interpreter, host)
    }
}

/// MLOAD, MSTORE or MSTORE8 (`opcode`) at an `offset` beyond the frame's memory; see
/// [`crate::abi::GrowMemoryFn`]. Memory grows through the function revm's own opcodes call
/// ([`Interpreter::resize_memory`], with the host's gas parameters), so the gas charged, the
/// memory limit and the halt on failure are revm's; then the access is made as the opcode
/// makes it, without revm's dispatch, stack pops and pushes.
///
/// # Safety
/// As for [`revm_instruction`].
pub unsafe extern "C" fn grow_memory<H: Host>(ctx: *mut EvmContext, offset: u64, opcode: u32, pc: u32) -> u32 {
    // SAFETY: forwarded from our caller, who upholds the same contract.
    contain_panic(|| unsafe { run_grow_memory::<H>(ctx, offset, opcode, pc) })
}

/// The body of [`grow_memory`], whose contract it has.
unsafe fn run_grow_memory<H: Host>(ctx: *mut EvmContext, offset: u64, opcode: u32, pc: u32) -> u32 {
    if offset == OFFSET_BEYOND_32_BITS {
        // An offset of 2^32 or more: revm's opcode decides (it halts unless the frame has gas
        // for gigabytes of memory).
        // SAFETY: forwarded from our caller, who upholds the same contract.
        return match unsafe { run_revm_instruction::<H>(ctx, opcode, pc) } {
            0 => grow_outcome::DONE,
            _ => grow_outcome::HALTED,
        };
    }
    // SAFETY: forwarded from our caller, who upholds the same contract.
    let (ctx, interpreter, host) = unsafe { frame_parts::<H>(ctx) };
    sync_into_interpreter(ctx, interpreter);
    let size = if opcode == u32::from(op::MSTORE8) { 1 } else { 32 };
    // Native code passes offsets below 2^32, which fit a usize on every 64-bit target.
    let offset = offset as usize;
    if let Err(reason) = interpreter.resize_memory(host.gas_params(), offset, size) {
        return halt_memory_access(interpreter, opcode, pc, reason);
    }
    // The access itself, as revm's opcode makes it; its operands stay where native code
    // expects them (MLOAD's result in the offset's slot), and native code moves the length.
    let stack = interpreter.stack.data_mut();
    let top = stack.len() - 1;
    match opcode as u8 {
        op::MLOAD => stack[top] = U256::from_be_slice(&interpreter.memory.slice_len(offset, 32)),
        op::MSTORE => interpreter.memory.set(offset, &stack[top - 1].to_be_bytes::<32>()),
        _ => interpreter.memory.set(offset, &[stack[top - 1].byte(0)]),
    }
    ctx.gas = interpreter.gas.remaining();
    refresh_views(ctx, interpreter);
    grow_outcome::DONE
}

/// Leaves the interpreter as revm's MLOAD, MSTORE or MSTORE8 at `pc` leaves it when growing
/// memory fails: past the opcode, its operands popped (MLOAD's stays, as the slot it would
/// have overwritten), halted with `reason`.
#[cold]
fn halt_memory_access(
    interpreter: &mut Interpreter<EthInterpreter>,
    opcode: u32,
    pc: u32,
    reason: InstructionResult,
) -> u32 {
    if opcode != u32::from(op::MLOAD) {
        let stack = interpreter.stack.data_mut();
        let popped = stack.len().saturating_sub(2);
        stack.truncate(popped);
    }
    interpreter.bytecode.absolute_jump(pc as usize + 1);
    interpreter.halt(reason);
    grow_outcome::HALTED
}

/// [`revm_instruction`] for inspected frames: runs the opcode, then hands the inspector the
/// logs it journaled (`Inspector::log_full`) and, when it was a SELFDESTRUCT, the destruction
/// the journal recorded (`Inspector::selfdestruct`), exactly as revm's inspected loop does.
/// A panic in the inspector is contained as in [`revm_instruction`].
///
/// # Safety
/// As for [`revm_instruction`]; in addition `ctx.inspector` points to a live `I` that nothing
/// else uses during the native call.
pub unsafe extern "C" fn revm_instruction_inspected<H, I>(ctx: *mut EvmContext, opcode: u32, pc: u32) -> u32
where
    H: Host + ContextTr<Journal: JournalExt>,
    I: Inspector<H, EthInterpreter>,
{
    // SAFETY: forwarded from our caller, who upholds the same contract.
    contain_panic(|| unsafe { run_revm_instruction_inspected::<H, I>(ctx, opcode, pc) })
}

/// The body of [`revm_instruction_inspected`], whose contract it has.
unsafe fn run_revm_instruction_inspected<H, I>(ctx: *mut EvmContext, opcode: u32, pc: u32) -> u32
where
    H: Host + ContextTr<Journal: JournalExt>,
    I: Inspector<H, EthInterpreter>,
{
    let (logs_before, journal_before) = {
        // SAFETY: the caller guarantees `ctx` and its host pointer are live; this shared
        // borrow ends before `revm_instruction` takes the host mutably.
        let host = unsafe { &*(*ctx).host.cast::<H>() };
        (host.journal().logs().len(), host.journal().journal().len())
    };
    // SAFETY: forwarded from our caller, who upholds the same contract.
    let status = unsafe { run_revm_instruction::<H>(ctx, opcode, pc) };
    // SAFETY: as above; `revm_instruction` has returned, so these are the only live
    // references to the interpreter, host and inspector.
    let (interpreter, host, inspector) = unsafe {
        let ctx = &mut *ctx;
        (
            &mut *ctx.interpreter.cast::<Interpreter<EthInterpreter>>(),
            &mut *ctx.host.cast::<H>(),
            &mut *ctx.inspector.cast::<I>(),
        )
    };
    if host.journal().logs().len() != logs_before {
        report_logs(interpreter, host, inspector, logs_before);
    }
    if status != 0 {
        report_selfdestruct(interpreter, host, inspector, journal_before);
    }
    status
}

/// Reports the logs journaled since `logs_before` to the inspector, with the interpreter of
/// the frame that emitted them, as revm's inspected instruction loop does.
#[cold]
pub(crate) fn report_logs<H, I>(
    interpreter: &mut Interpreter<EthInterpreter>,
    host: &mut H,
    inspector: &mut I,
    logs_before: usize,
) where
    H: ContextTr<Journal: JournalExt>,
    I: Inspector<H, EthInterpreter>,
{
    let logs = host.journal().logs()[logs_before..].to_vec();
    for log in logs {
        inspector.log_full(interpreter, host, log);
    }
}

/// When the frame's pending action is a selfdestruct, reports it to the inspector from the
/// journal entries recorded since `journal_before` (the account destroyed, or the balance
/// moved when the account survives, per EIP-6780).
#[cold]
pub(crate) fn report_selfdestruct<H, I>(
    interpreter: &mut Interpreter<EthInterpreter>,
    host: &mut H,
    inspector: &mut I,
    journal_before: usize,
) where
    H: ContextTr<Journal: JournalExt>,
    I: Inspector<H, EthInterpreter>,
{
    let is_selfdestruct = matches!(
        interpreter.bytecode.action(),
        Some(InterpreterAction::Return(result)) if result.result == InstructionResult::SelfDestruct
    );
    if !is_selfdestruct {
        return;
    }
    let entry = host.journal().journal().get(journal_before..).and_then(|entries| entries.last());
    if let Some(
        JournalEntry::AccountDestroyed { address: contract, target, had_balance: value, .. }
        | JournalEntry::BalanceTransfer { from: contract, to: target, balance: value, .. },
    ) = entry
    {
        inspector.selfdestruct(*contract, *target, *value);
    }
}

/// Points the context at the frame's memory and input as they are now.
///
/// Done at entry and again after every opcode revm runs: anything that resizes the shared
/// memory buffer can move it (and a call's input can live in that buffer), so the pointers
/// native code uses are always derived after the last Rust access to the memory.
pub(crate) fn refresh_views(ctx: &mut EvmContext, interpreter: &mut Interpreter<EthInterpreter>) {
    (ctx.memory, ctx.memory_len, ctx.calldata, ctx.calldata_len) = views(interpreter);
}

/// The frame's memory and input: (memory, its length, input, its length); see
/// [`refresh_views`].
pub(crate) fn views(interpreter: &mut Interpreter<EthInterpreter>) -> (*mut u8, u64, *const u8, u64) {
    let (memory, memory_len) = {
        let mut memory = interpreter.memory.context_memory_mut();
        (memory.as_mut_ptr(), memory.len() as u64)
    };
    // An empty shared-buffer input can carry any offset: a CALL with no argument bytes takes
    // its (unchecked, saturated) offset as is, e.g. `usize::MAX..usize::MAX`. revm never
    // slices such a range unless the child reads its input, but slicing it here would hit
    // revm's unchecked `global_slice` (undefined behaviour in release builds, a panic with
    // debug assertions). Found by the coverage-guided fuzzer.
    if let CallInput::SharedBuffer(range) = &interpreter.input.input
        && range.is_empty()
    {
        return (memory, memory_len, std::ptr::NonNull::<u8>::dangling().as_ptr(), 0);
    }
    let input = interpreter.input.input.as_bytes_memory(&interpreter.memory);
    (memory, memory_len, input.as_ptr(), input.len() as u64)
}

/// Writes native code's stack length and gas into the interpreter.
pub(crate) fn sync_into_interpreter(ctx: &EvmContext, interpreter: &mut Interpreter<EthInterpreter>) {
    let stack = interpreter.stack.data_mut();
    // A codegen bug must never turn into heap corruption: stop here instead.
    assert!(
        ctx.stack_len as usize <= stack.capacity(),
        "native stack length {} exceeds the stack buffer",
        ctx.stack_len
    );
    // SAFETY: native code keeps `stack_len` within the buffer's capacity (1024, checked by the
    // runtime at entry) and has initialised every slot below it; `U256` has no drop glue.
    unsafe { stack.set_len(ctx.stack_len as usize) };
    interpreter.gas.tracker_mut().set_remaining(ctx.gas);
}

/// Reads two operands as laid out for binary builtins: (top, second).
///
/// # Safety
/// `slots` points to two initialised, writable stack slots.
unsafe fn binary(slots: *mut U256, f: impl FnOnce(U256, U256) -> U256) {
    // SAFETY: guaranteed by the caller.
    unsafe {
        let top = *slots.add(1);
        let second = *slots;
        *slots = f(top, second);
    }
}

/// Reads the operand of a unary builtin.
///
/// # Safety
/// `slots` points to one initialised, writable stack slot.
unsafe fn unary(slots: *mut U256, f: impl FnOnce(U256) -> U256) {
    // SAFETY: guaranteed by the caller.
    unsafe { *slots = f(*slots) }
}

/// A shift amount as revm reads it: the word itself when below 256, else `None` (every bit
/// shifted out).
fn shift_amount(shift: U256) -> Option<usize> {
    (shift < U256::from(256)).then(|| shift.as_limbs()[0] as usize)
}

/// Reads three operands as laid out for ternary builtins: (top, second, third).
///
/// # Safety
/// `slots` points to three initialised, writable stack slots.
unsafe fn ternary(slots: *mut U256, f: impl FnOnce(U256, U256, U256) -> U256) {
    // SAFETY: guaranteed by the caller.
    unsafe {
        let a = *slots.add(2);
        let b = *slots.add(1);
        let n = *slots;
        *slots = f(a, b, n);
    }
}

macro_rules! arith_builtin {
    ($(#[$doc:meta])* $name:ident, $kind:ident, $f:expr) => {
        $(#[$doc])*
        ///
        /// # Safety
        /// `slots` points to the operand slots on the interpreter stack (see [`Builtins`]).
        pub unsafe extern "C" fn $name(slots: *mut U256) {
            // SAFETY: native code passes a pointer to its live operand slots.
            unsafe { $kind(slots, $f) }
        }
    };
}

/// `x` as a `u128` when its upper 128 bits are zero.
fn as_u128(x: U256) -> Option<u128> {
    let [l0, l1, l2, l3] = *x.as_limbs();
    (l2 | l3 == 0).then_some(u128::from(l0) | (u128::from(l1) << 64))
}

/// `x` as an `i128` when it is one's two's-complement sign extension (its upper 129 bits all
/// equal).
fn as_i128(x: U256) -> Option<i128> {
    let [l0, l1, l2, l3] = *x.as_limbs();
    let low = (u128::from(l0) | (u128::from(l1) << 64)) as i128;
    let extension = if low < 0 { u64::MAX } else { 0 };
    (l2 == extension && l3 == extension).then_some(low)
}

/// The word whose two's-complement value is `v`.
fn from_i128(v: i128) -> U256 {
    let extension = if v < 0 { u64::MAX } else { 0 };
    U256::from_limbs([v as u64, ((v as u128) >> 64) as u64, extension, extension])
}

/// Native code divides operands that fit in 64 bits itself. The division builtins see the
/// rest, and most of those still fit in 128 bits (fixed-point arithmetic: 10^18-scaled values
/// and their products), where Rust's 128-bit division is much cheaper than revm's general
/// 256-bit one. Measured on snailtracer (callgrind): its 166,000 SDIV builtin calls per
/// transaction cost about 200 instructions each with the 256-bit division, 13% of the whole
/// transaction, and about 110 with this path. Each
/// `checked_*` is `None` exactly where the 128-bit result would differ from the EVM's: a zero
/// divisor, and `i128::MIN / -1` (whose quotient, 2^127, needs more than 128 signed bits).
fn divided(
    a: U256,
    b: U256,
    in_128: impl FnOnce(u128, u128) -> Option<u128>,
    in_256: impl FnOnce(U256, U256) -> U256,
) -> U256 {
    match (as_u128(a), as_u128(b)) {
        (Some(x), Some(y)) => in_128(x, y).map_or_else(|| in_256(a, b), U256::from),
        _ => in_256(a, b),
    }
}

/// [`divided`] for the signed divisions.
fn divided_signed(
    a: U256,
    b: U256,
    in_128: impl FnOnce(i128, i128) -> Option<i128>,
    in_256: impl FnOnce(U256, U256) -> U256,
) -> U256 {
    match (as_i128(a), as_i128(b)) {
        (Some(x), Some(y)) => in_128(x, y).map_or_else(|| in_256(a, b), from_i128),
        _ => in_256(a, b),
    }
}

arith_builtin!(
    /// DIV: `a / b`, 0 when `b` is 0.
    div, binary, |a, b| divided(a, b, u128::checked_div, |a, b| if b.is_zero() { U256::ZERO } else { a.wrapping_div(b) })
);
arith_builtin!(
    /// SDIV: signed division, 0 when `b` is 0.
    sdiv, binary, |a, b| divided_signed(a, b, i128::checked_div, i256_div)
);
arith_builtin!(
    /// MOD: `a % b`, 0 when `b` is 0.
    rem, binary, |a, b| divided(a, b, u128::checked_rem, |a, b| if b.is_zero() { U256::ZERO } else { a.wrapping_rem(b) })
);
arith_builtin!(
    /// SMOD: signed remainder (sign of `a`), 0 when `b` is 0.
    smod, binary, |a, b| divided_signed(a, b, i128::checked_rem, i256_mod)
);
arith_builtin!(
    /// ADDMOD: `(a + b) % n` without overflow, 0 when `n` is 0.
    addmod, ternary, |a: U256, b, n| a.add_mod(b, n)
);
arith_builtin!(
    /// MULMOD: `(a * b) % n` without overflow, 0 when `n` is 0.
    mulmod, ternary, |a: U256, b, n| a.mul_mod(b, n)
);

arith_builtin!(
    /// MUL: `a * b` modulo 2²⁵⁶.
    mul, binary, |a: U256, b| a.wrapping_mul(b)
);
arith_builtin!(
    /// SLT: `a < b` as two's-complement numbers.
    slt, binary, |a, b| U256::from(i256_cmp(&a, &b) == Ordering::Less)
);
arith_builtin!(
    /// SGT: `a > b` as two's-complement numbers.
    sgt, binary, |a, b| U256::from(i256_cmp(&a, &b) == Ordering::Greater)
);
arith_builtin!(
    /// BYTE: byte `a` of `b`, counted from the most significant; 0 when `a` >= 32.
    byte, binary, |a: U256, b: U256| if a < U256::from(32) { U256::from(b.byte(31 - a.as_limbs()[0] as usize)) } else { U256::ZERO }
);
arith_builtin!(
    /// SHL: `b << a`; 0 when `a` >= 256.
    shl, binary, |a, b: U256| shift_amount(a).map_or(U256::ZERO, |s| b << s)
);
arith_builtin!(
    /// SHR: `b >> a` (logical); 0 when `a` >= 256.
    shr, binary, |a, b: U256| shift_amount(a).map_or(U256::ZERO, |s| b >> s)
);
arith_builtin!(
    /// SAR: `b >> a` (arithmetic); all sign bits when `a` >= 256.
    sar, binary, |a, b: U256| match shift_amount(a) {
        Some(s) => b.arithmetic_shr(s),
        None if b.bit(255) => U256::MAX,
        None => U256::ZERO,
    }
);
arith_builtin!(
    /// SIGNEXTEND: extends the sign of byte `a` (from the least significant) of `b`; `b`
    /// unchanged when `a` >= 31.
    signextend, binary, |a: U256, b: U256| {
        if a >= U256::from(31) {
            return b;
        }
        let bit_index = 8 * a.as_limbs()[0] as usize + 7;
        let mask = (U256::from(1) << bit_index) - U256::from(1);
        if b.bit(bit_index) { b | !mask } else { b & mask }
    }
);
arith_builtin!(
    /// CLZ: the number of leading zero bits.
    clz, unary, |x: U256| U256::from(x.leading_zeros())
);

/// [`Builtins::load_be_word`]: the 32 big-endian bytes at `source` into the stack slot at
/// `destination`.
///
/// # Safety
/// `source` is readable for 32 bytes (native code checked the window), `destination` is a
/// stack slot (8-byte aligned, 32 bytes), and the two do not overlap.
pub unsafe extern "C" fn load_be_word(destination: *mut u8, source: *const u8) {
    // SAFETY: guaranteed by the caller.
    unsafe {
        let bytes = std::ptr::read_unaligned(source.cast::<[u8; 32]>());
        destination.cast::<U256>().write(U256::from_be_bytes(bytes));
    }
}

/// [`Builtins::store_be_word`]: the stack slot at `source` as 32 big-endian bytes at
/// `destination`.
///
/// # Safety
/// `destination` is writable for 32 bytes (native code checked the window), `source` is a
/// stack slot (8-byte aligned, 32 bytes), and the two do not overlap.
pub unsafe extern "C" fn store_be_word(destination: *mut u8, source: *const u8) {
    // SAFETY: guaranteed by the caller.
    unsafe {
        let word = source.cast::<U256>().read();
        std::ptr::write_unaligned(destination.cast::<[u8; 32]>(), word.to_be_bytes::<32>());
    }
}

#[cfg(test)]
mod view_tests {
    use super::*;

    /// A CALL with no argument bytes hands its child an empty range at any offset; the views
    /// must not slice it (revm's slicing is unchecked in release builds).
    #[test]
    fn an_empty_input_at_a_wild_offset_is_an_empty_view() {
        let mut interpreter = Interpreter::<EthInterpreter>::default();
        interpreter.input.input = CallInput::SharedBuffer(usize::MAX..usize::MAX);
        let (_, _, input, input_len) = views(&mut interpreter);
        assert_eq!(input_len, 0);
        assert!(!input.is_null());
    }
}

#[cfg(test)]
mod division_tests {
    use super::*;

    /// The 128-bit views accept exactly the words whose value they can hold.
    #[test]
    fn words_are_seen_in_128_bits_only_when_they_fit() {
        let pow2 = |n: usize| U256::from(1) << n;
        let negative = |x: U256| U256::ZERO.wrapping_sub(x);
        assert_eq!(as_u128(pow2(128) - U256::from(1)), Some(u128::MAX));
        assert_eq!(as_u128(pow2(128)), None);
        assert_eq!(as_i128(pow2(127) - U256::from(1)), Some(i128::MAX));
        assert_eq!(as_i128(pow2(127)), None, "2^127 is not an i128");
        assert_eq!(as_i128(negative(pow2(127))), Some(i128::MIN));
        assert_eq!(as_i128(negative(pow2(127)) - U256::from(1)), None, "-2^127 - 1 is not an i128");
        assert_eq!(as_i128(U256::MAX), Some(-1));
        for v in [0, 1, -1, i128::MIN, i128::MAX, -(1 << 100), 1 << 64] {
            assert_eq!(as_i128(from_i128(v)), Some(v));
        }
    }

    /// The builtins' results where the 128-bit path must step aside.
    #[test]
    fn the_128_bit_path_leaves_zero_divisors_and_the_overflow_to_the_256_bit_one() {
        let min = from_i128(i128::MIN);
        let run = |f: unsafe extern "C" fn(*mut U256), top: U256, second: U256| {
            let mut slots = [second, top];
            // SAFETY: two initialised, writable slots, as the builtins' contract asks.
            unsafe { f(slots.as_mut_ptr()) };
            slots[0]
        };
        assert_eq!(run(sdiv, min, from_i128(-1)), U256::from(1) << 127);
        assert_eq!(run(smod, min, from_i128(-1)), U256::ZERO);
        assert_eq!(run(sdiv, min, U256::ZERO), U256::ZERO);
        assert_eq!(run(div, U256::from(u128::MAX), U256::ZERO), U256::ZERO);
        assert_eq!(run(rem, U256::from(u128::MAX), U256::from(7)), U256::from(u128::MAX % 7));
        assert_eq!(run(sdiv, from_i128(-7), U256::from(2)), from_i128(-3));
        assert_eq!(run(smod, from_i128(-7), U256::from(2)), from_i128(-1));
    }
}
