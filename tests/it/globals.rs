//! Exported data: ctypes' `T.in_dll(lib, name)`, on both backends.

use crate::common::both;
use wasmctypes::{CType, CValue, Value};

#[test]
fn exported_globals_are_read_and_written_from_the_host() {
    for lib in both("testlib") {
        let i = CValue::in_dll(&lib, CType::Int, "an_integer").unwrap();
        assert_eq!(i.value().unwrap(), Value::Int(42), "{}", lib.backend());
        i.set_value(7).unwrap();
        assert_eq!(
            lib.function("get_an_integer").unwrap().call(&[]).unwrap(),
            Value::Int(7)
        );
        let s = CValue::in_dll(&lib, CType::CharP, "a_string").unwrap();
        assert_eq!(
            s.value().unwrap(),
            Value::Bytes(b"a global string".to_vec())
        );
        let e = CValue::in_dll(&lib, CType::Int, "no_such_global").unwrap_err();
        assert_eq!(e.kind(), "AttributeError");
    }
}
