"""Fast simulation of the encoder and gate neurons of one LSTM step, bit-identical to
hybrid.simulate_gates (the reference, kept as the oracle and checked against this in the tests).

Three changes, each chosen by measurement (benchmarks/bench_hybrid.py):

1. Encoder in closed form. Under a constant |q| and V starting at V0 (neurons.start_potential),
   the count after tau SNN steps is
       soft reset:  N(tau) = floor((V0 - 1 + tau * min(|q|, theta)) / theta)
       hard reset:  N(tau) = 0 if tau < a else 1 + floor((tau - a) / p),
                    a = floor((theta - V0) / |q|) + 1, p = floor(theta / |q|) + 1   (N = 0 when q = 0)
   (soft: with integers, V > theta n  <=>  V - 1 >= theta n, and |q| <= theta adds at most
   one spike per step (V0 <= theta / 2 + 1 keeps V below 2 theta); |q| >= theta fires every step.
   hard: the first spike needs V0 + tau |q| > theta, later ones p steps of |q| from 0.) The spikes
   of a whole chunk of SNN steps, s(tau) = sign(q) * (N(tau) - N(tau - 1)), come out of one
   compiled element-wise expression (_encoder_spikes).
2. Synaptic currents of a chunk of SNN steps as ONE matrix product, exact, by the fastest
   kernel of kernels/exact_product.py for this device and shape (int8, fbgemm or float32).
3. Gate neurons as one compiled kernel per 32 (or 16, 8, 4) SNN steps. The threshold/reset recursion
   (neurons.fire, neurons.after_spike) is sequential in tau but element-wise, so torch.compile
   fuses 32 steps into one loop over the neurons (the step's first kernel also computes its start and
   first encoder spikes, its last one the spike counts: fewer calls, each costing tens of us on CPU
   in torch.compile's dispatch). The four gate blocks share one potential
   tensor: an i/f/o neuron is the g neuron's rule without a lower threshold. For the g neuron
   only V+ is kept: V- = K - V+, with K = 2 V0 from the start and K = 0 once a hard reset has
   set both to 0 (a soft reset keeps V+ + V- constant), so "V- > theta" is the same strict
   test as "K - theta > V+": fire(lower, V+) with lower = K - theta.

On CPUs, steps 2 and 3 have an event-driven alternative (kernels/event_gates.py): each spike adds
its weight row to the currents and the gate neurons step in the same C loop, d F N adds per row at
spike density d instead of F N multiply-adds. Which one runs is chosen per call (kernel "auto"): the
encoders' density is bounded by d <= mean(min(|q|, theta)) / theta (a hard reset fires less
often), and the event kernel runs where its cost, linear in d and timed at d = 0 and 1/2 against
the dense path once per process and shape (interleaved rounds, best of each), is the lower.

Working set: the chunk of SNN steps is sized so that its currents stay near
CHUNK_ELEMENTS values, whatever T and the batch size; the spike and product buffers are
reused from one LSTM step to the next (fresh multi-MiB buffers cost more in page faults
than the products themselves on CPU; FBGEMM allocates its own result, hence
keep_freed_memory_in_heap). The prepared weights are rebuilt whenever the
converted weights they come from change (a new tensor, or an in-place change such as
load_state_dict).
"""
import os
import threading
import time

import torch

from ..kernels import event_gates
from ..kernels.compiled import CompiledOrEager
from ..kernels.cuda_graphs import GraphedFunction
from ..kernels.exact_product import (EVENT_KERNEL, FLOAT32_EXACT_FANIN, KERNEL_ENVIRONMENT, MIN_MATMUL_ROWS,
                                     PRODUCT_KERNELS, ExactProduct, choose_product_kernel, round_up)
from ..nn.functional import GATES, gate_blocks
from .conversion import (ENCODER_THRESHOLD, SIGMOID_THRESHOLD, TANH_THRESHOLD, WEIGHT_LIMIT, ConvertedWeights,
                         version_key)
from .neurons import SignedInputEncoder, SpikingConfig, after_spike, fire
from .spikes import GateSpikeCounts

KERNEL_STEPS = (32, 16, 8, 4)  # SNN steps per compiled gate kernel: the largest that fits first (T = 8: one kernel of 8)
STEPS_PER_KERNEL = KERNEL_STEPS[0]
CHUNK_ELEMENTS = 1 << 21  # currents per chunk of SNN steps (8 MiB)
INT32_MAX = 2**31 - 1
assert ENCODER_THRESHOLD & (ENCODER_THRESHOLD - 1) == 0, "_encoder_spikes takes mod theta as a bit mask"
NO_LOWER_THRESHOLD = -(2**31)  # i, f, o neurons never fire "negative"
PER_COLUMN = ("bias", "threshold", "start", "lower_start", "lower_after_reset")  # prepared (columns,) int32 tensors
SIMULATION_KERNELS = PRODUCT_KERNELS + (EVENT_KERNEL,)
PROBE_BATCH = 128  # samples of the probes that time the event kernel against the dense path


def _encoder_magnitudes(q_abs: torch.Tensor, reset: str, threshold: int, v0: int):
    """|q| clamped where larger values behave alike, and the hard-reset train's (a, p)."""
    if reset == "soft":
        return q_abs.clamp(max=threshold), None, None
    q_abs = q_abs.clamp(max=threshold + 1)  # any |q| > theta fires at every step
    divisor = q_abs.clamp(min=1)
    first = torch.where(q_abs > 0, (threshold - v0) // divisor + 1, INT32_MAX)
    return q_abs, first, threshold // divisor + 1


def encoder_counts(q_abs: torch.Tensor, taus: torch.Tensor, reset: str, v0: int, threshold: int = ENCODER_THRESHOLD):
    """N(tau): spikes of encoders with input magnitudes q_abs (any shape, int32) and initial
    potential v0 after each tau in taus (int32, (K,)); returns (K, *q_abs.shape) int32. Closed
    forms in the module doc."""
    taus = taus.view((-1,) + (1,) * q_abs.dim())
    q_abs, first, period = _encoder_magnitudes(q_abs, reset, threshold, v0)
    if reset == "soft":
        return (v0 - 1 + taus * q_abs) // threshold
    return torch.where(taus >= first, 1 + (taus - first) // period, 0)


def _encoder_spikes(q_abs, q_sign, first, period, taus, offset: int, threshold: int, hard_reset: bool, out):
    """s(tau) = sign(q) * (N(tau) - N(tau - 1)) for each tau in taus, written into out ((K, B, F)).

    soft: a spike iff (V0 - 1 + tau |q|) mod theta < |q| (|q| <= theta; theta a power of two,
    so the mod is a bit mask; offset = V0 - 1); hard: iff tau >= a and (tau - a) mod p = 0.
    (q_sign is int32: int8 arithmetic vectorises poorly; only the store converts.)"""
    taus = taus.view(-1, 1, 1)
    if hard_reset:
        spiking = (taus >= first) & ((taus - first) % period == 0)
    else:
        spiking = (offset + taus * q_abs) & (threshold - 1) < q_abs
    return out.copy_(torch.where(spiking, q_sign, 0))


_compiled_encoder_spikes = CompiledOrEager(_encoder_spikes)


def _lstm_step_start(u, start, lower_start, fanin: int, reset: str, threshold: int, v0: int):
    """What an LSTM step starts from. The encoders' inputs: q = round(theta clamp(u, -2, 2))
    (SignedInputEncoder.quantize) padded with zeros to fanin columns (int32), its sign and
    _encoder_magnitudes of |q| (first and period: |q| where the reset does not use them). The gate
    neurons' state ((B, N) int32): V = start, lower = lower_start (per column), net and fired counts 0."""
    q = torch.nn.functional.pad(SignedInputEncoder(threshold).quantize(u, torch.int32), (0, fanin - u.shape[1]))
    q_abs, first, period = _encoder_magnitudes(q.abs(), reset, threshold, v0)
    potential = start.expand(u.shape[0], -1).clone()
    state = (potential, lower_start.expand(u.shape[0], -1).clone(), torch.zeros_like(potential),
             torch.zeros_like(potential))
    return (q.sign(), q_abs, q_abs if first is None else first, q_abs if period is None else period) + state


_compiled_lstm_step_start = CompiledOrEager(_lstm_step_start)


def _lstm_step_start_and_spikes(u, start, lower_start, fanin: int, reset: str, threshold: int, v0: int, taus, out):
    """_lstm_step_start, then the first chunk's encoder spikes (_encoder_spikes at taus, into out):
    one compiled call instead of two."""
    begun = _lstm_step_start(u, start, lower_start, fanin, reset, threshold, v0)
    q_sign, q_abs, first, period = begun[:4]
    _encoder_spikes(q_abs, q_sign, first, period, taus, v0 - 1, threshold, reset == "hard", out)
    return begun


_compiled_lstm_step_start_and_spikes = CompiledOrEager(_lstm_step_start_and_spikes)


def _spike_counts(net, fired_count, q_abs, true_fanin: int, hidden: int, n_timestep: int, reset: str, threshold: int,
                  v0: int):
    """(encoder, i, f, g, o, g fired) int64 counts from the gate totals (B, columns), and the encoders' after T
    steps from their |q| (encoder_counts)."""
    net, fired_count = net[:, : 4 * hidden].long(), fired_count[:, : 4 * hidden].long()
    i, f, g, o = gate_blocks(net, dim=1).values()
    taus = torch.full((1,), n_timestep, dtype=torch.int32, device=net.device)
    encoder = encoder_counts(q_abs[:, :true_fanin], taus, reset, v0, threshold)[0].long()
    return encoder, i, f, g, o, gate_blocks(fired_count, dim=1)["g"]


_compiled_spike_counts = CompiledOrEager(_spike_counts)


def _gate_steps(potential, lower, net, fired_count, products, bias, threshold, lower_after_reset, reset: str):
    """Advance every gate neuron over the SNN steps of products ((K, B, N) = s . W^/2, int32 or
    float32 holding integers). For each step:
    V <- V + 2 * products + b^ ; p = fire(V, theta) ; n = fire(lower, V) (module doc) ;
    V <- after_spike(V, p - n) ; after a hard reset lower <- lower_after_reset where p or n ;
    net += p - n ; fired_count += p + n. All int32, (B, N)."""
    for step in range(products.shape[0]):
        potential = potential + 2 * products[step].to(torch.int32) + bias
        positive = fire(potential, threshold)
        negative = fire(lower, potential)
        output = positive.to(torch.int32) - negative.to(torch.int32)
        fired = positive | negative
        potential = after_spike(potential, output, threshold, reset)
        if reset == "hard":
            lower = torch.where(fired, lower_after_reset, lower)
        net = net + output
        fired_count = fired_count + fired.to(torch.int32)
    return potential, lower, net, fired_count


_compiled_gate_steps = CompiledOrEager(_gate_steps)


def _last_gate_steps_and_counts(potential, lower, net, fired_count, products, bias, threshold, lower_after_reset,
                                reset: str, q_abs, true_fanin: int, hidden: int, n_timestep: int,
                                encoder_threshold: int, v0: int):
    """The LSTM step's last _gate_steps, then its _spike_counts: one compiled call instead of two."""
    _, _, net, fired_count = _gate_steps(potential, lower, net, fired_count, products, bias, threshold,
                                         lower_after_reset, reset)
    return _spike_counts(net, fired_count, q_abs, true_fanin, hidden, n_timestep, reset, encoder_threshold, v0)


_compiled_last_gate_steps_and_counts = CompiledOrEager(_last_gate_steps_and_counts)


def kernel_segments(n_steps: int) -> list:
    """(start, length) of the gate kernels over n_steps SNN steps: the largest of KERNEL_STEPS that
    fits first, then a tail shorter than any (run eagerly)."""
    segments, step = [], 0
    for steps in KERNEL_STEPS:
        while step + steps <= n_steps:
            segments.append((step, steps))
            step += steps
    return segments + ([(step, n_steps - step)] if step < n_steps else [])


def check_fast_weights(weights: ConvertedWeights, config: SpikingConfig):
    """Refuse weights or a T the fast simulation cannot represent exactly (ValueError)."""
    weight, bias = weights.weight.long(), weights.bias.long()
    if weight.numel() and ((weight % 2).any() or weight.abs().max() > WEIGHT_LIMIT):
        raise ValueError(f"the fast simulation needs even weights in [-{WEIGHT_LIMIT}, {WEIGHT_LIMIT}] "
                         "(as conversion.quantize_weight makes); use the reference simulation")
    if weight.dim() != 2 or bias.shape != (weight.shape[0],) or weight.shape[0] % 4:
        raise ValueError(f"converted weights must be (4H, F) with a (4H,) bias, got {tuple(weight.shape)} and "
                         f"{tuple(bias.shape)}")
    if weight.shape[1] > FLOAT32_EXACT_FANIN:
        raise ValueError(f"the fast simulation handles fan-ins up to {FLOAT32_EXACT_FANIN}, got {weight.shape[1]}; "
                         "use the reference simulation")
    max_current = int((weight.abs().sum(1) + bias.abs()).max()) if bias.numel() else 0
    start = max(config.v0(gate) for gate in GATES)
    bound = start + SIGMOID_THRESHOLD + config.n_timestep * max_current
    if bound > INT32_MAX or config.n_timestep * (ENCODER_THRESHOLD + 1) > INT32_MAX:
        raise ValueError(f"T = {config.n_timestep} with currents up to {max_current} could overflow the int32 "
                         "potentials of the fast simulation; use the reference simulation")


_event_costs = {}  # FastGateSimulator._event_costs's timings, by shape and configuration


def encoder_density_bound(u: torch.Tensor) -> float:
    """An upper bound on the encoders' spikes per SNN step and input over T steps:
    mean(min(|q|, theta)) / theta (the soft reset's rate; a hard reset fires less often)."""
    q_abs = SignedInputEncoder(ENCODER_THRESHOLD).quantize(u, torch.int32).abs().clamp(max=ENCODER_THRESHOLD)
    return float(q_abs.sum(dtype=torch.float64)) / (ENCODER_THRESHOLD * max(1, q_abs.numel()))


class FastGateSimulator:
    """The fast simulation backend: simulate_gates' spike counts, bit-identical, for a
    neurons.SpikingConfig; call it with (u, weights). product_kernel: "auto" (the module doc's
    choice), one of exact_product's PRODUCT_KERNELS, or "event" (kernels/event_gates.py, CPU); a
    kernel that cannot run here falls back to float32. .kernel names the last call's.

    Prepared from the weights on first use and whenever they change (cached on their
    storage and version counter): weight (N, F) = W^ / 2 padded to multiples of 8 in the
    kernel's dtype, bias (N,) int32, and per gate column the threshold, V0 and the lower
    thresholds before and after a hard reset.
    """

    def __init__(self, config: SpikingConfig, product_kernel: str = "auto"):
        if not isinstance(config, SpikingConfig):
            raise TypeError(f"FastGateSimulator takes a SpikingConfig, got {type(config).__name__}")
        self.config = config
        if product_kernel not in ("auto",) + SIMULATION_KERNELS:
            raise ValueError(f"product_kernel must be one of {('auto',) + SIMULATION_KERNELS}, got {product_kernel!r}")
        self.requested_kernel = product_kernel
        self.kernel = None  # the kernel of the last call
        self._prepared_key = self._prepared = None
        self._inference_weights = None  # copies of inference-mode weights, which have no version counter
        self._scratch = threading.local()  # each thread's own workspace: one simulator serves many threads
        self._graphed_simulation = GraphedFunction(self._simulate)

    def check_weights(self, weights: ConvertedWeights):
        check_fast_weights(weights, self.config)

    def __getstate__(self):  # copies and pickles get scratch of their own
        return {name: value for name, value in vars(self).items() if name != "_scratch"}

    def __setstate__(self, state):
        vars(self).update(state)
        self._scratch = threading.local()

    @staticmethod
    def _version_key(weights: ConvertedWeights, kernel: str):
        """Storage, version counter (None for inference tensors), device and shape of each weight tensor."""
        return version_key(weights) + (kernel,)

    def _unchanged(self, weights: ConvertedWeights, key) -> bool:
        """The prepared weights still stand for these: same key and, for inference tensors (which
        can change in place without a version), the same values as when they were prepared."""
        if key != self._prepared_key:
            return False
        return self._inference_weights is None or all(
            torch.equal(t, copy) for t, copy in zip(weights, self._inference_weights))

    def prepare(self, weights: ConvertedWeights) -> dict:
        """The padded weight, bias and per-column thresholds for the chosen kernel, rebuilt
        when the weights or the kernel change."""
        device = weights.weight.device
        if weights.weight.dim() != 2:
            check_fast_weights(weights, self.config)
        hidden4, fanin = weights.weight.shape
        columns, padded_fanin = round_up(hidden4, 8), max(16, round_up(fanin, 8))
        requested = self._requested()
        kernel = choose_product_kernel(device, padded_fanin, columns,
                                       "float32" if requested == EVENT_KERNEL else requested)
        key = self._version_key(weights, kernel)
        if self._unchanged(weights, key):
            return self._prepared
        check_fast_weights(weights, self.config)
        hidden = hidden4 // 4
        config = self.config

        def per_gate(value) -> torch.Tensor:
            """(columns,) int32: value(gate) in each gate block (order i, f, g, o), padding 0."""
            values = [v for gate in GATES for v in [value(gate)] * hidden] + [0] * (columns - hidden4)
            return torch.tensor(values, dtype=torch.int32, device=device)

        def sigmoid_or_tanh(sigmoid, tanh):
            return lambda gate: tanh(gate) if gate == "g" else sigmoid(gate)

        self._prepared = {
            "fanin": fanin, "hidden": hidden, "product": ExactProduct(weights.weight.long() // 2, kernel),
            "bias": torch.cat([weights.bias.int(), weights.bias.new_zeros(columns - hidden4).int()]),
            "threshold": per_gate(sigmoid_or_tanh(lambda gate: SIGMOID_THRESHOLD, lambda gate: TANH_THRESHOLD)),
            "start": per_gate(config.v0),
            "lower_start": per_gate(sigmoid_or_tanh(lambda gate: NO_LOWER_THRESHOLD,
                                                    lambda gate: 2 * config.v0(gate) - TANH_THRESHOLD)),
            "lower_after_reset": per_gate(sigmoid_or_tanh(lambda gate: NO_LOWER_THRESHOLD, lambda gate: -TANH_THRESHOLD)),
        }
        if requested in ("auto", EVENT_KERNEL) and event_gates.available(device):
            self._prepared["event_weight"] = event_gates.event_weight(weights.weight, padded_fanin, columns)
        self._inference_weights = tuple(t.clone() for t in weights) if any(t.is_inference() for t in weights) else None
        self._prepared_key = key
        return self._prepared

    def _requested(self) -> str:
        """The requested kernel, else the one $HYBRID_LSTM_PRODUCT_KERNEL names, else "auto"."""
        if self.requested_kernel != "auto":
            return self.requested_kernel
        return os.environ.get(KERNEL_ENVIRONMENT, "auto")

    def chunk_steps(self, batch: int, columns: int) -> int:
        """SNN steps per matrix product: a multiple of STEPS_PER_KERNEL, about CHUNK_ELEMENTS currents."""
        per_step = max(1, batch * columns)
        return STEPS_PER_KERNEL * max(1, CHUNK_ELEMENTS // (STEPS_PER_KERNEL * per_step))

    def workspace(self, rows: int, product: ExactProduct, device):
        """(rows, F) spike and (max(rows, 17), N) product buffers in the kernel's dtypes, and the SNN
        steps 1..T (int32): reused from call to call of the same thread, except inside a CUDA graph
        capture, which gets buffers of its own."""
        key = (rows, product.fanin, product.columns, product.kernel, device)
        capturing = device.type == "cuda" and torch.cuda.is_current_stream_capturing()
        scratch = self._scratch
        if getattr(scratch, "key", None) != key or capturing:
            workspace = (torch.empty(rows, product.fanin, dtype=product.spike_dtype, device=device),
                         torch.empty(max(rows, MIN_MATMUL_ROWS), product.columns, dtype=product.out_dtype,
                                     device=device),
                         torch.arange(1, self.config.n_timestep + 1, dtype=torch.int32, device=device))
            if capturing:
                return workspace
            scratch.workspace, scratch.key = workspace, key
        return scratch.workspace

    def __call__(self, u: torch.Tensor, weights: ConvertedWeights) -> GateSpikeCounts:
        prepared = self.prepare(weights)
        if self._runs_events(u, prepared):
            self.kernel = EVENT_KERNEL
            return GateSpikeCounts(*self._simulate_events(u, prepared))
        self.kernel = prepared["product"].kernel
        return GateSpikeCounts(*self._dense_simulation(u, prepared))

    def _dense_simulation(self, u, prepared) -> tuple:
        return self._graphed_simulation(u, prepared["product"], prepared["hidden"], prepared["fanin"],
                                        *(prepared[name] for name in PER_COLUMN))

    def _runs_events(self, u, prepared) -> bool:
        """Whether this call runs the event kernel: where requested and usable, or under "auto"
        where its cost at this call's density bound is the lower (module doc)."""
        if "event_weight" not in prepared or not u.shape[0]:
            return False
        if self._requested() == EVENT_KERNEL:
            return True
        at_zero, per_density, dense = self._event_costs(u.shape[0], prepared)
        return at_zero + per_density * encoder_density_bound(u) < dense

    def _event_costs(self, batch: int, prepared) -> tuple:
        """(event kernel at d = 0, its growth per unit of d, dense path) in seconds per call on
        batch samples rounded up to a power of two, at most PROBE_BATCH (a beam search's many
        batch sizes share a few probes): timed once per process, shape and configuration, in three
        interleaved rounds (best of each, so that a busy machine slows all alike)."""
        batch = min(PROBE_BATCH, 1 << (batch - 1).bit_length())
        key = (prepared["fanin"], prepared["product"].columns, prepared["product"].kernel, batch, self.config)
        if key not in _event_costs:
            silent = torch.zeros(batch, prepared["fanin"])
            half = torch.full_like(silent, 0.5) * (1 - 2 * (torch.arange(prepared["fanin"]) % 2))  # d = 1/2
            probes = ((self._simulate_events, silent), (self._simulate_events, half), (self._dense_simulation, half))
            best = [float("inf")] * len(probes)
            for _ in range(3):
                for index, (simulation, u) in enumerate(probes):
                    start = time.perf_counter()
                    simulation(u, prepared)
                    best[index] = min(best[index], time.perf_counter() - start)
            _event_costs[key] = (best[0], (best[1] - best[0]) / encoder_density_bound(half), best[2])
        return _event_costs[key]

    def _simulate_events(self, u, prepared) -> tuple:
        """The spike counts by the event kernel (kernels/event_gates.py) from the same encoder closed form."""
        product, reset, n_timestep = prepared["product"], self.config.reset, self.config.n_timestep
        v0_encoder = self.config.v0("encoder")
        q_sign, q_abs, first, period = _compiled_lstm_step_start(u, prepared["start"], prepared["lower_start"],
                                                                 product.fanin, reset, ENCODER_THRESHOLD,
                                                                 v0_encoder)[:4]
        net, fired_count = event_gates.event_gate_steps(q_sign, q_abs, first, period, prepared["event_weight"],
                                                        *(prepared[name] for name in PER_COLUMN), n_timestep,
                                                        reset == "hard", v0_encoder, ENCODER_THRESHOLD)
        return _compiled_spike_counts(net, fired_count, q_abs, prepared["fanin"], prepared["hidden"], n_timestep,
                                      reset, ENCODER_THRESHOLD, v0_encoder)

    def _simulate(self, u, product: ExactProduct, hidden: int, true_fanin: int, bias, threshold, start, lower_start,
                  lower_after_reset) -> tuple:
        """The simulation proper, from the prepared weights (a CUDA graph replays it on a GPU)."""
        batch, device = u.shape[0], u.device
        fanin, columns = product.fanin, product.columns
        reset, n_timestep = self.config.reset, self.config.n_timestep
        v0_encoder = self.config.v0("encoder")
        chunk = self.chunk_steps(batch, columns)
        spikes_buffer, products_buffer, all_taus = self.workspace(chunk * batch, product, device)
        chunks = [all_taus[chunk_start: chunk_start + chunk] for chunk_start in range(0, n_timestep if batch else 0, chunk)]
        if chunks:  # the first chunk's encoder spikes come with the step's start
            begun = _compiled_lstm_step_start_and_spikes(u, start, lower_start, fanin, reset, ENCODER_THRESHOLD,
                                                         v0_encoder, chunks[0],
                                                         spikes_buffer[: len(chunks[0]) * batch].view(-1, batch, fanin))
        else:
            begun = _compiled_lstm_step_start(u, start, lower_start, fanin, reset, ENCODER_THRESHOLD, v0_encoder)
        q_sign, q_abs, first, period = begun[:4]
        hard = reset == "hard"
        constants = (bias, threshold, lower_after_reset, reset)
        counting = (q_abs, true_fanin, hidden, n_timestep, ENCODER_THRESHOLD, v0_encoder)
        state = begun[4:]  # the gate neurons' potential, lower threshold, net and fired counts
        for index, taus in enumerate(chunks):
            spikes = spikes_buffer[: len(taus) * batch]
            if index:
                _compiled_encoder_spikes(q_abs, q_sign, first, period, taus, v0_encoder - 1, ENCODER_THRESHOLD, hard,
                                         spikes.view(len(taus), batch, fanin))
            products = product(spikes, products_buffer).view(len(taus), batch, columns)
            segments = kernel_segments(len(taus))
            for number, (step, steps) in enumerate(segments):
                if steps not in KERNEL_STEPS:  # a tail shorter than any kernel: the same function, eagerly
                    state = _gate_steps(*state, products[step: step + steps], *constants)
                elif index == len(chunks) - 1 and number == len(segments) - 1:  # the step's last: with the counts
                    return _compiled_last_gate_steps_and_counts(*state, products[step: step + steps], *constants,
                                                                *counting)
                else:
                    state = _compiled_gate_steps(*state, products[step: step + steps], *constants)
        net, fired_count = state[2:]  # no compiled gate kernel ran last (a tail, or no SNN step at all)
        return _compiled_spike_counts(net, fired_count, q_abs, true_fanin, hidden, n_timestep, reset,
                                      ENCODER_THRESHOLD, v0_encoder)
