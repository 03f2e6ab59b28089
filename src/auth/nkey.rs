//! nkey challenge-response: the nonce INFO carries and the check of the client's signature
//! over it.
//!
//! The nonce is 11 random bytes from the OS, base64url without padding: 15 ASCII bytes, as
//! nats-server's `generateNonce`. The client signs the nonce's ASCII text (not the raw bytes)
//! with its ed25519 seed and sends the signature base64url-encoded; standard base64 is also
//! accepted, as nats-server falls back to it.

use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use nkeys::{KeyPair, KeyPairType};
use rand::rngs::OsRng;
use rand::RngCore;

/// Random bytes in a nonce (nats-server's `nonceRawLen`).
pub const NONCE_RAW_BYTES: usize = 11;
/// Length of the encoded nonce in INFO (nats-server's `nonceLen`).
pub const NONCE_BYTES: usize = 15;

/// A fresh nonce for one connection's INFO.
pub fn new_nonce() -> String {
    let mut raw = [0u8; NONCE_RAW_BYTES];
    OsRng.fill_bytes(&mut raw);
    let nonce = URL_SAFE_NO_PAD.encode(raw);
    debug_assert_eq!(nonce.len(), NONCE_BYTES);
    nonce
}

/// The public key of a user (`U...`), parsed once at start so that a CONNECT only verifies.
pub fn parse_user_public_key(public_key: &str) -> Option<KeyPair> {
    let key = KeyPair::from_public_key(public_key).ok()?;
    // nkeys maps an unknown prefix byte to Operator, so the type check also refuses those.
    (key.key_pair_type() == KeyPairType::User).then_some(key)
}

/// Why a signature did not verify (for the debug log; the client only sees
/// `Authorization Violation`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SignatureError {
    NotBase64,
    NotVerified,
}

/// Checks `sig` (base64url or standard base64) as `key`'s signature over `nonce`.
pub fn verify_signature(key: &KeyPair, nonce: &[u8], sig: &str) -> Result<(), SignatureError> {
    let sig = URL_SAFE_NO_PAD
        .decode(sig)
        .or_else(|_| STANDARD.decode(sig))
        .map_err(|_| SignatureError::NotBase64)?;
    key.verify(nonce, &sig)
        .map_err(|_| SignatureError::NotVerified)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nonce_is_15_url_safe_chars_and_differs_each_time() {
        let a = new_nonce();
        let b = new_nonce();
        assert_eq!(a.len(), NONCE_BYTES);
        assert!(a
            .bytes()
            .all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'_'));
        assert_ne!(a, b);
    }

    #[test]
    fn signature_in_either_base64_alphabet_verifies() {
        let user = KeyPair::new_user();
        let key = parse_user_public_key(&user.public_key()).unwrap();
        let nonce = new_nonce();
        let sig = user.sign(nonce.as_bytes()).unwrap();
        assert_eq!(
            verify_signature(&key, nonce.as_bytes(), &URL_SAFE_NO_PAD.encode(&sig)),
            Ok(())
        );
        assert_eq!(
            verify_signature(&key, nonce.as_bytes(), &STANDARD.encode(&sig)),
            Ok(())
        );
        assert_eq!(
            verify_signature(&key, b"another nonce", &URL_SAFE_NO_PAD.encode(&sig)),
            Err(SignatureError::NotVerified)
        );
        assert_eq!(
            verify_signature(&key, nonce.as_bytes(), "not base64!"),
            Err(SignatureError::NotBase64)
        );
        assert_eq!(
            verify_signature(&key, nonce.as_bytes(), &URL_SAFE_NO_PAD.encode(b"short")),
            Err(SignatureError::NotVerified)
        );
    }

    #[test]
    fn only_user_public_keys_are_accepted() {
        assert!(parse_user_public_key(&KeyPair::new_user().public_key()).is_some());
        assert!(parse_user_public_key(&KeyPair::new_account().public_key()).is_none());
        assert!(parse_user_public_key(&KeyPair::new_server().public_key()).is_none());
        let seed = KeyPair::new_user().seed().unwrap();
        assert!(parse_user_public_key(&seed).is_none());
        assert!(parse_user_public_key("UNOTAKEY").is_none());
        let mut bad_checksum = KeyPair::new_user().public_key();
        bad_checksum.replace_range(5..6, if &bad_checksum[5..6] == "A" { "B" } else { "A" });
        assert!(parse_user_public_key(&bad_checksum).is_none());
    }
}
