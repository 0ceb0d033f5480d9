//! A tiny bytecode builder for hand-written test programs.

use revm::bytecode::opcode as op;
use revm::primitives::{Bytes, U256};
use std::collections::HashMap;

/// Bytecode under construction; every method consumes and returns the builder.
#[derive(Clone, Debug, Default)]
pub(crate) struct Code {
    bytes: Vec<u8>,
    labels: HashMap<&'static str, usize>,
    /// (offset of a PUSH2 operand, label).
    fixups: Vec<(usize, &'static str)>,
}

impl Code {
    pub(crate) fn new() -> Self {
        Self::default()
    }

    /// Current length (the pc of the next byte).
    pub(crate) fn pc(&self) -> usize {
        self.bytes.len()
    }

    /// One opcode.
    pub(crate) fn op(mut self, opcode: u8) -> Self {
        self.bytes.push(opcode);
        self
    }

    /// `opcode` repeated `n` times.
    pub(crate) fn repeat(mut self, opcode: u8, n: usize) -> Self {
        self.bytes.extend(std::iter::repeat_n(opcode, n));
        self
    }

    /// Raw bytes.
    pub(crate) fn raw(mut self, bytes: &[u8]) -> Self {
        self.bytes.extend_from_slice(bytes);
        self
    }

    /// Pushes `value` with the shortest PUSHn (PUSH1 for zero, so it works before Shanghai).
    pub(crate) fn push(self, value: impl Into<U256>) -> Self {
        let value = value.into();
        let n = (value.bit_len().div_ceil(8)).max(1);
        self.push_n(n, value)
    }

    /// Pushes `value` with PUSHn exactly (the value is truncated to n bytes).
    pub(crate) fn push_n(mut self, n: usize, value: U256) -> Self {
        assert!((1..=32).contains(&n));
        let bytes = value.to_be_bytes::<32>();
        self.bytes.push(op::PUSH1 + (n as u8 - 1));
        self.bytes.extend_from_slice(&bytes[32 - n..]);
        self
    }

    /// PUSH0.
    pub(crate) fn push0(self) -> Self {
        self.op(op::PUSH0)
    }

    /// Pushes each value in order (the last ends on top).
    pub(crate) fn pushes(mut self, values: &[U256]) -> Self {
        for v in values {
            self = self.push(*v);
        }
        self
    }

    /// `PUSH1 offset CALLDATALOAD`: the calldata word at `offset` (opaque to the compiler).
    pub(crate) fn cd(self, offset: usize) -> Self {
        self.push(U256::from(offset)).op(op::CALLDATALOAD)
    }

    /// Places a JUMPDEST named `name`.
    pub(crate) fn label(mut self, name: &'static str) -> Self {
        let prev = self.labels.insert(name, self.bytes.len());
        assert!(prev.is_none(), "label {name} placed twice");
        self.bytes.push(op::JUMPDEST);
        self
    }

    /// Pushes the address of label `name` with a PUSH2.
    pub(crate) fn push_label(mut self, name: &'static str) -> Self {
        self.bytes.push(op::PUSH2);
        self.fixups.push((self.bytes.len(), name));
        self.bytes.extend_from_slice(&[0, 0]);
        self
    }

    /// `PUSH2 label JUMP`.
    pub(crate) fn jump_to(self, name: &'static str) -> Self {
        self.push_label(name).op(op::JUMP)
    }

    /// `PUSH2 label JUMPI` (the condition must already be on the stack).
    pub(crate) fn jumpi_to(self, name: &'static str) -> Self {
        self.push_label(name).op(op::JUMPI)
    }

    /// Stores the top of the stack at memory 0 and returns that word.
    pub(crate) fn ret_top(self) -> Self {
        self.push(U256::ZERO).op(op::MSTORE).push(U256::from(32)).push(U256::ZERO).op(op::RETURN)
    }

    /// Resolves labels and returns the bytes.
    pub(crate) fn build(mut self) -> Bytes {
        for (at, name) in std::mem::take(&mut self.fixups) {
            let target = *self.labels.get(name).unwrap_or_else(|| panic!("label {name} never placed"));
            self.bytes[at..at + 2].copy_from_slice(&(target as u16).to_be_bytes());
        }
        self.bytes.into()
    }
}

/// `U256` from a `u64`.
pub(crate) fn w(v: u64) -> U256 {
    U256::from(v)
}

/// `-v` in two's complement.
pub(crate) fn neg(v: u64) -> U256 {
    U256::ZERO.wrapping_sub(U256::from(v))
}

/// `-2^n` in two's complement.
pub(crate) fn neg_pow2(n: u32) -> U256 {
    U256::ZERO.wrapping_sub(U256::from(1) << n)
}

/// 2^255, the most negative signed word.
pub(crate) fn min_signed() -> U256 {
    U256::from(1) << 255
}

/// Values where EVM arithmetic has edge cases.
pub(crate) fn edge_values() -> Vec<U256> {
    vec![
        w(0),
        w(1),
        w(2),
        w(3),
        w(0x7f),
        w(0x80),
        w(0xff),
        w(31),
        w(32),
        w(255),
        w(256),
        w(257),
        U256::MAX,
        neg(2),
        neg(3),
        min_signed(),
        min_signed() - w(1),
        U256::from(1) << 128,
        U256::from(u64::MAX),
        U256::from_be_slice(&[0x80; 32]),
        U256::from_be_slice(&[
            0x12, 0x34, 0x56, 0x78, 0x9a, 0xbc, 0xde, 0xf0, 0x0f, 0xed, 0xcb, 0xa9, 0x87, 0x65, 0x43, 0x21, 0xff, 0x00,
            0xff, 0x00, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88, 0x99, 0xaa, 0xbb, 0xcc,
        ]),
    ]
}

/// Calldata holding `values` as consecutive words.
pub(crate) fn words(values: &[U256]) -> Bytes {
    values.iter().flat_map(|v| v.to_be_bytes::<32>()).collect::<Vec<u8>>().into()
}
