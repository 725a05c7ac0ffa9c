"""Hybrid analog-spiking LSTM (Ponghiran & Roy, DATE 2021): cells, IF neurons, conversion, hybrid cell.

The library in three calls: hybrid_lstm.nn.LSTM (torch.nn.LSTM's drop-in with the convertible
cell), hybrid_lstm.convert(model, T) (its hybrid), and the energy estimate of loihi_sim.
"""
from . import nn
from .activations import pl1, pl2
from .cells import GATES, BaselineLSTMCell, ModifiedLSTMCell
from .conversion import (
    ENCODER_THRESHOLD,
    SIGMOID_THRESHOLD,
    TANH_THRESHOLD,
    ConvertedWeights,
    convert_cell,
    convert_weights,
)
from .hybrid import HybridLSTMCell, simulate_gates
from .spikes import POPULATIONS, GateSpikeCounts, SpikeRecord
from .model import SequenceClassifier
from .nn import convert
from .neurons import IFNeuron, SignedInputEncoder, TernaryIFNeuron

__all__ = [
    "pl1", "pl2", "GATES", "BaselineLSTMCell", "ModifiedLSTMCell",
    "ENCODER_THRESHOLD", "SIGMOID_THRESHOLD", "TANH_THRESHOLD", "ConvertedWeights", "convert_cell",
    "convert_weights", "POPULATIONS", "GateSpikeCounts", "HybridLSTMCell", "SpikeRecord", "simulate_gates",
    "SequenceClassifier", "IFNeuron", "SignedInputEncoder", "TernaryIFNeuron", "nn", "convert",
]
