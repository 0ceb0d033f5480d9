//! Decoding: bytes to instructions, valid jump destinations and static jump targets.

use revm::bytecode::opcode::{self as op, OPCODE_INFO};
use revm::primitives::{U256, hardfork::SpecId};

/// How native code executes an instruction.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Operation {
    /// Computed inline in generated code (stack, arithmetic, comparisons, jumps, ...).
    Inline,
    /// `PUSH0`..`PUSH32` with its value (missing bytes of a truncated PUSH read as zero).
    Push(U256),
    /// DIV/SDIV/MOD/SMOD/ADDMOD/MULMOD through a pure Rust builtin on the stack slots.
    Arith,
    /// An environment read executed by revm that can neither fail nor observe gas (ADDRESS,
    /// CALLER, CALLVALUE, CALLDATALOAD, ...): it needs the stack synchronised but neither ends
    /// a section nor needs its result checked. Long runs of these otherwise became thousands
    /// of basic blocks.
    RevmRead,
    /// CALLDATALOAD: a direct read when the word lies inside the input, revm's (infallible)
    /// implementation otherwise, which pads with zeros.
    CalldataLoad,
    /// MLOAD, MSTORE and MSTORE8: a direct access when the word lies inside the frame's
    /// memory, revm's implementation otherwise (expansion and its gas, offsets too large to
    /// address). Ends its section like [`Operation::Revm`], because that fallback must see the
    /// exact gas the interpreter would have.
    Memory,
    /// Executed by revm's own implementation of the opcode on the frame's interpreter, with
    /// stack and gas synchronised first. Everything that touches the host, memory, or has
    /// fork-dependent dynamic gas goes this way, and so does every opcode that is undefined
    /// or not yet activated in the fork (revm then halts exactly as it would).
    Revm,
}

impl Operation {
    /// Whether the instruction is, or may be, executed by revm (and so ends a section).
    pub fn is_revm(self) -> bool {
        matches!(self, Operation::Revm | Operation::Memory)
    }
}

/// One decoded instruction.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Instruction {
    /// Byte offset of the opcode.
    pub pc: u32,
    /// The opcode byte.
    pub opcode: u8,
    /// How it is executed.
    pub op: Operation,
    /// For JUMP/JUMPI whose target is a constant pushed in the same block: that target.
    pub static_target: Option<U256>,
}

impl Instruction {
    /// Whether control never falls through to the next instruction.
    pub fn is_terminator(&self) -> bool {
        match self.opcode {
            op::STOP | op::JUMP | op::RETURN | op::REVERT | op::INVALID | op::SELFDESTRUCT => true,
            code => OPCODE_INFO[code as usize].is_none(),
        }
    }

    /// Whether the instruction may transfer control somewhere other than the next
    /// instruction, so the following instruction starts a new block.
    pub fn ends_block(&self) -> bool {
        self.is_terminator() || self.opcode == op::JUMPI || self.op.suspends_at(self.opcode)
    }

    /// Stack items the instruction pops (for undefined opcodes: 0).
    pub fn inputs(&self) -> u32 {
        OPCODE_INFO[self.opcode as usize].map_or(0, |i| i.inputs() as u32)
    }

    /// Stack items the instruction pushes.
    pub fn outputs(&self) -> u32 {
        OPCODE_INFO[self.opcode as usize].map_or(0, |i| i.outputs() as u32)
    }
}

impl Operation {
    /// Whether executing `opcode` this way hands a new frame to revm and suspends native code.
    pub fn suspends_at(self, opcode: u8) -> bool {
        self.is_revm() && is_call_or_create(opcode)
    }
}

impl Instruction {
    /// Whether this instruction suspends native code while revm runs a child frame.
    pub fn suspends(&self) -> bool {
        self.op.suspends_at(self.opcode)
    }
}

/// Whether `opcode` starts a child frame (CALL, CALLCODE, DELEGATECALL, STATICCALL, CREATE,
/// CREATE2).
pub(super) fn is_call_or_create(opcode: u8) -> bool {
    matches!(opcode, op::CALL | op::CALLCODE | op::DELEGATECALL | op::STATICCALL | op::CREATE | op::CREATE2)
}

/// Decodes `code` for `spec` into instructions and the table of valid jump destinations.
///
/// An implicit `STOP` is appended at `code.len()` unless the last instruction is a terminator,
/// mirroring revm's zero padding.
pub fn decode(code: &[u8], spec: SpecId) -> (Vec<Instruction>, Vec<bool>) {
    let mut instructions = Vec::with_capacity(code.len() + 1);
    let mut jumpdests = vec![false; code.len()];
    let mut pc = 0usize;
    while pc < code.len() {
        let opcode = code[pc];
        let mut op = classify(opcode, spec);
        let mut next = pc + 1;
        if (op::PUSH1..=op::PUSH32).contains(&opcode) {
            let n = (opcode - op::PUSH0) as usize;
            let mut word = [0u8; 32];
            let available = code.len().saturating_sub(pc + 1).min(n);
            // The value's n bytes sit at the low end of the word; missing bytes are zero.
            word[32 - n..32 - n + available].copy_from_slice(&code[pc + 1..pc + 1 + available]);
            op = Operation::Push(U256::from_be_bytes(word));
            next = pc + 1 + n;
        } else if opcode == op::JUMPDEST {
            jumpdests[pc] = true;
        }
        instructions.push(Instruction { pc: pc as u32, opcode, op, static_target: None });
        pc = next;
    }
    if instructions.last().is_none_or(|i| !i.is_terminator()) {
        // Falling off the end of code executes the zero padding: STOP.
        let pc = pc.max(code.len()) as u32;
        instructions.push(Instruction { pc, opcode: op::STOP, op: Operation::Inline, static_target: None });
    }
    resolve_static_jumps(&mut instructions);
    (instructions, jumpdests)
}

/// Decides how `opcode` is executed in `spec`.
fn classify(opcode: u8, spec: SpecId) -> Operation {
    let enabled = |since: SpecId| spec.is_enabled_in(since);
    match opcode {
        op::STOP
        | op::ADD
        | op::MUL
        | op::SUB
        | op::SIGNEXTEND
        | op::LT
        | op::GT
        | op::SLT
        | op::SGT
        | op::EQ
        | op::ISZERO
        | op::AND
        | op::OR
        | op::XOR
        | op::NOT
        | op::BYTE
        | op::POP
        | op::JUMP
        | op::JUMPI
        | op::PC
        | op::GAS
        | op::MSIZE
        | op::JUMPDEST => Operation::Inline,
        op::SHL | op::SHR | op::SAR if enabled(SpecId::PETERSBURG) => Operation::Inline,
        op::CLZ if enabled(SpecId::OSAKA) => Operation::Inline,
        op::PUSH0 if enabled(SpecId::SHANGHAI) => Operation::Push(U256::ZERO),
        op::PUSH1..=op::PUSH32 => Operation::Push(U256::ZERO), // value filled in by `decode`
        op::DUP1..=op::DUP16 | op::SWAP1..=op::SWAP16 => Operation::Inline,
        op::DIV | op::SDIV | op::MOD | op::SMOD | op::ADDMOD | op::MULMOD => Operation::Arith,
        op::ADDRESS | op::CALLER | op::CALLVALUE | op::CALLDATASIZE => Operation::Inline,
        op::CALLDATALOAD => Operation::CalldataLoad,
        op::ORIGIN
        | op::CODESIZE
        | op::GASPRICE
        | op::COINBASE
        | op::TIMESTAMP
        | op::NUMBER
        | op::DIFFICULTY
        | op::GASLIMIT => Operation::RevmRead,
        op::MLOAD | op::MSTORE | op::MSTORE8 => Operation::Memory,
        op::RETURNDATASIZE if enabled(SpecId::BYZANTIUM) => Operation::RevmRead,
        op::CHAINID if enabled(SpecId::ISTANBUL) => Operation::RevmRead,
        op::BASEFEE if enabled(SpecId::LONDON) => Operation::RevmRead,
        op::BLOBBASEFEE if enabled(SpecId::CANCUN) => Operation::RevmRead,
        _ => Operation::Revm,
    }
}

/// Finds JUMP/JUMPI targets that are constants pushed earlier in the same block, by running
/// a small abstract stack (known constant or unknown) over each block.
fn resolve_static_jumps(instructions: &mut [Instruction]) {
    let mut stack: Vec<Option<U256>> = Vec::new();
    for ins in instructions.iter_mut() {
        if ins.opcode == op::JUMPDEST {
            stack.clear();
        }
        match (ins.op, ins.opcode) {
            (Operation::Push(value), _) => stack.push(Some(value)),
            (Operation::Inline, op::DUP1..=op::DUP16) => {
                let n = (ins.opcode - op::DUP1) as usize + 1;
                let value = stack.len().checked_sub(n).and_then(|i| stack[i]);
                stack.push(value);
            }
            (Operation::Inline, op::SWAP1..=op::SWAP16) => {
                let n = (ins.opcode - op::SWAP1) as usize + 1;
                let len = stack.len();
                if len > n {
                    stack.swap(len - 1, len - 1 - n);
                } else {
                    // The swapped slot lies below what this block pushed: forget what we know.
                    stack.clear();
                }
            }
            (_, op::JUMP | op::JUMPI) => {
                ins.static_target = stack.last().copied().flatten();
                stack.clear();
            }
            _ => {
                for _ in 0..ins.inputs() {
                    stack.pop();
                }
                for _ in 0..ins.outputs() {
                    stack.push(None);
                }
            }
        }
        if ins.ends_block() {
            stack.clear();
        }
    }
}
