"""Conversion-aware fine-tuning: train a ModifiedLSTMCell through the spikes its hybrid produces.

ConversionAwareCell holds a ModifiedLSTMCell's parameters (the same names, so its state_dict is
the cell's). Each LSTM step, with u = [x_t ; h_{t-1}] and z = W_x x_t + W_h h_{t-1} + b:

    forward   the hybrid's step: the gates' rates from the exact spike counts of a simulation
              backend on the current weights, converted (conversion.convert_weights), then
              c = f_bar c + i_bar g_bar and h = o_bar PL2(c), as HybridLSTMCell computes them;
    backward  the ANN's gradient at the same point (straight-through): each rate passes its
              gradient to the ANN's gate PL1(z) or PL2(z), so dgate/dz is PL1' or PL2'.

Where the spike counts equal the ANN's rates exactly, the gradient is the ANN's.
"""
import torch
from torch import nn
import torch.nn.functional as F

from ..nn.cells import ModifiedLSTMCell, zero_state
from ..nn.functional import GATES, gate_blocks, pl1, pl2
from .conversion import ConvertedWeights, convert_weights, version_key
from .hybrid import SIMULATIONS
from .neurons import SpikingConfig


class _StraightThrough(torch.autograd.Function):
    """Forward: the spiking value; backward: the gradient goes to the analog value unchanged."""

    @staticmethod
    def forward(ctx, spiking, analog):
        return spiking.view_as(spiking)

    @staticmethod
    def backward(ctx, grad_output):
        return None, grad_output


def straight_through(spiking: torch.Tensor, analog: torch.Tensor) -> torch.Tensor:
    """spiking's values with analog's gradient."""
    return _StraightThrough.apply(spiking, analog)


class ConversionAwareCell(nn.Module):
    """A ModifiedLSTMCell trained through its hybrid at config (module doc); forward(x, (h, c)) -> (h, c)."""

    def __init__(self, cell: ModifiedLSTMCell, config: SpikingConfig, simulation: str = "fast"):
        super().__init__()
        if not isinstance(cell, ModifiedLSTMCell):
            raise TypeError(f"only a ModifiedLSTMCell trains through its hybrid, got {type(cell).__name__}")
        self.input_size, self.hidden_size = cell.input_size, cell.hidden_size
        self.weight_ih, self.weight_hh, self.bias = cell.weight_ih, cell.weight_hh, cell.bias
        self.config = config
        self.backend = SIMULATIONS[simulation](config)
        self._converted, self._converted_key = None, None

    def converted(self) -> ConvertedWeights:
        """The current parameters converted, recomputed after every change (an optimizer step)."""
        key = version_key((self.weight_ih, self.weight_hh, self.bias))
        if key != self._converted_key:
            self._converted = convert_weights(self.weight_ih, self.weight_hh, self.bias)
            self._converted_key = key
        return self._converted

    def init_state(self, batch_size: int, device=None, dtype=torch.float32):
        return zero_state(batch_size, self.hidden_size, device, dtype)

    def forward(self, x, state):
        h, c = state
        z = gate_blocks(F.linear(x, self.weight_ih) + F.linear(h, self.weight_hh) + self.bias, dim=1)
        analog = {gate: (pl2 if gate == "g" else pl1)(block) for gate, block in z.items()}
        with torch.no_grad():
            counts = self.backend(torch.cat([x, h], dim=1), self.converted())
        i, f, g, o = (straight_through(getattr(counts, gate).to(c.dtype) / self.config.n_timestep, analog[gate])
                      for gate in GATES)
        c = f * c + i * g
        return o * pl2(c), c

    def extra_repr(self):
        return (f"{self.input_size}, {self.hidden_size}, n_timestep={self.config.n_timestep}, "
                f"reset={self.config.reset!r}, initial_potential={self.config.initial_potential!r}")
