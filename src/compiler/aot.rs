//! Ahead-of-time compilation: contracts to relocatable objects, objects to a shared library.
//!
//! The code is the same the JIT runs (same analysis, codegen and IR pipeline); only the last
//! step differs: LLVM writes a position-independent object per contract, and the system's
//! linker driver (`cc` by default) links any number of them, plus a tiny object exporting
//! [`crate::abi::LIBRARY_ABI_SYMBOL`], into one `.so`. Each contract's entry point is exported
//! as [`crate::abi::entry_symbol`]. Native code reaches the runtime only through the builtin
//! table in its `EvmContext`, so a library needs no symbol from the program that loads it:
//! any binary linking this crate (with the same ABI version) can run it.

use super::{CompileError, CompilePhases, Compiler, ContextGuard, panic_message};
use crate::abi::{ABI_VERSION, LIBRARY_ABI_SYMBOL, entry_symbol};
use crate::store::{ArtifactEntry, ArtifactKey, BuildId};
use inkwell::{
    OptimizationLevel,
    context::Context,
    module::Linkage,
    targets::{CodeModel, FileType, RelocMode, Target, TargetMachine},
};
use revm::primitives::{B256, hardfork::SpecId, keccak256};
use std::{
    panic::{AssertUnwindSafe, catch_unwind},
    path::{Path, PathBuf},
    process::Command,
    time::{Duration, Instant},
};

/// One contract compiled to a relocatable object.
#[derive(Clone, Debug)]
pub struct ObjectCode {
    /// Keccak-256 of the bytecode.
    pub code_hash: B256,
    /// The fork it was compiled for.
    pub spec: SpecId,
    /// Length of the bytecode.
    pub bytecode_len: usize,
    /// The exported name of its entry point ([`entry_symbol`]).
    pub symbol: String,
    /// The ELF object.
    pub object: Vec<u8>,
    /// Wall-clock compile time, linking excluded.
    pub compile_time: Duration,
    /// Where the compile time went.
    pub phases: CompilePhases,
}

/// Why compiled contracts could not be linked into a library.
#[derive(Debug, thiserror::Error)]
pub enum LinkError {
    /// The linker driver could not be run.
    #[error(
        "linker `{linker}` not found or not runnable ({source}); install a C toolchain (Debian: `apt install gcc`) \
         or set REVM_JIT_LINKER to a linker driver"
    )]
    LinkerNotFound {
        /// The program that was tried.
        linker: PathBuf,
        /// Why it could not run.
        source: std::io::Error,
    },
    /// The linker ran and failed.
    #[error("linking {output} with `{linker}` failed ({status}): {stderr}")]
    LinkFailed {
        /// The linker driver.
        linker: PathBuf,
        /// The library being written.
        output: PathBuf,
        /// Its exit status.
        status: std::process::ExitStatus,
        /// What it printed.
        stderr: String,
    },
    /// Writing or reading a temporary file failed.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The error.
        source: std::io::Error,
    },
    /// No objects to link.
    #[error("no contracts to link")]
    Empty,
}

impl Compiler {
    /// Compiles `code` for `spec` to a position-independent object exporting its entry point
    /// as [`entry_symbol`]. Refuses what [`Compiler::compile`] refuses; panics are contained.
    pub fn compile_object(&mut self, code: &[u8], spec: SpecId) -> Result<ObjectCode, CompileError> {
        let span = tracing::debug_span!("compile_object", len = code.len(), ?spec);
        let _guard = span.enter();
        self.check_compilable(code, spec)?;
        let start = Instant::now();
        let code_hash = keccak256(code);
        let symbol = entry_symbol(&code_hash, spec);
        let result = catch_unwind(AssertUnwindSafe(|| self.object_inner(code, spec, &symbol)))
            .unwrap_or_else(|payload| Err(CompileError::Panic(panic_message(payload.as_ref()))));
        let (object, phases) = result?;
        Ok(ObjectCode {
            code_hash,
            spec,
            bytecode_len: code.len(),
            symbol,
            object,
            compile_time: start.elapsed(),
            phases,
        })
    }

    fn object_inner(
        &mut self,
        code: &[u8],
        spec: SpecId,
        symbol: &str,
    ) -> Result<(Vec<u8>, CompilePhases), CompileError> {
        let mut phases = CompilePhases::default();
        let context = ContextGuard::new();
        let module = self.build_module(context.get(), code, spec, symbol, &mut phases)?;
        let clock = Instant::now();
        let machine = self.aot_machine()?;
        let buffer =
            machine.write_to_memory_buffer(&module, FileType::Object).map_err(|e| CompileError::Llvm(e.to_string()))?;
        phases.machine_code = clock.elapsed();
        Ok((buffer.as_slice().to_vec(), phases))
    }

    /// The object exporting [`LIBRARY_ABI_SYMBOL`]; one goes into every library.
    pub fn abi_object(&mut self) -> Result<Vec<u8>, CompileError> {
        let context = Context::create();
        let module = context.create_module("revm_jit_abi");
        let i32_type = context.i32_type();
        let global = module.add_global(i32_type, None, LIBRARY_ABI_SYMBOL);
        global.set_initializer(&i32_type.const_int(u64::from(ABI_VERSION), false));
        global.set_constant(true);
        global.set_linkage(Linkage::External);
        let machine = self.aot_machine()?;
        let buffer =
            machine.write_to_memory_buffer(&module, FileType::Object).map_err(|e| CompileError::Llvm(e.to_string()))?;
        Ok(buffer.as_slice().to_vec())
    }

    /// The target machine for objects: the host CPU, position-independent code.
    fn aot_machine(&mut self) -> Result<&TargetMachine, CompileError> {
        if self.aot_machine.is_none() {
            let triple = TargetMachine::get_default_triple();
            let target = Target::from_triple(&triple).map_err(|e| CompileError::Llvm(e.to_string()))?;
            let features = TargetMachine::get_host_cpu_features().to_string();
            let opt = match self.config.opt_level.codegen() {
                OptimizationLevel::None => OptimizationLevel::Less,
                level => level,
            };
            let machine = target
                .create_target_machine(&triple, &self.cpu, &features, opt, RelocMode::PIC, CodeModel::Default)
                .ok_or_else(|| CompileError::Llvm(format!("no target machine for {triple}")))?;
            self.aot_machine = Some(machine);
        }
        Ok(self.aot_machine.as_ref().expect("just created"))
    }
}

/// The system linker driver that turns objects into a shared library.
#[derive(Clone, Debug)]
pub struct Linker {
    program: PathBuf,
}

impl Linker {
    /// The linker driver `$REVM_JIT_LINKER`, else `cc`, checked by running it with
    /// `--version`: a missing toolchain is reported here, with what to install, rather than
    /// as a failed link later.
    pub fn find() -> Result<Self, LinkError> {
        let program = std::env::var_os("REVM_JIT_LINKER").map_or_else(|| PathBuf::from("cc"), PathBuf::from);
        Self::with_program(program)
    }

    /// A specific linker driver, checked as in [`Linker::find`].
    pub fn with_program(program: PathBuf) -> Result<Self, LinkError> {
        let output = Command::new(&program)
            .arg("--version")
            .output()
            .map_err(|source| LinkError::LinkerNotFound { linker: program.clone(), source })?;
        if !output.status.success() {
            let source = std::io::Error::other(format!("`--version` exited with {}", output.status));
            return Err(LinkError::LinkerNotFound { linker: program, source });
        }
        Ok(Self { program })
    }

    /// Links the objects into a shared library in `dir` (a scratch directory, which also
    /// receives the object files) and returns the library's bytes.
    pub fn link(&self, abi_object: &[u8], objects: &[ObjectCode], dir: &Path) -> Result<Vec<u8>, LinkError> {
        if objects.is_empty() {
            return Err(LinkError::Empty);
        }
        let output = dir.join("lib.so");
        let span = tracing::debug_span!("link", contracts = objects.len(), output = %output.display());
        let _guard = span.enter();
        let mut inputs = Vec::with_capacity(objects.len() + 1);
        let abi_path = dir.join("abi.o");
        write(&abi_path, abi_object)?;
        inputs.push(abi_path);
        for (i, object) in objects.iter().enumerate() {
            let path = dir.join(format!("c{i}.o"));
            write(&path, &object.object)?;
            inputs.push(path);
        }
        let result = Command::new(&self.program)
            .args(["-shared", "-nostdlib", "-Wl,--build-id=none", "-Wl,-z,noexecstack", "-o"])
            .arg(&output)
            .args(&inputs)
            .output()
            .map_err(|source| LinkError::LinkerNotFound { linker: self.program.clone(), source })?;
        if !result.status.success() {
            return Err(LinkError::LinkFailed {
                linker: self.program.clone(),
                output,
                status: result.status,
                stderr: String::from_utf8_lossy(&result.stderr).into_owned(),
            });
        }
        std::fs::read(&output).map_err(|source| LinkError::Io { path: output, source })
    }
}

fn write(path: &Path, bytes: &[u8]) -> Result<(), LinkError> {
    std::fs::write(path, bytes).map_err(|source| LinkError::Io { path: path.to_path_buf(), source })
}

/// A linked library and what it holds, ready for [`crate::store::ArtifactStore::put`].
#[derive(Debug)]
pub struct BuiltLibrary {
    /// The shared library's bytes.
    pub bytes: Vec<u8>,
    /// One entry per contract in it.
    pub entries: Vec<ArtifactEntry>,
    /// Total compile time of the contracts, linking excluded.
    pub compile_time: Duration,
    /// Time the linker took.
    pub link_time: Duration,
    /// The build that compiled it: a store must file it under this identity only
    /// ([`crate::store::ArtifactStore::build`]).
    pub build: BuildId,
}

/// Compiles each (bytecode, fork) and links them all into one library.
pub fn build_library(compiler: &mut Compiler, contracts: &[(&[u8], SpecId)]) -> Result<BuiltLibrary, CompileError> {
    let objects =
        contracts.iter().map(|&(code, spec)| compiler.compile_object(code, spec)).collect::<Result<Vec<_>, _>>()?;
    link_objects(compiler, &objects)
}

/// Links compiled contracts into one library. The linker is found once per process
/// ([`Linker::find`]); when it is missing, every call reports the program that was tried.
pub fn link_objects(compiler: &mut Compiler, objects: &[ObjectCode]) -> Result<BuiltLibrary, CompileError> {
    /// The linker found, or the program tried and why it could not run.
    type Found = Result<Linker, (PathBuf, std::io::ErrorKind, String)>;
    static LINKER: std::sync::OnceLock<Found> = std::sync::OnceLock::new();
    let linker = LINKER
        .get_or_init(|| {
            Linker::find().map_err(|error| match error {
                LinkError::LinkerNotFound { linker, source } => (linker, source.kind(), source.to_string()),
                other => (PathBuf::from("cc"), std::io::ErrorKind::Other, other.to_string()),
            })
        })
        .as_ref()
        .map_err(|(linker, kind, message)| LinkError::LinkerNotFound {
            linker: linker.clone(),
            source: std::io::Error::new(*kind, message.clone()),
        })?;
    let compile_time = objects.iter().map(|o| o.compile_time).sum();
    let abi = compiler.abi_object()?;
    let start = Instant::now();
    let dir = crate::store::private_temp_dir("revm-jit-link")
        .map_err(|source| LinkError::Io { path: std::env::temp_dir(), source })?;
    let bytes = linker.link(&abi, objects, dir.path())?;
    let entries = objects
        .iter()
        .map(|o| ArtifactEntry {
            key: ArtifactKey::new(o.code_hash, o.spec),
            symbol: o.symbol.clone(),
            bytecode_len: o.bytecode_len as u64,
        })
        .collect();
    let build = BuildId::for_opt_level(compiler.config.opt_level);
    Ok(BuiltLibrary { bytes, entries, compile_time, link_time: start.elapsed(), build })
}
