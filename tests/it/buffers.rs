//! The seed examples and create_string_buffer, on both backends, with ctypes' answers.

use crate::common::both;
use wasmctypes::{create_string_buffer, Array, BufferInit, CType, Error, Value};

#[test]
fn create_string_buffer_follows_ctypes() {
    for lib in both("upper") {
        let buf = create_string_buffer(&lib, 5).unwrap();
        assert_eq!(buf.raw().unwrap(), b"\0\0\0\0\0");
        buf.set_raw(b"\x01\x01\x01\x01\x01").unwrap();
        buf.set_raw(b"ab").unwrap();
        assert_eq!(buf.raw().unwrap(), b"ab\x01\x01\x01");
        buf.set_raw(b"\x01\x01\x01\x01\x01").unwrap();
        buf.set_value(b"ab").unwrap();
        assert_eq!(buf.raw().unwrap(), b"ab\x00\x01\x01");
        assert_eq!(buf.value().unwrap(), b"ab");
        assert_eq!(buf.set_value(b"abcdef").unwrap_err().kind(), "ValueError");
        assert_eq!(buf.set_raw(b"abcdef").unwrap_err().kind(), "ValueError");

        let init = create_string_buffer(&lib, b"abcde").unwrap();
        assert_eq!(init.len(), 6);
        assert_eq!(init.raw().unwrap(), b"abcde\0");
        assert_eq!(
            create_string_buffer(&lib, BufferInit::BytesSized(b"abc", 2))
                .unwrap_err()
                .kind(),
            "ValueError"
        );
    }
}

#[test]
fn upper_changes_a_buffer_but_not_immutable_bytes() {
    for lib in both("upper") {
        let mut upper = lib.function("upper").unwrap();
        upper
            .set_argtypes(&[CType::CharP, CType::Int])
            .unwrap()
            .set_restype(CType::Void)
            .unwrap();
        let buf = create_string_buffer(&lib, b"abc123").unwrap();
        assert_eq!(upper.call(&[(&buf).into(), 6.into()]).unwrap(), Value::None);
        assert_eq!(buf.raw().unwrap(), b"ABC123\0");
        assert_eq!(buf.value().unwrap(), b"ABC123");
        // bytes are copied in for the call: the caller's bytes are unchanged.
        let original = b"abc123".to_vec();
        upper
            .call(&[Value::Bytes(original.clone()), 6.into()])
            .unwrap();
        assert_eq!(original, b"abc123");
    }
}

#[test]
fn an_int_array_is_summed_through_a_pointer() {
    for lib in both("sum") {
        let arr = Array::from_values(&lib, CType::Int, &[1.into(), 2.into(), 3.into()]).unwrap();
        let f = lib.function("our_function").unwrap();
        assert_eq!(f.call(&[3.into(), (&arr).into()]).unwrap(), Value::Int(6));
        assert_eq!(arr.len(), 3);
        arr.set(1, Value::Int((1 << 32) + 40)).unwrap();
        assert_eq!(arr.get(1).unwrap(), Value::Int(40));
        assert_eq!(arr.get(3).unwrap_err().kind(), "IndexError");
        assert_eq!(f.call(&[3.into(), (&arr).into()]).unwrap(), Value::Int(44));
    }
}

#[test]
fn strdup_memory_is_read_then_released_with_the_librarys_free() {
    for lib in both("dupstr") {
        let mut dup = lib.function("dupstr").unwrap();
        dup.set_argtypes(&[CType::CharP])
            .unwrap()
            .set_restype(CType::VoidP)
            .unwrap();
        let mut freeme = lib.function("freeme").unwrap();
        freeme
            .set_argtypes(&[CType::VoidP])
            .unwrap()
            .set_restype(CType::Void)
            .unwrap();
        for i in 0..1000 {
            let text = format!("copy number {i}");
            let Value::Int(addr) = dup
                .call(&[Value::Bytes(text.clone().into_bytes())])
                .unwrap()
            else {
                panic!("dupstr returned NULL")
            };
            assert_eq!(lib.string_at(addr as u64).unwrap(), text.as_bytes());
            freeme.call(&[Value::Int(addr)]).unwrap();
        }
    }
}

#[test]
fn a_buffer_of_one_library_cannot_be_passed_to_another() {
    let [a, _] = both("upper");
    let [b, _] = both("upper");
    let buf = create_string_buffer(&a, b"abc").unwrap();
    let mut upper = b.function("upper").unwrap();
    upper
        .set_argtypes(&[CType::CharP, CType::Int])
        .unwrap()
        .set_restype(CType::Void)
        .unwrap();
    let e = upper.call(&[(&buf).into(), 3.into()]).unwrap_err();
    // The foreign pointer is argument 1's ValueError, inside ctypes' ArgumentError.
    assert!(
        matches!(&e, Error::ArgumentError { position: Some(1), cause } if cause.kind() == "ValueError"),
        "{e}"
    );
}
