"""hybrid_lstm.nn.LSTM: torch.nn.LSTM's drop-in, with the paper's convertible cell.

Per layer l, time step t (gate blocks in torch's order i, f, g, o):
    z_t = W_ih x_t + b_ih + W_hh h_{t-1} + b_hh
    cell "modified":  i, f, o = PL1(z) ; g = PL2(z_g) ; h_t = o * PL2(c_t)   (converts to the hybrid)
    cell "baseline":  i, f, o = sigmoid(z) ; g = tanh(z_g) ; h_t = o * tanh(c_t)   (torch.nn.LSTM's math)
    c_t = clamp(f * c_{t-1} + i * g, -limit, limit)   when cell_state_limit is given (1.0: the paper)
Each layer runs on the fused layer of hybrid_lstm.nn.sequence (one compiled kernel per step on
CPU, persistent kernels or CUDA graphs on a GPU), with its hand-written backward.
"""
import torch
from torch import nn
from torch.nn.utils.rnn import PackedSequence

from .cells import paper_init_
from .sequence import NO_LIMIT, _LSTMLayer

CELLS = ("modified", "baseline")


def check_cell(cell: str) -> str:
    if cell not in CELLS:
        raise ValueError(f"cell must be one of {CELLS}, got {cell!r}")
    return cell


def check_cell_state_limit(limit):
    """None (no clamp) or a positive number."""
    if limit is not None and (isinstance(limit, bool) or not isinstance(limit, (int, float)) or not limit > 0):
        raise ValueError(f"cell_state_limit must be None or a positive number, got {limit!r}")
    return limit


def _check_size(name: str, value) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")
    return value


class LayerStack(nn.Module):
    """What LSTM and its hybrid share: the sizes, the input and state layout of torch.nn.LSTM."""

    def _init_sizes(self, input_size, hidden_size, num_layers, batch_first, dropout, cell_state_limit):
        self.input_size = _check_size("input_size", input_size)
        self.hidden_size = _check_size("hidden_size", hidden_size)
        self.num_layers = _check_size("num_layers", num_layers)
        if isinstance(dropout, bool) or not isinstance(dropout, (int, float)) or not 0 <= dropout <= 1:
            raise ValueError(f"dropout must be a number in [0, 1], got {dropout!r}")
        self.batch_first = bool(batch_first)
        self.dropout = float(dropout)
        self.cell_state_limit = check_cell_state_limit(cell_state_limit)

    def layer_input_size(self, layer: int) -> int:
        return self.input_size if layer == 0 else self.hidden_size

    @property
    def limit(self) -> float:
        return NO_LIMIT if self.cell_state_limit is None else float(self.cell_state_limit)

    def _initial_state(self, hx, batch: int, reference: torch.Tensor, unbatched: bool):
        """(h0, c0), each (num_layers, B, H): hx checked against torch.nn.LSTM's shapes, or zeros."""
        shape = (self.num_layers, batch, self.hidden_size)
        if hx is None:
            zeros = reference.new_zeros(shape)
            return zeros, zeros.clone()
        if not isinstance(hx, (tuple, list)) or len(hx) != 2:
            raise ValueError("hx must be a tuple (h_0, c_0)")
        states = []
        for name, state in zip(("h_0", "c_0"), hx):
            if unbatched and isinstance(state, torch.Tensor) and state.dim() == 2:
                state = state.unsqueeze(1)
            if not isinstance(state, torch.Tensor) or tuple(state.shape) != shape:
                expected = shape[:1] + shape[2:] if unbatched else shape
                got = tuple(state.shape) if isinstance(state, torch.Tensor) else type(state).__name__
                raise ValueError(f"{name} must have shape {expected}, got {got}")
            states.append(state.to(reference.dtype))
        return tuple(states)

    def _check_input(self, input: torch.Tensor):
        if not isinstance(input, torch.Tensor) or input.dim() not in (2, 3) or input.shape[-1] != self.input_size:
            got = tuple(input.shape) if isinstance(input, torch.Tensor) else type(input).__name__
            raise ValueError(f"{type(self).__name__}: input must be (L, N, {self.input_size}) "
                             f"{'(batch_first: (N, L, ' + str(self.input_size) + '))' if self.batch_first else ''}"
                             f" or unbatched (L, {self.input_size}), got {got}")
        if not input.is_floating_point():
            raise ValueError(f"{type(self).__name__}: input must be a floating-point tensor, got {input.dtype}")

    def forward(self, input, hx=None):
        """torch.nn.LSTM's forward: input (L, N, D) ((N, L, D) with batch_first, (L, D) unbatched, or a
        PackedSequence); hx = (h_0, c_0), each (num_layers, N, H), zeros when None. Returns
        (output, (h_n, c_n)): output (L, N, H) (or (N, L, H), or a PackedSequence), h_n and c_n
        (num_layers, N, H)."""
        if isinstance(input, PackedSequence):
            return self._forward_packed(input, hx)
        self._check_input(input)
        unbatched = input.dim() == 2
        sequence = input.unsqueeze(1) if unbatched else (input.transpose(0, 1) if self.batch_first else input)
        if sequence.shape[0] == 0:
            raise ValueError(f"{type(self).__name__}: the input sequence is empty")
        h0, c0 = self._initial_state(hx, sequence.shape[1], sequence, unbatched)
        output, h_n, c_n = self._run(sequence.contiguous(), h0, c0)
        if unbatched:
            return output.squeeze(1), (h_n.squeeze(1), c_n.squeeze(1))
        return (output.transpose(0, 1) if self.batch_first else output), (h_n, c_n)

    def _forward_packed(self, packed: PackedSequence, hx):
        data, batch_sizes, sorted_indices, unsorted_indices = packed
        self._check_input(data.unsqueeze(0))
        batch = int(batch_sizes[0])
        h0, c0 = self._initial_state(hx, batch, data, False)
        if sorted_indices is not None:
            h0, c0 = h0.index_select(1, sorted_indices), c0.index_select(1, sorted_indices)
        output, h_n, c_n = self._run_packed(data, batch_sizes.tolist(), h0, c0)
        if unsorted_indices is not None:
            h_n, c_n = h_n.index_select(1, unsorted_indices), c_n.index_select(1, unsorted_indices)
        return PackedSequence(output, batch_sizes, sorted_indices, unsorted_indices), (h_n, c_n)

    def step(self, x_t: torch.Tensor, state=None):
        """One time step for streaming, batch-first or not: x_t (N, D) (or (D,)), state (h, c) each
        (num_layers, N, H) (zeros when None); returns (h_t of the top layer (N, H), (h, c)).
        Stepping a sequence gives forward's outputs exactly."""
        if not isinstance(x_t, torch.Tensor) or x_t.dim() not in (1, 2):
            raise ValueError(f"{type(self).__name__}.step: x_t must be (N, {self.input_size}) or "
                             f"({self.input_size},)")
        along_time = 1 if self.batch_first and x_t.dim() == 2 else 0
        output, state = self.forward(x_t.unsqueeze(along_time), state)
        return output.select(along_time, 0), state

    def _between_layers(self, output: torch.Tensor, layer: int) -> torch.Tensor:
        """Dropout on a layer's outputs before they feed the next layer (training only), as torch.nn.LSTM."""
        if self.dropout and self.training and layer < self.num_layers - 1:
            return nn.functional.dropout(output, self.dropout, training=True)
        return output

    def extra_repr(self):
        text = f"{self.input_size}, {self.hidden_size}"
        text += f", num_layers={self.num_layers}" if self.num_layers != 1 else ""
        text += ", batch_first=True" if self.batch_first else ""
        text += f", dropout={self.dropout:g}" if self.dropout else ""
        text += f", cell_state_limit={self.cell_state_limit:g}" if self.cell_state_limit is not None else ""
        return text


def segments(batch_sizes: list):
    """[(t0, t1, batch)] of a PackedSequence's time steps: the runs of equal batch size."""
    runs, start = [], 0
    for t in range(1, len(batch_sizes) + 1):
        if t == len(batch_sizes) or batch_sizes[t] != batch_sizes[start]:
            runs.append((start, t, batch_sizes[start]))
            start = t
    return runs


class LSTM(LayerStack):
    """torch.nn.LSTM's drop-in: the same constructor arguments (input_size, hidden_size, num_layers,
    bias, batch_first, dropout), forward (tensors or a PackedSequence) and state_dict names
    (weight_ih_l{k} (4H, D_k), weight_hh_l{k} (4H, H), bias_ih_l{k}, bias_hh_l{k} (4H,)), plus

        cell               "modified" (PL1/PL2 gates: hybrid_lstm.convert turns it into the hybrid)
                           or "baseline" (sigmoid/tanh: torch.nn.LSTM's own math)
        cell_state_limit   None (no clamp, torch's) or a bound: c is clamped to [-limit, limit]
                           after every step (1.0: the paper's setting, "to avoid overflow on Loihi")

    Initialisation is the paper's, not torch's: each gate block of every weight orthogonal (gain 1),
    b_ih's forget block 1, every other bias 0. A trained torch.nn.LSTM (bidirectional and proj_size
    aside) loads with load_state_dict, and a baseline layer loads back into torch.nn.LSTM.
    """

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1, bias: bool = True,
                 batch_first: bool = False, dropout: float = 0.0, cell: str = "modified", cell_state_limit=None):
        super().__init__()
        self._init_sizes(input_size, hidden_size, num_layers, batch_first, dropout, cell_state_limit)
        self.bias = bool(bias)
        self.cell = check_cell(cell)
        for layer in range(self.num_layers):
            gates = 4 * hidden_size
            self.register_parameter(f"weight_ih_l{layer}", nn.Parameter(torch.empty(gates, self.layer_input_size(layer))))
            self.register_parameter(f"weight_hh_l{layer}", nn.Parameter(torch.empty(gates, hidden_size)))
            if self.bias:
                self.register_parameter(f"bias_ih_l{layer}", nn.Parameter(torch.empty(gates)))
                self.register_parameter(f"bias_hh_l{layer}", nn.Parameter(torch.empty(gates)))
        self.reset_parameters()

    def reset_parameters(self):
        """cells.paper_init_ per layer: forget bias 1 (in b_ih), every other bias 0."""
        for layer in range(self.num_layers):
            weight_ih, weight_hh, *biases = self.layer_weights(layer)
            if biases:
                paper_init_(weight_ih, weight_hh, *biases)
            else:
                paper_init_(weight_ih, weight_hh, weight_ih.new_zeros(4 * self.hidden_size))

    def layer_weights(self, layer: int) -> tuple:
        """(weight_ih, weight_hh[, bias_ih, bias_hh]) of one layer."""
        names = ("weight_ih", "weight_hh") + (("bias_ih", "bias_hh") if self.bias else ())
        return tuple(getattr(self, f"{name}_l{layer}") for name in names)

    def layer_bias(self, layer: int) -> torch.Tensor:
        """b = b_ih + b_hh (4H,), or zeros without biases."""
        weights = self.layer_weights(layer)
        return weights[2] + weights[3] if self.bias else weights[0].new_zeros(4 * self.hidden_size)

    def _layer(self, layer: int, inputs, h0, c0):
        """One layer over time-major inputs (L, B, D_l): (outputs (L, B, H), h_L, c_L)."""
        weight_ih, weight_hh = self.layer_weights(layer)[:2]
        return _LSTMLayer.apply(inputs, weight_ih, weight_hh, self.layer_bias(layer), h0, c0, self.limit,
                                self.cell == "modified", True)  # per-step projections: step() equals forward

    def _run(self, sequence, h0, c0):
        h_n, c_n, layer_input = [], [], sequence
        for layer in range(self.num_layers):
            if layer_input.dtype != self.weight_ih_l0.dtype:
                raise ValueError(f"LSTM: input is {layer_input.dtype}, the weights {self.weight_ih_l0.dtype}")
            output, h, c = self._layer(layer, layer_input, h0[layer], c0[layer])
            h_n.append(h), c_n.append(c)
            layer_input = self._between_layers(output, layer)
        return output, torch.stack(h_n), torch.stack(c_n)

    def _run_packed(self, data, batch_sizes: list, h0, c0):
        """Each layer over the runs of equal batch size (segments): a sequence's final state is
        kept from the run where it ends; sequences sorted longest first, as packing sorts them."""
        offsets = [0]
        for size in batch_sizes:
            offsets.append(offsets[-1] + size)
        h_n, c_n, layer_input = [], [], data
        for layer in range(self.num_layers):
            h, c, pieces = h0[layer], c0[layer], []
            for t0, t1, batch in segments(batch_sizes):
                inputs = layer_input[offsets[t0]: offsets[t1]].reshape(t1 - t0, batch, -1)
                output, h_end, c_end = self._layer(layer, inputs.contiguous(), h[:batch], c[:batch])
                pieces.append(output.reshape(-1, self.hidden_size))
                h, c = torch.cat([h_end, h[batch:]]), torch.cat([c_end, c[batch:]])
            h_n.append(h), c_n.append(c)
            layer_input = self._between_layers(torch.cat(pieces), layer)
        return layer_input, torch.stack(h_n), torch.stack(c_n)

    @classmethod
    def from_torch(cls, lstm: nn.LSTM, cell: str = "modified", cell_state_limit=None) -> "LSTM":
        """An LSTM with torch.nn.LSTM lstm's sizes and weights: with cell="modified", the start of a
        fine-tuning that makes a trained torch LSTM convertible."""
        if not isinstance(lstm, nn.LSTM):
            raise TypeError(f"LSTM.from_torch takes a torch.nn.LSTM, got {type(lstm).__name__}")
        if lstm.bidirectional or lstm.proj_size:
            raise ValueError("bidirectional LSTMs and proj_size have no hybrid_lstm.nn.LSTM equivalent")
        layer = cls(lstm.input_size, lstm.hidden_size, lstm.num_layers, lstm.bias, lstm.batch_first, lstm.dropout,
                    cell, cell_state_limit)
        layer.load_state_dict(lstm.state_dict())
        return layer.to(lstm.weight_ih_l0)

    def extra_repr(self):
        return super().extra_repr() + (", bias=False" if not self.bias else "") + f", cell={self.cell!r}"


