"""LSTM cells with separate input and recurrent weights and one bias vector.

z = W_x x_t + W_h h_{t-1} + b, split in gate order (i, f, g, o);
c_t = f * c_{t-1} + i * g ;  h_t = o * act(c_t).

BaselineLSTMCell:  i, f, o = sigmoid(z) ; g = tanh(z_g) ; act = tanh.
ModifiedLSTMCell:  i, f, o = PL1(z)     ; g = PL2(z_g)  ; act = PL2
(the trainable cell that converts to the hybrid analog-spiking cell).
"""
import torch
from torch import nn
import torch.nn.functional as F

from .functional import gate_blocks, pl1, pl2


def zero_state(batch_size: int, hidden_size: int, device=None, dtype=torch.float32):
    """Initial (h, c) = (0, 0), each (batch_size, hidden_size)."""
    zeros = torch.zeros(batch_size, hidden_size, device=device, dtype=dtype)
    return zeros, zeros.clone()


def paper_init_(weight_ih: torch.Tensor, weight_hh: torch.Tensor, bias: torch.Tensor, *other_biases):
    """In place: every gate block of W_x and W_h orthogonal (gain 1); bias's forget block 1, every
    other bias (and other_biases, for layers with two bias vectors) 0."""
    with torch.no_grad():
        for weight in (weight_ih, weight_hh):
            for block in gate_blocks(weight).values():
                nn.init.orthogonal_(block)
        for vector in (bias, *other_biases):
            vector.zero_()
        gate_blocks(bias)["f"].fill_(1.0)


class _LSTMCell(nn.Module):
    """Shared wiring; subclasses choose the gate and output nonlinearities."""

    def __init__(self, input_size: int, hidden_size: int):
        super().__init__()
        if input_size < 1 or hidden_size < 1:
            raise ValueError(f"input_size and hidden_size must be >= 1, got {input_size}, {hidden_size}")
        self.input_size = input_size
        self.hidden_size = hidden_size
        self.weight_ih = nn.Parameter(torch.empty(4 * hidden_size, input_size))
        self.weight_hh = nn.Parameter(torch.empty(4 * hidden_size, hidden_size))
        self.bias = nn.Parameter(torch.empty(4 * hidden_size))
        self.reset_parameters()

    def reset_parameters(self):
        """Orthogonal init (gain 1) of every gate block of W_x and W_h; b_f = 1, other biases 0."""
        paper_init_(self.weight_ih, self.weight_hh, self.bias)

    def init_state(self, batch_size: int, device=None, dtype=torch.float32):
        return zero_state(batch_size, self.hidden_size, device, dtype)

    def forward(self, x, state):
        h, c = state
        z = F.linear(x, self.weight_ih) + F.linear(h, self.weight_hh) + self.bias
        z = gate_blocks(z, dim=1)
        i, f, o = self.sigmoid(z["i"]), self.sigmoid(z["f"]), self.sigmoid(z["o"])
        c = f * c + i * self.tanh(z["g"])
        h = o * self.tanh(c)
        return h, c

    def extra_repr(self):
        return f"{self.input_size}, {self.hidden_size}"


class BaselineLSTMCell(_LSTMCell):
    """Standard LSTM nonlinearities (sigmoid, tanh); not convertible to spiking."""

    sigmoid = staticmethod(torch.sigmoid)
    tanh = staticmethod(torch.tanh)


class ModifiedLSTMCell(_LSTMCell):
    """LSTM with PL1 for sigmoid and PL2 for tanh, whose gates an IF neuron reproduces."""

    sigmoid = staticmethod(pl1)
    tanh = staticmethod(pl2)


CELL_CLASSES = {cls.__name__: cls for cls in (BaselineLSTMCell, ModifiedLSTMCell)}
