"""Hybrid analog-spiking LSTM (Ponghiran & Roy, DATE 2021): cells, IF neurons, conversion, hybrid cell.

The library in three calls: hybrid_lstm.nn.LSTM (torch.nn.LSTM's drop-in with the convertible
cell), hybrid_lstm.convert(model, T) (its hybrid), and the energy estimate of loihi_sim.
Subpackages: nn (networks and their functions), snn (neurons, conversion, the hybrid cell and
its simulation backends), kernels (fast exact implementations), runs (data, training, run folders).
"""
from . import nn
from .nn.cells import BaselineLSTMCell, ModifiedLSTMCell
from .nn.functional import GATES, pl1, pl2
from .snn.conversion import (
    ENCODER_THRESHOLD,
    SIGMOID_THRESHOLD,
    TANH_THRESHOLD,
    ConvertedWeights,
    convert_cell,
    convert_weights,
)
from .snn.fast_gates import FastGateSimulator
from .snn.hybrid import SIMULATIONS, HybridLSTMCell, ReferenceSimulation, simulate_gates
from .snn.spikes import POPULATIONS, GateSpikeCounts, SpikeRecord
from .nn.model import SequenceClassifier
from .nn import convert
from .snn.neurons import IFNeuron, SignedInputEncoder, SpikingConfig, TernaryIFNeuron

__all__ = [
    "pl1", "pl2", "GATES", "BaselineLSTMCell", "ModifiedLSTMCell",
    "ENCODER_THRESHOLD", "SIGMOID_THRESHOLD", "TANH_THRESHOLD", "ConvertedWeights", "convert_cell",
    "convert_weights", "POPULATIONS", "GateSpikeCounts", "HybridLSTMCell", "SpikeRecord", "simulate_gates",
    "SequenceClassifier", "IFNeuron", "SignedInputEncoder", "TernaryIFNeuron", "nn", "convert",
    "SpikingConfig", "SIMULATIONS", "ReferenceSimulation", "FastGateSimulator",
]
