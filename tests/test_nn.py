"""hybrid_lstm.nn: the drop-in LSTM against torch.nn.LSTM, its hybrid, convert() and streaming."""
import pytest
import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

import hybrid_lstm
from hybrid_lstm import HybridLSTMCell, ModifiedLSTMCell, BaselineLSTMCell
from hybrid_lstm.nn import LSTM, HybridLSTM, convert
from hybrid_lstm.nn.sequence import stepped_layer

LENGTHS = torch.tensor([7, 3, 5, 1])


def inputs(batch_first: bool, size=6, length=7, batch=4, seed=1):
    torch.manual_seed(seed)
    shape = (batch, length, size) if batch_first else (length, batch, size)
    return torch.randn(shape, requires_grad=True)


def twins(num_layers, batch_first, seed=0):
    """A torch.nn.LSTM and a baseline-cell LSTM holding its weights."""
    torch.manual_seed(seed)
    reference = nn.LSTM(6, 16, num_layers, batch_first=batch_first)
    ours = LSTM(6, 16, num_layers, batch_first=batch_first, cell="baseline")
    ours.load_state_dict(reference.state_dict())
    return reference, ours


def outputs_and_gradients(model, x, hx, packed: bool, batch_first: bool):
    data = pack_padded_sequence(x, LENGTHS, batch_first=batch_first, enforce_sorted=False) if packed else x
    output, (h, c) = model(data, hx)
    if packed:
        output = pad_packed_sequence(output, batch_first=batch_first)[0]
    weights = torch.linspace(-1, 1, output.numel()).view(output.shape)  # a loss that weighs every output apart
    loss = (output * weights).sum() + (h * h).sum() + (c * 0.5).sum()
    leaves = [x, *model.parameters(), *(hx or ())]
    return (output, h, c), torch.autograd.grad(loss, leaves)


@pytest.mark.parametrize("num_layers", [1, 2, 3])
@pytest.mark.parametrize("batch_first", [False, True])
@pytest.mark.parametrize("packed", [False, True])
@pytest.mark.parametrize("given_state", [False, True])
def test_baseline_cell_equals_torch_lstm(num_layers, batch_first, packed, given_state):
    reference, ours = twins(num_layers, batch_first)
    x = inputs(batch_first)
    hx = None
    if given_state:
        torch.manual_seed(2)
        hx = tuple(torch.randn(num_layers, 4, 16, requires_grad=True) for _ in range(2))
    expected, expected_gradients = outputs_and_gradients(reference, x, hx, packed, batch_first)
    got, got_gradients = outputs_and_gradients(ours, x, hx, packed, batch_first)
    for a, b in zip(expected + expected_gradients, got + got_gradients):
        torch.testing.assert_close(b, a, rtol=1e-5, atol=1e-6)


def test_state_dicts_load_both_ways():
    reference, ours = twins(2, False)
    assert list(ours.state_dict()) == list(reference.state_dict())
    back = nn.LSTM(6, 16, 2)
    back.load_state_dict(ours.state_dict())
    for a, b in zip(back.parameters(), reference.parameters()):
        assert torch.equal(a, b)
    no_bias = LSTM(6, 16, bias=False)
    assert list(no_bias.state_dict()) == list(nn.LSTM(6, 16, bias=False).state_dict())
    tuned = LSTM.from_torch(reference, cell="modified")
    assert tuned.cell == "modified" and torch.equal(tuned.weight_hh_l1, reference.weight_hh_l1)


def test_modified_cell_equals_a_plain_loop_over_the_paper_cell():
    """PL1/PL2 gates and the clamp of c, against ModifiedLSTMCell stepped with autograd."""
    torch.manual_seed(3)
    layer = LSTM(6, 16, cell="modified", cell_state_limit=1.0, batch_first=True)
    with torch.no_grad():
        layer.bias_ih_l0.uniform_(-1, 1), layer.bias_hh_l0.uniform_(-1, 1)
    cell = ModifiedLSTMCell(6, 16)
    with torch.no_grad():
        cell.weight_ih.copy_(layer.weight_ih_l0), cell.weight_hh.copy_(layer.weight_hh_l0)
        cell.bias.copy_(layer.bias_ih_l0 + layer.bias_hh_l0)
    x = inputs(True) * 3
    output, (h, c) = layer(x)
    expected, (h_ref, c_ref) = stepped_layer(cell, x, cell.init_state(4), 1.0)
    torch.testing.assert_close(output, expected)
    torch.testing.assert_close(c[0], c_ref)
    gradient = torch.autograd.grad(output.sum(), layer.weight_hh_l0)[0]
    torch.testing.assert_close(gradient, torch.autograd.grad(expected.sum(), cell.weight_hh)[0])


@pytest.mark.parametrize("batch_first", [False, True])
@pytest.mark.parametrize("batch", [1, 4])
def test_streaming_step_equals_the_batched_run_exactly(batch_first, batch):
    torch.manual_seed(4)
    layer = LSTM(6, 16, 2, batch_first=batch_first, cell_state_limit=1.0).eval()
    hybrid = convert(layer, 8)
    x = inputs(batch_first, batch=batch).detach()
    time_dim = 1 if batch_first else 0
    for model in (layer, hybrid):
        with torch.no_grad():
            output, (h, c) = model(x)
            state, steps = None, []
            for x_t in x.unbind(time_dim):
                h_t, state = model.step(x_t, state)
                steps.append(h_t)
        assert torch.equal(torch.stack(steps, time_dim), output)
        assert torch.equal(state[0], h) and torch.equal(state[1], c)


def test_unbatched_input_as_torch():
    reference, ours = twins(1, False)
    x = torch.randn(5, 6)
    expected, (h, c) = reference(x)
    got, (h_got, c_got) = ours(x)
    assert got.shape == expected.shape and h_got.shape == h.shape == (1, 16)
    torch.testing.assert_close(got, expected)


class Tagger(nn.Module):
    """A user's model: an embedding, a modified-cell LSTM, a classifier."""

    def __init__(self):
        super().__init__()
        self.embedding = nn.Linear(6, 6)
        self.lstm = LSTM(6, 16, 2, batch_first=True, cell_state_limit=1.0)
        self.head = nn.Linear(16, 3)

    def forward(self, x):
        return self.head(self.lstm(torch.tanh(self.embedding(x)))[0])


def test_convert_replaces_the_lstm_only_and_matches_the_hybrid_cells():
    torch.manual_seed(5)
    model = Tagger().eval()
    hybrid = convert(model, 16, initial_potential="half")
    assert isinstance(hybrid.lstm, HybridLSTM) and isinstance(model.lstm, LSTM)  # the original is untouched
    for name in ("embedding", "head"):
        for a, b in zip(getattr(model, name).state_dict().values(), getattr(hybrid, name).state_dict().values()):
            assert torch.equal(a, b)
    # layer by layer, the hybrid is HybridLSTMCell stepped over time, from a ModifiedLSTMCell with b = b_ih + b_hh
    x = torch.tanh(model.embedding(inputs(True).detach()))
    layer_input = x
    for layer in range(2):
        cell = ModifiedLSTMCell(6 if layer == 0 else 16, 16)
        weight_ih, weight_hh, bias_ih, bias_hh = model.lstm.layer_weights(layer)
        with torch.no_grad():
            cell.weight_ih.copy_(weight_ih), cell.weight_hh.copy_(weight_hh), cell.bias.copy_(bias_ih + bias_hh)
        reference = HybridLSTMCell.from_cell(cell, 16, initial_potential="half", simulation="reference")
        layer_input, _ = stepped_layer(reference, layer_input, reference.init_state(4), 1.0)
    with torch.no_grad():
        assert torch.equal(hybrid.lstm(x)[0], layer_input)
        hybrid(inputs(True).detach())
    rates = hybrid.lstm.spike_record.rates()
    assert set(rates) == {"encoder", "i", "f", "g", "o"} and all(0 < rate < 1 for rate in rates.values())
    assert hybrid_lstm.nn.spike_record(hybrid).totals() == hybrid.lstm.spike_record.totals()


def test_packed_hybrid_equals_each_sequence_alone():
    torch.manual_seed(6)
    hybrid = convert(LSTM(6, 16, 2, batch_first=True), 8)
    x = inputs(True).detach()
    packed = pack_padded_sequence(x, LENGTHS, batch_first=True, enforce_sorted=False)
    output, (h, c) = hybrid(packed)
    padded, _ = pad_packed_sequence(output, batch_first=True)
    for index, length in enumerate(LENGTHS.tolist()):
        alone, (h_alone, c_alone) = hybrid(x[index: index + 1, :length])
        assert torch.equal(padded[index, :length], alone[0])
        assert torch.equal(h[:, index], h_alone[:, 0]) and torch.equal(c[:, index], c_alone[:, 0])


def test_convert_a_model_of_cells():
    """SequenceClassifier (ModifiedLSTMCell layers) converts to the same model as its own to_hybrid."""
    torch.manual_seed(7)
    model = hybrid_lstm.SequenceClassifier("ModifiedLSTMCell", 28, 32).eval()
    x = torch.rand(3, 28, 28)
    with torch.no_grad():
        assert torch.equal(convert(model, 16)(x), model.to_hybrid(16)(x))


@pytest.mark.parametrize("model, message", [
    (nn.LSTM(4, 8), "cannot convert the LSTM: its sigmoid/tanh gates"),
    (nn.Sequential(nn.Linear(4, 4), LSTM(4, 8, cell="baseline")), "cannot convert the LSTM at '1'"),
    (nn.Sequential(BaselineLSTMCell(4, 8)), "cannot convert the BaselineLSTMCell at '0'"),
    (nn.ModuleDict({"cell": nn.LSTMCell(4, 8)}), "cannot convert the LSTMCell at 'cell'"),
])
def test_sigmoid_lstms_are_refused_with_the_way_to_fine_tune(model, message):
    with pytest.raises(TypeError) as error:
        convert(model, 16)
    assert message in str(error.value) and "LSTM.from_torch(lstm, cell='modified')" in str(error.value)
    assert len(str(error.value).splitlines()) == 1


def test_a_model_without_lstm_is_refused():
    with pytest.raises(ValueError, match="holds no hybrid_lstm.nn.LSTM"):
        convert(nn.Sequential(nn.Linear(3, 3)), 16)
    with pytest.raises(TypeError, match="torch.nn.Module"):
        convert("model", 16)


@pytest.mark.parametrize("arguments, message", [
    ({"cell": "gru"}, "cell must be one of"), ({"cell_state_limit": 0}, "cell_state_limit"),
    ({"dropout": 1.5}, "dropout"), ({"num_layers": 0}, "num_layers"), ({"hidden_size": 2.5}, "hidden_size"),
])
def test_bad_constructor_arguments(arguments, message):
    with pytest.raises(ValueError, match=message):
        LSTM(**{"input_size": 4, "hidden_size": 8, **arguments})


def test_bad_forward_inputs():
    layer = LSTM(4, 8, 2)
    with pytest.raises(ValueError, match=r"input must be \(L, N, 4\)"):
        layer(torch.zeros(3, 2, 5))
    with pytest.raises(ValueError, match=r"h_0 must have shape \(2, 2, 8\)"):
        layer(torch.zeros(3, 2, 4), (torch.zeros(1, 2, 8), torch.zeros(2, 2, 8)))
    with pytest.raises(ValueError, match="floating-point"):
        layer(torch.zeros(3, 2, 4, dtype=torch.long))
    with pytest.raises(ValueError, match="empty"):
        layer(torch.zeros(0, 2, 4))
