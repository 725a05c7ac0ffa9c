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
2. Synaptic currents of a chunk of SNN steps as ONE matrix product, by one of three exact kernels
   (PRODUCT_KERNELS), chosen per device and shape by timing them on first use:
   - "int8": converted weights are even and |W^| <= 254, so W^/2 fits int8; spikes are
     ternary; torch._int_mm accumulates in int32. Fast on CUDA and on CPUs with AVX-512
     VNNI or AMX, where torch hands it to oneDNN; on any other CPU torch runs a plain loop
     (about 3 GFLOP/s): torch's _int_mm_out_cpu calls oneDNN only if
     at::cpu::is_avx512_vnni_supported().
   - "fbgemm": the same int8 product through FBGEMM, torch's quantized-linear library,
     which has AVX2 and AVX-512 kernels (torch.ops.quantized.linear_with_input_q_dq_qweight_
     dq_output_fp32). The float32 spikes are quantized with scale 1 and zero point 1, so the
     uint8 operand is s + 1 in {0, 1, 2} exactly; W^/2 is a qint8 tensor of scale 1; the int32
     sum comes back as float32 times 1 * 1, exact below 2^24 (as for "float32"). Without
     VNNI, FBGEMM multiplies with vpmaddubsw, which adds two uint8 x int8 products in a
     saturating int16: here |2 * 2 * 127| = 508, far inside it.
   - "float32": the same product in float32. Exact: the inputs (-1, 0, 1 and integers
     |W^/2| <= 127) have at most 7 significant bits, so TF32 and bf16 matmul modes hold them
     exactly too, every product and partial sum is an integer of magnitude at most
     128 * fan-in < 2^24 (fan-in < 131,072 is checked), and float32 represents every such
     integer, in any summation order. Fast on every CPU (BLAS) and GPU.
   Set HYBRID_LSTM_PRODUCT_KERNEL=int8|fbgemm|float32 (or pass product_kernel=) to force one.
3. Gate neurons as one compiled kernel per 32 (or 16) SNN steps. The threshold/reset recursion
   is sequential in tau but element-wise, so torch.compile fuses 32 steps into one loop
   over the neurons. The four gate blocks share one potential tensor: an i/f/o neuron is
   the g neuron's rule without a lower threshold. For the g neuron only V+ is kept:
   V- = K - V+, with K = 2 V0 from the start and K = 0 once a hard reset has set both to 0
   (a soft reset keeps V+ + V- constant), so "V- > theta" is "V+ < K - theta".

Working set: the chunk of SNN steps is sized so that its currents stay near
CHUNK_ELEMENTS values, whatever T and the batch size; the spike and product buffers are
reused from one LSTM step to the next (fresh multi-MiB buffers cost more in page faults
than the products themselves on CPU; FBGEMM allocates its own result, hence
keep_freed_memory_in_heap). The prepared weights are rebuilt whenever the
converted weights they come from change (a new tensor, or an in-place change such as
load_state_dict).
"""
import ctypes
import ctypes.util
import functools
import os
import threading
import time
import warnings

import torch

from .compiled import CompiledOrEager
from .cuda_graphs import GraphedFunction
from .conversion import ENCODER_THRESHOLD, SIGMOID_THRESHOLD, TANH_THRESHOLD, WEIGHT_LIMIT, ConvertedWeights
from .neurons import check_initial_potential, check_reset, start_potential
from .spikes import GateSpikeCounts

KERNEL_STEPS = (32, 16)  # SNN steps per compiled gate kernel: 32 while they fit, then 16 (T = 16, 48 ...)
STEPS_PER_KERNEL = KERNEL_STEPS[0]
CHUNK_ELEMENTS = 1 << 21  # currents per chunk of SNN steps (8 MiB)
INT32_MAX = 2**31 - 1
FLOAT32_EXACT_FANIN = (2**24 - 1) // (WEIGHT_LIMIT // 2 + 1)  # |sum| <= 128 * fan-in stays below 2^24
assert ENCODER_THRESHOLD & (ENCODER_THRESHOLD - 1) == 0, "_encoder_spikes takes mod theta as a bit mask"
NO_LOWER_THRESHOLD = -(2**31)  # i, f, o neurons never fire "negative"
PRODUCT_KERNELS = ("int8", "fbgemm", "float32")
KERNEL_ENVIRONMENT = "HYBRID_LSTM_PRODUCT_KERNEL"
MIN_MATMUL_ROWS = 17  # torch._int_mm on CUDA needs more than 16 rows
PROBE_ROWS = 512  # rows of the product timed to choose a kernel
PER_COLUMN = ("bias", "upper", "start", "lower_start", "lower_after_reset")  # prepared (columns,) int32 tensors


def _round_up(value: int, multiple: int) -> int:
    return -(-value // multiple) * multiple


def _encoder_magnitudes(q_abs: torch.Tensor, reset: str, threshold: int, v0: int):
    """|q| clamped where larger values behave alike, and the hard-reset train's (a, p)."""
    if reset == "soft":
        return q_abs.clamp(max=threshold), None, None
    q_abs = q_abs.clamp(max=threshold + 1)  # any |q| > theta fires at every step
    divisor = q_abs.clamp(min=1)
    first = torch.where(q_abs > 0, (threshold - v0) // divisor + 1, INT32_MAX)
    return q_abs, first, threshold // divisor + 1


def encoder_counts(q_abs: torch.Tensor, taus: torch.Tensor, reset: str, initial_potential: str = "one",
                   threshold: int = ENCODER_THRESHOLD):
    """N(tau): spikes of encoders with input magnitudes q_abs (any shape, int32) after each
    tau in taus (int32, (K,)); returns (K, *q_abs.shape) int32. Closed forms in the module doc."""
    v0 = start_potential(threshold, initial_potential)
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


def int8_product(spikes: torch.Tensor, weight_t: torch.Tensor, out: torch.Tensor) -> torch.Tensor:
    """(M, K) int8 @ (K, N) int8 -> (M, N) int32, exact, written into the first rows of out
    ((max(M, 17), N) int32). K and N are multiples of 8 (CUDA's rule)."""
    rows = spikes.shape[0]
    if rows < MIN_MATMUL_ROWS:
        spikes = torch.cat([spikes, spikes.new_zeros(MIN_MATMUL_ROWS - rows, spikes.shape[1])])
    product_rows = max(rows, MIN_MATMUL_ROWS)
    return torch._int_mm(spikes, weight_t, out=out[:product_rows])[:rows]


def float32_product(spikes: torch.Tensor, weight_t: torch.Tensor, out: torch.Tensor) -> torch.Tensor:
    """(M, K) @ (K, N) -> (M, N) in float32, exact integers (module doc)."""
    rows = spikes.shape[0]
    return torch.mm(spikes, weight_t, out=out[:rows])


def fbgemm_product(spikes: torch.Tensor, packed_weight, out: torch.Tensor) -> torch.Tensor:
    """(M, K) float32 spikes @ the packed (K, N) W^/2 -> (M, N) float32, exact (module doc).
    FBGEMM allocates its own result; out is unused."""
    return torch.ops.quantized.linear_with_input_q_dq_qweight_dq_output_fp32(spikes, 1.0, 1, packed_weight)


def fbgemm_available() -> bool:
    """FBGEMM is torch's quantized engine on x86 CPUs with AVX2 (torch.backends.quantized)."""
    return ("fbgemm" in torch.backends.quantized.supported_engines and hasattr(torch, "_make_per_tensor_quantized_tensor")
            and hasattr(torch.ops.quantized, "linear_with_input_q_dq_qweight_dq_output_fp32"))


M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3  # glibc's mallopt parameters (malloc.h)


@functools.cache
def keep_freed_memory_in_heap() -> bool:
    """FBGEMM allocates each chunk's products afresh (8 MiB at batch 128). glibc adapts its
    thresholds as it goes, and in some heap states it hands every freed chunk back to the OS,
    so the next step faults 8 MiB in again (measured: 2,200 page faults and a third of the
    step's time). Fixing the mmap threshold at 32 MiB and the trim threshold at 128 MiB keeps
    freed chunks in the heap for reuse. Once per process, on glibc only; True if applied."""
    library = ctypes.util.find_library("c")
    libc = ctypes.CDLL(library) if library else None
    if libc is None or not hasattr(libc, "mallopt"):
        return False
    return bool(libc.mallopt(M_MMAP_THRESHOLD, 32 << 20) and libc.mallopt(M_TRIM_THRESHOLD, 128 << 20))


def product_operand(kernel: str, weight_t: torch.Tensor):
    """What the kernel's product takes for the (K, N) weight W^/2 (given in the kernel's
    spike dtype): the tensor itself, or for fbgemm the weight quantized with scale 1 and
    packed by FBGEMM."""
    if kernel != "fbgemm":
        return weight_t
    keep_freed_memory_in_heap()
    with warnings.catch_warnings():  # torch marks its quantized tensors deprecated; the kernel choice copes with their removal
        warnings.simplefilter("ignore")
        quantized = torch._make_per_tensor_quantized_tensor(weight_t.t().to(torch.int8), 1.0, 0)
        return torch.ops.quantized.linear_prepack(quantized, None)


PRODUCTS = {"int8": (int8_product, torch.int8, torch.int32), "float32": (float32_product, torch.float32, torch.float32),
            "fbgemm": (fbgemm_product, torch.float32, torch.float32)}

_chosen_kernels = {}  # (device type, fan-in, columns) -> kernel name


def _time_product(kernel: str, fanin: int, columns: int, device) -> float:
    """Best of three timings of a PROBE_ROWS-row product in this kernel, in seconds."""
    product, spike_dtype, out_dtype = PRODUCTS[kernel]
    spikes = torch.randint(-1, 2, (PROBE_ROWS, fanin), device=device).to(spike_dtype)
    weight_t = product_operand(kernel, torch.randint(-127, 128, (columns, fanin), device=device).to(spike_dtype).t())
    out = torch.empty(PROBE_ROWS, columns, dtype=out_dtype, device=device)
    best = float("inf")
    for _ in range(3):
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        start = time.perf_counter()
        product(spikes, weight_t, out)
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        best = min(best, time.perf_counter() - start)
    return best


def usable_kernels(device: torch.device) -> tuple:
    """int8 needs torch's private torch._int_mm (present since torch 2.1); fbgemm a CPU with
    FBGEMM; float32 runs anywhere."""
    available = {"int8": hasattr(torch, "_int_mm"), "fbgemm": device.type == "cpu" and fbgemm_available(),
                 "float32": True}
    return tuple(kernel for kernel in PRODUCT_KERNELS if available[kernel])


def choose_product_kernel(device: torch.device, fanin: int, columns: int, requested: str = "auto") -> str:
    """The product kernel for this device and shape: the requested one, else the one named by
    $HYBRID_LSTM_PRODUCT_KERNEL, else the fastest on a probe product (timed once per process,
    device type and shape; the first timing of each warms it up). A requested kernel that
    cannot run here (fbgemm off the CPU or without FBGEMM) falls back to float32."""
    requested = os.environ.get(KERNEL_ENVIRONMENT, "auto") if requested == "auto" else requested
    if requested not in ("auto",) + PRODUCT_KERNELS:
        raise ValueError(f"product kernel must be one of {('auto',) + PRODUCT_KERNELS}, got {requested!r}")
    usable = usable_kernels(device)
    if requested != "auto":
        return requested if requested in usable else "float32"
    key = (device.type, fanin, columns)
    if key not in _chosen_kernels:
        times = {kernel: min(_time_product(kernel, fanin, columns, device) for _ in range(2)) for kernel in usable}
        _chosen_kernels[key] = min(times, key=times.get)
    return _chosen_kernels[key]


class ExactProduct:
    """spikes (M, K) in {-1, 0, 1} times an integer weight W (N, K0), |W| <= 128, K0 <= K:
    (M, N) products s . W^T, exact, by the kernel choose_product_kernel picks for this
    device and shape (or the requested one). W is prepared once: padded to
    (columns, fanin) = (N, K0) rounded up to multiples of 8 (fan-in at least 16), in the
    kernel's dtype. Call with spikes (M, fanin) in spike_dtype and an out buffer
    (max(M, 17), columns) in out_dtype; the result may or may not be out (fbgemm allocates)."""

    def __init__(self, weight: torch.Tensor, requested: str = "auto"):
        rows, fanin = weight.shape
        if weight.numel() and weight.abs().max() > WEIGHT_LIMIT // 2 + 1:
            raise ValueError(f"ExactProduct takes |W| <= {WEIGHT_LIMIT // 2 + 1}, got {int(weight.abs().max())}")
        self.columns, self.fanin = _round_up(rows, 8), max(16, _round_up(fanin, 8))
        if self.fanin > FLOAT32_EXACT_FANIN:
            raise ValueError(f"exact products take fan-ins up to {FLOAT32_EXACT_FANIN}, got {fanin}")
        self.kernel = choose_product_kernel(weight.device, self.fanin, self.columns, requested)
        self._product, self.spike_dtype, self.out_dtype = PRODUCTS[self.kernel]
        padded = torch.zeros(self.columns, self.fanin, dtype=self.spike_dtype, device=weight.device)
        padded[:rows, :fanin] = weight.to(self.spike_dtype)
        self.operand = product_operand(self.kernel, padded.t())

    def __call__(self, spikes: torch.Tensor, out: torch.Tensor) -> torch.Tensor:
        return self._product(spikes, self.operand, out)


def _gate_steps(potential, lower, net, fired_count, products, bias, upper, threshold, lower_after_reset,
                hard_reset: bool):
    """Advance every gate neuron over the SNN steps of products ((K, B, N) = s . W^/2, int32 or
    float32 holding integers). For each step:
    V <- V + 2 * products + b^ ; p = [V > upper] ; n = [V < lower] ;
    soft reset V <- V - theta * (p - n) ; hard reset V <- 0 and lower <- lower_after_reset
    where p or n ; net += p - n ; fired_count += p + n. All int32, (B, N)."""
    for step in range(products.shape[0]):
        potential = potential + 2 * products[step].to(torch.int32) + bias
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


def check_fast_weights(weights: ConvertedWeights, n_timestep: int, initial_potential: str):
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
    start = start_potential(SIGMOID_THRESHOLD, initial_potential)
    bound = start + SIGMOID_THRESHOLD + n_timestep * max_current
    if bound > INT32_MAX or n_timestep * (ENCODER_THRESHOLD + 1) > INT32_MAX:
        raise ValueError(f"T = {n_timestep} with currents up to {max_current} could overflow the int32 "
                         "potentials of the fast simulation; use the reference simulation")


class FastGateSimulator:
    """simulate_gates(u, weights, n_timestep, reset, initial_potential), fast and bit-identical:
    call it with (u, weights).

    Prepared from the weights on first use and whenever they change (cached on their
    storage and version counter): weight (N, F) = W^ / 2 padded to multiples of 8 in the
    kernel's dtype, bias (N,) int32, and per gate column the thresholds upper / threshold
    and the lower thresholds before and after a hard reset.
    """

    def __init__(self, n_timestep: int, reset: str = "soft", initial_potential: str = "one",
                 product_kernel: str = "auto"):
        self.n_timestep = int(n_timestep)
        self.reset = check_reset(reset)
        self.initial_potential = check_initial_potential(initial_potential)
        if product_kernel not in ("auto",) + PRODUCT_KERNELS:
            raise ValueError(f"product_kernel must be one of {('auto',) + PRODUCT_KERNELS}, got {product_kernel!r}")
        self.requested_kernel = product_kernel
        self.kernel = None  # chosen on first use
        self._prepared_key = self._prepared = None
        self._inference_weights = None  # copies of inference-mode weights, which have no version counter
        self._scratch = threading.local()  # each thread's own workspace: one simulator serves many threads
        self._graphed_simulation = GraphedFunction(self._simulate)

    def __getstate__(self):  # copies and pickles get scratch of their own
        return {name: value for name, value in vars(self).items() if name != "_scratch"}

    def __setstate__(self, state):
        vars(self).update(state)
        self._scratch = threading.local()

    @staticmethod
    def _version_key(weights: ConvertedWeights, kernel: str):
        """Storage, version counter (None for inference tensors), device and shape of each weight tensor."""
        return tuple((t.data_ptr(), None if t.is_inference() else t._version, t.device, tuple(t.shape))
                     for t in weights) + (kernel,)

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
            check_fast_weights(weights, self.n_timestep, self.initial_potential)
        hidden4, fanin = weights.weight.shape
        columns, padded_fanin = _round_up(hidden4, 8), max(16, _round_up(fanin, 8))
        kernel = choose_product_kernel(device, padded_fanin, columns, self.requested_kernel)
        key = self._version_key(weights, kernel)
        if self._unchanged(weights, key):
            return self._prepared
        check_fast_weights(weights, self.n_timestep, self.initial_potential)
        hidden = hidden4 // 4
        v0_sigmoid = start_potential(SIGMOID_THRESHOLD, self.initial_potential)
        v0_tanh = start_potential(TANH_THRESHOLD, self.initial_potential)

        def per_gate(sigmoid: int, tanh: int) -> torch.Tensor:
            """(columns,) int32: the i, f, o blocks get sigmoid, the g block tanh, padding 0."""
            values = [sigmoid] * 2 * hidden + [tanh] * hidden + [sigmoid] * hidden + [0] * (columns - hidden4)
            return torch.tensor(values, dtype=torch.int32, device=device)

        self._prepared = {
            "fanin": fanin, "hidden": hidden, "product": ExactProduct(weights.weight.long() // 2, kernel),
            "bias": torch.cat([weights.bias.int(), weights.bias.new_zeros(columns - hidden4).int()]),
            "upper": per_gate(SIGMOID_THRESHOLD, TANH_THRESHOLD),
            "start": per_gate(v0_sigmoid, v0_tanh),
            "lower_start": per_gate(NO_LOWER_THRESHOLD, 2 * v0_tanh - TANH_THRESHOLD),
            "lower_after_reset": per_gate(NO_LOWER_THRESHOLD, -TANH_THRESHOLD),
        }
        self._inference_weights = tuple(t.clone() for t in weights) if any(t.is_inference() for t in weights) else None
        self._prepared_key = key
        self.kernel = kernel
        return self._prepared

    def chunk_steps(self, batch: int, columns: int) -> int:
        """SNN steps per matrix product: a multiple of STEPS_PER_KERNEL, about CHUNK_ELEMENTS currents."""
        per_step = max(1, batch * columns)
        return STEPS_PER_KERNEL * max(1, CHUNK_ELEMENTS // (STEPS_PER_KERNEL * per_step))

    def workspace(self, rows: int, product: ExactProduct, device):
        """(rows, F) spike and (max(rows, 17), N) product buffers in the kernel's dtypes: reused
        from call to call of the same thread, except inside a CUDA graph capture, which gets
        buffers of its own."""
        key = (rows, product.fanin, product.columns, product.kernel, device)
        capturing = device.type == "cuda" and torch.cuda.is_current_stream_capturing()
        scratch = self._scratch
        if getattr(scratch, "key", None) != key or capturing:
            workspace = (torch.empty(rows, product.fanin, dtype=product.spike_dtype, device=device),
                         torch.empty(max(rows, MIN_MATMUL_ROWS), product.columns, dtype=product.out_dtype,
                                     device=device))
            if capturing:
                return workspace
            scratch.workspace, scratch.key = workspace, key
        return scratch.workspace

    def __call__(self, u: torch.Tensor, weights: ConvertedWeights) -> GateSpikeCounts:
        prepared = self.prepare(weights)
        counts = self._graphed_simulation(u, prepared["product"], prepared["hidden"], prepared["fanin"],
                                          *(prepared[name] for name in PER_COLUMN))
        return GateSpikeCounts(*counts)

    def _simulate(self, u, product: ExactProduct, hidden: int, true_fanin: int, bias, upper, start, lower_start,
                  lower_after_reset) -> tuple:
        """The simulation proper, from the prepared weights (a CUDA graph replays it on a GPU)."""
        batch, device = u.shape[0], u.device
        fanin, columns = product.fanin, product.columns
        v0_encoder = start_potential(ENCODER_THRESHOLD, self.initial_potential)
        # q = round(2048 u); |u| >= 2 gives |q| > theta + 1, which fires at every step like any larger |q|
        q = torch.zeros(batch, fanin, dtype=torch.int32, device=device)
        q[:batch, :true_fanin] = torch.round(u.clamp(-2, 2) * ENCODER_THRESHOLD)
        q_sign = q.sign()
        q_abs, first, period = _encoder_magnitudes(q.abs(), self.reset, ENCODER_THRESHOLD, v0_encoder)
        if first is None:
            first = period = q_abs  # unused by the soft-reset train

        potential = start.expand(batch, columns).clone()
        lower = lower_start.expand(batch, columns).clone()
        net = torch.zeros_like(potential)
        fired_count = torch.zeros_like(potential)
        hard = self.reset == "hard"
        chunk = self.chunk_steps(batch, columns)
        spikes_buffer, products_buffer = self.workspace(chunk * batch, product, device)
        constants = (bias, upper, upper, lower_after_reset, hard)
        for chunk_start in range(0, self.n_timestep if batch else 0, chunk):
            taus = torch.arange(chunk_start + 1, min(chunk_start + chunk, self.n_timestep) + 1, dtype=torch.int32,
                                device=device)
            spikes = spikes_buffer[: len(taus) * batch]
            _compiled_encoder_spikes(q_abs, q_sign, first, period, taus, v0_encoder - 1, ENCODER_THRESHOLD, hard,
                                     spikes.view(len(taus), batch, fanin))
            products = product(spikes, products_buffer).view(len(taus), batch, columns)
            state, step = (potential, lower, net, fired_count), 0
            for steps in KERNEL_STEPS:
                while step + steps <= len(taus):
                    state = _compiled_gate_steps(*state, products[step: step + steps], *constants)
                    step += steps
            if step < len(taus):  # a tail shorter than any kernel: the same function, eagerly
                state = _gate_steps(*state, products[step:], *constants)
            potential, lower, net, fired_count = state

        net, fired_count = net[:, : 4 * hidden].long(), fired_count[:, : 4 * hidden].long()
        i, f, g, o = net.chunk(4, dim=1)
        last = torch.full((1,), self.n_timestep, dtype=torch.int32, device=device)
        encoder = encoder_counts(q[:, :true_fanin].abs(), last, self.reset, self.initial_potential)[0].long()
        return encoder, i, f, g, o, fired_count[:, 2 * hidden: 3 * hidden]
