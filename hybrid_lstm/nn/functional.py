"""The paper's gate functions and the gate layout, defined once for every implementation.

Piecewise-linear nonlinearities that an integrate-and-fire neuron's rate reproduces:

    PL1(z) = clamp(z / 4 + 1/2, 0, 1)   replaces sigmoid (gates i, f, o)
    PL2(z) = clamp(z / 2, -1, 1)        replaces tanh (gate g and the output activation of c)

Both are linear exactly on -2 <= z <= 2, and their gradient is defined on z itself:
dPL1/dz = 1/4 and dPL2/dz = 1/2 for -2 <= z <= 2 (endpoints included), 0 outside.
(Differentiating torch.clamp instead would test the rounded value (z + 2) / 4, which
equals 1.0 for some z slightly above 2.) pl1 and pl2 are the autograd functions; PL1 and PL2
give the values and slopes to the fused layer, and their constants to its Triton kernels.

Gate layout. z = W_x x + W_h h + b stacks its gate blocks in the order GATES = (i, f, g, o),
torch.nn.LSTM's, along dim 0 of the weights and biases and along the last dim of z. The
spiking simulations of loihi_sim stack them as SPIKING_ORDER = (i, f, o, g): the three
sigmoid-type blocks, then the ternary g.
"""
from dataclasses import dataclass

import torch

LINEAR_RANGE = 2.0  # both functions are linear for |z| <= 2
GATES = ("i", "f", "g", "o")
SIGMOID_GATES = ("i", "f", "o")
SPIKING_ORDER = SIGMOID_GATES + ("g",)


@dataclass(frozen=True)
class PiecewiseLinear:
    """y = clamp(slope * z + offset, low, high), with slope as its derivative on |z| <= 2, else 0."""

    slope: float
    offset: float
    low: float
    high: float

    def value(self, z: torch.Tensor) -> torch.Tensor:
        return torch.clamp(z * self.slope + self.offset, self.low, self.high)

    def derivative(self, z: torch.Tensor) -> torch.Tensor:
        return (z.abs() <= LINEAR_RANGE).to(z.dtype) * self.slope


PL1 = PiecewiseLinear(slope=0.25, offset=0.5, low=0.0, high=1.0)
PL2 = PiecewiseLinear(slope=0.5, offset=0.0, low=-1.0, high=1.0)


class _PiecewiseLinearFunction(torch.autograd.Function):
    @staticmethod
    def forward(ctx, z, function: PiecewiseLinear):
        ctx.function = function
        ctx.save_for_backward(z)
        return function.value(z)

    @staticmethod
    def backward(ctx, grad_output):
        (z,) = ctx.saved_tensors
        return grad_output * ctx.function.derivative(z), None


def pl1(z: torch.Tensor) -> torch.Tensor:
    """PL1(z) = clamp((z + 2) / 4, 0, 1), the sigmoid replacement."""
    return _PiecewiseLinearFunction.apply(z, PL1)


def pl2(z: torch.Tensor) -> torch.Tensor:
    """PL2(z) = clamp(z / 2, -1, 1), the tanh replacement."""
    return _PiecewiseLinearFunction.apply(z, PL2)


def gate_blocks(tensor: torch.Tensor, dim: int = 0) -> dict:
    """Split a tensor whose dim stacks the four gate blocks: {'i': ..., 'f': ..., 'g': ..., 'o': ...} (views)."""
    return dict(zip(GATES, tensor.chunk(4, dim=dim)))


def spiking_order(tensor: torch.Tensor) -> torch.Tensor:
    """The gate blocks of tensor (dim 0, in GATES order) restacked in SPIKING_ORDER."""
    blocks = gate_blocks(tensor)
    return torch.cat([blocks[gate] for gate in SPIKING_ORDER])
