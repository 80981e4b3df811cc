"""ctypes' namespace on the native backend: host memory, dlopen, real pointers."""

import sys

from ._model import namespace

sys.modules[__name__].__dict__.update(
    {k: v for k, v in vars(namespace("native")).items() if not k.startswith("__") or k == "__all__"}
)
