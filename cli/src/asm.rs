//! A small EVM assembler, so hand-written programs and opcode tests read as mnemonics
//! instead of hex.
//!
//! # Syntax
//!
//! A program is text; comments run from `;` or `//` to the end of the line. Everything
//! else is a sequence of whitespace-separated items, any number per line:
//!
//! | Item | Emits |
//! |------|-------|
//! | `ADD`, `sstore`, `CALL`, … | the opcode byte (every name in revm's [`OPCODE_INFO`], case-insensitive; `SHA3` and `PREVRANDAO` are accepted as aliases) |
//! | `PUSH <value>` | the smallest `PUSH1`..`PUSH32` that holds `value` (`PUSH 0` is `PUSH1 0x00`: `PUSH0` only exists from Shanghai, so it is never chosen implicitly) |
//! | `PUSH0` | `0x5f` |
//! | `PUSH<n> <value>` | `PUSHn` with `value` big-endian in exactly `n` bytes (an error if it does not fit) |
//! | `PUSH @label`, `PUSH<n> @label` | the label's byte offset, as `PUSH2` unless a width is given |
//! | `DUPN <b>`, `SWAPN <b>`, `EXCHANGE <b>` | the opcode followed by its raw immediate byte `b` |
//! | `name:` | a `JUMPDEST`, with `name` bound to its offset |
//! | `.mark name` | nothing; binds `name` to the current offset (for data, e.g. `CODECOPY`) |
//! | `.bytes 0xdead 0xbeef…` | the raw bytes, verbatim |
//!
//! Values are decimal or `0x` hexadecimal, up to 2²⁵⁶−1. Label references have a fixed
//! width, so every item's size is known before any label is resolved: one layout pass
//! computes all offsets and a second pass emits bytes.
//!
//! ```
//! let code = revm_jit_cli::asm::assemble(
//!     "PUSH 3          ; counter
//!      loop:
//!        PUSH 1 SWAP1 SUB
//!        DUP1 PUSH @loop JUMPI
//!      STOP",
//! )
//! .unwrap();
//! assert_eq!(code.as_ref(), &[0x60, 3, 0x5b, 0x60, 1, 0x90, 0x03, 0x80, 0x61, 0, 2, 0x57, 0x00]);
//! ```

use revm::{
    bytecode::opcode::{self, OPCODE_INFO, OpCode},
    primitives::{Bytes, U256},
};
use std::collections::HashMap;

/// Width, in bytes, of a `PUSH @label` without an explicit `PUSHn`: two bytes cover
/// every offset of deployed code (24 KiB) and of init code (48 KiB).
pub const LABEL_PUSH_WIDTH: u8 = 2;

/// An assembly error, with the 1-based source line it was found on.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {kind}")]
pub struct AsmError {
    /// 1-based line number in the source text.
    pub line: usize,
    /// What went wrong.
    pub kind: AsmErrorKind,
}

/// What went wrong while assembling; see [`AsmError`] for where.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AsmErrorKind {
    /// A word that is neither an opcode name, a directive nor a label definition.
    #[error("unknown mnemonic `{0}`")]
    UnknownMnemonic(String),
    /// A directive (`.something`) this assembler does not know.
    #[error("unknown directive `{0}` (expected `.bytes` or `.mark`)")]
    UnknownDirective(String),
    /// An instruction or directive that needs an operand came last on its line.
    #[error("`{0}` needs an operand")]
    MissingOperand(String),
    /// An operand that is not a decimal or `0x` hexadecimal number (or label reference).
    #[error("`{0}` is not a number (decimal or 0x-hex)")]
    BadNumber(String),
    /// A number above 2²⁵⁶−1.
    #[error("`{0}` does not fit in 256 bits")]
    NumberTooLarge(String),
    /// A value that does not fit the explicit width of `PUSHn` or a one-byte immediate.
    #[error("value {value} does not fit in {width} byte(s)")]
    ValueTooWide {
        /// The value, as written.
        value: String,
        /// The available width in bytes.
        width: u8,
    },
    /// A `.bytes` operand that is not an even-length string of hex digits.
    #[error("`{0}` is not hex bytes (an even number of hex digits, optional 0x)")]
    BadHex(String),
    /// A label defined twice.
    #[error("label `{name}` is already defined on line {first_line}")]
    DuplicateLabel {
        /// The label's name.
        name: String,
        /// Line of the first definition.
        first_line: usize,
    },
    /// A reference to a label that is never defined.
    #[error("label `{0}` is not defined")]
    UndefinedLabel(String),
    /// A label name with characters other than letters, digits, `_` and `.`, or one
    /// starting with a digit.
    #[error("`{0}` is not a valid label name (letters, digits, `_`, `.`; not starting with a digit)")]
    BadLabelName(String),
    /// A label reference where only a literal is allowed (immediates of `DUPN` & co).
    #[error("a label cannot be used as the operand of `{0}`")]
    LabelNotAllowed(String),
}

/// A `PUSH` operand before labels are resolved.
#[derive(Debug)]
enum Operand {
    Value(U256, String),
    Label(String),
}

/// One sized piece of output.
#[derive(Debug)]
enum Item {
    /// A single opcode byte.
    Op(u8),
    /// `PUSHn` with `width` immediate bytes.
    Push { width: u8, operand: Operand, line: usize },
    /// An opcode and its one-byte immediate.
    WithImmediate(u8, u8),
    /// Verbatim bytes.
    Raw(Vec<u8>),
}

impl Item {
    fn size(&self) -> usize {
        match self {
            Item::Op(_) => 1,
            Item::Push { width, .. } => 1 + *width as usize,
            Item::WithImmediate(..) => 2,
            Item::Raw(bytes) => bytes.len(),
        }
    }
}

/// Assembles `src` (see the [module docs](self) for the syntax) into bytecode.
///
/// Errors carry the 1-based line of the offending item; an undefined label is reported on
/// the line that references it.
pub fn assemble(src: &str) -> Result<Bytes, AsmError> {
    let mut items = Vec::new();
    let mut labels: HashMap<String, (usize, usize)> = HashMap::new();
    let mut offset = 0usize;

    for (index, raw_line) in src.lines().enumerate() {
        let line = index + 1;
        let err = |kind| AsmError { line, kind };
        let mut tokens = strip_comment(raw_line).split_whitespace();
        while let Some(token) = tokens.next() {
            let mut define = |name: &str, offset: usize| -> Result<(), AsmError> {
                check_label_name(name).map_err(err)?;
                if let Some(&(_, first_line)) = labels.get(name) {
                    return Err(err(AsmErrorKind::DuplicateLabel { name: name.to_owned(), first_line }));
                }
                labels.insert(name.to_owned(), (offset, line));
                Ok(())
            };
            let item = if let Some(name) = token.strip_suffix(':') {
                define(name, offset)?;
                Item::Op(opcode::JUMPDEST)
            } else if let Some(directive) = token.strip_prefix('.') {
                match directive.to_ascii_lowercase().as_str() {
                    "bytes" => {
                        let first = tokens.next().ok_or_else(|| err(AsmErrorKind::MissingOperand(token.to_owned())))?;
                        let mut bytes = parse_hex_bytes(first).map_err(err)?;
                        for more in tokens.by_ref() {
                            bytes.extend(parse_hex_bytes(more).map_err(err)?);
                        }
                        Item::Raw(bytes)
                    }
                    "mark" => {
                        let name = tokens.next().ok_or_else(|| err(AsmErrorKind::MissingOperand(token.to_owned())))?;
                        define(name, offset)?;
                        continue;
                    }
                    _ => return Err(err(AsmErrorKind::UnknownDirective(token.to_owned()))),
                }
            } else {
                let upper = token.to_ascii_uppercase();
                let mut operand = || tokens.next().ok_or_else(|| err(AsmErrorKind::MissingOperand(token.to_owned())));
                if upper == "PUSH" {
                    let operand = parse_operand(operand()?).map_err(err)?;
                    let width = match &operand {
                        Operand::Value(value, _) => value.byte_len().max(1) as u8,
                        Operand::Label(_) => LABEL_PUSH_WIDTH,
                    };
                    Item::Push { width, operand, line }
                } else {
                    let op = lookup(&upper).ok_or_else(|| err(AsmErrorKind::UnknownMnemonic(token.to_owned())))?;
                    let info = op.info();
                    match (op.is_push(), info.immediate_size()) {
                        (true, width) => {
                            let operand = parse_operand(operand()?).map_err(err)?;
                            Item::Push { width, operand, line }
                        }
                        (false, 0) => Item::Op(op.get()),
                        (false, _) => match parse_operand(operand()?).map_err(err)? {
                            Operand::Label(_) => {
                                return Err(err(AsmErrorKind::LabelNotAllowed(token.to_owned())));
                            }
                            Operand::Value(value, text) => {
                                let byte = u8::try_from(value)
                                    .map_err(|_| err(AsmErrorKind::ValueTooWide { value: text, width: 1 }))?;
                                Item::WithImmediate(op.get(), byte)
                            }
                        },
                    }
                }
            };
            offset += item.size();
            items.push(item);
        }
    }

    let mut out = Vec::with_capacity(offset);
    for item in items {
        match item {
            Item::Op(op) => out.push(op),
            Item::WithImmediate(op, byte) => out.extend([op, byte]),
            Item::Raw(bytes) => out.extend(bytes),
            Item::Push { width, operand, line } => {
                let (value, text) = match operand {
                    Operand::Value(value, text) => (value, text),
                    Operand::Label(name) => match labels.get(&name) {
                        Some(&(offset, _)) => (U256::from(offset), format!("@{name} = {offset}")),
                        None => {
                            return Err(AsmError { line, kind: AsmErrorKind::UndefinedLabel(name) });
                        }
                    },
                };
                if value.byte_len() > width as usize {
                    return Err(AsmError { line, kind: AsmErrorKind::ValueTooWide { value: text, width } });
                }
                out.push(opcode::PUSH1 + width - 1);
                let be = value.to_be_bytes::<32>();
                out.extend_from_slice(&be[32 - width as usize..]);
            }
        }
    }
    Ok(out.into())
}

/// The part of `line` before any `;` or `//` comment.
fn strip_comment(line: &str) -> &str {
    let end = [line.find(';'), line.find("//")].into_iter().flatten().min().unwrap_or(line.len());
    &line[..end]
}

/// Looks up an upper-cased mnemonic in revm's opcode table, plus a few common aliases.
fn lookup(upper: &str) -> Option<OpCode> {
    let name = match upper {
        "SHA3" => "KECCAK256",
        "PREVRANDAO" => "DIFFICULTY",
        other => other,
    };
    OPCODE_INFO
        .iter()
        .enumerate()
        .find(|(_, info)| info.is_some_and(|info| info.name() == name))
        .and_then(|(byte, _)| OpCode::new(byte as u8))
}

/// Parses a `PUSH` operand: `@label` or a decimal / `0x` number.
fn parse_operand(text: &str) -> Result<Operand, AsmErrorKind> {
    if let Some(name) = text.strip_prefix('@') {
        check_label_name(name)?;
        return Ok(Operand::Label(name.to_owned()));
    }
    let (digits, radix) = match text.strip_prefix("0x").or_else(|| text.strip_prefix("0X")) {
        Some(hex) => (hex, 16),
        None => (text, 10),
    };
    if digits.is_empty() || !digits.chars().all(|c| c.is_digit(radix)) {
        return Err(AsmErrorKind::BadNumber(text.to_owned()));
    }
    U256::from_str_radix(digits, radix as u64)
        .map(|value| Operand::Value(value, text.to_owned()))
        .map_err(|_| AsmErrorKind::NumberTooLarge(text.to_owned()))
}

/// Parses an even-length hex string (optional `0x`) into bytes.
fn parse_hex_bytes(text: &str) -> Result<Vec<u8>, AsmErrorKind> {
    let digits = text.strip_prefix("0x").or_else(|| text.strip_prefix("0X")).unwrap_or(text);
    let bad = || AsmErrorKind::BadHex(text.to_owned());
    if digits.is_empty() || !digits.len().is_multiple_of(2) {
        return Err(bad());
    }
    (0..digits.len())
        .step_by(2)
        .map(|i| digits.get(i..i + 2).and_then(|pair| u8::from_str_radix(pair, 16).ok()).ok_or_else(bad))
        .collect()
}

/// Accepts `[A-Za-z_.][A-Za-z0-9_.]*`.
fn check_label_name(name: &str) -> Result<(), AsmErrorKind> {
    let mut chars = name.chars();
    let valid = chars.next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_' || c == '.')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.');
    if valid { Ok(()) } else { Err(AsmErrorKind::BadLabelName(name.to_owned())) }
}
