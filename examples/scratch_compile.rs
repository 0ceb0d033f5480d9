use revm::primitives::{hardfork::SpecId, hex};
use revm_jit::{Compiler, CompilerConfig};
fn main() {
    let dir = std::env::args().nth(1).unwrap();
    let mut c = Compiler::new(CompilerConfig::default()).unwrap();
    let mut total = 0.0;
    let mut paths: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    paths.sort();
    for p in paths {
        let v: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&p).unwrap()).unwrap();
        let v = v.as_object().unwrap().values().next().unwrap();
        for (_, acct) in v["pre"].as_object().unwrap() {
            let code = hex::decode(acct["code"].as_str().unwrap_or("0x")).unwrap();
            if code.is_empty() {
                continue;
            }
            let f = c.compile(&code, SpecId::CANCUN).unwrap();
            total += f.compile_time.as_secs_f64() * 1e3;
            println!(
                "{:22} {:6} {:9.1?} {:?}",
                p.file_stem().unwrap().to_string_lossy(),
                code.len(),
                f.compile_time,
                f.phases
            );
        }
    }
    println!("total {total:.1}ms");
}
