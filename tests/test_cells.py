import pytest
import torch

from hybrid_lstm import BaselineLSTMCell, ModifiedLSTMCell
from hybrid_lstm.nn.functional import gate_blocks


@pytest.mark.parametrize("cell_class", [BaselineLSTMCell, ModifiedLSTMCell])
def test_initialisation(cell_class):
    torch.manual_seed(0)
    cell = cell_class(28, 16)
    assert cell.weight_ih.shape == (64, 28) and cell.weight_hh.shape == (64, 16) and cell.bias.shape == (64,)
    for weight in (cell.weight_ih, cell.weight_hh):
        for block in gate_blocks(weight).values():  # each (16, n) block is orthogonal on its own
            small = min(block.shape)
            gram = block @ block.t() if block.shape[0] == small else block.t() @ block
            torch.testing.assert_close(gram, torch.eye(small), atol=1e-5, rtol=0)
    bias = gate_blocks(cell.bias.detach())
    assert torch.all(bias["f"] == 1) and all(torch.all(bias[g] == 0) for g in "igo")


def reference_step(cell, x, h, c, sigmoid, tanh):
    z = x @ cell.weight_ih.t() + h @ cell.weight_hh.t() + cell.bias
    H = cell.hidden_size
    i, f, g, o = sigmoid(z[:, :H]), sigmoid(z[:, H:2 * H]), tanh(z[:, 2 * H:3 * H]), sigmoid(z[:, 3 * H:])
    c = f * c + i * g
    return o * tanh(c), c


@pytest.mark.parametrize("cell_class, sigmoid, tanh", [
    (BaselineLSTMCell, torch.sigmoid, torch.tanh),
    (ModifiedLSTMCell, lambda z: torch.clamp((z + 2) / 4, 0, 1), lambda z: torch.clamp(z / 2, -1, 1)),
])
def test_cell_equations(cell_class, sigmoid, tanh):
    torch.manual_seed(1)
    cell = cell_class(5, 7)
    with torch.no_grad():
        cell.bias.uniform_(-1, 1)
    x, h, c = torch.randn(3, 5), torch.rand(3, 7) * 2 - 1, torch.rand(3, 7) * 2 - 1
    expected = reference_step(cell, x, h, c, sigmoid, tanh)
    for got, want in zip(cell(x, (h, c)), expected):
        torch.testing.assert_close(got, want)


def test_baseline_cell_matches_torch_lstm_cell():
    """BaselineLSTMCell computes what torch.nn.LSTMCell computes with the same weights."""
    torch.manual_seed(2)
    ours = BaselineLSTMCell(4, 6)
    theirs = torch.nn.LSTMCell(4, 6)
    with torch.no_grad():
        theirs.weight_ih.copy_(ours.weight_ih)
        theirs.weight_hh.copy_(ours.weight_hh)
        theirs.bias_ih.copy_(ours.bias)
        theirs.bias_hh.zero_()
    x, state = torch.randn(2, 4), (torch.randn(2, 6), torch.randn(2, 6))
    for got, want in zip(ours(x, state), theirs(x, state)):
        torch.testing.assert_close(got, want)


def test_bad_sizes():
    with pytest.raises(ValueError):
        ModifiedLSTMCell(0, 4)
