//! The embedded default benchmark set: small hand-written programs, in the
//! [`asm`](mod@crate::asm) syntax, that each stress one kind of work.
//!
//! Every program takes its iteration count as the first calldata word, returns a
//! result computed from every iteration (so comparing outputs between modes checks
//! the whole run, not just the last step), and is expected to succeed. Iteration
//! counts are chosen so one run takes a few milliseconds in revm's interpreter in a
//! release build.
//!
//! `revm-jit bench` runs these when no `--fixtures` directory is given, and the
//! criterion bench (`cargo bench`) runs them too.

use crate::{
    asm,
    bench::Status,
    fixture::{self, Case, DEFAULT_CALLER, DEFAULT_TARGET},
};
use revm::{
    context_interface::result::SuccessReason,
    database::{CacheDB, EmptyDB},
    primitives::{Address, Bytes, U256, hardfork::SpecId},
};

/// The address of the second contract of the `call` program.
pub const CALLEE: Address = Address::repeat_byte(0xee);

/// Gas limit of every program's transaction: far above what any of them uses.
pub const GAS_LIMIT: u64 = 1_000_000_000;

/// One benchmark program: code, input, pre-state and the status it must end with.
#[derive(Clone, Debug)]
pub struct Program {
    /// Short name, used as the row name in reports and as the criterion group name.
    pub name: &'static str,
    /// One line on what the program exercises.
    pub description: &'static str,
    /// The assembly source of the called contract.
    pub source: String,
    /// The assembled code of the called contract (deployed at [`DEFAULT_TARGET`]).
    pub code: Bytes,
    /// Transaction calldata: the iteration count as one 32-byte word.
    pub calldata: Bytes,
    /// Pre-state: the funded caller, the called contract with any initial storage, and
    /// any other contract it uses.
    pub pre: CacheDB<EmptyDB>,
    /// Transaction gas limit.
    pub gas_limit: u64,
    /// The status a correct execution ends with.
    pub expected: Status,
    /// The first hard fork with every opcode the program uses.
    pub min_spec: SpecId,
}

impl Program {
    /// Builds a program whose called contract is `source` (assembled here), with the
    /// iteration count `iterations`, initial `storage` of the called contract and
    /// `others` contracts (address, assembly) in the pre-state.
    ///
    /// # Panics
    ///
    /// If an embedded source does not assemble: that is a bug in this module, caught by
    /// its tests.
    fn new(
        name: &'static str,
        description: &'static str,
        source: String,
        iterations: u64,
        storage: &[(U256, U256)],
        others: &[(Address, String)],
    ) -> Self {
        let assemble =
            |name: &str, src: &str| asm::assemble(src).unwrap_or_else(|e| panic!("embedded program `{name}`: {e}"));
        let code = assemble(name, &source);
        let mut pre = CacheDB::new(EmptyDB::default());
        fixture::fund(&mut pre, DEFAULT_CALLER);
        fixture::deploy(&mut pre, DEFAULT_TARGET, code.clone(), storage);
        for (address, src) in others {
            fixture::deploy(&mut pre, *address, assemble(name, src), &[]);
        }
        Self {
            name,
            description,
            source,
            code,
            calldata: Bytes::from(U256::from(iterations).to_be_bytes::<32>()),
            pre,
            gas_limit: GAS_LIMIT,
            expected: Status::Success(SuccessReason::Return),
            min_spec: SpecId::FRONTIER,
        }
    }

    /// The program as a runnable [`Case`] under `spec`.
    pub fn case(&self, spec: SpecId) -> Case {
        Case::call(self.name, spec, self.pre.clone(), DEFAULT_TARGET, self.calldata.clone(), self.gas_limit)
    }
}

/// Every embedded program, in report order.
pub fn all() -> Vec<Program> {
    vec![fibonacci(), factorial(), keccak(), memory_copy(), mcopy(), storage(), call()]
}

/// Iterative Fibonacci mod 2²⁵⁶: stack shuffling and `ADD` in a tight loop.
pub fn fibonacci() -> Program {
    let src = "
        ; returns fib(n) mod 2^256; stack (top on the right): n a b
        PUSH 0 CALLDATALOAD
        PUSH 0 PUSH 1
        loop:
            DUP3 ISZERO PUSH @done JUMPI
            DUP1 SWAP2 ADD                  ; n b a+b
            SWAP2 PUSH 1 SWAP1 SUB SWAP2    ; n-1 b a+b
            PUSH @loop JUMP
        done:
            POP                             ; n a
            PUSH 0 MSTORE
            PUSH 32 PUSH 0 RETURN
    ";
    Program::new("fibonacci", "fib(n) mod 2^256 in a loop: ADD and stack shuffles", src.into(), 100_000, &[], &[])
}

/// Factorials mod 2²⁵⁶ with `MUL` in a loop: each round r computes r·100! step by
/// step and adds every partial product to a running sum (100! has only 97 factors of
/// two, so no product collapses to 0 mod 2²⁵⁶ and every step affects the output).
pub fn factorial() -> Program {
    let src = "
        ; for r = n..1: f = r; for i = 1..100: f *= i, s += f
        ; returns [f of the last round (100!), s]; stack: r s f i
        PUSH 0 CALLDATALOAD
        PUSH 0
        outer:
            DUP2 ISZERO PUSH @done JUMPI
            DUP2 PUSH 1                     ; r s f=r i=1
        inner:
            DUP1 PUSH 100 LT PUSH @next JUMPI   ; 100 < i?
            SWAP1 DUP2 MUL                  ; r s i f*i
            SWAP2 DUP3 ADD SWAP2            ; r s+f' i f'
            SWAP1 PUSH 1 ADD                ; r s' f' i+1
            PUSH @inner JUMP
        next:
            POP PUSH 0 MSTORE               ; mem[0..32] = f; stack r s
            SWAP1 PUSH 1 SWAP1 SUB SWAP1    ; r-1 s
            PUSH @outer JUMP
        done:
            PUSH 32 MSTORE
            PUSH 64 PUSH 0 RETURN
    ";
    Program::new(
        "factorial",
        "r * 100! mod 2^256 step by step and the sum of all partial products: MUL in a loop",
        src.into(),
        800,
        &[],
        &[],
    )
}

/// A hash chain: `KECCAK256` over 64 bytes of memory (previous hash, counter), repeatedly.
pub fn keccak() -> Program {
    let src = "
        ; h = keccak256(h || i) for i = n..1; returns h
        PUSH 0 CALLDATALOAD
        loop:
            DUP1 ISZERO PUSH @done JUMPI
            DUP1 PUSH 32 MSTORE             ; mem[32..64] = i
            PUSH 64 PUSH 0 KECCAK256        ; keccak256(mem[0..64])
            PUSH 0 MSTORE                   ; mem[0..32] = h
            PUSH 1 SWAP1 SUB
            PUSH @loop JUMP
        done:
            PUSH 32 PUSH 0 RETURN
    ";
    Program::new("keccak", "hash chain: KECCAK256 over 64 bytes of memory", src.into(), 10_000, &[], &[])
}

/// Word-by-word memory copying with `MLOAD`/`MSTORE` between two 1 KiB buffers, each
/// word adjusted on the way so every round changes the data.
pub fn memory_copy() -> Program {
    let src = "
        ; for r = n..1: dst[w] = src[w] + r + w for every word offset w < 1024, then swap
        ; buffers (0 and 1024); returns the last written buffer. stack: r src dst
        PUSH 0 CALLDATALOAD
        PUSH 0 PUSH 1024
        outer:
            DUP3 ISZERO PUSH @done JUMPI
            PUSH 0                          ; r src dst w
        inner:
            DUP1 PUSH 1024 EQ PUSH @swap JUMPI
            DUP1 DUP4 ADD MLOAD             ; r src dst w v
            DUP5 ADD DUP2 ADD               ; v + r + w
            DUP2 DUP4 ADD MSTORE            ; mem[dst + w] = v'
            PUSH 32 ADD
            PUSH @inner JUMP
        swap:
            POP SWAP1                       ; r dst src
            SWAP2 PUSH 1 SWAP1 SUB SWAP2    ; r-1 dst src
            PUSH @outer JUMP
        done:
            POP                             ; r src (the last written buffer)
            PUSH 1024 SWAP1 RETURN
    ";
    Program::new("memory_copy", "MLOAD/MSTORE word loop between two 1 KiB buffers", src.into(), 1_000, &[], &[])
}

/// `MCOPY` (Cancun) of 4 KiB regions: a rolling buffer shifted one word per round.
pub fn mcopy() -> Program {
    let src = "
        ; for r = n..1: copy mem[0..4096] to mem[4096..8192], copy it back shifted left by
        ; one word, append r; returns mem[0..4096] (the last 128 values of r)
        PUSH 0 CALLDATALOAD
        loop:
            DUP1 ISZERO PUSH @done JUMPI
            PUSH 4096 PUSH 0 PUSH 4096 MCOPY    ; mcopy(dst 4096, src 0, 4096)
            PUSH 4064 PUSH 4128 PUSH 0 MCOPY    ; mcopy(dst 0, src 4128, 4064)
            DUP1 PUSH 4064 MSTORE
            PUSH 1 SWAP1 SUB
            PUSH @loop JUMP
        done:
            PUSH 4096 PUSH 0 RETURN
    ";
    Program {
        min_spec: SpecId::CANCUN,
        ..Program::new("mcopy", "MCOPY of 4 KiB regions (Cancun and later)", src.into(), 20_000, &[], &[])
    }
}

/// `SLOAD`/`SSTORE` read-modify-write over eight slots (with non-zero initial values in
/// the pre-state), repeatedly.
pub fn storage() -> Program {
    let src = "
        ; for i = n..1, for s = 0..8: slot[s] += i + s; returns the sum of the slots
        PUSH 0 CALLDATALOAD
        outer:
            DUP1 ISZERO PUSH @done JUMPI
            PUSH 0                          ; i s
        inner:
            DUP1 PUSH 8 EQ PUSH @next JUMPI
            DUP1 SLOAD                      ; i s v
            DUP3 ADD DUP2 ADD               ; v + i + s
            DUP2 SSTORE
            PUSH 1 ADD
            PUSH @inner JUMP
        next:
            POP PUSH 1 SWAP1 SUB
            PUSH @outer JUMP
        done:
            PUSH 0 SLOAD ADD PUSH 1 SLOAD ADD PUSH 2 SLOAD ADD PUSH 3 SLOAD ADD
            PUSH 4 SLOAD ADD PUSH 5 SLOAD ADD PUSH 6 SLOAD ADD PUSH 7 SLOAD ADD
            PUSH 0 MSTORE
            PUSH 32 PUSH 0 RETURN
    ";
    let storage: Vec<(U256, U256)> = (0..8u64).map(|slot| (U256::from(slot), U256::from(slot * 1000 + 1))).collect();
    Program::new(
        "storage",
        "SLOAD/SSTORE read-modify-write over 8 pre-initialised slots",
        src.into(),
        3_000,
        &storage,
        &[],
    )
}

/// A contract that `CALL`s a second contract in a loop, passing and receiving a word.
pub fn call() -> Program {
    let callee = "
        ; returns 3 * calldata[0..32] + 1
        PUSH 0 CALLDATALOAD PUSH 3 MUL PUSH 1 ADD
        PUSH 0 MSTORE
        PUSH 32 PUSH 0 RETURN
    ";
    let src = format!(
        "
        ; acc = callee(acc) n times, reverting if a call fails; returns acc. stack: i acc
        PUSH 0 CALLDATALOAD
        PUSH 0
        loop:
            DUP2 ISZERO PUSH @done JUMPI
            PUSH 0 MSTORE                   ; mem[0..32] = acc
            ; call(gas, callee, value 0, args 0..32, ret 0..32)
            PUSH 32 PUSH 0 PUSH 32 PUSH 0 PUSH 0 PUSH {CALLEE} GAS CALL
            ISZERO PUSH @fail JUMPI
            PUSH 0 MLOAD                    ; i acc'
            SWAP1 PUSH 1 SWAP1 SUB SWAP1    ; i-1 acc'
            PUSH @loop JUMP
        fail:
            PUSH 0 PUSH 0 REVERT
        done:
            PUSH 0 MSTORE
            PUSH 32 PUSH 0 RETURN
    "
    );
    Program {
        // Forwarding `GAS` to a call needs EIP-150's 63/64 rule.
        min_spec: SpecId::TANGERINE,
        ..Program::new("call", "CALL to a second contract in a loop", src, 10_000, &[], &[(CALLEE, callee.into())])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{
        bench::Outcome,
        exec::{Executor, Mode},
    };
    use revm::primitives::{B256, keccak256};

    /// Runs `program` with `n` iterations in the interpreter.
    fn run(program: &Program, n: u64) -> Outcome {
        let mut program = program.clone();
        program.calldata = Bytes::from(U256::from(n).to_be_bytes::<32>());
        let case = program.case(fixture::DEFAULT_SPEC);
        let result = Executor::new(Mode::Interp).transact(case.context(), case.tx()).expect("transaction is valid");
        let outcome = Outcome::new(&result);
        assert_eq!(outcome.status, program.expected, "{}: {outcome:?}", program.name);
        outcome
    }

    fn words(output: &Bytes) -> Vec<U256> {
        assert_eq!(output.len() % 32, 0);
        output.chunks(32).map(U256::from_be_slice).collect()
    }

    #[test]
    fn every_program_succeeds_at_its_default_size() {
        for program in all() {
            let case = program.case(fixture::DEFAULT_SPEC);
            let result = Executor::new(Mode::Interp).transact(case.context(), case.tx()).unwrap();
            let outcome = Outcome::new(&result);
            assert_eq!(outcome.status, program.expected, "{}", program.name);
            assert!(!outcome.output.is_empty(), "{} returns something", program.name);
            assert!(outcome.gas_used < program.gas_limit / 10, "{} has gas headroom", program.name);
        }
    }

    #[test]
    fn fibonacci_output() {
        let (mut a, mut b) = (U256::ZERO, U256::ONE);
        for _ in 0..500 {
            (a, b) = (b, a.wrapping_add(b));
        }
        assert_eq!(words(&run(&fibonacci(), 500).output), [a]);
        assert_eq!(words(&run(&fibonacci(), 10).output), [U256::from(55)]);
    }

    #[test]
    fn factorial_output() {
        let expected = |rounds: u64| {
            let (mut f, mut s) = (U256::ZERO, U256::ZERO);
            for r in (1..=rounds).rev() {
                f = U256::from(r);
                for i in 1..=100u64 {
                    f = f.wrapping_mul(U256::from(i));
                    s = s.wrapping_add(f);
                }
            }
            vec![f, s]
        };
        assert_eq!(words(&run(&factorial(), 30).output), expected(30));
        assert_ne!(expected(1)[0], U256::ZERO, "100! is not 0 mod 2^256");
        assert_eq!(words(&run(&factorial(), 1).output), expected(1));
        assert_eq!(words(&run(&factorial(), 0).output), [U256::ZERO, U256::ZERO]);
    }

    #[test]
    fn keccak_output() {
        let mut h = B256::ZERO;
        for i in (1..=50u64).rev() {
            let mut buf = [0u8; 64];
            buf[..32].copy_from_slice(h.as_slice());
            buf[32..].copy_from_slice(&U256::from(i).to_be_bytes::<32>());
            h = keccak256(buf);
        }
        assert_eq!(run(&keccak(), 50).output.as_ref(), h.as_slice());
    }

    #[test]
    fn memory_copy_output() {
        let (mut src, mut dst) = (vec![U256::ZERO; 32], vec![U256::ZERO; 32]);
        for r in (1..=7u64).rev() {
            for w in 0..32 {
                dst[w] = src[w] + U256::from(r) + U256::from(w * 32);
            }
            std::mem::swap(&mut src, &mut dst);
        }
        assert_eq!(words(&run(&memory_copy(), 7).output), src);
    }

    #[test]
    fn mcopy_output() {
        let mut buf = vec![U256::ZERO; 128];
        for r in (1..=200u64).rev() {
            buf.remove(0);
            buf.push(U256::from(r));
        }
        assert_eq!(words(&run(&mcopy(), 200).output), buf);
    }

    #[test]
    fn storage_output() {
        let mut slots: Vec<U256> = (0..8u64).map(|s| U256::from(s * 1000 + 1)).collect();
        for i in (1..=20u64).rev() {
            for (s, slot) in slots.iter_mut().enumerate() {
                *slot += U256::from(i) + U256::from(s);
            }
        }
        let sum = slots.iter().fold(U256::ZERO, |a, b| a + b);
        assert_eq!(words(&run(&storage(), 20).output), [sum]);
    }

    #[test]
    fn call_output() {
        let mut acc = U256::ZERO;
        for _ in 0..300 {
            acc = acc.wrapping_mul(U256::from(3)).wrapping_add(U256::ONE);
        }
        assert_eq!(words(&run(&call(), 300).output), [acc]);
    }
}
