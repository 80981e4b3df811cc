//! Callbacks (CFUNCTYPE): C calls Rust closures through function pointers, on both backends.

use std::cell::Cell;
use std::rc::Rc;

use crate::common::both;
use wasmctypes::{
    Array, CFuncType, CStruct, CType, Callback, Error, Field, StructType, Type, Value, CDLL,
    CFUNCTYPE,
};

fn int(v: &Value) -> i128 {
    v.as_int().expect("an int")
}

#[test]
fn qsort_sorts_with_a_comparator_callback() {
    for lib in both("callbacks") {
        let values = [5, 1, 7, 33, 99, -3, 0];
        let a = Array::from_values(&lib, CType::Int, &values.map(Value::from)).unwrap();
        let calls = Rc::new(Cell::new(0));
        let seen = calls.clone();
        let cmp = CFUNCTYPE(CType::Int, &[CType::VoidP, CType::VoidP]);
        // The comparator receives pointers into the library's memory and reads through them.
        let comparator = Callback::new(&lib, &cmp, move |mem, args| {
            seen.set(seen.get() + 1);
            let x = int(&mem.get(int(&args[0]) as u64, CType::Int)?);
            let y = int(&mem.get(int(&args[1]) as u64, CType::Int)?);
            Ok(Value::Int(x - y))
        })
        .unwrap();
        let mut sort = lib.function("sort_ints").unwrap();
        sort.set_argtypes(&[CType::VoidP, CType::Int, CType::VoidP])
            .unwrap()
            .set_restype(CType::Void)
            .unwrap();
        sort.call(&[
            (&a).into(),
            Value::Int(values.len() as i128),
            (&comparator).into(),
        ])
        .unwrap();
        let sorted: Vec<i128> = a.to_vec().unwrap().iter().map(int).collect();
        assert_eq!(sorted, vec![-3, 0, 1, 5, 7, 33, 99], "{}", lib.backend());
        assert!(calls.get() > 0);
    }
}

/// ctypes: a callback declared `CFUNCTYPE(c_int, c_char, c_bool, c_float)` receives
/// `b'y'`, `True` and `1.5`: the same getters as a result or a structure field.
#[test]
fn callback_arguments_convert_as_ctypes_getters_do() {
    for lib in both("callbacks") {
        let seen = std::rc::Rc::new(std::cell::RefCell::new(Vec::new()));
        let record = seen.clone();
        let cb = Callback::new(
            &lib,
            &CFUNCTYPE(CType::Int, &[CType::Char, CType::Bool, CType::Float]),
            move |_, args| {
                record.borrow_mut().push(args.to_vec());
                Ok(Value::Int(7))
            },
        )
        .unwrap();
        let mut classify = lib.function("classify").unwrap();
        classify.set_argtypes(&[CType::VoidP, CType::Char]).unwrap();
        assert_eq!(
            classify.call(&[(&cb).into(), b"y".into()]).unwrap(),
            Value::Int(7)
        );
        assert_eq!(
            seen.borrow()[0],
            vec![
                Value::Bytes(b"y".to_vec()),
                Value::Bool(true),
                Value::Float(1.5)
            ],
            "{}",
            lib.backend()
        );
    }
}

#[test]
fn callbacks_take_and_return_ints_and_doubles() {
    for lib in both("callbacks") {
        let add = Callback::new(
            &lib,
            &CFUNCTYPE(CType::Int, &[CType::Int, CType::Int]),
            |_, a| Ok(Value::Int(int(&a[0]) + int(&a[1]))),
        )
        .unwrap();
        let mut apply = lib.function("apply").unwrap();
        apply
            .set_argtypes(&[CType::VoidP, CType::Int, CType::Int])
            .unwrap();
        assert_eq!(
            apply.call(&[(&add).into(), 40.into(), 2.into()]).unwrap(),
            Value::Int(42)
        );
        // The result is masked to the callback's restype, as in ctypes.
        assert_eq!(
            apply
                .call(&[(&add).into(), Value::Int(i32::MAX as i128), 1.into()])
                .unwrap(),
            Value::Int(i32::MIN as i128)
        );
        let half = Callback::new(
            &lib,
            &CFUNCTYPE(CType::Double, &[CType::Double]),
            |_, a| match a[0] {
                Value::Float(x) => Ok(Value::Float(x / 2.0)),
                _ => Err(Error::TypeError("float expected".into())),
            },
        )
        .unwrap();
        let mut apply_d = lib.function("apply_d").unwrap();
        apply_d
            .set_argtypes(&[CType::VoidP, CType::Double])
            .unwrap()
            .set_restype(CType::Double)
            .unwrap();
        assert_eq!(
            apply_d.call(&[(&half).into(), 5.0.into()]).unwrap(),
            Value::Float(2.5)
        );
        // A callback that writes through the pointer it receives.
        let a = Array::from_values(&lib, CType::Int, &[1.into(), 2.into(), 3.into()]).unwrap();
        let double_it = Callback::new(
            &lib,
            &CFUNCTYPE(CType::Void, &[CType::VoidP]),
            |mem, args| {
                let p = int(&args[0]) as u64;
                let v = int(&mem.get(p, CType::Int)?);
                mem.set(p, CType::Int, &Value::Int(v * 2))?;
                Ok(Value::None)
            },
        )
        .unwrap();
        let mut each = lib.function("each_ptr").unwrap();
        each.set_argtypes(&[CType::VoidP, CType::Int, CType::VoidP])
            .unwrap()
            .set_restype(CType::Void)
            .unwrap();
        each.call(&[(&a).into(), 3.into(), (&double_it).into()])
            .unwrap();
        assert_eq!(
            a.to_vec().unwrap(),
            vec![Value::Int(2), Value::Int(4), Value::Int(6)]
        );
    }
}

/// An `int (*)(int)` callback that returns its argument, and fails with a ValueError at 3.
fn fails_at_3(lib: &CDLL) -> Callback {
    let proto = CFUNCTYPE(CType::Int, &[CType::Int]);
    Callback::new(lib, &proto, |_, a| {
        if int(&a[0]) == 3 {
            Err(Error::ValueError("three is not allowed".into()))
        } else {
            Ok(a[0].clone())
        }
    })
    .unwrap()
}

#[test]
fn a_failing_callback_fails_the_call_and_the_library_stays_usable() {
    for lib in both("callbacks") {
        let proto = CFUNCTYPE(CType::Int, &[CType::Int]);
        let fails_at_3 = fails_at_3(&lib);
        let mut sum = lib.function("sum_with").unwrap();
        sum.set_argtypes(&[CType::VoidP, CType::Int]).unwrap();
        let e = sum.call(&[(&fails_at_3).into(), 10.into()]).unwrap_err();
        assert_eq!(e.kind(), "ValueError", "{}: {e}", lib.backend());
        assert!(e.to_string().contains("three is not allowed"));
        // A panic in a callback is an error too, never an unwind into C.
        let panics = Callback::new(&lib, &proto, |_, _| panic!("boom")).unwrap();
        let e = sum.call(&[(&panics).into(), 2.into()]).unwrap_err();
        assert!(e.to_string().contains("panicked"), "{e}");
        // Below 3 it works, and the library is fine.
        assert_eq!(
            sum.call(&[(&fails_at_3).into(), 3.into()]).unwrap(),
            Value::Int(3)
        );
    }
}

#[test]
fn dropped_callbacks_release_their_table_slot() {
    let lib = crate::common::open("callbacks", wasmctypes::BackendKind::Wasm);
    let proto = CFUNCTYPE(CType::Int, &[CType::Int]);
    let first = Callback::new(&lib, &proto, |_, a| Ok(a[0].clone())).unwrap();
    let slot = first.address();
    drop(first);
    let mut sum = lib.function("sum_with").unwrap();
    sum.set_argtypes(&[CType::VoidP, CType::Int]).unwrap();
    // The released slot is NULL now: calling through it traps, it does not run a stale closure.
    let e = sum.call(&[Value::Int(slot as i128), 2.into()]).unwrap_err();
    assert_eq!(e.kind(), "IndirectCallToNull", "{e}");
    for _ in 0..1000 {
        let again = Callback::new(&lib, &proto, |_, a| Ok(Value::Int(int(&a[0]) * 10))).unwrap();
        assert_eq!(
            again.address(),
            slot,
            "the slot is reused, the table does not grow"
        );
        assert_eq!(
            sum.call(&[(&again).into(), 3.into()]).unwrap(),
            Value::Int(30)
        );
    }
}

#[test]
fn a_failing_callback_fails_a_fast_path_call_and_a_typed_call() {
    for lib in both("callbacks") {
        let fails_at_3 = fails_at_3(&lib);
        let mut keep = lib.function("keep").unwrap();
        keep.set_argtypes(&[CType::VoidP])
            .unwrap()
            .set_restype(CType::Void)
            .unwrap();
        keep.call(&[(&fails_at_3).into()]).unwrap();
        let mut call_kept = lib.function("call_kept").unwrap();
        call_kept.set_argtypes(&[CType::Int]).unwrap();
        let typed = call_kept.typed::<(i32,), i32>().unwrap();
        for _ in 0..2 {
            let e = call_kept.call(&[3.into()]).unwrap_err();
            assert_eq!(e.kind(), "ValueError", "{}: {e}", lib.backend());
            assert!(e.to_string().contains("three is not allowed"), "{e}");
            assert_eq!(call_kept.call(&[4.into()]).unwrap(), Value::Int(4));
            let e = typed.call((3,)).unwrap_err();
            assert_eq!(e.kind(), "ValueError", "{}: {e}", lib.backend());
            assert_eq!(typed.call((5,)).unwrap(), 5);
        }
        assert!(
            call_kept.call_path().is_some_and(|p| !p.contains("libffi")),
            "{}: {:?}",
            lib.backend(),
            call_kept.call_path()
        );
    }
}

/// ctypes: a callback may call functions of its own library (wasmtime allows host -> wasm ->
/// host -> wasm): `sum_with(outer, 3)` where `outer(i)` is `apply(add, i, 10)`, through the
/// dynamic, the scalar fast and the typed paths.
#[test]
fn a_callback_calls_its_own_library() {
    for lib in both("callbacks") {
        let kind = lib.backend();
        let add = Callback::new(&lib, &binop(), |_, a| {
            Ok(Value::Int(int(&a[0]) + int(&a[1])))
        })
        .unwrap();
        let add_ptr: Value = (&add).into();
        let mut apply = lib.function("apply").unwrap();
        apply
            .set_argtypes(&[Type::from(binop()), CType::Int.into(), CType::Int.into()])
            .unwrap();
        let mut fast = lib.function("sum_with").unwrap();
        fast.set_argtypes(&[CType::VoidP, CType::Int]).unwrap();
        assert_eq!(fast.call(&[Value::None, 0.into()]).unwrap(), Value::Int(0));
        let mut plus_ten = lib.function("sum_with").unwrap();
        plus_ten.set_argtypes(&[CType::VoidP, CType::Int]).unwrap();
        let typed_sum = plus_ten.typed::<(u64, i32), i32>().ok();
        let proto = CFUNCTYPE(CType::Int, &[CType::Int]);
        let dynamic = Callback::new(&lib, &proto, move |_, a| {
            apply.call(&[add_ptr.clone(), a[0].clone(), 10.into()])
        })
        .unwrap();
        let mut sum = lib.function("sum_with").unwrap();
        sum.set_argtypes(&[CType::VoidP, CType::Int]).unwrap();
        assert_eq!(
            sum.call(&[(&dynamic).into(), 3.into()]).unwrap(),
            Value::Int(10 + 11 + 12),
            "{kind}"
        );
        // The scalar fast path and the typed path from inside a callback.
        let inner_fast = Callback::new(&lib, &proto, move |_, a| {
            Ok(Value::Int(
                int(&fast.call(&[Value::None, 0.into()])?) + int(&a[0]),
            ))
        })
        .unwrap();
        assert_eq!(
            sum.call(&[(&inner_fast).into(), 4.into()]).unwrap(),
            Value::Int(6),
            "{kind}"
        );
        if let Some(typed_sum) = typed_sum {
            let inner_typed = Callback::new(&lib, &proto, move |_, a| {
                Ok(Value::Int(typed_sum.call((0, 0))? as i128 + int(&a[0])))
            })
            .unwrap();
            assert_eq!(
                sum.call(&[(&inner_typed).into(), 4.into()]).unwrap(),
                Value::Int(6),
                "{kind}"
            );
        }
        // Objects made inside the callback, with the library in its call.
        let made = Callback::new(&lib, &proto, {
            let lib = lib.clone();
            move |_, a| {
                let buf = wasmctypes::create_string_buffer(&lib, b"abc")?;
                Ok(Value::Int(buf.value()?.len() as i128 + int(&a[0])))
            }
        })
        .unwrap();
        assert_eq!(
            sum.call(&[(&made).into(), 2.into()]).unwrap(),
            Value::Int(7)
        );
    }
}

/// Callbacks that call back into their library without end stop at a bounded depth with a
/// typed error (`RecursionError`), which the outermost call returns; the library stays
/// usable.
#[test]
fn re_entry_has_a_bounded_depth() {
    for lib in both("callbacks") {
        let kind = lib.backend();
        let proto = CFUNCTYPE(CType::Int, &[CType::Int]);
        let me: std::rc::Rc<std::cell::RefCell<Option<Value>>> = Default::default();
        let mut sum = lib.function("sum_with").unwrap();
        sum.set_argtypes(&[CType::VoidP, CType::Int]).unwrap();
        let depth = std::rc::Rc::new(std::cell::Cell::new(0u32));
        let forever = Callback::new(&lib, &proto, {
            let me = me.clone();
            let depth = depth.clone();
            let lib = lib.clone();
            move |_, _| {
                depth.set(depth.get() + 1);
                let mut again = lib.function("sum_with")?;
                again.set_argtypes(&[CType::VoidP, CType::Int])?;
                let f = me.borrow().clone().expect("the callback itself");
                again.call(&[f, 1.into()])
            }
        })
        .unwrap();
        *me.borrow_mut() = Some((&forever).into());
        let e = sum.call(&[(&forever).into(), 1.into()]).unwrap_err();
        // The nesting limit comes before the sandbox's stack runs out: the error is the
        // limit's, after 32 nested callbacks (in wasm the 33rd runs and its call is refused;
        // natively the 33rd is refused).
        assert_eq!(e.kind(), "RecursionError", "{kind}: {e}");
        let want = if kind == wasmctypes::BackendKind::Wasm {
            33
        } else {
            32
        };
        assert_eq!(depth.get(), want, "{kind}");
        let identity = Callback::new(&lib, &proto, |_, a| Ok(a[0].clone())).unwrap();
        assert_eq!(
            sum.call(&[(&identity).into(), 4.into()]).unwrap(),
            Value::Int(6),
            "{kind}"
        );
        *me.borrow_mut() = None;
    }
}

fn binop() -> CFuncType {
    CFUNCTYPE(CType::Int, &[CType::Int, CType::Int])
}

/// ctypes: with `apply.argtypes = [BINOP, c_int, c_int]` only a `BINOP` instance fits the
/// first argument ("expected CFunctionType instance instead of int"); `pick.restype = BINOP`
/// gives one back, which C can then call.
#[test]
fn function_pointer_types_in_argtypes_and_restype() {
    for lib in both("callbacks") {
        let k = lib.backend();
        let mut apply = lib.function("apply").unwrap();
        apply
            .set_argtypes(&[Type::from(binop()), CType::Int.into(), CType::Int.into()])
            .unwrap();
        let add = Callback::new(&lib, &binop(), |_, a| {
            Ok(Value::Int(int(&a[0]) + int(&a[1])))
        })
        .unwrap();
        assert_eq!(
            apply.call(&[(&add).into(), 40.into(), 2.into()]).unwrap(),
            Value::Int(42),
            "{k}"
        );
        let other = Callback::new(&lib, &CFUNCTYPE(CType::Int, &[CType::Int]), |_, a| {
            Ok(a[0].clone())
        })
        .unwrap();
        for (bad, got) in [
            (Value::from(&other), "CFunctionType"),
            (Value::Int(5), "int"),
            (Value::None, "NoneType"),
        ] {
            let e = apply.call(&[bad, 1.into(), 2.into()]).unwrap_err();
            assert!(
                matches!(&e, Error::ArgumentError { position: Some(1), cause }
                    if matches!(&**cause, Error::WrongType { expected, got: g } if expected == "CFunctionType" && g == got)),
                "{k}: {e}"
            );
        }
        let mut pick = lib.function("pick").unwrap();
        pick.set_argtypes(&[CType::Int])
            .unwrap()
            .set_restype(binop())
            .unwrap();
        let mul = pick.call(&[1.into()]).unwrap();
        assert_eq!(mul.as_function().unwrap().proto.as_ref(), &binop(), "{k}");
        assert_eq!(
            apply.call(&[mul, 6.into(), 7.into()]).unwrap(),
            Value::Int(42),
            "{k}"
        );
    }
}

/// ctypes: a `BINOP` member of a structure holds a `BINOP` instance, reads back as one, and
/// refuses anything else; a callback declared to take a `BINOP` gets a `CFunctionType`
/// instance.
#[test]
fn function_pointer_members_and_callback_arguments() {
    let ops = StructType::structure(
        "Ops",
        vec![Field::new("op", binop()), Field::new("bias", CType::Int)],
    );
    for lib in both("callbacks") {
        let k = lib.backend();
        let add = Callback::new(&lib, &binop(), |_, a| {
            Ok(Value::Int(int(&a[0]) + int(&a[1])))
        })
        .unwrap();
        let o = CStruct::new(&lib, &ops, &[(&add).into(), 100.into()]).unwrap();
        let run = lib.function("run_ops").unwrap();
        assert_eq!(
            run.call(&[(&o).into(), 2.into(), 3.into()]).unwrap(),
            Value::Int(105),
            "{k}"
        );
        assert_eq!(
            o.get("op").unwrap().as_function().unwrap().ptr.addr,
            add.address()
        );
        let e = o.set("op", 5).unwrap_err();
        assert!(
            matches!(&e, Error::WrongType { expected, got } if expected == "CFunctionType" && got == "int"),
            "{k}: {e}"
        );
        let seen = std::rc::Rc::new(std::cell::Cell::new(false));
        let flag = seen.clone();
        let takes = Callback::new(
            &lib,
            &CFUNCTYPE(CType::Int, &[Type::from(binop()), CType::Int.into()]),
            move |_, a| {
                let f = a[0].as_function().expect("a CFunctionType instance");
                flag.set(*f.proto == binop() && f.ptr.addr != 0);
                Ok(a[1].clone())
            },
        )
        .unwrap();
        let call_with = lib.function("call_with").unwrap();
        assert_eq!(
            call_with.call(&[(&takes).into(), 9.into()]).unwrap(),
            Value::Int(9),
            "{k}"
        );
        assert!(seen.get(), "{k}");
    }
}

/// `pick(which)`: the address of `c_add` (0) or `c_mul` (1), as C returns it.
fn picked(lib: &CDLL, which: i128) -> u64 {
    let mut pick = lib.function("pick").unwrap();
    pick.set_argtypes(&[CType::Int])
        .unwrap()
        .set_restype(CType::VoidP)
        .unwrap();
    int(&pick.call(&[Value::Int(which)]).unwrap()) as u64
}

/// A callback of `int(int, int)` that returns `a - b`, and a function that calls it through
/// its address (`CFUNCTYPE(c_int, c_int, c_int)(addressof(cb))`). Keep the callback alive.
fn subtract_through_its_address(lib: &CDLL) -> (Callback, wasmctypes::Function) {
    let cb = Callback::new(
        lib,
        &CFUNCTYPE(CType::Int, &[CType::Int, CType::Int]),
        |_, args| Ok(Value::Int(int(&args[0]) - int(&args[1]))),
    )
    .unwrap();
    // SAFETY: the callback's address, called with its own prototype.
    let mut f = unsafe { lib.function_at(cb.address()) }.unwrap();
    f.set_argtypes(&[CType::Int, CType::Int]).unwrap();
    (cb, f)
}

/// ctypes: `CFUNCTYPE(c_int, c_int, c_int)(address)` calls the function a C function pointer
/// points to, and so does a callback's own address: `pick(1)` is `c_mul`, and the call goes
/// through C back to the closure.
#[test]
fn function_pointers_are_called_from_the_host() {
    for lib in both("callbacks") {
        for (addr, want) in [(picked(&lib, 0), 13), (picked(&lib, 1), 42)] {
            // SAFETY: `addr` is a `binop` that the library returned, called as one.
            let mut f = unsafe { lib.function_at(addr) }.unwrap();
            f.set_argtypes(&[CType::Int, CType::Int]).unwrap();
            assert_eq!(
                f.call(&[Value::Int(6), Value::Int(7)]).unwrap(),
                Value::Int(want),
                "{}",
                lib.backend()
            );
        }
        let (_cb, f) = subtract_through_its_address(&lib);
        assert_eq!(
            f.call(&[Value::Int(6), Value::Int(7)]).unwrap(),
            Value::Int(-1),
            "{}",
            lib.backend()
        );
        // NULL is refused on both backends before anything is called.
        // SAFETY: never called: preparing the call fails.
        let null = unsafe { lib.function_at(0) }.unwrap();
        assert_eq!(null.call(&[]).unwrap_err().kind(), "ValueError");
    }
}

/// A prepared function survives `reset()` in the sandbox, also one called through a function
/// pointer: it calls what the pointer names in the new instance. A callback's table entry is
/// gone with the old instance, so its pointer is then an error, not a call into the past.
#[test]
fn prepared_function_pointers_survive_reset() {
    let [lib, _] = both("callbacks");
    let mul = picked(&lib, 1);
    // SAFETY: wasm checks every address.
    let mut f = unsafe { lib.function_at(mul) }.unwrap();
    f.set_argtypes(&[CType::Int, CType::Int]).unwrap();
    assert_eq!(f.call(&[6.into(), 7.into()]).unwrap(), Value::Int(42));
    let (_cb, g) = subtract_through_its_address(&lib);
    assert_eq!(g.call(&[6.into(), 7.into()]).unwrap(), Value::Int(-1));
    for _ in 0..3 {
        lib.reset().unwrap();
        assert_eq!(
            picked(&lib, 1),
            mul,
            "the same module lays its table out the same"
        );
        // The first call after a reset fills the fast path's cache, the second uses it.
        for _ in 0..2 {
            assert_eq!(f.call(&[6.into(), 7.into()]).unwrap(), Value::Int(42));
        }
        assert_eq!(
            g.call(&[6.into(), 7.into()]).unwrap_err().kind(),
            "ValueError"
        );
    }
}

/// In the sandbox a function pointer is checked: an address outside the function table and
/// a prototype that does not match the function's wasm signature are errors, not traps, and
/// the library stays usable.
#[test]
fn a_bad_function_pointer_is_an_error_in_the_sandbox() {
    let [lib, _] = both("callbacks");
    // SAFETY: wasm checks every address.
    let far = unsafe { lib.function_at(1 << 30) }.unwrap();
    assert_eq!(far.call(&[]).unwrap_err().kind(), "ValueError");
    let add = picked(&lib, 0);
    // SAFETY: as above.
    let mut wrong = unsafe { lib.function_at(add) }.unwrap();
    wrong.set_argtypes(&[CType::Double]).unwrap();
    assert_eq!(
        wrong.call(&[Value::Float(1.0)]).unwrap_err().kind(),
        "TypeError"
    );
    // The library is as it was: the same pointer, and it still calls.
    assert_eq!(picked(&lib, 0), add);
    wrong.set_argtypes(&[CType::Int, CType::Int]).unwrap();
    assert_eq!(
        wrong.call(&[Value::Int(2), Value::Int(3)]).unwrap(),
        Value::Int(5)
    );
}

/// A callback can allocate with the library's allocator while C is running (the library
/// itself is busy in the call): what it returns outlives the callback and is freed after.
#[test]
fn a_callback_allocates_memory_that_outlives_it() {
    for lib in both("callbacks") {
        let made = Rc::new(Cell::new(0u64));
        let seen = made.clone();
        let cb = Callback::new(
            &lib,
            &CFUNCTYPE(CType::Int, &[CType::Int]),
            move |mem, args| {
                let addr = mem.malloc(16)?;
                mem.write(addr, b"kept\0")?;
                seen.set(addr);
                Ok(Value::Int(int(&args[0]) + 1))
            },
        )
        .unwrap();
        let mut apply = lib.function("sum_with").unwrap();
        apply.set_argtypes(&[CType::VoidP, CType::Int]).unwrap();
        // sum_with(f, 1) calls f(0) once.
        assert_eq!(
            apply.call(&[(&cb).into(), Value::Int(1)]).unwrap(),
            Value::Int(1),
            "{}",
            lib.backend()
        );
        assert_eq!(lib.string_at(made.get()).unwrap(), b"kept");
        // SAFETY: the block the callback allocated, freed once.
        unsafe { lib.free(made.get()) }.unwrap();
        let again = lib.malloc(16).unwrap();
        assert_ne!(again, 0);
        // SAFETY: as above.
        unsafe { lib.free(again) }.unwrap();
    }
}

/// ctypes: a callback may take a structure by value (`CFUNCTYPE(c_long, Big)`): it receives
/// a copy, whatever the ABI does with it (registers natively; a pointer, or a single scalar,
/// in wasm32), and C's own copy is left as it was.
#[test]
fn a_callback_takes_structures_by_value() {
    for lib in both("callbacks") {
        let big = StructType::structure(
            "Big",
            vec![
                Field::new("a", CType::Long),
                Field::new("b", CType::Long),
                Field::new("c", CType::Long),
            ],
        );
        let one = StructType::structure("One", vec![Field::new("v", CType::Int)]);
        let on_big = Callback::new(
            &lib,
            &CFUNCTYPE(CType::Long, &[Type::Struct(big.clone())]),
            |_, args| {
                let Value::Struct(s) = &args[0] else {
                    panic!("not a structure: {:?}", args[0])
                };
                let f = |n: &str| int(&s.get(n).unwrap());
                Ok(Value::Int(f("a") * 100 + f("b") * 10 + f("c")))
            },
        )
        .unwrap();
        let mut call_big = lib.function("call_big").unwrap();
        call_big
            .set_argtypes(&[CType::VoidP, CType::Long])
            .unwrap()
            .set_restype(CType::Long)
            .unwrap();
        assert_eq!(
            call_big.call(&[(&on_big).into(), Value::Int(1)]).unwrap(),
            Value::Int(123),
            "{}",
            lib.backend()
        );
        let on_one = Callback::new(
            &lib,
            &CFUNCTYPE(CType::Int, &[Type::Struct(one.clone())]),
            |_, args| match &args[0] {
                Value::Struct(s) => Ok(Value::Int(int(&s.get("v").unwrap()) * 6)),
                other => panic!("not a structure: {other:?}"),
            },
        )
        .unwrap();
        let mut call_one = lib.function("call_one").unwrap();
        call_one.set_argtypes(&[CType::VoidP]).unwrap();
        assert_eq!(
            call_one.call(&[(&on_one).into()]).unwrap(),
            Value::Int(42),
            "{}",
            lib.backend()
        );
    }
}

/// ctypes: `cast(lib.f, c_void_p).value` is the function's address, and C given it as a
/// function pointer calls the function: natively its code address, in wasm its table slot,
/// the same C's own `&f` gives (`pick(0)` returns `c_add`'s pointer from C).
#[test]
fn a_functions_address_calls_it() {
    for lib in both("callbacks") {
        let kind = lib.backend();
        let addr = lib.function_address("sum_with").unwrap();
        assert_ne!(addr, 0, "{kind}");
        assert_eq!(lib.function_address("sum_with").unwrap(), addr, "{kind}");
        // Through C: apply(f, a, b) calls f(a, b); the function pointer is sum_with's own
        // address, given as an int.
        let add_addr = {
            let mut pick = lib.function("pick").unwrap();
            pick.set_restype(CType::VoidP).unwrap();
            match pick.call(&[0.into()]).unwrap() {
                Value::Int(a) => a as u64,
                other => panic!("{kind}: {other:?}"),
            }
        };
        let mut apply = lib.function("apply").unwrap();
        apply
            .set_argtypes(&[CType::VoidP, CType::Int, CType::Int])
            .unwrap();
        assert_eq!(
            apply
                .call(&[Value::Int(add_addr as i128), 2.into(), 40.into()])
                .unwrap(),
            Value::Int(42),
            "{kind}"
        );
        // From Rust, at the address: the same function.
        // SAFETY: the address is sum_with's, called with its prototype.
        let mut again = unsafe { lib.function_at(addr) }.unwrap();
        again.set_argtypes(&[CType::VoidP, CType::Int]).unwrap();
        assert_eq!(
            again.call(&[Value::None, 0.into()]).unwrap(),
            Value::Int(0),
            "{kind}"
        );
        assert!(matches!(
            lib.function_address("no_such_function"),
            Err(Error::AttributeError { .. })
        ));
    }
}
