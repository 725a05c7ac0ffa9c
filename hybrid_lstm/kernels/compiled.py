"""torch.compile for the small element-wise kernels of the fast paths, with an eager fallback.

The fast paths call a few element-wise functions many times per LSTM step; compiled,
each call is one fused loop instead of a dozen tensor operations. Where compilation is
impossible (no C++ compiler, an unsupported platform) the same Python function runs
eagerly, after one warning: results are identical, only slower. Setting
TORCHDYNAMO_DISABLE=1 (a torch setting) forces the eager path.

torch's on-disk kernel cache is not keyed on ATEN_CPU_CAPABILITY: a kernel compiled under
one value and loaded under another gave wrong spike counts here (torch 2.14.1). So when
that variable is set (and TORCHINDUCTOR_CACHE_DIR is unset or torch's default), each value
gets its own cache.
"""
import getpass
import os
import tempfile
import warnings

import importlib

import torch

# torch's compilation errors live in a private module whose names change between releases:
# take those this torch has (RuntimeError, their common base, if the module or all of them moved)
_ERROR_NAMES = ("BackendCompilerFailed", "TritonUnavailableError", "InductorError")
try:
    _dynamo_errors = importlib.import_module("torch._dynamo.exc")
except ImportError:
    _dynamo_errors = None
COMPILATION_ERRORS = tuple(getattr(_dynamo_errors, name) for name in _ERROR_NAMES
                           if hasattr(_dynamo_errors, name)) or (RuntimeError,)


def separate_cache_per_cpu_capability(environment=os.environ):
    """Point TORCHINDUCTOR_CACHE_DIR at a cache of this ATEN_CPU_CAPABILITY value's own
    (torch sets the variable to its default on importing torch._dynamo, and reads it anew
    whenever it compiles)."""
    capability = environment.get("ATEN_CPU_CAPABILITY")
    default = os.path.join(tempfile.gettempdir(), f"torchinductor_{getpass.getuser()}")
    if capability and environment.get("TORCHINDUCTOR_CACHE_DIR", default) == default:
        environment["TORCHINDUCTOR_CACHE_DIR"] = f"{default}_{capability.lower()}"


separate_cache_per_cpu_capability()


class CompiledOrEager:
    """Call fn through torch.compile(fn, dynamic=True); on a compilation failure, warn once
    and call fn itself from then on."""

    def __init__(self, fn):
        self.fn = fn
        self.compiled = torch.compile(fn, dynamic=True)
        self.failed = False

    def __call__(self, *args):
        if not self.failed:
            try:
                return self.compiled(*args)
            except COMPILATION_ERRORS as error:
                self.failed = True
                warnings.warn(f"torch.compile unavailable for {self.fn.__name__} ({type(error).__name__}: "
                              f"{str(error).splitlines()[0] if str(error) else ''}); running it eagerly")
        return self.fn(*args)
