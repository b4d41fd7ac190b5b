//! Signing keys: Ed25519 (`EdDSA`), each named by a key id (`kid`).
//!
//! Rotation: put the new `<kid>.pem` into `auth.keys_dir`, switch `auth.active_key_id` to it and
//! restart; tokens signed with the old key stay valid until they expire, then remove its file.

use std::collections::HashMap;
use std::path::Path;

use ed25519_dalek::SigningKey;
use ed25519_dalek::pkcs8::{DecodePrivateKey, EncodePrivateKey, spki::der::pem::LineEnding};
use jsonwebtoken::{DecodingKey, EncodingKey};

/// The keys that sign and verify tokens.
pub struct KeySet {
    active: String,
    encoding: EncodingKey,
    decoding: HashMap<String, DecodingKey>,
}

impl std::fmt::Debug for KeySet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut kids: Vec<_> = self.decoding.keys().collect();
        kids.sort();
        f.debug_struct("KeySet")
            .field("active", &self.active)
            .field("kids", &kids)
            .finish()
    }
}

fn valid_kid(kid: &str) -> bool {
    !kid.is_empty()
        && kid.len() <= 64
        && kid
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

impl KeySet {
    /// Loads every `<kid>.pem` of `dir`; `active` signs.
    ///
    /// # Errors
    /// A message naming the file or setting at fault.
    pub fn load(dir: &Path, active: &str) -> Result<Self, String> {
        let entries =
            std::fs::read_dir(dir).map_err(|e| format!("auth.keys_dir {}: {e}", dir.display()))?;
        let mut signing = HashMap::new();
        for entry in entries.flatten() {
            let path = entry.path();
            if path.extension().is_none_or(|e| e != "pem") {
                continue;
            }
            let kid = path
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_default();
            if !valid_kid(&kid) {
                return Err(format!(
                    "key file {}: the name must be <kid>.pem with a kid of letters, digits, - or _",
                    path.display()
                ));
            }
            let pem = std::fs::read_to_string(&path)
                .map_err(|e| format!("key file {}: {e}", path.display()))?;
            let key = SigningKey::from_pkcs8_pem(&pem).map_err(|e| {
                format!(
                    "key file {}: not an Ed25519 PKCS#8 private key ({e})",
                    path.display()
                )
            })?;
            signing.insert(kid, key);
        }
        Self::from_keys(signing, active).map_err(|e| {
            format!(
                "{e} (auth.active_key_id `{active}`, auth.keys_dir {})",
                dir.display()
            )
        })
    }

    /// A fresh in-memory key, for demo mode and tests only.
    #[must_use]
    pub fn generate(kid: &str) -> Self {
        let key = SigningKey::generate(&mut rand::rngs::OsRng);
        Self::from_keys(HashMap::from([(kid.to_owned(), key)]), kid)
            .unwrap_or_else(|e| unreachable!("a generated key is valid: {e}"))
    }

    /// Several keys at once (tests of rotation).
    ///
    /// # Errors
    /// When `active` is not among `keys`.
    pub fn from_keys(keys: HashMap<String, SigningKey>, active: &str) -> Result<Self, String> {
        let signing = keys
            .get(active)
            .ok_or_else(|| "the active key is not among the keys".to_owned())?;
        let der = signing.to_pkcs8_der().map_err(|e| e.to_string())?;
        let encoding = EncodingKey::from_ed_der(der.as_bytes());
        let decoding = keys
            .iter()
            .map(|(kid, key)| {
                (
                    kid.clone(),
                    DecodingKey::from_ed_der(&key.verifying_key().to_bytes()),
                )
            })
            .collect();
        Ok(Self {
            active: active.to_owned(),
            encoding,
            decoding,
        })
    }

    #[must_use]
    pub fn active_kid(&self) -> &str {
        &self.active
    }

    pub(crate) fn encoding(&self) -> &EncodingKey {
        &self.encoding
    }

    pub(crate) fn decoding(&self, kid: &str) -> Option<&DecodingKey> {
        self.decoding.get(kid)
    }
}

/// Writes a new private key `<dir>/<kid>.pem` (mode 0600), for `gradebook keygen`.
///
/// # Errors
/// When the kid is malformed, the file exists, or it cannot be written.
pub fn write_new_key(dir: &Path, kid: &str) -> Result<std::path::PathBuf, String> {
    if !valid_kid(kid) {
        return Err(format!("kid `{kid}` must be 1-64 letters, digits, - or _"));
    }
    std::fs::create_dir_all(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    let path = dir.join(format!("{kid}.pem"));
    if path.exists() {
        return Err(format!("{} already exists", path.display()));
    }
    let key = SigningKey::generate(&mut rand::rngs::OsRng);
    let pem = key
        .to_pkcs8_pem(LineEnding::LF)
        .map_err(|e| e.to_string())?;
    std::fs::write(&path, pem.as_bytes())
        .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600))
            .map_err(|e| format!("cannot restrict {}: {e}", path.display()))?;
    }
    Ok(path)
}
