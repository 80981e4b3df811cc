//! ctypes' functions over memory that bindings call between their calls (`string_at`,
//! `cast`, `create_string_buffer`), in Rust for the arguments bindings pass most (an int
//! address, an array, `byref()`, a `bytes` initialiser), and the Python layer's for anything
//! else, which converts it as ctypes' `c_void_p.from_param` does.

use pyo3::exceptions::{PySystemError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict, PyInt, PyTuple, PyType};

use crate::carg::CArg;
use crate::cdata::CDataBase;
use crate::cdata_methods::owned_instance;
use crate::functions::is_instance;
use crate::keep;
use crate::process::Process;

/// The functions of one namespace, with what they need of its types (see the module docs).
#[pyclass(frozen, module = "wasmctypes._core")]
pub(crate) struct MemoryFunctions {
    process: Py<Process>,
    /// The namespace's `_CData`, `Array`, `_Pointer` and `c_char`.
    cdata: Py<PyType>,
    array: Py<PyType>,
    pointer: Py<PyType>,
    c_char: Py<PyType>,
    /// `_Pointer.__init__`: a pointer type with another is not made here.
    pointer_init: Py<PyAny>,
    /// `c_void_p`, `c_char_p` and `c_wchar_p`, which `cast` makes here too.
    void_ps: [Py<PyType>; 3],
    /// `ARRAY`'s cache of array types by `(type, length)`, and `ARRAY` itself.
    arrays: Py<PyDict>,
    make_array: Py<PyAny>,
    /// The Python layer's `string_at`, `cast` and `create_string_buffer`.
    fallbacks: [Py<PyAny>; 3],
}

impl MemoryFunctions {
    /// The address `x` passes as a `c_void_p`, for an int (masked to the pointer's width, as
    /// ctypes masks it), an array of the namespace (its memory) or a `byref()`; None for
    /// anything else.
    fn address(&self, x: &Bound<'_, PyAny>) -> Option<u64> {
        let py = x.py();
        if x.is_instance_of::<PyInt>() {
            let n = x.extract::<i64>().ok()? as u64;
            let bits = 8 * self.process.get().sandbox.sizeof(wasmctypes::CType::VoidP);
            return Some(if bits >= 64 { n } else { n & ((1 << bits) - 1) });
        }
        if let Ok(c) = x.cast_exact::<CArg>() {
            return c.get().addr(py);
        }
        if is_instance(x, self.array.bind(py)) {
            return Some(x.cast::<CDataBase>().ok()?.get().addr.load(py));
        }
        None
    }

    /// The array type `c_char * n`, from `ARRAY`'s cache, or made by `ARRAY`.
    fn char_array<'py>(&self, n: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyType>> {
        let py = n.py();
        let key = PyTuple::new(py, [self.c_char.bind(py).as_any(), n])?;
        let t = match self.arrays.bind(py).get_item(&key)? {
            Some(t) => t,
            None => self
                .make_array
                .call1(py, (self.c_char.bind(py), n))?
                .into_bound(py),
        };
        Ok(t.cast_into::<PyType>()?)
    }
}

#[pymethods]
impl MemoryFunctions {
    #[new]
    #[allow(clippy::too_many_arguments)]
    fn new(
        process: Py<Process>,
        cdata: Py<PyType>,
        array: Py<PyType>,
        pointer: Py<PyType>,
        c_char: Py<PyType>,
        pointer_init: Py<PyAny>,
        void_ps: [Py<PyType>; 3],
        arrays: Py<PyDict>,
        make_array: Py<PyAny>,
        fallbacks: [Py<PyAny>; 3],
    ) -> Self {
        MemoryFunctions {
            process,
            cdata,
            array,
            pointer,
            c_char,
            pointer_init,
            void_ps,
            arrays,
            make_array,
            fallbacks,
        }
    }

    /// `ctypes.string_at(ptr, size=-1)`: `size` bytes at `ptr`, or up to its NUL for -1;
    /// `size` converts as a C `int` (masked to 32 bits), as in ctypes.
    #[pyo3(signature = (ptr, size = None))]
    fn string_at<'py>(
        &self,
        ptr: &Bound<'py, PyAny>,
        size: Option<&Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let py = ptr.py();
        let n = match size {
            None => Some(-1),
            Some(s) if s.is_instance_of::<PyInt>() => s.extract::<i64>().ok().map(|n| n as i32),
            Some(_) => None,
        };
        let (Some(addr), Some(n)) = (self.address(ptr), n) else {
            let size = match size {
                Some(s) => s.clone(),
                None => (-1i32).into_pyobject(py)?.into_any(),
            };
            return self.fallbacks[0].bind(py).call1((ptr, size));
        };
        let process = self.process.get();
        match n {
            -1 => Ok(process.read_string(py, addr)?.into_any()),
            n if n < 0 => Err(PySystemError::new_err(
                "Negative size passed to PyBytes_FromStringAndSize",
            )),
            n => Ok(process.read_bytes(py, addr, n as usize)?.into_any()),
        }
    }

    /// `ctypes.cast(obj, typ)`: a `typ` (a pointer type) pointing where `obj` does. As in
    /// ctypes, the result shares the `_objects` of `obj` (made a dict), which keeps `obj`
    /// under its id.
    fn cast<'py>(
        &self,
        obj: &Bound<'py, PyAny>,
        typ: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let py = obj.py();
        let target = typ.cast::<PyType>().ok().filter(|t| {
            self.void_ps.iter().any(|v| v.bind(py).is(*t))
                || (t.is_subclass(self.pointer.bind(py)).unwrap_or(false)
                    && t.getattr(pyo3::intern!(py, "__init__"))
                        .is_ok_and(|i| i.is(&self.pointer_init)))
        });
        let (Some(addr), Some(target)) = (self.address(obj), target) else {
            return self.fallbacks[1].bind(py).call1((obj, typ));
        };
        let result = owned_instance(target)?;
        let r = result.get();
        self.process
            .get()
            .store_pointer(py, r.addr.load(py), addr)?;
        if is_instance(obj, self.cdata.bind(py)) {
            let src = obj.cast::<CDataBase>()?;
            keep::container(src)?;
            let s = src.get();
            if s.base.cloned(py).is_none() && s.objects.cloned(py).is_none() {
                s.objects.set(py, Some(PyDict::new(py).into_any().unbind()));
            }
            let objects = s.objects.cloned(py);
            if let Some(d) = objects.as_ref().map(|o| o.bind(py)) {
                if let Ok(d) = d.cast_exact::<PyDict>() {
                    d.set_item(obj.as_ptr() as usize, obj)?;
                }
            }
            r.objects.set(py, objects);
        }
        keep::keep_ref(&result, -1, None, Some(obj.clone()))?;
        Ok(result.into_any())
    }

    /// `ctypes.create_string_buffer(init, size=None)`: a `c_char` array of `size` bytes (of
    /// `len(init) + 1` without one) holding `init` and a NUL if it fits; an int `init` is the
    /// size.
    #[pyo3(signature = (init, size = None))]
    fn create_string_buffer<'py>(
        &self,
        init: &Bound<'py, PyAny>,
        size: Option<&Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let py = init.py();
        let size = size.filter(|s| !s.is_none());
        if size.is_some_and(|s| !s.is_exact_instance_of::<PyInt>()) {
            return self.fallbacks[2].bind(py).call1((init, size));
        }
        if let Ok(b) = init.cast::<PyBytes>() {
            let len = b.as_bytes().len();
            let n = match size {
                Some(s) => s.clone(),
                None => (len + 1).into_pyobject(py)?.into_any(),
            };
            let t = self.char_array(&n)?;
            let length: usize = n.extract()?;
            if len > length {
                return Err(PyValueError::new_err("byte string too long"));
            }
            let buf = owned_instance(&t)?;
            let addr = buf.get().addr.load(py);
            let nul = usize::from(len < length);
            self.process
                .get()
                .write_from_buffer(py, addr, b.as_any(), 0, len, nul)?;
            return Ok(buf.into_any());
        }
        if init.is_instance_of::<PyInt>() && size.is_none() {
            return Ok(owned_instance(&self.char_array(init)?)?.into_any());
        }
        self.fallbacks[2].bind(py).call1((init, size))
    }
}
