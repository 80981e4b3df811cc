"""A sandbox's limits and grants from Python: `wasmctypes.wasm.Sandbox(...)`, `CDLL(name,
sandbox=sb)` and `python -m wasmctypes run --timeout ...`. These are promises of the sandbox:
there is no ctypes answer to compare with; the default sandbox keeps the CLI's defaults."""

import os
import subprocess
import sys
import time

import pytest

from conftest import ROOT


def build(name):
    from wasmctypes import _core

    return _core.build(os.path.join(ROOT, "guest-c", name + ".c"))


@pytest.fixture(scope="module")
def paths():
    return {n: build(n)[0] for n in ("threads", "sandbox", "hostile/loop", "hostile/membomb")}


def test_a_sandbox_has_its_own_limits(paths):
    import wasmctypes.wasm as w

    sb = w.Sandbox(timeout=0.3)
    lib = w.CDLL(paths["threads"], sandbox=sb)
    lib.spin.argtypes = [sb.c_uint64]
    lib.spin.restype = sb.c_uint64
    start = time.perf_counter()
    with pytest.raises(w.SandboxError) as e:
        lib.spin(10**13)
    assert e.value.kind == "Timeout"
    assert 0.25 < time.perf_counter() - start < 2
    # Usable after the trap; the default sandbox is another one, with its 30 s.
    assert lib.add(2, 3) == 5
    metered = w.Sandbox(fuel=200_000, timeout=None)
    mlib = metered.CDLL(paths["threads"])
    mlib.spin.argtypes = [metered.c_uint64]
    mlib.spin.restype = metered.c_uint64
    with pytest.raises(w.SandboxError) as e:
        mlib.spin(10**9)
    assert e.value.kind == "OutOfFuel"
    assert mlib.spin(10) != 0
    small = w.Sandbox(max_memory="2MiB")
    bomb = small.CDLL(paths["hostile/membomb"])
    with pytest.raises(w.SandboxError) as e:
        for name in ("bomb", "grow_forever", "allocate"):
            if hasattr(bomb, name):
                getattr(bomb, name)()
                break
    assert e.value.kind in ("MemoryLimit", "Unreachable"), e.value.kind


def test_grants(paths, tmp_path):
    import wasmctypes.wasm as w

    (tmp_path / "data.txt").write_bytes(b"Z!")
    closed = w.CDLL(paths["sandbox"])
    closed.first_byte.argtypes = [w.c_char_p]
    closed.get_env.restype = w.c_char_p
    assert closed.first_byte(str(tmp_path / "data.txt").encode()) < 0
    assert closed.get_env(b"GREETING") is None
    sb = w.Sandbox(dirs=["%s::/data:ro" % tmp_path], env={"GREETING": "hello"})
    lib = sb.CDLL(paths["sandbox"])
    lib.first_byte.argtypes = [sb.c_char_p]
    lib.get_env.restype = sb.c_char_p
    lib.write_file.argtypes = [sb.c_char_p, sb.c_char_p]
    assert lib.first_byte(b"/data/data.txt") == ord("Z")
    assert lib.get_env(b"GREETING") == b"hello"
    assert lib.write_file(b"/data/new.txt", b"x") < 0  # read-only
    assert not (tmp_path / "new.txt").exists()


def test_objects_belong_to_their_sandbox(paths):
    import wasmctypes.wasm as w

    sb = w.Sandbox()
    lib = w.CDLL(paths["threads"], sandbox=sb)
    assert lib.add(sb.c_int(40), 2) == 42
    with pytest.raises(w.ArgumentError, match="another sandbox"):
        lib.add(w.c_int(1), 2)
    with pytest.raises(TypeError, match="unexpected keyword"):
        w.Sandbox(timout=1)
    with pytest.raises(ValueError, match="duration"):
        w.Sandbox(timeout="soon")
    with pytest.raises(TypeError):
        w.Sandbox(dirs="/tmp")
    with pytest.raises(TypeError):
        w.CDLL(paths["threads"], sandbox=object())


def test_seed_and_clock(paths):
    import wasmctypes.wasm as w

    def rand_of(**options):
        sb = w.Sandbox(**options)
        libc = sb.CDLL(None)
        libc.srand(1)
        buf = sb.create_string_buffer(8)
        libc.getentropy(buf, 8)
        return buf.raw

    assert rand_of(seed=7) == rand_of(seed=7) != rand_of(seed=8)
    virtual = w.CDLL(paths["sandbox"])
    virtual.seconds_now.restype = w.c_longlong
    assert virtual.seconds_now() == 946684800  # 2000-01-01
    with pytest.raises(TypeError, match="another sandbox"):
        w.Sandbox().CDLL(paths["sandbox"]).seconds_now.restype = w.c_longlong
    sb = w.Sandbox(real_clock=True)
    real = sb.CDLL(paths["sandbox"])
    real.seconds_now.restype = sb.c_longlong
    assert abs(real.seconds_now() - time.time()) < 60


SCRIPT = """
import ctypes, sys
lib = ctypes.CDLL(sys.argv[1])
lib.spin.argtypes = [ctypes.c_uint64]
lib.spin.restype = ctypes.c_uint64
try:
    lib.spin(10**13)
except OSError as e:
    print(type(e).__name__, e.kind)
"""


def test_run_takes_the_sandbox_options(paths, tmp_path):
    script = tmp_path / "spin.py"
    script.write_text(SCRIPT)
    p = subprocess.run(
        [sys.executable, "-m", "wasmctypes", "run", "--timeout", "200ms", str(script), paths["threads"]],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert p.stdout.split() == ["SandboxError", "Timeout"], p.stderr
