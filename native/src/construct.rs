//! `construct(cls, values, fields, extra)`: an instance of the pydantic model `cls`
//! holding `values` as they are, for `schemas.trusted.trusted`.
//!
//! The Python twin makes the instance with `object.__new__(cls)` and sets its `__dict__`,
//! `__pydantic_fields_set__`, `__pydantic_extra__` and `__pydantic_private__` with
//! `object.__setattr__`. Those are the type's allocator and `PyObject_GenericSetAttr`
//! behind call wrappers that check their arguments and walk the class's bases on every
//! call; here the same C functions are called directly, once the class is known to be
//! one `object.__new__` takes: made by the `class` statement on `object` alone, with no
//! base written in C, and not abstract (as every contract is). Built once per statement
//! (a learning event) and per milestone and snapshot, the wrappers cost more than the
//! work. `tests/unit/schemas/test_trusted.py` holds both to the same instances.

use pyo3::exceptions::PyTypeError;
use pyo3::ffi;
use pyo3::prelude::*;
use pyo3::sync::GILOnceCell;
use pyo3::types::{PyDict, PyString, PyTuple, PyType};

/// Set `name` on `obj` as `object.__setattr__` does.
fn set(
    obj: &Bound<'_, PyAny>,
    name: &Bound<'_, PyString>,
    value: &Bound<'_, PyAny>,
) -> PyResult<()> {
    // SAFETY: all three are live objects held by the caller; GenericSetAttr takes no
    // reference it does not add itself, and reports a failure with -1 and an exception.
    if unsafe { ffi::PyObject_GenericSetAttr(obj.as_ptr(), name.as_ptr(), value.as_ptr()) } < 0 {
        return Err(PyErr::fetch(obj.py()));
    }
    Ok(())
}

/// The `tp_dealloc` of every class the `class` statement (`type.__new__`) makes; a type
/// written in C has its own, even a heap type made from a spec (PyO3's classes,
/// pydantic-core's, many of the standard library's).
fn class_dealloc(py: Python<'_>) -> PyResult<usize> {
    static DEALLOC: GILOnceCell<usize> = GILOnceCell::new();
    DEALLOC
        .get_or_try_init(py, || {
            let probe = py
                .get_type::<PyType>()
                .call1(("probe", PyTuple::empty(py), PyDict::new(py)))?
                .downcast_into::<PyType>()?;
            // SAFETY: `probe` is a live type object; the slot lookup only reads it.
            Ok(unsafe { ffi::PyType_GetSlot(probe.as_type_ptr(), ffi::Py_tp_dealloc) } as usize)
        })
        .copied()
}

/// Whether `tp` and each of its bases up to `object` were made by the `class` statement,
/// and `tp` is not abstract: then `object.__new__` would take it (it allocates with the
/// type's own allocator) and `object.__setattr__` applies to its instances (its check
/// walks the same chain).
fn on_object(tp: *mut ffi::PyTypeObject, dealloc: usize) -> bool {
    let mut t = tp;
    // SAFETY: `t` is a live type object (each base is kept alive by its subclass); the
    // flag and slot lookups only read it.
    unsafe {
        if ffi::PyType_GetFlags(t) & ffi::Py_TPFLAGS_IS_ABSTRACT != 0 {
            return false;
        }
        while ffi::PyType_GetFlags(t) & ffi::Py_TPFLAGS_HEAPTYPE != 0 {
            if ffi::PyType_GetSlot(t, ffi::Py_tp_dealloc) as usize != dealloc {
                return false;
            }
            t = ffi::PyType_GetSlot(t, ffi::Py_tp_base).cast::<ffi::PyTypeObject>();
            if t.is_null() {
                return false;
            }
        }
        t == std::ptr::addr_of_mut!(ffi::PyBaseObject_Type)
    }
}

#[pyfunction]
pub(crate) fn construct<'py>(
    cls: &Bound<'py, PyType>,
    values: &Bound<'py, PyDict>,
    fields: &Bound<'py, PyAny>,
    extra: &Bound<'py, PyAny>,
) -> PyResult<Bound<'py, PyAny>> {
    let py = cls.py();
    let tp = cls.as_type_ptr();
    if !on_object(tp, class_dealloc(py)?) {
        return Err(PyTypeError::new_err(
            "construct: a class made by the class statement, not abstract, with no base \
             written in C but object",
        ));
    }
    // SAFETY: a heap type always has `tp_alloc` (inherited from object when not its own);
    // it returns a new reference or null with an exception set, as `object.__new__` does.
    let obj = unsafe {
        let alloc = ffi::PyType_GetSlot(tp, ffi::Py_tp_alloc);
        let alloc: ffi::allocfunc = if alloc.is_null() {
            ffi::PyType_GenericAlloc
        } else {
            std::mem::transmute::<*mut std::ffi::c_void, ffi::allocfunc>(alloc)
        };
        let raw = alloc(tp, 0);
        if raw.is_null() {
            return Err(PyErr::fetch(py));
        }
        Bound::from_owned_ptr(py, raw)
    };
    set(&obj, pyo3::intern!(py, "__dict__"), values.as_any())?;
    set(&obj, pyo3::intern!(py, "__pydantic_fields_set__"), fields)?;
    set(&obj, pyo3::intern!(py, "__pydantic_extra__"), extra)?;
    set(
        &obj,
        pyo3::intern!(py, "__pydantic_private__"),
        &py.None().into_bound(py),
    )?;
    Ok(obj)
}
