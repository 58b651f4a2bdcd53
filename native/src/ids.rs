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
    let b: &[u8; 36] = sid.as_bytes().try_into().ok()?;
    if b[8] != b'-' || b[13] != b'-' || b[18] != b'-' || b[23] != b'-' {
        return None;
    }
    let half = |parts: &[std::ops::Range<usize>]| {
        parts
            .iter()
            .flat_map(|r| &b[r.clone()])
            .try_fold(0u64, |v, &c| match HEX_DIGIT[usize::from(c)] {
                NOT_HEX => None,
                digit => Some((v << 4) | u64::from(digit)),
            })
    };
    Some((
        half(&[0..8, 9..13, 14..18])?,
        half(&[19..23, 24..36])?,
        false,
    ))
}

/// A lower-case hex digit's value by its byte; `NOT_HEX` for any other byte.
const HEX_DIGIT: [u8; 256] = {
    let mut table = [NOT_HEX; 256];
    let mut i = 0;
    while i < 10 {
        table[b'0' as usize + i] = i as u8;
        i += 1;
    }
    let mut i = 0;
    while i < 6 {
        table[b'a' as usize + i] = 10 + i as u8;
        i += 1;
    }
    table
};
const NOT_HEX: u8 = 0xFF;

/// The canonical text of the UUID whose halves are `hi` and `lo`: written into a buffer on
/// the stack, a byte of hex per nibble, and made a Python string from there (no heap
/// `String` between). The halves are read by `half_of`.
#[pyfunction]
pub(crate) fn uuid_text<'py>(
    py: Python<'py>,
    hi: &Bound<'py, PyAny>,
    lo: &Bound<'py, PyAny>,
) -> PyResult<Bound<'py, pyo3::types::PyString>> {
    let (hi, lo) = (half_of(hi)?, half_of(lo)?);
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut out = [b'-'; 36];
    let mut put = |value: u64, slots: &[std::ops::Range<usize>]| {
        let mut shift = 64;
        for slot in slots {
            for at in slot.clone() {
                shift -= 4;
                out[at] = HEX[((value >> shift) & 0xf) as usize];
            }
        }
    };
    put(hi, &[0..8, 9..13, 14..18]);
    put(lo, &[19..23, 24..36]);
    let text = std::str::from_utf8(&out).expect("hex digits and dashes are ASCII");
    Ok(pyo3::types::PyString::new(py, text))
}

/// A Python int in 0..2**64 as a `u64`, read by `PyLong_AsUnsignedLong` (a C `unsigned
/// long`, 64 bits on the platforms skillstream builds for): it reads an int's digits in a
/// loop, where `PyLong_AsUnsignedLongLong`, which pyo3 calls for a `u64` argument, goes
/// through `_PyLong_AsByteArray` for any int past 30 bits (53 instructions a half, where
/// that took 218).
/// Anything else raises as that call does: `TypeError` for a value that is not an int
/// (an object with `__index__` too, which pyo3's argument took; the core passes ints),
/// `OverflowError` for one out of range.
pub(crate) fn half_of(value: &Bound<'_, PyAny>) -> PyResult<u64> {
    const _: () = assert!(std::mem::size_of::<std::ffi::c_ulong>() == 8);
    // SAFETY: a live object, held by the caller; the call only reads it.
    let got = unsafe { pyo3::ffi::PyLong_AsUnsignedLong(value.as_ptr()) };
    if got == std::ffi::c_ulong::MAX {
        if let Some(err) = PyErr::take(value.py()) {
            return Err(err);
        }
    }
    Ok(got)
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
