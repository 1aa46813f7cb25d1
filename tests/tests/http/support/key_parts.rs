//! A key taken apart by its structure, `<prefix>_<key id>_<secret><checksum>`, and tampered copies
//! built from the parts, so that no test slices a key at fixed offsets.

/// Length of the public key id.
const KEY_ID_LEN: usize = 12;
/// Length of the secret.
const SECRET_LEN: usize = 43;
/// Length of the checksum, which directly follows the secret.
const CHECKSUM_LEN: usize = 6;

/// The parts of a key, borrowed from it.
#[derive(Debug, Clone, Copy)]
pub struct KeyParts<'a> {
    pub prefix: &'a str,
    pub key_id: &'a str,
    pub secret: &'a str,
    pub checksum: &'a str,
}

impl<'a> KeyParts<'a> {
    /// Splits `key` from the right, so a prefix holding `_` stays whole: the last `_` ends the key
    /// id, the one before it ends the prefix. Panics if `key` is not shaped like a key.
    pub fn of(key: &'a str) -> Self {
        let shaped =
            |part: &str, len| part.len() == len && part.bytes().all(|b| b.is_ascii_alphanumeric());
        let (head, tail) = key.rsplit_once('_').expect("a key has `_` separators");
        let (prefix, key_id) = head.rsplit_once('_').expect("a key has a prefix");
        assert!(
            shaped(key_id, KEY_ID_LEN),
            "not a {KEY_ID_LEN}-character key id"
        );
        assert!(
            shaped(tail, SECRET_LEN + CHECKSUM_LEN),
            "not a {SECRET_LEN}-character secret and {CHECKSUM_LEN}-character checksum"
        );
        let (secret, checksum) = tail.split_at(SECRET_LEN);
        KeyParts {
            prefix,
            key_id,
            secret,
            checksum,
        }
    }

    /// A typo in the secret, the checksum left as minted: caught by the checksum alone.
    pub fn with_typo(&self) -> String {
        let KeyParts { prefix, key_id, .. } = self;
        format!(
            "{prefix}_{key_id}_{}{}",
            mistyped(self.secret),
            self.checksum
        )
    }

    /// This key's id with `secret`, under a checksum that matches: well-formed, so only the
    /// store lookup and hash comparison can reject it.
    pub fn with_secret(&self, secret: &str) -> String {
        assemble(self.prefix, self.key_id, secret)
    }

    /// [`with_secret`](Self::with_secret) with one character of this key's secret changed.
    pub fn with_changed_secret(&self) -> String {
        self.with_secret(&mistyped(self.secret))
    }

    /// This key's secret under `key_id`, with a checksum that matches.
    pub fn with_key_id(&self, key_id: &str) -> String {
        assemble(self.prefix, key_id, self.secret)
    }
}

/// `<prefix>_<key id>_<secret>` followed by its checksum.
fn assemble(prefix: &str, key_id: &str, secret: &str) -> String {
    let body = format!("{prefix}_{key_id}_{secret}");
    let checksum = checksum(&body);
    body + &checksum
}

/// `text` with its first character changed to another base62 character.
fn mistyped(text: &str) -> String {
    let first = if text.starts_with('a') { "b" } else { "a" };
    format!("{first}{}", &text[1..])
}

/// CRC32 in six base62 digits, as the key format defines it (independently re-implemented).
fn checksum(body: &str) -> String {
    const BASE62: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    let mut crc: u32 = 0xFFFF_FFFF;
    for byte in body.bytes() {
        crc ^= u32::from(byte);
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0xEDB8_8320
            } else {
                crc >> 1
            };
        }
    }
    let mut crc = !crc;
    let mut out = [b'0'; CHECKSUM_LEN];
    for digit in out.iter_mut().rev() {
        *digit = BASE62[(crc % 62) as usize];
        crc /= 62;
    }
    String::from_utf8(out.to_vec()).unwrap()
}

#[cfg(test)]
mod tests {
    use super::KeyParts;
    use crate::sql_support::Probe;
    use keygate::{KeyGate, MemoryStore};

    #[tokio::test]
    async fn parts_rebuild_the_key_and_each_tampered_copy_fails_where_it_claims() {
        let store = Probe::new(MemoryStore::new());
        // A prefix holding `_` must stay whole.
        let gate = KeyGate::builder()
            .prefix("acme_live")
            .store(store.clone())
            .build();
        let key = gate.mint_test_key(["items:read"]).await;
        let parts = KeyParts::of(&key);
        assert_eq!(parts.prefix, "acme_live");
        assert_eq!(
            parts.with_secret(parts.secret),
            key,
            "the format's checksum"
        );
        assert_eq!(parts.with_key_id(parts.key_id), key);
        let code = |key: String| {
            let gate = gate.clone();
            async move { gate.verify(&key).await.unwrap_err().code() }
        };

        let before = store.fetches();
        assert_eq!(code(parts.with_typo()).await, "invalid_api_key");
        assert_eq!(
            store.fetches(),
            before,
            "a typo is caught by the checksum alone"
        );
        assert_eq!(code(parts.with_changed_secret()).await, "invalid_api_key");
        assert_eq!(
            store.fetches(),
            before + 1,
            "a changed secret is well-formed"
        );
    }
}
