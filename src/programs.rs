//! The embedded default benchmark set: small hand-written programs, in the
//! [`asm`](crate::asm) syntax, that each stress one kind of work.
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
        let assemble = |name: &str, src: &str| {
            asm::assemble(src).unwrap_or_else(|e| panic!("embedded program `{name}`: {e}"))
        };
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
        Case::call(
            self.name,
            spec,
            self.pre.clone(),
            DEFAULT_TARGET,
            self.calldata.clone(),
            self.gas_limit,
        )
    }
}

/// Every embedded program, in report order.
pub fn all() -> Vec<Program> {
    vec![
        fibonacci(),
        factorial(),
        keccak(),
        memory_copy(),
        mcopy(),
        storage(),
        call(),
    ]
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
    Program::new(
        "fibonacci",
        "fib(n) mod 2^256 in a loop: ADD and stack shuffles",
        src.into(),
        100_000,
        &[],
        &[],
    )
}

/// Factorial mod 2²⁵⁶ with `MUL` in a loop, plus the sum of every partial factorial
/// (n! itself is 0 mod 2²⁵⁶ for n ≥ 58; the sum keeps the output sensitive to every
/// step).
pub fn factorial() -> Program {
    let src = "
        ; returns [n! mod 2^256, sum of k! for k = 1..n mod 2^256]; stack: n i f s
        PUSH 0 CALLDATALOAD
        PUSH 1 PUSH 1 PUSH 0
        loop:
            DUP4 DUP4 GT PUSH @done JUMPI   ; i > n?
            SWAP1 DUP3 MUL                  ; n i s f*i
            SWAP1 DUP2 ADD                  ; n i f' s+f'
            SWAP2 PUSH 1 ADD SWAP2          ; n i+1 f' s'
            PUSH @loop JUMP
        done:
            PUSH 32 MSTORE
            PUSH 0 MSTORE
            PUSH 64 PUSH 0 RETURN
    ";
    Program::new(
        "factorial",
        "n! mod 2^256 and the running sum of partial factorials: MUL in a loop",
        src.into(),
        80_000,
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
    Program::new(
        "keccak",
        "hash chain: KECCAK256 over 64 bytes of memory",
        src.into(),
        10_000,
        &[],
        &[],
    )
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
    Program::new(
        "memory_copy",
        "MLOAD/MSTORE word loop between two 1 KiB buffers",
        src.into(),
        1_000,
        &[],
        &[],
    )
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
        ..Program::new(
            "mcopy",
            "MCOPY of 4 KiB regions (Cancun and later)",
            src.into(),
            20_000,
            &[],
            &[],
        )
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
    let storage: Vec<(U256, U256)> = (0..8u64)
        .map(|slot| (U256::from(slot), U256::from(slot * 1000 + 1)))
        .collect();
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
    Program::new(
        "call",
        "CALL to a second contract in a loop",
        src,
        10_000,
        &[],
        &[(CALLEE, callee.into())],
    )
}
