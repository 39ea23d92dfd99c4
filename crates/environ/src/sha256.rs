//! SHA-256 (FIPS 180-4), for the digests an object's index records: the
//! `sha2` crate, which uses the CPU's SHA instructions where present (x86
//! SHA-NI, ARMv8 SHA2) and a portable implementation elsewhere. Checked
//! against the FIPS vectors below.

use sha2::Digest as _;

/// A SHA-256 digest.
pub type Digest = [u8; 32];

/// The SHA-256 digest of `data`.
pub fn sha256(data: &[u8]) -> Digest {
    sha2::Sha256::digest(data).into()
}

/// `digest` in lower-case hex.
pub fn to_hex(digest: &Digest) -> String {
    use core::fmt::Write;
    let mut out = String::with_capacity(64);
    for byte in digest {
        // Writing to a `String` cannot fail.
        let _ = write!(out, "{byte:02x}");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fips_180_vectors() {
        let cases: [(&[u8], &str); 4] = [
            (
                b"",
                "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
            ),
            (
                b"abc",
                "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
            ),
            (
                b"abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
                "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1",
            ),
            (
                b"abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmnhijklmnoijklmnopjklmnopqklmnopqrlmnopqrsmnopqrstnopqrstu",
                "cf5b16a778af8380036ce59e7b0492370b249b11e8f07a51afac45037afee9d1",
            ),
        ];
        for (input, expected) in cases {
            assert_eq!(to_hex(&sha256(input)), expected);
        }
        let million_a = vec![b'a'; 1_000_000];
        assert_eq!(
            to_hex(&sha256(&million_a)),
            "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0"
        );
    }

    /// Every tail length, including the 55/56/63/64 padding boundaries.
    #[test]
    fn every_tail_length_differs() {
        let data: Vec<u8> = (0..200u8).collect();
        let digests: std::collections::HashSet<Digest> =
            (0..=data.len()).map(|n| sha256(&data[..n])).collect();
        assert_eq!(digests.len(), data.len() + 1);
    }
}
