//! The identity of the machine code target, computed without LLVM.
//!
//! Compiled code is specialised for the host CPU (LLVM's host CPU name and features), so an
//! artifact built on one machine may use instructions another lacks. The store therefore
//! records a target id and serves an artifact only to a build with the same one. A build
//! without the `llvm` feature must compute the same id as a build with it on the same machine
//! (it loads that build's artifacts), so the id is not asked of LLVM: it is derived from what
//! LLVM derives its host CPU and features from. On x86-64 that is the CPUID leaves LLVM reads
//! (vendor, family, model and stepping, and every feature word) and the register state the OS
//! enables (XCR0); any difference in LLVM's choice implies a difference there. Elsewhere it is
//! the CPU identity the kernel reports.

use revm::primitives::keccak256;

/// The compiler's identity as recorded in artifacts: code from another version may differ
/// (codegen changes do not always change the ABI), so stores refuse it.
pub const COMPILER_VERSION: &str = concat!(env!("CARGO_PKG_NAME"), " ", env!("CARGO_PKG_VERSION"), " (LLVM 22)");

/// A string naming the machine code target of this machine: `<arch>-<os>-<env>/<cpu>`, where
/// `<cpu>` is a short hash of the CPU's identity and instruction-set features (see the module
/// documentation). The same on every build of this crate, with or without LLVM, on the same
/// machine.
pub fn target_id() -> String {
    let platform = format!("{}-{}-{}", std::env::consts::ARCH, std::env::consts::OS, target_env());
    let cpu = keccak256(cpu_identity());
    format!("{platform}/{}", &cpu.to_string()[2..18])
}

fn target_env() -> &'static str {
    if cfg!(target_env = "gnu") {
        "gnu"
    } else if cfg!(target_env = "musl") {
        "musl"
    } else if cfg!(target_env = "msvc") {
        "msvc"
    } else {
        "none"
    }
}

/// The bytes the CPU part of the id is a hash of.
#[cfg(target_arch = "x86_64")]
fn cpu_identity() -> Vec<u8> {
    use std::arch::x86_64::{__cpuid, __cpuid_count};
    let mut bytes = Vec::new();
    let mut push = |r: std::arch::x86_64::CpuidResult| {
        for word in [r.eax, r.ebx, r.ecx, r.edx] {
            bytes.extend_from_slice(&word.to_le_bytes());
        }
    };
    // Leaf 0: highest leaf and vendor; 1: family, model, stepping and feature words (EBX's
    // APIC id and logical-processor count vary by core and are masked out); 7 (subleaves 0
    // and 1), 0xD subleaf 1, 0x19 and 0x24: the extended feature words; 0x8000_0001 and
    // 0x8000_0008: AMD's extensions.
    let basic = __cpuid(0);
    push(basic);
    if basic.eax >= 1 {
        let mut leaf1 = __cpuid(1);
        leaf1.ebx &= 0x0000_ffff;
        push(leaf1);
    }
    if basic.eax >= 7 {
        push(__cpuid_count(7, 0));
        push(__cpuid_count(7, 1));
    }
    for leaf in [0xd, 0x19, 0x24] {
        if basic.eax >= leaf {
            push(__cpuid_count(leaf, u32::from(leaf == 0xd)));
        }
    }
    let extended = __cpuid(0x8000_0000);
    for leaf in [0x8000_0001, 0x8000_0008] {
        if extended.eax >= leaf {
            push(__cpuid(leaf));
        }
    }
    bytes.extend_from_slice(&enabled_register_state().to_le_bytes());
    bytes
}

/// XCR0: which register files (AVX, AVX-512, ...) the OS saves and so lets code use; 0 when
/// the OS does not enable XSAVE.
#[cfg(target_arch = "x86_64")]
fn enabled_register_state() -> u64 {
    const OSXSAVE: u32 = 1 << 27;
    if std::arch::x86_64::__cpuid(1).ecx & OSXSAVE == 0 {
        return 0;
    }
    /// Reads XCR0.
    #[target_feature(enable = "xsave")]
    fn xgetbv0() -> u64 {
        // SAFETY: XGETBV with ECX = 0 reads XCR0, which every CPU with OSXSAVE set (checked
        // by the caller) allows at any privilege level; it has no side effects.
        unsafe { std::arch::x86_64::_xgetbv(0) }
    }
    // SAFETY: OSXSAVE set means the CPU supports XSAVE and the OS enabled it, which is what
    // `xgetbv0`'s `xsave` target feature requires.
    unsafe { xgetbv0() }
}

/// The bytes the CPU part of the id is a hash of: the lines of `/proc/cpuinfo` that describe
/// the CPU model and features (what LLVM reads on these platforms), without per-core values.
#[cfg(not(target_arch = "x86_64"))]
fn cpu_identity() -> Vec<u8> {
    const FIELDS: [&str; 9] = [
        "features",
        "cpu implementer",
        "cpu architecture",
        "cpu variant",
        "cpu part",
        "cpu revision",
        "isa",
        "uarch",
        "model name",
    ];
    let text = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let mut lines: Vec<&str> = text
        .lines()
        .filter(|line| {
            let key = line.split(':').next().unwrap_or_default().trim().to_ascii_lowercase();
            FIELDS.contains(&key.as_str())
        })
        .collect();
    lines.sort_unstable();
    lines.dedup();
    lines.join("\n").into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn target_id_is_stable_and_names_the_platform() {
        let id = target_id();
        assert_eq!(id, target_id());
        assert!(id.starts_with(std::env::consts::ARCH), "{id}");
        assert_eq!(id.rsplit('/').next().map(str::len), Some(16), "{id}");
    }
}
