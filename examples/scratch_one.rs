use revm::primitives::{hardfork::SpecId, hex};
use revm_jit::{Compiler, CompilerConfig};
fn main() {
    let p = std::env::args().nth(1).unwrap();
    let v: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&p).unwrap()).unwrap();
    let v = v.as_object().unwrap().values().next().unwrap();
    let mut c = Compiler::new(CompilerConfig { dump_ir_dir: Some("/tmp/ir".into()), ..Default::default() }).unwrap();
    let mut best = vec![];
    for (_, acct) in v["pre"].as_object().unwrap() {
        let code = hex::decode(acct["code"].as_str().unwrap_or("0x")).unwrap();
        if code.len() > best.len() {
            best = code;
        }
    }
    let f = c.compile(&best, SpecId::CANCUN).unwrap();
    println!("{} {:?} {:?}", best.len(), f.compile_time, f.phases);
}
