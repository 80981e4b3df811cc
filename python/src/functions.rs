//! ctypes' functions over its objects that a script calls between its calls (`byref`,
//! `sizeof`, `addressof`, `pointer`), in Rust, bound to one namespace: `ctypes.byref` is
//! `Functions.byref` of the namespace's instance, a method CPython calls with no tuple made.

use pyo3::exceptions::{PyOverflowError, PyTypeError, PyValueError};
use pyo3::ffi;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyType};

use crate::alloc::Alloc;
use crate::carg::CArg;
use crate::cdata::CDataBase;
use crate::cdata_methods::{bare_instance, owned_instance};
use crate::gil_cell::GilCell;
use crate::keep;
use crate::process::Process;

/// The functions of one namespace (see the module docs).
#[pyclass(frozen, module = "wasmctypes._core")]
pub(crate) struct Functions {
    /// The namespace's `_CData`: its instances are the namespace's ctypes objects.
    cdata: Py<PyType>,
    /// The sandbox's addresses are 32 bits; natively they wrap at 64, as C's do.
    wasm: bool,
    /// The Python layer's `sizeof` for what has no `_b_alloc_` (types not final, errors).
    sizeof_fallback: Py<PyAny>,
    /// The namespace's process.
    process: Py<Process>,
    /// What `pointer` needs from the pointer part (see [`Functions::_pointers`]).
    pointers: GilCell<Option<Py<PointerPart>>>,
}

/// The pointer part's cache of pointer types (`_pointer_type_cache`), its `POINTER`, and
/// `_Pointer.__init__`, whose pointer types `pointer` makes in Rust.
#[pyclass(frozen, module = "wasmctypes._core")]
pub(crate) struct PointerPart {
    cache: Py<PyDict>,
    make: Py<PyAny>,
    init: Py<PyAny>,
}

impl Functions {
    /// See [`Functions::_point`].
    fn point(&self, p: &Bound<'_, CDataBase>, obj: &Bound<'_, CDataBase>) -> PyResult<()> {
        let py = p.py();
        let at = p.get().addr.load(py);
        self.process
            .get()
            .store_pointer(py, at, obj.get().addr.load(py))?;
        keep::keep_ref(p, 1, Some(obj.clone().into_any()), None)?;
        let (objects, extra) = keep::kept(obj)?;
        keep::keep_ref(
            p,
            0,
            objects.map(|o| o.into_bound(py)),
            extra.map(|o| o.into_bound(py)),
        )
    }

    /// `obj`, if it is one of the namespace's ctypes objects (its type a subtype of
    /// `_CData`, by the MRO alone: no `__instancecheck__`).
    fn data<'a, 'py>(&self, obj: &'a Bound<'py, PyAny>) -> Option<&'a Bound<'py, CDataBase>> {
        match is_instance(obj, self.cdata.bind(obj.py())) {
            true => obj.cast::<CDataBase>().ok(),
            false => None,
        }
    }
}

#[pymethods]
impl Functions {
    #[new]
    fn new(
        cdata: Py<PyType>,
        process: Py<Process>,
        backend: &str,
        sizeof_fallback: Py<PyAny>,
    ) -> Self {
        Functions {
            cdata,
            wasm: backend == "wasm",
            sizeof_fallback,
            process,
            pointers: GilCell::new(None),
        }
    }

    /// Gives `pointer` the pointer part's type cache, `POINTER` and `_Pointer.__init__`.
    fn _pointers(
        &self,
        py: Python<'_>,
        cache: Py<PyDict>,
        make: Py<PyAny>,
        init: Py<PyAny>,
    ) -> PyResult<()> {
        let part = Py::new(py, PointerPart { cache, make, init })?;
        self.pointers.set(py, Some(part));
        Ok(())
    }

    /// `ctypes.pointer(obj)`: `POINTER(type(obj))(obj)`. For the package's own pointer types,
    /// made in Rust: the instance, the address stored, and what it keeps (see [`_point`]).
    ///
    /// [`_point`]: Functions::_point
    fn pointer(&self, obj: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        let py = obj.py();
        let part = self
            .pointers
            .cloned(py)
            .ok_or_else(|| PyTypeError::new_err("pointer types are not ready"))?;
        let part = part.get();
        let t = obj.get_type();
        let ptype = match part.cache.bind(py).get_item(&t)? {
            Some(p) => p,
            None => part.make.call1(py, (&t,))?.into_bound(py),
        };
        let own = match (self.data(obj), ptype.cast::<PyType>()) {
            (Some(data), Ok(pt))
                if pt.getattr(pyo3::intern!(py, "__init__"))?.is(&part.init)
                    && pt.getattr(pyo3::intern!(py, "_type_"))?.is(&t) =>
            {
                Some((data.clone(), pt.clone()))
            }
            _ => None,
        };
        let Some((data, pt)) = own else {
            return Ok(ptype.call1((obj,))?.unbind());
        };
        let p = owned_instance(&pt)?;
        self.point(&p, &data)?;
        Ok(p.into_any().unbind())
    }

    /// `p.contents` of a pointer `p`: an object of its `_type_` at the address it holds,
    /// sharing `p`'s memory (its `_b_base_`, index 0), as ctypes makes it; the Python layer's
    /// `fallback(p)` for a target type with no `_b_alloc_` (not final, abstract).
    fn _contents<'py>(
        &self,
        p: &Bound<'py, CDataBase>,
        fallback: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let py = p.py();
        let this = p.get();
        let target = p.get_type().getattr(pyo3::intern!(py, "_type_"))?;
        let Some(target) = target
            .cast::<PyType>()
            .ok()
            .filter(|t| Alloc::of(t).is_some())
        else {
            return fallback.call1((p,));
        };
        let addr = this.held_address(py, self.process.get())?;
        if addr == 0 {
            return Err(PyValueError::new_err("NULL pointer access"));
        }
        let obj = bare_instance(target)?;
        let o = obj.get();
        o.addr.store(py, addr);
        o.base.set(py, Some(p.clone().into_any().unbind()));
        o.index.store(py, 0);
        Ok(obj.into_any())
    }

    /// `p.contents = obj` once the Python layer checked `obj`'s type: `p`'s memory holds
    /// `obj`'s address, and `p` keeps `obj` and what `obj` keeps, as ctypes' pointers do.
    fn _point(&self, p: &Bound<'_, CDataBase>, obj: &Bound<'_, CDataBase>) -> PyResult<()> {
        self.point(p, obj)
    }
    /// `ctypes.byref(obj, offset=0)`: a cparam of `obj`'s address plus `offset` (clamped to
    /// the range of `ssize_t`, as ctypes' `PyNumber_AsSsize_t`); natively it wraps as C's
    /// pointer arithmetic does, in the sandbox it must lie in its 32-bit memory.
    #[pyo3(signature = (obj, offset=None))]
    fn byref(&self, obj: &Bound<'_, PyAny>, offset: Option<&Bound<'_, PyAny>>) -> PyResult<CArg> {
        let py = obj.py();
        let Some(data) = self.data(obj) else {
            return Err(PyTypeError::new_err(format!(
                "byref() argument must be a ctypes instance, not '{}'",
                obj.get_type().name()?
            )));
        };
        let base = data.get().addr.load(py);
        let addr = match offset {
            None => base,
            Some(off) => {
                let off = clamped_ssize(off)?;
                let addr = base as i128 + off as i128;
                // Natively C's pointer arithmetic wraps; the sandbox's memory is 32 bits.
                if !self.wasm || (0..1i128 << 32).contains(&addr) {
                    addr as u64
                } else if !(-(1i128 << 63)..1i128 << 64).contains(&addr) {
                    return Err(PyOverflowError::new_err(
                        "int too big to convert to a pointer",
                    ));
                } else {
                    return Err(PyValueError::new_err(format!(
                        "byref({}, {off}): address {addr:#x} is outside the sandbox's 32-bit \
                         memory (a host address? share a host buffer with from_buffer(), or \
                         copy it with from_buffer_copy())",
                        obj.get_type().name()?
                    )));
                }
            }
        };
        CArg::address(py, addr, obj.clone().unbind())
    }

    /// `ctypes.sizeof(obj)`: an instance's size after `resize`, or its type's `_b_alloc_`
    /// size; the Python layer's answer for the rest (types not final yet, errors).
    fn sizeof(&self, obj: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        let py = obj.py();
        let ty = match obj.cast::<CDataBase>() {
            Ok(data) => match data.get().size.load(py) {
                Some(n) => return Ok(n.into_pyobject(py)?.into_any().unbind()),
                None => Some(obj.get_type()),
            },
            Err(_) => obj.cast::<PyType>().ok().cloned(),
        };
        if let Some(alloc) = ty.as_ref().and_then(Alloc::of) {
            return Ok(alloc.get().size.into_pyobject(py)?.into_any().unbind());
        }
        self.sizeof_fallback.call1(py, (obj,))
    }

    /// `ctypes.addressof(obj)`: the address of a ctypes object's memory.
    fn addressof(&self, obj: &Bound<'_, PyAny>) -> PyResult<u64> {
        match self.data(obj) {
            Some(data) => Ok(data.get().addr.load(obj.py())),
            None => Err(PyTypeError::new_err("invalid type")),
        }
    }
}

/// Whether `obj`'s type is `ty` or a subtype of it, by the MRO alone (no
/// `__instancecheck__`, which Python code could make lie).
pub(crate) fn is_instance(obj: &Bound<'_, PyAny>, ty: &Bound<'_, PyType>) -> bool {
    // SAFETY: two live type objects.
    unsafe { ffi::PyType_IsSubtype(obj.get_type().as_type_ptr(), ty.as_type_ptr()) != 0 }
}

/// `n` as a C `ssize_t`, clamped as `PyNumber_AsSsize_t(n, NULL)` clamps it; a TypeError if
/// it is not an integer (`__index__`).
fn clamped_ssize(n: &Bound<'_, PyAny>) -> PyResult<i64> {
    // SAFETY: `n` is a live object; with a NULL exception type an overflow is clamped.
    let v = unsafe { ffi::PyNumber_AsSsize_t(n.as_ptr(), std::ptr::null_mut()) };
    if v == -1 {
        if let Some(e) = PyErr::take(n.py()) {
            return Err(e);
        }
    }
    Ok(v as i64)
}
