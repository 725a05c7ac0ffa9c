"""CUDA graphs for the fast paths' step loops: one launch per call instead of hundreds.

On a GPU, the fused LSTM layer (sequence.py) and the fast hybrid simulation (fast_gates.py)
are long chains of small kernels, each launched from Python, the compiled ones through
torch.compile's guards. At batch 128 the launches, not the arithmetic, set their time.
GraphedFunction records such a chain once per call signature into a torch.cuda.CUDAGraph
and replays it:

    signature = (shape, stride, dtype, device) of each tensor argument, the other arguments as they are
    calls 1 and 2 of a signature: fn runs as it is (the first compiles its kernels, warms cuBLAS);
    call 3: fn runs once more on a side stream, then is captured on static copies of the arguments;
    every call from 3 on: copy the arguments into the static copies, replay, clone the outputs out.

A capture costs about two plain calls, so a signature that comes only once or twice (a beam
search's batch as its sentences finish) is never captured; a training loop's is, at its third call.

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
CAPTURE_AT_CALL = 3  # the call of a signature that captures its graph
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


def _graphs_apply(tensors: list) -> bool:
    """Graphs for a call on these tensors: on CUDA, outside eager() and outside another capture."""
    return bool(not _eager_depth and tensors and tensors[0].device.type == "cuda"
                and not torch.cuda.is_current_stream_capturing())


def _signature(args) -> tuple:
    return tuple((tuple(a.shape), a.stride(), a.dtype, a.device) if isinstance(a, torch.Tensor) else a for a in args)


class GraphedFunction:
    """fn(*args), replayed from a CUDA graph from the third call of a signature on (module doc)."""

    def __init__(self, fn):
        self.fn = fn
        self.graphs = OrderedDict()  # signature -> (graph, static arguments, static outputs), or its calls so far

    def __call__(self, *args):
        if not _graphs_apply([a for a in args if isinstance(a, torch.Tensor)]):
            return self.fn(*args)
        key = _signature(args)
        entry = self.graphs.get(key, 0)
        if isinstance(entry, int) and entry + 1 < CAPTURE_AT_CALL:
            self.graphs[key] = entry + 1
            self.graphs.move_to_end(key)
            self._evict()
            return self.fn(*args)
        if isinstance(entry, int):
            try:
                self.graphs[key] = self._capture(args)
            except RuntimeError as error:  # the failed capture can leave CUDA's random generator unusable
                raise RuntimeError(f"CUDA graph capture failed for {self.fn.__name__}: {str(error).splitlines()[0]}; "
                                   "call it inside hybrid_lstm.kernels.cuda_graphs.eager() to run without graphs") from error
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
