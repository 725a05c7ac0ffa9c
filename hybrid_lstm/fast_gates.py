"""Fast simulation of the encoder and gate neurons of one LSTM step, bit-identical to
hybrid.simulate_gates (the reference, kept as the oracle and checked against this in the tests).

Three changes, each chosen by measurement on a 2-core AVX-512 CPU (benchmarks/bench_hybrid.py):

1. Encoder in closed form. Under a constant |q| and V starting at 1, the count after tau
   SNN steps is
       soft reset:  N(tau) = floor(tau * min(|q|, theta) / theta)
       hard reset:  N(tau) = 0 if tau < a else 1 + floor((tau - a) / p),
                    a = ceil(theta / |q|), p = floor(theta / |q|) + 1   (N = 0 when q = 0)
   (soft: the neuron fires at tau iff tau*|q| >= theta * (N(tau-1) + 1), and |q| <= theta
   adds at most one spike per step; |q| >= theta fires every step. hard: the first spike
   needs 1 + tau*|q| > theta, later ones p steps of |q| from 0.) The spikes of a whole
   chunk of SNN steps, s(tau) = sign(q) * (N(tau) - N(tau-1)), come out of one compiled
   element-wise expression (_encoder_spikes).
2. Synaptic currents of a chunk of SNN steps as ONE int8 matrix product. Converted
   weights are even and |W^| <= 254, so W^ / 2 fits int8; spikes are ternary; the
   products accumulate in int32 and I = 2 * (s . W^/2) + b^ is exact. torch._int_mm
   (fan-in padded to a multiple of 8) ran about 6x faster than a float32 matmul of the
   same shape here, and float32 would be exact only while |sums| < 2^24.
3. Gate neurons as one compiled kernel per 32 SNN steps. The threshold/reset recursion
   is sequential in tau but element-wise, so torch.compile fuses 32 steps into one loop
   over the neurons (10x faster than eager torch here). The four gate blocks share one
   potential tensor: an i/f/o neuron is the g neuron's rule without a lower threshold.
   For the g neuron only V+ is kept: V- = K - V+, with K = 2 from the start and K = 0
   once a hard reset has set both to 0 (a soft reset keeps V+ + V- constant), so
   "V- > theta" is "V+ < K - theta".

Working set: the chunk of SNN steps is sized so that its currents stay near
CHUNK_ELEMENTS int32 values, whatever T and the batch size; the spike and product
buffers are reused from one LSTM step to the next (fresh multi-MiB buffers cost more in
page faults than the products themselves on CPU).
"""
import torch
from torch import nn

from .compiled import CompiledOrEager
from .conversion import ENCODER_THRESHOLD, SIGMOID_THRESHOLD, TANH_THRESHOLD, WEIGHT_LIMIT, ConvertedWeights
from .neurons import INITIAL_POTENTIAL, check_reset
from .spikes import GateSpikeCounts

STEPS_PER_KERNEL = 32
CHUNK_ELEMENTS = 1 << 21  # int32 currents per chunk of SNN steps (8 MiB)
INT32_MAX = 2**31 - 1
assert ENCODER_THRESHOLD & (ENCODER_THRESHOLD - 1) == 0, "_encoder_spikes takes mod theta as a bit mask"
NO_LOWER_THRESHOLD = -(2**31)  # i, f, o neurons never fire "negative"


def _round_up(value: int, multiple: int) -> int:
    return -(-value // multiple) * multiple


def _encoder_magnitudes(q_abs: torch.Tensor, reset: str, threshold: int):
    """|q| clamped where larger values behave alike, and the hard-reset train's (a, p)."""
    if reset == "soft":
        return q_abs.clamp(max=threshold), None, None
    q_abs = q_abs.clamp(max=threshold + 1)  # any |q| > theta fires at every step
    divisor = q_abs.clamp(min=1)
    first = torch.where(q_abs > 0, (threshold + divisor - 1) // divisor, INT32_MAX)
    return q_abs, first, threshold // divisor + 1


def encoder_counts(q_abs: torch.Tensor, taus: torch.Tensor, reset: str, threshold: int = ENCODER_THRESHOLD):
    """N(tau): spikes of encoders with input magnitudes q_abs (any shape, int32) after each
    tau in taus (int32, (K,)); returns (K, *q_abs.shape) int32. Closed forms in the module doc."""
    taus = taus.view((-1,) + (1,) * q_abs.dim())
    q_abs, first, period = _encoder_magnitudes(q_abs, reset, threshold)
    if reset == "soft":
        return taus * q_abs // threshold
    return torch.where(taus >= first, 1 + (taus - first) // period, 0)


def _encoder_spikes(q_abs, q_sign, first, period, taus, threshold: int, hard_reset: bool, out):
    """s(tau) = sign(q) * (N(tau) - N(tau - 1)) for each tau in taus, written into out ((K, B, F) int8).

    soft: a spike iff (tau * |q|) mod theta < |q| (|q| <= theta; theta a power of two, so
    the mod is a bit mask); hard: iff tau >= a and (tau - a) mod p = 0. (q_sign is int32:
    int8 arithmetic vectorises poorly, 10x slower here; only the store is int8.)"""
    taus = taus.view(-1, 1, 1)
    if hard_reset:
        spiking = (taus >= first) & ((taus - first) % period == 0)
    else:
        spiking = (taus * q_abs) & (threshold - 1) < q_abs
    return out.copy_(torch.where(spiking, q_sign, 0))


_compiled_encoder_spikes = CompiledOrEager(_encoder_spikes)


MIN_MATMUL_ROWS = 17  # torch._int_mm on CUDA needs more than 16 rows


def int8_matmul(spikes: torch.Tensor, weight_t: torch.Tensor, out: torch.Tensor) -> torch.Tensor:
    """(M, K) int8 @ (K, N) int8 -> (M, N) int32, exact, written into the first rows of out
    ((max(M, 17), N) int32, reused: a fresh multi-MiB output costs more in page faults
    than the product itself on CPU). The caller pads K and N to multiples of 8 (CUDA)."""
    rows = spikes.shape[0]
    if rows < MIN_MATMUL_ROWS:
        spikes = torch.cat([spikes, spikes.new_zeros(MIN_MATMUL_ROWS - rows, spikes.shape[1])])
    product_rows = max(rows, MIN_MATMUL_ROWS)
    return torch._int_mm(spikes, weight_t, out=out[:product_rows])[:rows]


def _gate_steps(potential, lower, net, fired_count, products, bias, upper, threshold, lower_after_reset,
                hard_reset: bool):
    """Advance every gate neuron over the SNN steps of products ((K, B, N) int32 = s . W^/2).

    For each step: V <- V + 2 * products + b^ ; p = [V > upper] ; n = [V < lower] ;
    soft reset V <- V - theta * (p - n) ; hard reset V <- 0 and lower <- lower_after_reset
    where p or n ; net += p - n ; fired_count += p + n. All int32, (B, N)."""
    for step in range(products.shape[0]):
        potential = potential + 2 * products[step] + bias
        positive = potential > upper
        negative = potential < lower
        output = positive.to(torch.int32) - negative.to(torch.int32)
        fired = positive | negative
        if hard_reset:
            potential = torch.where(fired, 0, potential)
            lower = torch.where(fired, lower_after_reset, lower)
        else:
            potential = potential - threshold * output
        net = net + output
        fired_count = fired_count + fired.to(torch.int32)
    return potential, lower, net, fired_count


_compiled_gate_steps = CompiledOrEager(_gate_steps)


class FastGateSimulator(nn.Module):
    """simulate_gates(u, weights, n_timestep, reset), fast and bit-identical; call it with u.

    Buffers (not saved in state dicts): weight_half (N, F) int8 = W^ / 2 padded to multiples
    of 8, bias (N,) int32, and per gate column the thresholds upper / threshold and the
    lower thresholds before and after a hard reset.
    """

    def __init__(self, weights: ConvertedWeights, n_timestep: int, reset: str = "soft"):
        super().__init__()
        weight, bias = weights.weight.long(), weights.bias.long()
        if (weight % 2).any() or weight.abs().max() > WEIGHT_LIMIT:
            raise ValueError(f"the fast simulation needs even weights in [-{WEIGHT_LIMIT}, {WEIGHT_LIMIT}] "
                             "(as conversion.quantize_weight makes); use the reference simulation")
        self.n_timestep = int(n_timestep)
        self.reset = check_reset(reset)
        hidden4, self.fanin = weight.shape
        hidden = hidden4 // 4
        max_current = int((weight.abs().sum(1) + bias.abs()).max())
        bound = INITIAL_POTENTIAL + SIGMOID_THRESHOLD + self.n_timestep * max_current
        if bound > INT32_MAX or self.n_timestep * (ENCODER_THRESHOLD + 1) > INT32_MAX:
            raise ValueError(f"T = {self.n_timestep} with currents up to {max_current} could overflow the int32 "
                             "potentials of the fast simulation; use the reference simulation")
        columns, fanin = _round_up(hidden4, 8), max(16, _round_up(self.fanin, 8))
        weight_half = torch.zeros(columns, fanin, dtype=torch.int8, device=weight.device)
        weight_half[:hidden4, : self.fanin] = (weight // 2).to(torch.int8)

        def per_gate(sigmoid: int, tanh: int) -> torch.Tensor:
            """(columns,) int32: the i, f, o blocks get sigmoid, the g block tanh, padding 0."""
            values = [sigmoid] * 2 * hidden + [tanh] * hidden + [sigmoid] * hidden + [0] * (columns - hidden4)
            return torch.tensor(values, dtype=torch.int32, device=weight.device)

        self.register_buffer("weight_half", weight_half, persistent=False)
        self.register_buffer("bias", torch.cat([bias, bias.new_zeros(columns - hidden4)]).int(), persistent=False)
        self.register_buffer("upper", per_gate(SIGMOID_THRESHOLD, TANH_THRESHOLD), persistent=False)
        self.register_buffer("threshold", self.upper.clone(), persistent=False)
        self.register_buffer("lower_start", per_gate(NO_LOWER_THRESHOLD, 2 * INITIAL_POTENTIAL - TANH_THRESHOLD),
                             persistent=False)
        self.register_buffer("lower_after_reset", per_gate(NO_LOWER_THRESHOLD, -TANH_THRESHOLD), persistent=False)
        self.hidden = hidden
        self._workspace_key = self._workspace = None

    def chunk_steps(self, batch_size: int) -> int:
        """SNN steps per matrix product: a multiple of STEPS_PER_KERNEL, about CHUNK_ELEMENTS currents."""
        per_step = batch_size * self.weight_half.shape[0]
        return STEPS_PER_KERNEL * max(1, CHUNK_ELEMENTS // (STEPS_PER_KERNEL * per_step))

    def workspace(self, rows: int, device):
        """Reused (rows, F) int8 spike and (max(rows, 17), N) int32 product buffers."""
        columns, fanin = self.weight_half.shape
        key = (rows, device)
        if self._workspace_key != key:
            self._workspace = (torch.empty(rows, fanin, dtype=torch.int8, device=device),
                               torch.empty(max(rows, MIN_MATMUL_ROWS), columns, dtype=torch.int32, device=device))
            self._workspace_key = key
        return self._workspace

    def forward(self, u: torch.Tensor):
        batch, device = u.shape[0], u.device
        columns, fanin = self.weight_half.shape
        # q = round(2048 u); |u| >= 2 gives |q| > theta + 1, which fires at every step like any larger |q|
        q = torch.round(u.clamp(-2, 2) * ENCODER_THRESHOLD).int()
        q = torch.cat([q, q.new_zeros(batch, fanin - self.fanin)], dim=1)
        q_sign = q.sign()
        q_abs, first, period = _encoder_magnitudes(q.abs(), self.reset, ENCODER_THRESHOLD)
        if first is None:
            first = period = q_abs  # unused by the soft-reset train

        potential = torch.full((batch, columns), INITIAL_POTENTIAL, dtype=torch.int32, device=device)
        lower = self.lower_start.expand(batch, columns).clone()
        net = torch.zeros_like(potential)
        fired_count = torch.zeros_like(potential)
        hard = self.reset == "hard"
        weight_t = self.weight_half.t()
        chunk = self.chunk_steps(batch)
        spikes_int8, products_buffer = self.workspace(chunk * batch, device)
        for start in range(0, self.n_timestep, chunk):
            taus = torch.arange(start + 1, min(start + chunk, self.n_timestep) + 1, dtype=torch.int32, device=device)
            rows = len(taus) * batch
            spikes = spikes_int8[:rows]
            _compiled_encoder_spikes(q_abs, q_sign, first, period, taus, ENCODER_THRESHOLD, hard,
                                     spikes.view(len(taus), batch, fanin))
            products = int8_matmul(spikes, weight_t, products_buffer).view(len(taus), batch, columns)
            full = len(taus) // STEPS_PER_KERNEL * STEPS_PER_KERNEL
            state = (potential, lower, net, fired_count)
            for step in range(0, full, STEPS_PER_KERNEL):
                state = _compiled_gate_steps(*state, products[step: step + STEPS_PER_KERNEL], self.bias, self.upper,
                                             self.threshold, self.lower_after_reset, hard)
            if full < len(taus):  # a tail shorter than one kernel: the same function, eagerly
                state = _gate_steps(*state, products[full:], self.bias, self.upper, self.threshold,
                                    self.lower_after_reset, hard)
            potential, lower, net, fired_count = state

        hidden = self.hidden
        net, fired_count = net[:, : 4 * hidden].long(), fired_count[:, : 4 * hidden].long()
        i, f, g, o = net.chunk(4, dim=1)
        encoder = encoder_counts(q.abs()[:, : self.fanin], taus[-1:], self.reset)[0].long()
        return GateSpikeCounts(encoder, i, f, g, o, fired_count[:, 2 * hidden: 3 * hidden])
