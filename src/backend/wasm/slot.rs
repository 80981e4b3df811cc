//! The four wasm value types a C scalar travels as, and their raw slots.

use wasmtime::{ValRaw, ValType};

use crate::backend::{Signature, WasmType};
use crate::types::Repr;

pub(super) fn valtype(slot: Slot) -> ValType {
    match slot {
        Slot::I32 => ValType::I32,
        Slot::I64 => ValType::I64,
        Slot::F32 => ValType::F32,
        Slot::F64 => ValType::F64,
    }
}

/// A wasm value type, as the call path needs it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Slot {
    I32,
    I64,
    F32,
    F64,
}

impl Slot {
    /// The wasm type this slot carries.
    pub(super) fn wasm_type(self) -> WasmType {
        match self {
            Slot::I32 => WasmType::I32,
            Slot::I64 => WasmType::I64,
            Slot::F32 => WasmType::F32,
            Slot::F64 => WasmType::F64,
        }
    }

    pub(super) fn of_repr(r: Repr) -> Option<Slot> {
        match r {
            Repr::Bool | Repr::Int(1 | 2 | 4) | Repr::UInt(1 | 2 | 4) => Some(Slot::I32),
            Repr::Int(_) | Repr::UInt(_) => Some(Slot::I64),
            Repr::F32 => Some(Slot::F32),
            Repr::F64 => Some(Slot::F64),
            // A long double is two i64 (see `abi`), never one slot.
            Repr::F80 | Repr::F128 | Repr::Void => None,
        }
    }

    pub(super) fn of_valtype(t: &ValType) -> Option<Slot> {
        match t {
            ValType::I32 => Some(Slot::I32),
            ValType::I64 => Some(Slot::I64),
            ValType::F32 => Some(Slot::F32),
            ValType::F64 => Some(Slot::F64),
            _ => None,
        }
    }

    pub(super) fn to_raw(self, bits: u64) -> ValRaw {
        match self {
            Slot::I32 => ValRaw::i32(bits as i32),
            Slot::I64 => ValRaw::i64(bits as i64),
            Slot::F32 => ValRaw::f32(bits as u32),
            Slot::F64 => ValRaw::f64(bits),
        }
    }

    pub(super) fn bits_of(self, raw: ValRaw) -> u64 {
        match self {
            Slot::I32 => raw.get_u32() as u64,
            Slot::I64 => raw.get_u64(),
            Slot::F32 => raw.get_f32() as u64,
            Slot::F64 => raw.get_f64(),
        }
    }
}

/// The wasm signature of lowered parameter and result slots.
pub(super) fn slots_signature(params: &[Slot], result: Option<Slot>) -> Signature {
    Signature {
        params: params.iter().map(|s| s.wasm_type()).collect(),
        results: result.iter().map(|s| s.wasm_type()).collect(),
    }
}

/// The signature of a wasmtime function type.
pub(super) fn func_signature(ty: &wasmtime::FuncType) -> Signature {
    let of = |t: ValType| Slot::of_valtype(&t).map_or(WasmType::Other, Slot::wasm_type);
    Signature {
        params: ty.params().map(of).collect(),
        results: ty.results().map(of).collect(),
    }
}
