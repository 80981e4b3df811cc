"""ctypes' namespace with every object in this process's default wasm sandbox.

`sizeof(c_long) == 4`, as in wasm32; addresses are guest addresses, and every access through
one (`from_address`, `string_at`, `memmove`, `cast`) is bounds-checked in the sandbox.
"""

import sys

from ._model import namespace

sys.modules[__name__].__dict__.update(
    {k: v for k, v in vars(namespace("wasm")).items() if not k.startswith("__") or k == "__all__"}
)
