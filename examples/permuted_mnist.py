"""Permuted sequential MNIST with the library's public API: train, convert, test against T, cost.

    python examples/permuted_mnist.py --output runs/examples/psmnist-seed0            # 50 epochs (hours on a CPU)
    python examples/permuted_mnist.py --output /tmp/quick --epochs 1 --train-subset 2048 --test-subset 200

Each image is read one pixel per step (784 steps) in a fixed random order (seed 0), the benchmark
of the spiking-RNN literature. The model is hybrid_lstm.nn.LSTM(1, 128, cell="modified") and a
Linear classifier, trained with the paper's recipe (RMSprop 1e-3, gradient norm clipped at 1,
c and every parameter clamped to [-1, 1]); each epoch ends with a checkpoint, and a rerun resumes
after the last finished epoch. Then hybrid_lstm.convert turns the best epoch's model into its
hybrid at each T, with V0 = 1 and V0 = theta / 2, and loihi_sim.estimate reports its cost at the
smallest T within 1 point of the ANN. Everything goes to OUTPUT/results.json.
"""
import argparse
import json
import shlex
import sys
import time
from pathlib import Path

import torch
from torch import nn
from tqdm import tqdm

import hybrid_lstm
import loihi_sim
from hybrid_lstm.runs.data import load_mnist, pixel_permutation, to_sequences
from hybrid_lstm.runs.host import host_description

HIDDEN = 128


class PixelClassifier(nn.Module):
    def __init__(self):
        super().__init__()
        self.lstm = hybrid_lstm.nn.LSTM(1, HIDDEN, batch_first=True, cell="modified", cell_state_limit=1.0)
        self.head = nn.Linear(HIDDEN, 10)

    def forward(self, x):  # x (N, 784, 1)
        _, (h_n, _) = self.lstm(x)
        return self.head(h_n[-1])


def accuracy(model, x, y, batch_size: int, description: str) -> float:
    model.eval()
    correct = 0
    with torch.no_grad():
        for start in tqdm(range(0, len(x), batch_size), desc=description, leave=False, disable=None):
            correct += (model(x[start:start + batch_size]).argmax(1) == y[start:start + batch_size]).sum().item()
    return 100.0 * correct / len(x)


def save(state: dict, path: Path):
    """torch.save to a temporary file, then rename: a crash never leaves half a checkpoint."""
    temporary = path.with_suffix(".tmp")
    torch.save(state, temporary)
    temporary.replace(path)


def train(args, x, y, test_x, test_y) -> tuple:
    """(the best epoch's model, per-epoch history), resuming from OUTPUT/checkpoint.pt."""
    torch.manual_seed(args.seed)
    model = PixelClassifier()
    optimizer = torch.optim.RMSprop(model.parameters(), lr=1e-3, alpha=0.99, eps=1e-8)
    checkpoint = args.output / "checkpoint.pt"
    state = {"epoch": 0, "history": [], "best": None}
    if checkpoint.exists():
        state = torch.load(checkpoint, weights_only=True)
        model.load_state_dict(state["model"]), optimizer.load_state_dict(state["optimizer"])
        print(f"resumed after epoch {state['epoch']}")
    for epoch in range(state["epoch"] + 1, args.epochs + 1):
        model.train()
        started = time.perf_counter()
        order = torch.randperm(len(x), generator=torch.Generator().manual_seed(args.seed * 1000 + epoch))
        for start in tqdm(range(0, len(x), args.batch_size), desc=f"epoch {epoch}", leave=False, disable=None):
            batch = order[start:start + args.batch_size]
            optimizer.zero_grad()
            nn.functional.cross_entropy(model(x[batch]), y[batch]).backward()
            nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optimizer.step()
            with torch.no_grad():
                for parameter in model.parameters():
                    parameter.clamp_(-1, 1)
        test = accuracy(model, test_x, test_y, args.batch_size, "test")
        state["history"].append({"epoch": epoch, "test_accuracy": test, "seconds": time.perf_counter() - started})
        if state["best"] is None or test > state["best"]["test_accuracy"]:
            state["best"] = {"epoch": epoch, "test_accuracy": test,
                             "model": {k: v.clone() for k, v in model.state_dict().items()}}
        state.update(epoch=epoch, model=model.state_dict(), optimizer=optimizer.state_dict())
        save(state, checkpoint)
        print(f"epoch {epoch}/{args.epochs}: test {test:.2f}% (best {state['best']['test_accuracy']:.2f}%, "
              f"epoch {state['best']['epoch']})", flush=True)
    model.load_state_dict(state["best"]["model"])
    return model.eval(), state["history"], state["best"]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--output", type=Path, required=True, help="folder for the checkpoint and results.json")
    parser.add_argument("--data-dir", default="data", help="MNIST root (downloaded, or rebuilt offline; default data)")
    parser.add_argument("--epochs", type=int, default=50)
    parser.add_argument("--seed", type=int, default=0, help="initialisation and shuffling")
    parser.add_argument("--permute", type=int, default=0, help="seed of the pixel order (default 0)")
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--n-timestep", type=int, nargs="+", default=[4, 8, 16, 32, 64, 128], metavar="T")
    parser.add_argument("--train-subset", type=int, help="the first N training images only (quick runs)")
    parser.add_argument("--test-subset", type=int, help="the first N test images only (quick runs)")
    parser.add_argument("--threads", type=int, help="torch CPU threads")
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    args.output.mkdir(parents=True, exist_ok=True)
    permutation = pixel_permutation(args.permute)
    (images, labels), (test_images, test_labels) = load_mnist(args.data_dir, True), load_mnist(args.data_dir, False)
    x, y = to_sequences(images, 1, permutation)[:args.train_subset], labels[:args.train_subset]
    test_x, test_y = to_sequences(test_images, 1, permutation)[:args.test_subset], test_labels[:args.test_subset]

    model, history, best = train(args, x, y, test_x, test_y)
    ann = accuracy(model, test_x, test_y, args.batch_size, "ANN")
    rows = []
    for potential in ("one", "half"):
        for n_timestep in args.n_timestep:
            hybrid = hybrid_lstm.convert(model, n_timestep, initial_potential=potential)
            started = time.perf_counter()
            rows.append({"n_timestep": n_timestep, "initial_potential": potential,
                         "accuracy": accuracy(hybrid, test_x, test_y, args.batch_size, f"T={n_timestep} V0 {potential}"),
                         "seconds": time.perf_counter() - started})
            print(f"hybrid T={n_timestep:4d} V0 {'1' if potential == 'one' else 'theta/2'}: {rows[-1]['accuracy']:.2f}% "
                  f"(ANN {ann:.2f}%)", flush=True)
    close = [row for row in rows if row["accuracy"] >= ann - 1.0]
    chosen = min(close, key=lambda row: row["n_timestep"]) if close else max(rows, key=lambda row: row["accuracy"])
    report = loihi_sim.estimate(hybrid_lstm.convert(model, chosen["n_timestep"],
                                                    initial_potential=chosen["initial_potential"]), test_x[:100])
    print(f"energy at T={chosen['n_timestep']}, V0 {chosen['initial_potential']}:\n{report.table()}")
    results = {"command": shlex.join(["python", "examples/permuted_mnist.py", *(sys.argv[1:] if argv is None else argv)]),
               "test_images": len(test_x), "train_images": len(x), "best_epoch": best["epoch"], "ann_accuracy": ann,
               "history": history, "hybrid": rows, "energy": {"at": chosen, **report.as_dict()},
               "host": host_description()}
    temporary = args.output / "results.json.tmp"
    temporary.write_text(json.dumps(results, indent=1) + "\n")
    temporary.replace(args.output / "results.json")
    print(f"wrote {args.output / 'results.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
