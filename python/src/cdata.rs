//! `_core.CData`: what every ctypes instance has, kept in Rust so that the hot paths (items
//! of pointers and arrays, a callback's pointer arguments, calls) read and make it with no
//! Python lookup. What Python calls on it is in [`crate::cdata_methods`].

use pyo3::prelude::*;

use crate::block::Block;
use crate::gil_cell::GilCell;
use crate::process::Process;

/// The base of every ctypes instance (`_CData`): it gives them ctypes' buffer protocol, so
/// that `memoryview(obj)`, `bytes(obj)` and `hexlify(obj)` share the object's memory, as
/// CPython's ctypes does. The Python layer says where the memory is: `obj._b_buffer_()`
/// returns `(process, address, size, format, itemsize, shape)`.
///
/// A C function object (`_CFuncPtr`) also keeps here the prepared call of its hot path, and
/// `_CFuncPtr.__call__` is [`CDataBase::call`]: a call with plain arguments goes from Python
/// straight to Rust, with no Python frame between.
///
/// It also holds what every instance has, so that the hot paths (items of pointers and
/// arrays, a callback's pointer arguments) read and make them in Rust: the address of its
/// memory (`_b_addr`), the object that memory belongs to (`_b_base_`), the block it owns
/// (`_b_block`), the objects it keeps alive (`_objects`), its size after `resize`
/// (`_b_size`), and a pointer's own value when it has no memory (`_b_ptr_`: a callback's
/// pointer argument, see `pointer_arg.rs`).
///
/// It is frozen, its fields in [`GilCell`]s: everything it holds is a Python object or a
/// number, so it is bound to no thread (no thread check on each access, as the `unsendable`
/// classes here pay) and needs no borrow flag (see [`GilCell`]).
#[pyclass(frozen, subclass, module = "wasmctypes._core", name = "CData")]
pub(crate) struct CDataBase {
    /// A C function object's prepared call (a `function::Func`), set by `_set_fast`.
    pub(crate) fast: GilCell<Option<Py<PyAny>>>,
    /// `_b_addr`.
    pub(crate) addr: GilCell<u64>,
    /// `_b_ptr_`.
    pub(crate) ptr: GilCell<Option<u64>>,
    /// `_b_base_`.
    pub(crate) base: GilCell<Option<Py<PyAny>>>,
    /// `_b_block`, when the Python layer gave it (see `own`).
    pub(crate) block: GilCell<Option<Py<PyAny>>>,
    /// The memory the object owns when it was made in Rust (`T()`, see [`CDataBase::_new`]):
    /// freed with the object, with no Python object of its own until `_b_block` is asked for.
    pub(crate) own: GilCell<Option<Block>>,
    /// `_objects`.
    pub(crate) objects: GilCell<Option<Py<PyAny>>>,
    /// `_b_size`.
    pub(crate) size: GilCell<Option<usize>>,
    /// `_b_index`: its index in `_b_base_` (a field's or an item's), for the keys of
    /// `_objects`.
    pub(crate) index: GilCell<isize>,
    /// `_b_keep_`: what the object keeps alive that CPython's ctypes would not need (copies of
    /// bytes in the process's memory, handles): not in `_objects`, which is ctypes' own.
    pub(crate) keep: GilCell<Option<Py<PyAny>>>,
    /// Its type's `_b_items_`: given when a callback makes it, kept after its first item
    /// otherwise (no lookup per item).
    pub(crate) items: GilCell<Option<Py<PyAny>>>,
    /// Its type's `_b_alloc_` (an `alloc::Alloc`) from its constructor until its `tp_init`
    /// takes it (see `init.rs`).
    pub(crate) alloc: GilCell<Option<Py<PyAny>>>,
}

impl CDataBase {
    /// An instance with no memory, nothing kept and no prepared call.
    pub(crate) fn bare() -> Self {
        CDataBase {
            fast: GilCell::new(None),
            addr: GilCell::new(0),
            ptr: GilCell::new(None),
            base: GilCell::new(None),
            block: GilCell::new(None),
            own: GilCell::new(None),
            objects: GilCell::new(None),
            size: GilCell::new(None),
            index: GilCell::new(0),
            keep: GilCell::new(None),
            items: GilCell::new(None),
            alloc: GilCell::new(None),
        }
    }
}

impl CDataBase {
    /// The address a pointer object holds: its own value when it has no memory (`_b_ptr_`, a
    /// callback's pointer argument), else the pointer stored in its memory.
    pub(crate) fn held_address(&self, py: Python<'_>, process: &Process) -> PyResult<u64> {
        match self.ptr.load(py) {
            Some(a) => Ok(a),
            None => process.pointer_at(py, self.addr.load(py)),
        }
    }

    /// Makes the object what [`CDataBase::bare`] makes (its items excepted): no memory,
    /// nothing kept, no prepared call.
    pub(crate) fn reset(&self, py: Python<'_>) {
        self.fast.set(py, None);
        self.addr.store(py, 0);
        self.ptr.store(py, None);
        self.base.set(py, None);
        self.block.set(py, None);
        drop(self.own.replace(py, None));
        self.objects.set(py, None);
        self.size.store(py, None);
        self.index.store(py, 0);
        self.keep.set(py, None);
        self.alloc.set(py, None);
    }
}
