"""Benchmark: fast vs reference hybrid simulation of one LSTM step, in one run.

Times hybrid_lstm.simulate_gates (reference: the plain per-SNN-step loop) and
FastGateSimulator (fast) on the same converted weights and inputs, the fast simulation's
dense path (its timed product kernel, where the fast simulation chose the event-driven
kernel) and that path's matrix products alone on the same shapes (the roofline of the dense
path; the event kernel skips the products of silent encoders and can beat it). Prints the
CPU's vector capabilities as torch reports them, the kernel each case used (chosen by
timing, or forced with --kernel) and the encoders' spike density d of its inputs (the event
kernel's cost grows with it): hidden values uniform in [-1, 1] give d = 1/2; the last case
has d = 0.12, the encoder rate of the trained pixel-wise models' hybrids (RESULTS.md).

    python benchmarks/bench_hybrid.py                  # this machine's CPU, all threads
    python benchmarks/bench_hybrid.py --as-avx2        # as on a CPU without AVX-512 (below)
    python benchmarks/bench_hybrid.py --device cuda    # a GPU

--as-avx2 reruns the benchmark as an AVX2 laptop or AMD Zen 2/3 server runs it, each
library held to AVX2 by its own switch: torch's CPU kernels and torch.compile's code
(ATEN_CPU_CAPABILITY=avx2), MKL's BLAS (MKL_ENABLE_INSTRUCTIONS=AVX2), FBGEMM
(FBGEMM_ENABLE_INSTRUCTIONS=AVX2), and oneDNN off: torch's _int_mm_out_cpu hands the int8
GEMM to oneDNN only if at::cpu::is_avx512_vnni_supported() and otherwise runs a plain loop,
which is what the switch reproduces. The clock and caches stay this machine's.

The last line states the headline ratio.
"""
import argparse
import os
import resource
import statistics
import sys
import time
from pathlib import Path

AS_AVX2 = "HYBRID_LSTM_BENCH_AS_AVX2"
if "--as-avx2" in sys.argv and not os.environ.get(AS_AVX2):  # before torch is imported
    os.execve(sys.executable, [sys.executable, *sys.argv],
              dict(os.environ, ATEN_CPU_CAPABILITY="avx2", MKL_ENABLE_INSTRUCTIONS="AVX2",
                   FBGEMM_ENABLE_INSTRUCTIONS="AVX2", **{AS_AVX2: "1"}))

import torch  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from hybrid_lstm import ModifiedLSTMCell, convert_cell, simulate_gates  # noqa: E402
from hybrid_lstm.kernels import cuda_graphs  # noqa: E402
from hybrid_lstm.runs.host import vector_extensions  # noqa: E402
from hybrid_lstm.snn.fast_gates import SIMULATION_KERNELS, FastGateSimulator, encoder_density_bound  # noqa: E402
from hybrid_lstm.snn.neurons import SpikingConfig  # noqa: E402

HIDDEN = 128
CASES = [  # name, input size D, T, batch, target ratio, hidden values' range (+-)
    ("row-wise", 28, 128, 128, 5.0, 1.0),
    ("row-wise, edge", 28, 128, 1, 20.0, 1.0),
    ("pixel-wise", 1, 1024, 4, None, 1.0),
    ("pixel-wise, d=.12", 1, 1024, 16, None, 0.24),
]


def synchronize(device):
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def interleaved_medians(functions: dict, device, rounds: int, block_seconds: float = 0.1) -> dict:
    """{name: median wall seconds per call} of each function, timed in alternating rounds: each
    round times every function in turn over at least block_seconds of calls. A machine whose speed
    drifts (a host with busy neighbours, another job on the other core) slows all of them alike,
    so their ratios hold where back-to-back measurements would not."""
    per_call = {name: [] for name in functions}
    for _ in range(rounds):
        for name, fn in functions.items():
            calls, start = 0, time.perf_counter()
            while True:
                fn()
                calls += 1
                synchronize(device)
                elapsed = time.perf_counter() - start
                if elapsed >= block_seconds:
                    break
            per_call[name].append(elapsed / calls)
    return {name: statistics.median(times) for name, times in per_call.items()}


def lstm_step_inputs(input_size: int, batch: int, device, seed: int = 0, h_range: float = 1.0):
    """u = [x ; h]: pixels in [0, 1] and hidden values in [-h_range, h_range], as in sequential MNIST."""
    generator = torch.Generator().manual_seed(seed)
    x = torch.rand(batch, input_size, generator=generator)
    h = (torch.rand(batch, HIDDEN, generator=generator) * 2 - 1) * h_range
    return torch.cat([x, h], dim=1).to(device)


def converted_cell(input_size: int, device):
    torch.manual_seed(0)
    cell = ModifiedLSTMCell(input_size, HIDDEN)
    weights = convert_cell(cell)
    return type(weights)(weights.weight.to(device), weights.bias.to(device))


def matmul_only(simulator: FastGateSimulator, weights, batch: int, device):
    """The fast path's products alone, chunk by chunk, on random ternary spikes."""
    product = simulator.prepare(weights)["product"]
    chunk = simulator.chunk_steps(batch, product.columns)
    spikes = torch.randint(-1, 2, (chunk * batch, product.fanin), device=device).to(product.spike_dtype)
    _, products, _ = simulator.workspace(chunk * batch, product, device)

    def run():
        for start in range(0, simulator.config.n_timestep, chunk):
            steps = min(chunk, simulator.config.n_timestep - start)
            product(spikes[: steps * batch], products)
    return run


def cpu_capabilities() -> str:
    """The CPU's vector extensions as torch sees them, and the level its kernels use."""
    found = vector_extensions()
    limited = (" (limited by --as-avx2: ATEN_CPU_CAPABILITY=avx2, MKL_ENABLE_INSTRUCTIONS=AVX2, "
               "FBGEMM_ENABLE_INSTRUCTIONS=AVX2, oneDNN off)" if os.environ.get(AS_AVX2) else "")
    return (f"CPU has {', '.join(found) or 'none of AVX2 / AVX-512 / VNNI / AMX'}; torch kernels use "
            f"{torch.backends.cpu.get_cpu_capability()}{limited}")


def peak_memory_case(device, kernel: str) -> str:
    """Memory of one fast LSTM step at pixel-wise T = 1024, batch 128."""
    weights = converted_cell(1, device)
    simulator = FastGateSimulator(SpikingConfig(1024), product_kernel=kernel)
    u = lstm_step_inputs(1, 128, device)
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
        simulator(u, weights)
        return f"peak GPU memory {torch.cuda.max_memory_allocated(device) / 2**20:.0f} MiB"
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    simulator(u, weights)
    after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return f"peak resident memory {after / 1024:.0f} MiB (grew {(after - before) / 1024:.0f} MiB in this step)"


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, help="torch CPU threads (default: torch's choice)")
    parser.add_argument("--rounds", type=int, default=9,
                        help="alternating rounds of >= 0.1 s per measurement (median over rounds; default 9)")
    parser.add_argument("--kernel", choices=("auto",) + SIMULATION_KERNELS, default="auto",
                        help="the fast simulation's kernel (default: timed and chosen per shape)")
    parser.add_argument("--as-avx2", action="store_true", help="run as on a CPU without AVX-512 (see above)")
    args = parser.parse_args()
    device = torch.device(args.device)
    if args.as_avx2:
        torch.backends.mkldnn.enabled = False
    if args.threads:
        torch.set_num_threads(args.threads)
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else f"CPU, {torch.get_num_threads()} threads"
    print(f"device: {name}; torch {torch.__version__}; hidden size {HIDDEN}; times per LSTM step, medians over "
          f"{args.rounds} rounds alternating reference, fast, dense and products")
    print(cpu_capabilities())
    print(peak_memory_case(device, args.kernel))
    header = f"{'case':17} {'D':>3} {'T':>5} {'batch':>5} {'d':>5} {'reference ms':>13} {'fast ms':>9} {'ratio':>7} " \
             f"{'target':>7} {'kernel':>9} {'dense ms':>9} {'x dense':>7} {'fast GFLOP/s':>12} {'roofline':>9} " \
             f"{'% roofline':>10}"
    print(header)
    print("-" * len(header))
    ratios, fast_times, without_graphs = {}, {}, {}
    for case, input_size, n_timestep, batch, target, h_range in CASES:
        weights = converted_cell(input_size, device)
        u = lstm_step_inputs(input_size, batch, device, h_range=h_range)
        simulator = FastGateSimulator(SpikingConfig(n_timestep), product_kernel=args.kernel)
        reference = simulate_gates(u, weights, n_timestep)
        fast = simulator(u, weights)  # also compiles, and chooses the kernel
        dense = FastGateSimulator(SpikingConfig(n_timestep), simulator.prepare(weights)["product"].kernel)
        if not all(torch.equal(a, b) and torch.equal(a, c) for a, b, c in zip(reference, fast, dense(u, weights))):
            raise SystemExit(f"{case}: fast, dense and reference spike counts differ")
        timed = {"reference": lambda: simulate_gates(u, weights, n_timestep), "fast": lambda: simulator(u, weights),
                 "dense": lambda: dense(u, weights), "products": matmul_only(simulator, weights, batch, device)}
        if device.type == "cuda":
            def fast_without_graphs():
                with cuda_graphs.eager():
                    simulator(u, weights)
            timed["fast without graphs"] = fast_without_graphs
        medians = interleaved_medians(timed, device, args.rounds)
        reference_s, fast_s, matmul_s = medians["reference"], medians["fast"], medians["products"]
        if device.type == "cuda":
            without_graphs[case] = medians["fast without graphs"]
        flops = 2 * n_timestep * batch * weights.weight.shape[1] * weights.weight.shape[0]
        ratio = reference_s / fast_s
        ratios[case], fast_times[case] = (ratio, target), fast_s
        dense_s = medians["dense"]
        print(f"{case:17} {input_size:3d} {n_timestep:5d} {batch:5d} {encoder_density_bound(u):5.2f} "
              f"{reference_s * 1e3:13.2f} {fast_s * 1e3:9.3f} {ratio:6.1f}x {f'>= {target:g}x' if target else '':>7} "
              f"{simulator.kernel:>9} {dense_s * 1e3:9.3f} {dense_s / fast_s:6.1f}x {flops / fast_s / 1e9:12.1f} "
              f"{flops / matmul_s / 1e9:9.1f} {100 * matmul_s / fast_s:9.0f}%")
    print("(d: the encoders' spike density bound; dense: the fast simulation held to its product kernel; GFLOP/s count "
          "the dense products s . W^ of all T steps; roofline: the same products alone)")
    if without_graphs:
        print("fast path without CUDA graphs (cuda_graphs.eager): " + ", ".join(
            f"{case} {seconds * 1e3:.3f} ms ({ratios[case][0] * fast_times[case] / seconds:.1f}x)"
            for case, seconds in without_graphs.items()))
    row, edge = ratios["row-wise"][0], ratios["row-wise, edge"][0]
    print(f"headline: fast simulation {row:.1f}x the reference at row-wise T=128 batch 128 (target 5x), "
          f"{edge:.1f}x at batch 1 (target 20x), {ratios['pixel-wise'][0]:.1f}x pixel-wise T=1024 "
          f"({ratios['pixel-wise, d=.12'][0]:.1f}x at the trained models' d = 0.12) on {name}")


if __name__ == "__main__":
    main()
