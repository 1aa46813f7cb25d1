//! The key format: `<prefix>_<key id>_<secret><checksum>`.
//!
//! Every character is in `[A-Za-z0-9_]`, so a double-click selects the whole key and secret
//! scanners can match it with one regular expression. The key id is public; the secret is 256 bits
//! from the operating system's random source, written in base62; the checksum is the CRC32 of
//! everything before it, in six base62 characters. The checksum catches typos and random strings
//! before any store is asked; it is not a security control.

use std::fmt;

/// Length of the public key id, in base62 characters (about 71 bits: unique without coordination).
pub(crate) const KEY_ID_LEN: usize = 12;
/// Length of the secret, in base62 characters: 62^43 > 2^256, so 43 uniform characters carry
/// 256 bits.
pub(crate) const SECRET_LEN: usize = 43;
/// Length of the checksum, in base62 characters: 62^6 > 2^32 holds any CRC32.
pub(crate) const CHECKSUM_LEN: usize = 6;
/// Length of everything after `<prefix>_`.
const TAIL_LEN: usize = KEY_ID_LEN + 1 + SECRET_LEN + CHECKSUM_LEN;

const BASE62: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/// Why a presented string is not a well-formed key. Reported to clients as `invalid_api_key`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub(crate) enum FormatError {
    /// The key does not start with this service's `<prefix>_`.
    #[error("the key does not start with the expected prefix")]
    WrongPrefix,
    /// The key has the wrong length or shape.
    #[error("the key is not in the keygate format")]
    Malformed,
    /// The checksum does not match: a typo, a truncated copy or a random string.
    #[error("the key's checksum does not match")]
    BadChecksum,
}

/// Whether `prefix` is usable as a key prefix: non-empty, `[A-Za-z0-9_]`, not starting or ending
/// with `_` (so the key's own separators stay unambiguous).
pub(crate) fn is_valid_prefix(prefix: &str) -> bool {
    !prefix.is_empty()
        && !prefix.starts_with('_')
        && !prefix.ends_with('_')
        && prefix
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

/// A well-formed key, borrowed from the presented string.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) struct ParsedKey<'a> {
    pub(crate) key_id: &'a str,
    pub(crate) secret: &'a str,
}

impl fmt::Debug for ParsedKey<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ParsedKey")
            .field("key_id", &self.key_id)
            .field("secret", &"[redacted]")
            .finish()
    }
}

/// Parses `key` against the configured prefix and checks its checksum. No allocation, no store.
pub(crate) fn parse<'a>(prefix: &str, key: &'a str) -> Result<ParsedKey<'a>, FormatError> {
    let bytes = key.as_bytes();
    if bytes.len() != prefix.len() + 1 + TAIL_LEN {
        return Err(if key.starts_with(prefix) {
            FormatError::Malformed
        } else {
            FormatError::WrongPrefix
        });
    }
    let (head, tail) = bytes.split_at(prefix.len());
    if head != prefix.as_bytes() || tail[0] != b'_' {
        return Err(FormatError::WrongPrefix);
    }
    let tail = &tail[1..];
    if tail[KEY_ID_LEN] != b'_' {
        return Err(FormatError::Malformed);
    }
    let key_id = &tail[..KEY_ID_LEN];
    let secret = &tail[KEY_ID_LEN + 1..KEY_ID_LEN + 1 + SECRET_LEN];
    let checksum = &tail[KEY_ID_LEN + 1 + SECRET_LEN..];
    if !all_alphanumeric(key_id) || !all_alphanumeric(secret) {
        return Err(FormatError::Malformed);
    }
    let body_len = bytes.len() - CHECKSUM_LEN;
    match decode_checksum(checksum) {
        Some(expected) if expected == crc32fast::hash(&bytes[..body_len]) => {}
        Some(_) => return Err(FormatError::BadChecksum),
        None => return Err(FormatError::Malformed),
    }
    // Every byte checked above is ASCII, so these slices fall on character boundaries.
    let start = prefix.len() + 1;
    Ok(ParsedKey {
        key_id: &key[start..start + KEY_ID_LEN],
        secret: &key[start + KEY_ID_LEN + 1..body_len],
    })
}

/// A newly generated key: the full text shown once to its holder, and where its id and secret
/// sit in it, so minting a key never parses what it has just written.
pub(crate) struct GeneratedKey {
    key: String,
    id_start: usize,
}

impl GeneratedKey {
    /// The public key id.
    pub(crate) fn key_id(&self) -> &str {
        &self.key[self.id_start..self.id_start + KEY_ID_LEN]
    }

    /// The secret, to be hashed for storage.
    pub(crate) fn secret(&self) -> &str {
        let start = self.id_start + KEY_ID_LEN + 1;
        &self.key[start..start + SECRET_LEN]
    }

    /// The whole key text.
    pub(crate) fn into_key(self) -> String {
        self.key
    }
}

/// Generates a key with a fresh random id and secret.
pub(crate) fn generate(prefix: &str) -> Result<GeneratedKey, getrandom::Error> {
    let mut key_id = [0u8; KEY_ID_LEN];
    let mut secret = [0u8; SECRET_LEN];
    fill_base62(&mut key_id)?;
    fill_base62(&mut secret)?;
    let mut key = String::with_capacity(prefix.len() + 1 + TAIL_LEN);
    key.push_str(prefix);
    key.push('_');
    // `fill_base62` writes only ASCII alphanumerics, so every slice below is valid UTF-8 and the
    // id and secret ranges fall on character boundaries.
    key.push_str(std::str::from_utf8(&key_id).unwrap_or_default());
    key.push('_');
    key.push_str(std::str::from_utf8(&secret).unwrap_or_default());
    let checksum = encode_checksum(crc32fast::hash(key.as_bytes()));
    key.push_str(std::str::from_utf8(&checksum).unwrap_or_default());
    Ok(GeneratedKey {
        key,
        id_start: prefix.len() + 1,
    })
}

/// Fills `out` with uniformly distributed base62 characters from the OS random source.
///
/// Rejection sampling: bytes at or above 248 (= 4 × 62) are discarded so that `byte % 62` is
/// uniform; a plain modulo would favour the first eight characters.
fn fill_base62(out: &mut [u8]) -> Result<(), getrandom::Error> {
    let mut filled = 0;
    let mut pool = [0u8; 64];
    while filled < out.len() {
        getrandom::fill(&mut pool)?;
        for &byte in &pool {
            if byte < 248 && filled < out.len() {
                out[filled] = BASE62[usize::from(byte % 62)];
                filled += 1;
            }
        }
    }
    Ok(())
}

/// Whether every byte is an ASCII letter or digit. Written without an early exit so the
/// compiler can check many bytes per instruction: this runs on every presented key.
fn all_alphanumeric(bytes: &[u8]) -> bool {
    bytes.iter().fold(true, |ok, &b| {
        let lower = b | 0x20;
        ok & ((b.wrapping_sub(b'0') < 10) | (lower.wrapping_sub(b'a') < 26))
    })
}

/// The value of six base62 digits, or `None` if one is not a base62 digit or the value does not
/// fit a CRC32.
fn decode_checksum(digits: &[u8]) -> Option<u32> {
    let mut value: u64 = 0;
    for &digit in digits {
        let d = match digit {
            b'0'..=b'9' => digit - b'0',
            b'A'..=b'Z' => digit - b'A' + 10,
            b'a'..=b'z' => digit - b'a' + 36,
            _ => return None,
        };
        value = value * 62 + u64::from(d);
    }
    u32::try_from(value).ok()
}

/// CRC32 in six fixed-width base62 digits, most significant first.
fn encode_checksum(mut crc: u32) -> [u8; CHECKSUM_LEN] {
    let mut out = [b'0'; CHECKSUM_LEN];
    for digit in out.iter_mut().rev() {
        *digit = BASE62[(crc % 62) as usize];
        crc /= 62;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const PREFIX: &str = "acme_live";

    fn fresh() -> GeneratedKey {
        generate(PREFIX).expect("OS random source")
    }

    #[test]
    fn generated_key_round_trips() {
        let generated = fresh();
        let parsed = parse(PREFIX, &generated.key).expect("a generated key parses");
        assert_eq!(parsed.key_id, generated.key_id());
        assert_eq!(parsed.secret, generated.secret());
        assert_eq!(parsed.secret.len(), SECRET_LEN);
        assert!(generated.key.starts_with("acme_live_"));
        assert!(
            generated
                .key
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_')
        );
    }

    #[test]
    fn keys_are_unique() {
        let a = fresh();
        let b = fresh();
        assert_ne!(a.key, b.key);
        assert_ne!(a.key_id(), b.key_id());
    }

    #[test]
    fn secret_alphabet_is_used_evenly() {
        // 62 symbols over 430 000 draws: each expected ~6 935 times, give or take ~83. A modulo
        // bias (or accepting one byte too many) puts a symbol 25 % above the rest; a ±10 % band
        // around the mean is 8 standard deviations wide, so only a biased draw leaves it.
        let mut counts = [0usize; 62];
        for _ in 0..10_000 {
            let mut secret = [0u8; SECRET_LEN];
            fill_base62(&mut secret).unwrap();
            for c in secret {
                counts[BASE62.iter().position(|&b| b == c).unwrap()] += 1;
            }
        }
        let mean = 430_000 / 62;
        for (i, &n) in counts.iter().enumerate() {
            assert!(
                n > mean * 9 / 10 && n < mean * 11 / 10,
                "symbol {} drawn {n} times",
                BASE62[i] as char
            );
        }
    }

    #[test]
    fn checksum_digits_round_trip() {
        for crc in [0, 1, 61, 62, u32::MAX, 0xDEAD_BEEF] {
            assert_eq!(decode_checksum(&encode_checksum(crc)), Some(crc));
        }
        assert_eq!(
            decode_checksum(b"zzzzzz"),
            None,
            "62^6 - 1 does not fit a CRC32"
        );
        assert_eq!(decode_checksum(b"00_000"), None);
        assert!(all_alphanumeric(BASE62));
        for bad in [b'_', b'@', b'[', b'`', b'{', b'/', b':', 0x80, 0xC3] {
            assert!(!all_alphanumeric(&[b'a', bad]), "{bad}");
        }
    }

    #[test]
    fn wrong_prefix_is_rejected() {
        let key = generate("acme_test").unwrap().into_key();
        assert_eq!(parse(PREFIX, &key), Err(FormatError::WrongPrefix));
    }

    #[test]
    fn truncated_or_extended_keys_are_rejected() {
        let key = fresh().into_key();
        assert!(parse(PREFIX, &key[..key.len() - 1]).is_err());
        assert!(parse(PREFIX, &format!("{key}0")).is_err());
        assert!(parse(PREFIX, "").is_err());
    }

    /// `body` (everything before the checksum) with its correct checksum appended.
    fn with_checksum(body: &str) -> String {
        let checksum = encode_checksum(crc32fast::hash(body.as_bytes()));
        format!("{body}{}", std::str::from_utf8(&checksum).unwrap())
    }

    #[test]
    fn a_bad_character_anywhere_in_the_id_or_secret_is_malformed_even_with_a_right_checksum() {
        let key = fresh().into_key();
        let body = &key[..key.len() - CHECKSUM_LEN];
        let start = PREFIX.len() + 1;
        // Every position of the id and the secret, the secret's last characters included.
        let positions = (start..start + KEY_ID_LEN).chain(start + KEY_ID_LEN + 1..body.len());
        for at in positions {
            for bad in ["-", "_", ".", "é"] {
                let forged = with_checksum(&format!("{}{bad}{}", &body[..at], &body[at + 1..]));
                if bad == "é" {
                    // Two bytes: the length is wrong, which is malformed too.
                    assert!(parse(PREFIX, &forged).is_err(), "{at} {bad}");
                } else {
                    assert_eq!(
                        parse(PREFIX, &forged),
                        Err(FormatError::Malformed),
                        "byte {at} replaced by {bad:?}"
                    );
                }
            }
        }
        // A bad id alone is enough: it never reaches a store.
        let bad_id = with_checksum(&format!("{}-{}", &body[..start], &body[start + 1..]));
        assert_eq!(parse(PREFIX, &bad_id), Err(FormatError::Malformed));
    }

    #[test]
    fn prefixes_that_would_blur_the_separators_are_not_valid() {
        for good in ["acme", "acme_live", "a", "A9_b8"] {
            assert!(is_valid_prefix(good), "{good}");
        }
        for bad in ["", "_x", "x_", "a b", "a-b", "é", "_"] {
            assert!(!is_valid_prefix(bad), "{bad:?}");
        }
    }

    #[test]
    fn debug_of_parsed_key_hides_the_secret() {
        let generated = fresh();
        let parsed = parse(PREFIX, &generated.key).unwrap();
        let printed = format!("{parsed:?}");
        assert!(printed.contains(generated.key_id()));
        assert!(!printed.contains(parsed.secret));
    }

    proptest! {
        #[test]
        fn any_single_character_change_is_rejected(index in 0usize..72, replacement in "[A-Za-z0-9_]") {
            let key = fresh().key;
            let index = index % key.len();
            let replacement = replacement.as_bytes()[0];
            prop_assume!(key.as_bytes()[index] != replacement);
            let mut changed = key.into_bytes();
            changed[index] = replacement;
            let changed = String::from_utf8(changed).unwrap();
            prop_assert!(parse(PREFIX, &changed).is_err());
        }

        #[test]
        fn arbitrary_input_never_panics(input in ".{0,120}") {
            let _ = parse(PREFIX, &input);
        }

        #[test]
        fn arbitrary_key_shaped_input_never_panics(input in "acme_live_[A-Za-z0-9_\u{e9}]{55,70}") {
            let _ = parse(PREFIX, &input);
        }
    }
}
