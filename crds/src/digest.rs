//! Content hashes, to pin env Secrets, to skip applies that would change nothing and to
//! address uploaded sources.

use sha2::{Digest, Sha256};

/// SHA-256 of `data` (text or bytes), hex-encoded.
pub fn sha256_hex(data: impl AsRef<[u8]>) -> String {
    Sha256::digest(data.as_ref())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[cfg(test)]
mod tests {
    #[test]
    fn known_digest() {
        assert_eq!(
            super::sha256_hex("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}
