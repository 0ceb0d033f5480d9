//! Benchmark fixtures: one transaction on one pre-state, loaded from state-test shaped
//! JSON or built in code.
//!
//! A [`Case`] is what every benchmark row, the `run` command and the criterion bench
//! execute. It owns a ready [`CacheDB`] with the pre-state, so each run gets a fresh
//! [`MainnetContext`] from [`Case::context`] (a clone of the database, built outside any
//! timed region) and a [`TxEnv`] from [`Case::tx`].
//!
//! # File format
//!
//! A fixture file is a JSON object mapping test names to tests (or a single test object
//! at the top level). A test has the state-test fields `env`, `pre` and `transaction`
//! and no `post`:
//!
//! * `env`: `currentCoinbase`, `currentGasLimit`, `currentNumber`, `currentTimestamp`,
//!   optional `currentBaseFee`, `currentRandom` / `currentDifficulty` (the prevrandao
//!   value) and `currentExcessBlobGas`.
//! * `pre`: address → `balance`, optional `code`, `nonce`, `storage` (hex key → hex value).
//! * `transaction`: an object, or a list whose first element is used. `data`, `gasLimit`
//!   and `value` are hex strings or state-test style lists of them (the first element is
//!   used); `to` is an address, or empty for a contract creation; the sender is `sender`
//!   or derived from `secretKey`; `nonce`, `gasPrice` / `maxFeePerGas` +
//!   `maxPriorityFeePerGas`, `accessLists` / `accessList`, `blobVersionedHashes` and
//!   `maxFeePerBlobGas` are optional.
//! * optional `config.network` (or `config.fork`, or a test-level `network`) names the
//!   spec, and `config.chainid` the chain id.
//!
//! Numbers and byte strings are `0x`-prefixed hex. Every error names the file and the
//! offending field.

use revm::{
    bytecode::Bytecode,
    context::{BlockEnv, TxEnv},
    context_interface::transaction::{AccessList, AccessListItem},
    database::{CacheDB, EmptyDB},
    handler::MainnetContext,
    primitives::{Address, B256, Bytes, TxKind, U256, eip7825, hardfork::SpecId, hex},
    state::AccountInfo,
};
use serde_json::{Map, Value};
use std::path::{Path, PathBuf};

/// The spec used when neither the command line nor the fixture names one.
pub const DEFAULT_SPEC: SpecId = SpecId::CANCUN;

/// The funded externally owned account that sends the transactions of built-in cases
/// (embedded programs, `run --code`). Same address as in the shared bench fixtures.
pub const DEFAULT_CALLER: Address = Address::repeat_byte(0x11);

/// Where built-in cases deploy the code they call. Same address as in the shared bench
/// fixtures.
pub const DEFAULT_TARGET: Address = Address::repeat_byte(0xcc);

/// An error loading a fixture: names the file and, when it is about content, the field
/// (as a dotted path such as `counter.transaction[0].gasLimit`).
#[derive(Debug, thiserror::Error)]
pub enum FixtureError {
    /// The file or directory could not be read.
    #[error("{}: cannot read: {source}", path.display())]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The file is not JSON.
    #[error("{}: not valid JSON: {source}", file.display())]
    Json {
        /// The file.
        file: PathBuf,
        /// The parser's error (with line and column).
        source: serde_json::Error,
    },
    /// A required field is absent.
    #[error("{}: missing field `{field}`", file.display())]
    MissingField {
        /// The file.
        file: PathBuf,
        /// Dotted path of the missing field.
        field: String,
    },
    /// A field has the wrong JSON type.
    #[error("{}: field `{field}`: expected {expected}, found {found}", file.display())]
    WrongType {
        /// The file.
        file: PathBuf,
        /// Dotted path of the field.
        field: String,
        /// What the field should be.
        expected: &'static str,
        /// The JSON type found instead.
        found: &'static str,
    },
    /// A string field does not parse (not hex, wrong length, out of range, unknown name).
    #[error("{}: field `{field}`: `{value}` is not {expected}", file.display())]
    BadValue {
        /// The file.
        file: PathBuf,
        /// Dotted path of the field.
        field: String,
        /// The offending text (truncated when long).
        value: String,
        /// What the field should be.
        expected: &'static str,
    },
    /// A field this loader does not support (rather than silently ignoring it).
    #[error("{}: field `{field}` is not supported by the bench loader", file.display())]
    Unsupported {
        /// The file.
        file: PathBuf,
        /// Dotted path of the field.
        field: String,
    },
    /// The file holds no test at all.
    #[error("{}: contains no test (expected an object of name → {{env, pre, transaction}})", file.display())]
    Empty {
        /// The file.
        file: PathBuf,
    },
}

/// One transaction on one pre-state, ready to run any number of times.
#[derive(Clone, Debug)]
pub struct Case {
    /// Name shown in tables and JSON reports (the test's key in its file).
    pub name: String,
    /// The file the case came from, if any.
    pub source: Option<PathBuf>,
    /// Hard fork rules to run under.
    pub spec: SpecId,
    /// Chain id of the configuration.
    pub chain_id: u64,
    /// The block the transaction runs in.
    pub block: BlockEnv,
    /// The pre-state; cloned for every run.
    pub db: CacheDB<EmptyDB>,
    /// The transaction.
    pub tx: TxEnv,
}

impl Case {
    /// A case that calls `code`, deployed at [`DEFAULT_TARGET`], from [`DEFAULT_CALLER`]
    /// (funded with 2²⁵⁵ wei) with `calldata`, in [`bench_block`]. Used by `run --code`.
    pub fn call_code(name: impl Into<String>, spec: SpecId, code: Bytes, calldata: Bytes, gas_limit: u64) -> Self {
        let mut db = CacheDB::new(EmptyDB::default());
        fund(&mut db, DEFAULT_CALLER);
        deploy(&mut db, DEFAULT_TARGET, code, &[]);
        Self::call(name, spec, db, DEFAULT_TARGET, calldata, gas_limit)
    }

    /// A case that sends `calldata` from [`DEFAULT_CALLER`] to `target` on the given
    /// pre-state `db`, in [`bench_block`], with gas price 0.
    pub fn call(
        name: impl Into<String>,
        spec: SpecId,
        db: CacheDB<EmptyDB>,
        target: Address,
        calldata: Bytes,
        gas_limit: u64,
    ) -> Self {
        let tx = TxEnv {
            caller: DEFAULT_CALLER,
            gas_limit,
            gas_price: 0,
            kind: TxKind::Call(target),
            data: calldata,
            ..TxEnv::default()
        };
        Self { name: name.into(), source: None, spec, chain_id: 1, block: bench_block(), db, tx }
    }

    /// A fresh context on a copy of the pre-state, configured for this case's spec,
    /// chain and block. Cheap enough to call before every run, and meant to be called
    /// outside the timed region.
    ///
    /// From Osaka on, a transaction gas limit above the EIP-7825 cap raises the cap to
    /// that limit: bench fixtures use a huge gas limit to mean "unlimited", and the
    /// bench measures execution, not transaction admission.
    pub fn context(&self) -> MainnetContext<CacheDB<EmptyDB>> {
        let mut ctx = MainnetContext::new(self.db.clone(), self.spec);
        ctx.block = self.block.clone();
        ctx.cfg.chain_id = self.chain_id;
        if self.spec.is_enabled_in(SpecId::OSAKA) && self.tx.gas_limit > eip7825::TX_GAS_LIMIT_CAP {
            ctx.cfg.tx_gas_limit_cap = Some(self.tx.gas_limit);
        }
        ctx
    }

    /// The transaction, ready to hand to an executor together with [`Case::context`].
    pub fn tx(&self) -> TxEnv {
        self.tx.clone()
    }
}

/// The block built-in cases run in: number 1, timestamp 1, coinbase zero, gas limit
/// `u64::MAX`, base fee 0, prevrandao zero, excess blob gas 0. Same as the shared bench
/// fixtures' `env`, so programs and fixtures are measured alike.
pub fn bench_block() -> BlockEnv {
    BlockEnv { number: U256::ONE, timestamp: U256::ONE, gas_limit: u64::MAX, basefee: 0, ..BlockEnv::default() }
}

/// Gives `address` a balance of 2²⁵⁵ wei in `db` (enough for any value transfer a
/// benchmark makes, without overflowing when a value is added to it).
pub fn fund(db: &mut CacheDB<EmptyDB>, address: Address) {
    db.insert_account_info(address, AccountInfo::from_balance(U256::ONE << 255));
}

/// Deploys `code` at `address` in `db` with nonce 1 and the given storage slots.
pub fn deploy(db: &mut CacheDB<EmptyDB>, address: Address, code: Bytes, storage: &[(U256, U256)]) {
    let info = AccountInfo { nonce: 1, ..AccountInfo::from_bytecode(Bytecode::new_raw(code)) };
    db.insert_account_info(address, info);
    for &(slot, value) in storage {
        db.insert_account_storage(address, slot, value).expect("inserting storage into a CacheDB<EmptyDB> cannot fail");
    }
}

/// The `.json` files in `dir` and its subdirectories, recursively, sorted by path.
pub fn fixture_files(dir: &Path) -> Result<Vec<PathBuf>, FixtureError> {
    let mut files = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(dir) = pending.pop() {
        let io = |source| FixtureError::Io { path: dir.clone(), source };
        for entry in std::fs::read_dir(&dir).map_err(io)? {
            let path = entry.map_err(io)?.path();
            if path.is_dir() {
                pending.push(path);
            } else if path.extension().is_some_and(|ext| ext == "json") {
                files.push(path);
            }
        }
    }
    files.sort();
    Ok(files)
}

/// Loads every test in a fixture file. `spec` overrides the file's `config`; without
/// either, [`DEFAULT_SPEC`] is used.
pub fn load_file(file: &Path, spec: Option<SpecId>) -> Result<Vec<Case>, FixtureError> {
    let text = std::fs::read_to_string(file).map_err(|source| FixtureError::Io { path: file.to_owned(), source })?;
    let json: Value =
        serde_json::from_str(&text).map_err(|source| FixtureError::Json { file: file.to_owned(), source })?;
    let p = Parser { file };
    let root = p.object(&json, "<root>")?;
    // A single test at the top level, named after the file.
    if root.contains_key("pre") || root.contains_key("transaction") || root.contains_key("env") {
        let name: String = file.file_stem().map_or_else(|| "fixture".into(), |s| s.to_string_lossy().into());
        return Ok(vec![p.case(&name, root, "", spec)?]);
    }
    if root.is_empty() {
        return Err(FixtureError::Empty { file: file.to_owned() });
    }
    root.iter()
        .map(|(name, test)| {
            let test = p.object(test, name)?;
            p.case(name, test, &format!("{name}."), spec)
        })
        .collect()
}

/// Reads typed values out of a fixture's JSON, naming the file and field on error.
struct Parser<'a> {
    file: &'a Path,
}

impl Parser<'_> {
    fn case(
        &self,
        name: &str,
        test: &Map<String, Value>,
        prefix: &str,
        spec_override: Option<SpecId>,
    ) -> Result<Case, FixtureError> {
        let field = |f: &str| format!("{prefix}{f}");
        let env = self.object(self.required(test, prefix, "env")?, &field("env"))?;
        let pre = self.object(self.required(test, prefix, "pre")?, &field("pre"))?;
        let (tx, tx_path) = self.transaction(self.required(test, prefix, "transaction")?, &field("transaction"))?;

        let config = match test.get("config") {
            Some(v) => Some(self.object(v, &field("config"))?),
            None => None,
        };
        let mut spec = DEFAULT_SPEC;
        let mut chain_id = 1;
        let network = [("config.network", "network"), ("config.fork", "fork")]
            .into_iter()
            .find_map(|(path, key)| config.and_then(|c| c.get(key)).map(|v| (path, v)))
            .or_else(|| test.get("network").map(|v| ("network", v)));
        if let Some((path, value)) = network {
            let path = field(path);
            let text = self.str(value, &path)?;
            spec = crate::fork::parse(text).ok_or_else(|| self.bad(&path, text, "a known spec name"))?;
        }
        if let Some(config) = config
            && let Some(v) = config.get("chainid")
        {
            chain_id = self.u64(v, &field("config.chainid"))?;
        }
        let spec = spec_override.unwrap_or(spec);

        let block = self.block(env, &field("env"), spec)?;
        let mut db = CacheDB::new(EmptyDB::default());
        for (address, account) in pre {
            let path = field(&format!("pre.{address}"));
            let addr = self.address(address, &path)?;
            let account = self.object(account, &path)?;
            let balance =
                self.u256(self.required(account, &format!("{path}."), "balance")?, &format!("{path}.balance"))?;
            let nonce = match account.get("nonce") {
                Some(v) => self.u64(v, &format!("{path}.nonce"))?,
                None => 0,
            };
            let code = match account.get("code") {
                Some(v) => self.bytes(v, &format!("{path}.code"))?,
                None => Bytes::new(),
            };
            let mut info = if code.is_empty() {
                AccountInfo::from_balance(balance)
            } else {
                AccountInfo { balance, ..AccountInfo::from_bytecode(Bytecode::new_raw(code)) }
            };
            info.nonce = nonce;
            db.insert_account_info(addr, info);
            if let Some(storage) = account.get("storage") {
                let spath = format!("{path}.storage");
                for (key, value) in self.object(storage, &spath)? {
                    let kpath = format!("{spath}.{key}");
                    let slot = self.u256_str(key, &kpath)?;
                    let value = self.u256(value, &kpath)?;
                    db.insert_account_storage(addr, slot, value)
                        .expect("inserting storage into a CacheDB<EmptyDB> cannot fail");
                }
            }
        }
        Ok(Case {
            name: name.to_owned(),
            source: Some(self.file.to_owned()),
            spec,
            chain_id,
            block,
            db,
            tx: self.tx_env(tx, &tx_path, chain_id)?,
        })
    }

    fn block(&self, env: &Map<String, Value>, path: &str, spec: SpecId) -> Result<BlockEnv, FixtureError> {
        let prefix = format!("{path}.");
        let f = |name: &str| format!("{prefix}{name}");
        let opt = |name: &str| env.get(name);
        let mut block = BlockEnv {
            beneficiary: self.address_value(self.required(env, &prefix, "currentCoinbase")?, &f("currentCoinbase"))?,
            gas_limit: self.u64(self.required(env, &prefix, "currentGasLimit")?, &f("currentGasLimit"))?,
            number: self.u256(self.required(env, &prefix, "currentNumber")?, &f("currentNumber"))?,
            timestamp: self.u256(self.required(env, &prefix, "currentTimestamp")?, &f("currentTimestamp"))?,
            basefee: match opt("currentBaseFee") {
                Some(v) => self.u64(v, &f("currentBaseFee"))?,
                None => 0,
            },
            ..BlockEnv::default()
        };
        if let Some(v) = opt("currentDifficulty") {
            block.difficulty = self.u256(v, &f("currentDifficulty"))?;
        }
        block.prevrandao = Some(match opt("currentRandom") {
            Some(v) => B256::from(self.u256(v, &f("currentRandom"))?),
            None => B256::from(block.difficulty),
        });
        let excess = match opt("currentExcessBlobGas") {
            Some(v) => self.u64(v, &f("currentExcessBlobGas"))?,
            None => 0,
        };
        let fraction = if spec.is_enabled_in(SpecId::PRAGUE) {
            revm::primitives::eip4844::BLOB_BASE_FEE_UPDATE_FRACTION_PRAGUE
        } else {
            revm::primitives::eip4844::BLOB_BASE_FEE_UPDATE_FRACTION_CANCUN
        };
        block.set_blob_excess_gas_and_price(excess, fraction);
        Ok(block)
    }

    /// The transaction object (itself, or the first element of a list) and its path.
    fn transaction<'v>(&self, v: &'v Value, path: &str) -> Result<(&'v Map<String, Value>, String), FixtureError> {
        match v {
            Value::Array(items) => match items.first() {
                Some(first) => {
                    let path = format!("{path}[0]");
                    Ok((self.object(first, &path)?, path))
                }
                None => Err(self.bad(path, "[]", "a non-empty list of transactions")),
            },
            other => Ok((self.object(other, path)?, path.to_owned())),
        }
    }

    fn tx_env(&self, tx: &Map<String, Value>, path: &str, chain_id: u64) -> Result<TxEnv, FixtureError> {
        let prefix = format!("{path}.");
        let f = |name: &str| format!("{prefix}{name}");
        if tx.contains_key("authorizationList") {
            return Err(FixtureError::Unsupported { file: self.file.to_owned(), field: f("authorizationList") });
        }
        let caller = match (tx.get("sender"), tx.get("secretKey")) {
            (Some(v), _) => self.address_value(v, &f("sender"))?,
            (None, Some(v)) => {
                let key = self.bytes(v, &f("secretKey"))?;
                revm_statetest_types::recover_address(&key).ok_or_else(|| {
                    self.bad(&f("secretKey"), &hex::encode_prefixed(&key), "a valid secp256k1 secret key")
                })?
            }
            (None, None) => return Err(self.missing(&f("sender"))),
        };
        let kind = match self.required(tx, &prefix, "to")? {
            Value::String(s) if s.is_empty() => TxKind::Create,
            Value::Null => TxKind::Create,
            v => TxKind::Call(self.address_value(v, &f("to"))?),
        };
        let data = {
            let (v, path) = self.first(self.required(tx, &prefix, "data")?, &f("data"))?;
            self.bytes(v, &path)?
        };
        let gas_limit = {
            let (v, path) = self.first(self.required(tx, &prefix, "gasLimit")?, &f("gasLimit"))?;
            self.u64(v, &path)?
        };
        let value = {
            let (v, path) = self.first(self.required(tx, &prefix, "value")?, &f("value"))?;
            self.u256(v, &path)?
        };
        let nonce = match tx.get("nonce") {
            Some(v) => self.u64(v, &f("nonce"))?,
            None => 0,
        };
        let (gas_price, gas_priority_fee) = match (tx.get("gasPrice"), tx.get("maxFeePerGas")) {
            (Some(v), _) => (self.u128(v, &f("gasPrice"))?, None),
            (None, Some(v)) => {
                let priority = match tx.get("maxPriorityFeePerGas") {
                    Some(p) => self.u128(p, &f("maxPriorityFeePerGas"))?,
                    None => 0,
                };
                (self.u128(v, &f("maxFeePerGas"))?, Some(priority))
            }
            (None, None) => (0, None),
        };
        // `accessLists` is indexed like `data` (a list of access lists); `accessList` is one.
        let access_list = match (tx.get("accessLists"), tx.get("accessList")) {
            (Some(v), _) => {
                let (list, path) = self.first(v, &f("accessLists"))?;
                Some(self.access_list(list, &path)?)
            }
            (None, Some(v)) => Some(self.access_list(v, &f("accessList"))?),
            (None, None) => None,
        };
        let blob_hashes = match tx.get("blobVersionedHashes") {
            Some(v) => self
                .array(v, &f("blobVersionedHashes"))?
                .iter()
                .enumerate()
                .map(|(i, h)| self.b256(h, &format!("{}[{i}]", f("blobVersionedHashes"))))
                .collect::<Result<Vec<_>, _>>()?,
            None => Vec::new(),
        };
        let max_fee_per_blob_gas = match tx.get("maxFeePerBlobGas") {
            Some(v) => self.u128(v, &f("maxFeePerBlobGas"))?,
            None => 0,
        };
        let mut env = TxEnv {
            caller,
            gas_limit,
            gas_price,
            kind,
            value,
            data,
            nonce,
            chain_id: Some(chain_id),
            gas_priority_fee,
            access_list: access_list.clone().unwrap_or_default(),
            blob_hashes,
            max_fee_per_blob_gas,
            ..TxEnv::default()
        };
        env.derive_tx_type().map_err(|e| self.bad(path, &e.to_string(), "a consistent transaction"))?;
        // An explicit (possibly empty) access list makes a legacy-priced tx an EIP-2930 tx.
        if access_list.is_some() && env.tx_type == 0 {
            env.tx_type = 1;
        }
        Ok(env)
    }

    fn access_list(&self, v: &Value, path: &str) -> Result<AccessList, FixtureError> {
        if v.is_null() {
            return Ok(AccessList::default());
        }
        let items = self.array(v, path)?;
        let mut list = Vec::with_capacity(items.len());
        for (i, item) in items.iter().enumerate() {
            let ipath = format!("{path}[{i}]");
            let item = self.object(item, &ipath)?;
            let address =
                self.address_value(self.required(item, &format!("{ipath}."), "address")?, &format!("{ipath}.address"))?;
            let keys_path = format!("{ipath}.storageKeys");
            let storage_keys = self
                .array(self.required(item, &format!("{ipath}."), "storageKeys")?, &keys_path)?
                .iter()
                .enumerate()
                .map(|(k, key)| self.b256(key, &format!("{keys_path}[{k}]")))
                .collect::<Result<_, _>>()?;
            list.push(AccessListItem { address, storage_keys });
        }
        Ok(AccessList(list))
    }

    // --- typed accessors ------------------------------------------------------------

    fn required<'v>(&self, obj: &'v Map<String, Value>, prefix: &str, key: &str) -> Result<&'v Value, FixtureError> {
        obj.get(key).ok_or_else(|| self.missing(&format!("{prefix}{key}")))
    }

    /// A state-test "indexed" field (a scalar, or the first element of a list) and its
    /// path.
    fn first<'v>(&self, v: &'v Value, path: &str) -> Result<(&'v Value, String), FixtureError> {
        match v {
            Value::Array(items) => items
                .first()
                .map(|first| (first, format!("{path}[0]")))
                .ok_or_else(|| self.bad(path, "[]", "a non-empty list")),
            other => Ok((other, path.to_owned())),
        }
    }

    fn object<'v>(&self, v: &'v Value, path: &str) -> Result<&'v Map<String, Value>, FixtureError> {
        v.as_object().ok_or_else(|| self.wrong_type(path, "an object", v))
    }

    fn array<'v>(&self, v: &'v Value, path: &str) -> Result<&'v Vec<Value>, FixtureError> {
        v.as_array().ok_or_else(|| self.wrong_type(path, "a list", v))
    }

    fn str<'v>(&self, v: &'v Value, path: &str) -> Result<&'v str, FixtureError> {
        v.as_str().ok_or_else(|| self.wrong_type(path, "a string", v))
    }

    /// Hex digits after a mandatory `0x`.
    fn hex_digits<'v>(&self, text: &'v str, path: &str, expected: &'static str) -> Result<&'v str, FixtureError> {
        let digits = text.strip_prefix("0x").or_else(|| text.strip_prefix("0X"));
        match digits {
            Some(d) if d.bytes().all(|b| b.is_ascii_hexdigit()) => Ok(d),
            _ => Err(self.bad(path, text, expected)),
        }
    }

    fn u256_str(&self, text: &str, path: &str) -> Result<U256, FixtureError> {
        const EXPECTED: &str = "a 0x-prefixed hex number below 2^256";
        let digits = self.hex_digits(text, path, EXPECTED)?;
        if digits.is_empty() {
            return Err(self.bad(path, text, EXPECTED));
        }
        U256::from_str_radix(digits, 16).map_err(|_| self.bad(path, text, EXPECTED))
    }

    fn u256(&self, v: &Value, path: &str) -> Result<U256, FixtureError> {
        self.u256_str(self.str(v, path)?, path)
    }

    fn u64(&self, v: &Value, path: &str) -> Result<u64, FixtureError> {
        let text = self.str(v, path)?;
        u64::try_from(self.u256_str(text, path)?).map_err(|_| self.bad(path, text, "a 64-bit number"))
    }

    fn u128(&self, v: &Value, path: &str) -> Result<u128, FixtureError> {
        let text = self.str(v, path)?;
        u128::try_from(self.u256_str(text, path)?).map_err(|_| self.bad(path, text, "a 128-bit number"))
    }

    fn bytes(&self, v: &Value, path: &str) -> Result<Bytes, FixtureError> {
        const EXPECTED: &str = "0x-prefixed hex bytes";
        let text = self.str(v, path)?;
        let digits = self.hex_digits(text, path, EXPECTED)?;
        decode_hex(digits).map(Bytes::from).ok_or_else(|| self.bad(path, text, EXPECTED))
    }

    fn b256(&self, v: &Value, path: &str) -> Result<B256, FixtureError> {
        let text = self.str(v, path)?;
        let bytes = self.bytes(v, path)?;
        B256::try_from(bytes.as_ref()).map_err(|_| self.bad(path, text, "a 32-byte hex value"))
    }

    fn address(&self, text: &str, path: &str) -> Result<Address, FixtureError> {
        const EXPECTED: &str = "a 20-byte 0x-prefixed hex address";
        let digits = self.hex_digits(text, path, EXPECTED)?;
        decode_hex(digits)
            .and_then(|b| Address::try_from(b.as_slice()).ok())
            .ok_or_else(|| self.bad(path, text, EXPECTED))
    }

    fn address_value(&self, v: &Value, path: &str) -> Result<Address, FixtureError> {
        self.address(self.str(v, path)?, path)
    }

    // --- errors -----------------------------------------------------------------------

    fn missing(&self, field: &str) -> FixtureError {
        FixtureError::MissingField { file: self.file.to_owned(), field: field.to_owned() }
    }

    fn wrong_type(&self, field: &str, expected: &'static str, found: &Value) -> FixtureError {
        let found = match found {
            Value::Null => "null",
            Value::Bool(_) => "a boolean",
            Value::Number(_) => "a number",
            Value::String(_) => "a string",
            Value::Array(_) => "a list",
            Value::Object(_) => "an object",
        };
        FixtureError::WrongType { file: self.file.to_owned(), field: field.to_owned(), expected, found }
    }

    fn bad(&self, field: &str, value: &str, expected: &'static str) -> FixtureError {
        let value =
            if value.len() > 80 { format!("{}…", &value[..value.floor_char_boundary(80)]) } else { value.to_owned() };
        FixtureError::BadValue { file: self.file.to_owned(), field: field.to_owned(), value, expected }
    }
}

/// Decodes an even number of hex digits (no prefix).
fn decode_hex(digits: &str) -> Option<Vec<u8>> {
    hex::decode(digits).ok()
}
