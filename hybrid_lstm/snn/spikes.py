"""Spike counts of one LSTM step and the running record of spikes per neuron population."""
from typing import NamedTuple

import torch

from ..nn.functional import GATES

POPULATIONS = ("encoder",) + GATES


class GateSpikeCounts(NamedTuple):
    """Spike counts of one LSTM step (T SNN steps), int64.

    encoder: (B, D + H) spikes of either sign per encoder neuron
    i, f, o: (B, H) spikes per sigmoid-type neuron
    g:       (B, H) positive minus negative spikes per tanh-type neuron
    g_spikes:(B, H) positive plus negative spikes per tanh-type neuron
    """

    encoder: torch.Tensor
    i: torch.Tensor
    f: torch.Tensor
    g: torch.Tensor
    o: torch.Tensor
    g_spikes: torch.Tensor


class SpikeRecord:
    """Spikes and neuron updates per population (encoder, i, f, g, o), summed over
    samples, LSTM steps and SNN steps; rate = spikes / updates."""

    def __init__(self):
        self.spikes = dict.fromkeys(POPULATIONS, 0)
        self.updates = dict.fromkeys(POPULATIONS, 0)

    def add(self, counts: GateSpikeCounts, n_timestep: int):
        for population in POPULATIONS:
            tensor = counts.g_spikes if population == "g" else getattr(counts, population)
            self.spikes[population] = self.spikes[population] + tensor.sum()
            self.updates[population] += tensor.numel() * n_timestep

    @classmethod
    def from_totals(cls, totals: dict) -> "SpikeRecord":
        """The record whose totals() is totals (as a results file keeps them)."""
        record = cls()
        for population in POPULATIONS:
            record.spikes[population] = totals[population]["spikes"]
            record.updates[population] = totals[population]["updates"]
        return record

    @classmethod
    def merged(cls, records) -> "SpikeRecord":
        """One record summing every record of records."""
        total = cls()
        for record in records:
            total.merge(record)
        return total

    def merge(self, other: "SpikeRecord"):
        for population in POPULATIONS:
            self.spikes[population] = self.spikes[population] + other.spikes[population]
            self.updates[population] += other.updates[population]

    def totals(self) -> dict:
        """{population: {'spikes': int, 'updates': int}}."""
        return {p: {"spikes": int(self.spikes[p]), "updates": self.updates[p]} for p in POPULATIONS}

    def rates(self) -> dict:
        """{population: spikes per neuron per SNN step}."""
        return {p: int(self.spikes[p]) / self.updates[p] if self.updates[p] else 0.0 for p in POPULATIONS}
