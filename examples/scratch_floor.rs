use revm::primitives::hardfork::SpecId;
use revm_jit::{Compiler, CompilerConfig};
fn main() {
    let mut c = Compiler::new(CompilerConfig::default()).unwrap();
    let code =
        revm::primitives::hex::decode("600a5b8015601b57806000526000515460019003806001556002565b60005260206000f3")
            .unwrap();
    let t = std::time::Instant::now();
    for _ in 0..200 {
        c.compile(&code, SpecId::CANCUN).unwrap();
    }
    println!("{:?} per compile", t.elapsed() / 200);
}
