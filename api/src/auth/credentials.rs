//! Activation codes, link codes and integrator client credentials: generated here, stored
//! only as SHA-256 hashes.

use rand::Rng;

use super::tokens::{random_token, sha256_hex};

/// Crockford's base32 alphabet: no I, L, O or U, so a code read off paper is typed right.
const CROCKFORD: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";

/// The characters of an activation code (60 bits), shown in groups of four.
const CODE_CHARS: usize = 12;

/// The characters of a link code (50 bits; it lives hours, not weeks), shown in groups of five.
const LINK_CODE_CHARS: usize = 10;

fn crockford(n: usize) -> String {
    let mut rng = rand::rngs::OsRng;
    (0..n)
        .map(|_| char::from(CROCKFORD[rng.gen_range(0..CROCKFORD.len())]))
        .collect()
}

/// A new code of `chars` characters: what to hand out (in groups of `group`, joined by dashes)
/// and the hash to store.
fn new_code(chars: usize, group: usize) -> (String, String) {
    let raw = crockford(chars);
    let shown = raw
        .as_bytes()
        .chunks(group)
        .map(|c| String::from_utf8_lossy(c).into_owned())
        .collect::<Vec<_>>()
        .join("-");
    let hash = sha256_hex(&raw);
    (shown, hash)
}

/// The stored hash of a typed code of `chars` characters, forgiving case, dashes, spaces and
/// the letters people confuse with digits (O for 0, I and L for 1); `None` if it cannot be one.
fn typed_code_hash(typed: &str, chars: usize) -> Option<String> {
    let normal: String = typed
        .chars()
        .filter(|c| !matches!(c, '-' | ' '))
        .map(|c| match c.to_ascii_uppercase() {
            'O' => '0',
            'I' | 'L' => '1',
            c => c,
        })
        .collect();
    (normal.len() == chars && normal.bytes().all(|b| CROCKFORD.contains(&b)))
        .then(|| sha256_hex(&normal))
}

/// A new activation code: what to hand out (`XXXX-XXXX-XXXX`) and the hash to store.
#[must_use]
pub fn new_activation_code() -> (String, String) {
    new_code(CODE_CHARS, 4)
}

/// The stored hash of a typed activation code (see [`typed_code_hash`]); `None` if it cannot
/// be one.
#[must_use]
pub fn activation_code_hash(typed: &str) -> Option<String> {
    typed_code_hash(typed, CODE_CHARS)
}

/// A new link code: what the person hands to another school (`XXXXX-XXXXX`) and the hash to
/// store.
#[must_use]
pub fn new_link_code() -> (String, String) {
    new_code(LINK_CODE_CHARS, 5)
}

/// The stored hash of a typed link code, as forgiving as for activation codes; `None` if it
/// cannot be one.
#[must_use]
pub fn link_code_hash(typed: &str) -> Option<String> {
    typed_code_hash(typed, LINK_CODE_CHARS)
}

/// New client credentials: the public client id, the secret (shown once) and its hash.
#[must_use]
pub fn new_client_credentials() -> (String, String, String) {
    let client_id = format!("gbk-{}", crockford(16).to_ascii_lowercase());
    let secret = random_token(32);
    let hash = sha256_hex(&secret);
    (client_id, secret, hash)
}

/// Compares two stored hashes without an early exit.
#[must_use]
pub fn same_hash(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0_u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_code_is_accepted_however_it_is_typed() {
        let (shown, hash) = new_activation_code();
        assert_eq!(shown.len(), 14);
        assert_eq!(activation_code_hash(&shown), Some(hash.clone()));
        assert_eq!(
            activation_code_hash(&shown.to_lowercase()),
            Some(hash.clone())
        );
        assert_eq!(activation_code_hash(&shown.replace('-', " ")), Some(hash));
        assert_eq!(activation_code_hash("0000-0000-000"), None);
        assert_eq!(activation_code_hash("UUUU-UUUU-UUUU"), None);
        assert_eq!(
            activation_code_hash("OIL0-0000-0000"),
            activation_code_hash("0110-0000-0000")
        );
    }

    #[test]
    fn a_link_code_is_accepted_however_it_is_typed() {
        let (shown, hash) = new_link_code();
        assert_eq!(shown.len(), 11);
        assert_eq!(shown.matches('-').count(), 1);
        assert_eq!(link_code_hash(&shown), Some(hash.clone()));
        assert_eq!(link_code_hash(&shown.to_lowercase()), Some(hash.clone()));
        assert_eq!(link_code_hash(&shown.replace('-', "")), Some(hash));
        assert_eq!(
            link_code_hash("0000-0000-0000"),
            None,
            "an activation code's length"
        );
        assert_eq!(activation_code_hash(&shown), None);
        assert_ne!(new_link_code().1, new_link_code().1);
    }

    #[test]
    fn credentials_are_fresh_and_hashes_compare() {
        let (id1, secret1, hash1) = new_client_credentials();
        let (id2, secret2, _) = new_client_credentials();
        assert_ne!(id1, id2);
        assert_ne!(secret1, secret2);
        assert!(secret1.len() >= 43);
        assert!(same_hash(&hash1, &sha256_hex(&secret1)));
        assert!(!same_hash(&hash1, &sha256_hex(&secret2)));
        assert!(!same_hash(&hash1, "short"));
    }
}
