//! A profile state's number arrays as bytes (`streams/core/state.py`, `_pack`): the
//! encoding of format 4 writes each of its six arrays, little-endian, once per changed
//! learner and flush. `array(code, values)` parses an `H`, `q` or `d` item through
//! `PyArg_Parse`, and a 64-bit value past 30 bits goes through `_PyLong_AsByteArray`
//! (about 267 instructions an item on average over the bench's states); here each item is
//! read by the C call for its type (about 135). The Python function is the reference
//! (`tests/unit/streams/test_state_pack.py` holds the two alike).

use pyo3::exceptions::{PyOverflowError, PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyList};
use pyo3::Borrowed;
use std::ffi::c_long;

/// The bytes of `array(code, values).tobytes()` on a little-endian machine, for the
/// codes of format 4: `B`, `H`, `I`, `Q` (unsigned 8 to 64 bits), `q` (signed 64 bits)
/// and `d` (doubles). An item must be an int (a float too for `d`): anything else raises
/// `TypeError`, and an int out of the code's range `OverflowError`, before any byte is
/// returned.
#[pyfunction]
pub(crate) fn pack<'py>(
    py: Python<'py>,
    code: &str,
    values: &Bound<'py, PyList>,
) -> PyResult<Bound<'py, PyBytes>> {
    let (width, put): (usize, Put) = match code {
        "B" => (1, |item, slot| narrow(item, slot, u8::MAX.into())),
        "H" => (2, |item, slot| narrow(item, slot, u16::MAX.into())),
        "I" => (4, |item, slot| narrow(item, slot, u32::MAX.into())),
        "Q" => (8, |item, slot| {
            slot.copy_from_slice(&unsigned_of(item)?.to_le_bytes());
            Ok(())
        }),
        "q" => (8, |item, slot| {
            slot.copy_from_slice(&signed_of(item)?.to_le_bytes());
            Ok(())
        }),
        "d" => (8, |item, slot| {
            slot.copy_from_slice(&double_of(item)?.to_le_bytes());
            Ok(())
        }),
        _ => return Err(PyValueError::new_err(format!("no array code {code:?}"))),
    };
    let n = values.len();
    PyBytes::new_with(py, n * width, |buf| {
        for (i, slot) in buf.chunks_exact_mut(width).enumerate() {
            // By index: reading an item runs no Python code, so the list keeps its length.
            // SAFETY: `i` is below the length the list had and still has; the item is
            // borrowed from the list, which the caller holds, for this step only.
            let item = unsafe {
                Borrowed::from_ptr_or_err(py, pyo3::ffi::PyList_GetItem(values.as_ptr(), i as _))
            }?;
            put(&item, slot)?;
        }
        Ok(())
    })
}

/// Writes one item into its slot of the bytes.
type Put = fn(&Bound<'_, PyAny>, &mut [u8]) -> PyResult<()>;

/// An unsigned item of fewer than 64 bits: `OverflowError` outside `0..=top`.
fn narrow(item: &Bound<'_, PyAny>, slot: &mut [u8], top: i64) -> PyResult<()> {
    let value = signed_of(item)?;
    if !(0..=top).contains(&value) {
        return Err(PyOverflowError::new_err(format!(
            "{value} is outside 0..={top}, the range of its array"
        )));
    }
    let width = slot.len();
    slot.copy_from_slice(&value.to_le_bytes()[..width]);
    Ok(())
}

/// An int item: a `TypeError` for anything else, where the C calls below would call its
/// `__index__` (Python code, which could change the list being read).
fn int_item(item: &Bound<'_, PyAny>) -> PyResult<()> {
    let ptr = item.as_ptr();
    // SAFETY: a live object, held by the caller; the checks only read its type (an exact
    // int first: a comparison, where `PyLong_Check` is a call under the stable ABI).
    if unsafe { pyo3::ffi::Py_TYPE(ptr) == std::ptr::addr_of_mut!(pyo3::ffi::PyLong_Type) } {
        return Ok(());
    }
    // SAFETY: as above.
    if unsafe { pyo3::ffi::PyLong_Check(ptr) } == 0 {
        return Err(PyTypeError::new_err(format!(
            "an array item must be an int, not {}",
            item.get_type().name()?
        )));
    }
    Ok(())
}

/// The error a C conversion left, when its result says there may be one.
fn checked<T: PartialEq>(py: Python<'_>, got: T, flag: T) -> PyResult<T> {
    if got == flag {
        if let Some(err) = PyErr::take(py) {
            return Err(err);
        }
    }
    Ok(got)
}

fn signed_of(item: &Bound<'_, PyAny>) -> PyResult<i64> {
    const _: () = assert!(std::mem::size_of::<c_long>() == 8);
    int_item(item)?;
    // SAFETY: a live int, held by the caller; the call only reads its digits.
    let got = unsafe { pyo3::ffi::PyLong_AsLong(item.as_ptr()) };
    checked(item.py(), got, -1)
}

/// A 64-bit id, read as a milestone id's halves are (`ids::half_of`).
fn unsigned_of(item: &Bound<'_, PyAny>) -> PyResult<u64> {
    int_item(item)?;
    crate::ids::half_of(item)
}

fn double_of(item: &Bound<'_, PyAny>) -> PyResult<f64> {
    let ptr = item.as_ptr();
    let float = std::ptr::addr_of_mut!(pyo3::ffi::PyFloat_Type);
    // SAFETY: a live object, held by the caller; the checks only read its type.
    if unsafe { pyo3::ffi::Py_TYPE(ptr) == float || pyo3::ffi::PyFloat_Check(ptr) != 0 } {
        // SAFETY: a float (or a subclass): its value is read without calling `__float__`.
        return checked(item.py(), unsafe { pyo3::ffi::PyFloat_AsDouble(ptr) }, -1.0);
    }
    int_item(item)?;
    // SAFETY: a live int; the call reads its digits (OverflowError past a double's range).
    checked(item.py(), unsafe { pyo3::ffi::PyLong_AsDouble(ptr) }, -1.0)
}
