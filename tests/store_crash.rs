//! Crash consistency of the artifact store (issue 14, item 8): writers killed with SIGKILL at
//! random points of `put` leave a store that `verify` finds clean and in which every committed
//! artifact loads; loaders racing garbage collection either load the right code or are refused.

use revm::primitives::{hardfork::SpecId, keccak256};
use revm_jit::{
    abi::{ABI_VERSION, entry_symbol},
    store::{ArtifactEntry, ArtifactKey, ArtifactStore, BuildId, DiskStore, GcOptions, LoadedArtifact, test_lib},
};
use std::{
    fs,
    io::Write,
    path::Path,
    process::Command,
    sync::{
        Arc,
        atomic::{AtomicBool, AtomicU64, Ordering},
    },
    thread,
    time::Duration,
};

/// Contracts per library; a writer stores one of them per `put`.
const KEYS: u32 = 64;
/// Library variants (same contracts, different markers), so that libraries are written too.
const VARIANTS: u32 = 3;

const CHILD_STORE_ENV: &str = "REVM_JIT_CRASH_TEST_STORE";
const CHILD_START_ENV: &str = "REVM_JIT_CRASH_TEST_START";

fn key(i: u32) -> ArtifactKey {
    ArtifactKey::new(keccak256(i.to_le_bytes()), SpecId::CANCUN)
}

fn entry(i: u32) -> ArtifactEntry {
    let key = key(i);
    ArtifactEntry { key, symbol: entry_symbol(&key.code_hash, key.spec), bytecode_len: 42 }
}

/// Variant `v` of the library: contract `i` returns `1000 * v + i`.
fn library(v: u32) -> Vec<u8> {
    let symbols: Vec<(String, u32)> = (0..KEYS).map(|i| (entry(i).symbol, 1000 * v + i)).collect();
    let symbols: Vec<(&str, u32)> = symbols.iter().map(|(s, m)| (s.as_str(), *m)).collect();
    test_lib::build_library(Some(ABI_VERSION), &symbols)
}

fn call(artifact: &LoadedArtifact) -> u32 {
    // SAFETY: the test library's entry functions ignore their argument.
    unsafe { (artifact.entry)(std::ptr::null_mut()) }
}

fn build() -> BuildId {
    BuildId::current()
}

/// The child: put contracts one after another, forever, logging each committed round.
fn write_until_killed(dir: &Path, start: u32) {
    let store = DiskStore::open(dir, build()).unwrap();
    let libraries: Vec<Vec<u8>> =
        (0..VARIANTS).map(|v| fs::read(dir.join(format!("../variant{v}.so"))).unwrap()).collect();
    let mut log = fs::OpenOptions::new().append(true).create(true).open(dir.join("../committed")).unwrap();
    for round in start.. {
        let i = round % KEYS;
        store.put(&libraries[(round % VARIANTS) as usize], &[entry(i)]).unwrap();
        // One write per line: a kill cannot leave half a line.
        log.write_all(format!("{i}\n").as_bytes()).unwrap();
    }
}

#[test]
fn writers_killed_mid_put_leave_a_clean_store() {
    if let (Ok(dir), Ok(start)) = (std::env::var(CHILD_STORE_ENV), std::env::var(CHILD_START_ENV)) {
        return write_until_killed(Path::new(&dir), start.parse().unwrap());
    }
    let scratch = tempfile::tempdir().unwrap();
    let dir = scratch.path().join("store");
    fs::create_dir(&dir).unwrap();
    for v in 0..VARIANTS {
        fs::write(scratch.path().join(format!("variant{v}.so")), library(v)).unwrap();
    }
    const KILLS: u32 = 40;
    let mut state = 0x2545_f491_4f6c_dd1du64;
    for kill in 0..KILLS {
        let mut child = Command::new(std::env::current_exe().unwrap())
            .args(["--exact", "writers_killed_mid_put_leave_a_clean_store", "--nocapture", "--test-threads=1"])
            .env(CHILD_STORE_ENV, &dir)
            .env(CHILD_START_ENV, (kill * 7).to_string())
            .spawn()
            .unwrap();
        // Wait until this writer is in its loop (it committed a put), then kill it at a
        // pseudo-random moment of the following puts.
        let log = scratch.path().join("committed");
        let before = fs::metadata(&log).map_or(0, |m| m.len());
        while fs::metadata(&log).map_or(0, |m| m.len()) == before {
            assert!(child.try_wait().unwrap().is_none(), "the writer died before committing");
            thread::sleep(Duration::from_millis(1));
        }
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        thread::sleep(Duration::from_micros(state % 5_000));
        child.kill().unwrap();
        let status = child.wait().unwrap();
        assert!(!status.success(), "the writer stopped on its own: {status}");
    }

    let committed: Vec<u32> = fs::read_to_string(scratch.path().join("committed"))
        .unwrap_or_default()
        .lines()
        .map(|l| l.parse().unwrap())
        .collect();
    let store = DiskStore::open(&dir, build()).unwrap();
    let report = store.verify().unwrap();
    eprintln!(
        "{KILLS} writers killed, {} puts committed; verify: {} checked, {} valid, {} refused, {} temporary files, {} unreferenced libraries",
        committed.len(),
        report.checked,
        report.valid,
        report.problems.len(),
        report.temp_files.len(),
        report.unreferenced_libraries.len()
    );
    assert!(report.is_clean(), "{:?}", report.problems);
    assert!(!committed.is_empty(), "no writer committed anything before it was killed");
    for i in committed {
        let artifact = store.load(&key(i)).unwrap().unwrap_or_else(|| panic!("committed contract {i} is gone"));
        assert_eq!(call(&artifact) % 1000, i, "contract {i} runs another contract's code");
    }
    // What dead writers left behind is collected, and the store stays clean.
    let gc = store.gc(&GcOptions { temp_max_age: Duration::ZERO, ..GcOptions::default() }).unwrap();
    assert!(gc.removed_manifests.is_empty(), "{gc:?}");
    assert!(store.verify().unwrap().is_clean());
}

#[test]
fn loaders_racing_gc_load_the_right_code_or_are_refused() {
    let scratch = tempfile::tempdir().unwrap();
    let dir = scratch.path().to_path_buf();
    let libraries: Arc<Vec<Vec<u8>>> = Arc::new((0..VARIANTS).map(library).collect());
    let done = Arc::new(AtomicBool::new(false));
    let (loaded, refused) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));

    let writer = {
        let (dir, libraries, done) = (dir.clone(), Arc::clone(&libraries), Arc::clone(&done));
        thread::spawn(move || {
            let store = DiskStore::open(&dir, build()).unwrap();
            let mut round = 0u32;
            while !done.load(Ordering::Acquire) {
                store.put(&libraries[(round % VARIANTS) as usize], &[entry(round % 4)]).unwrap();
                round += 1;
            }
        })
    };
    let collector = {
        let (dir, done) = (dir.clone(), Arc::clone(&done));
        thread::spawn(move || {
            let store = DiskStore::open(&dir, build()).unwrap();
            let now = GcOptions { temp_max_age: Duration::ZERO, library_grace: Duration::ZERO, ..Default::default() };
            while !done.load(Ordering::Acquire) {
                store.gc(&now).unwrap();
            }
        })
    };
    let loaders: Vec<_> = (0..2)
        .map(|_| {
            let (dir, done, loaded, refused) =
                (dir.clone(), Arc::clone(&done), Arc::clone(&loaded), Arc::clone(&refused));
            thread::spawn(move || {
                let mut round = 0u32;
                while !done.load(Ordering::Acquire) {
                    // A fresh store each time: nothing cached, every load reads the directory.
                    let store = DiskStore::open(&dir, build()).unwrap();
                    let i = round % 4;
                    match store.load(&key(i)) {
                        Ok(Some(artifact)) => {
                            assert_eq!(call(&artifact) % 1000, i, "contract {i} runs another contract's code");
                            loaded.fetch_add(1, Ordering::Relaxed);
                        }
                        Ok(None) => {}
                        Err(_) => {
                            refused.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                    round += 1;
                }
            })
        })
        .collect();
    // Let them race until the loaders have loaded a good number of artifacts.
    while loaded.load(Ordering::Relaxed) < 500 {
        thread::sleep(Duration::from_millis(10));
    }
    done.store(true, Ordering::Release);
    for handle in loaders.into_iter().chain([writer, collector]) {
        handle.join().unwrap();
    }
    eprintln!(
        "{} loads succeeded, {} refused while racing gc",
        loaded.load(Ordering::Relaxed),
        refused.load(Ordering::Relaxed)
    );
    assert!(DiskStore::open(&dir, build()).unwrap().verify().unwrap().is_clean());
}
