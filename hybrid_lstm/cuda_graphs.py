"""CUDA graphs for the fast paths' step loops: one launch per call instead of hundreds.

On a GPU, the fused LSTM layer (sequence.py) and the fast hybrid simulation (fast_gates.py)
are long chains of small kernels, each launched from Python, the compiled ones through
torch.compile's guards. At batch 128 the launches, not the arithmetic, set their time.
GraphedFunction records such a chain once per call signature into a torch.cuda.CUDAGraph
and replays it:

    signature = (shape, stride, dtype, device) of each tensor argument, the other arguments as they are
    call 1 of a signature: fn runs as it is (it compiles its kernels, warms cuBLAS);
    call 2: fn runs once more on a side stream, then is captured on static copies of the arguments;
    every call from 2 on: copy the arguments into the static copies, replay, clone the outputs out.

fn must return a tensor or a tuple of tensors, read no tensor other than its arguments and
what the non-tensor arguments hold (those are kept alive by the graph's cache entry), and
make no host-device synchronisation. A replay runs the captured kernels on the same data, so it
equals the call it replaces bit for bit (tests/test_cuda_graphs.py, on CUDA). On the CPU,
inside another capture and while `eager()` is active, fn simply runs. A failed capture is
an error (it can leave CUDA's random number generator unusable for the rest of the process).
"""
import contextlib
from collections import OrderedDict

import torch

GRAPHS_PER_FUNCTION = 8  # signatures kept per GraphedFunction (least recently used goes first)
_eager_depth = 0


@contextlib.contextmanager
def eager():
    """Run every GraphedFunction as plain calls inside this block (for comparisons)."""
    global _eager_depth
    _eager_depth += 1
    try:
        yield
    finally:
        _eager_depth -= 1


def _signature(args) -> tuple:
    return tuple((tuple(a.shape), a.stride(), a.dtype, a.device) if isinstance(a, torch.Tensor) else a for a in args)


class GraphedFunction:
    """fn(*args), replayed from a CUDA graph from the second call of a signature on (module doc)."""

    def __init__(self, fn):
        self.fn = fn
        self.graphs = OrderedDict()  # signature -> (graph, static arguments, static outputs); None: seen once

    def __call__(self, *args):
        tensors = [a for a in args if isinstance(a, torch.Tensor)]
        if (_eager_depth or not tensors or tensors[0].device.type != "cuda"
                or torch.cuda.is_current_stream_capturing()):
            return self.fn(*args)
        key = _signature(args)
        if key not in self.graphs:
            self.graphs[key] = None
            self._evict()
            return self.fn(*args)
        if self.graphs[key] is None:
            try:
                self.graphs[key] = self._capture(args)
            except RuntimeError as error:  # the failed capture can leave CUDA's random generator unusable
                raise RuntimeError(f"CUDA graph capture failed for {self.fn.__name__}: {str(error).splitlines()[0]}; "
                                   "call it inside hybrid_lstm.cuda_graphs.eager() to run without graphs") from error
        self.graphs.move_to_end(key)
        graph, static_args, static_outputs = self.graphs[key]
        for static, arg in zip(static_args, args):
            if isinstance(static, torch.Tensor):
                static.copy_(arg)
        graph.replay()
        outputs = tuple(output.clone() for output in static_outputs)
        return outputs[0] if isinstance(static_outputs, _Single) else outputs

    def _evict(self):
        while len(self.graphs) > GRAPHS_PER_FUNCTION:
            self.graphs.popitem(last=False)

    def _capture(self, args):
        static_args = tuple(a.clone() if isinstance(a, torch.Tensor) else a for a in args)
        side = torch.cuda.Stream()
        side.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(side):
            self.fn(*static_args)
        torch.cuda.current_stream().wait_stream(side)
        graph = torch.cuda.CUDAGraph()
        with torch.cuda.graph(graph, capture_error_mode="thread_local"):
            outputs = self.fn(*static_args)
        static_outputs = _Single((outputs,)) if isinstance(outputs, torch.Tensor) else tuple(outputs)
        return graph, static_args, static_outputs


class _Single(tuple):
    """The outputs of a function that returns one tensor."""
