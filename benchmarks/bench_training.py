"""Benchmark: training time per batch of the custom cells vs torch.nn.LSTM, in one run.

Forward, cross-entropy and backward of one batch (the optimizer step costs the same for
all and is left out), hidden size 128, batch 128, for:
  torch.nn.LSTM + Linear                  (the baseline)
  SequenceClassifier, BaselineLSTMCell    (fused layer, sequence.lstm_layer)
  SequenceClassifier, ModifiedLSTMCell    (fused layer)
  ModifiedLSTMCell stepped with autograd  (sequence.stepped_layer, the plain implementation)
Measurements are interleaved (one batch of each model per round) and the median is kept.

Then the cost of conversion-aware fine-tuning (run_seqmnist.py --finetune-from), at each T of
FINETUNE_T with V0 = theta / 2: forward through the hybrid, backward and the parameter clamp of
one batch (the clamp changes the weights, so the next forward converts them again, as in
training), against the ModifiedLSTMCell's ANN step with its clamp, and the seconds per epoch of
60,000 training images that makes.

    python benchmarks/bench_training.py [--rounds 7] [--threads N]
    python benchmarks/bench_training.py --device cuda     # torch.nn.LSTM is cuDNN there (with and without TF32)

The last line states the headline ratio.
"""
import argparse
import math
import statistics
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from hybrid_lstm import SequenceClassifier  # noqa: E402
from hybrid_lstm.kernels import cuda_graphs  # noqa: E402
from hybrid_lstm.nn.model import CELL_STATE_LIMIT  # noqa: E402
from hybrid_lstm.nn import sequence  # noqa: E402
from hybrid_lstm.runs.host import host_description  # noqa: E402
from hybrid_lstm.snn.finetune import ConversionAwareCell  # noqa: E402
from hybrid_lstm.snn.neurons import DEFAULT_RESET, SpikingConfig  # noqa: E402

HIDDEN, BATCH = 128, 128
CASES = [("row-wise", 28, 28), ("pixel-wise", 784, 1)]  # name, steps, input size
FINETUNE_T = (4, 8, 16)
TRAINING_IMAGES = 60000


def synchronize(device):
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def torch_lstm_step(input_size, device):
    lstm = torch.nn.LSTM(input_size, HIDDEN, batch_first=True).to(device)
    linear = torch.nn.Linear(HIDDEN, 10).to(device)

    def run(x, y):
        _, (h, _) = lstm(x)
        F.cross_entropy(linear(h[-1]), y).backward()
    return run


def classifier_step(cell_class, input_size, device, stepped=False):
    model = SequenceClassifier(cell_class, input_size, HIDDEN).to(device)

    def run(x, y):
        if stepped:
            cell = model.cells[0]
            _, (h, _) = sequence.stepped_layer(cell, x, cell.init_state(x.shape[0], x.device), CELL_STATE_LIMIT)
            logits = model.classifier(h)
        else:
            logits = model(x)
        F.cross_entropy(logits, y).backward()
    return run


def clamped_step(model):
    """One training batch of model as run_seqmnist.py trains it, less the optimizer's update:
    forward, cross-entropy, backward, then the paper's clamp of every parameter in place."""
    def run(x, y):
        F.cross_entropy(model(x), y).backward()
        model.clamp_parameters_()
    return run


def finetune_models(input_size, device):
    """{name: step} of the ANN and of its fine-tuning through the hybrid at each T of FINETUNE_T."""
    ann = SequenceClassifier("ModifiedLSTMCell", input_size, HIDDEN).to(device)
    models = {"ANN": clamped_step(ann)}
    for n_timestep in FINETUNE_T:
        spiking = SpikingConfig(n_timestep, DEFAULT_RESET, "half")
        models[f"T = {n_timestep}"] = clamped_step(ann.with_cells(lambda cell: ConversionAwareCell(cell, spiking)))
    return models


def median_ms(models, x, y, rounds, device):
    """{name: median ms per call of models[name](x, y)}, interleaved; round 0 warms up."""
    times = {name: [] for name in models}
    for round_index in range(rounds + 1):
        for name, run in models.items():
            synchronize(device)
            start = time.perf_counter()
            run(x, y)
            synchronize(device)
            if round_index:
                times[name].append(time.perf_counter() - start)
    return {name: 1e3 * statistics.median(values) for name, values in times.items()}


def without_tf32(run):
    """cuDNN's LSTM may use TF32 tensor cores for float32 (torch.backends.cudnn.allow_tf32, on by
    default); the fused layer's products are float32 throughout. This runs cuDNN in float32 too."""
    def float32(x, y):
        previous = torch.backends.cudnn.allow_tf32
        torch.backends.cudnn.allow_tf32 = False
        try:
            run(x, y)
        finally:
            torch.backends.cudnn.allow_tf32 = previous
    return float32


def without_persistent(run):
    """The fused layer's step loops replayed from CUDA graphs, instead of persistent_lstm's kernels."""
    def graphed(x, y):
        sequence.PERSISTENT_KERNELS, previous = False, sequence.PERSISTENT_KERNELS
        try:
            run(x, y)
        finally:
            sequence.PERSISTENT_KERNELS = previous
    return graphed


def without_graphs(run):
    """The fused layer's step loops as plain Python loops (no CUDA graphs, no persistent kernels)."""
    graphed = without_persistent(run)

    def plain(x, y):
        with cuda_graphs.eager():
            graphed(x, y)
    return plain


def rounds_for(steps, rounds):
    """Fewer timed rounds for 784-step sequences."""
    return rounds if steps < 100 else max(3, rounds // 2)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=7, help="timed batches per model (median)")
    parser.add_argument("--threads", type=int, help="torch CPU threads (default: torch's choice)")
    parser.add_argument("--device", default="cpu", help="cpu or cuda (default %(default)s)")
    args = parser.parse_args()
    device = torch.device(args.device)
    if args.threads:
        torch.set_num_threads(args.threads)
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else f"CPU, {torch.get_num_threads()} threads"
    print(f"host: {host_description(device)}")
    print(f"device: {name}; torch {torch.__version__}; hidden {HIDDEN}, batch {BATCH}; "
          "median ms per batch (forward + backward)")
    header = f"{'case':11} {'nn.LSTM':>9} {'Baseline':>9} {'ratio':>6} {'Modified':>9} {'ratio':>6} " \
             f"{'stepped Modified':>17} {'ratio':>6}"
    print(header)
    print("-" * len(header))
    ratios = {}
    for case, steps, input_size in CASES:
        torch.manual_seed(0)
        x, y = torch.rand(BATCH, steps, input_size).to(device), torch.randint(0, 10, (BATCH,)).to(device)
        models = {"nn.LSTM": torch_lstm_step(input_size, device),
                  "Baseline": classifier_step("BaselineLSTMCell", input_size, device),
                  "Modified": classifier_step("ModifiedLSTMCell", input_size, device),
                  "stepped": classifier_step("ModifiedLSTMCell", input_size, device, stepped=True)}
        if device.type == "cuda":
            models["Modified without graphs"] = without_graphs(classifier_step("ModifiedLSTMCell", input_size, device))
            models["Modified graphed loops"] = without_persistent(
                classifier_step("ModifiedLSTMCell", input_size, device))
            models["nn.LSTM without TF32"] = without_tf32(torch_lstm_step(input_size, device))
        ms = median_ms(models, x, y, rounds_for(steps, args.rounds), device)  # ms per batch
        ratio = {name: ms[name] / ms["nn.LSTM"] for name in ms}
        ratios[case] = ratio
        print(f"{case:11} {ms['nn.LSTM']:9.1f} {ms['Baseline']:9.1f} {ratio['Baseline']:5.2f}x {ms['Modified']:9.1f} "
              f"{ratio['Modified']:5.2f}x {ms['stepped']:17.1f} {ratio['stepped']:5.2f}x")
    if device.type == "cuda":
        print("fused ModifiedLSTMCell layer as plain step loops (no CUDA graphs, no persistent kernels): " + ", ".join(
            f"{case} {ratio['Modified without graphs']:.2f}x" for case, ratio in ratios.items()))
        print("fused ModifiedLSTMCell layer with its step loops as CUDA graphs, not persistent kernels: " + ", ".join(
            f"{case} {ratio['Modified graphed loops']:.2f}x" for case, ratio in ratios.items()))
        print("against torch.nn.LSTM with TF32 off (cuDNN in float32, as the fused layer): " + ", ".join(
            f"{case} {ratio['Modified'] / ratio['nn.LSTM without TF32']:.2f}x" for case, ratio in ratios.items()))
    batches = math.ceil(TRAINING_IMAGES / BATCH)
    print(f"\nfine-tuning through the hybrid (V0 = theta / 2): median ms per batch (forward, backward, clamp), "
          f"and s per epoch of {batches} batches")
    for case, steps, input_size in CASES:
        torch.manual_seed(0)
        x, y = torch.rand(BATCH, steps, input_size).to(device), torch.randint(0, 10, (BATCH,)).to(device)
        ms = median_ms(finetune_models(input_size, device), x, y, rounds_for(steps, args.rounds), device)
        print(f"{case:11} " + "; ".join(
            f"{name} {value:.1f} ms ({value / ms['ANN']:.1f}x the ANN), {value * batches / 1e3:.0f} s per epoch"
            for name, value in ms.items()))
    worst = max(max(r["Baseline"], r["Modified"]) for r in ratios.values())
    print(f"headline: the custom cells train at {worst:.2f}x torch.nn.LSTM's time per batch at worst "
          f"(target <= 1.3x; row-wise Modified {ratios['row-wise']['Modified']:.2f}x, pixel-wise Modified "
          f"{ratios['pixel-wise']['Modified']:.2f}x; plain stepping was {ratios['row-wise']['stepped']:.2f}x / "
          f"{ratios['pixel-wise']['stepped']:.2f}x)")


if __name__ == "__main__":
    main()
