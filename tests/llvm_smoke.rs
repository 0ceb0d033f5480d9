//! LLVM 22 is reachable: build a function through inkwell, JIT it, call it.

use inkwell::{OptimizationLevel, context::Context};

#[test]
fn jit_a_function_and_call_it() {
    let context = Context::create();
    let module = context.create_module("smoke");
    let i64 = context.i64_type();
    let function = module.add_function("mul_add", i64.fn_type(&[i64.into(), i64.into()], false), None);
    let builder = context.create_builder();
    builder.position_at_end(context.append_basic_block(function, "entry"));
    let a = function.get_nth_param(0).unwrap().into_int_value();
    let b = function.get_nth_param(1).unwrap().into_int_value();
    let product = builder.build_int_mul(a, b, "product").unwrap();
    let sum = builder.build_int_add(product, i64.const_int(7, false), "sum").unwrap();
    builder.build_return(Some(&sum)).unwrap();
    module.verify().expect("valid module");

    let engine = module.create_jit_execution_engine(OptimizationLevel::Default).expect("MCJIT available");
    // SAFETY: `mul_add` was built above with exactly this signature.
    let f = unsafe { engine.get_function::<unsafe extern "C" fn(u64, u64) -> u64>("mul_add") }.unwrap();
    // SAFETY: the function takes two integers and touches no memory; the engine that owns its
    // code is alive.
    assert_eq!(unsafe { f.call(6, 7) }, 49);
    assert!(inkwell::support::get_llvm_version().0 == 22, "linked LLVM is not 22");
}
