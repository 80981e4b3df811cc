//! Traps as errors: what stopped the guest (a typed [`TrapKind`]), its message and its wasm
//! backtrace.

use wasmtime::{Trap, WasmBacktrace};
use wasmtime_wasi::I32Exit;

use super::LimitExceeded;
use crate::error::{Error, TrapKind};

/// The wasm backtrace of a trap, one frame per line, with function names.
pub(super) fn backtrace_text(err: &wasmtime::Error) -> String {
    err.downcast_ref::<WasmBacktrace>()
        .map(|bt| {
            bt.frames()
                .iter()
                .map(|f| {
                    let name = f
                        .func_name()
                        .map(str::to_string)
                        .unwrap_or_else(|| format!("<wasm function {}>", f.func_index()));
                    match f.module_offset() {
                        Some(off) => format!("  at {name} (offset 0x{off:x})"),
                        None => format!("  at {name}"),
                    }
                })
                .collect::<Vec<_>>()
                .join("\n")
        })
        .unwrap_or_default()
}

/// Converts a wasmtime error from a guest call into a typed [`Error`].
pub(crate) fn trap_error(err: wasmtime::Error) -> Error {
    if let Some(exit) = err.downcast_ref::<I32Exit>() {
        return Error::Trap {
            kind: TrapKind::GuestExit,
            message: format!("guest called exit({})", exit.0),
            backtrace: backtrace_text(&err),
            status: Some(exit.0 as u8),
        };
    }
    if let Some(limit) = err.downcast_ref::<LimitExceeded>() {
        return Error::Trap {
            kind: TrapKind::MemoryLimit,
            message: limit.0.clone(),
            backtrace: backtrace_text(&err),
            status: None,
        };
    }
    let backtrace = backtrace_text(&err);
    let Some(trap) = err.downcast_ref::<Trap>() else {
        // A host function failed (e.g. a callback's error), or wasmtime refused the call.
        if let Some(inner) = err.downcast_ref::<Error>() {
            return Error::Trap {
                kind: TrapKind::Other,
                message: inner.to_string(),
                backtrace,
                status: None,
            };
        }
        return Error::Trap {
            kind: TrapKind::Other,
            message: format!("{}", err.root_cause()),
            backtrace,
            status: None,
        };
    };
    let kind = match trap {
        Trap::UnreachableCodeReached => TrapKind::Unreachable,
        Trap::MemoryOutOfBounds | Trap::HeapMisaligned => TrapKind::MemoryOutOfBounds,
        Trap::IntegerDivisionByZero => TrapKind::IntegerDivisionByZero,
        Trap::IntegerOverflow => TrapKind::IntegerOverflow,
        Trap::BadConversionToInteger => TrapKind::BadConversionToInteger,
        Trap::IndirectCallToNull => TrapKind::IndirectCallToNull,
        Trap::BadSignature => TrapKind::BadSignature,
        Trap::TableOutOfBounds => TrapKind::TableOutOfBounds,
        Trap::StackOverflow => TrapKind::StackOverflow,
        Trap::OutOfFuel => TrapKind::OutOfFuel,
        Trap::Interrupt => TrapKind::Timeout,
        _ => TrapKind::Other,
    };
    let message = match kind {
        TrapKind::Unreachable => {
            "wasm trap: unreachable executed (abort() or __builtin_trap())".to_string()
        }
        _ => trap.to_string(),
    };
    Error::Trap {
        kind,
        message,
        backtrace,
        status: None,
    }
}
