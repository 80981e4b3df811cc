//! `wasmctypes cc|ar|ranlib|configure|make|cmake ARGS...`, and the same tools when this
//! program is called by one of their link names (`wasmctypes-cc`, ...): the arguments go to
//! the library untouched, as a compiler's or a build tool's would.

use std::process::ExitCode;

use wasmctypes::toolchain::build_system::{self, Tool};
use wasmctypes::toolchain::driver::Driver;
use wasmctypes::Error;

/// The exit code of the tool that `argv` asks for, or `None` when it asks for another
/// command (parsed by clap as usual).
pub fn dispatch(argv: &[String]) -> Option<ExitCode> {
    let (tool, args) = match build_system::tool_of(argv.first()?) {
        Some(tool) => (tool_name(tool), &argv[1..]),
        None => {
            let sub = argv.get(1)?.as_str();
            if !matches!(sub, "cc" | "ar" | "ranlib" | "configure" | "make" | "cmake") {
                return None;
            }
            (sub, &argv[2..])
        }
    };
    Some(match run(tool, args) {
        Ok(code) => ExitCode::from(code.clamp(0, 255) as u8),
        Err(e) => {
            eprintln!("error: {}: {}", e.kind(), e.message());
            ExitCode::from(2)
        }
    })
}

fn tool_name(tool: Tool) -> &'static str {
    match tool {
        Tool::Cc => "cc",
        Tool::Ar => "ar",
        Tool::Ranlib => "ranlib",
    }
}

fn run(tool: &str, args: &[String]) -> Result<i32, Error> {
    let exe = || {
        std::env::current_exe()
            .map_err(|e| Error::Toolchain(format!("cannot find this program's path: {e}")))
    };
    match tool {
        "cc" => Driver::find()?.cc(args),
        "ar" => Driver::find()?.ar(args),
        "ranlib" => Driver::find()?.ranlib(args),
        "configure" => build_system::configure(&exe()?, args),
        "make" => build_system::make(&exe()?, args),
        _ => build_system::cmake(&exe()?, args),
    }
}
