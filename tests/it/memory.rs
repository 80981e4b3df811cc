//! The memory side of ctypes: instances, c_char_p, buffers, arrays, pointers and raw memory,
//! on both backends with ctypes' answers.

use crate::common::{both, open};
use wasmctypes::{
    byref, cast, create_string_buffer, create_unicode_buffer, memmove, memset, pointer, string_at,
    wstring_at, Array, BackendKind, CData, CType, CValue, Ptr, Value, WideInit,
};

#[test]
fn instances_read_and_write_value_masked() {
    for lib in both("testlib") {
        let i = CValue::new(&lib, CType::Int, 42).unwrap();
        assert_eq!(i.value().unwrap(), Value::Int(42));
        i.set_value(-99).unwrap();
        assert_eq!(i.value().unwrap(), Value::Int(-99));
        i.set_value(Value::Int((1 << 32) + 5)).unwrap();
        assert_eq!(i.value().unwrap(), Value::Int(5));
        assert_ne!(i.addressof(), 0);
        assert_eq!(i.size(), 4);
        let b = CValue::new(&lib, CType::UByte, -1).unwrap();
        assert_eq!(b.value().unwrap(), Value::Int(255));
        let l = CValue::new(&lib, CType::Long, 0).unwrap();
        assert_eq!(l.size(), lib.sizeof(CType::Long));
        let d = CValue::new(&lib, CType::Double, 2.5).unwrap();
        assert_eq!(d.value().unwrap(), Value::Float(2.5));
        assert_eq!(i.set_value(2.5).unwrap_err().kind(), "TypeError");
    }
}

#[test]
fn get_and_set_read_and_write_one_value_as_ctypes_items_do() {
    for lib in both("testlib") {
        // a = (c_int * 2)(); a[0] = 2**32 + 5; a[1] = -7: masked to the width.
        let a = CValue::new(&lib, CType::LongLong, 0).unwrap();
        let at = a.addressof();
        lib.set(at, CType::Int, &Value::Int((1 << 32) + 5)).unwrap();
        lib.set(at + 4, CType::Int, &Value::Int(-7)).unwrap();
        assert_eq!(lib.get(at, CType::Int).unwrap(), Value::Int(5));
        assert_eq!(
            lib.get(at + 4, CType::UInt).unwrap(),
            Value::Int(0xFFFF_FFF9)
        );
        assert_eq!(lib.get(at + 4, CType::Bool).unwrap(), Value::Bool(true));
        lib.set(at, CType::Double, &Value::Float(2.5)).unwrap();
        assert_eq!(lib.get(at, CType::Double).unwrap(), Value::Float(2.5));
        // A pointer type reads as its address.
        lib.set(at, CType::VoidP, &Value::Int(0x1234)).unwrap();
        assert_eq!(lib.get(at, CType::VoidP).unwrap(), Value::Int(0x1234));
        // NULL is a ValueError, as ctypes' NULL pointer access; a float is no int.
        assert_eq!(lib.get(0, CType::Int).unwrap_err().kind(), "ValueError");
        assert_eq!(
            lib.set(0, CType::Int, &Value::Int(1)).unwrap_err().kind(),
            "ValueError"
        );
        let err = lib.set(at, CType::Int, &Value::Float(1.5)).unwrap_err();
        assert_eq!(err.kind(), "TypeError");
        if lib.backend() == BackendKind::Wasm {
            // Outside the sandbox's memory: an error, not a read of the host's.
            let past = u64::from(u32::MAX) - 2;
            assert_eq!(lib.get(past, CType::Int).unwrap_err().kind(), "OutOfBounds");
        }
    }
}

#[test]
fn c_char_p_reads_repoints_and_reads_from_the_middle() {
    for lib in both("testlib") {
        let value = b"01234567890123456789".to_vec();
        let ptr = CValue::new(&lib, CType::CharP, value.clone()).unwrap();
        assert_eq!(ptr.value().unwrap(), Value::Bytes(value.clone()));
        // cast(ptr, c_void_p).value: the address it holds.
        let Value::Int(addr) = CValue::from_address(&lib, CType::VoidP, ptr.addressof())
            .value()
            .unwrap()
        else {
            panic!("address expected")
        };
        let middle = CValue::new(&lib, CType::CharP, addr + 1).unwrap();
        assert_eq!(
            middle.value().unwrap(),
            Value::Bytes(b"1234567890123456789".to_vec())
        );
        // ptr.value = b'world' repoints; the old string is untouched.
        ptr.set_value(b"world".to_vec()).unwrap();
        assert_eq!(ptr.value().unwrap(), Value::Bytes(b"world".to_vec()));
        assert_eq!(
            middle.value().unwrap(),
            Value::Bytes(b"1234567890123456789".to_vec())
        );
        let null = CValue::new(&lib, CType::CharP, Value::None).unwrap();
        assert_eq!(null.value().unwrap(), Value::None);
        // c_wchar_p
        let w = CValue::new(&lib, CType::WCharP, "h\u{e9}llo").unwrap();
        assert_eq!(w.value().unwrap(), Value::Str("h\u{e9}llo".into()));
    }
}

#[test]
fn unicode_buffers_use_four_byte_wchar_t() {
    for lib in both("testlib") {
        let b = create_unicode_buffer(&lib, WideInit::Text("abc")).unwrap();
        assert_eq!(b.len(), 4);
        assert_eq!(b.size(), 16);
        assert_eq!(b.value().unwrap(), "abc");
        b.set_value("xy").unwrap();
        assert_eq!(b.value().unwrap(), "xy");
        assert_eq!(b.set_value("toolong").unwrap_err().kind(), "ValueError");
        let wide_len = lib.function("wide_len").unwrap();
        assert_eq!(wide_len.call(&[(&b).into()]).unwrap(), Value::Int(2));
    }
}

#[test]
fn arrays_index_slice_write_and_iterate() {
    for lib in both("testlib") {
        let a = Array::from_values(
            &lib,
            CType::Int,
            &[1.into(), 2.into(), 3.into(), 4.into(), 5.into()],
        )
        .unwrap();
        assert_eq!(a.len(), 5);
        assert_eq!(a.size(), 20);
        assert_eq!(a.slice(1..3).unwrap(), vec![Value::Int(2), Value::Int(3)]);
        a.set_slice(3, &[40.into(), 50.into()]).unwrap();
        assert_eq!(
            a.iter().collect::<Vec<_>>(),
            [1, 2, 3, 40, 50].map(Value::Int).to_vec()
        );
        assert_eq!(a.get(5).unwrap_err().kind(), "IndexError");
        assert_eq!(a.set(9, 0).unwrap_err().kind(), "IndexError");
        assert_eq!(a.slice(4..6).unwrap_err().kind(), "IndexError");
        assert_eq!(
            a.set_slice(4, &[1.into(), 2.into()]).unwrap_err().kind(),
            "ValueError"
        );
        // C writes through the array's pointer.
        let mut fill = lib.function("fill").unwrap();
        fill.set_restype(CType::Void).unwrap();
        fill.call(&[(&a).into(), 5.into(), 10.into()]).unwrap();
        assert_eq!(
            a.to_vec().unwrap(),
            [10, 11, 12, 13, 14].map(Value::Int).to_vec()
        );
        // Arrays of other element types.
        let d = Array::from_values(&lib, CType::Double, &[0.5.into(), 1.5.into()]).unwrap();
        assert_eq!(d.get(1).unwrap(), Value::Float(1.5));
        let l = Array::new(&lib, CType::Long, 3).unwrap();
        assert_eq!(l.size(), 3 * lib.sizeof(CType::Long));
    }
}

#[test]
fn a_pointer_walks_an_int_array() {
    for lib in both("testlib") {
        let a = Array::from_values(
            &lib,
            CType::Int,
            &[1.into(), 2.into(), 258.into(), (-1).into()],
        )
        .unwrap();
        let p = cast(&a, CType::Int);
        assert_eq!(p.get(0).unwrap(), Value::Int(1));
        assert_eq!(p.get(2).unwrap(), Value::Int(258));
        let q = p.offset(1);
        assert_eq!(q.get(0).unwrap(), Value::Int(2));
        assert_eq!(q.address() - p.address(), 4);
        assert_eq!(q.distance(&p).unwrap(), 1);
        assert!(p < q, "p < p + 1");
        assert_ne!(p, q);
        assert_eq!(p.offset(1), q);
        assert_eq!(q.offset(-1), p);
        q.set(1, 7).unwrap();
        assert_eq!(a.get(2).unwrap(), Value::Int(7));
        // The bytes, little-endian, through POINTER(c_ubyte).
        let bytes = p.cast(CType::UByte);
        let first: Vec<Value> = (0..8).map(|i| bytes.get(i).unwrap()).collect();
        assert_eq!(first, [1, 0, 0, 0, 2, 0, 0, 0].map(Value::Int).to_vec());
        assert_eq!(bytes.get(12).unwrap(), Value::Int(255));
        assert_eq!(p.contents().unwrap().value().unwrap(), Value::Int(1));
    }
}

#[test]
fn null_is_falsy_and_dereferencing_it_is_a_value_error() {
    for lib in both("testlib") {
        let null = Ptr::null(&lib, CType::Int);
        assert!(null.is_null());
        assert_eq!(null.contents().unwrap_err().kind(), "ValueError");
        assert_eq!(null.get(0).unwrap_err().kind(), "ValueError");
        assert_eq!(null.set(0, 1).unwrap_err().kind(), "ValueError");
        assert_eq!(string_at(&lib, 0, None).unwrap_err().kind(), "ValueError");
        // Address 0 is ordinary linear memory in wasm; natively the host refuses to read it.
        match lib.backend() {
            BackendKind::Wasm => assert!(lib.read(0, 4).is_ok()),
            BackendKind::Native => assert_eq!(lib.read(0, 4).unwrap_err().kind(), "ValueError"),
        }
    }
}

#[test]
fn pointer_and_byref_let_c_write_into_an_instance() {
    for lib in both("testlib") {
        let i = CValue::new(&lib, CType::Int, 1).unwrap();
        let mut set_int = lib.function("set_int").unwrap();
        set_int
            .set_argtypes(&[CType::VoidP, CType::Int])
            .unwrap()
            .set_restype(CType::Void)
            .unwrap();
        set_int.call(&[byref(&i, 0), 77.into()]).unwrap();
        assert_eq!(i.value().unwrap(), Value::Int(77));
        let p = pointer(&i);
        set_int.call(&[(&p).into(), 5.into()]).unwrap();
        assert_eq!(p.contents().unwrap().value().unwrap(), Value::Int(5));
        p.set(0, 9).unwrap();
        assert_eq!(i.value().unwrap(), Value::Int(9));
        // byref with an offset: the second element of an array.
        let a = Array::new(&lib, CType::Int, 2).unwrap();
        set_int.call(&[byref(&a, 4), 3.into()]).unwrap();
        assert_eq!(a.to_vec().unwrap(), vec![Value::Int(0), Value::Int(3)]);
    }
}

#[test]
fn raw_memory_functions() {
    for lib in both("testlib") {
        let buf = create_string_buffer(&lib, b"hello world").unwrap();
        let addr = buf.addressof();
        assert_eq!(string_at(&lib, addr, Some(5)).unwrap(), b"hello");
        assert_eq!(string_at(&lib, addr, None).unwrap(), b"hello world");
        memmove(&lib, addr, addr + 6, 5).unwrap();
        assert_eq!(buf.value().unwrap(), b"world world");
        memset(&lib, addr, b'x' as i32, 3).unwrap();
        assert_eq!(buf.value().unwrap(), b"xxxld world");
        let w = create_unicode_buffer(&lib, WideInit::Text("wide")).unwrap();
        assert_eq!(wstring_at(&lib, w.addressof(), None).unwrap(), "wide");
        assert_eq!(wstring_at(&lib, w.addressof(), Some(2)).unwrap(), "wi");
        // from_buffer_copy copies host bytes; from_buffer shares an object's memory.
        let v = CValue::from_buffer_copy(&lib, CType::Int, &[1, 1, 0, 0, 99]).unwrap();
        assert_eq!(v.value().unwrap(), Value::Int(257));
        assert_eq!(
            CValue::from_buffer_copy(&lib, CType::Int, &[1])
                .unwrap_err()
                .kind(),
            "ValueError"
        );
        let shared = CValue::from_buffer(&buf, CType::UByte, 3).unwrap();
        assert_eq!(shared.value().unwrap(), Value::Int(b'l' as i128));
        shared.set_value(b'L' as i32).unwrap();
        assert_eq!(buf.value().unwrap(), b"xxxLd world");
        assert_eq!(
            CValue::from_buffer(&buf, CType::LongLong, 8)
                .unwrap_err()
                .kind(),
            "ValueError"
        );
        let arr = Array::from_buffer_copy(&lib, CType::UShort, 2, &[1, 0, 2, 1]).unwrap();
        assert_eq!(arr.to_vec().unwrap(), vec![Value::Int(1), Value::Int(258)]);
        assert_eq!(buf.to_bytes().unwrap().len(), 12);
    }
}

#[test]
fn wasm_pointers_outside_memory_are_errors_on_the_host_and_traps_in_the_guest() {
    let lib = open("testlib", BackendKind::Wasm);
    let far = Ptr::from_address(&lib, 0xffff_fff0, CType::Int);
    assert_eq!(far.get(0).unwrap_err().kind(), "OutOfBounds");
    assert_eq!(far.set(0, 1).unwrap_err().kind(), "OutOfBounds");
    assert_eq!(
        string_at(&lib, 0xffff_fff0, Some(4)).unwrap_err().kind(),
        "OutOfBounds"
    );
    let deref = lib.function("deref").unwrap();
    let e = deref.call(&[(&far).into()]).unwrap_err();
    assert_eq!(e.kind(), "MemoryOutOfBounds", "{e}");
    // Still usable.
    let a = Array::from_values(&lib, CType::Int, &[41.into()]).unwrap();
    assert_eq!(deref.call(&[(&a).into()]).unwrap(), Value::Int(41));
}

#[test]
fn bounds_checks_follow_memory_grow() {
    let lib = open("testlib", BackendKind::Wasm);
    let before = lib.info().unwrap().memory.unwrap().0;
    let n = 8 << 20;
    let mut grow = lib.function("grow").unwrap();
    grow.set_argtypes(&[CType::SizeT])
        .unwrap()
        .set_restype(CType::VoidP)
        .unwrap();
    let Value::Int(addr) = grow.call(&[Value::Int(n as i128)]).unwrap() else {
        panic!("NULL")
    };
    let after = lib.info().unwrap().memory.unwrap().0;
    assert!(
        after > before && addr as u64 + n > before,
        "memory grew from {before} to {after}"
    );
    // The host sees the new memory: the byte C wrote at the end, then a write of its own.
    assert_eq!(
        string_at(&lib, addr as u64 + n - 1, Some(1)).unwrap(),
        vec![42]
    );
    lib.write(addr as u64 + n - 2, b"x").unwrap();
    assert_eq!(lib.read(after, 1).unwrap_err().kind(), "OutOfBounds");
}

#[test]
fn a_million_buffers_keep_the_guest_heap_bounded() {
    let lib = open("testlib", BackendKind::Wasm);
    let _warm = create_string_buffer(&lib, 64).unwrap();
    let before = lib.info().unwrap().memory.unwrap().0;
    for i in 0..1_000_000usize {
        let b = create_string_buffer(&lib, 16 + i % 48).unwrap();
        assert_ne!(b.addressof(), 0);
    }
    let after = lib.info().unwrap().memory.unwrap().0;
    assert!(
        after <= before + 65536,
        "guest memory grew from {before} to {after} bytes"
    );
}

#[test]
fn a_pointer_restype_gives_a_typed_pointer_the_host_does_not_own() {
    for lib in both("testlib") {
        let mut f = lib.function("int_array").unwrap();
        f.set_restype(wasmctypes::POINTER(CType::Int)).unwrap();
        let v = f.call(&[]).unwrap();
        assert!(matches!(v, Value::Pointer(_)), "{v:?}");
        let p = Ptr::from_value(&lib, &v, CType::Int).unwrap();
        assert_eq!(p.get(2).unwrap(), Value::Int(3), "{}", lib.backend());
        assert_eq!(p.contents().unwrap().value().unwrap(), Value::Int(1));
        let mut g = lib.function("null_int_pointer").unwrap();
        g.set_restype(wasmctypes::POINTER(CType::Int)).unwrap();
        let null = Ptr::from_value(&lib, &g.call(&[]).unwrap(), CType::Int).unwrap();
        assert!(null.is_null());
        assert_eq!(null.contents().unwrap_err().kind(), "ValueError");
        // POINTER(c_int) as an argtype takes a pointer into the library, an address, or None.
        let mut deref = lib.function("deref").unwrap();
        deref
            .set_argtypes(&[wasmctypes::POINTER(CType::Int)])
            .unwrap();
        assert_eq!(deref.call(&[(&p.offset(1)).into()]).unwrap(), Value::Int(2));
        assert_eq!(
            deref
                .call(&[Value::Bytes(b"no".to_vec())])
                .unwrap_err()
                .kind(),
            "ArgumentError"
        );
    }
}

/// `memoryview(obj)` in ctypes shares the object's memory: `CDLL::host_pointer` is where it
/// points. Writes through either side are seen by the other, the pointer stays valid when the
/// sandbox's memory grows, and in wasm a range outside memory is an error.
#[test]
fn host_pointers_share_the_library_memory() {
    for lib in both("testlib") {
        let buf = create_string_buffer(&lib, 16).unwrap();
        let addr = buf.addressof();
        lib.write(addr, b"abc").unwrap();
        let p = lib.host_pointer(addr, 16).unwrap();
        // SAFETY: 16 bytes of a live buffer, as `host_pointer` checked them.
        let seen = unsafe { std::slice::from_raw_parts(p.as_ptr(), 3) }.to_vec();
        assert_eq!(seen, b"abc", "{}", lib.backend());
        // Memory grows by far more than it had; the buffer does not move.
        let big = create_string_buffer(&lib, 32 << 20).unwrap();
        // SAFETY: as above; the buffer is still alive.
        unsafe { p.as_ptr().add(1).write(b'X') };
        assert_eq!(lib.read(addr, 3).unwrap(), b"aXc", "{}", lib.backend());
        assert_eq!(lib.host_pointer(addr, 16).unwrap(), p);
        drop(big);
        assert_eq!(lib.host_pointer(0, 1).unwrap_err().kind(), "ValueError");
        if lib.backend() == BackendKind::Wasm {
            let err = lib.host_pointer(u32::MAX as u64 - 4, 16).unwrap_err();
            assert_eq!(err.kind(), "OutOfBounds", "{err}");
        }
    }
}

/// ctypes: `c_char_p` and `c_wchar_p` arguments take strings, None and char pointers, never a
/// plain address (`ArgumentError: argument 1: TypeError: wrong type`); `c_void_p` takes one.
#[test]
fn char_pointer_arguments_refuse_addresses_void_pointers_take_them() {
    for lib in both("testlib") {
        let mut len = lib.function("str_len").unwrap();
        len.set_argtypes(&[CType::CharP]).unwrap();
        let buf = create_string_buffer(&lib, 8).unwrap();
        let err = len
            .call(&[Value::Int(buf.addressof() as i128)])
            .unwrap_err();
        assert_eq!(err.kind(), "ArgumentError", "{}: {err}", lib.backend());
        assert_eq!(
            len.call(&[Value::Bytes(b"abc".to_vec())]).unwrap(),
            Value::Int(3)
        );
        len.set_argtypes(&[CType::VoidP]).unwrap();
        lib.write(buf.addressof(), b"four\0").unwrap();
        assert_eq!(
            len.call(&[Value::Int(buf.addressof() as i128)]).unwrap(),
            Value::Int(4),
            "{}",
            lib.backend()
        );
    }
}
