use revm::primitives::{hardfork::SpecId, hex};
use revm_jit::{Compiler, CompilerConfig, OptLevel};
fn main() {
    let dir = std::env::args().nth(1).unwrap();
    for level in [OptLevel::Default] {
        let mut c = Compiler::new(CompilerConfig { opt_level: level }).unwrap();
        let mut total = 0.0;
        for e in std::fs::read_dir(&dir).unwrap() {
            let p = e.unwrap().path();
            if p.extension().is_none_or(|x| x != "json") {
                continue;
            }
            let v: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&p).unwrap()).unwrap();
            let v = v.as_object().unwrap().values().next().unwrap();
            for (_, acct) in v["pre"].as_object().unwrap() {
                let code = hex::decode(acct["code"].as_str().unwrap_or("0x")).unwrap();
                if code.is_empty() {
                    continue;
                }
                let t = std::time::Instant::now();
                let r = c.compile(&code, SpecId::CANCUN);
                let el = t.elapsed().as_secs_f64() * 1e3;
                total += el;
                println!(
                    "{level:?} {} len={} {:.2}ms {}",
                    p.file_name().unwrap().to_string_lossy(),
                    code.len(),
                    el,
                    r.is_ok()
                );
            }
        }
        println!("{level:?} total {total:.1}ms");
    }
}
