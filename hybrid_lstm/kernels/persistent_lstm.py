"""The fused layer's step loops as two persistent Triton kernels (CUDA): one launch per sequence.

sequence.py's loops issue per time step one product h W_h^T and one element-wise kernel in
each direction; even replayed from a CUDA graph, 784 steps of such small kernels take about
3.7 times cuDNN's time per batch. Here one program owns BLOCK_B batch rows for the whole
sequence and keeps h and c in registers, so a step is four small products and the gate
arithmetic, with no launch at all:

forward, for t = 0 .. L-1 (z_t = W_x x_t + b given):
    z_t += h_{t-1} W_h^T  (per gate block k: h (BLOCK_B, H) . W_h[k]^T (H, H))
    c' = f c_{t-1} + i g ;  h_t = o act(c') ;  c_t = clamp(c', -limit, limit)
    z_t is overwritten with the gate record (z for the ModifiedLSTMCell, the gate values for
    the BaselineLSTMCell), as sequence._step_forward does;
backward, for t = L-1 .. 0, from dh_L and dc_L:
    sequence._step_backward's formulas, then dh_{t-1} = sum_k dz_t[k] W_h[k].

The PL1/PL2 constants and the gate blocks' positions come in as compile-time constants from
nn/functional.py (FUNCTION_CONSTANTS), the one home of both.

The products are float32 (input_precision "ieee": no TF32), so the results equal sequence.py's
to float rounding, not bit for bit (the summation order differs). The hidden size must be a
power of two of at least 16 (tl.dot's and tl.arange's rule); `supported` says whether a layer
qualifies. Where Triton cannot build a kernel for the GPU (KERNEL_ERRORS), sequence.py warns and
replays its step loops from CUDA graphs instead. The tests run both kernels in Triton's
interpreter on the CPU, and compiled on a GPU.
"""
import torch
import triton
import triton.language as tl
from triton.compiler.errors import TritonError as CompilerError
from triton.runtime.errors import TritonError as RuntimeTritonError

from ..nn.functional import GATES, LINEAR_RANGE, PL1, PL2

BLOCK_B = 16  # batch rows per program (tl.dot's smallest M)
NUM_WARPS = 8  # 256 threads per program: a 128 x 128 float32 W_h block is 64 values per thread
KERNEL_ERRORS = (CompilerError, RuntimeTritonError)  # a kernel Triton cannot build or fit on this GPU
# PL1(z) = clamp(S1 z + B1, 0, 1), PL2(z) = clamp(S2 z, -1, 1), slopes on |z| <= RANGE; gate block k at k H
FUNCTION_CONSTANTS = dict(S1=PL1.slope, B1=PL1.offset, S2=PL2.slope, RANGE=LINEAR_RANGE, GATE_I=GATES.index("i"),
                          GATE_F=GATES.index("f"), GATE_G=GATES.index("g"), GATE_O=GATES.index("o"))
assert (PL1.low, PL1.high, PL2.offset, PL2.low, PL2.high) == (0.0, 1.0, 0.0, -1.0, 1.0), "the kernels' clamps"


def supported(z: torch.Tensor, hidden: int) -> bool:
    """A CUDA float32 layer whose hidden size is a power of two >= 16."""
    return z.is_cuda and z.dtype == torch.float32 and hidden >= 16 and hidden & (hidden - 1) == 0


@triton.jit
def _sigmoid_gate(z, MODIFIED: tl.constexpr, S1: tl.constexpr, B1: tl.constexpr):
    if MODIFIED:
        return tl.minimum(tl.maximum(z * S1 + B1, 0.0), 1.0)
    return tl.sigmoid(z)


@triton.jit
def _output_activation(c, MODIFIED: tl.constexpr, S2: tl.constexpr):
    if MODIFIED:
        return tl.minimum(tl.maximum(c * S2, -1.0), 1.0)
    return 2.0 * tl.sigmoid(2.0 * c) - 1.0  # tanh


@triton.jit
def _forward_kernel(z_ptr, h_ptr, c_ptr, w_ptr, steps, batch, limit,
                    HIDDEN: tl.constexpr, BLOCK: tl.constexpr, MODIFIED: tl.constexpr, S1: tl.constexpr, B1: tl.constexpr, S2: tl.constexpr, RANGE: tl.constexpr,
                    GATE_I: tl.constexpr, GATE_F: tl.constexpr, GATE_G: tl.constexpr, GATE_O: tl.constexpr):
    rows = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    units = tl.arange(0, HIDDEN)
    mask = (rows < batch)[:, None]
    state = rows[:, None] * HIDDEN + units[None, :]  # (BLOCK, H) offsets in one step's h or c
    record = rows[:, None] * (4 * HIDDEN) + units[None, :]  # gate block 0 of one step's z
    transposed = units[None, :] * HIDDEN + units[:, None]  # W_h[k]^T as (H in, H out)
    block = HIDDEN * HIDDEN
    h = tl.load(h_ptr + state, mask=mask, other=0.0)
    c = tl.load(c_ptr + state, mask=mask, other=0.0)
    for t in range(steps):
        z = z_ptr + t * batch * 4 * HIDDEN + record
        z_i = tl.load(z + GATE_I * HIDDEN, mask=mask, other=0.0) + tl.dot(
            h, tl.load(w_ptr + GATE_I * block + transposed), input_precision="ieee")
        z_f = tl.load(z + GATE_F * HIDDEN, mask=mask, other=0.0) + tl.dot(
            h, tl.load(w_ptr + GATE_F * block + transposed), input_precision="ieee")
        z_g = tl.load(z + GATE_G * HIDDEN, mask=mask, other=0.0) + tl.dot(
            h, tl.load(w_ptr + GATE_G * block + transposed), input_precision="ieee")
        z_o = tl.load(z + GATE_O * HIDDEN, mask=mask, other=0.0) + tl.dot(
            h, tl.load(w_ptr + GATE_O * block + transposed), input_precision="ieee")
        i = _sigmoid_gate(z_i, MODIFIED, S1, B1)
        f = _sigmoid_gate(z_f, MODIFIED, S1, B1)
        g = _output_activation(z_g, MODIFIED, S2)
        o = _sigmoid_gate(z_o, MODIFIED, S1, B1)
        c_raw = f * c + i * g
        h = o * _output_activation(c_raw, MODIFIED, S2)
        c = tl.minimum(tl.maximum(c_raw, -limit), limit)
        if MODIFIED:
            tl.store(z + GATE_I * HIDDEN, z_i, mask=mask)
            tl.store(z + GATE_F * HIDDEN, z_f, mask=mask)
            tl.store(z + GATE_G * HIDDEN, z_g, mask=mask)
            tl.store(z + GATE_O * HIDDEN, z_o, mask=mask)
        else:
            tl.store(z + GATE_I * HIDDEN, i, mask=mask)
            tl.store(z + GATE_F * HIDDEN, f, mask=mask)
            tl.store(z + GATE_G * HIDDEN, g, mask=mask)
            tl.store(z + GATE_O * HIDDEN, o, mask=mask)
        tl.store(h_ptr + (t + 1) * batch * HIDDEN + state, h, mask=mask)
        tl.store(c_ptr + (t + 1) * batch * HIDDEN + state, c, mask=mask)


@triton.jit
def _backward_kernel(records_ptr, grad_outputs_ptr, c_ptr, w_ptr, dh_ptr, dc_ptr, steps, batch, limit,
                     HIDDEN: tl.constexpr, BLOCK: tl.constexpr, MODIFIED: tl.constexpr, S1: tl.constexpr, B1: tl.constexpr, S2: tl.constexpr, RANGE: tl.constexpr,
                     GATE_I: tl.constexpr, GATE_F: tl.constexpr, GATE_G: tl.constexpr, GATE_O: tl.constexpr):
    rows = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    units = tl.arange(0, HIDDEN)
    mask = (rows < batch)[:, None]
    state = rows[:, None] * HIDDEN + units[None, :]
    record = rows[:, None] * (4 * HIDDEN) + units[None, :]
    straight = units[:, None] * HIDDEN + units[None, :]  # W_h[k] as (H out, H in)
    block = HIDDEN * HIDDEN
    dh = tl.load(dh_ptr + state, mask=mask, other=0.0)
    dc = tl.load(dc_ptr + state, mask=mask, other=0.0)
    for step in range(steps):
        t = steps - 1 - step
        z = records_ptr + t * batch * 4 * HIDDEN + record
        r_i = tl.load(z + GATE_I * HIDDEN, mask=mask, other=0.0)
        r_f = tl.load(z + GATE_F * HIDDEN, mask=mask, other=0.0)
        r_g = tl.load(z + GATE_G * HIDDEN, mask=mask, other=0.0)
        r_o = tl.load(z + GATE_O * HIDDEN, mask=mask, other=0.0)
        if MODIFIED:  # records are z: PL1' = S1 and PL2' = S2 on |z| <= RANGE
            i = _sigmoid_gate(r_i, MODIFIED, S1, B1)
            f = _sigmoid_gate(r_f, MODIFIED, S1, B1)
            g = _output_activation(r_g, MODIFIED, S2)
            o = _sigmoid_gate(r_o, MODIFIED, S1, B1)
            slope_i = tl.where(tl.abs(r_i) <= RANGE, S1, 0.0)
            slope_f = tl.where(tl.abs(r_f) <= RANGE, S1, 0.0)
            slope_g = tl.where(tl.abs(r_g) <= RANGE, S2, 0.0)
            slope_o = tl.where(tl.abs(r_o) <= RANGE, S1, 0.0)
        else:  # records are the gate values
            i = r_i
            f = r_f
            g = r_g
            o = r_o
            slope_i = i * (1.0 - i)
            slope_f = f * (1.0 - f)
            slope_g = 1.0 - g * g
            slope_o = o * (1.0 - o)
        c_prev = tl.load(c_ptr + t * batch * HIDDEN + state, mask=mask, other=0.0)
        dh = dh + tl.load(grad_outputs_ptr + t * batch * HIDDEN + state, mask=mask, other=0.0)
        c_raw = f * c_prev + i * g
        a = _output_activation(c_raw, MODIFIED, S2)
        if MODIFIED:
            slope_a = tl.where(tl.abs(c_raw) <= RANGE, S2, 0.0)
        else:
            slope_a = 1.0 - a * a
        inside = (c_raw >= -limit) & (c_raw <= limit)
        dc_raw = tl.where(inside, dc, 0.0) + dh * o * slope_a
        dz_i = dc_raw * g * slope_i
        dz_f = dc_raw * c_prev * slope_f
        dz_g = dc_raw * i * slope_g
        dz_o = dh * a * slope_o
        dc = dc_raw * f
        tl.store(z + GATE_I * HIDDEN, dz_i, mask=mask)
        tl.store(z + GATE_F * HIDDEN, dz_f, mask=mask)
        tl.store(z + GATE_G * HIDDEN, dz_g, mask=mask)
        tl.store(z + GATE_O * HIDDEN, dz_o, mask=mask)
        dh = tl.dot(dz_i, tl.load(w_ptr + GATE_I * block + straight), input_precision="ieee")
        dh += tl.dot(dz_f, tl.load(w_ptr + GATE_F * block + straight), input_precision="ieee")
        dh += tl.dot(dz_g, tl.load(w_ptr + GATE_G * block + straight), input_precision="ieee")
        dh += tl.dot(dz_o, tl.load(w_ptr + GATE_O * block + straight), input_precision="ieee")
    tl.store(dh_ptr + state, dh, mask=mask)
    tl.store(dc_ptr + state, dc, mask=mask)


def forward_steps(z, h0, c0, weight_hh, limit: float, modified: bool):
    """sequence._forward_steps in one launch: z (L, B, 4H) in, the gate records written over it;
    returns z, h and clamped c (L + 1, B, H)."""
    steps, batch, _ = z.shape
    hidden = weight_hh.shape[1]
    h, c = z.new_zeros(steps + 1, batch, hidden), z.new_zeros(steps + 1, batch, hidden)
    h[0], c[0] = h0, c0
    _forward_kernel[(triton.cdiv(batch, BLOCK_B),)](z, h, c, weight_hh.contiguous(), steps, batch, limit,
                                                   HIDDEN=hidden, BLOCK=BLOCK_B, MODIFIED=modified, num_warps=NUM_WARPS,
                                                   **FUNCTION_CONSTANTS)
    return z, h, c


def backward_steps(grad_outputs, dh, dc, records, c, weight_hh, limit: float, modified: bool):
    """sequence._backward_steps in one launch: returns dz (written over the records), dh_0, dc_0."""
    steps, batch, _ = records.shape
    hidden = weight_hh.shape[1]
    dh, dc = dh.contiguous().clone(), dc.contiguous().clone()
    _backward_kernel[(triton.cdiv(batch, BLOCK_B),)](records, grad_outputs.contiguous(), c, weight_hh.contiguous(),
                                                    dh, dc, steps, batch, limit,
                                                    HIDDEN=hidden, BLOCK=BLOCK_B, MODIFIED=modified,
                                                    num_warps=NUM_WARPS, **FUNCTION_CONSTANTS)
    return records, dh, dc
