"""`ctypes.util.find_library`: `c` is the C library (the sandbox's libc in wasm)."""

import os


def find_library(name):
    if name in ("c", "libc"):
        return "libc.so.6"
    for d in (os.getcwd(),):
        for cand in ("lib%s.so" % name, "%s.wasm" % name, "lib%s.c" % name, "%s.c" % name):
            if os.path.isfile(os.path.join(d, cand)):
                return os.path.join(d, cand)
    return None
