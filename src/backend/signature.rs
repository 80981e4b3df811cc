//! A wasm function's type as a value: what `inspect` lists and what the differential runner
//! reads a test's result type from, printed as `(i32, i32) -> i32` only at the edge.

use std::fmt;

/// One wasm value type of a signature.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WasmType {
    /// `i32`: every C integer of at most 32 bits, and pointers in wasm32.
    I32,
    /// `i64`: `long long`.
    I64,
    /// `f32`: `float`.
    F32,
    /// `f64`: `double`.
    F64,
    /// Anything else (vectors, references): no C type travels as it.
    Other,
}

impl WasmType {
    /// The text wasm uses for it.
    pub fn name(self) -> &'static str {
        match self {
            WasmType::I32 => "i32",
            WasmType::I64 => "i64",
            WasmType::F32 => "f32",
            WasmType::F64 => "f64",
            WasmType::Other => "other",
        }
    }
}

/// A wasm function type: its parameters and results.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Signature {
    /// The parameter types, in order.
    pub params: Vec<WasmType>,
    /// The result types: none for `void`, one for a C function's result.
    pub results: Vec<WasmType>,
}

impl fmt::Display for Signature {
    /// `(i32, i32) -> i32`; no result is `()`, several are parenthesised.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let list = |types: &[WasmType]| {
            types
                .iter()
                .map(|t| t.name())
                .collect::<Vec<_>>()
                .join(", ")
        };
        write!(f, "({}) -> ", list(&self.params))?;
        match self.results.as_slice() {
            [] => f.write_str("()"),
            [one] => f.write_str(one.name()),
            many => write!(f, "({})", list(many)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prints_as_wasm_writes_it() {
        let s = |params: &[WasmType], results: &[WasmType]| {
            Signature {
                params: params.to_vec(),
                results: results.to_vec(),
            }
            .to_string()
        };
        use WasmType::*;
        assert_eq!(s(&[I32, I32], &[I32]), "(i32, i32) -> i32");
        assert_eq!(s(&[], &[]), "() -> ()");
        assert_eq!(s(&[F64], &[I64, F32]), "(f64) -> (i64, f32)");
    }
}
