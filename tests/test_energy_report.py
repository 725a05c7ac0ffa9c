"""loihi_sim.estimate: the energy report of a converted model, against the emulator's own figures."""
import pytest
import torch
from torch import nn

from conftest import REPO
from hybrid_lstm.runs.data import load_sequences
from hybrid_lstm.nn import LSTM, convert, spike_record
from hybrid_lstm.runs.run_folder import RunFolder
from loihi_sim import estimate
from loihi_sim.emulator import EmulatedHybridCell, EventCounts
from loihi_sim.energy import loihi_cost
from loihi_sim.hardware import PRESETS, CoreLimits
from loihi_sim.report import main as report_main

ROWWISE = REPO / "runs/seqmnist/rowwise-ModifiedLSTMCell-seed0"


@pytest.mark.parametrize("n_timestep, potential", [(8, "half"), (16, "one")])
def test_the_estimate_equals_the_emulator_on_the_committed_rowwise_model(mnist_root, n_timestep, potential):
    checkpoint = RunFolder(ROWWISE).load_best()
    model = checkpoint.classifier().eval()
    inputs, _ = load_sequences(mnist_root, checkpoint.config, False, 10)
    hybrid = convert(model, n_timestep, initial_potential=potential)
    report = estimate(hybrid, inputs, reset="soft-feedback", cpu_repeats=1)

    # the chip-realisable soft reset with the delay compensated: the emulator's spike counts are the simulation's
    chip = model.with_cells(lambda cell: EmulatedHybridCell(cell, n_timestep, "soft-feedback", 1, "count", CoreLimits(),
                                                            PRESETS["davies2018"], potential, True))
    with torch.no_grad():
        chip(inputs)
    events = EventCounts()
    for cell in chip.cells:
        events.merge(cell.emulator.events)
    events.host_flops += len(inputs) * 2 * model.classifier.in_features * model.classifier.out_features
    emulated = loihi_cost(events, len(inputs), PRESETS["davies2018"], tiles=1, chips=1)

    assert report.cores == sum(len(cell.allocation.cores) for cell in chip.cells)
    assert spike_record(hybrid).totals() == chip.cells[0].spike_record.totals()
    assert report.loihi["active_j"] == pytest.approx(emulated.active_j, rel=1e-3)
    assert report.loihi["static_j"] == pytest.approx(emulated.static_j, rel=2e-2)
    assert report.loihi["latency_s"] == pytest.approx(emulated.latency_s, rel=2e-2)
    assert report.events["host_flops"] == events.host_flops / len(inputs)
    assert report.ann_flops > 2 * 4 * 128 * (28 + 128) * 28 and report.cpu["latency_s"] > 0
    assert report.energy_ratio_cpu_over_loihi == pytest.approx(report.cpu["active_j"] / report.loihi["active_j"])


class Tagger(nn.Module):
    def __init__(self):
        super().__init__()
        self.lstm = LSTM(6, 16, 2, batch_first=True, cell_state_limit=1.0)
        self.head = nn.Linear(16, 3)

    def forward(self, x):
        return self.head(self.lstm(x)[0][:, -1])


def test_a_users_model_gets_a_report_with_every_layer():
    torch.manual_seed(0)
    report = estimate(convert(Tagger(), 8), torch.rand(4, 5, 6), cpu_repeats=1)
    assert [(layer.input_size, layer.hidden_size) for layer in report.layers] == [(6, 16), (16, 16)]
    assert report.cores >= 2 and report.loihi["active_j"] > 0 and 0 < report.mean_rate < 1
    assert "CPU / Loihi active energy" in report.table()
    assert set(report.layers[0].rates) == {"encoder", "i", "f", "g", "o"}


def test_an_unconverted_model_or_an_unknown_reset_is_refused():
    with pytest.raises(ValueError, match="convert it first"):
        estimate(Tagger(), torch.rand(2, 5, 6))
    with pytest.raises(ValueError, match="reset must be one of"):
        estimate(convert(Tagger(), 8), torch.rand(2, 5, 6), reset="hard")


def test_the_command_prints_the_report_and_refuses_a_sigmoid_cell(capsys, mnist_root):
    assert report_main(["--checkpoint-dir", str(ROWWISE), "--data-dir", str(mnist_root), "--test-subset", "3",
                        "--n-timestep", "8", "--threads", "1"]) == 0
    assert "CPU / Loihi active energy" in capsys.readouterr().out
    baseline = REPO / "runs/seqmnist/rowwise-BaselineLSTMCell-seed0"
    assert report_main(["--checkpoint-dir", str(baseline), "--data-dir", str(mnist_root)]) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and "only a ModifiedLSTMCell converts" in err


class Wide(nn.Module):
    def __init__(self, hidden_size: int):
        super().__init__()
        self.lstm = LSTM(28, hidden_size, batch_first=True, cell_state_limit=1.0)

    def forward(self, x):
        return self.lstm(x)[0][:, -1]


def test_a_layer_beyond_a_cores_input_axons_is_estimated_with_its_fanin_split():
    """2 (D + H) = 4152 encoder axons for H = 2048: two groups, each gate compartment relaying from one dendrite
    per group every chip step (T + 1 for the compensated delay, + 1 for the relay); the emulator refuses it."""
    from loihi_sim.mapping import LayerShape, MappingError, allocate

    torch.manual_seed(0)
    hybrid = convert(Wide(2048), 4, simulation="reference")  # batch 1: no fast kernels to choose
    steps, t = 3, 4
    report = estimate(hybrid, torch.rand(1, steps, 28), cpu_repeats=1)
    allocation = allocate(LayerShape(28, 2048), CoreLimits(), "soft-feedback", split_fanin=True)
    assert allocation.groups == 2 and report.layers[0].cores == report.cores == len(allocation.cores)
    relays = 2 * 5 * 2048 * (t + 2) * steps
    assert report.events["time_steps"] == (t + 2) * steps and report.events["spike_messages"] > relays
    assert report.events["synaptic_ops"] >= relays and report.loihi["active_j"] > 0
    with pytest.raises(MappingError, match="input axons"):  # what the emulator maps with: no split
        allocate(LayerShape(28, 2048), CoreLimits(), "soft-feedback")
