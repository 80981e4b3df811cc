//! What Python calls on `_core.CData` and `_core.CFuncPtr` (see [`crate::cdata`]): an
//! instance made with memory of its own or none, its attributes, what it keeps alive, its
//! items, a C function object's call, and ctypes' buffer protocol.

use std::ffi::{c_int, CString};

use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::ffi;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyInt, PyTuple, PyType};

use crate::alloc::Alloc;
use crate::block::Block;
use crate::cdata::CDataBase;
use crate::error::OrPy;
use crate::function::Func;
use crate::items::{python_item_method, scalar_items, Items};
use crate::keep;
use crate::process::Process;

/// What a buffer export holds until it is released: the format and shape it points at, and
/// the process whose memory it shares.
pub(crate) struct Export {
    format: CString,
    shape: Vec<ffi::Py_ssize_t>,
    process: Py<Process>,
}

/// A new instance of `cls` (a subclass of `_core.CData`) with no memory yet: its constructor
/// called with [`bare_args`], without a Python frame.
pub(crate) fn bare_instance<'py>(cls: &Bound<'py, PyType>) -> PyResult<Bound<'py, CDataBase>> {
    Constructor::of(cls)?.make(cls)
}

/// The constructor of a class's instances, checked once: PyO3's `tp_new` of `CData`, or of
/// `CFuncPtr` for its subclasses (whose instances have its layout).
#[derive(Clone, Copy)]
pub(crate) struct Constructor(ffi::newfunc);

impl Constructor {
    /// The constructor for `cls`, a subclass of `CData` (TypeError otherwise).
    pub(crate) fn of(cls: &Bound<'_, PyType>) -> PyResult<Constructor> {
        let py = cls.py();
        // PyType_IsSubtype: the MRO only, no __subclasscheck__ (as tp_new checks its type).
        let subtype = |base: &Bound<'_, PyType>| {
            // SAFETY: two live type objects.
            unsafe { ffi::PyType_IsSubtype(cls.as_type_ptr(), base.as_type_ptr()) != 0 }
        };
        if !subtype(&py.get_type::<CDataBase>()) {
            return Err(PyTypeError::new_err("not a ctypes type"));
        }
        // Looked up once each.
        static NEW: std::sync::OnceLock<usize> = std::sync::OnceLock::new();
        static NEW_FUNC: std::sync::OnceLock<usize> = std::sync::OnceLock::new();
        let (cell, base) = match subtype(&py.get_type::<CFuncBase>()) {
            true => (&NEW_FUNC, py.get_type::<CFuncBase>()),
            false => (&NEW, py.get_type::<CDataBase>()),
        };
        let slot = *cell.get_or_init(|| {
            // SAFETY: reading a slot of a live type object.
            unsafe { ffi::PyType_GetSlot(base.as_type_ptr(), ffi::Py_tp_new) as usize }
        });
        if slot == 0 {
            return Err(PyTypeError::new_err("CData has no constructor"));
        }
        // SAFETY: `slot` is a non-NULL `tp_new`, whose type is `newfunc`.
        Ok(Constructor(unsafe {
            std::mem::transmute::<usize, ffi::newfunc>(slot)
        }))
    }

    /// A new instance of `cls`, which must be the class (or a subclass of the class) this
    /// constructor was looked up for.
    pub(crate) fn make<'py>(self, cls: &Bound<'py, PyType>) -> PyResult<Bound<'py, CDataBase>> {
        let py = cls.py();
        // SAFETY: `self.0` is `tp_new` of `CData` or `CFuncPtr`, PyO3's constructor, which
        // takes any subtype of its class (`Constructor::of` checked `cls`, and a subclass of
        // `CFuncPtr` gets its own), a tuple of arguments and NULL keywords, and returns a new
        // reference or NULL with an exception set.
        unsafe {
            let obj = (self.0)(
                cls.as_type_ptr(),
                bare_args(py).as_ptr(),
                std::ptr::null_mut(),
            );
            Ok(Bound::from_owned_ptr_or_err(py, obj)?.cast_into_unchecked::<CDataBase>())
        }
    }
}

/// A new zeroed block for an instance of `cls`, of the size its type's `_b_alloc_` says (see
/// [`Alloc`]); a type's first instance asks the Python layer's `cls._b_first_()` for that,
/// which checks that the type can have instances.
fn own_block<'py>(cls: &Bound<'py, PyType>) -> PyResult<(Block, Bound<'py, Alloc>)> {
    let py = cls.py();
    let alloc = match Alloc::of(cls) {
        Some(a) => a,
        None => cls
            .call_method0(pyo3::intern!(py, "_b_first_"))?
            .cast_into::<Alloc>()?,
    };
    let a = alloc.get();
    let block = Block::new(a.process.bind(py), a.size.max(1))?;
    Ok((block, alloc))
}

/// A new instance of `cls` with memory of its own and no `__init__` run: what `T.__new__(T)`
/// makes.
pub(crate) fn owned_instance<'py>(cls: &Bound<'py, PyType>) -> PyResult<Bound<'py, CDataBase>> {
    let obj = bare_instance(cls)?;
    let (block, _) = own_block(cls)?;
    let this = obj.get();
    this.addr.store(cls.py(), block.addr);
    drop(this.own.replace(cls.py(), Some(block)));
    Ok(obj)
}

/// The arguments with which a `CData` or `CFuncPtr` constructor makes an instance with no
/// memory: a tuple of a private object, which no Python code holds.
fn bare_args(py: Python<'_>) -> &Bound<'_, PyTuple> {
    static BARE: pyo3::sync::PyOnceLock<Py<PyTuple>> = pyo3::sync::PyOnceLock::new();
    BARE.get_or_init(py, || {
        PyTuple::new(py, [pyo3::types::PyString::new(py, "bare")])
            .expect("a tuple of one string")
            .unbind()
    })
    .bind(py)
}

#[pymethods]
impl CDataBase {
    /// `T()`: an instance of `cls` with memory of its own, a new zeroed block of the size
    /// its type's `_b_alloc_` says (see [`Alloc`]). A type's first instance asks the Python
    /// layer's `cls._b_first_()` for that, which checks that the type can have instances.
    /// Called with [`bare_args`] (from Rust only), it makes an instance with no memory.
    #[new]
    #[classmethod]
    #[pyo3(signature = (*args, **_kwargs))]
    fn new(
        cls: &Bound<'_, PyType>,
        args: &Bound<'_, PyTuple>,
        _kwargs: Option<&Bound<'_, PyDict>>,
    ) -> PyResult<Self> {
        let py = cls.py();
        let this = CDataBase::bare();
        // `bare_instance` passes its private tuple itself.
        if args.is(bare_args(py)) {
            return Ok(this);
        }
        let (block, alloc) = own_block(cls)?;
        this.addr.store(py, block.addr);
        this.own.replace(py, Some(block));
        // For this instance's `tp_init`, which would look it up again.
        this.alloc.set(py, Some(alloc.into_any().unbind()));
        Ok(this)
    }

    fn __traverse__(&self, visit: pyo3::PyVisit<'_>) -> Result<(), pyo3::PyTraverseError> {
        for o in [&self.base, &self.block, &self.objects, &self.keep] {
            o.visit(&visit)?;
        }
        self.fast.visit(&visit)?;
        self.items.visit(&visit)
    }

    fn __clear__(&self) {
        Python::attach(|py| {
            self.base.set(py, None);
            self.objects.set(py, None);
            self.keep.set(py, None);
            self.fast.set(py, None);
        })
    }

    #[getter(_b_addr)]
    fn get_addr(&self, py: Python<'_>) -> u64 {
        self.addr.load(py)
    }

    #[setter(_b_addr)]
    fn set_addr(&self, py: Python<'_>, v: u64) {
        self.addr.store(py, v)
    }

    #[getter(_b_ptr_)]
    fn get_ptr(&self, py: Python<'_>) -> Option<u64> {
        self.ptr.load(py)
    }

    #[setter(_b_ptr_)]
    fn set_ptr(&self, py: Python<'_>, v: Option<u64>) {
        self.ptr.store(py, v)
    }

    #[getter(_b_size)]
    fn get_size(&self, py: Python<'_>) -> Option<usize> {
        self.size.load(py)
    }

    #[setter(_b_size)]
    fn set_size(&self, py: Python<'_>, v: Option<usize>) {
        self.size.store(py, v)
    }

    #[getter(_b_index)]
    fn get_index(&self, py: Python<'_>) -> isize {
        self.index.load(py)
    }

    #[setter(_b_index)]
    fn set_index(&self, py: Python<'_>, v: isize) {
        self.index.store(py, v)
    }

    #[getter(_b_base_)]
    fn get_base(&self, py: Python<'_>) -> Option<Py<PyAny>> {
        self.base.cloned(py)
    }

    #[setter(_b_base_)]
    fn set_base(&self, py: Python<'_>, v: Option<Py<PyAny>>) {
        self.base.set(py, v)
    }

    /// The block of memory the object owns (a `_core.Block`), if any.
    #[getter(_b_block)]
    fn get_block(&self, py: Python<'_>) -> PyResult<Option<Py<PyAny>>> {
        if let Some(own) = self.own.replace(py, None) {
            // Asked for: the memory it owns gets its Python object now.
            self.block
                .set(py, Some(Bound::new(py, own)?.into_any().unbind()));
        }
        Ok(self.block.cloned(py))
    }

    /// Gives the object another block (or none); the memory it owned is freed.
    #[setter(_b_block)]
    fn set_block(&self, py: Python<'_>, v: Option<Py<PyAny>>) {
        drop(self.own.replace(py, None));
        self.block.set(py, v)
    }

    #[getter(_objects)]
    fn get_objects(&self, py: Python<'_>) -> Option<Py<PyAny>> {
        self.objects.cloned(py)
    }

    #[setter(_objects)]
    fn set_objects(&self, py: Python<'_>, v: Option<Py<PyAny>>) {
        self.objects.set(py, v)
    }

    #[getter(_b_keep_)]
    fn get_keep(&self, py: Python<'_>) -> Option<Py<PyAny>> {
        self.keep.cloned(py)
    }

    #[setter(_b_keep_)]
    fn set_keep(&self, py: Python<'_>, v: Option<Py<PyAny>>) {
        self.keep.set(py, v)
    }

    /// ctypes' `KeepRef` (see [`crate::keep`]): the object's memory keeps `keep` alive, and
    /// `extra` beside it, for its item or field `index`.
    #[pyo3(signature = (index, keep, extra = None))]
    fn _b_keep(
        slf: &Bound<'_, Self>,
        index: isize,
        keep: Option<Bound<'_, PyAny>>,
        extra: Option<Bound<'_, PyAny>>,
    ) -> PyResult<()> {
        keep::keep_ref(slf, index, keep, extra)
    }

    /// ctypes' `GetKeepedObjects`: `(_objects, _b_keep_)` of the memory's owner.
    fn _b_kept(slf: &Bound<'_, Self>) -> PyResult<keep::Kept> {
        keep::kept(slf)
    }

    /// ctypes' `PyCData_GetContainer`: the object owning this object's memory.
    fn _b_container<'py>(slf: &Bound<'py, Self>) -> PyResult<Bound<'py, CDataBase>> {
        keep::container(slf)
    }

    /// Points the object at `addr`, memory that belongs to `base` (or to nobody, or to the
    /// object itself when it owns `block`), with nothing kept alive yet. Returns the object.
    #[pyo3(signature = (addr, base = None, block = None))]
    fn _attach<'py>(
        slf: Bound<'py, Self>,
        addr: u64,
        base: Option<Py<PyAny>>,
        block: Option<Py<PyAny>>,
    ) -> Bound<'py, Self> {
        let py = slf.py();
        let s = slf.get();
        s.addr.store(py, addr);
        s.base.set(py, base);
        drop(s.own.replace(py, None));
        s.block.set(py, block);
        s.objects.set(py, None);
        s.size.store(py, None);
        s.index.store(py, 0);
        s.keep.set(py, None);
        slf
    }

    /// `_CFuncPtr.__new__`: an instance of a function pointer type `cls`, which its
    /// `_new_block()` gives memory and what it points at.
    #[staticmethod]
    #[pyo3(signature = (cls, *_args, **_kwargs))]
    fn _new<'py>(
        cls: &Bound<'py, PyType>,
        _args: &Bound<'py, PyTuple>,
        _kwargs: Option<&Bound<'py, PyDict>>,
    ) -> PyResult<Bound<'py, CDataBase>> {
        let obj = bare_instance(cls)?;
        obj.call_method0(pyo3::intern!(cls.py(), "_new_block"))?;
        Ok(obj)
    }

    /// `obj[i]`: a number item of an array or pointer of numbers in Rust, anything else by
    /// the Python layer's `_getitem` (a type without one is not subscriptable). A slot of
    /// the base class, so that no Python lookup comes between.
    fn __getitem__(slf: &Bound<'_, Self>, i: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        let py = slf.py();
        let this = slf.get();
        // A callback's pointer carries its items (no lookup).
        if let (Some(items), true) = (this.items.cloned(py), i.is_exact_instance_of::<PyInt>()) {
            if let (Ok(items), Ok(n)) = (items.bind(py).cast::<Items>(), i.extract::<i64>()) {
                return items.get().load(py, this, n);
            }
        }
        if let Some((items, i)) = scalar_items(slf, this, i) {
            return items.get().load(py, this, i);
        }
        let m = python_item_method(slf, pyo3::intern!(py, "_getitem"), "is not subscriptable")?;
        Ok(m.call1((i,))?.unbind())
    }

    /// `obj[i] = v`: as [`CDataBase::__getitem__`], for an int (or, for `c_float` and
    /// `c_double` items, a float); the Python layer's `_setitem` otherwise.
    fn __setitem__(
        slf: &Bound<'_, Self>,
        i: &Bound<'_, PyAny>,
        v: &Bound<'_, PyAny>,
    ) -> PyResult<()> {
        let py = slf.py();
        let this = slf.get();
        if let Some((items, i)) = scalar_items(slf, this, i) {
            if items.get().store(py, this, i, v)? {
                return Ok(());
            }
        }
        let m = python_item_method(
            slf,
            pyo3::intern!(py, "_setitem"),
            "does not support item assignment",
        )?;
        m.call1((i, v))?;
        Ok(())
    }

    /// `del obj[i]`: the Python layer's `_delitem`, which says why not.
    fn __delitem__(slf: &Bound<'_, Self>, i: &Bound<'_, PyAny>) -> PyResult<()> {
        let py = slf.py();
        let m = python_item_method(
            slf,
            pyo3::intern!(py, "_delitem"),
            "doesn't support item deletion",
        )?;
        m.call1((i,))?;
        Ok(())
    }

    /// Sets (or clears) the prepared call that [`CDataBase::call`] tries first.
    fn _set_fast(&self, py: Python<'_>, f: Option<Py<Func>>) {
        self.fast.set(py, f.map(Py::into_any));
    }

    /// An instance of `cls` with no memory yet (`from_address` and kin attach it).
    #[staticmethod]
    fn _bare<'py>(cls: &Bound<'py, PyType>) -> PyResult<Bound<'py, CDataBase>> {
        bare_instance(cls)
    }

    /// A C function object's call (see [`CFuncBase`]): the prepared call if every argument
    /// is a plain Python value ([`Func::fast`]), else the Python layer's general call,
    /// `self._call(args, None)`.
    #[pyo3(signature = (*args))]
    fn call(slf: &Bound<'_, Self>, args: &Bound<'_, PyTuple>) -> PyResult<Py<PyAny>> {
        let py = slf.py();
        let fast = slf
            .get()
            .fast
            .cloned(py)
            .and_then(|f| Some(f.bind(py).cast::<Func>().ok()?.borrow().p.clone()));
        if let Some(p) = fast {
            let r = p.fast(py, args)?;
            if !r.is(py.NotImplemented()) {
                return Ok(r);
            }
        }
        Ok(slf
            .call_method1(pyo3::intern!(py, "_call"), (args, py.None()))?
            .unbind())
    }

    /// # Safety
    ///
    /// `view` is the `Py_buffer` CPython passes to `bf_getbuffer`.
    unsafe fn __getbuffer__(
        slf: Bound<'_, Self>,
        view: *mut ffi::Py_buffer,
        flags: c_int,
    ) -> PyResult<()> {
        if view.is_null() {
            return Err(pyo3::exceptions::PyBufferError::new_err("View is null"));
        }
        let (process, addr, size, format, itemsize, shape) = buffer_layout(&slf)?;
        let _ = flags; // every view is writable, C-contiguous and formatted, as ctypes'
        let ptr = if size == 0 {
            std::ptr::NonNull::<u8>::dangling()
        } else {
            let p = process.get();
            let _claim = p.claim(slf.py())?;
            match p.mirrored_host_address(slf.py(), addr, size) {
                // Memory that stands for a host buffer (`from_buffer`): the view shares the
                // host object's memory, as natively.
                Some(host) => std::ptr::NonNull::new(host as *mut u8)
                    .ok_or_else(|| PyValueError::new_err("NULL pointer access"))?,
                None => p.sandbox.host_pointer(addr, size).py()?,
            }
        };
        let export = Box::new(Export {
            format: CString::new(format)
                .map_err(|_| PyValueError::new_err("a buffer format has a NUL"))?,
            shape: shape.iter().map(|&n| n as ffi::Py_ssize_t).collect(),
            process: process.clone().unbind(),
        });
        let p = process.borrow();
        p.exports.set(p.exports.get() + 1);
        // SAFETY: `view` is valid for writes (CPython's contract for bf_getbuffer). The
        // format and shape live in `export` until `__releasebuffer__` frees it; the memory
        // stays where it is while the object (held in `obj`) and its process live.
        unsafe {
            (*view).obj = slf.clone().into_any().into_ptr();
            (*view).buf = ptr.as_ptr().cast();
            (*view).len = size as ffi::Py_ssize_t;
            (*view).readonly = 0;
            (*view).itemsize = itemsize as ffi::Py_ssize_t;
            (*view).format = export.format.as_ptr() as *mut _;
            (*view).ndim = export.shape.len() as c_int;
            (*view).shape = if export.shape.is_empty() {
                std::ptr::null_mut()
            } else {
                export.shape.as_ptr() as *mut _
            };
            (*view).strides = std::ptr::null_mut();
            (*view).suboffsets = std::ptr::null_mut();
            (*view).internal = Box::into_raw(export).cast();
        }
        Ok(())
    }

    /// # Safety
    ///
    /// `view` is a view that `__getbuffer__` filled.
    unsafe fn __releasebuffer__(&self, py: Python<'_>, view: *mut ffi::Py_buffer) {
        // SAFETY: `internal` is the `Export` that `__getbuffer__` leaked for this view.
        let export = unsafe { Box::from_raw((*view).internal.cast::<Export>()) };
        let p = export.process.borrow(py);
        p.exports.set(p.exports.get().saturating_sub(1));
    }
}

/// `(process, address, size, format, itemsize, shape)` of a buffer export.
type BufferLayout<'py> = (Bound<'py, Process>, u64, usize, String, usize, Vec<isize>);

/// What a buffer over `obj` is: `(process, address, size, format, itemsize, shape)`, from
/// the package's own `_b_buffer_` (the first definition in the type's MRO, never a
/// subclass's override: a shape Python code makes up would let a memoryview read past the
/// object, as CPython's ctypes, in C, never allows). The address is the object's own and
/// the shape is checked against the size; one that does not fit is refused.
fn buffer_layout<'py>(obj: &Bound<'py, CDataBase>) -> PyResult<BufferLayout<'py>> {
    let py = obj.py();
    let name = pyo3::intern!(py, "_b_buffer_");
    let mro = obj.get_type().mro();
    let own = mro
        .iter()
        .rev()
        .find_map(|k| k.getattr("__dict__").ok()?.get_item(name).ok())
        .ok_or_else(|| PyTypeError::new_err("this object has no buffer"))?;
    let info = own.call1((obj,))?;
    let (process, addr, size, format, itemsize, shape): (
        Bound<'_, Process>,
        u64,
        usize,
        String,
        usize,
        Vec<isize>,
    ) = info.extract()?;
    let bad = || pyo3::exceptions::PyBufferError::new_err("the object's buffer layout is invalid");
    if addr != obj.get().addr.load(py) || shape.len() > 64 {
        return Err(bad());
    }
    let items = shape.iter().try_fold(itemsize, |n, &d| {
        usize::try_from(d).ok().and_then(|d| n.checked_mul(d))
    });
    if items != Some(size) {
        return Err(bad());
    }
    Ok((process, addr, size, format, itemsize, shape))
}

/// The base of C function objects (`_CFuncPtr`: a library's function, a function pointer, a
/// callback): a `CData` whose type's call slot is [`CDataBase::call`], so that calling one
/// goes from Python straight to Rust, with no lookup of `__call__` between.
#[pyclass(extends = CDataBase, subclass, module = "wasmctypes._core", name = "CFuncPtr")]
pub(crate) struct CFuncBase {}

#[pymethods]
impl CFuncBase {
    /// An instance with no memory: the Python layer's `_CFuncPtr.__new__` (see
    /// [`CDataBase::_new`]) gives it what it points at.
    #[new]
    #[pyo3(signature = (*_args, **_kwargs))]
    fn new(
        _args: &Bound<'_, PyTuple>,
        _kwargs: Option<&Bound<'_, PyDict>>,
    ) -> PyClassInitializer<Self> {
        PyClassInitializer::from(CDataBase::bare()).add_subclass(CFuncBase {})
    }

    /// `f(*args)`: [`CDataBase::call`]; with keywords (paramflags), the Python layer's
    /// `self._call(args, kwargs)`.
    #[pyo3(signature = (*args, **kwargs))]
    fn __call__(
        slf: &Bound<'_, Self>,
        args: &Bound<'_, PyTuple>,
        kwargs: Option<&Bound<'_, PyDict>>,
    ) -> PyResult<Py<PyAny>> {
        match kwargs.filter(|k| !k.is_empty()) {
            None => CDataBase::call(slf.as_super(), args),
            Some(k) => Ok(slf
                .call_method1(pyo3::intern!(slf.py(), "_call"), (args, k))?
                .unbind()),
        }
    }
}
