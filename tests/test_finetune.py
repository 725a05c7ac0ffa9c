"""Conversion-aware fine-tuning: the hybrid's forward, the ANN's gradient."""
import json

import pytest
import torch
from conftest import SMALL, run_cli

from hybrid_lstm import HybridLSTMCell, ModifiedLSTMCell, convert_cell, simulate_gates
from hybrid_lstm.nn.functional import GATES, gate_blocks, pl1, pl2
from hybrid_lstm.nn.sequence import stepped_layer
from hybrid_lstm.runs.run_folder import RunFolder, file_sha256
from hybrid_lstm.snn.finetune import ConversionAwareCell
from hybrid_lstm.snn.neurons import SpikingConfig


@pytest.mark.parametrize("initial_potential", ["one", "half", "encoder=half,f=half"])
@pytest.mark.parametrize("reset", ["soft", "hard"])
def test_finetuning_forward_is_the_hybrid_bit_for_bit(reset, initial_potential):
    torch.manual_seed(0)
    cell = ModifiedLSTMCell(3, 8)
    x, state = torch.rand(4, 12, 3), cell.init_state(4)
    tuned = ConversionAwareCell(cell, SpikingConfig(8, reset, initial_potential))
    hybrid = HybridLSTMCell.from_cell(cell, 8, reset, initial_potential=initial_potential)
    (outputs, (h, c)), (expected, (h_hybrid, c_hybrid)) = (stepped_layer(layer, x, state, 1.0)
                                                            for layer in (tuned, hybrid))
    assert torch.equal(outputs, expected) and torch.equal(h, h_hybrid) and torch.equal(c, c_hybrid)


def exact_rate_cell() -> ModifiedLSTMCell:
    """Weights and biases in {-1/2, 0, 1/2}: with inputs in {-1, 0, 1}, every encoder fires at every
    step or never, each gate neuron integrates 256 z (+ 512) per step with z a multiple of 1/2, and
    at T = 8 its count over T is PL1(z) or PL2(z) exactly (saturated beyond |z| = 2)."""
    cell = ModifiedLSTMCell(3, 4)
    generator = torch.Generator().manual_seed(3)
    with torch.no_grad():
        for parameter in cell.parameters():
            parameter.copy_((torch.randint(-1, 2, parameter.shape, generator=generator) * 0.5).to(parameter.dtype))
    return cell


def test_straight_through_gradient_is_the_anns_where_the_rates_are_exact():
    cell = exact_rate_cell()
    generator = torch.Generator().manual_seed(4)
    x = torch.randint(0, 2, (6, 3), generator=generator).float().requires_grad_()
    h0 = torch.randint(-1, 2, (6, 4), generator=generator).float().requires_grad_()
    c0 = (torch.rand(6, 4, generator=generator) * 2 - 1).requires_grad_()
    weights = torch.rand(2, 6, 4, generator=generator)

    # the premise: the spike counts are the ANN's rates exactly
    z = gate_blocks(x @ cell.weight_ih.t() + h0 @ cell.weight_hh.t() + cell.bias, dim=1)
    counts = simulate_gates(torch.cat([x, h0], 1).detach(), convert_cell(cell), 8)
    for gate in GATES:
        analog = (pl2 if gate == "g" else pl1)(z[gate]).detach()
        assert torch.equal(getattr(counts, gate).float() / 8, analog), gate

    gradients = []
    for layer in (cell, ConversionAwareCell(cell, SpikingConfig(8))):
        h, c = layer(x, (h0, c0))
        tensors = (x, h0, c0, *cell.parameters())
        gradients.append(torch.autograd.grad((h * weights[0]).sum() + (c * weights[1]).sum(), tensors))
    assert any(g.abs().sum() > 0 for g in gradients[0][3:])
    for ann, tuned in zip(*gradients):
        assert torch.equal(ann, tuned)


def test_the_cell_shares_the_modified_cells_parameters_and_names():
    cell = ModifiedLSTMCell(3, 4)
    tuned = ConversionAwareCell(cell, SpikingConfig(4))
    assert tuned.state_dict().keys() == cell.state_dict().keys() and tuned.weight_ih is cell.weight_ih
    with torch.no_grad():
        cell.bias.add_(0.25)  # an optimizer step in place: the next forward converts the new weights
    assert torch.equal(tuned.converted().bias, convert_cell(cell).bias)
    with pytest.raises(TypeError, match="only a ModifiedLSTMCell"):
        ConversionAwareCell(torch.nn.LSTMCell(3, 4), SpikingConfig(4))


def test_finetuning_run_starts_from_its_parent_resumes_and_tests_as_its_hybrid(trained, tmp_path, mnist_root, capsys):
    """run_seqmnist.py --finetune-from: the parent's weights at epoch 0, its record in the config, a
    refused resume with another T, and the test of the tuned model as its hybrid and as its ANN."""
    tuned = tmp_path / "tuned"
    common = ["--checkpoint-dir", tuned, "--data-dir", mnist_root, *SMALL, "--initial-potential", "half"]
    code, _, err = run_cli(capsys, *common, "--finetune-from", trained, "--finetune-timestep", "4", "--lr", "1e-4",
                           "--end-epoch", "1")
    assert code == 0, err
    parent = RunFolder(trained)
    last = RunFolder(tuned).load_last()
    assert last.config["finetune"] == {"parent": str(parent.best), "parent_sha256": file_sha256(parent.best),
                                       "n_timestep": 4, "reset": "soft", "initial_potential": "half"}
    assert last.config["hidden_size"] == parent.load_best().config["hidden_size"]
    assert not torch.equal(last.model["cells.0.bias"], parent.load_best().model["cells.0.bias"])  # it trained

    code, _, err = run_cli(capsys, *common, "--finetune-from", trained, "--finetune-timestep", "8", "--lr", "1e-4",
                           "--end-epoch", "2")
    assert code == 2 and "'n_timestep': 4" in err and "'n_timestep': 8" in err
    code, _, err = run_cli(capsys, *common, "--finetune-timestep", "8")
    assert code == 2 and "--finetune-timestep needs --finetune-from" in err

    code, out, err = run_cli(capsys, "--mode", "test", *common, "--n-timestep", "4")
    assert code == 0, err
    record = json.loads(RunFolder(tuned).results(initial_potential="half").read_text())
    assert record["ann"]["accuracy"] > 0 and [r["n_timestep"] for r in record["hybrid"]] == [4]
