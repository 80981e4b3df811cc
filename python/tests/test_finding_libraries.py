"""Finding and loading a real library's builds, as real bindings look for them: a wasm module
is known by its magic bytes whatever its name; a host library's wasm build is found beside it
or by `run --map`; `find_library` and bare names search `$WASMCTYPES_PATH` and `--lib-dir`;
nothing found is an OSError naming where it looked; `python -m wasmctypes run -m MODULE`
runs a module as `python -m` does. Each answer is compared with CPython's ctypes loading the
native build."""

import ctypes
import os
import shutil
import subprocess
import sys

import pytest



@pytest.fixture
def libs(built, tmp_path):
    """A directory with the sum library as a real package lays it out: the host build
    `libsum.so` in `native/`, the wasm build under the same name in `wasm/`, and a host
    build with a setuptools-style name and its wasm sibling in `pkg/`."""
    for d in ("native", "wasm", "pkg"):
        (tmp_path / d).mkdir()
    shutil.copy(built / "libsum.so", tmp_path / "native" / "libsum.so")
    shutil.copy(built / "sum.wasm", tmp_path / "wasm" / "libsum.so")
    so = tmp_path / "pkg" / "_sum.cpython-311-x86_64-linux-gnu.so"
    shutil.copy(built / "libsum.so", so)
    shutil.copy(built / "sum.wasm", tmp_path / "pkg" / "_sum.cpython-311-x86_64-linux-gnu.wasm")
    return tmp_path


def expected(path):
    lib = ctypes.CDLL(str(path))
    lib.add.argtypes = [ctypes.c_int, ctypes.c_int]
    return lib.add(2, 40)


def test_a_wasm_module_loads_whatever_its_name(libs, ct):
    path = libs / ("wasm" if ct.__name__.endswith("wasm") else "native") / "libsum.so"
    lib = ct.CDLL(str(path))
    lib.add.argtypes = [ct.c_int, ct.c_int]
    assert lib.add(2, 40) == expected(libs / "native" / "libsum.so") == 42


def test_a_host_library_loads_its_wasm_build_beside_it(libs, ct):
    so = libs / "pkg" / "_sum.cpython-311-x86_64-linux-gnu.so"
    lib = ct.CDLL(str(so))
    lib.add.argtypes = [ct.c_int, ct.c_int]
    assert lib.add(2, 40) == expected(so)


def test_nothing_found_is_an_oserror_naming_where_it_looked(libs, ct):
    with pytest.raises(OSError) as real:
        ctypes.CDLL(str(libs / "nowhere" / "libnothing.so"))
    with pytest.raises(OSError) as ours:
        ct.CDLL(str(libs / "nowhere" / "libnothing.so"))
    assert "libnothing" in str(ours.value) and "libnothing" in str(real.value)
    if ct.__name__.endswith("wasm"):
        # A host library without a wasm build: the places looked at are named.
        with pytest.raises(OSError, match=r"no wasm build of it \(looked for .*libsum.wasm"):
            ct.CDLL(str(libs / "native" / "libsum.so"))
        with pytest.raises(OSError, match="library not found in"):
            ct.CDLL("libnothing-here.so")


SCRIPT = """
import ctypes, ctypes.util, sys
# CPython's find_library answers a soname, None for a library without one: then the name.
path = ctypes.util.find_library("sum") or "libsum.so"
lib = ctypes.cdll.LoadLibrary(path)
bare = ctypes.cdll.LoadLibrary("libsum.so")
lib.add.argtypes = bare.add.argtypes = [ctypes.c_int, ctypes.c_int]
print(lib.add(2, 40), bare.add(1, 1), ctypes.util.find_library("nothing-like-it"))
"""


def run(args, cwd, env=None):
    full = {k: v for k, v in os.environ.items() if k not in ("WASMCTYPES_PATH", "WASMCTYPES_BACKEND")}
    full.update(env or {})
    return subprocess.run([sys.executable] + args, cwd=cwd, env=full, capture_output=True,
                          text=True, timeout=120)


def test_run_m_finds_libraries_in_lib_dir_as_ctypes_finds_them_on_the_library_path(libs, tmp_path):
    (tmp_path / "binding_check.py").write_text(SCRIPT)
    want = run(["-m", "binding_check"], tmp_path, {"LD_LIBRARY_PATH": str(libs / "native")})
    assert want.returncode == 0, want.stderr
    for backend in ("wasm", "native"):
        d = libs / backend
        got = run(["-m", "wasmctypes", "run", "--backend", backend, "--lib-dir", str(d),
                   "-m", "binding_check"], tmp_path)
        assert got.returncode == 0, got.stderr
        assert got.stdout == want.stdout == "42 2 None\n"
        # The same from $WASMCTYPES_PATH.
        got = run(["-m", "wasmctypes", "run", "--backend", backend, "binding_check.py"], tmp_path,
                  {"WASMCTYPES_PATH": str(d)})
        assert got.stdout == want.stdout, got.stderr


def test_run_map_gives_the_wasm_build_of_a_host_library(libs, tmp_path):
    script = tmp_path / "by_path.py"
    host = libs / "native" / "libsum.so"
    script.write_text("import ctypes\nlib = ctypes.CDLL(%r)\nprint(lib.add(20, 22))\n" % str(host))
    want = run([str(script)], tmp_path)
    got = run(["-m", "wasmctypes", "run", "--map", "%s=%s" % (host, libs / "wasm" / "libsum.so"),
               str(script)], tmp_path)
    assert got.returncode == 0, got.stderr
    assert got.stdout == want.stdout == "42\n"
    # Without the mapping the host library is not loaded into the sandbox.
    got = run(["-m", "wasmctypes", "run", str(script)], tmp_path)
    assert got.returncode == 1 and "OSError" in got.stderr and "no wasm build" in got.stderr


def test_run_m_runs_unittest_and_diff_compares_it(libs, tmp_path):
    (tmp_path / "test_sum_binding.py").write_text(
        "import ctypes, ctypes.util, unittest\n"
        "class T(unittest.TestCase):\n"
        "    def test_add(self):\n"
        "        lib = ctypes.CDLL(ctypes.util.find_library('sum') or 'libsum.so')\n"
        "        self.assertEqual(lib.add(2, 3), 5)\n")
    got = run(["-m", "wasmctypes", "run", "--lib-dir", str(libs / "wasm"), "-m", "unittest",
               "test_sum_binding"], tmp_path)
    assert got.returncode == 0 and "Ran 1 test" in got.stderr, got.stderr
    same = run(["-m", "wasmctypes", "diff", "--lib-dir", str(libs / "wasm"), "-m", "unittest",
                "test_sum_binding"], tmp_path, {"LD_LIBRARY_PATH": str(libs / "native")})
    assert same.returncode == 0 and "verdict: same" in same.stdout, same.stdout + same.stderr


def test_build_ext_writes_the_wasm_build_beside_the_native_one(tmp_path):
    pkg = tmp_path / "mypkg"
    pkg.mkdir()
    (tmp_path / "setup.py").write_text(
        "from setuptools import setup, Extension\n"
        "setup(name='mypkg', version='0.1', packages=['mypkg'], ext_modules=[Extension(\n"
        "    'mypkg._native', ['mypkg/native.c'], define_macros=[('FACTOR', '6')])])\n")
    (pkg / "native.c").write_text("int times(int x) { return FACTOR * x; }\n")
    (pkg / "__init__.py").write_text(
        "import ctypes, glob, os\n"
        "_lib = ctypes.CDLL(glob.glob(os.path.join(os.path.dirname(__file__), '_native*.so'))[0])\n"
        "def times(x):\n    return _lib.times(x)\n")
    (tmp_path / "use.py").write_text("import mypkg\nprint(mypkg.times(7))\n")
    native = run(["setup.py", "-q", "build_ext", "--inplace"], tmp_path)
    assert native.returncode == 0, native.stderr
    built = run(["-m", "wasmctypes", "build_ext"], tmp_path)
    assert built.returncode == 0, built.stderr
    wasm = [p for p in pkg.iterdir() if p.name.endswith(".wasm")]
    assert len(wasm) == 1 and wasm[0].name.startswith("_native.cpython-")
    assert wasm[0].read_bytes()[:4] == b"\0asm"
    want = run(["use.py"], tmp_path)
    assert want.stdout == "42\n", want.stderr
    for backend in ("wasm", "native"):
        got = run(["-m", "wasmctypes", "run", "--backend", backend, "use.py"], tmp_path)
        assert got.stdout == want.stdout, got.stderr
    # Without the wasm build the sandbox says where it looked.
    wasm[0].unlink()
    got = run(["-m", "wasmctypes", "run", "use.py"], tmp_path)
    assert got.returncode == 1 and "no wasm build of it" in got.stderr


def test_the_sandboxes_compiler_from_python_names_what_it_lacks(tmp_path):
    (tmp_path / "t.c").write_text("int f(void) { return 1; }\n")
    got = run(["-m", "wasmctypes", "cc", "-pthread", "-c", "t.c"], tmp_path)
    assert got.returncode == 2 and "-pthread" in got.stderr
    got = run(["-m", "wasmctypes", "cc", "-c", "t.c", "-o", "t.o"], tmp_path)
    assert got.returncode == 0 and (tmp_path / "t.o").read_bytes()[:4] == b"\0asm"


def outcome(load, name):
    try:
        load(name)
        return "loaded"
    except (OSError, ValueError, TypeError) as e:
        return type(e).__name__


@pytest.mark.parametrize("name", ["", "\0", "a\0b", "../../etc/passwd", "/", "x" * 5000, b"libc.so.6"])
def test_hostile_library_names_are_answered_as_ctypes_answers_them(ct, name):
    want = outcome(ctypes.CDLL, name)
    got = outcome(ct.CDLL, name)
    # The same answer on both backends: "" is the process (glibc's dlopen("") is
    # dlopen(NULL)), b"libc.so.6" the C library, the others errors of the same kind.
    assert got == want, name


def test_a_malformed_map_is_a_usage_error(tmp_path):
    (tmp_path / "s.py").write_text("print(1)\n")
    got = run(["-m", "wasmctypes", "run", "--map", "no-equals-sign", "s.py"], tmp_path)
    assert got.returncode != 0 and "--map takes HOST=WASM" in got.stderr
