//! One call described as text, as the CLI takes it, and its report.
//!
//! An argument is written `TYPE:VALUE` (`c_int:5`, `c_double:2.5`, `c_char_p:World`),
//! `TYPE[]:1,2,3` (an array in the library's memory, passed as a pointer to its first element),
//! `buf:TEXT` (`create_string_buffer(b"TEXT")`), `buf:N` (N zero bytes), `null`, or untyped:
//! an integer is a `c_int` and other text is a `c_char_p`. TEXT takes Python's byte-string
//! escapes. A float without a type is an error, as in ctypes.
//!
//! ```
//! use wasmctypes::{ArgSpec, CType, Value};
//! assert_eq!(ArgSpec::parse("c_int:5").unwrap(), ArgSpec::Scalar(CType::Int, Value::Int(5)));
//! assert_eq!(ArgSpec::parse("7").unwrap(), ArgSpec::Scalar(CType::Int, Value::Int(7)));
//! assert!(ArgSpec::parse("2.5").is_err());
//! ```

use crate::backend::BackendKind;
use crate::data::array::Array;
use crate::data::buffer::{
    create_string_buffer, create_unicode_buffer, BufferInit, StringBuffer, WideBuffer, WideInit,
};
use crate::error::{Error, Result};
use crate::library::{Function, CDLL};
use crate::types::{CType, DataModel};
use crate::value::{encode, from_bits, unescape_bytes, Value};

/// One argument as typed on the command line.
#[derive(Clone, Debug, PartialEq)]
pub enum ArgSpec {
    /// `TYPE:VALUE`, or an untyped integer (`c_int`) or text (`c_char_p`).
    Scalar(CType, Value),
    /// `TYPE[]:1,2,3`.
    Array(CType, Vec<Value>),
    /// `buf:TEXT` (bytes plus NUL) or `buf:N` (N zero bytes).
    Buffer(BufferSpec),
    /// `wbuf:TEXT` (`create_unicode_buffer("TEXT")`) or `wbuf:N` (N zero characters).
    WideBuffer(WideSpec),
    /// `null`.
    Null,
}

/// How a `wbuf:` argument is initialised.
#[derive(Clone, Debug, PartialEq)]
pub enum WideSpec {
    /// `wbuf:TEXT`.
    Text(String),
    /// `wbuf:N`.
    Size(usize),
}

/// How a `buf:` argument is initialised.
#[derive(Clone, Debug, PartialEq)]
pub enum BufferSpec {
    /// `buf:TEXT`.
    Text(Vec<u8>),
    /// `buf:N`.
    Size(usize),
}

fn parse_int(text: &str) -> Option<i128> {
    let t = text.trim();
    let (neg, body) = match t.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, t.strip_prefix('+').unwrap_or(t)),
    };
    let v = if let Some(hex) = body.strip_prefix("0x").or_else(|| body.strip_prefix("0X")) {
        i128::from_str_radix(hex, 16).ok()?
    } else if !body.is_empty() && body.bytes().all(|b| b.is_ascii_digit()) {
        body.parse::<i128>().ok()?
    } else {
        return None;
    };
    Some(if neg { -v } else { v })
}

fn looks_like_float(text: &str) -> bool {
    text.parse::<f64>().is_ok()
        && parse_int(text).is_none()
        && text.chars().any(|c| c.is_ascii_digit())
}

/// A size as Python checks one: `create_string_buffer(2**64 + 16)` is an OverflowError, never
/// a 16-byte buffer.
fn index_size(n: i128) -> Result<usize> {
    usize::try_from(n).map_err(|_| {
        Error::OverflowError(format!(
            "cannot fit 'int' into an index-sized integer ({n})"
        ))
    })
}

fn parse_value(t: CType, text: &str) -> Result<Value> {
    let bad = |what: &str| Error::TypeError(format!("{t}: cannot convert {text:?}: {what}"));
    Ok(match t {
        CType::Float | CType::Double | CType::LongDouble => Value::Float(
            text.trim()
                .parse::<f64>()
                .map_err(|_| bad("expected a number"))?,
        ),
        CType::CharP => Value::Bytes(unescape_bytes(text).map_err(|e| bad(&e))?),
        CType::WCharP => Value::Str(
            String::from_utf8_lossy(&unescape_bytes(text).map_err(|e| bad(&e))?).into_owned(),
        ),
        CType::VoidP if matches!(text, "null" | "None" | "NULL") => Value::None,
        CType::Bool => match text {
            "True" | "true" => Value::Bool(true),
            "False" | "false" => Value::Bool(false),
            _ => Value::Int(
                parse_int(text).ok_or_else(|| bad("expected True, False or an integer"))?,
            ),
        },
        CType::Char => match parse_int(text) {
            Some(i) if text.len() > 1 => Value::Int(i),
            _ => {
                let b = unescape_bytes(text).map_err(|e| bad(&e))?;
                if b.len() != 1 {
                    return Err(bad("expected one character"));
                }
                Value::Bytes(b)
            }
        },
        CType::WChar => Value::Str(text.to_string()),
        CType::Void => return Err(Error::TypeError("void is not an argument type".into())),
        _ => {
            if looks_like_float(text) {
                return Err(bad("int expected instead of float"));
            }
            Value::Int(parse_int(text).ok_or_else(|| bad("expected an integer"))?)
        }
    })
}

impl ArgSpec {
    /// Parses one command-line argument. See the module docs for the grammar.
    pub fn parse(text: &str) -> Result<ArgSpec> {
        if text == "null" {
            return Ok(ArgSpec::Null);
        }
        if let Some((prefix, rest)) = text.split_once(':') {
            if prefix == "buf" {
                return Ok(ArgSpec::Buffer(match parse_int(rest) {
                    Some(n) if n >= 0 => BufferSpec::Size(index_size(n)?),
                    _ => BufferSpec::Text(unescape_bytes(rest).map_err(Error::TypeError)?),
                }));
            }
            if prefix == "wbuf" {
                return Ok(ArgSpec::WideBuffer(match parse_int(rest) {
                    Some(n) if n >= 0 => WideSpec::Size(index_size(n)?),
                    _ => WideSpec::Text(
                        String::from_utf8_lossy(&unescape_bytes(rest).map_err(Error::TypeError)?)
                            .into_owned(),
                    ),
                }));
            }
            if let Some(elem) = prefix.strip_suffix("[]") {
                let t = CType::from_name(elem)
                    .filter(|t| *t != CType::Void)
                    .ok_or_else(|| {
                        Error::TypeError(format!("unknown array element type {elem:?}"))
                    })?;
                let items = if rest.is_empty() {
                    Vec::new()
                } else {
                    rest.split(',')
                        .map(|s| parse_value(t, s.trim()))
                        .collect::<Result<_>>()?
                };
                return Ok(ArgSpec::Array(t, items));
            }
            if let Some(t) = CType::from_name(prefix) {
                return Ok(ArgSpec::Scalar(t, parse_value(t, rest)?));
            }
            if prefix.starts_with("c_") {
                return Err(Error::TypeError(format!("unknown type {prefix:?}")));
            }
        }
        if let Some(i) = parse_int(text) {
            return Ok(ArgSpec::Scalar(CType::Int, Value::Int(i)));
        }
        if looks_like_float(text) {
            return Err(Error::ArgumentError {
                position: None,
                cause: Box::new(Error::TypeError(format!(
                    "Don't know how to convert {text}: a float needs a type, e.g. c_double:{text}"
                ))),
            });
        }
        Ok(ArgSpec::Scalar(
            CType::CharP,
            Value::Bytes(unescape_bytes(text).map_err(Error::TypeError)?),
        ))
    }

    /// The argtype this argument declares for the call.
    pub fn argtype(&self) -> CType {
        match self {
            ArgSpec::Scalar(t, _) => *t,
            ArgSpec::Array(..) | ArgSpec::Null => CType::VoidP,
            ArgSpec::Buffer(_) => CType::CharP,
            ArgSpec::WideBuffer(_) => CType::WCharP,
        }
    }

    /// A short type label for reports: `c_int`, `c_int[]`, `buf`, `null`.
    pub fn label(&self) -> String {
        match self {
            ArgSpec::Scalar(t, _) => t.name().to_string(),
            ArgSpec::Array(t, _) => format!("{t}[]"),
            ArgSpec::Buffer(_) => "buf".into(),
            ArgSpec::WideBuffer(_) => "wbuf".into(),
            ArgSpec::Null => "null".into(),
        }
    }
}

/// Whether `text` gives no type of its own: not `TYPE:VALUE`, `TYPE[]:...`, `buf:`, `wbuf:`
/// or `null`, but a bare integer or text.
fn is_untyped(text: &str) -> bool {
    if text == "null" {
        return false;
    }
    match text.split_once(':') {
        Some((prefix, _)) => {
            !(matches!(prefix, "buf" | "wbuf")
                || prefix.ends_with("[]")
                || CType::from_name(prefix).is_some()
                || prefix.starts_with("c_"))
        }
        None => true,
    }
}

/// One call's arguments, result type and fixed count, typed from the C prototype where the
/// command line does not type them (`wasmctypes call greeting greet World`). An untyped
/// argument takes its parameter's type: an integer for `size_t` is a `c_size_t`, a number for
/// `double` a `c_double`, text for `char *` a `c_char_p`, an integer for any other pointer an
/// address. `restype` (`--restype`) and `fixed` (`--fixed`) win when given; without a
/// prototype the defaults are ctypes' (`c_int`, untyped arguments as [`ArgSpec::parse`]).
pub fn typed_call(
    lib: &CDLL,
    symbol: &str,
    args: &[String],
    restype: Option<&str>,
    fixed: Option<usize>,
) -> Result<(Vec<ArgSpec>, CType, Option<usize>)> {
    let protos = lib.prototypes().ok().flatten();
    let proto = protos.as_ref().and_then(|p| {
        let f = p.function(symbol)?;
        let (mut args, ret) = p.ctypes(f)?;
        // Text for `char *` is a string, never an address.
        for (t, (_, c)) in args.iter_mut().zip(&f.signature.params) {
            if p.is_text(*c) {
                *t = crate::Type::Simple(CType::CharP);
            }
        }
        Some(((args, ret), f.signature.variadic))
    });
    let params: &[crate::Type] = proto.as_ref().map_or(&[], |((a, _), _)| a.as_slice());
    let mut specs = Vec::with_capacity(args.len());
    for (i, text) in args.iter().enumerate() {
        let param = params.get(i).and_then(|t| t.simple());
        let spec = match param {
            Some(t) if is_untyped(text) => match t {
                CType::VoidP if parse_int(text).is_none() => ArgSpec::parse(text),
                CType::Void => ArgSpec::parse(text),
                t => parse_value(t, text).map(|v| ArgSpec::Scalar(t, v)),
            },
            _ => ArgSpec::parse(text),
        };
        specs.push(spec.map_err(|e| match e {
            Error::ArgumentError { cause, .. } => Error::ArgumentError {
                position: Some(i + 1),
                cause,
            },
            other => Error::ArgumentError {
                position: Some(i + 1),
                cause: Box::new(other),
            },
        })?);
    }
    let restype = match (restype, &proto) {
        (Some(name), _) => parse_restype(name)?,
        (None, Some(((_, ret), _))) => ret.simple().unwrap_or(CType::Int),
        (None, None) => CType::Int,
    };
    let fixed = fixed.or(match &proto {
        Some(((a, _), true)) => Some(a.len()),
        _ => None,
    });
    Ok((specs, restype, fixed))
}

/// Parses a restype name (`c_int`, `c_char_p`, `void`/`None`).
pub fn parse_restype(name: &str) -> Result<CType> {
    CType::from_name(name).ok_or_else(|| Error::TypeError(format!("unknown restype {name:?}")))
}

/// An argument's state after the call.
#[derive(Clone, Debug, PartialEq)]
pub enum ArgReport {
    /// A scalar, as passed.
    Scalar(CType, Value),
    /// An array's elements after the call.
    Array(CType, Vec<Value>),
    /// A buffer's `.raw` after the call (its `.value` is `raw` up to the first NUL: one copy
    /// of the buffer, not two).
    Buffer {
        /// `.raw`.
        raw: Vec<u8>,
    },
    /// A wide buffer's `.value` after the call.
    WideBuffer(String),
    /// NULL.
    Null,
}

/// What one call did.
#[derive(Clone, Debug, PartialEq)]
pub struct CallReport {
    /// The backend that ran it.
    pub backend: BackendKind,
    /// The data model of that backend.
    pub model: DataModel,
    /// The function called.
    pub symbol: String,
    /// The restype used.
    pub restype: CType,
    /// The converted result.
    pub ret: Value,
    /// What the library wrote to stdout.
    pub stdout: Vec<u8>,
    /// What the library wrote to stderr.
    pub stderr: Vec<u8>,
    /// Every argument after the call.
    pub args: Vec<ArgReport>,
}

enum Live {
    Scalar(CType, Value),
    Array(CType, Array),
    Buffer(StringBuffer),
    Wide(WideBuffer),
    Null,
}

/// A call whose arguments are materialised in the library (arrays and buffers allocated,
/// prototype declared), ready to be made once or many times.
pub struct PreparedCall {
    lib: CDLL,
    function: Function,
    live: Vec<Live>,
    values: Vec<Value>,
    restype: CType,
}

impl PreparedCall {
    /// Looks up `symbol`, declares argtypes from the argument specs and the restype, and
    /// allocates every array and buffer argument in the library's memory.
    pub fn new(lib: &CDLL, symbol: &str, args: &[ArgSpec], restype: CType) -> Result<PreparedCall> {
        PreparedCall::variadic(lib, symbol, args, restype, None)
    }

    /// [`PreparedCall::new`] for a variadic function whose first `fixed` arguments are its
    /// fixed parameters (`None`: all are): only those are declared as argtypes, as in ctypes,
    /// and the rest are passed as typed objects (`c_int(5)`, `c_double(2.5)`), with C's
    /// default promotions.
    pub fn variadic(
        lib: &CDLL,
        symbol: &str,
        args: &[ArgSpec],
        restype: CType,
        fixed: Option<usize>,
    ) -> Result<PreparedCall> {
        let fixed = match fixed {
            Some(n) if n > args.len() => {
                return Err(Error::TypeError(format!(
                    "--fixed {n}: the call has only {} arguments",
                    args.len()
                )))
            }
            Some(n) => n,
            None => args.len(),
        };
        let mut function = lib.function(symbol)?;
        let argtypes: Vec<CType> = args[..fixed].iter().map(ArgSpec::argtype).collect();
        function.set_argtypes(&argtypes)?;
        function.set_restype(restype)?;
        let live: Vec<Live> = args
            .iter()
            .map(|a| {
                Ok(match a {
                    ArgSpec::Scalar(t, v) => Live::Scalar(*t, as_ctypes_keeps(lib, *t, v)?),
                    ArgSpec::Array(t, items) => {
                        Live::Array(*t, Array::from_values(lib, *t, items)?)
                    }
                    ArgSpec::Buffer(BufferSpec::Text(b)) => {
                        Live::Buffer(create_string_buffer(lib, BufferInit::Bytes(b))?)
                    }
                    ArgSpec::Buffer(BufferSpec::Size(n)) => {
                        Live::Buffer(create_string_buffer(lib, *n)?)
                    }
                    ArgSpec::WideBuffer(WideSpec::Text(t)) => {
                        Live::Wide(create_unicode_buffer(lib, WideInit::Text(t))?)
                    }
                    ArgSpec::WideBuffer(WideSpec::Size(n)) => {
                        Live::Wide(create_unicode_buffer(lib, WideInit::Size(*n))?)
                    }
                    ArgSpec::Null => Live::Null,
                })
            })
            .collect::<Result<_>>()?;
        let values = live
            .iter()
            .enumerate()
            .map(|(i, l)| match l {
                Live::Scalar(t, v) if i >= fixed && !t.is_pointer() => {
                    Value::Typed(*t, crate::value::Boxed::new(v.clone()))
                }
                Live::Scalar(_, v) => v.clone(),
                Live::Array(_, a) => a.into(),
                Live::Buffer(b) => b.into(),
                Live::Wide(b) => b.into(),
                Live::Null => Value::None,
            })
            .collect();
        Ok(PreparedCall {
            lib: lib.clone(),
            function,
            live,
            values,
            restype,
        })
    }

    /// Makes the call once. Inline, so that a caller that drops the result (`wasmctypes
    /// bench`) takes it from registers: returned through memory, the `Value` written in
    /// 8-byte pieces was read back in 16-byte ones, a store-forwarding stall of about 10 ns
    /// per call.
    #[inline]
    pub fn call(&self) -> Result<Value> {
        self.function.call(&self.values)
    }

    /// Makes the call once and reports the result, the output, and every array and buffer.
    pub fn run(&self) -> Result<CallReport> {
        // What is pending (a library initialiser's output, on the first run) belongs to the
        // report: ctypes would have shown it before the call's own.
        let outcome = self.call();
        let output = self.lib.take_output();
        let ret = outcome?;
        let args = self
            .live
            .iter()
            .map(|l| {
                Ok(match l {
                    Live::Scalar(t, v) => ArgReport::Scalar(*t, v.clone()),
                    Live::Array(t, a) => ArgReport::Array(*t, a.to_vec()?),
                    Live::Buffer(b) => ArgReport::Buffer { raw: b.raw()? },
                    Live::Wide(b) => ArgReport::WideBuffer(b.value()?),
                    Live::Null => ArgReport::Null,
                })
            })
            .collect::<Result<_>>()?;
        Ok(CallReport {
            backend: self.lib.backend(),
            model: self.lib.data_model(),
            symbol: self.function.name().to_string(),
            restype: self.restype,
            ret,
            stdout: output.stdout,
            stderr: output.stderr,
            args,
        })
    }
}

/// A number as the C type keeps it (`c_bool(2).value` is True, `c_int(2**32)` is 0 and
/// `c_long(2**32 + 7)` is 7 in wasm32), which is what is passed and reported. Pointers and
/// strings stay as given.
fn as_ctypes_keeps(lib: &CDLL, t: CType, v: &Value) -> Result<Value> {
    if t.is_pointer() || matches!(v, Value::Bytes(_) | Value::Str(_)) {
        return Ok(v.clone());
    }
    let r = lib.data_model().repr(t);
    Ok(from_bits(t, r, encode(t, r, v)?))
}

/// Calls `symbol` in `lib` with these arguments and restype, and reports the result, the
/// output, and every array and buffer after the call.
pub fn invoke(lib: &CDLL, symbol: &str, args: &[ArgSpec], restype: CType) -> Result<CallReport> {
    PreparedCall::new(lib, symbol, args, restype)?.run()
}

/// [`invoke`] of a variadic function whose first `fixed` arguments are its fixed parameters
/// (see [`PreparedCall::variadic`]).
pub fn invoke_variadic(
    lib: &CDLL,
    symbol: &str,
    args: &[ArgSpec],
    restype: CType,
    fixed: Option<usize>,
) -> Result<CallReport> {
    PreparedCall::variadic(lib, symbol, args, restype, fixed)?.run()
}

impl CallReport {
    /// Whether another backend's report of the same call agrees: same result, same output,
    /// same arguments after the call.
    pub fn agrees_with(&self, other: &CallReport) -> bool {
        self.ret == other.ret
            && self.stdout == other.stdout
            && self.stderr == other.stderr
            && self.args == other.args
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> ArgSpec {
        ArgSpec::parse(text).unwrap_or_else(|e| panic!("{text}: {e}"))
    }

    #[test]
    fn parses_the_cli_argument_grammar() {
        assert_eq!(parse("c_int:5"), ArgSpec::Scalar(CType::Int, Value::Int(5)));
        assert_eq!(
            parse("c_double:2.5"),
            ArgSpec::Scalar(CType::Double, Value::Float(2.5))
        );
        assert_eq!(parse("7"), ArgSpec::Scalar(CType::Int, Value::Int(7)));
        assert_eq!(parse("-0x10"), ArgSpec::Scalar(CType::Int, Value::Int(-16)));
        assert_eq!(
            parse("World"),
            ArgSpec::Scalar(CType::CharP, Value::Bytes(b"World".to_vec()))
        );
        assert_eq!(
            parse("c_char_p:a\\x00b"),
            ArgSpec::Scalar(CType::CharP, Value::Bytes(b"a\0b".to_vec()))
        );
        assert_eq!(
            parse("c_int[]:1, 2,3"),
            ArgSpec::Array(
                CType::Int,
                vec![Value::Int(1), Value::Int(2), Value::Int(3)]
            )
        );
        assert_eq!(parse("c_int[]:"), ArgSpec::Array(CType::Int, vec![]));
        assert_eq!(parse("buf:16"), ArgSpec::Buffer(BufferSpec::Size(16)));
        assert_eq!(
            parse("buf:abc"),
            ArgSpec::Buffer(BufferSpec::Text(b"abc".to_vec()))
        );
        assert_eq!(parse("wbuf:4"), ArgSpec::WideBuffer(WideSpec::Size(4)));
        assert_eq!(
            parse("wbuf:hé"),
            ArgSpec::WideBuffer(WideSpec::Text("hé".into()))
        );
        assert_eq!(parse("null"), ArgSpec::Null);
        assert_eq!(parse("null").argtype(), CType::VoidP);
        assert_eq!(parse("buf:3").label(), "buf");
        assert_eq!(parse("c_long[]:1").label(), "c_long[]");
    }

    #[test]
    fn rejects_what_ctypes_would_not_convert() {
        // A float needs its type, as a ctypes argument without argtypes does.
        assert!(matches!(
            ArgSpec::parse("2.5"),
            Err(Error::ArgumentError { position: None, cause }) if matches!(*cause, Error::TypeError(_))
        ));
        for bad in [
            "c_nope:1",
            "c_void[]:1",
            "c_int:x",
            "c_int[]:1,x",
            "buf:\\x4",
        ] {
            assert!(ArgSpec::parse(bad).is_err(), "{bad}");
        }
        assert_eq!(parse_restype("void").unwrap(), CType::Void);
        assert_eq!(parse_restype("c_char_p").unwrap(), CType::CharP);
        assert_eq!(parse_restype("int").unwrap_err().kind(), "TypeError");
    }
}
