"""torch.compile for the small element-wise kernels of the fast paths, with an eager fallback.

The fast paths call a few element-wise functions many times per LSTM step; compiled,
each call is one fused loop instead of a dozen tensor operations. Where compilation is
impossible (no C++ compiler, an unsupported platform) the same Python function runs
eagerly, after one warning: results are identical, only slower. Setting
TORCHDYNAMO_DISABLE=1 (a torch setting) forces the eager path.
"""
import warnings

import torch
import torch._dynamo.exc

# torch's compilation errors live in a private module whose names change between releases:
# take those this torch has (RuntimeError, their common base, if it has none of them)
_ERROR_NAMES = ("BackendCompilerFailed", "TritonUnavailableError", "InductorError")
COMPILATION_ERRORS = tuple(getattr(torch._dynamo.exc, name) for name in _ERROR_NAMES
                           if hasattr(torch._dynamo.exc, name)) or (RuntimeError,)


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
