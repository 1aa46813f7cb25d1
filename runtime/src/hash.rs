//! Hashing secrets for storage.
//!
//! A key's secret carries 256 bits of entropy, so a fast hash is the right tool: nothing can be
//! brute-forced, and a password hash (bcrypt, argon2) would add ~100 ms to every request for no
//! gain. With a server-held pepper the hash is HMAC-SHA-256, so a stolen database alone cannot even
//! confirm a guessed key.

use std::fmt;

use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// The scheme a stored hash was made with, kept beside the hash so the scheme can change later
/// without invalidating keys already issued.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub enum HashVersion {
    /// SHA-256 of the secret: used when no pepper is configured.
    Sha256,
    /// HMAC-SHA-256 of the secret under the server's pepper.
    HmacSha256,
}

impl HashVersion {
    /// The number stored in the `hash_version` column.
    pub fn as_i64(self) -> i64 {
        match self {
            HashVersion::Sha256 => 1,
            HashVersion::HmacSha256 => 2,
        }
    }

    /// The scheme stored as `n`, if keygate knows it.
    pub fn from_i64(n: i64) -> Option<Self> {
        match n {
            1 => Some(HashVersion::Sha256),
            2 => Some(HashVersion::HmacSha256),
            _ => None,
        }
    }
}

/// A stored secret hash: the digest and the scheme that made it. `Debug` prints neither byte.
#[derive(Clone, PartialEq, Eq)]
pub struct KeyHash {
    /// The scheme that produced `digest`.
    pub version: HashVersion,
    /// The 32-byte digest.
    pub digest: [u8; 32],
}

impl fmt::Debug for KeyHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeyHash")
            .field("version", &self.version)
            .field("digest", &"[redacted]")
            .finish()
    }
}

/// `bytes` as lowercase hex: stored digests, secret-scanning feedback, console tokens.
pub(crate) fn hex(bytes: &[u8]) -> String {
    use fmt::Write;
    bytes
        .iter()
        .fold(String::with_capacity(bytes.len() * 2), |mut out, byte| {
            let _ = write!(out, "{byte:02x}");
            out
        })
}

impl KeyHash {
    /// The digest as 64 lowercase hex characters, the form SQL stores keep.
    pub fn digest_hex(&self) -> String {
        hex(&self.digest)
    }

    /// Reads a digest written by [`digest_hex`](Self::digest_hex).
    pub fn from_hex(version: HashVersion, hex: &str) -> Option<Self> {
        // Digits and letters only: `from_str_radix` alone would also take a sign (`+f`).
        if hex.len() != 64 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
            return None;
        }
        let mut digest = [0u8; 32];
        for (i, byte) in digest.iter_mut().enumerate() {
            *byte = u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).ok()?;
        }
        Some(KeyHash { version, digest })
    }
}

/// Hashes secrets for one `KeyGate`. Holds the pepper already keyed into an HMAC state, so each
/// verification costs two SHA-256 blocks, not four.
#[derive(Clone)]
pub(crate) struct SecretHasher {
    peppered: Option<Hmac<Sha256>>,
}

impl fmt::Debug for SecretHasher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SecretHasher")
            .field("pepper", &self.peppered.as_ref().map(|_| "[redacted]"))
            .finish()
    }
}

impl SecretHasher {
    pub(crate) fn new(pepper: Option<&[u8]>) -> Self {
        SecretHasher {
            // HMAC accepts keys of any length, so this cannot fail.
            peppered: pepper.and_then(|p| Hmac::<Sha256>::new_from_slice(p).ok()),
        }
    }

    /// The scheme new hashes are made with: peppered when a pepper is configured.
    fn new_version(&self) -> HashVersion {
        if self.peppered.is_some() {
            HashVersion::HmacSha256
        } else {
            HashVersion::Sha256
        }
    }

    /// The hash a new key gets: peppered when a pepper is configured.
    pub(crate) fn hash_new(&self, secret: &str) -> KeyHash {
        let version = self.new_version();
        KeyHash {
            version,
            // `hash_new` picks a version this hasher supports.
            digest: self.digest(version, secret).unwrap_or_default(),
        }
    }

    /// The digest of `secret` under `version`, or `None` when this server has no pepper but the
    /// stored hash was peppered (a configuration error, not the client's).
    pub(crate) fn digest(&self, version: HashVersion, secret: &str) -> Option<[u8; 32]> {
        match version {
            HashVersion::Sha256 => Some(Sha256::digest(secret.as_bytes()).into()),
            HashVersion::HmacSha256 => {
                let mut mac = self.peppered.clone()?;
                mac.update(secret.as_bytes());
                Some(mac.finalize().into_bytes().into())
            }
        }
    }

    /// Whether a key stored as `stored` should be upgraded once its secret matches: this hasher
    /// has a pepper and `stored` was made without one.
    pub(crate) fn would_upgrade(&self, stored: &KeyHash) -> bool {
        stored.version == HashVersion::Sha256 && self.peppered.is_some()
    }

    /// The hash `secret` should be stored under instead of `stored`, when this hasher has a
    /// pepper and `stored` was made without one. Call it only once `secret` has matched.
    pub(crate) fn upgrade(&self, stored: &KeyHash, secret: &str) -> Option<KeyHash> {
        if self.would_upgrade(stored) {
            Some(self.hash_new(secret))
        } else {
            None
        }
    }

    /// Does the work of checking `secret` against a hash that does not exist, so an unknown key
    /// id is answered after the same work as a known id with a wrong secret.
    pub(crate) fn check_against_nothing(&self, secret: &str) {
        let decoy = KeyHash {
            version: self.new_version(),
            digest: [0; 32],
        };
        std::hint::black_box(self.matches(&decoy, std::hint::black_box(secret)));
    }

    /// Whether this hasher has a pepper.
    pub(crate) fn is_peppered(&self) -> bool {
        self.peppered.is_some()
    }

    /// Whether `secret` matches `stored`, compared in constant time.
    pub(crate) fn matches(&self, stored: &KeyHash, secret: &str) -> Option<bool> {
        let digest = self.digest(stored.version, secret)?;
        Some(digests_equal(&digest, &stored.digest))
    }
}

/// Compares two digests in constant time, a 64-bit word at a time: the differences of all four
/// words are folded together without a branch, and only the folded word is compared, through
/// `subtle` so the compiler cannot turn it into an early exit. `subtle`'s byte-wise comparison of
/// arrays does the same work 32 times over.
fn digests_equal(a: &[u8; 32], b: &[u8; 32]) -> bool {
    let word = |d: &[u8; 32], i: usize| {
        let mut bytes = [0u8; 8];
        bytes.copy_from_slice(&d[i * 8..i * 8 + 8]);
        u64::from_ne_bytes(bytes)
    };
    let difference = (0..4).fold(0u64, |acc, i| acc | (word(a, i) ^ word(b, i)));
    bool::from(difference.ct_eq(&0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digests_are_equal_only_when_every_byte_is() {
        let a = [7u8; 32];
        assert!(digests_equal(&a, &a.clone()));
        for i in 0..32 {
            for bit in [0x01, 0x80] {
                let mut b = a;
                b[i] ^= bit;
                assert!(!digests_equal(&a, &b), "byte {i}, bit {bit:#x}");
            }
        }
    }

    #[test]
    fn pepper_changes_the_hash_and_is_required_to_check_it() {
        let plain = SecretHasher::new(None);
        let peppered = SecretHasher::new(Some(b"pepper"));
        let a = plain.hash_new("secret");
        let b = peppered.hash_new("secret");
        assert_eq!(a.version, HashVersion::Sha256);
        assert_eq!(b.version, HashVersion::HmacSha256);
        assert_ne!(a.digest, b.digest);
        assert_eq!(plain.matches(&a, "secret"), Some(true));
        assert_eq!(plain.matches(&a, "secreT"), Some(false));
        assert_eq!(peppered.matches(&b, "secret"), Some(true));
        assert_eq!(
            peppered.matches(&a, "secret"),
            Some(true),
            "old SHA-256 keys keep working"
        );
        assert_eq!(plain.matches(&b, "secret"), None);
        let other = SecretHasher::new(Some(b"other pepper"));
        assert_eq!(other.matches(&b, "secret"), Some(false));
    }

    #[test]
    fn hex_round_trips_and_debug_redacts() {
        let hash = SecretHasher::new(None).hash_new("secret");
        let hex = hash.digest_hex();
        assert_eq!(KeyHash::from_hex(hash.version, &hex), Some(hash.clone()));
        assert!(KeyHash::from_hex(hash.version, "zz").is_none());
        let printed = format!("{hash:?}");
        assert!(!printed.contains(&hex[..8]), "{printed}");
        // Still useful in a log: which scheme, and that a digest is there.
        assert!(printed.contains("Sha256"), "{printed}");
        assert!(printed.contains("[redacted]"), "{printed}");
    }

    #[test]
    fn debug_of_a_hasher_says_whether_it_has_a_pepper_but_not_the_pepper() {
        let peppered = format!("{:?}", SecretHasher::new(Some(b"pepper-bytes")));
        assert!(peppered.contains("[redacted]"), "{peppered}");
        assert!(!peppered.contains("pepper-bytes"), "{peppered}");
        let plain = format!("{:?}", SecretHasher::new(None));
        assert!(plain.contains("None"), "{plain}");
    }

    #[test]
    fn malformed_hex_from_a_database_row_is_refused_without_panicking() {
        let hex = SecretHasher::new(None).hash_new("secret").digest_hex();
        let version = HashVersion::Sha256;
        let cases = [
            hex[..63].to_owned(),       // truncated
            format!("{hex}00"),         // over-long
            format!("{}é", &hex[..62]), // 64 bytes, not ASCII
            format!("+{}", &hex[1..]),  // a sign `from_str_radix` would take
            format!("{}g", &hex[..63]), // not a hex digit
            String::new(),
        ];
        for bad in cases {
            assert_eq!(KeyHash::from_hex(version, &bad), None, "{bad:?}");
        }
        let upper = hex.to_uppercase();
        assert_eq!(
            KeyHash::from_hex(version, &upper).map(|h| h.digest_hex()),
            Some(hex)
        );
    }

    #[test]
    fn hash_versions_map_to_their_stored_numbers_and_back() {
        for version in [HashVersion::Sha256, HashVersion::HmacSha256] {
            assert_eq!(HashVersion::from_i64(version.as_i64()), Some(version));
        }
        assert_eq!(HashVersion::Sha256.as_i64(), 1);
        assert_eq!(HashVersion::HmacSha256.as_i64(), 2);
        assert_eq!(HashVersion::from_i64(0), None);
        assert_eq!(HashVersion::from_i64(3), None);
    }

    #[test]
    fn only_a_plain_hash_under_a_peppered_hasher_is_upgraded() {
        let plain = SecretHasher::new(None);
        let peppered = SecretHasher::new(Some(b"pepper"));
        let old = plain.hash_new("secret");
        let new = peppered.upgrade(&old, "secret").expect("upgraded");
        assert_eq!(new.version, HashVersion::HmacSha256);
        assert_eq!(peppered.matches(&new, "secret"), Some(true));
        assert_eq!(peppered.upgrade(&new, "secret"), None);
        assert_eq!(plain.upgrade(&old, "secret"), None);
    }
}
