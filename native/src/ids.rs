//! Statement ids as the profile core keeps them (`streams/core/state.py`): a canonical
//! UUID's 128 bits as two 64-bit halves, and back to its text. The Python functions
//! `statement_key` and `uuid_text` call these where the native module is built; they
//! are the reference (`tests/unit/streams/test_native_ids.py` holds both to it).

use pyo3::prelude::*;

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
