"""Exact products of ternary spikes and small integer weights, by the fastest of three kernels.

s (M, K) in {-1, 0, 1} times W^T, W (N, K) integers with |W| <= 128 (the converted weights
W^ / 2, or Loihi's 8-bit weights / 2). Three exact kernels, PRODUCT_KERNELS, chosen per device
and shape by timing them on first use:
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
Set HYBRID_LSTM_PRODUCT_KERNEL=int8|fbgemm|float32 (or pass product_kernel=) to force one; the
value "event" forces the hybrid simulation's event-driven CPU kernel (snn.fast_gates) and leaves
the products here to the timed choice.

Every kernel is held against the int64 product in the tests.
"""
import ctypes
import ctypes.util
import functools
import os
import time
import warnings

import torch

WEIGHT_LIMIT = 128  # |W| of an operand
FLOAT32_EXACT_FANIN = (2**24 - 1) // WEIGHT_LIMIT  # |sum| <= 128 * fan-in stays below 2^24
PRODUCT_KERNELS = ("int8", "fbgemm", "float32")
KERNEL_ENVIRONMENT = "HYBRID_LSTM_PRODUCT_KERNEL"
EVENT_KERNEL = "event"  # not a product: the hybrid simulation's event-driven kernel (kernels/event_gates.py)
MIN_MATMUL_ROWS = 17  # torch._int_mm on CUDA needs more than 16 rows
PROBE_ROWS = 512  # rows of the product timed to choose a kernel


def round_up(value: int, multiple: int) -> int:
    return -(-value // multiple) * multiple


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
    $HYBRID_LSTM_PRODUCT_KERNEL (unless "event"), else the fastest on a probe product (timed once per process,
    device type and shape; the first timing of each warms it up). A requested kernel that
    cannot run here (fbgemm off the CPU or without FBGEMM) falls back to float32."""
    requested = os.environ.get(KERNEL_ENVIRONMENT, "auto") if requested == "auto" else requested
    requested = "auto" if requested == EVENT_KERNEL else requested
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
        if weight.numel() and weight.abs().max() > WEIGHT_LIMIT:
            raise ValueError(f"ExactProduct takes |W| <= {WEIGHT_LIMIT}, got {int(weight.abs().max())}")
        self.columns, self.fanin = round_up(rows, 8), max(16, round_up(fanin, 8))
        if self.fanin > FLOAT32_EXACT_FANIN:
            raise ValueError(f"exact products take fan-ins up to {FLOAT32_EXACT_FANIN}, got {fanin}")
        self.kernel = choose_product_kernel(weight.device, self.fanin, self.columns, requested)
        self._product, self.spike_dtype, self.out_dtype = PRODUCTS[self.kernel]
        padded = torch.zeros(self.columns, self.fanin, dtype=self.spike_dtype, device=weight.device)
        padded[:rows, :fanin] = weight.to(self.spike_dtype)
        self.operand = product_operand(self.kernel, padded.t())

    def __call__(self, spikes: torch.Tensor, out: torch.Tensor) -> torch.Tensor:
        return self._product(spikes, self.operand, out)
