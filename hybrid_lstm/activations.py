"""Piecewise-linear gate nonlinearities that an integrate-and-fire neuron's rate reproduces.

PL1(z) = clamp((z + 2) / 4, 0, 1)   replaces sigmoid (gates i, f, o)
PL2(z) = clamp(z / 2, -1, 1)        replaces tanh (gate g and the output activation of c)

Both are linear exactly on -2 <= z <= 2, and their gradient is defined on z itself:
dPL1/dz = 1/4 and dPL2/dz = 1/2 for -2 <= z <= 2 (endpoints included), 0 outside.
(Differentiating torch.clamp instead would test the rounded value (z + 2) / 4, which
equals 1.0 for some z slightly above 2.)
"""
import torch

LINEAR_RANGE = 2.0  # both functions are linear for |z| <= 2


class _PiecewiseLinear(torch.autograd.Function):
    """y = clamp(slope * z + offset, low, high) with gradient slope on |z| <= 2, else 0."""

    @staticmethod
    def forward(ctx, z, slope, offset, low, high):
        ctx.slope = slope
        ctx.save_for_backward(z.abs() <= LINEAR_RANGE)
        return torch.clamp(z * slope + offset, low, high)

    @staticmethod
    def backward(ctx, grad_output):
        (linear,) = ctx.saved_tensors
        return grad_output * linear * ctx.slope, None, None, None, None


def pl1(z: torch.Tensor) -> torch.Tensor:
    """PL1(z) = clamp((z + 2) / 4, 0, 1), the sigmoid replacement."""
    return _PiecewiseLinear.apply(z, 0.25, 0.5, 0.0, 1.0)


def pl2(z: torch.Tensor) -> torch.Tensor:
    """PL2(z) = clamp(z / 2, -1, 1), the tanh replacement."""
    return _PiecewiseLinear.apply(z, 0.5, 0.0, -1.0, 1.0)
