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
//! work. Each attribute is set by the setter of the data descriptor its name finds first
//! along the class's MRO, which `PyObject_GenericSetAttr` would look up on every set: the
//! look-ups are done once per class and remembered (`setters`).
//! `tests/unit/schemas/test_trusted.py` holds both to the same instances.

use pyo3::exceptions::PyTypeError;
use pyo3::ffi;
use pyo3::prelude::*;
use pyo3::sync::GILOnceCell;
use std::sync::Mutex;

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

/// The four attributes `construct` sets, in the order it sets them.
const SLOTS: [&str; 4] = [
    "__dict__",
    "__pydantic_fields_set__",
    "__pydantic_extra__",
    "__pydantic_private__",
];

/// Classes remembered at most (a process builds a few contracts; tests make more).
const CLASSES_REMEMBERED: usize = 64;

/// A class `on_object` accepted, and the data descriptor each of `SLOTS` finds first
/// along its MRO, with the descriptor's setter: what `PyObject_GenericSetAttr` would look
/// up and call on every set (None: some name finds no data descriptor there, and each set
/// goes through `PyObject_GenericSetAttr`).
struct Class {
    cls: Py<PyType>,
    setters: Option<Setters>,
}

/// Each of `SLOTS`' descriptor and its setter.
type Setters = [(PyObject, ffi::descrsetfunc); 4];

/// The data descriptor `name` finds first along `cls`'s MRO, and its setter.
fn setter(cls: &Bound<'_, PyType>, name: &str) -> PyResult<Option<(PyObject, ffi::descrsetfunc)>> {
    for klass in cls
        .getattr(pyo3::intern!(cls.py(), "__mro__"))?
        .try_iter()?
    {
        let namespace = klass?.getattr(pyo3::intern!(cls.py(), "__dict__"))?;
        if !namespace.contains(name)? {
            continue;
        }
        // a None found here stops the look-up too
        let found = namespace.get_item(name)?;
        // SAFETY: `found` is a live object; the slot lookup only reads its type (a static
        // type's slots can be read since 3.10).
        let set =
            unsafe { ffi::PyType_GetSlot(ffi::Py_TYPE(found.as_ptr()), ffi::Py_tp_descr_set) };
        if set.is_null() {
            return Ok(None); // not a data descriptor: the instance's dict would take it
        }
        // SAFETY: the slot `Py_tp_descr_set` holds a `descrsetfunc`.
        let set = unsafe { std::mem::transmute::<*mut std::ffi::c_void, ffi::descrsetfunc>(set) };
        return Ok(Some((found.unbind(), set)));
    }
    Ok(None)
}

/// `Setters` as `construct` holds them while it sets: bound to the GIL it holds, so that
/// letting go of them is a plain decrement (a `PyObject` dropped asks first whether the
/// thread holds the GIL).
type Held<'py> = [(Bound<'py, PyAny>, ffi::descrsetfunc); 4];

fn held<'py>(py: Python<'py>, found: &Setters) -> Held<'py> {
    found.each_ref().map(|(d, f)| (d.bind(py).clone(), *f))
}

/// The setters `construct` sets `SLOTS` with on an instance of `cls` (`Class`), worked
/// out once per class: a class's four names are taken never to be given other values
/// once it has instances (a contract's never are). The Python look-ups run with the list
/// unlocked (they may run other Python code, which may build an instance too).
fn setters<'py>(cls: &Bound<'py, PyType>) -> PyResult<Option<Held<'py>>> {
    static CLASSES: Mutex<Vec<Class>> = Mutex::new(Vec::new());
    let py = cls.py();
    let remembered = |known: &[Class]| {
        known
            .iter()
            .find(|c| c.cls.is(cls))
            .map(|c| c.setters.as_ref().map(|found| held(py, found)))
    };
    if let Some(found) = remembered(&CLASSES.lock().unwrap_or_else(|p| p.into_inner())) {
        return Ok(found);
    }
    let mut found = Vec::with_capacity(SLOTS.len());
    for name in SLOTS {
        match setter(cls, name)? {
            Some(one) => found.push(one),
            None => break,
        }
    }
    let setters = Setters::try_from(found).ok();
    let forgotten = {
        let mut known = CLASSES.lock().unwrap_or_else(|p| p.into_inner());
        let mut forgotten = Vec::new();
        if !known.iter().any(|c| c.cls.is(cls)) {
            if known.len() >= CLASSES_REMEMBERED {
                forgotten = std::mem::take(&mut *known);
            }
            known.push(Class {
                cls: cls.clone().unbind(),
                setters: setters
                    .as_ref()
                    .map(|found| found.each_ref().map(|(d, f)| (d.clone_ref(py), *f))),
            });
        }
        forgotten
    };
    drop(forgotten); // unlocked: letting go of a class may run Python code
    Ok(setters.map(|found| held(py, &found)))
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
    let setters = setters(cls)?;
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
    let none = py.None().into_bound(py);
    let given = [values.as_any(), fields, extra, &none];
    match setters {
        Some(setters) => {
            for ((descriptor, set), value) in setters.iter().zip(given) {
                // SAFETY: the setter of the data descriptor `PyObject_GenericSetAttr` would
                // find for this name on this class (`setter`), called as it would call it:
                // all three live, 0 or -1 with an exception set.
                if unsafe { set(descriptor.as_ptr(), obj.as_ptr(), value.as_ptr()) } < 0 {
                    return Err(PyErr::fetch(py));
                }
            }
        }
        None => {
            let names = [
                pyo3::intern!(py, "__dict__"),
                pyo3::intern!(py, "__pydantic_fields_set__"),
                pyo3::intern!(py, "__pydantic_extra__"),
                pyo3::intern!(py, "__pydantic_private__"),
            ];
            for (name, value) in names.into_iter().zip(given) {
                set(&obj, name, value)?;
            }
        }
    }
    Ok(obj)
}
