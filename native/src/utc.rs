//! `datetime` objects made by the `datetime` module's C constructor.
//!
//! The module publishes its C API as the capsule `datetime.datetime_CAPI`: a struct of
//! type pointers and constructors (`PyDateTime_CAPI` in CPython's `datetime.h`) that
//! CPython only ever extends at its end. The stable ABI this module is built for (abi3)
//! leaves the struct out, so the part used here is declared below, field for field as
//! the header lays it out in 3.11 and since. `PyCapsule_Import` is part of the stable
//! ABI. Through it a datetime costs one allocation, where `datetime.fromisoformat` reads
//! text first: about 1,400 instructions a call, for every event time and every time a
//! milestone or a snapshot states.

use std::ffi::c_int;

use pyo3::exceptions::PyOverflowError;
use pyo3::ffi;
use pyo3::prelude::*;
use pyo3::sync::GILOnceCell;

/// The first fields of `PyDateTime_CAPI`, in the header's order.
#[repr(C)]
struct Api {
    _date_type: *mut ffi::PyTypeObject,
    datetime_type: *mut ffi::PyTypeObject,
    _time_type: *mut ffi::PyTypeObject,
    _delta_type: *mut ffi::PyTypeObject,
    _tzinfo_type: *mut ffi::PyTypeObject,
    /// `datetime.UTC` (`timezone.utc`), the zone `fromisoformat` gives `Z` and `+00:00`.
    timezone_utc: *mut ffi::PyObject,
    _date_from_date:
        unsafe extern "C" fn(c_int, c_int, c_int, *mut ffi::PyTypeObject) -> *mut ffi::PyObject,
    /// `DateTime_FromDateAndTime(year, month, day, hour, minute, second, microsecond,
    /// tzinfo, type)`: a new reference, or null with an exception set.
    datetime_from_date_and_time: unsafe extern "C" fn(
        c_int,
        c_int,
        c_int,
        c_int,
        c_int,
        c_int,
        c_int,
        *mut ffi::PyObject,
        *mut ffi::PyTypeObject,
    ) -> *mut ffi::PyObject,
}

/// The capsule's pointer: the struct is static data of the `datetime` module, which is
/// never unloaded, and only read here.
struct Capsule(*const Api);

// SAFETY: the pointer is to immutable static data, read only while the GIL is held.
unsafe impl Send for Capsule {}
// SAFETY: as above.
unsafe impl Sync for Capsule {}

fn api(py: Python<'_>) -> PyResult<&'static Api> {
    static API: GILOnceCell<Capsule> = GILOnceCell::new();
    let capsule = API.get_or_try_init(py, || {
        // SAFETY: a C string naming the capsule; the call imports `datetime` if need be
        // and returns the capsule's pointer, or null with an exception set.
        let found = unsafe { ffi::PyCapsule_Import(c"datetime.datetime_CAPI".as_ptr(), 0) };
        if found.is_null() {
            return Err(PyErr::fetch(py));
        }
        Ok(Capsule(found.cast::<Api>()))
    })?;
    // SAFETY: the capsule holds a `PyDateTime_CAPI` that lives as long as the process.
    Ok(unsafe { &*capsule.0 })
}

/// The UTC datetime of `[year, month, day, hour, minute, second, microsecond]`; a
/// `ValueError` from the constructor for a field out of its range, an `OverflowError`
/// for a number no C int holds.
pub(crate) fn datetime(py: Python<'_>, fields: [i64; 7]) -> PyResult<Bound<'_, PyAny>> {
    let mut ints = [0 as c_int; 7];
    for (int, field) in ints.iter_mut().zip(fields) {
        *int = c_int::try_from(field)
            .map_err(|_| PyOverflowError::new_err(format!("{field} is not a datetime field")))?;
    }
    let api = api(py)?;
    let [year, month, day, hour, minute, second, micro] = ints;
    // SAFETY: the constructor takes plain ints, a live tzinfo (the UTC singleton, kept
    // alive by the module) and the datetime type; it returns a new reference or null
    // with an exception set, which `from_owned_ptr_or_err` turns into the error.
    unsafe {
        let made = (api.datetime_from_date_and_time)(
            year,
            month,
            day,
            hour,
            minute,
            second,
            micro,
            api.timezone_utc,
            api.datetime_type,
        );
        Bound::from_owned_ptr_or_err(py, made)
    }
}
