import pytest
import torch
from conftest import random_cell

from hybrid_lstm import (
    convert_weights,
    HybridLSTMCell, SequenceClassifier, convert_cell, pl1, pl2, simulate_gates,
)

DEVICES = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])


def gate_errors(n_timestep):
    """Mean |rate - PL(z)| per gate for random u in [-1, 1]."""
    cell = random_cell()
    u = torch.rand(32, 28 + 64, generator=torch.Generator().manual_seed(1)) * 2 - 1
    z = u[:, :28] @ cell.weight_ih.t() + u[:, 28:] @ cell.weight_hh.t() + cell.bias
    expected = dict(zip("ifgo", (pl1(z[:, :64]), pl1(z[:, 64:128]), pl2(z[:, 128:192]), pl1(z[:, 192:]))))
    counts = simulate_gates(u, convert_cell(cell), n_timestep)
    return {gate: (getattr(counts, gate).float() / n_timestep - expected[gate]).abs().mean().item() for gate in "ifgo"}


def test_gate_rates_approach_piecewise_linear_functions():
    coarse, fine = gate_errors(16), gate_errors(128)
    for gate in "ifgo":
        assert fine[gate] < 0.01, (gate, fine)
        assert coarse[gate] > 3 * fine[gate], (gate, coarse, fine)


def test_hybrid_classifier_approaches_ann_as_t_grows():
    torch.manual_seed(3)
    model = SequenceClassifier("ModifiedLSTMCell", 28, 64, num_layers=2, dropout=0.5).eval()
    x = torch.rand(16, 28, 28) * 1.15 - 0.15
    with torch.no_grad():
        ann = model(x)
        errors = [(model.to_hybrid(t)(x) - ann).abs().mean().item() for t in (16, 64, 256)]
    assert errors[0] > 2 * errors[1] > 4 * errors[2], errors
    assert errors[2] < 0.005


def test_hybrid_classifier_clamps_the_cell_state_like_the_ann():
    """c is clamped to [-1, 1] after every LSTM step in the hybrid too (docs/method.md, "Sequential MNIST")."""
    torch.manual_seed(4)
    model = SequenceClassifier("ModifiedLSTMCell", 28, 64).eval()
    with torch.no_grad():
        model.cells[0].bias.fill_(1.0)  # i, f near 1 and g > 0: c would grow past 1 unclamped
    x = torch.rand(8, 28, 28)
    hybrid = model.to_hybrid(32)
    cell = hybrid.cells[0]
    h, c = torch.zeros(8, 64), torch.zeros(8, 64)
    unclamped_max = 0.0
    with torch.no_grad():
        for t in range(28):
            h, c = cell(x[:, t], (h, c))
            unclamped_max = max(unclamped_max, c.abs().max().item())
            c = c.clamp(-1, 1)
        assert unclamped_max > 1.2
        torch.testing.assert_close(hybrid(x), hybrid.classifier(h), rtol=0, atol=0)


def test_analog_part_uses_average_rates():
    cell = random_cell(5, 6)
    hybrid = HybridLSTMCell.from_cell(cell, 32)
    x, h, c = torch.rand(3, 5), torch.rand(3, 6) * 2 - 1, torch.rand(3, 6) * 2 - 1
    counts = simulate_gates(torch.cat([x, h], 1), convert_cell(cell), 32)
    i, f, g, o = (getattr(counts, gate).float() / 32 for gate in "ifgo")
    c_expected = f * c + i * g
    h_new, c_new = hybrid(x, (h, c))
    torch.testing.assert_close(c_new, c_expected)
    torch.testing.assert_close(h_new, o * torch.clamp(c_expected / 2, -1, 1))


@pytest.mark.parametrize("simulation", ["reference", "fast"])
def test_potentials_restart_at_every_lstm_step(simulation):
    """The second LSTM step of a cell equals a fresh cell's first step from the same (x, h, c):
    no membrane potential is carried from one LSTM step to the next; only h and c are."""
    cell = random_cell(5, 6)
    x1, x2 = torch.rand(2, 4, 5).unbind(0)
    state = (torch.zeros(4, 6), torch.zeros(4, 6))
    hybrid = HybridLSTMCell.from_cell(cell, 8, simulation=simulation)
    middle = hybrid(x1, state)
    first_counts = hybrid.spike_record.totals()
    second = hybrid(x2, middle)
    fresh = HybridLSTMCell.from_cell(cell, 8, simulation=simulation)
    expected = fresh(x2, middle)
    assert all(torch.equal(a, b) for a, b in zip(second, expected))
    both, alone = hybrid.spike_record.totals(), fresh.spike_record.totals()
    assert {p: both[p]["spikes"] - first_counts[p]["spikes"] for p in both} == {p: alone[p]["spikes"] for p in alone}
    assert any(alone[p]["spikes"] for p in alone)


@pytest.mark.parametrize("reset", ["soft", "hard"])
def test_batch_of_one_equals_row_of_a_batch(reset):
    cell = random_cell(7, 9)
    hybrid = HybridLSTMCell.from_cell(cell, 24, reset)
    x, h, c = torch.rand(4, 7), torch.rand(4, 9) * 2 - 1, torch.zeros(4, 9)
    batch = hybrid(x, (h, c))
    for row in range(4):
        single = hybrid(x[row:row + 1], (h[row:row + 1], c[row:row + 1]))
        assert all(torch.equal(s[0], b[row]) for s, b in zip(single, batch))


def test_spike_record_counts_every_population():
    cell = random_cell(4, 3)
    hybrid = HybridLSTMCell.from_cell(cell, 10)
    x, state = torch.ones(2, 4), (torch.zeros(2, 3), torch.zeros(2, 3))
    counts = simulate_gates(torch.cat([x, state[0]], 1), convert_cell(cell), 10)
    hybrid(x, state)
    totals = hybrid.spike_record.totals()
    assert totals["encoder"] == {"spikes": int(counts.encoder.sum()), "updates": 2 * 7 * 10}
    assert totals["g"] == {"spikes": int(counts.g_spikes.sum()), "updates": 2 * 3 * 10}
    assert totals["encoder"]["spikes"] == 2 * 4 * 10  # x = 1: every input neuron fires every step
    hybrid.reset_spike_record()
    assert hybrid.spike_record.totals()["i"] == {"spikes": 0, "updates": 0}


@pytest.mark.parametrize("device", DEVICES)
def test_hybrid_runs_where_its_weights_are(device):
    """On every device, the same spikes as the reference loop on the CPU, and the same logits
    up to float rounding of the analog part."""
    torch.manual_seed(4)
    model = SequenceClassifier("ModifiedLSTMCell", 28, 16)
    x = torch.rand(3, 28, 28)
    reference = model.to_hybrid(8, simulation="reference")
    hybrid = model.to(device).to_hybrid(8)
    with torch.no_grad():
        expected, logits = reference(x), hybrid(x.to(device))
    assert logits.device.type == device and hybrid.cells[0].weight.dtype == torch.int32
    assert hybrid.spike_record().totals() == reference.spike_record().totals()
    torch.testing.assert_close(logits.cpu(), expected, rtol=1e-5, atol=1e-6)


def test_one_lstm_step_against_hand_counted_spikes():
    """Zero weights, biases b = (1, 0, 0.5, -1) for (i, f, g, o), T = 4, V0 = 1, soft reset.
    Converted biases 768, 512, 128, 256. i: V = 769, 1537 -> fires (513), 1281 -> fires (257),
    1025 -> fires: 3. f: 513, 1025 -> fires (1), 513, 1025 -> fires: 2. g: 129, 257, 385, 513 ->
    fires: +1. o: 257, 513, 769, 1025 -> fires: 1. Encoder of x = 0.5 (q = 1024): 1025, 2049 ->
    fires (1), 1025, 2049 -> fires: 2; h = 0: none. Rates 3/4, 2/4, 1/4, 1/4 = PL1(1), PL1(0),
    PL2(0.5), PL1(-1); c = 1/2 * 0 + 3/4 * 1/4 = 0.1875; h = 1/4 * clamp(0.1875 / 2) = 0.0234375."""
    weights = convert_weights(torch.zeros(4, 1), torch.zeros(4, 1), torch.tensor([1.0, 0.0, 0.5, -1.0]))
    assert weights.bias.tolist() == [768, 512, 128, 256]
    for simulation in ("reference", "fast"):
        cell = HybridLSTMCell(weights, 1, 4, simulation=simulation)
        h, c = cell(torch.tensor([[0.5]]), (torch.zeros(1, 1), torch.zeros(1, 1)))
        assert (h.item(), c.item()) == (0.0234375, 0.1875)
        totals = cell.spike_record.totals()
        assert {p: totals[p]["spikes"] for p in totals} == {"encoder": 2, "i": 3, "f": 2, "g": 1, "o": 1}


def test_bad_arguments():
    cell = random_cell(4, 3)
    with pytest.raises(ValueError, match="n_timestep"):
        HybridLSTMCell.from_cell(cell, 0)
    with pytest.raises(ValueError, match="reset"):
        HybridLSTMCell.from_cell(cell, 8, reset="sideways")
    with pytest.raises(ValueError, match="do not fit input_size 5"):
        HybridLSTMCell(convert_cell(cell), input_size=5, n_timestep=8)
    with pytest.raises(TypeError, match="only a ModifiedLSTMCell"):
        SequenceClassifier("BaselineLSTMCell", 28, 8).to_hybrid(8)
