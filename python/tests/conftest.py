import os
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


@pytest.fixture(scope="session")
def built(tmp_path_factory):
    """guest-c/NAME.c built for both backends, in one directory: NAME.wasm, libNAME.so."""
    out = tmp_path_factory.mktemp("guest")
    exe = os.path.join(ROOT, "target", "debug", "wasmctypes")
    names = ["greeting", "sum", "upper", "dupstr", "testlib", "threads", "prototypes"]
    subprocess.run(
        [exe, "build", "--out", str(out)] + [os.path.join(ROOT, "guest-c", n + ".c") for n in names],
        check=True,
    )
    return out


@pytest.fixture(params=["wasm", "native"])
def ct(request):
    """The wasmctypes namespace of each backend."""
    import importlib

    return importlib.import_module("wasmctypes." + request.param)
