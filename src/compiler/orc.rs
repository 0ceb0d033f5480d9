//! In-process machine code through LLVM's ORC LLJIT.
//!
//! One [`OrcJit`] serves every contract a [`super::Compiler`] compiles. Each contract's module
//! is added under its own resource tracker, so its machine code can be freed on its own when
//! the last [`super::CompiledFn`] using it is dropped, while the JIT (and its target machine)
//! is set up once. ORC drops the IR once machine code exists, so a cached contract costs only
//! its code.

use inkwell::llvm_sys::core::LLVMGetBufferSize;
use inkwell::llvm_sys::prelude::{LLVMContextRef, LLVMMemoryBufferRef, LLVMModuleRef};
use inkwell::llvm_sys::{
    error::{LLVMDisposeErrorMessage, LLVMErrorRef, LLVMGetErrorMessage},
    orc2::{
        LLVMOrcCreateNewThreadSafeContextFromLLVMContext, LLVMOrcCreateNewThreadSafeModule,
        LLVMOrcDisposeThreadSafeContext, LLVMOrcExecutorAddress, LLVMOrcJITDylibCreateResourceTracker,
        LLVMOrcObjectTransformLayerSetTransform, LLVMOrcReleaseResourceTracker, LLVMOrcResourceTrackerRef,
        LLVMOrcResourceTrackerRemove,
        lljit::{
            LLVMOrcCreateLLJIT, LLVMOrcDisposeLLJIT, LLVMOrcLLJITAddLLVMIRModuleWithRT, LLVMOrcLLJITGetMainJITDylib,
            LLVMOrcLLJITGetObjTransformLayer, LLVMOrcLLJITLookup, LLVMOrcLLJITRef,
        },
    },
};
use std::{
    cell::Cell,
    ffi::{CStr, CString, c_void},
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
};

/// An LLJIT instance shared by the code it produced.
pub(crate) struct OrcJit {
    jit: LLVMOrcLLJITRef,
    next_symbol: AtomicU64,
}

// SAFETY: LLJIT is internally synchronised: adding modules, looking symbols up and removing
// resource trackers may happen from any thread (ORC's ExecutionSession serialises them).
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
    /// Size of the object file the code was linked from: the cache's measure of its size.
    pub(crate) object_len: usize,
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
        // released exactly once; the JIT outlives this call through `_jit`.
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
    /// Creates an LLJIT for the host (native target must be initialised).
    pub(crate) fn new() -> Result<Arc<Self>, String> {
        let mut jit = std::ptr::null_mut();
        // SAFETY: a null builder asks for the default (host) configuration; `jit` receives a
        // new instance on success.
        check(unsafe { LLVMOrcCreateLLJIT(&mut jit, std::ptr::null_mut()) })?;
        // SAFETY: `jit` is live; the transform is a plain function that only reads the buffer
        // size, and needs no context.
        unsafe {
            let layer = LLVMOrcLLJITGetObjTransformLayer(jit);
            LLVMOrcObjectTransformLayerSetTransform(layer, measure_object, std::ptr::null_mut());
        }
        Ok(Arc::new(Self { jit, next_symbol: AtomicU64::new(0) }))
    }

    /// A symbol name not used before in this JIT.
    pub(crate) fn fresh_symbol(&self) -> String {
        format!("evm_{}", self.next_symbol.fetch_add(1, Ordering::Relaxed))
    }

    /// Compiles `module` (which lives in `context`) to machine code and returns the address
    /// of `symbol` with the owner of that code. [`JitCode::object_len`] is the size of the
    /// object file the module became.
    ///
    /// # Safety
    /// `context` and `module` must be valid, `module` must live in `context`, and the caller
    /// must give up ownership of both: ORC disposes them (even when this returns an error).
    pub(crate) unsafe fn add_and_lookup(
        self: &Arc<Self>,
        context: LLVMContextRef,
        module: LLVMModuleRef,
        symbol: &str,
    ) -> Result<(usize, JitCode), String> {
        // SAFETY: per the contract above, the thread-safe wrappers take ownership of the
        // context and module, and the module goes to the JIT (which owns it even on error).
        // The tracker is released by `JitCode::drop`, also on the error paths below.
        unsafe {
            let tsc = LLVMOrcCreateNewThreadSafeContextFromLLVMContext(context);
            let tsm = LLVMOrcCreateNewThreadSafeModule(module, tsc);
            LLVMOrcDisposeThreadSafeContext(tsc);
            let dylib = LLVMOrcLLJITGetMainJITDylib(self.jit);
            let tracker = LLVMOrcJITDylibCreateResourceTracker(dylib);
            let mut code = JitCode { tracker, object_len: 0, _jit: Arc::clone(self) };
            check(LLVMOrcLLJITAddLLVMIRModuleWithRT(self.jit, tracker, tsm))?;
            let name = CString::new(symbol).map_err(|e| e.to_string())?;
            let mut address: LLVMOrcExecutorAddress = 0;
            OBJECT_LEN.with(|len| len.set(0));
            check(LLVMOrcLLJITLookup(self.jit, &mut address, name.as_ptr()))?;
            code.object_len = OBJECT_LEN.with(Cell::get);
            if address == 0 {
                return Err(format!("symbol {symbol} resolved to null"));
            }
            Ok((address as usize, code))
        }
    }
}

thread_local! {
    /// Bytes of object code produced on this thread since the last reset. LLJIT without
    /// compile threads materialises a lookup on the looking-up thread, so the lookup in
    /// `add_and_lookup` sees exactly its own module's object here.
    static OBJECT_LEN: Cell<usize> = const { Cell::new(0) };
}

/// ORC's object transform: leaves each object as it is and adds its size to [`OBJECT_LEN`].
extern "C" fn measure_object(_ctx: *mut c_void, object: *mut LLVMMemoryBufferRef) -> LLVMErrorRef {
    // SAFETY: ORC calls this with a valid pointer to a live object buffer.
    let len = unsafe { LLVMGetBufferSize(*object) };
    OBJECT_LEN.with(|total| total.set(total.get() + len));
    std::ptr::null_mut()
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
