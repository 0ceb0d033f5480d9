//! In-process machine code through LLVM's ORC LLJIT.
//!
//! One [`OrcJit`] serves every contract a [`super::Compiler`] compiles. Each contract's module
//! is added under its own resource tracker, so its machine code can be freed on its own when
//! the last [`super::CompiledFn`] using it is dropped, while the JIT (and its target machine)
//! is set up once. ORC drops the IR once machine code exists, so a cached contract costs only
//! its code.

use super::memory::{CodeMemoryExhausted, ObjectMemory};
use inkwell::llvm_sys::core::{LLVMCreateMemoryBufferWithMemoryRangeCopy, LLVMGetBufferSize};
use inkwell::llvm_sys::prelude::{LLVMBool, LLVMContextRef, LLVMMemoryBufferRef, LLVMModuleRef};
use inkwell::llvm_sys::{
    error::{LLVMCreateStringError, LLVMDisposeErrorMessage, LLVMErrorRef, LLVMGetErrorMessage},
    orc2::{
        LLVMOrcCreateNewThreadSafeContextFromLLVMContext, LLVMOrcCreateNewThreadSafeModule,
        LLVMOrcDisposeThreadSafeContext, LLVMOrcExecutionSessionRef, LLVMOrcExecutionSessionSetErrorReporter,
        LLVMOrcExecutorAddress, LLVMOrcJITDylibCreateResourceTracker,
        LLVMOrcJITTargetMachineBuilderCreateFromTargetMachine, LLVMOrcObjectLayerRef,
        LLVMOrcObjectTransformLayerSetTransform, LLVMOrcReleaseResourceTracker, LLVMOrcResourceTrackerRef,
        LLVMOrcResourceTrackerRemove,
        ee::LLVMOrcCreateRTDyldObjectLinkingLayerWithMCJITMemoryManagerLikeCallbacks,
        lljit::{
            LLVMOrcCreateLLJIT, LLVMOrcCreateLLJITBuilder, LLVMOrcDisposeLLJIT, LLVMOrcLLJITAddLLVMIRModuleWithRT,
            LLVMOrcLLJITAddObjectFileWithRT, LLVMOrcLLJITBuilderSetJITTargetMachineBuilder,
            LLVMOrcLLJITBuilderSetObjectLinkingLayerCreator, LLVMOrcLLJITGetExecutionSession,
            LLVMOrcLLJITGetMainJITDylib, LLVMOrcLLJITGetObjTransformLayer, LLVMOrcLLJITLookup, LLVMOrcLLJITRef,
        },
    },
};
use inkwell::targets::TargetMachine;
use std::{
    cell::RefCell,
    ffi::{CStr, CString, c_char, c_uint, c_void},
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
};

/// An LLJIT instance shared by the code it produced.
///
/// Objects are linked by RuntimeDyld into memory from [`super::memory`]: a few large regions
/// shared by all contracts, instead of LLVM's page-per-section default.
pub(crate) struct OrcJit {
    jit: LLVMOrcLLJITRef,
    next_symbol: AtomicU64,
    /// Read by the object transform (through a raw pointer) for as long as the JIT lives.
    _settings: Box<MemorySettings>,
}

/// What the object transform needs to reserve memory for an object.
struct MemorySettings {
    /// Bytes of address space all JIT code of the process may map.
    limit: usize,
}

/// Why adding code to the JIT failed.
#[derive(Debug)]
pub(crate) enum JitError {
    /// No memory for the machine code.
    Memory(CodeMemoryExhausted),
    /// LLVM reported an error.
    Llvm(String),
}

// SAFETY: LLJIT is internally synchronised: adding modules, looking symbols up and removing
// resource trackers may happen from any thread (ORC's ExecutionSession serialises them).
// `settings` is never written after construction.
unsafe impl Send for OrcJit {}
// SAFETY: see `Send`; `&OrcJit` only reaches those thread-safe entry points.
unsafe impl Sync for OrcJit {}

impl Drop for OrcJit {
    fn drop(&mut self) {
        // SAFETY: every `JitCode` holds an `Arc<OrcJit>`, so no code from this JIT is alive.
        let err = unsafe { LLVMOrcDisposeLLJIT(self.jit) };
        if let Err(message) = check(err) {
            tracing::warn!(%message, "disposing the LLJIT failed");
        }
    }
}

/// Machine code of one contract: freed when dropped.
pub(crate) struct JitCode {
    tracker: LLVMOrcResourceTrackerRef,
    /// Bytes the contract's code, data and unwind tables occupy in JIT memory: what it costs
    /// the process, and the cache's measure of its size.
    pub(crate) memory_bytes: usize,
    /// Keeps the JIT alive as long as its code.
    _jit: Arc<OrcJit>,
}

// SAFETY: the tracker is only used to remove the code in `drop`, which ORC allows from any
// thread (see `OrcJit`).
unsafe impl Send for JitCode {}
// SAFETY: `JitCode` has no methods that use `&self`.
unsafe impl Sync for JitCode {}

impl Drop for JitCode {
    fn drop(&mut self) {
        // SAFETY: the tracker came from `JITDylibCreateResourceTracker` and is removed and
        // released exactly once; the JIT outlives this call through `_jit`. Removing it
        // destroys the object's memory manager, which returns its memory to the pool.
        unsafe {
            let err = LLVMOrcResourceTrackerRemove(self.tracker);
            if let Err(message) = check(err) {
                tracing::warn!(%message, "freeing compiled code failed");
            }
            LLVMOrcReleaseResourceTracker(self.tracker);
        }
    }
}

impl OrcJit {
    /// Creates an LLJIT generating code with `machine` (native target must be initialised),
    /// whose code of all contracts together may map at most `memory_limit` bytes.
    pub(crate) fn new(machine: TargetMachine, memory_limit: usize) -> Result<Arc<Self>, String> {
        let settings = Box::new(MemorySettings { limit: memory_limit });
        let mut jit = std::ptr::null_mut();
        // SAFETY: the builder takes ownership of the target machine builder, which takes
        // ownership of the target machine (hence the `forget`); `LLVMOrcCreateLLJIT` consumes
        // the builder whether or not it succeeds. The layer creator and the transform are
        // plain functions; the transform's context points into `settings`, which lives in the
        // returned `OrcJit` for as long as the LLJIT does.
        unsafe {
            let builder = LLVMOrcCreateLLJITBuilder();
            let jtmb = LLVMOrcJITTargetMachineBuilderCreateFromTargetMachine(machine.as_mut_ptr());
            std::mem::forget(machine);
            LLVMOrcLLJITBuilderSetJITTargetMachineBuilder(builder, jtmb);
            LLVMOrcLLJITBuilderSetObjectLinkingLayerCreator(builder, create_object_layer, std::ptr::null_mut());
            check(LLVMOrcCreateLLJIT(&mut jit, builder))?;
            LLVMOrcExecutionSessionSetErrorReporter(
                LLVMOrcLLJITGetExecutionSession(jit),
                report_session_error,
                std::ptr::null_mut(),
            );
            let layer = LLVMOrcLLJITGetObjTransformLayer(jit);
            let ctx = std::ptr::from_ref::<MemorySettings>(&settings).cast_mut().cast::<c_void>();
            LLVMOrcObjectTransformLayerSetTransform(layer, reserve_for_object, ctx);
        }
        Ok(Arc::new(Self { jit, next_symbol: AtomicU64::new(0), _settings: settings }))
    }

    /// A symbol name not used before in this JIT.
    pub(crate) fn fresh_symbol(&self) -> String {
        format!("evm_{}", self.next_symbol.fetch_add(1, Ordering::Relaxed))
    }

    /// Compiles `module` (which lives in `context`) to machine code and returns the address
    /// of `symbol` with the owner of that code.
    ///
    /// # Safety
    /// `context` and `module` must be valid, `module` must live in `context`, and the caller
    /// must give up ownership of both: ORC disposes them (even when this returns an error).
    pub(crate) unsafe fn add_and_lookup(
        self: &Arc<Self>,
        context: LLVMContextRef,
        module: LLVMModuleRef,
        symbol: &str,
    ) -> Result<(usize, JitCode), JitError> {
        let name = CString::new(symbol).map_err(|e| JitError::Llvm(e.to_string()))?;
        // SAFETY: per the contract above, the thread-safe wrappers take ownership of the
        // context and module, and the module goes to the JIT (which owns it even on error).
        // The tracker is released by `JitCode::drop`, also on the error paths below.
        unsafe {
            let tsc = LLVMOrcCreateNewThreadSafeContextFromLLVMContext(context);
            let tsm = LLVMOrcCreateNewThreadSafeModule(module, tsc);
            LLVMOrcDisposeThreadSafeContext(tsc);
            let tracker = self.new_tracker();
            let code = JitCode { tracker, memory_bytes: 0, _jit: Arc::clone(self) };
            check(LLVMOrcLLJITAddLLVMIRModuleWithRT(self.jit, tracker, tsm)).map_err(JitError::Llvm)?;
            self.link(code, &name)
        }
    }

    /// Links `object` (a relocatable object made for this JIT's target machine, e.g. by a
    /// compiler process) and returns the address of `symbol` with the owner of that code.
    pub(crate) fn add_object_and_lookup(
        self: &Arc<Self>,
        object: &[u8],
        symbol: &str,
    ) -> Result<(usize, JitCode), JitError> {
        let name = CString::new(symbol).map_err(|e| JitError::Llvm(e.to_string()))?;
        // SAFETY: the buffer is a copy of `object`, owned by the JIT from the add call on (also
        // when it fails). The tracker is released by `JitCode::drop`, also on the error paths.
        unsafe {
            let buffer =
                LLVMCreateMemoryBufferWithMemoryRangeCopy(object.as_ptr().cast(), object.len(), c"evm-object".as_ptr());
            let tracker = self.new_tracker();
            let code = JitCode { tracker, memory_bytes: 0, _jit: Arc::clone(self) };
            check(LLVMOrcLLJITAddObjectFileWithRT(self.jit, tracker, buffer)).map_err(JitError::Llvm)?;
            self.link(code, &name)
        }
    }

    /// A resource tracker of the main dylib, for one contract's code.
    fn new_tracker(&self) -> LLVMOrcResourceTrackerRef {
        // SAFETY: the JIT is alive; the main dylib lives as long as it.
        unsafe { LLVMOrcJITDylibCreateResourceTracker(LLVMOrcLLJITGetMainJITDylib(self.jit)) }
    }

    /// Looks `name` up, which links the code just added under `code`'s tracker, and returns
    /// its address with `code`, now knowing its memory.
    fn link(&self, mut code: JitCode, name: &CStr) -> Result<(usize, JitCode), JitError> {
        LINKED.set(Linked::default());
        let mut address: LLVMOrcExecutorAddress = 0;
        // SAFETY: the JIT is alive and `name` is a valid C string.
        let looked_up = check(unsafe { LLVMOrcLLJITLookup(self.jit, &mut address, name.as_ptr()) });
        let linked = LINKED.take();
        if let Some(exhausted) = linked.exhausted {
            return Err(JitError::Memory(exhausted));
        }
        looked_up.map_err(JitError::Llvm)?;
        code.memory_bytes = linked.memory_bytes;
        if address == 0 {
            return Err(JitError::Llvm(format!("symbol {} resolved to null", name.to_string_lossy())));
        }
        Ok((address as usize, code))
    }
}

/// What linking the objects of one lookup did, on the looking-up thread. LLJIT without
/// compile threads materialises a lookup on that thread, so the lookup in `add_and_lookup`
/// sees exactly its own module's object here.
#[derive(Clone, Default)]
struct Linked {
    /// Bytes of JIT memory the linked objects occupy.
    memory_bytes: usize,
    /// Set when an object could not get memory.
    exhausted: Option<CodeMemoryExhausted>,
}

thread_local! {
    static LINKED: RefCell<Linked> = RefCell::new(Linked::default());
    /// The reservation made by the object transform for the object about to be linked,
    /// taken by the memory manager RuntimeDyld creates for that object right after.
    static PENDING_RESERVATION: RefCell<Option<ObjectMemory>> = const { RefCell::new(None) };
}

/// ORC's object transform: reserves JIT memory for the object before RuntimeDyld links it, so
/// that running out fails this compilation with an error instead of aborting inside LLVM.
extern "C" fn reserve_for_object(ctx: *mut c_void, object: *mut LLVMMemoryBufferRef) -> LLVMErrorRef {
    // SAFETY: `ctx` points to the `MemorySettings` of the live `OrcJit` whose transform this
    // is; ORC calls this with a valid pointer to a live object buffer.
    let (limit, len) = unsafe { ((*ctx.cast::<MemorySettings>()).limit, LLVMGetBufferSize(*object)) };
    match ObjectMemory::reserve(len, limit) {
        Ok(memory) => {
            PENDING_RESERVATION.with(|pending| *pending.borrow_mut() = Some(memory));
            std::ptr::null_mut()
        }
        Err(exhausted) => {
            let message = CString::new(exhausted.to_string()).unwrap_or_default();
            LINKED.with_borrow_mut(|linked| linked.exhausted = Some(exhausted));
            // SAFETY: LLVM copies the message into the error it creates.
            unsafe { LLVMCreateStringError(message.as_ptr()) }
        }
    }
}

/// Builds the LLJIT's object layer: RuntimeDyld with [`ObjectMemory`] as its memory manager.
extern "C" fn create_object_layer(
    _ctx: *mut c_void,
    session: LLVMOrcExecutionSessionRef,
    _triple: *const c_char,
) -> LLVMOrcObjectLayerRef {
    // SAFETY: `session` is the LLJIT's live execution session; the callbacks below uphold the
    // memory-manager contract RuntimeDyld expects (see each of them).
    unsafe {
        LLVMOrcCreateRTDyldObjectLinkingLayerWithMCJITMemoryManagerLikeCallbacks(
            session,
            std::ptr::null_mut(),
            memory_create,
            memory_terminating,
            memory_allocate_code,
            memory_allocate_data,
            memory_finalize,
            Some(memory_destroy),
        )
    }
}

/// A memory manager for one object: the reservation its transform made.
extern "C" fn memory_create(_ctx: *mut c_void) -> *mut c_void {
    let memory = PENDING_RESERVATION.with(|pending| pending.borrow_mut().take()).unwrap_or_default();
    Box::into_raw(Box::new(memory)).cast()
}

extern "C" fn memory_terminating(_ctx: *mut c_void) {}

/// The object memory behind a memory-manager callback's opaque pointer.
///
/// # Safety
/// `opaque` must be a pointer `memory_create` returned and `memory_destroy` has not yet freed,
/// used by one thread at a time: what RuntimeDyld guarantees for its memory manager.
unsafe fn object_memory<'a>(opaque: *mut c_void) -> &'a mut ObjectMemory {
    // SAFETY: per the contract above, it points to a live, unaliased `ObjectMemory`.
    unsafe { &mut *opaque.cast::<ObjectMemory>() }
}

extern "C" fn memory_allocate_code(
    opaque: *mut c_void,
    size: usize,
    align: c_uint,
    _section_id: c_uint,
    _name: *const c_char,
) -> *mut u8 {
    // SAFETY: RuntimeDyld passes the pointer `memory_create` returned (see `object_memory`).
    unsafe { object_memory(opaque) }.allocate(size, align as usize)
}

extern "C" fn memory_allocate_data(
    opaque: *mut c_void,
    size: usize,
    align: c_uint,
    _section_id: c_uint,
    _name: *const c_char,
    _read_only: LLVMBool,
) -> *mut u8 {
    // SAFETY: RuntimeDyld passes the pointer `memory_create` returned (see `object_memory`).
    unsafe { object_memory(opaque) }.allocate(size, align as usize)
}

/// The object is linked: the unused tail of its reservation goes back to the pool. The memory
/// stays writable and executable (see [`super::memory`]), so there is nothing to protect.
extern "C" fn memory_finalize(opaque: *mut c_void, _error: *mut *mut c_char) -> LLVMBool {
    // SAFETY: RuntimeDyld passes the pointer `memory_create` returned (see `object_memory`).
    let memory = unsafe { object_memory(opaque) };
    memory.finalize();
    let bytes = memory.bytes();
    LINKED.with_borrow_mut(|linked| linked.memory_bytes += bytes);
    0
}

extern "C" fn memory_destroy(opaque: *mut c_void) {
    // SAFETY: RuntimeDyld calls this once, when the object's code is removed; the pointer came
    // from `Box::into_raw` in `memory_create`.
    drop(unsafe { Box::from_raw(opaque.cast::<ObjectMemory>()) });
}

/// ORC's session error reporter: errors go to `tracing` instead of standard error.
extern "C" fn report_session_error(_ctx: *mut c_void, err: LLVMErrorRef) {
    if let Err(message) = check(err) {
        tracing::debug!(%message, "JIT session error");
    }
}

/// Turns an `LLVMErrorRef` into a `Result`, consuming the error.
fn check(err: LLVMErrorRef) -> Result<(), String> {
    if err.is_null() {
        return Ok(());
    }
    // SAFETY: `err` is a live error; getting its message consumes it, and the message is
    // disposed after copying.
    unsafe {
        let raw = LLVMGetErrorMessage(err);
        let message = CStr::from_ptr(raw).to_string_lossy().into_owned();
        LLVMDisposeErrorMessage(raw);
        Err(message)
    }
}
