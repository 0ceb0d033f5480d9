//! The two digests a state test checks: the post-state root and the logs hash.
//!
//! The state root is the root of the Merkle-Patricia trie keyed by `keccak(address)`
//! whose values are the RLP of `[nonce, balance, storage_root, code_hash]`; each storage
//! root is the trie keyed by `keccak(slot)` of the RLP of the non-zero slot values. The
//! tries are built with alloy-trie's [`HashBuilder`], which needs its leaves in key order.
//! The logs hash is `keccak(rlp([log, …]))` with `log = [address, [topic, …], data]`.

use alloy_rlp::{Encodable, Header};
use alloy_trie::{HashBuilder, Nibbles};
use revm::{
    database::{CacheState, PlainAccount},
    primitives::{B256, Log, U256, keccak256},
};

/// The state root of every account that exists in `cache` (accounts loaded as absent,
/// or destroyed, are left out).
pub fn state_root(cache: &CacheState) -> B256 {
    let mut leaves: Vec<(B256, Vec<u8>)> =
        cache.trie_account().into_iter().map(|(address, account)| (keccak256(address), account_rlp(account))).collect();
    trie_root(&mut leaves)
}

/// The storage root of the non-zero slots of `storage`.
pub fn storage_root<'a>(storage: impl IntoIterator<Item = (&'a U256, &'a U256)>) -> B256 {
    let mut leaves: Vec<(B256, Vec<u8>)> = storage
        .into_iter()
        .filter(|(_, value)| !value.is_zero())
        .map(|(slot, value)| (keccak256(slot.to_be_bytes::<32>()), alloy_rlp::encode(value)))
        .collect();
    trie_root(&mut leaves)
}

/// RLP of an account as stored in the state trie.
fn account_rlp(account: &PlainAccount) -> Vec<u8> {
    let storage_root = storage_root(&account.storage);
    let info = &account.info;
    let payload_length = info.nonce.length() + info.balance.length() + storage_root.length() + info.code_hash.length();
    let mut out = Vec::with_capacity(payload_length + 4);
    Header { list: true, payload_length }.encode(&mut out);
    info.nonce.encode(&mut out);
    info.balance.encode(&mut out);
    storage_root.encode(&mut out);
    info.code_hash.encode(&mut out);
    out
}

/// Root of the trie of `leaves` (hashed key, RLP value); sorts them first.
fn trie_root(leaves: &mut [(B256, Vec<u8>)]) -> B256 {
    leaves.sort_unstable_by_key(|leaf| leaf.0);
    let mut builder = HashBuilder::default();
    for (key, value) in leaves.iter() {
        builder.add_leaf(Nibbles::unpack(key), value);
    }
    builder.root()
}

/// `keccak(rlp(logs))`, the logs hash of a state test's post-state.
pub fn logs_hash(logs: &[Log]) -> B256 {
    let encoded: Vec<Vec<u8>> = logs.iter().map(log_rlp).collect();
    let payload_length = encoded.iter().map(Vec::len).sum();
    let mut out = Vec::with_capacity(payload_length + 9);
    Header { list: true, payload_length }.encode(&mut out);
    for log in &encoded {
        out.extend_from_slice(log);
    }
    keccak256(&out)
}

/// RLP of one log: `[address, [topic, …], data]`.
fn log_rlp(log: &Log) -> Vec<u8> {
    let topics = log.data.topics();
    let topics_length: usize = topics.iter().map(Encodable::length).sum();
    let topics_header = Header { list: true, payload_length: topics_length };
    let data = &log.data.data;
    let payload_length = log.address.length() + topics_header.length() + topics_length + data.length();
    let mut out = Vec::with_capacity(payload_length + 9);
    Header { list: true, payload_length }.encode(&mut out);
    log.address.encode(&mut out);
    topics_header.encode(&mut out);
    for topic in topics {
        topic.encode(&mut out);
    }
    data.encode(&mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use revm::primitives::{Address, Bytes, LogData, b256};

    #[test]
    fn empty_digests() {
        // Well-known constants: the empty trie root and keccak(rlp([])).
        assert_eq!(
            state_root(&CacheState::new()),
            b256!("56e81f171bcc55a6ff8345e692c0f86e5b48e01b996cadc001622fb5e363b421")
        );
        assert_eq!(logs_hash(&[]), b256!("1dcc4de8dec75d7aab85b567b6ccd41ad312451b948a7413f0a142fd40d49347"));
    }

    #[test]
    fn log_encoding_matches_alloy() {
        let log = Log {
            address: Address::repeat_byte(0x11),
            data: LogData::new_unchecked(
                vec![B256::repeat_byte(1), B256::repeat_byte(2)],
                Bytes::from_static(&[1, 2, 3]),
            ),
        };
        let mut expected = Vec::new();
        log.encode(&mut expected);
        assert_eq!(log_rlp(&log), expected);
    }
}
