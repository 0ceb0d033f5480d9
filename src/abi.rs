//! The ABI between generated code and the Rust runtime.
//!
//! A compiled contract is one `extern "C" fn(*mut EvmContext) -> u32`. It works on the frame's
//! own interpreter state, which it reaches through an [`EvmContext`] that the runtime fills in
//! from revm's public API before every entry:
//!
//! | offset | field               | meaning                                                        |
//! |-------:|---------------------|----------------------------------------------------------------|
//! |      0 | `stack`             | base of the interpreter's stack buffer (`Stack::data_mut()`)   |
//! |      8 | `stack_len`         | number of live stack items                                     |
//! |     16 | `gas`               | gas remaining                                                  |
//! |     24 | `pc`                | on entry: where to start; on an `INTERPRET` exit: where to go on |
//! |     32 | `builtins`          | [`Builtins`] table for the host type of this frame               |
//! |     40 | `interpreter`       | the frame's `Interpreter<EthInterpreter>` (opaque to native code) |
//! |     48 | `host`              | the host (the EVM context), opaque to native code              |
//! |     56 | `instruction_table` | revm's instruction table for that host, opaque to native code  |
//! |     64 | `inspector`         | the inspector of an inspected frame, or null; builtins only    |
//! |     72 | `memory`            | first byte of the frame's memory (`SharedMemory::context_memory_mut`) |
//! |     80 | `memory_len`        | the frame's memory size in bytes (always a multiple of 32)     |
//! |     88 | `calldata`          | first byte of the frame's input                                |
//! |     96 | `calldata_len`      | the input's length in bytes (CALLDATASIZE)                     |
//! |    104 | `caller`            | CALLER as a stack word                                         |
//! |    136 | `call_value`        | CALLVALUE                                                      |
//! |    168 | `address`           | ADDRESS (the account whose storage the frame uses)             |
//!
//! Invariants that native code relies on and the runtime guarantees:
//! - the stack buffer has room for 1024 items (revm allocates it with `STACK_LIMIT` capacity and
//!   never grows it), so native code writes above `stack_len` without reallocating;
//! - items are `U256` (four little-endian u64 limbs), which is LLVM's little-endian `i256`;
//! - between entry and exit nothing else touches the interpreter; builtins receive the context
//!   and synchronise `stack_len` and `gas` into the interpreter before they act on it;
//! - `memory` and `memory_len` describe the frame's memory as it is at entry and after every
//!   call of an entry of [`Builtins::opcodes`] and of [`Builtins::grow_memory`] (the only
//!   builtins that can resize or move it); native code reads and writes bytes below `memory_len` directly and
//!   has revm grow memory (and charge the expansion) before any access beyond it; `calldata` is
//!   refreshed with them (a call's input can live in the caller's memory, in the same buffer);
//! - `caller`, `call_value`, `address` and `calldata_len` are the frame's own constants, filled
//!   in at every entry, so native code reads them without calling out;
//! - a frame is entered at pc 0 or at a *resume point* (the pc right after a call or create);
//!   any other pc makes native code hand the frame straight back to the interpreter.
//!
//! The builtins travel through the context rather than as linked symbols, so a compiled
//! artifact needs nothing exported from the host binary.

use revm::primitives::{B256, U256, hardfork::SpecId, hex};
use std::ffi::c_void;

/// Version of this ABI: the [`EvmContext`] and [`Builtins`] layouts, the [`ExitStatus`] codes
/// and the entry signature. Stored AOT artifacts record it and are refused when it differs, so
/// bump it with any change to those.
pub const ABI_VERSION: u32 = 5;

/// Name of the `u32` constant every AOT library exports, holding the [`ABI_VERSION`] it was
/// built for; checked after loading, in addition to the store's manifest.
pub const LIBRARY_ABI_SYMBOL: &str = "revm_jit_abi_version";

/// The exported name of a contract's entry point in an AOT library: unique per (code hash,
/// fork), so one library can hold many contracts and a loader can find each by its key.
pub fn entry_symbol(code_hash: &B256, spec: SpecId) -> String {
    format!("revm_jit_{}_{}", hex::encode(code_hash), spec as u8)
}

/// The frame state native code works on; see the module documentation for the layout.
#[repr(C)]
#[derive(Debug)]
pub struct EvmContext {
    /// Base of the interpreter's stack buffer.
    pub stack: *mut U256,
    /// Live stack items.
    pub stack_len: u64,
    /// Gas remaining.
    pub gas: u64,
    /// Entry pc, and the pc to continue at after an [`ExitStatus::Interpret`] exit.
    pub pc: u64,
    /// Builtins for this frame's host type.
    pub builtins: *const Builtins,
    /// `*mut Interpreter<EthInterpreter>`; only builtins dereference it.
    pub interpreter: *mut c_void,
    /// `*mut H` where `H` is the host; only builtins dereference it.
    pub host: *mut c_void,
    /// `*const InstructionTable<EthInterpreter, H>`; only builtins dereference it.
    pub instruction_table: *const c_void,
    /// `*mut I` where `I` is the inspector of an inspected frame, null otherwise. The builtins
    /// of inspected frames use it to report logs and selfdestructs the moment they happen.
    pub inspector: *mut c_void,
    /// First byte of the frame's memory; valid for `memory_len` bytes until the next
    /// call of a [`Builtins::opcodes`] entry or `grow_memory`, which refreshes both fields.
    pub memory: *mut u8,
    /// The frame's memory size in bytes (revm keeps it a multiple of 32, equal to the words
    /// the frame has paid for, so an access below it never costs expansion gas).
    pub memory_len: u64,
    /// First byte of the frame's input, valid for `calldata_len` bytes until the next
    /// call of a [`Builtins::opcodes`] entry or `grow_memory` (which refresh it: the input may
    /// live in the caller's memory).
    pub calldata: *const u8,
    /// Length of the frame's input (CALLDATASIZE).
    pub calldata_len: u64,
    /// CALLER, as the stack word the opcode pushes.
    pub caller: U256,
    /// CALLVALUE.
    pub call_value: U256,
    /// ADDRESS.
    pub address: U256,
}

/// Index of each [`EvmContext`] field, counted in 8-byte words (codegen addresses fields so).
pub mod field {
    /// [`super::EvmContext::stack`].
    pub const STACK: u64 = 0;
    /// [`super::EvmContext::stack_len`].
    pub const STACK_LEN: u64 = 1;
    /// [`super::EvmContext::gas`].
    pub const GAS: u64 = 2;
    /// [`super::EvmContext::pc`].
    pub const PC: u64 = 3;
    /// [`super::EvmContext::builtins`].
    pub const BUILTINS: u64 = 4;
    /// [`super::EvmContext::memory`].
    pub const MEMORY: u64 = 9;
    /// [`super::EvmContext::memory_len`].
    pub const MEMORY_LEN: u64 = 10;
    /// [`super::EvmContext::calldata`].
    pub const CALLDATA: u64 = 11;
    /// [`super::EvmContext::calldata_len`].
    pub const CALLDATA_LEN: u64 = 12;
    /// [`super::EvmContext::caller`] (four words).
    pub const CALLER: u64 = 13;
    /// [`super::EvmContext::call_value`] (four words).
    pub const CALL_VALUE: u64 = 17;
    /// [`super::EvmContext::address`] (four words).
    pub const ADDRESS: u64 = 21;
}

/// Executes one opcode with revm's implementation on the frame's interpreter.
///
/// Returns 0 when execution continues at the next instruction (gas is written back to
/// `ctx.gas`), 1 when the frame must stop: revm set an action (return, revert, halt, or a new
/// frame for a call or create) that the runtime hands to revm.
pub type RevmInstructionFn = unsafe extern "C" fn(ctx: *mut EvmContext, opcode: u32, pc: u32) -> u32;

/// MLOAD, MSTORE or MSTORE8 (`opcode`, at `pc`) at an `offset` beyond the frame's memory: grows
/// memory, charging the expansion gas as revm does (with the function revm's own opcode calls),
/// then makes the access on the interpreter's stack and memory as the opcode does. The stack
/// length is left to native code (MLOAD's result is in the offset's slot). `offset` is below
/// 2^32, or [`OFFSET_BEYOND_32_BITS`] for an offset that does not fit in 32 bits, which revm's
/// opcode then runs on in full (and halts, unless the frame has gas for gigabytes).
///
/// Returns [`grow_outcome::DONE`] when the frame goes on (gas is written back to `ctx.gas`,
/// and `memory`, `memory_len`, `calldata` point at the grown buffer), or
/// [`grow_outcome::HALTED`] when it halted (out of gas, or revm's memory limit) with its
/// action and stack as revm's opcode would have left them.
pub type GrowMemoryFn = unsafe extern "C" fn(ctx: *mut EvmContext, offset: u64, opcode: u32, pc: u32) -> u32;

/// The `offset` native code passes a [`GrowMemoryFn`] for an offset that does not fit in 32
/// bits (no real offset below 2^32 equals it).
pub const OFFSET_BEYOND_32_BITS: u64 = u64::MAX;

/// What a [`GrowMemoryFn`] call returns.
pub mod grow_outcome {
    /// The access is made; the frame goes on.
    pub const DONE: u32 = 0;
    /// The frame halted; its action is set.
    pub const HALTED: u32 = 1;
}

/// A pure arithmetic builtin working in place on consecutive stack slots (see [`Builtins`]).
/// Unary builtins (CLZ) read and write `slots[0]`.
pub type ArithFn = unsafe extern "C" fn(slots: *mut U256);

/// Copies one 32-byte word between big-endian bytes (memory, calldata) and a stack slot, in
/// the direction its entry in [`Builtins`] names: `(destination, source)`.
pub type WordCopyFn = unsafe extern "C" fn(destination: *mut u8, source: *const u8);

/// Function table passed to native code in [`EvmContext::builtins`].
///
/// Arithmetic builtins receive a pointer to the lowest of their operand slots and leave the
/// result there: for binary ops `slots[1]` is the top of the stack (the first operand) and
/// `slots[0]` the second; for ADDMOD/MULMOD `slots[2]`, `slots[1]`, `slots[0]` are a, b, N.
#[repr(C)]
#[derive(Debug)]
pub struct Builtins {
    /// DIV
    pub div: ArithFn,
    /// SDIV
    pub sdiv: ArithFn,
    /// MOD
    pub rem: ArithFn,
    /// SMOD
    pub smod: ArithFn,
    /// ADDMOD
    pub addmod: ArithFn,
    /// MULMOD
    pub mulmod: ArithFn,
    /// MUL. This entry and the ones after it serve code whose words are kept as 64-bit limbs
    /// (the baseline tier, see `codegen`), where these operations on whole words would need
    /// LLVM's slow instruction selector.
    pub mul: ArithFn,
    /// SLT
    pub slt: ArithFn,
    /// SGT
    pub sgt: ArithFn,
    /// BYTE
    pub byte: ArithFn,
    /// SHL
    pub shl: ArithFn,
    /// SHR
    pub shr: ArithFn,
    /// SAR
    pub sar: ArithFn,
    /// SIGNEXTEND
    pub signextend: ArithFn,
    /// CLZ (unary)
    pub clz: ArithFn,
    /// The direct path of MLOAD and CALLDATALOAD in limb code: 32 big-endian bytes into a stack
    /// slot (LLVM's fast instruction selector has no byte swap).
    pub load_be_word: WordCopyFn,
    /// The direct path of MSTORE in limb code: a stack slot as 32 big-endian bytes.
    pub store_be_word: WordCopyFn,
    /// The growth path of MLOAD, MSTORE and MSTORE8; see [`GrowMemoryFn`]. Running revm's whole
    /// opcode through the generic builtin for it instead cost snailtracer 6% more instructions
    /// per transaction: Solidity's bump allocator grows memory on most of its allocations.
    pub grow_memory: GrowMemoryFn,
    /// Runs an opcode through revm, by opcode; see [`RevmInstructionFn`]. Every entry runs
    /// revm's implementation of its opcode. The opcodes native code calls revm for most have
    /// an entry of their own, which calls that implementation directly (no dispatch through
    /// revm's instruction table) and skips refreshing the memory view where the opcode
    /// cannot touch memory; the others share one entry that dispatches on the opcode.
    pub opcodes: [RevmInstructionFn; 256],
}

/// Index of each [`Builtins`] entry, counted in pointers.
pub mod builtin {
    /// [`super::Builtins::div`].
    pub const DIV: u64 = 0;
    /// [`super::Builtins::sdiv`].
    pub const SDIV: u64 = 1;
    /// [`super::Builtins::rem`].
    pub const MOD: u64 = 2;
    /// [`super::Builtins::smod`].
    pub const SMOD: u64 = 3;
    /// [`super::Builtins::addmod`].
    pub const ADDMOD: u64 = 4;
    /// [`super::Builtins::mulmod`].
    pub const MULMOD: u64 = 5;
    /// [`super::Builtins::mul`].
    pub const MUL: u64 = 6;
    /// [`super::Builtins::slt`].
    pub const SLT: u64 = 7;
    /// [`super::Builtins::sgt`].
    pub const SGT: u64 = 8;
    /// [`super::Builtins::byte`].
    pub const BYTE: u64 = 9;
    /// [`super::Builtins::shl`].
    pub const SHL: u64 = 10;
    /// [`super::Builtins::shr`].
    pub const SHR: u64 = 11;
    /// [`super::Builtins::sar`].
    pub const SAR: u64 = 12;
    /// [`super::Builtins::signextend`].
    pub const SIGNEXTEND: u64 = 13;
    /// [`super::Builtins::clz`].
    pub const CLZ: u64 = 14;
    /// [`super::Builtins::load_be_word`].
    pub const LOAD_BE_WORD: u64 = 15;
    /// [`super::Builtins::store_be_word`].
    pub const STORE_BE_WORD: u64 = 16;
    /// [`super::Builtins::grow_memory`].
    pub const GROW_MEMORY: u64 = 17;
    /// [`super::Builtins::opcodes`], the entry of opcode 0; opcode `n`'s is `OPCODES + n`.
    pub const OPCODES: u64 = 18;
}

/// What a compiled function's return value means.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u32)]
pub enum ExitStatus {
    /// The frame executed STOP.
    Stop = 0,
    /// A JUMP/JUMPI went to an invalid destination.
    InvalidJump = 1,
    /// A builtin already handed revm the frame's next action; the interpreter state is final.
    ActionSet = 2,
    /// Continue in revm's interpreter at `ctx.pc` (a section's gas or stack check failed, or
    /// the entry pc was not one native code can start at).
    Interpret = 3,
}

impl ExitStatus {
    /// Decodes a compiled function's return value; `None` for values codegen never emits.
    pub fn from_raw(raw: u32) -> Option<Self> {
        Some(match raw {
            0 => Self::Stop,
            1 => Self::InvalidJump,
            2 => Self::ActionSet,
            3 => Self::Interpret,
            _ => return None,
        })
    }
}

/// The signature of a compiled contract's entry point.
pub type EntryFn = unsafe extern "C" fn(ctx: *mut EvmContext) -> u32;

const _: () = {
    assert!(std::mem::size_of::<EvmContext>() == 200);
    assert!(std::mem::offset_of!(EvmContext, calldata) == 8 * field::CALLDATA as usize);
    assert!(std::mem::offset_of!(EvmContext, calldata_len) == 8 * field::CALLDATA_LEN as usize);
    assert!(std::mem::offset_of!(EvmContext, caller) == 8 * field::CALLER as usize);
    assert!(std::mem::offset_of!(EvmContext, call_value) == 8 * field::CALL_VALUE as usize);
    assert!(std::mem::offset_of!(EvmContext, address) == 8 * field::ADDRESS as usize);
    assert!(std::mem::offset_of!(EvmContext, memory) == 8 * field::MEMORY as usize);
    assert!(std::mem::offset_of!(EvmContext, memory_len) == 8 * field::MEMORY_LEN as usize);
    assert!(std::mem::offset_of!(EvmContext, stack_len) == 8 * field::STACK_LEN as usize);
    assert!(std::mem::offset_of!(EvmContext, gas) == 8 * field::GAS as usize);
    assert!(std::mem::offset_of!(EvmContext, pc) == 8 * field::PC as usize);
    assert!(std::mem::offset_of!(EvmContext, builtins) == 8 * field::BUILTINS as usize);
    assert!(std::mem::offset_of!(Builtins, mulmod) == 8 * builtin::MULMOD as usize);
    assert!(std::mem::offset_of!(Builtins, clz) == 8 * builtin::CLZ as usize);
    assert!(std::mem::offset_of!(Builtins, store_be_word) == 8 * builtin::STORE_BE_WORD as usize);
    assert!(std::mem::offset_of!(Builtins, grow_memory) == 8 * builtin::GROW_MEMORY as usize);
    assert!(std::mem::offset_of!(Builtins, div) == 8 * builtin::DIV as usize);
    assert!(std::mem::offset_of!(Builtins, opcodes) == 8 * builtin::OPCODES as usize);
    assert!(std::mem::size_of::<U256>() == 32);
};
