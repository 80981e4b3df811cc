"""ctypes' namespace with every object in this process's default wasm sandbox.

`sizeof(c_long) == 4`, as in wasm32; addresses are guest addresses, and every access through
one (`from_address`, `string_at`, `memmove`, `cast`) is bounds-checked in the sandbox.

The default sandbox has the defaults of the CLI (a 30 s deadline per call, 256 MiB of memory,
no directory, no environment, virtual clocks, seed 0), or what `python -m wasmctypes run`
was told (`--timeout`, `--fuel`, ...). `Sandbox(...)` makes another, with limits and grants of
its own.
"""

import os
import sys

from ._model import namespace

def _options():
    """What `python -m wasmctypes run` gave the default sandbox (limits and grants), if
    anything, from the environment."""
    text = os.environ.get("WASMCTYPES_SANDBOX")
    if not text:
        return {}
    import json  # only then: json costs an import of `re`

    return json.loads(text)


_OPTIONS = _options()


class Sandbox(type(sys)):
    """A sandbox of its own: a ctypes namespace (`sb.CDLL`, `sb.c_int`, `sb.create_string_buffer`,
    ...) whose every object lives in a new wasm sandbox with these limits and grants:

    - `timeout`: a deadline per call, in seconds (or a duration such as `"500ms"`), `None` for
      none; 30 s unless given. It counts the guest's time: time spent in Python callbacks is
      not the guest's, and a call made from a callback shares what is left of its caller's.
    - `fuel`: a fuel budget per call (deterministic: the same call stops at the same place).
    - `max_memory`: the most linear memory, in bytes or as `"64MiB"` (256 MiB unless given).
    - `dirs`: host directories the guest may open, as `"HOST[::GUEST][:ro]"` strings.
    - `env`: environment variables the guest sees (a dict, or `"K=V"` strings).
    - `seed`: the seed of the guest's deterministic random stream (0 unless given).
    - `real_clock`, `real_random`: the host's clocks and randomness instead of the virtual ones.

    `CDLL(name, sandbox=sb)` of the default namespace is `sb.CDLL(name)`. Objects belong to
    their sandbox: one made with another sandbox's types is an ArgumentError in a call."""

    def __init__(self, **options):
        super().__init__("wasmctypes.wasm.Sandbox")
        namespace("wasm", options, into=self)

    def __repr__(self):
        return "<wasmctypes.wasm.Sandbox at %#x>" % id(self)


sys.modules[__name__].__dict__.update(
    {k: v for k, v in vars(namespace("wasm", _OPTIONS)).items() if not k.startswith("__") or k == "__all__"}
)
__all__ = list(__all__) + ["Sandbox"]  # noqa: F821 (from the namespace)
