//! The integration tests: one binary (each test binary links wasmtime), one module per
//! concept. Every case runs on both backends unless it is about one of them.
//!
//! Two suites stay apart: `tests/alloc.rs` installs a counting global allocator, and
//! `tests/output.rs` redirects the process's fd 1 and 2 around native calls.

mod buffers;
mod build_systems;
mod cache;
mod callbacks;
mod calls;
mod cli;
mod common;
mod differential;
mod errno_and_reload;
mod errors;
mod fuzz;
mod globals;
mod linking;
mod memory;
mod prototypes;
mod real_libraries;
mod sandbox;
mod shims;
mod structures;
mod typed;
mod variadic;
