"""The sequence classifier of the sequential-MNIST experiments (stacked LSTM cells + Linear)."""
import copy
import math

import torch
from torch import nn

from .cells import CELL_CLASSES, BaselineLSTMCell, ModifiedLSTMCell
from ..snn.hybrid import HybridLSTMCell
from ..snn.neurons import DEFAULT_INITIAL_POTENTIAL, DEFAULT_RESET
from .sequence import NO_LIMIT, lstm_layer, stepped_layer
from ..snn.spikes import SpikeRecord

CELL_STATE_LIMIT = 1.0  # c is clamped to [-1, 1] after every LSTM step ("to avoid overflow on Loihi")
PARAMETER_LIMIT = 1.0  # every weight and bias is clamped to [-1, 1] after every optimizer step


class SequenceClassifier(nn.Module):
    """num_layers stacked cells over a (B, L, D) sequence; logits = Linear(final h of the top layer).

    clamps (the paper's, default): c is clamped to [-1, 1] after every LSTM step and every weight
    and bias to [-1, 1] after every optimizer step; without them neither is (a diagnostic: a
    sigmoid cell is never converted, so it does not need Loihi's ranges).
    Dropout acts on the stacked outputs of a layer before they feed the next layer; the
    classifier reads the final h before dropout (so with one layer dropout has no effect).
    """

    def __init__(self, cell_class: str, input_size: int, hidden_size: int, num_layers: int = 1,
                 num_classes: int = 10, dropout: float = 0.0, clamps: bool = True):
        super().__init__()
        self.clamps = bool(clamps)  # the paper's clamps of c and of the parameters (Loihi's ranges)
        if cell_class not in CELL_CLASSES:
            raise ValueError(f"unknown cell class {cell_class!r}; choose from {sorted(CELL_CLASSES)}")
        if num_layers < 1:
            raise ValueError(f"num_layers must be >= 1, got {num_layers}")
        cell = CELL_CLASSES[cell_class]
        sizes = [input_size] + [hidden_size] * (num_layers - 1)
        self.cells = nn.ModuleList(cell(size, hidden_size) for size in sizes)
        self.dropout = nn.Dropout(dropout)
        self.classifier = nn.Linear(hidden_size, num_classes)
        bound = 1.0 / math.sqrt(hidden_size)
        nn.init.uniform_(self.classifier.weight, -bound, bound)
        nn.init.uniform_(self.classifier.bias, -bound, bound)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        layer_input = x
        for index, cell in enumerate(self.cells):
            if index > 0:
                layer_input = self.dropout(layer_input)
            state = cell.init_state(x.shape[0], x.device, x.dtype)
            run_layer = lstm_layer if isinstance(cell, (BaselineLSTMCell, ModifiedLSTMCell)) else stepped_layer
            layer_input, state = run_layer(cell, layer_input, state, CELL_STATE_LIMIT if self.clamps else NO_LIMIT)
        return self.classifier(state[0])

    def clamp_parameters_(self):
        """Clamp every weight and bias to [-1, 1] in place (after each optimizer step), with clamps."""
        if not self.clamps:
            return
        with torch.no_grad():
            for parameter in self.parameters():
                parameter.clamp_(-PARAMETER_LIMIT, PARAMETER_LIMIT)

    def with_cells(self, make_cell) -> "SequenceClassifier":
        """A copy whose every LSTM layer is make_cell(trained cell): the one way to swap cells."""
        swapped = copy.deepcopy(self)
        swapped.cells = nn.ModuleList(make_cell(cell) for cell in self.cells)
        return swapped

    def to_hybrid(self, n_timestep: int, reset: str = DEFAULT_RESET, simulation: str = "fast",
                  initial_potential: str = DEFAULT_INITIAL_POTENTIAL) -> "SequenceClassifier":
        """A copy whose every LSTM layer is converted to a HybridLSTMCell at T = n_timestep."""
        return self.with_cells(lambda cell: HybridLSTMCell.from_cell(cell, n_timestep, reset, simulation,
                                                                     initial_potential))

    def spike_record(self) -> SpikeRecord:
        """Spikes of all hybrid layers since their last reset_spike_record()."""
        return SpikeRecord.merged(cell.spike_record for cell in self.cells)

    def reset_spike_record(self):
        for cell in self.cells:
            cell.reset_spike_record()
