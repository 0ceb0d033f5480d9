//! The compiler as a component: any input is safe, code lifetime, and no leaks.

use revm::bytecode::opcode::{self as op, OpCode};
use revm::primitives::hardfork::SpecId;
use revm_jit::{CompileError, Compiler, CompilerConfig, OptLevel};

fn compiler() -> Compiler {
    Compiler::new(CompilerConfig::default()).expect("native target")
}

#[test]
fn empty_code_is_refused_with_a_typed_error() {
    assert!(matches!(compiler().compile(&[], SpecId::CANCUN), Err(CompileError::EmptyCode)));
}

#[test]
fn forks_after_osaka_are_refused() {
    let err = compiler().compile(&[0x00], SpecId::AMSTERDAM).unwrap_err();
    assert!(matches!(err, CompileError::UnsupportedSpec(SpecId::AMSTERDAM)), "{err}");
}

/// Every byte string compiles: random bytes, all-PUSH tails, every single opcode, jump soup.
#[test]
fn arbitrary_bytes_compile() {
    let mut c = compiler();
    let mut seed = 0x1234_5678_u64;
    let mut next = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    for op in 0..=255u8 {
        for spec in [SpecId::FRONTIER, SpecId::BYZANTIUM, SpecId::CANCUN, SpecId::OSAKA] {
            c.compile(&[op], spec).unwrap_or_else(|e| panic!("opcode {op:#x} at {spec:?}: {e}"));
        }
    }
    for len in [1usize, 2, 33, 100, 1000, 5000] {
        let code: Vec<u8> = (0..len).map(|_| next() as u8).collect();
        c.compile(&code, SpecId::OSAKA).unwrap_or_else(|e| panic!("random code of {len} bytes: {e}"));
    }
    // Only jumps and jump destinations.
    let soup: Vec<u8> = (0..2000).map(|i| [0x5b, 0x56, 0x57, 0x60][i % 4]).collect();
    c.compile(&soup, SpecId::OSAKA).unwrap();
}

#[test]
fn every_opt_level_compiles() {
    for level in OptLevel::ALL {
        let mut c = Compiler::new(CompilerConfig { opt_level: level, ..Default::default() }).unwrap();
        c.compile(&[0x60, 0x01, 0x60, 0x02, 0x01, 0x00], SpecId::CANCUN).unwrap();
    }
}

/// Native code is `nounwind` at every level, so LLVM emits no unwind tables for it: nothing
/// unwinds through it (builtins contain panics), and an `.eh_frame` per contract would be
/// registered with libgcc's unwinder, a list that freeing any contract's code walks in full.
#[test]
fn native_code_is_nounwind_at_every_level() {
    for level in OptLevel::ALL {
        let dir = tempfile::tempdir().unwrap();
        let config =
            CompilerConfig { opt_level: level, dump_ir_dir: Some(dir.path().to_path_buf()), ..Default::default() };
        let mut c = Compiler::new(config).unwrap();
        // A loop with a call into revm (SSTORE) and an arithmetic builtin (DIV).
        let code = [0x5b, 0x60, 0x01, 0x60, 0x07, 0x04, 0x60, 0x00, 0x55, 0x60, 0x00, 0x35, 0x60, 0x00, 0x57, 0x00];
        c.compile(&code, SpecId::CANCUN).unwrap();
        let ir: String = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|entry| std::fs::read_to_string(entry.unwrap().path()).unwrap())
            .collect();
        let defines: Vec<&str> = ir.lines().filter(|line| line.starts_with("define")).collect();
        assert!(!defines.is_empty(), "{level:?}: no function defined:\n{ir}");
        for define in defines {
            let group =
                define.rsplit(['#', ' ']).find(|part| !part.is_empty() && part.chars().all(|c| c.is_ascii_digit()));
            let group = group.unwrap_or_else(|| panic!("{level:?}: no attribute group on `{define}`"));
            let attributes = ir
                .lines()
                .find(|line| line.starts_with(&format!("attributes #{group} = ")))
                .unwrap_or_else(|| panic!("{level:?}: attribute group #{group} is not defined"));
            assert!(attributes.contains("nounwind"), "{level:?}: `{define}` has {attributes}");
        }
    }
}

/// Limb code (the baseline tier) holds no `i256` value or operation: any would send its
/// block to LLVM's slow instruction selector, which is what limb code exists to avoid. Checked
/// on the IR of a program with every opcode of Osaka, each after pushes of its operands.
#[test]
fn baseline_code_has_no_wide_words() {
    let dir = tempfile::tempdir().unwrap();
    let config = CompilerConfig {
        opt_level: OptLevel::Baseline,
        dump_ir_dir: Some(dir.path().to_path_buf()),
        ..Default::default()
    };
    let mut c = Compiler::new(config).unwrap();
    let mut code = Vec::new();
    // A dynamic jump to any of the blocks that follow, one per opcode Osaka defines (but the
    // pushes and those that end the frame or jump away, and a block that can only fail is
    // not compiled at all): a JUMPDEST, seventeen operands (DUP16 and SWAP16 read 17), the
    // opcode, STOP.
    code.extend([op::PUSH1, 0x01, op::PUSH1, 0x00, op::CALLDATALOAD, op::JUMPI]);
    code.extend([op::PUSH1, 0x00, op::CALLDATALOAD, op::JUMP]);
    let ends = [op::STOP, op::RETURN, op::REVERT, op::INVALID, op::SELFDESTRUCT, op::JUMP];
    for opcode in 0..=255u8 {
        let is_push = (op::PUSH1..=op::PUSH32).contains(&opcode);
        if is_push || ends.contains(&opcode) || OpCode::new(opcode).is_none() {
            continue;
        }
        code.push(op::JUMPDEST);
        for _ in 0..17 {
            code.extend([op::PUSH1, 0x20]);
        }
        code.extend([opcode, op::STOP]);
    }
    c.compile(&code, SpecId::OSAKA).unwrap();
    let ir: String = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|entry| std::fs::read_to_string(entry.unwrap().path()).unwrap())
        .collect();
    assert!(ir.contains("define"), "no IR was written");
    // Each of the 15 opcodes limb code computes in an arithmetic builtin (MUL, the divisions,
    // the shifts, ...) has its call: the blocks were compiled, not handed to the interpreter.
    let builtin_calls = ir.matches("call void").count();
    assert!(builtin_calls >= 15, "{builtin_calls} builtin calls: the blocks were not compiled");
    // Addresses of stack slots step in words (`getelementptr i256`): address arithmetic,
    // which the fast selector takes; no value may be a word.
    let wide: Vec<&str> =
        ir.lines().filter(|line| line.replace("getelementptr i256,", "").contains("i256")).take(5).collect();
    assert!(wide.is_empty(), "limb code uses i256 values: {wide:#?}");
}

/// Machine code lives exactly as long as its last `CompiledFn` clone.
#[test]
fn compiled_code_is_shared_until_the_last_clone_drops() {
    let f = compiler().compile(&[0x00], SpecId::CANCUN).unwrap();
    let g = f.clone();
    assert_eq!(f.code_refs(), 2);
    drop(f);
    assert_eq!(g.code_refs(), 1);
}

/// Compiled code accepts exactly the bytes it was compiled from, in any buffer; a buffer it
/// accepted before is remembered, and that never lets other bytes through.
#[test]
fn compiled_code_accepts_only_its_own_bytes_in_any_buffer() {
    use revm::primitives::Bytes;
    let code = [0x60, 0x01, 0x60, 0x02, 0x01, 0x00];
    let f = compiler().compile(&code, SpecId::CANCUN).unwrap();
    let same = Bytes::copy_from_slice(&code);
    let other = Bytes::copy_from_slice(&[0x60, 0x01, 0x60, 0x03, 0x01, 0x00]);
    let shorter = Bytes::copy_from_slice(&code[..5]);
    for round in 0..3 {
        assert!(f.is_compiled_from_bytes(&same), "round {round}: the same bytes");
        assert!(f.is_compiled_from_bytes(&Bytes::copy_from_slice(&code)), "round {round}: a new buffer");
        assert!(!f.is_compiled_from_bytes(&other), "round {round}: other bytes of the same length");
        assert!(!f.is_compiled_from_bytes(&shorter), "round {round}: a prefix");
        assert!(!f.is_compiled_from_bytes(&same.slice(..5)), "round {round}: a prefix of an accepted buffer");
    }
}

/// Resident memory stays flat over many compilations with one reused compiler: 2,000 by
/// default, `REVM_JIT_LEAK_COMPILES=10000` for the full check.
#[test]
fn memory_stays_flat_over_many_compilations() {
    fn rss_kib() -> u64 {
        let status = std::fs::read_to_string("/proc/self/status").unwrap();
        let line = status.lines().find(|l| l.starts_with("VmRSS:")).unwrap();
        line.split_whitespace().nth(1).unwrap().parse().unwrap()
    }
    let mut c = compiler();
    // A loop with arithmetic, memory and storage, so each module has real content.
    let code =
        revm::primitives::hex::decode("600a5b8015601b57806000526000515460019003806001556002565b60005260206000f3")
            .unwrap();
    for _ in 0..500 {
        drop(c.compile(&code, SpecId::CANCUN).unwrap());
    }
    let count: u64 = std::env::var("REVM_JIT_LEAK_COMPILES").ok().and_then(|v| v.parse().ok()).unwrap_or(2_000);
    let warm = rss_kib();
    for _ in 0..count {
        drop(c.compile(&code, SpecId::CANCUN).unwrap());
    }
    let after = rss_kib();
    let growth = after.saturating_sub(warm);
    eprintln!("RSS after warm-up {warm} KiB, after {count} more compilations {after} KiB");
    // A leak of even one page per compilation would add at least 8 MiB.
    assert!(growth < 4 * 1024, "RSS grew by {growth} KiB over {count} compilations");
}
