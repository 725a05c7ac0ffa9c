"""Network layers: torch.nn.LSTM's drop-in with the paper's cells, its hybrid, and convert()."""
from .hybrid import HybridLSTM
from .lstm import CELLS, LSTM
from .model_conversion import convert, reset_spike_record, spike_record

__all__ = ["CELLS", "LSTM", "HybridLSTM", "convert", "spike_record", "reset_spike_record"]
