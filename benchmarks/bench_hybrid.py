"""Benchmark: fast vs reference hybrid simulation of one LSTM step, in one run.

Times hybrid_lstm.simulate_gates (reference) and FastGateSimulator (fast) on the same
converted weights and inputs, and the fast path's int8 matrix products alone on the
same shapes (the roofline: the fast path cannot beat its own matrix products).

    python benchmarks/bench_hybrid.py                  # this machine's CPU, all threads
    python benchmarks/bench_hybrid.py --device cuda    # a GPU

The last line states the headline ratio.
"""
import argparse
import resource
import statistics
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from hybrid_lstm import ModifiedLSTMCell, convert_cell, simulate_gates  # noqa: E402
from hybrid_lstm.fast_gates import FastGateSimulator, int8_matmul  # noqa: E402

HIDDEN = 128
CASES = [  # name, input size D, T, batch, target ratio
    ("row-wise", 28, 128, 128, 5.0),
    ("row-wise, edge", 28, 128, 1, 20.0),
    ("pixel-wise", 1, 1024, 4, None),
]


def synchronize(device):
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def median_time(fn, device, repeats: int, min_seconds: float = 0.0) -> float:
    """Median wall time of fn() over repeats calls (more while their total is under min_seconds)."""
    times = []
    while len(times) < repeats or sum(times) < min_seconds:
        synchronize(device)
        start = time.perf_counter()
        fn()
        synchronize(device)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def lstm_step_inputs(input_size: int, batch: int, device, seed: int = 0):
    """u = [x ; h]: pixels in [0, 1] and hidden values in [-1, 1], as in sequential MNIST."""
    generator = torch.Generator().manual_seed(seed)
    x = torch.rand(batch, input_size, generator=generator)
    h = torch.rand(batch, HIDDEN, generator=generator) * 2 - 1
    return torch.cat([x, h], dim=1).to(device)


def converted_cell(input_size: int, device):
    torch.manual_seed(0)
    cell = ModifiedLSTMCell(input_size, HIDDEN)
    weights = convert_cell(cell)
    return type(weights)(weights.weight.to(device), weights.bias.to(device))


def matmul_only(simulator: FastGateSimulator, batch: int, device):
    """The fast path's int8 products alone, chunk by chunk, on random ternary spikes."""
    columns, fanin = simulator.weight_half.shape
    weight_t = simulator.weight_half.t()
    chunk = simulator.chunk_steps(batch)
    spikes = torch.randint(-1, 2, (chunk * batch, fanin), dtype=torch.int8, device=device)
    _, products = simulator.workspace(chunk * batch, device)

    def run():
        for start in range(0, simulator.n_timestep, chunk):
            steps = min(chunk, simulator.n_timestep - start)
            int8_matmul(spikes[: steps * batch], weight_t, products)
    return run


def peak_memory_case(device) -> str:
    """Memory of one fast LSTM step at pixel-wise T = 1024, batch 128."""
    weights = converted_cell(1, device)
    simulator = FastGateSimulator(weights, 1024).to(device)
    u = lstm_step_inputs(1, 128, device)
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
        simulator(u)
        return f"peak GPU memory {torch.cuda.max_memory_allocated(device) / 2**20:.0f} MiB"
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    simulator(u)
    after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return f"peak resident memory {after / 1024:.0f} MiB (grew {(after - before) / 1024:.0f} MiB in this step)"


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, help="torch CPU threads (default: torch's choice)")
    parser.add_argument("--repeats", type=int, default=5, help="timed calls per measurement (median)")
    args = parser.parse_args()
    device = torch.device(args.device)
    if args.threads:
        torch.set_num_threads(args.threads)
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else f"CPU, {torch.get_num_threads()} threads"
    print(f"device: {name}; torch {torch.__version__}; hidden size {HIDDEN}; times are medians per LSTM step")
    print(peak_memory_case(device))
    header = f"{'case':16} {'D':>3} {'T':>5} {'batch':>5} {'reference ms':>13} {'fast ms':>9} {'ratio':>7} " \
             f"{'target':>7} {'fast GFLOP/s':>12} {'roofline':>9} {'% roofline':>10}"
    print(header)
    print("-" * len(header))
    ratios = {}
    for case, input_size, n_timestep, batch, target in CASES:
        weights = converted_cell(input_size, device)
        u = lstm_step_inputs(input_size, batch, device)
        simulator = FastGateSimulator(weights, n_timestep).to(device)
        reference = simulate_gates(u, weights, n_timestep)
        fast = simulator(u)  # also compiles
        if not all(torch.equal(a, b) for a, b in zip(reference, fast)):
            raise SystemExit(f"{case}: fast and reference spike counts differ")
        reference_s = median_time(lambda: simulate_gates(u, weights, n_timestep), device, args.repeats)
        fast_s = median_time(lambda: simulator(u), device, args.repeats, min_seconds=0.5)
        matmul_s = median_time(matmul_only(simulator, batch, device), device, args.repeats, min_seconds=0.5)
        flops = 2 * n_timestep * batch * weights.weight.shape[1] * weights.weight.shape[0]
        ratio = reference_s / fast_s
        ratios[case] = (ratio, target)
        print(f"{case:16} {input_size:3d} {n_timestep:5d} {batch:5d} {reference_s * 1e3:13.2f} {fast_s * 1e3:9.3f} "
              f"{ratio:6.1f}x {f'>= {target:g}x' if target else '':>7} {flops / fast_s / 1e9:12.1f} "
              f"{flops / matmul_s / 1e9:9.1f} {100 * matmul_s / fast_s:9.0f}%")
    print("(GFLOP/s count the dense products s . W^ of all T steps; roofline: the same int8 products alone)")
    row, edge = ratios["row-wise"][0], ratios["row-wise, edge"][0]
    print(f"headline: fast simulation {row:.1f}x the reference at row-wise T=128 batch 128 (target 5x), "
          f"{edge:.1f}x at batch 1 (target 20x), {ratios['pixel-wise'][0]:.1f}x pixel-wise T=1024 on {name}")


if __name__ == "__main__":
    main()
