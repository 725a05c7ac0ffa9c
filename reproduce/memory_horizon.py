"""How far back a trained sequence classifier remembers: the evidence behind a missed accuracy.

Two measurements of a run's selected model (checkpoint_best.pt) on the first N test images:

1. Accuracy when only the last K steps of each sequence are shown: every earlier step is
   replaced by the background value (a black pixel), for K = L, L/2, L/4, L/8, L/16. A model
   that remembers loses accuracy as K shrinks; one that reads only the end does not.
2. The forget gate f over the sequence (f = sigmoid(z_f) or PL1(z_f)), with c clamped to
   [-1, 1] as in training: its mean, the share of values >= 0.99, and the retention over the
   last R = L/8 steps, mean over images and units of prod_{t > L - R} f_t: the share of the
   cell state that survives R steps.
3. How much the final hidden state h_L, the classifier's only input, depends on the image:
   std over images of h_L, mean over units (0: every image ends in the same state), for the
   selected model and for the last one trained (checkpoint_last.pt).

With them, the data's side: how many background steps follow each image's last non-background
step (median and 1st percentile over the images), the distance a model must carry a digit.

Writes RUN/memory_horizon.json with the command that made it; make_report reads it.

    python -m reproduce.memory_horizon runs/seqmnist/pixelwise-BaselineLSTMCell-seed0 ... [--test-subset 2000]
"""
import argparse
import shlex
import sys
from pathlib import Path

import torch

from hybrid_lstm.nn.functional import gate_blocks
from hybrid_lstm.runs.checkpoint import Checkpoint
from hybrid_lstm.runs.data import MNIST_MEAN, MNIST_SCALE, load_sequences
from hybrid_lstm.runs.evaluation import evaluate
from hybrid_lstm.runs.files import RunError, write_json_atomic
from hybrid_lstm.runs.host import host_description
from hybrid_lstm.nn.model import CELL_STATE_LIMIT
from hybrid_lstm.runs.run_folder import file_sha256

PROG = "python -m reproduce.memory_horizon"
RESULTS_NAME = "memory_horizon.json"
BACKGROUND = (0.0 - MNIST_MEAN) / MNIST_SCALE  # a black pixel, normalised
FRACTIONS = (1, 2, 4, 8, 16)  # K = L / fraction
GATE_IMAGES = 500  # images of the forget-gate statistics
BATCH = 128


def visible_last(inputs: torch.Tensor, steps: int) -> torch.Tensor:
    """inputs (N, L, D) with every step before the last `steps` set to the background."""
    masked = inputs.clone()
    masked[:, : inputs.shape[1] - steps] = BACKGROUND
    return masked


@torch.no_grad()
def forget_gate_statistics(cell, inputs: torch.Tensor) -> dict:
    """Mean f, share of f >= 0.99 and retention over the last L/8 steps (module doc)."""
    steps = inputs.shape[1]
    window = max(1, steps // 8)
    h, c = cell.init_state(inputs.shape[0])
    total = above = count = 0.0
    retention = torch.ones(inputs.shape[0], cell.hidden_size, dtype=torch.float64)
    for t in range(steps):
        z = inputs[:, t] @ cell.weight_ih.t() + h @ cell.weight_hh.t() + cell.bias
        f = cell.sigmoid(gate_blocks(z.t())["f"].t())
        total, above, count = total + f.sum().item(), above + (f >= 0.99).sum().item(), count + f.numel()
        if t >= steps - window:
            retention *= f.double()
        h, c = cell(inputs[:, t], (h, c))
        c = c.clamp(-CELL_STATE_LIMIT, CELL_STATE_LIMIT)
    return {"mean": total / count, "share_at_least_0.99": above / count, "retention_window_steps": window,
            "retention": retention.mean().item(), "final_h_spread": h.std(0).mean().item()}


def trailing_background(inputs: torch.Tensor) -> dict:
    """Steps after the last step with any non-background input, per sequence: median and 1st percentile."""
    ink = (inputs > BACKGROUND + 1e-6).any(dim=2)
    last_ink = inputs.shape[1] - 1 - ink.flip(1).float().argmax(dim=1)
    trailing = (inputs.shape[1] - 1 - last_ink).float()
    return {"median": trailing.median().item(), "percentile_1": torch.quantile(trailing, 0.01).item()}


def measure(folder: Path, data_dir: str, subset: int) -> dict:
    checkpoint_path = folder / "checkpoint_best.pt"
    checkpoint = Checkpoint.load(checkpoint_path)
    model = checkpoint.classifier().eval()
    inputs, labels = load_sequences(data_dir, checkpoint.config, train=False, subset=subset)
    steps = inputs.shape[1]
    visible = []
    for fraction in FRACTIONS:
        shown = max(1, round(steps / fraction))
        accuracy = evaluate(model, visible_last(inputs, shown), labels, BATCH, f"last {shown} steps")
        visible.append({"steps": shown, "accuracy": accuracy})
        print(f"{folder.name}: last {shown:4d} of {steps} steps shown: {accuracy:6.2f}%", flush=True)
    gates = forget_gate_statistics(model.cells[0], inputs[:GATE_IMAGES])
    last = Checkpoint.load(folder / "checkpoint_last.pt")
    last_gates = forget_gate_statistics(last.classifier().eval().cells[0], inputs[:GATE_IMAGES])
    trailing = trailing_background(inputs)
    print(f"{folder.name}: forget gate mean {gates['mean']:.3f}, {100 * gates['share_at_least_0.99']:.1f}% >= 0.99, "
          f"retention over the last {gates['retention_window_steps']} steps {gates['retention']:.3g}; "
          f"final h spread {gates['final_h_spread']:.4f} (last checkpoint, {last.epochs_done} epochs: "
          f"{last_gates['final_h_spread']:.4f}); background steps after the last ink: median {trailing['median']:.0f}",
          flush=True)
    return {"checkpoint_sha256": file_sha256(checkpoint_path), "best_epoch": checkpoint.epochs_done,
            "test_samples": len(labels), "sequence_steps": steps, "trailing_background_steps": trailing,
            "visible_last": visible, "forget_gate": gates,
            "last_checkpoint": {"epochs": last.epochs_done, "forget_gate": last_gates}}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog=PROG, description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("runs", nargs="+", type=Path, help="run folders with a checkpoint_best.pt")
    parser.add_argument("--data-dir", default="data", help="MNIST root (default %(default)s)")
    parser.add_argument("--test-subset", type=int, default=2000, help="first N test images (default %(default)s)")
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads (default %(default)s)")
    args = parser.parse_args(argv)
    if args.test_subset < 1:
        parser.error(f"--test-subset must be >= 1, got {args.test_subset}")
    torch.set_num_threads(args.threads)
    command = " ".join([PROG] + [shlex.quote(a) for a in (argv if argv is not None else sys.argv[1:])])
    for folder in args.runs:
        try:
            result = measure(folder, args.data_dir, args.test_subset)
        except RunError as error:
            parser.exit(2, f"{PROG}: error: {error}\n")
        write_json_atomic(folder / RESULTS_NAME, {"command": command, "host": host_description(threads=args.threads),
                                                  **result})
    return 0


if __name__ == "__main__":
    sys.exit(main())
