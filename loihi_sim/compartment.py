"""Bit-accurate Loihi-1 CUBA compartments and dense synapses, vectorised over a batch.

One time-step t of a group of compartments (Lava's PyLifModelBitAcc; docs/loihi.md):

    trunc12(x) = sign(x) * (|x| >> 12)                               rounding toward zero
    u[t] = wrap24( trunc12(u[t-1] * (4096 - (du + 1))) + synaptic_input[t] )
    v[t] = clip( trunc12(v[t-1] * (4096 - dv)) + u[t] + (bias_mant << bias_exp),
                 -(2^23 - 1), 2^23 - 1 )
    spike s[t] = v[t] > (vth << 6)                                   strictly greater
    hard reset (the chip): v[t] = 0 where s[t];  soft reset (the paper's simulation): v[t] -= vth << 6

with synaptic_input[t] = sum_j (w_ij << (6 + weight_exp)) * s_j[t - delay] from DenseSynapses
(delay 1 on the chip). State widths: u signed 24-bit (wraps), v signed 24-bit (clipped),
du/dv unsigned 12-bit, vth unsigned 17-bit, bias_mant signed 13-bit, bias_exp 0..7,
weights 8-bit (even in [-256, 254] with mixed signs). Tensors hold them in int64.

Where the references disagree we follow Lava: the chip's +1 on du (du = 4095 decays u
fully in one step), 24-bit wrap of u, no refractory period (nengo-loihi models one).
Overflow is never silent: in "strict" mode a wrapped u, a clipped v or an unrepresentable
parameter raises OverflowError; in "count" mode (the default) it is counted per kind in
OverflowMonitor.counts and the chip's behaviour (wrap, clip) is applied.
"""
from dataclasses import dataclass, field

import torch

from hybrid_lstm.kernels.exact_product import MIN_MATMUL_ROWS, ExactProduct
from hybrid_lstm.snn.neurons import after_spike, fire

from .hardware import (
    BIAS_EXP_MAX, BIAS_MANT_BITS, CURRENT_BITS, DECAY_BITS, DECAY_UNITY, SYNAPSE_INPUT_SHIFT, THRESHOLD_SHIFT,
    VOLTAGE_LIMIT, VTH_BITS, WEIGHT_EXP_MAX, WEIGHT_EXP_MIN, WEIGHT_MAX, WEIGHT_MIN,
)

OVERFLOW_MODES = ("count", "strict")


@dataclass
class OverflowMonitor:
    """Counts (or, in strict mode, raises on) fixed-point overflows by kind."""

    mode: str = "count"
    counts: dict = field(default_factory=dict)

    def __post_init__(self):
        if self.mode not in OVERFLOW_MODES:
            raise ValueError(f"overflow mode must be one of {OVERFLOW_MODES}, got {self.mode!r}")

    def report(self, kind: str, count: int):
        if count:
            if self.mode == "strict":
                raise OverflowError(f"{kind}: {count} value(s) out of range")
            self.counts[kind] = self.counts.get(kind, 0) + int(count)


def trunc12(x: torch.Tensor) -> torch.Tensor:
    """sign(x) * (|x| >> 12): division by 4096 rounding toward zero."""
    return torch.sign(x) * (x.abs() >> DECAY_BITS)


def wrap24(x: torch.Tensor, monitor: OverflowMonitor) -> torch.Tensor:
    """Two's-complement wrap to signed 24 bits, counting the values that wrapped."""
    half = 1 << (CURRENT_BITS - 1)
    wrapped = ((x + half) & ((1 << CURRENT_BITS) - 1)) - half
    monitor.report("u wrapped (24-bit)", int((wrapped != x).sum()))
    return wrapped


def split_bias(bias: torch.Tensor, monitor: OverflowMonitor):
    """Exact (bias_mant, bias_exp) per value: the smallest exponent whose 13-bit signed mantissa
    holds it; values with no exact representation are counted (or raise) and rounded toward zero."""
    limit = (1 << (BIAS_MANT_BITS - 1)) - 1
    exponent = torch.zeros_like(bias)
    for exp in range(1, BIAS_EXP_MAX + 1):
        exponent = torch.where((bias.abs() >> (exp - 1)) > limit, exp, exponent)
    mantissa = torch.sign(bias) * (bias.abs() >> exponent)
    inexact = (mantissa << exponent != bias) | (mantissa.abs() > limit)
    monitor.report("bias not representable (13-bit mantissa, exponent <= 7)", int(inexact.sum()))
    return mantissa.clamp(-limit, limit), exponent


@dataclass
class CompartmentParams:
    """Per-compartment parameters (1-D int64 tensors, or ints broadcast to all)."""

    du: torch.Tensor
    dv: torch.Tensor
    vth: torch.Tensor
    bias_mant: torch.Tensor
    bias_exp: torch.Tensor

    def check(self):
        """Raise ValueError naming the first parameter outside its hardware width."""
        for name, value, low, high in (
            ("du", self.du, 0, DECAY_UNITY - 1), ("dv", self.dv, 0, DECAY_UNITY - 1),
            ("vth", self.vth, 0, (1 << VTH_BITS) - 1),
            ("bias_mant", self.bias_mant, -(1 << (BIAS_MANT_BITS - 1)) + 1, (1 << (BIAS_MANT_BITS - 1)) - 1),
            ("bias_exp", self.bias_exp, 0, BIAS_EXP_MAX),
        ):
            value = torch.as_tensor(value)
            if (value < low).any() or (value > high).any():
                raise ValueError(f"{name} must lie in [{low}, {high}]")
        return self

    @property
    def threshold(self) -> torch.Tensor:
        return torch.as_tensor(self.vth) << THRESHOLD_SHIFT

    @property
    def bias(self) -> torch.Tensor:
        return torch.as_tensor(self.bias_mant) << torch.as_tensor(self.bias_exp)


def decayed(x: torch.Tensor, keep: torch.Tensor) -> torch.Tensor:
    """trunc12(x * keep) for keep = 4096 - decay in [0, 4096]. Where every keep is 0 (u of a
    non-leaky compartment, du = 4095) that is 0, and where every keep is 4096 (dv = 0) it is x
    itself, so those skip the arithmetic, with the same result."""
    if not keep.any():
        return torch.zeros_like(x)
    if bool((keep == DECAY_UNITY).all()):
        return x
    return trunc12(x * keep)


def integrate(u, v, synaptic_input, params: CompartmentParams, monitor: OverflowMonitor, bias=None):
    """One step's u and v before the threshold test; bias defaults to the params' bias."""
    du, dv = torch.as_tensor(params.du), torch.as_tensor(params.dv)
    u = wrap24(decayed(u, DECAY_UNITY - (du + 1)) + synaptic_input, monitor)
    v = decayed(v, DECAY_UNITY - dv) + u + (params.bias if bias is None else bias)
    monitor.report("v clipped (24-bit)", int((v.abs() > VOLTAGE_LIMIT).sum()))
    return u, v.clamp(-VOLTAGE_LIMIT, VOLTAGE_LIMIT)


def step(u, v, synaptic_input, params: CompartmentParams, monitor: OverflowMonitor, reset: str = "hard"):
    """One time-step of independent compartments: returns (u, v, spikes as bool). The threshold
    test and the reset are hybrid_lstm's neuron rule (neurons.fire, neurons.after_spike): hard
    (the chip's) v = 0 where it spiked; soft (the paper's rule, an idealisation on Loihi 1)
    v -= threshold where it spiked."""
    u, v = integrate(u, v, synaptic_input, params, monitor)
    spikes = fire(v, params.threshold)
    return u, after_spike(v, spikes, params.threshold, reset), spikes


class DenseSynapses:
    """Dense 8-bit synapses: synaptic_input = (spikes @ w^T) << (6 + weight_exp), exact.

    weight: (targets, sources) int, mixed-sign 8-bit (even, in [-256, 254]); weight_exp: one
    exponent for all. The product is hybrid_lstm's ExactProduct of the spikes and w / 2
    (|w / 2| <= 128), shifted one bit further: integer sums, exact in every kernel it picks.
    """

    def __init__(self, weight: torch.Tensor, weight_exp: int = 0):
        weight = weight.long()
        if weight.numel() and (weight.min() < WEIGHT_MIN or weight.max() > WEIGHT_MAX):
            raise ValueError(f"weights must lie in [{WEIGHT_MIN}, {WEIGHT_MAX}] (8-bit)")
        if weight.numel() and (weight % 2).any():
            raise ValueError("mixed-sign 8-bit weights are even (the chip drops their lowest bit)")
        if not WEIGHT_EXP_MIN <= weight_exp <= WEIGHT_EXP_MAX or SYNAPSE_INPUT_SHIFT + weight_exp < 0:
            raise ValueError(f"weight_exp must lie in [{-SYNAPSE_INPUT_SHIFT}, {WEIGHT_EXP_MAX}], got {weight_exp}")
        self.weight = weight
        self.weight_exp = weight_exp
        self._product = ExactProduct(weight // 2)

    def to(self, device):
        return DenseSynapses(self.weight.to(device), self.weight_exp)

    def input(self, spikes: torch.Tensor) -> torch.Tensor:
        """(B, sources) spikes in {0, 1} -> (B, targets) int64 synaptic input to u."""
        batch, (targets, sources) = spikes.shape[0], self.weight.shape
        product = self._product
        padded = torch.zeros(batch, product.fanin, dtype=product.spike_dtype, device=spikes.device)
        padded[:, :sources] = spikes
        out = torch.empty(max(batch, MIN_MATMUL_ROWS), product.columns, dtype=product.out_dtype, device=spikes.device)
        total = product(padded, out)[:batch, :targets].long()
        return total << (SYNAPSE_INPUT_SHIFT + self.weight_exp + 1)
