//! One transaction of a [`Case`] through revm's interpreter and through a `JitEvm`, for the
//! runtime-level tests (lifecycle, store, stress).

use revm::{ExecuteEvm, MainBuilder, context::result::ExecutionResult};
use revm_jit::{JitEvm, JitRuntime};
use revm_jit_cli::fixture::Case;

/// `case`'s result in revm's interpreter: what every native run must equal.
pub(crate) fn interpreted(case: &Case) -> ExecutionResult {
    case.context().build_mainnet().transact(case.tx()).expect("valid transaction").result
}

/// Runs `case` through a fresh `JitEvm` on `runtime`; returns the result and whether a frame
/// ran natively.
pub(crate) fn run(runtime: &JitRuntime, case: &Case) -> (ExecutionResult, bool) {
    let mut evm = JitEvm::new(case.context().build_mainnet(), runtime.handle());
    let result = evm.transact(case.tx()).expect("valid transaction").result;
    (result, evm.frame_counts().native > 0)
}
