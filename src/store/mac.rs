//! Authentication of artifacts in a shared store: HMAC-SHA256 with a key only trusted writers
//! hold (see [`super::DiskStore::with_mac_key`]).

use hmac::{Hmac, Mac};
use revm::primitives::hex;
use sha2::Sha256;
use std::{io, path::Path};

/// The smallest key accepted: shorter keys can be guessed.
const MIN_KEY_BYTES: usize = 16;

/// A secret key that authenticates a store's artifacts. Its bytes never appear in `Debug`
/// output or errors.
#[derive(Clone)]
pub struct MacKey(Vec<u8>);

impl std::fmt::Debug for MacKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("MacKey(..)")
    }
}

/// Why a key could not be used.
#[derive(Debug, thiserror::Error)]
pub enum MacKeyError {
    /// The key file could not be read.
    #[error("cannot read the key file {}: {source}", path.display())]
    Unreadable {
        /// The key file.
        path: std::path::PathBuf,
        /// The operating system's error.
        source: io::Error,
    },
    /// The key is too short to be secret.
    #[error("the key is {0} bytes; at least {MIN_KEY_BYTES} are needed")]
    TooShort(usize),
}

impl MacKey {
    /// A key from raw bytes (at least 16).
    pub fn new(bytes: impl Into<Vec<u8>>) -> Result<Self, MacKeyError> {
        let bytes = bytes.into();
        if bytes.len() < MIN_KEY_BYTES {
            return Err(MacKeyError::TooShort(bytes.len()));
        }
        Ok(Self(bytes))
    }

    /// The key in a file: its bytes, without trailing white space (so that a key written by
    /// `echo` or an editor works the same).
    pub fn from_file(path: &Path) -> Result<Self, MacKeyError> {
        let mut bytes =
            std::fs::read(path).map_err(|source| MacKeyError::Unreadable { path: path.to_owned(), source })?;
        while bytes.last().is_some_and(u8::is_ascii_whitespace) {
            bytes.pop();
        }
        Self::new(bytes)
    }

    fn mac(&self) -> Hmac<Sha256> {
        Hmac::<Sha256>::new_from_slice(&self.0).expect("HMAC accepts keys of any length")
    }

    /// The MAC of `message`, in hex.
    pub(crate) fn sign(&self, message: &[u8]) -> String {
        let mut mac = self.mac();
        mac.update(message);
        hex::encode(mac.finalize().into_bytes())
    }

    /// Whether `tag` (hex) is the MAC of `message`; compared in constant time.
    pub(crate) fn verify(&self, message: &[u8], tag: &str) -> bool {
        let Ok(tag) = hex::decode(tag) else { return false };
        let mut mac = self.mac();
        mac.update(message);
        mac.verify_slice(&tag).is_ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn macs_verify_only_with_the_key_and_message() {
        let key = MacKey::new(*b"0123456789abcdef").unwrap();
        let tag = key.sign(b"manifest");
        assert!(key.verify(b"manifest", &tag));
        assert!(!key.verify(b"manifesT", &tag));
        assert!(!MacKey::new(*b"0123456789abcdeF").unwrap().verify(b"manifest", &tag));
        assert!(!key.verify(b"manifest", "zz"));
        assert!(matches!(MacKey::new(*b"short"), Err(MacKeyError::TooShort(5))));
        assert_eq!(format!("{key:?}"), "MacKey(..)");
    }
}
