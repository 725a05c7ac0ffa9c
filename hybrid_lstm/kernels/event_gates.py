"""Event-driven synaptic currents fused with the gate neurons: a C kernel for the fast simulation on CPUs.

The dense kernels of exact_product compute every SNN step's currents as s . W^T over all F encoders,
F N multiply-adds per row whatever the spikes. Here, as on a neuromorphic core, each spike adds
(or subtracts) one weight row: with spike density d the currents cost d F N adds per row, and the
gate neurons' step (fast_gates._gate_steps) runs in the same loop while the currents are in
registers. Per sample b and SNN step tau:

    spikes    s_j = sign(q_j) [tau is a spike time of encoder j]   (fast_gates module doc)
    currents  I = sum_{s_j = +1} W_j - sum_{s_j = -1} W_j            (W = W^/2, (F, N) int16)
    gates     V <- V + 2 I + b^, then fire and reset as in fast_gates._gate_steps (int32)

(The spike test restates fast_gates._encoder_spikes, the gate step _gate_steps: C cannot call them.)

Exact: |W^/2| <= 127, so the currents are summed in int16 while a step has at most 255 events
(|sum| <= 255 * 128 < 2^15), otherwise in int32; the potentials are int32, bounded by
check_fast_weights as for the dense path. Every count is held against the reference in the tests.

Compiled on first use by the system's C compiler ($CC, else cc) with -O3 -march=native and OpenMP
where the compiler has it (samples are split among torch.get_num_threads() threads), and cached
under $XDG_CACHE_HOME/hybrid_lstm (default ~/.cache) keyed on the source, the compiler and the CPU.
Without a working compiler the kernel is unavailable (one warning) and the dense kernels run.
"""
import ctypes
import functools
import hashlib
import os
import platform
import subprocess
import tempfile
import warnings
from pathlib import Path

import torch

SOURCE = Path(__file__).with_name("event_gates.c")


def _cpu_signature() -> str:
    """The CPU's model and feature flags (what -march=native compiles for)."""
    try:
        lines = Path("/proc/cpuinfo").read_text().splitlines()
        return "\n".join(sorted({line for line in lines if line.startswith(("model name", "flags", "Features"))}))
    except OSError:
        return platform.machine() + platform.processor()


def _cache_dir() -> Path:
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "hybrid_lstm"


def _compile(compiler: str, source: Path, target: Path) -> None:
    """Build the shared library at target (atomically), with OpenMP if the compiler has it."""
    base = [compiler, "-O3", "-march=native", "-shared", "-fPIC", str(source)]
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=target.parent) as scratch:
        built = Path(scratch) / target.name
        for flags in (["-fopenmp"], []):
            result = subprocess.run(base + flags + ["-o", str(built)], capture_output=True, text=True)
            if result.returncode == 0:
                os.replace(built, target)
                return
        raise RuntimeError(result.stderr.strip().splitlines()[-1] if result.stderr.strip() else "compiler failed")


@functools.cache
def library():
    """The compiled kernel (ctypes), or None where it cannot be built (after one warning)."""
    compiler = os.environ.get("CC", "cc")
    try:
        version = subprocess.run([compiler, "--version"], capture_output=True, text=True, check=True).stdout
        key = hashlib.sha256("\0".join([SOURCE.read_text(), compiler, version, _cpu_signature()]).encode())
        target = _cache_dir() / f"event_gates-{key.hexdigest()[:16]}.so"
        if not target.exists():
            _compile(compiler, SOURCE, target)
        lib = ctypes.CDLL(str(target))
    except (OSError, subprocess.CalledProcessError, RuntimeError) as error:
        warnings.warn(f"the event-driven CPU kernel is unavailable ({error}); the dense kernels run instead")
        return None
    i64, i32, pointer = ctypes.c_int64, ctypes.c_int32, ctypes.c_void_p
    lib.event_gate_steps.argtypes = [i64] * 4 + [pointer] * 10 + [i32] * 3 + [pointer] * 2 + [i32]
    lib.event_gate_steps.restype = None
    return lib


def available(device: torch.device) -> bool:
    """The kernel runs on CPU tensors, where it compiled."""
    return device.type == "cpu" and library() is not None


def event_weight(weight: torch.Tensor, fanin: int, columns: int) -> torch.Tensor:
    """W^/2 (N, F) as the kernel's (fanin, columns) int16 operand, zero-padded."""
    operand = torch.zeros(fanin, columns, dtype=torch.int16)
    operand[: weight.shape[1], : weight.shape[0]] = (weight.long() // 2).t().to(torch.int16)
    return operand


def event_gate_steps(q_sign, q_abs, first, period, weight_t, bias, threshold, start, lower_start, lower_after_reset,
                     n_timestep: int, hard: bool, v0: int, encoder_threshold: int):
    """The net and fired counts (B, columns) int32 of the gate neurons after n_timestep SNN steps, from
    the encoders' (B, fanin) int32 sign, |q| and hard-reset (first, period) (fast_gates._lstm_step_start)
    and the prepared per-column int32 tensors; as fast_gates._gate_steps over every step."""
    batch, fanin = q_abs.shape
    columns = weight_t.shape[1]
    encoders = [t.to(torch.int32).contiguous() for t in (q_sign, q_abs, first, period)]
    per_column = [t.contiguous() for t in (bias, threshold, start, lower_start, lower_after_reset)]
    net = torch.empty(batch, columns, dtype=torch.int32)
    fired_count = torch.empty_like(net)
    if batch:
        library().event_gate_steps(batch, fanin, columns, n_timestep, *(t.data_ptr() for t in encoders),
                                   weight_t.data_ptr(), *(t.data_ptr() for t in per_column), int(hard), v0 - 1,
                                   encoder_threshold, net.data_ptr(), fired_count.data_ptr(), torch.get_num_threads())
    return net, fired_count
