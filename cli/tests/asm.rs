//! Exact-byte and error tests for the `revm_jit_cli::asm` assembler.

use revm_jit_cli::asm::{AsmError, AsmErrorKind, assemble};

fn bytes(src: &str) -> Vec<u8> {
    match assemble(src) {
        Ok(code) => code.to_vec(),
        Err(e) => panic!("assembling {src:?} failed: {e}"),
    }
}

fn error(src: &str) -> AsmError {
    match assemble(src) {
        Ok(code) => panic!("assembling {src:?} should fail, got {code}"),
        Err(e) => e,
    }
}

#[test]
fn empty_and_comment_only_sources_assemble_to_nothing() {
    assert_eq!(bytes(""), Vec::<u8>::new());
    assert_eq!(bytes("; nothing\n  // still nothing\n\n"), Vec::<u8>::new());
}

#[test]
fn push_picks_the_smallest_width() {
    assert_eq!(bytes("PUSH 0"), [0x60, 0x00]);
    assert_eq!(bytes("PUSH 255"), [0x60, 0xff]);
    assert_eq!(bytes("PUSH 256"), [0x61, 0x01, 0x00]);
    assert_eq!(bytes("PUSH 0x0001"), [0x60, 0x01]);
    assert_eq!(bytes("push 0x123456"), [0x62, 0x12, 0x34, 0x56]);
    let max = format!("PUSH 0x{}", "ff".repeat(32));
    let mut expected = vec![0x7f];
    expected.extend([0xff; 32]);
    assert_eq!(bytes(&max), expected);
    // 2^256 - 1 in decimal.
    let dec = "PUSH 115792089237316195423570985008687907853269984665640564039457584007913129639935";
    assert_eq!(bytes(dec), expected);
}

#[test]
fn push0_only_when_asked_for() {
    assert_eq!(bytes("PUSH0"), [0x5f]);
    assert_eq!(bytes("PUSH 0 PUSH0"), [0x60, 0x00, 0x5f]);
}

#[test]
fn explicit_push_width_pads_big_endian() {
    assert_eq!(bytes("PUSH1 1"), [0x60, 0x01]);
    assert_eq!(bytes("PUSH4 0x01"), [0x63, 0, 0, 0, 1]);
    let mut expected = vec![0x7f];
    expected.extend([0; 31]);
    expected.push(42);
    assert_eq!(bytes("PUSH32 42"), expected);
}

#[test]
fn add_program_with_both_comment_styles() {
    let src = "
        PUSH1 0x02   ; a
        PUSH 3       // b
        ADD
        PUSH0 MSTORE ; several items per line
        PUSH 32 PUSH 0 RETURN
    ";
    assert_eq!(bytes(src), [0x60, 0x02, 0x60, 0x03, 0x01, 0x5f, 0x52, 0x60, 0x20, 0x60, 0x00, 0xf3]);
}

#[test]
fn labels_resolve_forward_and_backward_with_fixed_width() {
    let src = "
        PUSH @end JUMP    ; 0: PUSH2 0x0007, 3: JUMP
        back:             ; 4
        STOP              ; 5
        .bytes 0xfe       ; 6
        end:              ; 7
        PUSH @back JUMP   ; 8: PUSH2 0x0004, 11: JUMP
    ";
    assert_eq!(bytes(src), [0x61, 0x00, 0x07, 0x56, 0x5b, 0x00, 0xfe, 0x5b, 0x61, 0x00, 0x04, 0x56]);
}

#[test]
fn explicit_width_label_push() {
    assert_eq!(bytes("x: PUSH1 @x JUMP"), [0x5b, 0x60, 0x00, 0x56]);
    assert_eq!(bytes("PUSH4 @x x:"), [0x63, 0, 0, 0, 5, 0x5b]);
}

#[test]
fn mark_binds_an_offset_without_a_jumpdest() {
    let src = "PUSH @data STOP .mark data .bytes 0xc0ffee";
    assert_eq!(bytes(src), [0x61, 0x00, 0x04, 0x00, 0xc0, 0xff, 0xee]);
}

#[test]
fn raw_bytes_accept_several_operands_and_no_prefix() {
    assert_eq!(bytes(".bytes 0xdeadbeef 00ff"), [0xde, 0xad, 0xbe, 0xef, 0x00, 0xff]);
}

#[test]
fn every_named_opcode_round_trips() {
    use revm::bytecode::opcode::OPCODE_INFO;
    for (byte, info) in OPCODE_INFO.iter().enumerate() {
        let Some(info) = info else { continue };
        let src = match info.immediate_size() {
            0 => info.name().to_owned(),
            _ => format!("{} 1", info.name()),
        };
        let code = bytes(&src);
        assert_eq!(code[0] as usize, byte, "{src}");
        assert_eq!(code.len(), 1 + info.immediate_size() as usize, "{src}");
    }
}

#[test]
fn aliases_and_immediate_opcodes() {
    assert_eq!(bytes("SHA3 prevrandao keccak256"), [0x20, 0x44, 0x20]);
    assert_eq!(bytes("DUPN 0x10 SWAPN 3 EXCHANGE 0x12"), [0xe6, 0x10, 0xe7, 0x03, 0xe8, 0x12]);
}

#[test]
fn errors_name_the_line() {
    let e = error("ADD\n\n  FROB 1");
    assert_eq!(e.line, 3);
    assert_eq!(e.kind, AsmErrorKind::UnknownMnemonic("FROB".into()));
    assert!(e.to_string().starts_with("line 3:"), "{e}");
}

#[test]
fn operand_errors() {
    assert_eq!(error("PUSH").kind, AsmErrorKind::MissingOperand("PUSH".into()));
    assert_eq!(error("ADD\nPUSH2").kind, AsmErrorKind::MissingOperand("PUSH2".into()));
    assert_eq!(error("PUSH 0xzz").kind, AsmErrorKind::BadNumber("0xzz".into()));
    assert_eq!(error("PUSH 12a").kind, AsmErrorKind::BadNumber("12a".into()));
    let too_big = format!("PUSH 0x1{}", "00".repeat(32));
    assert!(matches!(error(&too_big).kind, AsmErrorKind::NumberTooLarge(_)));
    assert_eq!(error("PUSH1 256").kind, AsmErrorKind::ValueTooWide { value: "256".into(), width: 1 });
    assert!(matches!(error("DUPN 256").kind, AsmErrorKind::ValueTooWide { width: 1, .. }));
    assert_eq!(error("x: DUPN @x").kind, AsmErrorKind::LabelNotAllowed("DUPN".into()));
    assert_eq!(error(".bytes 0xabc").kind, AsmErrorKind::BadHex("0xabc".into()));
    assert_eq!(error(".bytes").kind, AsmErrorKind::MissingOperand(".bytes".into()));
    assert_eq!(error(".word 1").kind, AsmErrorKind::UnknownDirective(".word".into()));
}

#[test]
fn label_errors() {
    let e = error("a:\nSTOP\na:");
    assert_eq!(e.line, 3);
    assert_eq!(e.kind, AsmErrorKind::DuplicateLabel { name: "a".into(), first_line: 1 });

    let e = error("STOP\nPUSH @nowhere JUMP");
    assert_eq!(e.line, 2);
    assert_eq!(e.kind, AsmErrorKind::UndefinedLabel("nowhere".into()));

    assert_eq!(error("1abc:").kind, AsmErrorKind::BadLabelName("1abc".into()));
    assert_eq!(error("PUSH @").kind, AsmErrorKind::BadLabelName("".into()));

    // A label past 255 does not fit an explicit PUSH1.
    let src = format!(".bytes {}\nfar:\nPUSH1 @far", "00".repeat(300));
    let e = error(&src);
    assert_eq!(e.line, 3);
    assert!(matches!(e.kind, AsmErrorKind::ValueTooWide { width: 1, .. }), "{e}");
}
