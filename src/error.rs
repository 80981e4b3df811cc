//! One error type for the whole crate.
//!
//! Each variant is named after the Python exception that CPython's ctypes raises for the same
//! failure, where there is one (`OSError`, `AttributeError`, `ArgumentError`, `TypeError`,
//! `ValueError`, `IndexError`). Failures that only a sandbox can report (a trap, a pointer
//! outside guest memory) get their own variants. [`Error::kind`] gives the stable name that the
//! CLI prints as JSON `error.kind`.

use std::fmt;
use std::path::PathBuf;

/// The result type of every fallible call in this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Why a wasm guest stopped. The names are stable: they are the JSON `error.kind` of a trap.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum TrapKind {
    /// `unreachable` executed, which is what `abort()` and `__builtin_trap()` compile to.
    Unreachable,
    /// A load or store outside linear memory.
    MemoryOutOfBounds,
    /// Integer division or remainder by zero.
    IntegerDivisionByZero,
    /// `INT_MIN / -1`, or a float-to-int conversion that overflows.
    IntegerOverflow,
    /// A float-to-int conversion of NaN.
    BadConversionToInteger,
    /// `call_indirect` through a NULL function pointer.
    IndirectCallToNull,
    /// `call_indirect` through a table slot whose function has another signature.
    BadSignature,
    /// `call_indirect` through an index past the end of the table.
    TableOutOfBounds,
    /// The guest used more stack than its limit.
    StackOverflow,
    /// The guest used its whole fuel budget.
    OutOfFuel,
    /// The guest ran past its wall-clock deadline.
    Timeout,
    /// The guest asked for more memory than its limit.
    MemoryLimit,
    /// The guest called `exit()` or `_Exit()`.
    GuestExit,
    /// Any other trap.
    Other,
}

impl TrapKind {
    /// The stable name, as JSON `error.kind`.
    pub fn name(self) -> &'static str {
        match self {
            TrapKind::Unreachable => "Unreachable",
            TrapKind::MemoryOutOfBounds => "MemoryOutOfBounds",
            TrapKind::IntegerDivisionByZero => "IntegerDivisionByZero",
            TrapKind::IntegerOverflow => "IntegerOverflow",
            TrapKind::BadConversionToInteger => "BadConversionToInteger",
            TrapKind::IndirectCallToNull => "IndirectCallToNull",
            TrapKind::BadSignature => "BadSignature",
            TrapKind::TableOutOfBounds => "TableOutOfBounds",
            TrapKind::StackOverflow => "StackOverflow",
            TrapKind::OutOfFuel => "OutOfFuel",
            TrapKind::Timeout => "Timeout",
            TrapKind::MemoryLimit => "MemoryLimit",
            TrapKind::GuestExit => "GuestExit",
            TrapKind::Other => "Trap",
        }
    }
}

impl fmt::Display for TrapKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Everything that can go wrong. No variant is ever a panic in disguise: a library that
/// returned one of these stays usable.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The library file is missing, unreadable, or not a wasm module / shared object.
    /// ctypes: `OSError` from `CDLL(...)`.
    #[error("OSError: {}: {message}", path.display())]
    OsError {
        /// The file that failed to load.
        path: PathBuf,
        /// What the loader said.
        message: String,
    },
    /// The library has no such symbol. ctypes: `AttributeError` from `lib.name`.
    #[error("AttributeError: {library}: undefined symbol: {symbol}")]
    AttributeError {
        /// The library searched.
        library: String,
        /// The symbol asked for.
        symbol: String,
    },
    /// An argument does not convert to its declared type. ctypes: `ctypes.ArgumentError`,
    /// which names the argument and holds the exception the conversion raised
    /// (`argument 2: TypeError: ...`).
    #[error("ArgumentError: {}{cause}", position.map(|p| format!("argument {p}: ")).unwrap_or_default())]
    ArgumentError {
        /// 1-based position of the argument, as ctypes counts; `None` when no one argument is
        /// at fault.
        position: Option<usize>,
        /// What the conversion raised: a [`Error::WrongType`], `TypeError`, `ValueError` or
        /// `OverflowError`.
        cause: Box<Error>,
    },
    /// A value of one type where another is needed. ctypes: `TypeError: expected c_int
    /// instance instead of float`.
    #[error("TypeError: expected {expected} instance instead of {got}")]
    WrongType {
        /// The C type (or ctypes class) that was needed.
        expected: String,
        /// The Python type of what was given.
        got: String,
    },
    /// A value of the wrong type. ctypes: `TypeError`.
    #[error("TypeError: {0}")]
    TypeError(String),
    /// `Function::typed`'s check: the Rust signature does not fit the declared prototype. Its
    /// kind is `TypeError` (ctypes has no typed calls).
    #[error("TypeError: {function}: {mismatch}")]
    Signature {
        /// The function.
        function: String,
        /// What does not fit (boxed: the error stays small for every other call).
        mismatch: Box<Mismatch>,
    },
    /// An integer too large for any C type. ctypes: `OverflowError`.
    #[error("OverflowError: {0}")]
    OverflowError(String),
    /// A value of the right type but out of range: a string too long for its buffer, NULL
    /// dereferenced. ctypes: `ValueError`.
    #[error("ValueError: {0}")]
    ValueError(String),
    /// The host could not allocate memory for a copy. Python: `MemoryError`. Never an abort.
    #[error("MemoryError: {0}")]
    MemoryError(String),
    /// An index outside an array. ctypes: `IndexError`.
    #[error("IndexError: {0}")]
    IndexError(String),
    /// A host-side access through a guest pointer that falls outside the guest's linear memory.
    /// ctypes has no such check; the sandbox does.
    #[error("OutOfBounds: {0}")]
    OutOfBounds(String),
    /// The guest trapped. The library stays usable.
    #[error("Trap: {kind}: {message}{}", if backtrace.is_empty() { String::new() } else { format!("\n{backtrace}") })]
    Trap {
        /// Why it stopped.
        kind: TrapKind,
        /// wasmtime's message.
        message: String,
        /// The wasm backtrace with function names, one frame per line (may be empty).
        backtrace: String,
        /// For [`TrapKind::GuestExit`]: the exit status, as the same exit gives natively (its
        /// low byte: `exit(-1)` is 255). One byte, so the error stays small.
        status: Option<u8>,
    },
    /// No guest toolchain was found, or it failed to run.
    #[error("ToolchainError: {0}")]
    Toolchain(String),
    /// The C compiler rejected a source file; `output` is the compiler's own message.
    #[error("CompileError: {}:\n{output}", file.display())]
    Compile {
        /// The source file.
        file: PathBuf,
        /// What the compiler printed.
        output: String,
    },
    /// Something in the runtime itself failed (wasmtime, libffi, the OS).
    #[error("RuntimeError: {0}")]
    Runtime(String),
    /// Calls nest too deeply: C called back, and the callback called C, more than the limit
    /// allows. Python: `RecursionError`. The sandbox (the process) stays usable.
    #[error("RecursionError: {0}")]
    Recursion(String),
}

/// What of a prototype does not fit a Rust signature ([`Error::Signature`]). `position` is
/// 1-based, `None` for the result.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Mismatch {
    /// No argtypes were declared.
    NoArgtypes,
    /// The prototype declares `declared` arguments, the Rust signature has `rust`.
    Count {
        /// Declared.
        declared: usize,
        /// In the Rust signature.
        rust: usize,
    },
    /// An argument or the result is not a number (a pointer, a structure): `call()` takes it.
    NotANumber {
        /// Which.
        position: Option<usize>,
        /// Its declared type.
        declared: String,
    },
    /// An argument or the result is a number of another width or kind: `declared` is `needs`
    /// in this data model, the Rust type is `rust`.
    Type {
        /// Which.
        position: Option<usize>,
        /// Its declared type.
        declared: String,
        /// The Rust type it needs in this data model (`i32` for `c_long` in wasm).
        needs: &'static str,
        /// The Rust type given.
        rust: &'static str,
    },
}

impl fmt::Display for Mismatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let which = |p: &Option<usize>| match p {
            Some(i) => format!("argument {i}"),
            None => "the result".to_string(),
        };
        match self {
            Mismatch::NoArgtypes => f.write_str("set argtypes before typed()"),
            Mismatch::Count { declared, rust } => write!(
                f,
                "declares {declared} argument{}, the Rust signature has {rust}",
                if *declared == 1 { "" } else { "s" }
            ),
            Mismatch::NotANumber { position, declared } => write!(
                f,
                "{} is {declared}, not a number; call() takes it",
                which(position)
            ),
            Mismatch::Type {
                position,
                declared,
                needs,
                rust,
            } => write!(
                f,
                "{} is {declared}, which is {needs} in this data model; the Rust type is {rust}",
                which(position)
            ),
        }
    }
}

impl Error {
    /// The stable name of this error's kind: the ctypes exception name where there is one,
    /// the trap kind for a trap. The CLI prints it as JSON `error.kind`.
    pub fn kind(&self) -> &'static str {
        match self {
            Error::OsError { .. } => "OSError",
            Error::AttributeError { .. } => "AttributeError",
            Error::ArgumentError { .. } => "ArgumentError",
            Error::WrongType { .. } | Error::TypeError(_) | Error::Signature { .. } => "TypeError",
            Error::OverflowError(_) => "OverflowError",
            Error::ValueError(_) => "ValueError",
            Error::IndexError(_) => "IndexError",
            Error::MemoryError(_) => "MemoryError",
            Error::OutOfBounds(_) => "OutOfBounds",
            Error::Trap { kind, .. } => kind.name(),
            Error::Toolchain(_) => "ToolchainError",
            Error::Compile { .. } => "CompileError",
            Error::Runtime(_) => "RuntimeError",
            Error::Recursion(_) => "RecursionError",
        }
    }

    /// The message without the kind prefix and without a backtrace: one line.
    pub fn message(&self) -> String {
        match self {
            Error::OsError { path, message } => format!("{}: {message}", path.display()),
            Error::AttributeError { library, symbol } => {
                format!("{library}: undefined symbol: {symbol}")
            }
            Error::ArgumentError { position, cause } => format!(
                "{}{cause}",
                position
                    .map(|p| format!("argument {p}: "))
                    .unwrap_or_default()
            ),
            Error::WrongType { expected, got } => {
                format!("expected {expected} instance instead of {got}")
            }
            Error::Signature { function, mismatch } => format!("{function}: {mismatch}"),
            Error::TypeError(m)
            | Error::OverflowError(m)
            | Error::ValueError(m)
            | Error::IndexError(m)
            | Error::MemoryError(m)
            | Error::OutOfBounds(m)
            | Error::Toolchain(m)
            | Error::Runtime(m)
            | Error::Recursion(m) => m.clone(),
            Error::Trap { message, .. } => message.clone(),
            Error::Compile { file, output } => format!("{}: {}", file.display(), output.trim()),
        }
    }

    pub(crate) fn os(path: impl Into<PathBuf>, message: impl fmt::Display) -> Error {
        Error::OsError {
            path: path.into(),
            message: message.to_string(),
        }
    }

    /// ctypes' `ArgumentError` for argument `position` (1-based), raised by `cause`.
    pub(crate) fn arg(position: usize, cause: Error) -> Error {
        Error::ArgumentError {
            position: Some(position),
            cause: Box::new(cause),
        }
    }

    /// `expected` needed, a value of Python type `got` given.
    pub(crate) fn wrong_type(expected: impl fmt::Display, got: impl Into<String>) -> Error {
        Error::WrongType {
            expected: expected.to_string(),
            got: got.into(),
        }
    }
}

/// `len` zero bytes on the host heap, or a `MemoryError` when the allocator cannot give them:
/// sizes that come from outside (a buffer's length, a string C did not terminate) must never
/// abort the process.
pub(crate) fn zeroed(len: usize) -> Result<Vec<u8>> {
    let mut v = Vec::new();
    v.try_reserve_exact(len)
        .map_err(|_| Error::MemoryError(format!("cannot allocate {len} bytes on the host")))?;
    v.resize(len, 0);
    Ok(v)
}

/// The error of a failed call, out of the box the call path returns it in: out of line, so
/// that a call inlined into its caller does not carry the copy.
#[cold]
#[inline(never)]
#[allow(clippy::boxed_local)] // The box is what the call path returns; this takes it apart.
pub(crate) fn unbox(e: Box<Error>) -> Error {
    *e
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every fallible call returns an `Error` by value: it stays a few words, whatever detail
    /// a rare variant carries (that goes in a box).
    #[test]
    fn an_error_stays_small() {
        let size = std::mem::size_of::<Error>();
        assert!(size <= 56, "{size} bytes");
    }
}
