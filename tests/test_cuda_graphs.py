"""CUDA graph replays of the fast paths equal the plain calls bit for bit (GPU only, except the first test)."""
import contextlib

import pytest
import torch
from test_fast_gates import assert_same_counts, extreme_inputs, random_weights

from hybrid_lstm import ConvertedWeights, SequenceClassifier, simulate_gates
from hybrid_lstm.kernels import cuda_graphs
from hybrid_lstm.nn import sequence
from hybrid_lstm.kernels.cuda_graphs import GraphedFunction, _signature
from hybrid_lstm.snn.fast_gates import FastGateSimulator
from hybrid_lstm.snn.neurons import SpikingConfig

cuda_only = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")


def scaled_sum(x, y, scale: float):
    return (x * scale + y).sum(0), x - y


def test_graphed_function_is_a_plain_call_off_the_gpu():
    graphed = GraphedFunction(scaled_sum)
    x, y = torch.rand(4, 3), torch.rand(4, 3)
    for _ in range(3):
        assert all(torch.equal(a, b) for a, b in zip(graphed(x, y, 2.0), scaled_sum(x, y, 2.0)))
    assert not graphed.graphs


class RecomputingGraph:
    """Stands in for a CUDA graph on the CPU: replay() runs the function on the static arguments
    and writes the results into the static outputs."""

    def __init__(self, fn, static_args, static_outputs):
        self.fn, self.static_args, self.static_outputs = fn, static_args, static_outputs

    def replay(self):
        for static, value in zip(self.static_outputs, self.fn(*self.static_args)):
            static.copy_(value)


def test_graph_bookkeeping_captures_at_the_third_call_and_keeps_the_recent_signatures(monkeypatch):
    """The cache's logic on the CPU, with the capture replaced by RecomputingGraph."""
    captures = []

    def capture(self, args):
        static_args = tuple(a.clone() if isinstance(a, torch.Tensor) else a for a in args)
        static_outputs = tuple(output.clone() for output in self.fn(*static_args))
        captures.append(_signature(args))
        return RecomputingGraph(self.fn, static_args, static_outputs), static_args, static_outputs

    monkeypatch.setattr(cuda_graphs, "_graphs_apply", lambda tensors: bool(tensors))
    monkeypatch.setattr(GraphedFunction, "_capture", capture)
    monkeypatch.setattr(cuda_graphs, "GRAPHS_PER_FUNCTION", 2)
    graphed = GraphedFunction(scaled_sum)
    for rows, scale in [(4, 2.0)] * 5 + [(5, 2.0)] * 2 + [(4, 3.0)] * 3 + [(6, 2.0)] * 3 + [(4, 2.0)] * 3:
        x, y = torch.rand(rows, 3), torch.rand(rows, 3)
        outputs = graphed(x, y, scale)
        assert all(torch.equal(a, b) for a, b in zip(outputs, scaled_sum(x, y, scale)))
    assert [(key[0][0][0], key[2]) for key in captures] == [(4, 2.0), (4, 3.0), (6, 2.0), (4, 2.0)]  # (4, 2.0) evicted once
    assert len(graphed.graphs) == 2


@cuda_only
def test_graphed_function_replays_new_inputs_and_keys_on_signatures():
    graphed = GraphedFunction(scaled_sum)
    for shape, scale in [((4, 3), 2.0)] * 4 + [((5, 3), 2.0), ((4, 3), 3.0)] * 3 + [((6, 3), 2.0)] * 2:
        x, y = torch.rand(shape, device="cuda"), torch.rand(shape, device="cuda")
        outputs = graphed(x, y, scale)
        assert all(torch.equal(a, b) for a, b in zip(outputs, scaled_sum(x, y, scale)))
    captured = [entry for entry in graphed.graphs.values() if not isinstance(entry, int)]
    assert len(graphed.graphs) == 4 and len(captured) == 3  # (6, 3) came twice: not captured


@cuda_only
@pytest.mark.parametrize("cell_class", ["BaselineLSTMCell", "ModifiedLSTMCell"])
def test_fused_layer_graph_replays_equal_plain_calls(cell_class, monkeypatch):
    """Loss and every gradient, over batches of two sizes, graphed and not: bit for bit for the
    ModifiedLSTMCell, to float rounding for the BaselineLSTMCell (measured on an H200: its
    sigmoid/tanh step kernels, compiled anew for the graph's static buffers, round differently)."""
    monkeypatch.setattr(sequence, "PERSISTENT_KERNELS", False)  # the graphed step loops, not persistent_lstm
    torch.manual_seed(0)
    model = SequenceClassifier(cell_class, 3, 16, num_layers=2).cuda()
    for batch in (8, 8, 8, 5, 5, 5, 8):
        x, y = torch.rand(batch, 20, 3, device="cuda"), torch.randint(0, 10, (batch,), device="cuda")
        results = []
        for context in (cuda_graphs.eager(), contextlib.nullcontext()):
            with context:
                model.zero_grad()
                loss = torch.nn.functional.cross_entropy(model(x), y)
                loss.backward()
                results.append([loss.detach()] + [p.grad.clone() for p in model.parameters()])
        if cell_class == "ModifiedLSTMCell":
            assert all(torch.equal(a, b) for a, b in zip(*results))
        else:
            assert all(torch.allclose(a, b, rtol=1e-5, atol=1e-6) for a, b in zip(*results))


@cuda_only
@pytest.mark.parametrize("reset", ["soft", "hard"])
def test_fast_simulation_graph_replays_equal_the_reference(reset):
    weights = random_weights(28, 16, 0)
    weights = ConvertedWeights(weights.weight.cuda(), weights.bias.cuda())
    simulator = FastGateSimulator(SpikingConfig(45, reset))
    for seed, batch in enumerate([5, 5, 5, 3, 3, 3, 5]):
        u = extreme_inputs(batch, 28 + 16, seed).cuda()
        assert_same_counts(simulate_gates(u, weights, 45, reset), simulator(u, weights))
    assert sum(not isinstance(entry, int) for entry in simulator._graphed_simulation.graphs.values()) == 2


@cuda_only
def test_a_function_that_cannot_be_captured_is_an_error_naming_the_way_out():
    """Last in this file: the failed capture leaves CUDA's random generator unusable."""
    def synchronising(x):
        return x * float(x.sum())  # .item(): a host-device synchronisation

    graphed = GraphedFunction(synchronising)
    x = torch.rand(8, device="cuda")
    graphed(x), graphed(x)
    with pytest.raises(RuntimeError, match="CUDA graph capture failed for synchronising.*eager"):
        graphed(x)
