//! A sandbox's limits and grants as Python gives them: `wasmctypes.wasm.Sandbox(timeout=...,
//! fuel=..., max_memory=..., dirs=..., env=..., seed=..., real_clock=..., real_random=...)` and
//! `python -m wasmctypes run --timeout ...`, checked as the CLI checks its flags.

use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyFloat, PyInt, PyString};

use wasmctypes::sandbox::{parse_duration, parse_size, DirGrant};
use wasmctypes::LoadOptions;

/// The load options of a process from Python keywords (see the module docs); unknown keys
/// and values of the wrong kind are errors that name them.
pub(crate) fn load_options(options: Option<&Bound<'_, PyDict>>) -> PyResult<LoadOptions> {
    let mut o = LoadOptions {
        capture_output: Some(false),
        ..LoadOptions::default()
    };
    let Some(options) = options else {
        return Ok(o);
    };
    let s = &mut o.sandbox;
    for (key, value) in options.iter() {
        let key: String = key.extract()?;
        let bad = |what: &str| {
            PyTypeError::new_err(format!(
                "Sandbox({key}=...): expected {what}, not {}",
                value
                    .get_type()
                    .name()
                    .map(|n| n.to_string())
                    .unwrap_or_default()
            ))
        };
        match key.as_str() {
            "timeout" => {
                s.timeout = if value.is_none() {
                    None
                } else if let Ok(text) = value.cast::<PyString>() {
                    Some(
                        parse_duration(&text.to_cow()?)
                            .map_err(|e| PyValueError::new_err(e.message()))?,
                    )
                } else if value.is_instance_of::<PyInt>() || value.is_instance_of::<PyFloat>() {
                    let secs: f64 = value.extract()?;
                    Some(std::time::Duration::try_from_secs_f64(secs).map_err(|_| {
                        PyValueError::new_err(format!("Sandbox(timeout={secs}): not a duration"))
                    })?)
                } else {
                    return Err(bad("seconds, a duration such as '1.5s', or None"));
                }
            }
            "fuel" => {
                s.fuel = if value.is_none() {
                    None
                } else if value.is_instance_of::<PyInt>() {
                    Some(value.extract().map_err(|_| {
                        PyValueError::new_err("Sandbox(fuel=...): a fuel budget is 0 to 2**64-1")
                    })?)
                } else {
                    return Err(bad("an int or None"));
                }
            }
            "max_memory" => {
                s.max_memory = if let Ok(text) = value.cast::<PyString>() {
                    parse_size(&text.to_cow()?).map_err(|e| PyValueError::new_err(e.message()))?
                } else if value.is_instance_of::<PyInt>() {
                    value.extract().map_err(|_| {
                        PyValueError::new_err("Sandbox(max_memory=...): out of range")
                    })?
                } else {
                    return Err(bad("bytes (an int) or a size such as '64MiB'"));
                }
            }
            "dirs" => {
                if value.is_instance_of::<PyString>() {
                    return Err(bad("a list of 'HOST[::GUEST][:ro]' strings"));
                }
                for d in value.try_iter().map_err(|_| bad("a list of directories"))? {
                    let d = d?;
                    let text: String = d.extract().map_err(|_| bad("a list of strings"))?;
                    s.dirs.push(
                        DirGrant::parse(&text).map_err(|e| PyValueError::new_err(e.message()))?,
                    );
                }
            }
            "env" => {
                let pairs: Vec<(String, String)> = if let Ok(d) = value.cast::<PyDict>() {
                    d.iter()
                        .map(|(k, v)| Ok((k.extract()?, v.extract()?)))
                        .collect::<PyResult<_>>()
                        .map_err(|_: PyErr| bad("a dict of str to str"))?
                } else {
                    value
                        .try_iter()
                        .map_err(|_| bad("a dict, or a list of 'K=V' strings"))?
                        .map(|kv| {
                            let kv: String = kv?.extract()?;
                            kv.split_once('=')
                                .map(|(k, v)| (k.to_string(), v.to_string()))
                                .ok_or_else(|| {
                                    PyValueError::new_err(format!(
                                        "Sandbox(env=...): {kv:?} is not K=V"
                                    ))
                                })
                        })
                        .collect::<PyResult<_>>()?
                };
                s.env.extend(pairs);
            }
            "seed" => {
                s.seed = value
                    .extract()
                    .map_err(|_| bad("an int from 0 to 2**64-1"))?;
            }
            "real_clock" => s.real_clock = value.is_truthy()?,
            "real_random" => s.real_random = value.is_truthy()?,
            "canonical_nans" => s.canonical_nans = value.is_truthy()?,
            other => {
                return Err(PyTypeError::new_err(format!(
                    "Sandbox() got an unexpected keyword argument '{other}' (it takes timeout, \
                     fuel, max_memory, dirs, env, seed, real_clock, real_random, \
                     canonical_nans)"
                )))
            }
        }
    }
    Ok(o)
}
