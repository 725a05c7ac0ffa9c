"""HybridLSTM: the hybrid analog-spiking form of a modified-cell hybrid_lstm.nn.LSTM.

Each layer is a HybridLSTMCell (hybrid_lstm.snn.hybrid) holding the integer weights of
conversion.convert_weights(W_ih, W_hh, b_ih + b_hh): per time step its gates run as
integrate-and-fire neurons for T SNN steps, and c, h stay analog:
    c_t = clamp(f_bar c_{t-1} + i_bar g_bar, -limit, limit) ;  h_t = o_bar clamp(c_t / 2, -1, 1)
It takes LSTM's forward (tensors or a PackedSequence) and step, and has no gradient.
"""
import torch
from torch import nn

from ..snn.conversion import convert_weights
from ..snn.hybrid import HybridLSTMCell
from ..snn.neurons import DEFAULT_INITIAL_POTENTIAL, DEFAULT_RESET
from .sequence import stepped_layer
from ..snn.spikes import SpikeRecord
from .lstm import LSTM, LayerStack


class HybridLSTM(LayerStack):
    """hybrid_lstm.nn.LSTM(cell="modified") converted at T = n_timestep SNN steps per time step.

    reset "soft" (the paper) or "hard"; initial_potential "one" (V0 = 1, the paper) or "half"
    (V0 = theta / 2); simulation "fast" or "reference" (bit-identical spike counts).
    spike_record: the spikes and neuron updates of every layer since reset_spike_record().
    """

    def __init__(self, lstm: LSTM, n_timestep: int, reset: str = DEFAULT_RESET,
                 initial_potential: str = DEFAULT_INITIAL_POTENTIAL,
                 simulation: str = "fast"):
        super().__init__()
        if not isinstance(lstm, LSTM) or lstm.cell != "modified":
            raise TypeError("HybridLSTM converts a hybrid_lstm.nn.LSTM with cell='modified'")
        self._init_sizes(lstm.input_size, lstm.hidden_size, lstm.num_layers, lstm.batch_first, lstm.dropout,
                         lstm.cell_state_limit)
        device = lstm.weight_ih_l0.device
        self.cells = nn.ModuleList(
            HybridLSTMCell(convert_weights(*lstm.layer_weights(layer)[:2], lstm.layer_bias(layer)),
                           self.layer_input_size(layer), n_timestep, reset, simulation, initial_potential).to(device)
            for layer in range(self.num_layers))
        self.n_timestep = self.cells[0].n_timestep

    @property
    def spike_record(self) -> SpikeRecord:
        return SpikeRecord.merged(cell.spike_record for cell in self.cells)

    def reset_spike_record(self):
        for cell in self.cells:
            cell.reset_spike_record()

    def _cell_step(self, layer: int, x, h, c):
        h, c = self.cells[layer](x, (h, c))
        return h, c.clamp(-self.limit, self.limit)

    @torch.no_grad()
    def _run(self, sequence, h0, c0):
        h_n, c_n, layer_input = [], [], sequence
        for layer in range(self.num_layers):
            outputs, (h, c) = stepped_layer(self.cells[layer], layer_input.transpose(0, 1), (h0[layer], c0[layer]),
                                            self.limit)
            h_n.append(h), c_n.append(c)
            layer_input = self._between_layers(outputs.transpose(0, 1), layer)
        return layer_input, torch.stack(h_n), torch.stack(c_n)

    @torch.no_grad()
    def _run_packed(self, data, batch_sizes: list, h0, c0):
        """Step t advances the first batch_sizes[t] sequences (packing sorts them longest first)."""
        h_n, c_n, layer_input = [], [], data
        for layer in range(self.num_layers):
            h, c, outputs, offset = h0[layer], c0[layer], [], 0
            for batch in batch_sizes:
                h_t, c_t = self._cell_step(layer, layer_input[offset: offset + batch], h[:batch], c[:batch])
                h, c = torch.cat([h_t, h[batch:]]), torch.cat([c_t, c[batch:]])
                outputs.append(h_t)
                offset += batch
            h_n.append(h), c_n.append(c)
            layer_input = self._between_layers(torch.cat(outputs), layer)
        return layer_input, torch.stack(h_n), torch.stack(c_n)

    def extra_repr(self):
        cell = self.cells[0]
        return (super().extra_repr() + f", n_timestep={self.n_timestep}, reset={cell.reset!r}, "
                f"initial_potential={cell.initial_potential!r}, simulation={cell.simulation!r}")
