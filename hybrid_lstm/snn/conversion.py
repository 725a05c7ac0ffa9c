"""Conversion of a trained ModifiedLSTMCell to integer per-gate weights and biases.

For each gate the rows of W_x and W_h are concatenated: W_gate = [W_x,gate | W_h,gate],
acting on u = [x_t ; h_{t-1}]. With IF neurons whose thresholds are below:
    weights  W^ = clamp(2 * round(128 * W), -254, 254)    even integers ~ 256 * W (8-bit)
    biases   b^ = 512 + round(256 * b)  for i, f, o  (sigmoid-type)
             b^ =       round(256 * b)  for g        (tanh-type)
(round half to even.) An encoder spike stands for 2048 units of u, so a sigmoid-type
neuron receives on average 256 * z + 512 per SNN step and fires at rate
clamp(z / 4 + 1 / 2, 0, 1) = PL1(z); a tanh-type neuron receives 256 * z and fires at
clamp(z / 2, -1, 1) = PL2(z).
"""
from typing import NamedTuple

import torch

from ..nn.cells import ModifiedLSTMCell
from ..nn.functional import SIGMOID_GATES, gate_blocks

ENCODER_THRESHOLD = 2048
SIGMOID_THRESHOLD = 1024  # i, f, o
TANH_THRESHOLD = 512  # g
WEIGHT_SCALE = 256
WEIGHT_LIMIT = 254
BIAS_SCALE = 256
INT32_MAX = 2**31 - 1
SIGMOID_BIAS_OFFSET = 512  # = SIGMOID_THRESHOLD / 2, the rate 1/2 at z = 0


class ConvertedWeights(NamedTuple):
    """Integer parameters of one converted cell, gate blocks in order (i, f, g, o).

    weight: (4H, D + H) int32, even values in [-254, 254]
    bias:   (4H,) int32
    """

    weight: torch.Tensor
    bias: torch.Tensor


def version_key(tensors) -> tuple:
    """What tells whether tensors changed since it was taken: storage, version counter (None for
    inference tensors, which have none), device and shape of each. Every cache of prepared or
    converted weights (fast simulation, chip mapping, fine-tuning) compares it."""
    return tuple((t.data_ptr(), None if t.is_inference() else t._version, t.device, tuple(t.shape)) for t in tensors)


def quantize_weight(weight: torch.Tensor) -> torch.Tensor:
    """W^ = clamp(2 * round(128 * W), -254, 254) as int32."""
    half = WEIGHT_SCALE // 2
    return torch.clamp(2 * torch.round(half * weight.detach().double()), -WEIGHT_LIMIT, WEIGHT_LIMIT).int()


def quantize_bias(bias: torch.Tensor) -> torch.Tensor:
    """b^ = round(256 * b), plus 512 in the i, f and o blocks, as int32; bias is (4H,). A b^ beyond
    int32 is a ValueError (the one check of the integer range, for every simulation)."""
    quantized = torch.round(BIAS_SCALE * bias.detach().double())
    for gate, block in gate_blocks(quantized).items():
        if gate in SIGMOID_GATES:
            block += SIGMOID_BIAS_OFFSET
    if quantized.numel() and quantized.abs().max() > INT32_MAX:
        largest = float(bias.detach().abs().max())
        raise ValueError(f"cannot convert: a bias of {largest:g} gives an integer bias beyond int32 "
                         f"(|b^| <= {INT32_MAX}, i.e. |b| below about {INT32_MAX // BIAS_SCALE:g})")
    return quantized.int()


def dequantize(weights: ConvertedWeights, input_size: int) -> tuple:
    """The float (W_x, W_h, b) whose conversion gives weights, up to rounding: W = W^ / 256,
    b = (b^ - 512) / 256 for i, f, o and b^ / 256 for g (float64)."""
    weight = weights.weight.double() / WEIGHT_SCALE
    bias = weights.bias.double().clone()
    for gate, block in gate_blocks(bias).items():
        if gate in SIGMOID_GATES:
            block -= SIGMOID_BIAS_OFFSET
    return weight[:, :input_size], weight[:, input_size:], bias / BIAS_SCALE


def convert_weights(weight_ih: torch.Tensor, weight_hh: torch.Tensor, bias: torch.Tensor) -> ConvertedWeights:
    """Convert float (4H, D), (4H, H) and (4H,) cell parameters to ConvertedWeights."""
    hidden4 = bias.shape[0]
    if hidden4 % 4 or weight_ih.shape[0] != hidden4 or tuple(weight_hh.shape) != (hidden4, hidden4 // 4):
        raise ValueError(
            "expected weight_ih (4H, D), weight_hh (4H, H) and bias (4H,), got "
            f"{tuple(weight_ih.shape)}, {tuple(weight_hh.shape)}, {tuple(bias.shape)}"
        )
    for name, tensor in (("weight_ih", weight_ih), ("weight_hh", weight_hh), ("bias", bias)):
        if not torch.isfinite(tensor).all():
            raise ValueError(f"cannot convert: {name} holds non-finite values (NaN or inf)")
    weight = torch.cat([weight_ih, weight_hh], dim=1)
    return ConvertedWeights(quantize_weight(weight), quantize_bias(bias))


def convert_cell(cell: torch.nn.Module) -> ConvertedWeights:
    """Convert a trained ModifiedLSTMCell; any other cell is a TypeError."""
    if not isinstance(cell, ModifiedLSTMCell):
        raise TypeError(
            f"only a ModifiedLSTMCell can be converted, got {type(cell).__name__}: the sigmoid and "
            "tanh of a standard LSTM have no integrate-and-fire equivalent"
        )
    return convert_weights(cell.weight_ih, cell.weight_hh, cell.bias)
