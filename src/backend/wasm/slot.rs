//! The four wasm value types a C scalar travels as, and their raw slots.

use wasmtime::{Val, ValRaw, ValType};

use crate::types::Repr;

pub(super) fn val_bits(v: &Val) -> u64 {
    match v {
        Val::I32(i) => *i as u32 as u64,
        Val::I64(i) => *i as u64,
        Val::F32(f) => *f as u64,
        Val::F64(f) => *f,
        _ => 0,
    }
}

pub(super) fn bits_val(slot: Slot, bits: u64) -> Val {
    match slot {
        Slot::I32 => Val::I32(bits as i32),
        Slot::I64 => Val::I64(bits as i64),
        Slot::F32 => Val::F32(bits as u32),
        Slot::F64 => Val::F64(bits),
    }
}

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
    pub(super) fn of_repr(r: Repr) -> Option<Slot> {
        match r {
            Repr::Bool | Repr::Int(1 | 2 | 4) | Repr::UInt(1 | 2 | 4) => Some(Slot::I32),
            Repr::Int(_) | Repr::UInt(_) => Some(Slot::I64),
            Repr::F32 => Some(Slot::F32),
            Repr::F64 => Some(Slot::F64),
            Repr::Void => None,
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

pub(super) fn signature_text(params: &[Slot], result: Option<Slot>) -> String {
    let p: Vec<String> = params
        .iter()
        .map(|s| format!("{s:?}").to_lowercase())
        .collect();
    let r = result
        .map(|s| format!("{s:?}").to_lowercase())
        .unwrap_or_else(|| "()".into());
    format!("({}) -> {}", p.join(", "), r)
}

pub(super) fn func_signature(ty: &wasmtime::FuncType) -> String {
    let p: Vec<String> = ty.params().map(|t| t.to_string()).collect();
    let r: Vec<String> = ty.results().map(|t| t.to_string()).collect();
    let r = match r.len() {
        0 => "()".to_string(),
        1 => r[0].clone(),
        _ => format!("({})", r.join(", ")),
    };
    format!("({}) -> {}", p.join(", "), r)
}
