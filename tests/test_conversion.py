import pytest
import torch

from hybrid_lstm import BaselineLSTMCell, ModifiedLSTMCell, convert_cell, convert_weights
from hybrid_lstm import ENCODER_THRESHOLD, SIGMOID_THRESHOLD, TANH_THRESHOLD


def test_thresholds():
    assert (ENCODER_THRESHOLD, SIGMOID_THRESHOLD, TANH_THRESHOLD) == (2048, 1024, 512)


def test_weight_and_bias_constants():
    # H = 1, D = 1: W_x and W_h are (4, 1); rows i, f, g, o
    weight_ih = torch.tensor([[0.5], [-0.3], [1.0], [2.0]])
    weight_hh = torch.tensor([[-2.0], [0.001], [1.5 / 128], [-0.5 / 128]])
    bias = torch.tensor([0.0, 1.0, -0.5, 0.1])
    converted = convert_weights(weight_ih, weight_hh, bias)
    # 2 * round(128 w): 128 -> 128; -38.4 -> -76; 256 -> clamp 254; 512 -> 254; -512 -> -254;
    # 0.128 -> 0; 1.5 -> 2 (half to even) -> 4; -0.5 -> -0 -> 0
    assert converted.weight.tolist() == [[128, -254], [-76, 0], [254, 4], [254, 0]]
    # i, f, o: 512 + round(256 b); g: round(256 b)
    assert converted.bias.tolist() == [512, 768, -128, 538]
    assert converted.weight.dtype == torch.int32 and converted.bias.dtype == torch.int32


def test_convert_cell_concatenates_input_and_recurrent_weights():
    """Hand-set weights: row r of W_x is r / 128 and of W_h is -r / 128, so W^ = 2 round(128 w) is
    2 r in the input columns and -2 r in the recurrent ones (|2 r| <= 38, within the clamp)."""
    cell = ModifiedLSTMCell(3, 5)
    rows = torch.arange(20, dtype=torch.float32)[:, None]
    with torch.no_grad():
        cell.weight_ih.copy_(rows.expand(20, 3) / 128)
        cell.weight_hh.copy_(-rows.expand(20, 5) / 128)
    converted = convert_cell(cell)
    assert converted.weight.shape == (20, 8)
    assert converted.weight[:, :3].tolist() == [[2 * r] * 3 for r in range(20)]
    assert converted.weight[:, 3:].tolist() == [[-2 * r] * 5 for r in range(20)]
    assert converted.bias.tolist() == [512] * 5 + [512 + 256] * 5 + [0] * 5 + [512] * 5  # the paper's init: b_f = 1


def test_baseline_cell_cannot_be_converted():
    with pytest.raises(TypeError, match="only a ModifiedLSTMCell"):
        convert_cell(BaselineLSTMCell(3, 5))


def test_shape_errors():
    with pytest.raises(ValueError, match="expected weight_ih"):
        convert_weights(torch.zeros(8, 3), torch.zeros(8, 3), torch.zeros(8))


def test_rounding_ties_go_to_the_even_integer():
    """128 W = 2.5 rounds to 2, so W^ = 4 (not 6); 256 b = 0.5 rounds to 0 and 1.5 to 2."""
    weights = convert_weights(torch.full((4, 1), 2.5 / 128), torch.full((4, 1), 3.5 / 128),
                              torch.tensor([0.5, 1.5, 0.5, 2.5]) / 256)
    assert weights.weight[:, 0].tolist() == [4] * 4 and weights.weight[:, 1].tolist() == [8] * 4
    assert weights.bias.tolist() == [512 + 0, 512 + 2, 0, 512 + 2]


@pytest.mark.parametrize("value", [1e7, -1e7])
def test_a_bias_beyond_int32_is_refused_not_wrapped(value):
    """round(256 b) + 512 above 2^31 - 1 would wrap to -2^31 in int32; conversion refuses it instead."""
    cell = ModifiedLSTMCell(3, 4)
    with torch.no_grad():
        cell.bias.fill_(value)
    with pytest.raises(ValueError, match="beyond int32"):
        convert_cell(cell)
    with torch.no_grad():
        cell.bias.fill_(8e6)  # 2.048e9 + 512 still fits
    assert convert_cell(cell).bias.min() > 0


def test_dequantize_inverts_the_conversion():
    """Converting the dequantised weights gives back the same integers (the ANN twin of an estimate)."""
    from hybrid_lstm.snn.conversion import dequantize

    torch.manual_seed(3)
    cell = ModifiedLSTMCell(5, 8)
    with torch.no_grad():
        cell.bias.uniform_(-1, 1)
    converted = convert_cell(cell)
    again = convert_weights(*dequantize(converted, 5))
    assert torch.equal(again.weight, converted.weight) and torch.equal(again.bias, converted.bias)
