use revm::primitives::hardfork::SpecId;
use revm_jit::{Compiler, CompilerConfig};
fn main() {
    let mut c = Compiler::new(CompilerConfig::default()).unwrap();
    let code =
        revm::primitives::hex::decode("600a5b8015601b57806000526000515460019003806001556002565b60005260206000f3")
            .unwrap();
    for _ in 0..5 {
        let f = c.compile(&code, SpecId::CANCUN).unwrap();
        println!("{:?} {:?}", f.compile_time, f.phases);
    }
}
