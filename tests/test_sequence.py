"""The fused LSTM layer (hand-written backward) against stepping the cell with autograd."""
import pytest
import torch

from hybrid_lstm import BaselineLSTMCell, ModifiedLSTMCell, SequenceClassifier
from hybrid_lstm.runs import training
from hybrid_lstm.nn.sequence import NO_LIMIT, lstm_layer, stepped_layer

CELLS = [BaselineLSTMCell, ModifiedLSTMCell]


def run_both(cell, x, state, limit):
    """Outputs, final state and every gradient of a random loss on all outputs, both ways."""
    generator = torch.Generator().manual_seed(5)
    results = []
    for run_layer in (stepped_layer, lstm_layer):
        cell.zero_grad()
        inputs = x.clone().requires_grad_()
        h0, c0 = (s.clone().requires_grad_() for s in state)
        outputs, (h, c) = run_layer(cell, inputs, (h0, c0), limit)
        weights = [torch.randn(t.shape, generator=generator.manual_seed(k)).to(t.device)
                   for k, t in enumerate((outputs, h, c))]
        loss = sum((w * t).sum() for w, t in zip(weights, (outputs, h, c)))
        loss.backward()
        grads = [inputs.grad, h0.grad, c0.grad] + [p.grad.clone() for p in cell.parameters()]
        results.append(([outputs, h, c], grads))
    return results


@pytest.mark.parametrize("device", ["cpu"] + (["cuda"] if torch.cuda.is_available() else []))
@pytest.mark.parametrize("cell_class", CELLS)
@pytest.mark.parametrize("limit", [1.0, NO_LIMIT])
def test_fused_layer_matches_stepping_the_cell(cell_class, limit, device):
    """On CUDA the fused layer runs persistent_lstm's kernels (hidden 16 qualifies)."""
    torch.manual_seed(0)
    cell = cell_class(7, 16)
    with torch.no_grad():  # large weights: saturated gates, |c| beyond the clamp and beyond 2
        for parameter in cell.parameters():
            parameter.mul_(3)
    cell = cell.to(device)
    x = (torch.randn(5, 11, 7) * 2).to(device)
    state = ((torch.rand(5, 16) * 2 - 1).to(device), (torch.rand(5, 16) * 4 - 2).to(device))
    (plain_values, plain_grads), (fused_values, fused_grads) = run_both(cell, x, state, limit)
    for plain, fused in zip(plain_values + plain_grads, fused_values + fused_grads):
        torch.testing.assert_close(fused, plain, rtol=1e-5, atol=1e-5)
    final_c = plain_values[2]
    if limit == 1.0:
        assert (final_c.abs() >= 1.0).float().mean() > 0.05  # the clamp's gradient mask was exercised
    else:
        assert (final_c.abs() > 1.0).float().mean() > 0.05  # without a limit, c leaves [-1, 1]


@pytest.mark.parametrize("cell_class", ["BaselineLSTMCell", "ModifiedLSTMCell"])
def test_classifier_gradients_match_the_stepped_model(cell_class):
    """Two layers with dropout, c clamped: the classifier's fused forward/backward against
    the same model stepped cell by cell under the same dropout mask."""
    torch.manual_seed(1)
    model = SequenceClassifier(cell_class, 28, 32, num_layers=2, dropout=0.5)
    x, y = torch.rand(8, 28, 28), torch.randint(0, 10, (8,))

    def stepped_forward():
        layer_input = x
        for index, cell in enumerate(model.cells):
            if index > 0:
                layer_input = model.dropout(layer_input)
            layer_input, state = stepped_layer(cell, layer_input, cell.init_state(8), 1.0)
        return model.classifier(state[0])

    grads = []
    for forward in (model, stepped_forward):
        torch.manual_seed(2)
        model.zero_grad()
        torch.nn.functional.cross_entropy(forward(x) if forward is model else forward(), y).backward()
        grads.append([p.grad.clone() for p in model.parameters()])
    for fused, plain in zip(*grads):
        torch.testing.assert_close(fused, plain, rtol=1e-5, atol=1e-6)


def test_lstm_layer_rejects_other_cells():
    with pytest.raises(TypeError, match="BaselineLSTMCell or ModifiedLSTMCell"):
        lstm_layer(torch.nn.LSTMCell(3, 4), torch.zeros(1, 2, 3), (torch.zeros(1, 4), torch.zeros(1, 4)))


def test_parameters_are_clamped_after_every_optimizer_step():
    """Every weight and bias stays in [-1, 1] after each update (the paper's clamp), even with a
    learning rate that would throw them far out."""
    torch.manual_seed(0)
    model = SequenceClassifier("ModifiedLSTMCell", 4, 8)
    optimizer = torch.optim.SGD(model.parameters(), lr=50.0)
    inputs, labels = torch.rand(32, 6, 4), torch.randint(0, 10, (32,))
    training.train_epoch(model, optimizer, inputs, labels, 8, grad_clip=1e9, seed=0)
    values = torch.cat([p.detach().flatten() for p in model.parameters()])
    assert values.abs().max() == 1.0 and (values.abs() == 1.0).sum() > 10


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_an_epoch_saved_on_the_cpu_resumes_on_the_gpu():
    """A partial epoch saved without CUDA generator state continues on CUDA (the GPU route)."""
    torch.manual_seed(0)
    model = SequenceClassifier("ModifiedLSTMCell", 4, 8, dropout=0.5)
    inputs, labels = torch.rand(32, 6, 4), torch.randint(0, 10, (32,))
    saved = []
    training.train_epoch(model, torch.optim.SGD(model.parameters(), lr=0.1), inputs, labels, 8, grad_clip=1.0,
                         seed=0, save_interval=2, save_partial=lambda partial: saved.append(dict(partial)))
    assert "cuda" not in saved[0]["rng"] and saved[0]["batches_done"] == 2
    model = model.cuda()
    loss, _, _ = training.train_epoch(model, torch.optim.SGD(model.parameters(), lr=0.1), inputs.cuda(),
                                      labels.cuda(), 8, grad_clip=1.0, seed=0, partial=saved[0])
    assert loss > 0
