//! The check a stored library's bytes must pass before they are handed to the dynamic loader.
//!
//! `dlopen` runs code before it returns: initialisers and finalisers (`DT_INIT`,
//! `DT_INIT_ARRAY`, `DT_PREINIT_ARRAY`, `DT_FINI`, `DT_FINI_ARRAY`), IFUNC resolvers (called
//! while relocating), the constructors of every library named by `DT_NEEDED`, and audit or
//! filter libraries. Once a library is mapped it is too late to look, so this module reads the
//! ELF image itself, as the loader will, and accepts only what this crate's AOT link produces:
//! a little-endian ELF64 shared object for this machine whose dynamic section holds nothing
//! but symbol, string, hash, relocation and version tables, whose relocations are of the plain
//! kinds (relative, absolute, GOT and PLT slots), whose symbols include no IFUNC or
//! `STB_GNU_UNIQUE` symbol, and whose stack is not executable. Everything else is refused with
//! an [`ElfProblem`] naming what was found.
//!
//! The parser trusts nothing it reads: every offset and size is checked against the image
//! before use, so malformed input is refused, never a panic.

use std::ops::Range;

/// Why a library's bytes are refused before loading. Each variant names one thing the loader
/// would have done that this crate's own libraries never need.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ElfProblem {
    /// The bytes are not a little-endian ELF64 image, or a table lies outside them.
    #[error("not a well-formed ELF64 little-endian image: {0}")]
    Malformed(&'static str),
    /// An ELF file for another machine (`e_machine`).
    #[error("built for ELF machine {found}, this build runs on {expected}")]
    Machine {
        /// This build's machine.
        expected: u16,
        /// The image's machine.
        found: u16,
    },
    /// Not a shared object (`e_type` is not `ET_DYN`).
    #[error("not a shared object (ELF type {0})")]
    NotSharedObject(u16),
    /// A program header of a kind the AOT link never produces (`PT_INTERP`, `PT_TLS`, ...).
    #[error("unexpected program header type {0:#x}")]
    Segment(u32),
    /// The library asks for an executable stack (or does not say, which means the same): the
    /// loader would make every thread's stack executable.
    #[error("the library asks for an executable stack")]
    ExecutableStack,
    /// A loadable segment both writable and executable.
    #[error("a loadable segment is both writable and executable")]
    WritableCode,
    /// Code the loader would run while loading or unloading the library.
    #[error("the library has {0} (code run by the loader)")]
    LoaderCode(LoaderCode),
    /// Text relocations (`DT_TEXTREL` or `DF_TEXTREL`): the loader would write to code.
    #[error("the library has text relocations")]
    TextRelocations,
    /// A dependency (`DT_NEEDED`): loading it would run its initialisers. Libraries of this
    /// crate depend on nothing.
    #[error("the library depends on {0:?}")]
    Needed(String),
    /// A dynamic tag this crate's libraries never carry (`DT_SONAME`, `DT_AUDIT`,
    /// `DT_FILTER`, `DT_RPATH`, ...).
    #[error("unexpected dynamic tag {0:#x}")]
    DynamicTag(u64),
    /// The library must never be unloaded (`DF_1_NODELETE`).
    #[error("the library asks never to be unloaded")]
    NoDelete,
    /// A symbol of type `STT_GNU_IFUNC`: its resolver would run during relocation.
    #[error("symbol {0:?} is an IFUNC (its resolver runs at load)")]
    Ifunc(String),
    /// A symbol bound `STB_GNU_UNIQUE`, which makes the library impossible to unload.
    #[error("symbol {0:?} is a unique global")]
    UniqueSymbol(String),
    /// A relocation of a kind this crate's libraries never need (IRELATIVE, TLS, COPY, ...).
    #[error("unexpected relocation type {0}")]
    Relocation(u32),
}

/// The kinds of code a loader runs on its own, named by their dynamic tags.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LoaderCode {
    /// `DT_INIT`.
    Init,
    /// `DT_INIT_ARRAY` with entries.
    InitArray,
    /// `DT_PREINIT_ARRAY` with entries.
    PreinitArray,
    /// `DT_FINI`.
    Fini,
    /// `DT_FINI_ARRAY` with entries.
    FiniArray,
}

impl std::fmt::Display for LoaderCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Init => "DT_INIT",
            Self::InitArray => "DT_INIT_ARRAY",
            Self::PreinitArray => "DT_PREINIT_ARRAY",
            Self::Fini => "DT_FINI",
            Self::FiniArray => "DT_FINI_ARRAY",
        })
    }
}

impl ElfProblem {
    /// A short stable label for counters and logs.
    pub fn reason(&self) -> &'static str {
        match self {
            Self::Malformed(_) => "elf-malformed",
            Self::Machine { .. } => "elf-machine",
            Self::NotSharedObject(_) => "elf-type",
            Self::Segment(_) => "elf-segment",
            Self::ExecutableStack => "elf-exec-stack",
            Self::WritableCode => "elf-writable-code",
            Self::LoaderCode(LoaderCode::Init) => "elf-init",
            Self::LoaderCode(LoaderCode::InitArray) => "elf-init-array",
            Self::LoaderCode(LoaderCode::PreinitArray) => "elf-preinit-array",
            Self::LoaderCode(LoaderCode::Fini) => "elf-fini",
            Self::LoaderCode(LoaderCode::FiniArray) => "elf-fini-array",
            Self::TextRelocations => "elf-textrel",
            Self::Needed(_) => "elf-needed",
            Self::DynamicTag(_) => "elf-dynamic-tag",
            Self::NoDelete => "elf-nodelete",
            Self::Ifunc(_) => "elf-ifunc",
            Self::UniqueSymbol(_) => "elf-unique-symbol",
            Self::Relocation(_) => "elf-relocation",
        }
    }
}

/// What a library that passed [`check`] exports: its defined functions with their sizes, so
/// that a contract's share of the library can be weighed.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct ElfSummary {
    /// Defined global functions: name and size in bytes.
    pub(crate) functions: Vec<(String, u64)>,
}

impl ElfSummary {
    /// The bytes of a `library_len`-byte library charged to the contract whose entry function
    /// is `symbol`: its function's size plus an equal part of everything that is not a
    /// function (headers, tables, constants). The shares of all functions add up to at most
    /// the library's length, so a library holding many contracts is not counted once per
    /// contract.
    pub(crate) fn share(&self, symbol: &str, library_len: u64) -> u64 {
        let count = self.functions.len().max(1) as u64;
        let code: u64 = self.functions.iter().map(|(_, size)| *size).sum();
        let rest = library_len.saturating_sub(code) / count;
        let own = self.functions.iter().find(|(name, _)| name == symbol).map_or(0, |(_, size)| *size);
        (own + rest).min(library_len)
    }
}

const PT_LOAD: u32 = 1;
const PT_DYNAMIC: u32 = 2;
const PT_NOTE: u32 = 4;
const PT_PHDR: u32 = 6;
const PT_GNU_EH_FRAME: u32 = 0x6474_e550;
const PT_GNU_STACK: u32 = 0x6474_e551;
const PT_GNU_RELRO: u32 = 0x6474_e552;
const PT_GNU_PROPERTY: u32 = 0x6474_e553;
const PF_X: u32 = 1;
const PF_W: u32 = 2;

const DT_NULL: u64 = 0;
const DT_NEEDED: u64 = 1;
const DT_PLTRELSZ: u64 = 2;
const DT_PLTGOT: u64 = 3;
const DT_HASH: u64 = 4;
const DT_STRTAB: u64 = 5;
const DT_SYMTAB: u64 = 6;
const DT_RELA: u64 = 7;
const DT_RELASZ: u64 = 8;
const DT_RELAENT: u64 = 9;
const DT_STRSZ: u64 = 10;
const DT_SYMENT: u64 = 11;
const DT_INIT: u64 = 12;
const DT_FINI: u64 = 13;
const DT_PLTREL: u64 = 20;
const DT_DEBUG: u64 = 21;
const DT_TEXTREL: u64 = 22;
const DT_JMPREL: u64 = 23;
const DT_BIND_NOW: u64 = 24;
const DT_INIT_ARRAY: u64 = 25;
const DT_FINI_ARRAY: u64 = 26;
const DT_INIT_ARRAYSZ: u64 = 27;
const DT_FINI_ARRAYSZ: u64 = 28;
const DT_FLAGS: u64 = 30;
const DT_PREINIT_ARRAY: u64 = 32;
const DT_PREINIT_ARRAYSZ: u64 = 33;
const DT_RELRSZ: u64 = 35;
const DT_RELR: u64 = 36;
const DT_RELRENT: u64 = 37;
const DT_GNU_HASH: u64 = 0x6fff_fef5;
const DT_VERSYM: u64 = 0x6fff_fff0;
const DT_RELACOUNT: u64 = 0x6fff_fff9;
const DT_FLAGS_1: u64 = 0x6fff_fffb;
const DT_VERDEF: u64 = 0x6fff_fffc;
const DT_VERDEFNUM: u64 = 0x6fff_fffd;
const DT_VERNEED: u64 = 0x6fff_fffe;
const DT_VERNEEDNUM: u64 = 0x6fff_ffff;
const DF_TEXTREL: u64 = 0x4;
const DF_1_NODELETE: u64 = 0x8;

/// Dynamic tags that only describe tables and run nothing; any other tag is refused.
const PLAIN_TAGS: &[u64] = &[
    DT_PLTRELSZ,
    DT_PLTGOT,
    DT_HASH,
    DT_STRTAB,
    DT_SYMTAB,
    DT_RELA,
    DT_RELASZ,
    DT_RELAENT,
    DT_STRSZ,
    DT_SYMENT,
    DT_PLTREL,
    DT_DEBUG,
    DT_JMPREL,
    DT_BIND_NOW,
    DT_FLAGS,
    DT_RELRSZ,
    DT_RELR,
    DT_RELRENT,
    DT_GNU_HASH,
    DT_VERSYM,
    DT_RELACOUNT,
    DT_FLAGS_1,
    DT_VERDEF,
    DT_VERDEFNUM,
    DT_VERNEED,
    DT_VERNEEDNUM,
];

const STT_FUNC: u8 = 2;
const STT_GNU_IFUNC: u8 = 10;
const STB_GLOBAL: u8 = 1;
const STB_WEAK: u8 = 2;
const STB_GNU_UNIQUE: u8 = 10;

/// This machine's `e_machine` and the relocation types its libraries may carry (none, the
/// absolute word, GOT and PLT slots, relative).
#[cfg(target_arch = "x86_64")]
const MACHINE: (u16, &[u32]) = (62, &[0, 1, 6, 7, 8]);
#[cfg(target_arch = "aarch64")]
const MACHINE: (u16, &[u32]) = (183, &[0, 257, 1025, 1026, 1027]);
#[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
const MACHINE: (u16, &[u32]) = (0, &[]);
/// This machine's relocation type that calls an IFUNC resolver.
#[cfg(target_arch = "aarch64")]
const IRELATIVE: u32 = 1032;
#[cfg(not(target_arch = "aarch64"))]
const IRELATIVE: u32 = 37;

/// Little-endian reads that fail instead of panicking.
struct Image<'a>(&'a [u8]);

impl Image<'_> {
    fn bytes(&self, range: Range<u64>, what: &'static str) -> Result<&[u8], ElfProblem> {
        let start = usize::try_from(range.start).map_err(|_| ElfProblem::Malformed(what))?;
        let end = usize::try_from(range.end).map_err(|_| ElfProblem::Malformed(what))?;
        self.0.get(start..end).ok_or(ElfProblem::Malformed(what))
    }

    fn u16(&self, at: u64) -> Result<u16, ElfProblem> {
        let b = self.bytes(at..at.saturating_add(2), "truncated")?;
        Ok(u16::from_le_bytes([b[0], b[1]]))
    }

    fn u32(&self, at: u64) -> Result<u32, ElfProblem> {
        let b = self.bytes(at..at.saturating_add(4), "truncated")?;
        Ok(u32::from_le_bytes(b.try_into().expect("four bytes")))
    }

    fn u64(&self, at: u64) -> Result<u64, ElfProblem> {
        let b = self.bytes(at..at.saturating_add(8), "truncated")?;
        Ok(u64::from_le_bytes(b.try_into().expect("eight bytes")))
    }
}

/// A loadable segment: where its file bytes appear in memory.
struct Load {
    vaddr: u64,
    offset: u64,
    filesz: u64,
}

/// Checks that loading `bytes` runs no code of theirs (see the module documentation).
pub(crate) fn check(bytes: &[u8]) -> Result<ElfSummary, ElfProblem> {
    let image = Image(bytes);
    if bytes.len() < 64 || bytes[..4] != *b"\x7fELF" {
        return Err(ElfProblem::Malformed("no ELF magic"));
    }
    if bytes[4] != 2 || bytes[5] != 1 || bytes[6] != 1 {
        return Err(ElfProblem::Malformed("not ELF64, little-endian, version 1"));
    }
    let e_type = image.u16(16)?;
    if e_type != 3 {
        return Err(ElfProblem::NotSharedObject(e_type));
    }
    let machine = image.u16(18)?;
    if machine != MACHINE.0 {
        return Err(ElfProblem::Machine { expected: MACHINE.0, found: machine });
    }
    let (phoff, phentsize, phnum) = (image.u64(32)?, u64::from(image.u16(54)?), u64::from(image.u16(56)?));
    if phentsize != 56 {
        return Err(ElfProblem::Malformed("program header size is not 56"));
    }
    let mut loads = Vec::new();
    let mut dynamic = None;
    let mut stack_checked = false;
    for i in 0..phnum {
        let at = phoff.checked_add(i * phentsize).ok_or(ElfProblem::Malformed("program headers"))?;
        let (p_type, flags) = (image.u32(at)?, image.u32(at + 4)?);
        let (offset, vaddr, filesz) = (image.u64(at + 8)?, image.u64(at + 16)?, image.u64(at + 32)?);
        match p_type {
            PT_LOAD => {
                if flags & PF_W != 0 && flags & PF_X != 0 {
                    return Err(ElfProblem::WritableCode);
                }
                image.bytes(offset..offset.saturating_add(filesz), "segment outside the file")?;
                loads.push(Load { vaddr, offset, filesz });
            }
            PT_DYNAMIC => {
                if dynamic.replace((offset, filesz)).is_some() {
                    return Err(ElfProblem::Malformed("two dynamic segments"));
                }
            }
            PT_GNU_STACK => {
                if flags & PF_X != 0 {
                    return Err(ElfProblem::ExecutableStack);
                }
                stack_checked = true;
            }
            PT_NOTE | PT_PHDR | PT_GNU_EH_FRAME | PT_GNU_RELRO | PT_GNU_PROPERTY => {}
            other => return Err(ElfProblem::Segment(other)),
        }
    }
    if !stack_checked {
        return Err(ElfProblem::ExecutableStack);
    }
    let (dyn_offset, dyn_size) = dynamic.ok_or(ElfProblem::Malformed("no dynamic segment"))?;
    let file_offset = |addr: u64, len: u64, what: &'static str| -> Result<Range<u64>, ElfProblem> {
        loads
            .iter()
            .find(|l| addr >= l.vaddr && addr.saturating_add(len) <= l.vaddr.saturating_add(l.filesz))
            .map(|l| {
                let start = addr - l.vaddr + l.offset;
                start..start + len
            })
            .ok_or(ElfProblem::Malformed(what))
    };

    let mut tags: Vec<(u64, u64)> = Vec::new();
    let mut at = dyn_offset;
    loop {
        if at.saturating_add(16) > dyn_offset.saturating_add(dyn_size) {
            return Err(ElfProblem::Malformed("dynamic section without DT_NULL"));
        }
        let (tag, value) = (image.u64(at)?, image.u64(at + 8)?);
        if tag == DT_NULL {
            break;
        }
        tags.push((tag, value));
        at += 16;
    }
    let find = |wanted: u64| tags.iter().find(|(tag, _)| *tag == wanted).map(|(_, value)| *value);
    for &(tag, value) in &tags {
        let array = |sz_tag: u64, kind: LoaderCode| match find(sz_tag) {
            Some(0) => Ok(()),
            _ => Err(ElfProblem::LoaderCode(kind)),
        };
        match tag {
            DT_INIT => return Err(ElfProblem::LoaderCode(LoaderCode::Init)),
            DT_FINI => return Err(ElfProblem::LoaderCode(LoaderCode::Fini)),
            DT_INIT_ARRAY => array(DT_INIT_ARRAYSZ, LoaderCode::InitArray)?,
            DT_FINI_ARRAY => array(DT_FINI_ARRAYSZ, LoaderCode::FiniArray)?,
            DT_PREINIT_ARRAY => array(DT_PREINIT_ARRAYSZ, LoaderCode::PreinitArray)?,
            DT_INIT_ARRAYSZ if value != 0 => return Err(ElfProblem::LoaderCode(LoaderCode::InitArray)),
            DT_FINI_ARRAYSZ if value != 0 => return Err(ElfProblem::LoaderCode(LoaderCode::FiniArray)),
            DT_PREINIT_ARRAYSZ if value != 0 => return Err(ElfProblem::LoaderCode(LoaderCode::PreinitArray)),
            DT_INIT_ARRAYSZ | DT_FINI_ARRAYSZ | DT_PREINIT_ARRAYSZ => {}
            DT_TEXTREL => return Err(ElfProblem::TextRelocations),
            DT_FLAGS if value & DF_TEXTREL != 0 => return Err(ElfProblem::TextRelocations),
            DT_FLAGS_1 if value & DF_1_NODELETE != 0 => return Err(ElfProblem::NoDelete),
            DT_NEEDED => {}
            tag if PLAIN_TAGS.contains(&tag) => {}
            other => return Err(ElfProblem::DynamicTag(other)),
        }
    }

    let strsz = find(DT_STRSZ).ok_or(ElfProblem::Malformed("no DT_STRSZ"))?;
    let strtab = file_offset(find(DT_STRTAB).ok_or(ElfProblem::Malformed("no DT_STRTAB"))?, strsz, "string table")?;
    let strings = image.bytes(strtab, "string table")?;
    let name = |offset: u64| -> Result<String, ElfProblem> {
        let rest = usize::try_from(offset).ok().and_then(|o| strings.get(o..)).ok_or(ElfProblem::Malformed("name"))?;
        let end = rest.iter().position(|&b| b == 0).ok_or(ElfProblem::Malformed("unterminated name"))?;
        Ok(String::from_utf8_lossy(&rest[..end]).into_owned())
    };
    if let Some(&(_, offset)) = tags.iter().find(|(tag, _)| *tag == DT_NEEDED) {
        return Err(ElfProblem::Needed(name(offset)?));
    }

    // Relocations: the kinds allowed, and the highest symbol they name.
    if tags.iter().any(|(tag, _)| matches!(*tag, 17..=19)) {
        return Err(ElfProblem::Malformed("REL relocations"));
    }
    let mut symbols_needed = 0u64;
    let tables = [(DT_RELA, DT_RELASZ), (DT_JMPREL, DT_PLTRELSZ)];
    for (table, size) in tables {
        let Some(addr) = find(table) else { continue };
        let size = find(size).ok_or(ElfProblem::Malformed("relocation table without size"))?;
        if find(DT_RELAENT).is_some_and(|e| e != 24) || size % 24 != 0 {
            return Err(ElfProblem::Malformed("relocation entry size"));
        }
        let range = file_offset(addr, size, "relocation table")?;
        for at in range.step_by(24) {
            let info = image.u64(at + 8)?;
            let r_type = (info & 0xffff_ffff) as u32;
            if r_type == IRELATIVE {
                return Err(ElfProblem::Ifunc("(IRELATIVE relocation)".to_owned()));
            }
            if !MACHINE.1.contains(&r_type) {
                return Err(ElfProblem::Relocation(r_type));
            }
            symbols_needed = symbols_needed.max((info >> 32) + 1);
        }
    }

    // Symbols: as many as the hash tables (what `dlsym` searches) and relocations reach.
    let symtab = find(DT_SYMTAB).ok_or(ElfProblem::Malformed("no DT_SYMTAB"))?;
    if find(DT_SYMENT).is_some_and(|e| e != 24) {
        return Err(ElfProblem::Malformed("symbol entry size"));
    }
    let mut count = symbols_needed;
    let mut hashed = false;
    if let Some(hash) = find(DT_HASH) {
        let range = file_offset(hash, 8, "hash table")?;
        count = count.max(u64::from(image.u32(range.start + 4)?));
        hashed = true;
    }
    if let Some(gnu_hash) = find(DT_GNU_HASH) {
        count = count.max(gnu_hash_symbols(&image, gnu_hash, &file_offset)?);
        hashed = true;
    }
    if !hashed {
        return Err(ElfProblem::Malformed("no symbol hash table"));
    }
    let count_bytes = count.checked_mul(24).ok_or(ElfProblem::Malformed("symbol count"))?;
    let symbols = file_offset(symtab, count_bytes, "symbol table")?;
    let mut summary = ElfSummary::default();
    for at in symbols.step_by(24) {
        let (st_name, info, shndx, size) =
            (image.u32(at)?, image.bytes(at + 4..at + 5, "symbol")?[0], image.u16(at + 6)?, image.u64(at + 16)?);
        let (kind, bind) = (info & 0xf, info >> 4);
        if kind == STT_GNU_IFUNC {
            return Err(ElfProblem::Ifunc(name(u64::from(st_name))?));
        }
        if bind == STB_GNU_UNIQUE {
            return Err(ElfProblem::UniqueSymbol(name(u64::from(st_name))?));
        }
        if kind == STT_FUNC && shndx != 0 && (bind == STB_GLOBAL || bind == STB_WEAK) {
            summary.functions.push((name(u64::from(st_name))?, size));
        }
    }
    Ok(summary)
}

/// The number of symbols a GNU hash table covers: one past the last symbol of the longest
/// chain, as the loader's lookup can reach.
fn gnu_hash_symbols(
    image: &Image<'_>,
    addr: u64,
    file_offset: &dyn Fn(u64, u64, &'static str) -> Result<Range<u64>, ElfProblem>,
) -> Result<u64, ElfProblem> {
    let header = file_offset(addr, 16, "GNU hash table")?;
    let (nbuckets, symoffset, bloom) = (
        u64::from(image.u32(header.start)?),
        u64::from(image.u32(header.start + 4)?),
        u64::from(image.u32(header.start + 8)?),
    );
    let buckets_at = addr + 16 + bloom * 8;
    let buckets = file_offset(buckets_at, nbuckets * 4, "GNU hash buckets")?;
    let mut last = 0u64;
    for at in buckets.step_by(4) {
        last = last.max(u64::from(image.u32(at)?));
    }
    if last < symoffset {
        return Ok(symoffset);
    }
    let chains_at = buckets_at + nbuckets * 4;
    let mut index = last;
    loop {
        let at = file_offset(chains_at + (index - symoffset) * 4, 4, "GNU hash chain")?;
        if image.u32(at.start)? & 1 != 0 {
            return Ok(index + 1);
        }
        index += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const STRTAB: u64 = 256;
    const SYMTAB: u64 = 512;
    const HASH: u64 = 1024;
    const DYNAMIC: u64 = 1280;
    const RELA: u64 = 1792;

    /// A minimal shared object for this machine: one loadable segment covering the file at
    /// address 0, a dynamic section with `extra` tags after the tables, symbols `(name, info)`
    /// and RELA relocations `(type, symbol)`.
    fn image(extra: &[(u64, u64)], symbols: &[(&str, u8)], relocations: &[(u32, u32)], stack_flags: u32) -> Vec<u8> {
        let mut b = vec![0u8; 2048];
        let put16 = |b: &mut Vec<u8>, at: usize, v: u16| b[at..at + 2].copy_from_slice(&v.to_le_bytes());
        let put32 = |b: &mut Vec<u8>, at: usize, v: u32| b[at..at + 4].copy_from_slice(&v.to_le_bytes());
        let put64 = |b: &mut Vec<u8>, at: usize, v: u64| b[at..at + 8].copy_from_slice(&v.to_le_bytes());
        b[..7].copy_from_slice(b"\x7fELF\x02\x01\x01");
        put16(&mut b, 16, 3);
        put16(&mut b, 18, MACHINE.0);
        put64(&mut b, 32, 64);
        put16(&mut b, 54, 56);
        put16(&mut b, 56, 3);
        let phdr = |b: &mut Vec<u8>, i: usize, p_type: u32, flags: u32, offset: u64, size: u64| {
            let at = 64 + i * 56;
            put32(b, at, p_type);
            put32(b, at + 4, flags);
            put64(b, at + 8, offset);
            put64(b, at + 16, offset);
            put64(b, at + 32, size);
            put64(b, at + 40, size);
        };
        phdr(&mut b, 0, PT_LOAD, 5, 0, 2048);
        phdr(&mut b, 1, PT_DYNAMIC, 6, DYNAMIC, 512);
        phdr(&mut b, 2, PT_GNU_STACK, stack_flags, 0, 0);
        let mut strings = vec![0u8];
        for (i, (name, info)) in symbols.iter().enumerate() {
            let at = SYMTAB as usize + 24 * (i + 1);
            put32(&mut b, at, strings.len() as u32);
            b[at + 4] = *info;
            put16(&mut b, at + 6, 1);
            put64(&mut b, at + 16, 16);
            strings.extend_from_slice(name.as_bytes());
            strings.push(0);
        }
        b[STRTAB as usize..STRTAB as usize + strings.len()].copy_from_slice(&strings);
        put32(&mut b, HASH as usize, 1);
        put32(&mut b, HASH as usize + 4, symbols.len() as u32 + 1);
        for (i, (r_type, symbol)) in relocations.iter().enumerate() {
            put64(&mut b, RELA as usize + 24 * i + 8, (u64::from(*symbol) << 32) | u64::from(*r_type));
        }
        let mut tags = vec![
            (DT_STRTAB, STRTAB),
            (DT_STRSZ, strings.len() as u64),
            (DT_SYMTAB, SYMTAB),
            (DT_SYMENT, 24),
            (DT_HASH, HASH),
        ];
        if !relocations.is_empty() {
            tags.extend([(DT_RELA, RELA), (DT_RELASZ, 24 * relocations.len() as u64), (DT_RELAENT, 24)]);
        }
        tags.extend_from_slice(extra);
        for (i, (tag, value)) in tags.iter().enumerate() {
            put64(&mut b, DYNAMIC as usize + 16 * i, *tag);
            put64(&mut b, DYNAMIC as usize + 16 * i + 8, *value);
        }
        b
    }

    const FUNC: u8 = (STB_GLOBAL << 4) | STT_FUNC;

    #[test]
    fn a_plain_library_passes_and_lists_its_functions() {
        let summary = check(&image(&[], &[("f", FUNC), ("g", FUNC)], &[(8, 0)], 6)).unwrap();
        assert_eq!(summary.functions, vec![("f".to_owned(), 16), ("g".to_owned(), 16)]);
        // Shares add up to at most the library, each at least its own code.
        let shares: u64 = ["f", "g"].iter().map(|f| summary.share(f, 2048)).sum();
        assert!(shares <= 2048 && summary.share("f", 2048) >= 16, "{shares}");
    }

    #[test]
    fn each_kind_of_loader_code_is_refused() {
        let cases: &[(&[(u64, u64)], &str)] = &[
            (&[(DT_INIT, 0x100)], "elf-init"),
            (&[(DT_FINI, 0x100)], "elf-fini"),
            (&[(DT_INIT_ARRAY, 0x100), (DT_INIT_ARRAYSZ, 8)], "elf-init-array"),
            (&[(DT_INIT_ARRAY, 0x100)], "elf-init-array"),
            (&[(DT_FINI_ARRAY, 0x100), (DT_FINI_ARRAYSZ, 8)], "elf-fini-array"),
            (&[(DT_PREINIT_ARRAY, 0x100), (DT_PREINIT_ARRAYSZ, 8)], "elf-preinit-array"),
            (&[(DT_TEXTREL, 0)], "elf-textrel"),
            (&[(DT_FLAGS, DF_TEXTREL)], "elf-textrel"),
            (&[(DT_FLAGS_1, DF_1_NODELETE)], "elf-nodelete"),
            (&[(DT_NEEDED, 1)], "elf-needed"),
            (&[(14, 1)], "elf-dynamic-tag"),          // DT_SONAME
            (&[(0x6fff_fefc, 1)], "elf-dynamic-tag"), // DT_AUDIT
            (&[(0x7fff_ffff, 1)], "elf-dynamic-tag"), // DT_FILTER
        ];
        for (extra, reason) in cases {
            let problem = check(&image(extra, &[("f", FUNC)], &[], 6)).unwrap_err();
            assert_eq!(problem.reason(), *reason, "{extra:?}: {problem}");
        }
        // Empty arrays run nothing.
        check(&image(&[(DT_INIT_ARRAY, 0x100), (DT_INIT_ARRAYSZ, 0)], &[("f", FUNC)], &[], 6)).unwrap();
    }

    #[test]
    fn ifuncs_unique_symbols_and_odd_relocations_are_refused() {
        let ifunc = (STB_GLOBAL << 4) | STT_GNU_IFUNC;
        assert_eq!(check(&image(&[], &[("f", ifunc)], &[], 6)).unwrap_err(), ElfProblem::Ifunc("f".into()));
        let unique = (STB_GNU_UNIQUE << 4) | 1;
        assert_eq!(check(&image(&[], &[("u", unique)], &[], 6)).unwrap_err().reason(), "elf-unique-symbol");
        assert_eq!(check(&image(&[], &[], &[(IRELATIVE, 0)], 6)).unwrap_err().reason(), "elf-ifunc");
        assert_eq!(check(&image(&[], &[], &[(5, 0)], 6)).unwrap_err(), ElfProblem::Relocation(5));
        // A relocation naming a symbol beyond the hash table still gets that symbol checked.
        let mut bytes = image(&[], &[("f", FUNC)], &[(8, 2)], 6);
        bytes[SYMTAB as usize + 48 + 4] = ifunc;
        assert_eq!(check(&bytes).unwrap_err().reason(), "elf-ifunc");
    }

    #[test]
    fn an_executable_stack_is_refused() {
        assert_eq!(check(&image(&[], &[], &[], 7)).unwrap_err(), ElfProblem::ExecutableStack);
    }

    #[test]
    fn damaged_images_are_refused_without_panicking() {
        let good = image(&[], &[("f", FUNC)], &[(8, 1)], 6);
        assert!(check(&good).is_ok());
        for len in [0, 4, 63, 64, 200, 300, 1300, 2047] {
            assert!(check(&good[..len]).is_err(), "truncated to {len}");
        }
        // Every single byte flipped: refused or accepted, never a panic.
        for at in 0..good.len() {
            let mut bad = good.clone();
            bad[at] ^= 0xff;
            let _ = check(&bad);
        }
    }
}
