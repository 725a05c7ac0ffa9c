"""A whole LSTM layer over a sequence, fast, with a hand-written backward (BPTT).

Same math as stepping a cell (cells.py) over the sequence, c clamped to [-limit, limit]
between steps when a limit is given (SequenceClassifier does):
    z_t = W_x x_t + W_h h_{t-1} + b ;  c'_t = f * c_{t-1} + i * g ;  h_t = o * act(c'_t)
    c_t = clamp(c'_t, -limit, limit)
Forward: the input projections of all steps are one matrix product; each step is one
product h W_h^T plus ONE compiled element-wise kernel, which keeps per step a gate
record: z itself for the ModifiedLSTMCell (its derivatives test |z| <= 2), the gate
values (i, f, g, o) in place of z for the BaselineLSTMCell (its derivatives follow from
them, and the backward then computes one tanh per unit instead of five
transcendentals). Backward, from the records and the saved c_{t-1} (c' recomputed),
reverse in time:
    dc' = dc_t * [-limit <= c' <= limit] + dh_t * o * act'(c')
    di = dc' g ; df = dc' c_{t-1} ; dg = dc' i ; do = dh_t act(c') ; dc_{t-1} = dc' f
    dz = (di, df, dg, do) * gate derivatives ;  dh_{t-1} += dz W_h
and the weight gradients of all steps at once: dW_h = sum_t dz_t^T h_{t-1},
dW_x = sum_t dz_t^T x_t, db = sum_t dz_t, dx_t = dz_t W_x. Gate derivatives are the
cells' own: sigmoid' = s (1 - s), tanh' = 1 - tanh^2, PL1' = 1/4 and PL2' = 1/2 on
|z| <= 2 (endpoints included), else 0 (functional.py).
"""
import warnings

import torch

from .functional import PL1, PL2, gate_blocks
from .cells import BaselineLSTMCell, ModifiedLSTMCell
from ..kernels.compiled import CompiledOrEager
from ..kernels.cuda_graphs import GraphedFunction

try:
    from ..kernels import persistent_lstm
except ImportError:  # no Triton: the step loops below, replayed from CUDA graphs
    persistent_lstm = None

NO_LIMIT = float("inf")


def _sigmoid_gate(z: torch.Tensor, modified: bool):
    """PL1 or sigmoid of z, and its derivative."""
    if modified:
        return PL1.value(z), PL1.derivative(z)
    s = torch.sigmoid(z)
    return s, s * (1 - s)


def _gates(z: torch.Tensor, modified: bool):
    """(i, f, g, o) from z (B, 4H) and their derivatives with respect to z (functional.GATES order)."""
    gates = [(_output_activation if gate == "g" else _sigmoid_gate)(block, modified)
             for gate, block in gate_blocks(z, dim=1).items()]
    return tuple(value for value, _ in gates), tuple(slope for _, slope in gates)


def _output_activation(c: torch.Tensor, modified: bool):
    """PL2 or tanh of c (the g gate and the output activation), and its derivative."""
    if modified:
        return PL2.value(c), PL2.derivative(c)
    a = torch.tanh(c)
    return a, 1 - a * a


def _recorded_gates(record: torch.Tensor, modified: bool):
    """(i, f, g, o) and their derivatives from a step's gate record (z, or the gate values)."""
    if modified:
        return _gates(record, modified)
    i, f, g, o = gate_blocks(record, dim=1).values()
    return (i, f, g, o), (i * (1 - i), f * (1 - f), 1 - g * g, o * (1 - o))


def _step_forward(z, c_prev, limit: float, modified: bool, h_out, c_out):
    """One step from z = W_x x + W_h h + b; writes h into h_out, the clamped c' into c_out
    and, for the BaselineLSTMCell, the gate values over z (the gate record)."""
    (i, f, g, o), _ = _gates(z, modified)
    if not modified:
        for block, gate in zip(gate_blocks(z, dim=1).values(), (i, f, g, o)):
            block.copy_(gate)
    c_raw = f * c_prev + i * g
    h_out.copy_(o * _output_activation(c_raw, modified)[0])
    c_out.copy_(torch.clamp(c_raw, -limit, limit))


def _step_backward(dh_next, grad_output, dc, record, c_prev, limit: float, modified: bool):
    """Overwrite the gate record with dz and return dc_{t-1}; dh_t = dh_next + grad_output,
    dc = gradient of the step's clamped c, c' recomputed from the gates and c_{t-1}."""
    dh = dh_next + grad_output
    (i, f, g, o), (slope_i, slope_f, slope_g, slope_o) = _recorded_gates(record, modified)
    c_raw = f * c_prev + i * g
    a, slope_a = _output_activation(c_raw, modified)
    dc_raw = dc * ((c_raw >= -limit) & (c_raw <= limit)).to(dc.dtype) + dh * o * slope_a
    dz = (dc_raw * g * slope_i, dc_raw * c_prev * slope_f, dc_raw * i * slope_g, dh * a * slope_o)
    dc_prev = dc_raw * f
    for block, gradient in zip(gate_blocks(record, dim=1).values(), dz):  # last: i, f, g, o may be views of record
        block.copy_(gradient)
    return dc_prev


_compiled_step_forward = CompiledOrEager(_step_forward)
_compiled_step_backward = CompiledOrEager(_step_backward)


def _forward_steps(z, h0, c0, weight_hh, limit: float, modified: bool):
    """The recurrence over z (L, B, 4H) = W_x x + b: adds W_h h_{t-1} and overwrites z with
    the gate records; returns z, h and clamped c (L + 1, B, H; index 0 the initial state)."""
    steps, batch, _ = z.shape
    hidden = weight_hh.shape[1]
    h, c = z.new_zeros(steps + 1, batch, hidden), z.new_zeros(steps + 1, batch, hidden)
    h[0], c[0] = h0, c0
    weight_hh_t = weight_hh.t()
    for t in range(steps):
        z[t].addmm_(h[t], weight_hh_t)
        _compiled_step_forward(z[t], c[t], limit, modified, h[t + 1], c[t + 1])
    return z, h, c


def _backward_steps(grad_outputs, dh, dc, records, c, weight_hh, limit: float, modified: bool):
    """Backpropagation through time over the gate records (L, B, 4H), from dh_L and dc_L:
    returns dz (L, B, 4H, written over the records), dh_0 and dc_0."""
    for t in reversed(range(records.shape[0])):
        dc = _compiled_step_backward(dh, grad_outputs[t], dc, records[t], c[t], limit, modified)
        dh = records[t] @ weight_hh
    return records, dh, dc


_graphed_forward_steps = GraphedFunction(_forward_steps)
_graphed_backward_steps = GraphedFunction(_backward_steps)
PERSISTENT_KERNELS = persistent_lstm is not None  # on CUDA: persistent_lstm's kernels where supported


def _run_steps(name: str, graphed_function, z: torch.Tensor, hidden: int, *args):
    """persistent_lstm's function `name` (*args) where the persistent kernels apply (CUDA, a
    power-of-two hidden size, Triton able to build them), else graphed_function(*args)."""
    global PERSISTENT_KERNELS
    if PERSISTENT_KERNELS and persistent_lstm.supported(z, hidden):
        try:
            return getattr(persistent_lstm, name)(*args)
        except persistent_lstm.KERNEL_ERRORS as error:  # raised while building, before any write
            PERSISTENT_KERNELS = False
            reason = str(error).splitlines()[0] if str(error) else ""
            warnings.warn(f"persistent LSTM kernels unavailable ({type(error).__name__}: {reason}); "
                          "replaying the step loops from CUDA graphs")
    return graphed_function(*args)


class _LSTMLayer(torch.autograd.Function):
    """Buffers are written in place, step by step (no per-step copies): z (L, B, 4H, then
    the gate records), and h and clamped c (L + 1, B, H; index 0 the initial state). The
    backward overwrites record t with dz_t once step t is done (so a second backward
    through the same graph is refused by autograd's in-place check). On CUDA the two loops
    run as persistent_lstm's kernels, or else replay CUDA graphs (cuda_graphs.py, which work on
    copies). h and c are allocated zeroed, not empty:
    touching fresh pages for the first time inside the multi-threaded step kernels was
    8x slower per step than one zero fill (CPU)."""

    @staticmethod
    def forward(ctx, inputs, weight_ih, weight_hh, bias, h0, c0, limit: float, modified: bool,
                projection_per_step: bool = False):
        """inputs (L, B, D) time-major -> outputs (L, B, H), h_L, c_L. The input projections
        W_x x_t + b are one (L B, D) product, or with projection_per_step one (B, D) product per
        step, of x_t copied to a fresh (aligned) tensor: a BLAS product's rows can round
        differently with the number of rows and with the operands' alignment, and per step they
        equal those of a one-step call (streaming) exactly. (The buffers of z, h and c are
        slices of one tensor each, so step t's start at 64-byte boundaries where B H is a
        multiple of 16.)"""
        ctx.set_materialize_grads(False)
        steps, batch, _ = inputs.shape
        hidden = weight_hh.shape[1]
        if projection_per_step:
            z = inputs.new_empty(steps, batch, 4 * hidden)
            for t in range(steps):
                torch.addmm(bias, inputs[t].clone(), weight_ih.t(), out=z[t])
        else:
            z = torch.addmm(bias, inputs.reshape(steps * batch, -1), weight_ih.t()).view(steps, batch, 4 * hidden)
        z, h, c = _run_steps("forward_steps", _graphed_forward_steps, z, hidden, z, h0, c0, weight_hh, limit, modified)
        ctx.save_for_backward(inputs, weight_ih, weight_hh, z, h, c)
        ctx.limit, ctx.modified = limit, modified
        return h[1:], h[steps], c[steps]

    @staticmethod
    def backward(ctx, grad_outputs, grad_h, grad_c):
        inputs, weight_ih, weight_hh, z, h, c = ctx.saved_tensors
        steps, batch, _ = inputs.shape
        zeros = torch.zeros_like(h[0])
        grad_outputs = grad_outputs if grad_outputs is not None else zeros.expand(steps, batch, -1)
        dz, dh, dc = _run_steps("backward_steps", _graphed_backward_steps, z, h.shape[2], grad_outputs,
                                grad_h if grad_h is not None else zeros, grad_c if grad_c is not None else zeros,
                                z, c, weight_hh, ctx.limit, ctx.modified)
        dz = dz.view(steps * batch, -1)
        grad_inputs = (dz @ weight_ih).view(inputs.shape) if ctx.needs_input_grad[0] else None
        grad_weight_ih = dz.t() @ inputs.reshape(steps * batch, -1)
        grad_weight_hh = dz.t() @ h[:-1].reshape(steps * batch, -1)
        return grad_inputs, grad_weight_ih, grad_weight_hh, dz.sum(0), dh, dc, None, None, None


def stepped_layer(cell, inputs: torch.Tensor, state, cell_state_limit: float = NO_LIMIT):
    """The plain reference: call cell(x_t, (h, c)) step by step (any cell, hybrid ones
    included), clamping c between steps; returns (outputs (B, L, H), (h_L, c_L))."""
    h, c = state
    outputs = []
    for t in range(inputs.shape[1]):
        h, c = cell(inputs[:, t], (h, c))
        c = c.clamp(-cell_state_limit, cell_state_limit)
        outputs.append(h)
    return torch.stack(outputs, dim=1), (h, c)


def lstm_layer(cell, inputs: torch.Tensor, state, cell_state_limit: float = NO_LIMIT):
    """Run a BaselineLSTMCell or ModifiedLSTMCell over inputs (B, L, D) from state (h, c).

    Returns (outputs (B, L, H), (h_L, c_L)); gradients flow to the cell's parameters,
    the inputs and the initial state. Equal to stepped_layer to float rounding.
    """
    if not isinstance(cell, (BaselineLSTMCell, ModifiedLSTMCell)):
        raise TypeError(f"lstm_layer runs BaselineLSTMCell or ModifiedLSTMCell, got {type(cell).__name__}")
    h0, c0 = state
    outputs, h, c = _LSTMLayer.apply(inputs.transpose(0, 1).contiguous(), cell.weight_ih, cell.weight_hh, cell.bias,
                                     h0, c0, float(cell_state_limit), isinstance(cell, ModifiedLSTMCell))
    return outputs.transpose(0, 1).contiguous(), (h, c)  # contiguous: dropout masks follow memory order

