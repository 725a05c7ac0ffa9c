"""The forget gate through the spikes: how much cell state a T-step hybrid carries.

A hybrid's forget gate is a spike count over T SNN steps, f_bar = n_f / T with n_f in
{0, 1, ..., T}. Below full hold (n_f = T) its largest value is 1 - 1/T, which keeps
(1 - 1/T)^R of the cell state over R steps: 2e-6 at T = 8 and R = 98, where the ANN's
forget gate can take any value in [0, 1].

For a run's checkpoint_best.pt at one T and initial potential, on the first N test images:
the hybrid's accuracy; the share of its forget-gate values n_f / T at each n_f, at full hold
(n_f = T) and their mean; the retention over the last R = L / 8 steps, mean over images and
units of prod_{t > L - R} f_bar_t; beside the same statistics of the model's own ANN
(memory_horizon.forget_gate_statistics).

Writes RUN/forget_resolution_T<T><run_folder.potential_suffix>.json with the command that made it.

    python -m reproduce.forget_resolution runs/seqmnist/finetune-pixelwise-seed0-T8-half --n-timestep 8
"""
import argparse
import shlex
import sys
from pathlib import Path

import torch

from hybrid_lstm.runs.checkpoint import Checkpoint
from hybrid_lstm.runs.data import load_sequences
from hybrid_lstm.runs.files import RunError, write_json_atomic
from hybrid_lstm.runs.host import host_description
from hybrid_lstm.runs.run_folder import file_sha256, potential_suffix
from hybrid_lstm.snn.neurons import check_initial_potential
from reproduce.memory_horizon import forget_gate_statistics

PROG = "python -m reproduce.forget_resolution"


def results_name(n_timestep: int, initial_potential: str) -> str:
    return f"forget_resolution_T{n_timestep}{potential_suffix(initial_potential)}.json"


class ForgetGateRecorder:
    """A simulation backend passing its counts through while it sums the forget gate's statistics
    over one sequence of `steps` LSTM steps: a histogram of n_f and the retention over the last steps / 8."""

    def __init__(self, backend, n_timestep: int, steps: int):
        self.backend, self.n_timestep, self.steps = backend, n_timestep, steps
        self.window = max(1, steps // 8)
        self.histogram = torch.zeros(n_timestep + 1, dtype=torch.long)
        self.retention = None
        self.step = 0

    def __call__(self, u: torch.Tensor, weights):
        counts = self.backend(u, weights)
        self.histogram += torch.bincount(counts.f.flatten().long(), minlength=self.n_timestep + 1)
        if self.step >= self.steps - self.window:
            rate = counts.f.double() / self.n_timestep
            self.retention = rate if self.retention is None else self.retention * rate
        self.step += 1
        return counts


@torch.no_grad()
def measure(folder: Path, data_dir: str, subset: int, n_timestep: int, initial_potential: str) -> dict:
    checkpoint_path = folder / "checkpoint_best.pt"
    checkpoint = Checkpoint.load(checkpoint_path)
    model = checkpoint.classifier().eval()
    if len(model.cells) != 1:
        raise RunError(f"{folder}: {len(model.cells)} LSTM layers; the measurement reads a one-layer model")
    inputs, labels = load_sequences(data_dir, checkpoint.config, train=False, subset=subset)
    hybrid = model.to_hybrid(n_timestep, initial_potential=initial_potential).eval()
    cell = hybrid.cells[0]
    recorder = ForgetGateRecorder(cell.backend, n_timestep, inputs.shape[1])
    cell.backend = recorder
    accuracy = 100.0 * (hybrid(inputs).argmax(1) == labels).float().mean().item()
    shares = (recorder.histogram.double() / recorder.histogram.sum()).tolist()
    levels = torch.arange(n_timestep + 1, dtype=torch.float64) / n_timestep
    through_spikes = {"accuracy": accuracy, "share_per_count": shares, "share_full_hold": shares[-1],
                      "mean": float((levels * torch.tensor(shares, dtype=torch.float64)).sum()),
                      "retention_window_steps": recorder.window, "retention": recorder.retention.mean().item()}
    ann = forget_gate_statistics(model.cells[0], inputs)
    print(f"{folder.name} at T = {n_timestep} ({initial_potential}), {len(labels)} images: hybrid {accuracy:.2f}%; "
          f"forget gate at full hold {100 * shares[-1]:.1f}%, mean {through_spikes['mean']:.3f}, retention over the "
          f"last {recorder.window} steps {through_spikes['retention']:.3g} (ANN: {100 * ann['share_at_least_0.99']:.1f}% "
          f">= 0.99, mean {ann['mean']:.3f}, retention {ann['retention']:.3g})", flush=True)
    return {"checkpoint_sha256": file_sha256(checkpoint_path), "test_samples": len(labels),
            "sequence_steps": inputs.shape[1], "n_timestep": n_timestep, "initial_potential": initial_potential,
            "hybrid": through_spikes, "ann": ann}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog=PROG, description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("runs", nargs="+", type=Path, help="run folders with a checkpoint_best.pt")
    parser.add_argument("--n-timestep", type=int, required=True, help="SNN steps per LSTM step")
    parser.add_argument("--initial-potential", default="half", help="one, half or per population (default %(default)s)")
    parser.add_argument("--data-dir", default="data", help="MNIST root (default %(default)s)")
    parser.add_argument("--test-subset", type=int, default=500, help="first N test images (default %(default)s)")
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads (default %(default)s)")
    args = parser.parse_args(argv)
    if args.test_subset < 1 or args.n_timestep < 1:
        parser.error(f"--test-subset and --n-timestep must be >= 1, got {args.test_subset} and {args.n_timestep}")
    try:
        initial_potential = check_initial_potential(args.initial_potential)
    except ValueError as error:
        parser.error(str(error))
    torch.set_num_threads(args.threads)
    command = " ".join([PROG] + [shlex.quote(a) for a in (argv if argv is not None else sys.argv[1:])])
    for folder in args.runs:
        try:
            result = measure(folder, args.data_dir, args.test_subset, args.n_timestep, initial_potential)
        except RunError as error:
            parser.exit(2, f"{PROG}: error: {error}\n")
        write_json_atomic(folder / results_name(args.n_timestep, initial_potential),
                          {"command": command, "host": host_description(threads=args.threads), **result})
    return 0


if __name__ == "__main__":
    sys.exit(main())
