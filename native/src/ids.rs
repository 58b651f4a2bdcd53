//! Ids as the profile core keeps them: a statement's canonical UUID as two 64-bit halves
//! and back to its text (`streams/core/state.py`), and a milestone's UUIDv5 as its halves
//! (`streams/core/milestones.py`). The Python functions call these where the native
//! module is built; they are the reference (`tests/unit/streams/test_native_ids.py`
//! holds both to it).

use pyo3::prelude::*;
use sha1::{Digest, Sha1};

/// `(high, low, False)` for a canonical UUID (36 characters, lower-case hex digits, dashes
/// after the 8th, 12th, 16th and 20th digit); None for any other text (the Python side
/// hashes it).
#[pyfunction]
pub(crate) fn statement_key(sid: &str) -> Option<(u64, u64, bool)> {
    let b = sid.as_bytes();
    if b.len() != 36 {
        return None;
    }
    let mut v: u128 = 0;
    for (i, &c) in b.iter().enumerate() {
        if matches!(i, 8 | 13 | 18 | 23) {
            if c != b'-' {
                return None;
            }
            continue;
        }
        let digit = match c {
            b'0'..=b'9' => c - b'0',
            b'a'..=b'f' => c - b'a' + 10,
            _ => return None,
        };
        v = (v << 4) | u128::from(digit);
    }
    Some(((v >> 64) as u64, v as u64, false))
}

/// The canonical text of the UUID whose halves are `hi` and `lo`.
#[pyfunction]
pub(crate) fn uuid_text(hi: u64, lo: u64) -> String {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let v = (u128::from(hi) << 64) | u128::from(lo);
    let mut out = String::with_capacity(36);
    for i in 0..32 {
        if matches!(i, 8 | 12 | 16 | 20) {
            out.push('-');
        }
        out.push(char::from(HEX[((v >> (124 - 4 * i)) & 0xf) as usize]));
    }
    out
}

/// The UUIDv5 of `name` in the namespace whose 16 bytes are `namespace` (RFC 4122: the
/// first 16 bytes of the SHA-1 of the namespace and the UTF-8 name, version 5, variant
/// 10), as its two 64-bit halves: a milestone's id (`schemas.milestones.milestone_id`).
#[pyfunction]
pub(crate) fn uuid5_halves(namespace: &[u8], name: &str) -> (u64, u64) {
    let mut sha = Sha1::new();
    sha.update(namespace);
    sha.update(name.as_bytes());
    let digest = sha.finalize();
    let half = |range: std::ops::Range<usize>| {
        u64::from_be_bytes(
            digest[range]
                .try_into()
                .expect("eight bytes of a 20-byte digest"),
        )
    };
    let hi = (half(0..8) & !0xF000) | 0x5000;
    let lo = (half(8..16) & !(0xC000 << 48)) | (0x8000 << 48);
    (hi, lo)
}
