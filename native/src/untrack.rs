//! Objects out of the cyclic collector's walks (`streams/core/state.py`: `untrack_state`
//! for a profile state's parts and fields, `untrack_events` for the learning events the
//! profile stage holds until its next write-back). A decoded state is about 70 tracked
//! objects, lists of numbers and texts mostly, and an event two; none holds a cycle, and
//! reference counting frees them, yet every collection walks each of them while it is
//! alive. In a worker over many learners those walks are the collector's pauses (a full
//! collection over 20,000 states took about a second). CPython itself untracks tuples and
//! dicts that hold only untracked items; a list or a set it never untracks, so this does,
//! for the objects the caller names.

use pyo3::ffi;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList};

/// Untracks each object of `objects` and of `nested` that the collector tracks, and, for
/// `nested`, each list held directly by one (a list's items when its first item is a
/// list, a dict's values): the caller's promise is that none of them is, or will be, part
/// of a reference cycle. Only what the collector tracks is touched, so an int or a text
/// given is left alone. Returns how many objects were untracked.
///
/// Untracking never frees anything early: an object the collector does not walk only
/// counts as referenced from outside, so what it holds is kept alive (and still freed by
/// reference counting). A dict CPython tracks again by itself when it is given a tracked
/// item.
#[pyfunction]
pub(crate) fn untrack(objects: &Bound<'_, PyList>, nested: &Bound<'_, PyList>) -> usize {
    let mut count = 0;
    for object in objects.iter() {
        count += untrack_one(&object);
    }
    for object in nested.iter() {
        if let Ok(list) = object.downcast_exact::<PyList>() {
            // A field's list holds lists or none (numbers, texts): its first item tells.
            if list
                .get_item(0)
                .is_ok_and(|first| first.is_exact_instance_of::<PyList>())
            {
                for item in list.iter() {
                    count += lists_only(&item);
                }
            }
        } else if let Ok(dict) = object.downcast_exact::<PyDict>() {
            for value in dict.values() {
                count += lists_only(&value);
            }
        }
        count += untrack_one(&object);
    }
    count
}

/// An exact list inside a container given: untracked, nothing deeper.
fn lists_only(item: &Bound<'_, PyAny>) -> usize {
    if item.is_exact_instance_of::<PyList>() {
        untrack_one(item)
    } else {
        0
    }
}

fn untrack_one(object: &Bound<'_, PyAny>) -> usize {
    let pointer = object.as_ptr();
    // SAFETY: PyObject_GC_IsTracked reads the collector's header only where CPython says
    // the object has one (`_PyObject_IS_GC`: the type's Py_TPFLAGS_HAVE_GC and its
    // `tp_is_gc`, which a static type object fails), so any object may be passed; an
    // object it calls tracked has the header PyObject_GC_UnTrack changes. The GIL is held
    // (`Bound`), and no collection is running, since this is not called from the collector.
    unsafe {
        if ffi::PyObject_GC_IsTracked(pointer) == 1 {
            ffi::PyObject_GC_UnTrack(pointer.cast());
            1
        } else {
            0
        }
    }
}
