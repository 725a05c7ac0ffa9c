#!/usr/bin/env python3
"""Sequential MNIST with LSTMs and their hybrid analog-spiking conversion.

train: fit a BaselineLSTMCell or ModifiedLSTMCell classifier (row-wise: --input-size 28,
pixel-wise: --input-size 1), keeping checkpoint_best.pt and checkpoint_last.pt in
--checkpoint-dir; rerunning the same command resumes an interrupted run.
test: ANN accuracy of checkpoint_best.pt, then the accuracy of its hybrid conversion at
every --n-timestep T; printed as a table and written to test_results.json
(test_results_hard.json with --reset hard).
"""
import argparse
import fcntl
import json
import math
import os
import shlex
import sys
from contextlib import contextmanager
from pathlib import Path

import torch

from hybrid_lstm.cli import OneLineParser, positive_int, non_negative_int
from hybrid_lstm.cells import CELL_CLASSES
from hybrid_lstm.data import PIXELS, DataError, load_sequences
from hybrid_lstm.hybrid import SIMULATIONS
from hybrid_lstm.neurons import INITIAL_POTENTIALS, RESET_MODES
from hybrid_lstm.files import RunError, format_table, save_atomic, write_json_atomic
from hybrid_lstm.training import (
    CHECKPOINT_FORMAT, build_model, epoch_seed, evaluate, host_description, load_checkpoint, model_from_checkpoint,
    timed, train_epoch,
)

MODEL_DEFAULTS = {
    "lstm_cell_class": "ModifiedLSTMCell", "input_size": 28, "hidden_size": 128, "num_layer": 1,
    "dropout": 0.5, "permute": None,
}
# settings a resumed run must share with the run it continues
TRAINING_KEYS = ("seed", "lr", "momentum", "grad_clip", "batch_size", "validation_size", "train_subset", "test_subset")
PROG = "run_seqmnist.py"
MNIST_TRAIN_SIZE = 60000
LAST, BEST, LOG, HISTORY = "checkpoint_last.pt", "checkpoint_best.pt", "train.log", "history.json"
DEVICE_TYPES = ("cpu", "cuda")


def results_name(reset: str, initial_potential: str) -> str:
    """test_results.json for the paper's neurons; _hard / _half mark the other settings."""
    return "test_results" + ("_hard" if reset == "hard" else "") + ("_half" if initial_potential == "half" else "") + ".json"


RESULTS = tuple(results_name(r, v) for r in RESET_MODES for v in INITIAL_POTENTIALS)


def parse_args(argv=None):
    parser = OneLineParser(prog=PROG, description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--mode", choices=("train", "test"), default="train", help="default %(default)s")
    parser.add_argument("--checkpoint-dir", default="checkpoints/seqmnist", help="where checkpoints, logs and results go (default %(default)s)")
    parser.add_argument("--data-dir", default="data", help="MNIST root, torchvision layout, fetched when absent (default %(default)s)")
    parser.add_argument("--seed", type=non_negative_int, default=0, help="initialisation, shuffling and dropout seed (default %(default)s)")
    model = parser.add_argument_group("model (test mode: taken from the checkpoint when not given)")
    model.add_argument("--lstm-cell-class", choices=sorted(CELL_CLASSES), help="default ModifiedLSTMCell")
    model.add_argument("--input-size", type=positive_int, help=f"pixels per LSTM step, divides {PIXELS}: 28 row-wise (default), 1 pixel-wise")
    model.add_argument("--hidden-size", type=positive_int, help="default 128")
    model.add_argument("--num-layer", type=positive_int, help="stacked LSTM layers, default 1")
    model.add_argument("--dropout", type=float, help="between stacked layers, default 0.5 (no effect with one layer)")
    model.add_argument("--permute", type=int, nargs="?", const=0, metavar="SEED",
                       help="apply a fixed random pixel permutation (seeded by SEED, default 0)")
    training = parser.add_argument_group("training")
    training.add_argument("--batch-size", type=positive_int, default=128, help="train and test batch size (default %(default)s)")
    training.add_argument("--lr", type=float, default=1e-3, help="RMSprop learning rate (default %(default)s)")
    training.add_argument("--momentum", type=float, default=0.0, help="RMSprop momentum (default %(default)s)")
    training.add_argument("--grad-clip", type=float, default=1.0, help="gradient-norm clipping (default %(default)s)")
    training.add_argument("--start-epoch", type=non_negative_int,
                          help="epochs already done (default: 0, or those of checkpoint_last.pt when resuming)")
    training.add_argument("--end-epoch", type=positive_int, default=50, help="train until this many epochs are done (default %(default)s)")
    training.add_argument("--save-interval-updates", type=non_negative_int, default=100, metavar="N",
                          help="also save checkpoint_last.pt every N updates within an epoch, 0 for epoch ends "
                               "only (default %(default)s)")
    training.add_argument("--overwrite", action="store_true", help="discard an earlier run or results in --checkpoint-dir")
    training.add_argument("--validation-size", type=non_negative_int, default=0,
                          help="hold out the last N training images and select the best checkpoint on them "
                               "(default 0: select on the test set, as the authors did)")
    testing = parser.add_argument_group("testing")
    testing.add_argument("--n-timestep", type=positive_int, nargs="+", default=[128], metavar="T",
                         help="SNN time-steps per LSTM step; several values are tested in turn (default 128)")
    testing.add_argument("--reset", choices=RESET_MODES, default="soft",
                         help="IF neurons' reset after a spike: soft (subtract threshold, the paper) or hard (to 0, Loihi); default %(default)s")
    testing.add_argument("--initial-potential", choices=INITIAL_POTENTIALS, default="one",
                         help="IF neurons' potential at the start of each LSTM step: one (the paper) or half "
                              "(threshold / 2, unbiased rates); default %(default)s")
    testing.add_argument("--simulation", choices=SIMULATIONS, default="fast",
                         help="hybrid simulation: fast or the plain per-SNN-step reference; their spike counts are "
                              "bit-identical (default %(default)s)")
    runtime = parser.add_argument_group("runtime")
    runtime.add_argument("--train-subset", type=positive_int, help="train on the first N training images only")
    runtime.add_argument("--test-subset", type=positive_int, help="evaluate on the first N test images only")
    runtime.add_argument("--device", default="auto", help="cpu, cuda, cuda:N, or auto (cuda when available)")
    runtime.add_argument("--threads", type=positive_int, help="torch CPU threads (default: torch's choice)")
    args = parser.parse_args(argv)
    args.command = shlex.join([PROG, *(sys.argv[1:] if argv is None else argv)])
    return args


def log(path: Path, text: str):
    print(text, flush=True)
    with open(path, "a") as handle:
        handle.write(text + "\n")


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(name)
    except RuntimeError:
        raise RunError(f"unknown --device {name!r}; use cpu, cuda, cuda:N or auto")
    if device.type not in DEVICE_TYPES:
        raise RunError(f"--device {name}: only cpu and cuda are supported")
    if device.type == "cuda" and not torch.cuda.is_available():
        raise RunError("--device cuda asked for, but torch sees no CUDA device")
    if device.type == "cuda" and device.index is not None and device.index >= torch.cuda.device_count():
        raise RunError(f"--device {name}: torch sees {torch.cuda.device_count()} CUDA device(s)")
    return device


def check_settings(args):
    """Every flag that argparse cannot check alone, before anything is read, written or deleted."""
    if not args.checkpoint_dir.strip():
        raise RunError("--checkpoint-dir must name a folder")
    directory = Path(args.checkpoint_dir)
    if directory.exists() and not directory.is_dir():
        raise RunError(f"--checkpoint-dir {directory} is a file, not a folder")
    for flag, value, low in (("--lr", args.lr, 0.0), ("--grad-clip", args.grad_clip, 0.0)):
        if not math.isfinite(value) or value <= low:
            raise RunError(f"{flag} must be a positive number, got {value}")
    if not math.isfinite(args.momentum) or args.momentum < 0:
        raise RunError(f"--momentum must be >= 0, got {args.momentum}")
    if args.dropout is not None and not 0.0 <= args.dropout < 1.0:
        raise RunError(f"--dropout must be in [0, 1), got {args.dropout}")


def check_writable(directory: Path):
    """Fail now, not after the compute, when results cannot be written into directory."""
    if not os.access(directory, os.W_OK | os.X_OK):
        raise RunError(f"cannot write into {directory} (permission denied)")


def lock_holder(directory: Path) -> str:
    """The process holding a flock on directory, from /proc/locks (Linux), or a generic name."""
    inode = directory.stat().st_ino
    try:
        for line in Path("/proc/locks").read_text().splitlines():
            fields = line.split()
            if "FLOCK" in fields and fields[-3].endswith(f":{inode}"):
                return f"process {fields[-4]}"
    except (OSError, IndexError):
        pass
    return "another process"


@contextmanager
def run_lock(directory: Path):
    """Hold an exclusive flock on the run folder itself for the whole training: a second
    training of the same folder is refused, naming the holder. Nothing is written for it,
    and the lock dies with its process, even under kill -9."""
    handle = os.open(directory, os.O_RDONLY)
    try:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise RunError(f"{directory} is being trained by {lock_holder(directory)}; wait for it to finish "
                           "or use another --checkpoint-dir")
        yield
    finally:
        os.close(handle)


def model_config(args, recorded=None) -> dict:
    """The model flags: given ones, else those recorded in a checkpoint, else the defaults.
    A given flag that contradicts the recorded value is an error."""
    config = {}
    for key, default in MODEL_DEFAULTS.items():
        given = getattr(args, key)
        if recorded is not None and given is not None and given != recorded[key]:
            flag = "--" + key.replace("_", "-")
            raise RunError(f"the checkpoint was trained with {flag} {recorded[key]}, not {given}")
        config[key] = given if given is not None else (recorded[key] if recorded is not None else default)
    if PIXELS % config["input_size"]:
        raise RunError(f"--input-size must divide {PIXELS} (28 row-wise, 1 pixel-wise), got {config['input_size']}")
    if not 0.0 <= config["dropout"] < 1.0:
        raise RunError(f"--dropout must be in [0, 1), got {config['dropout']}")
    return config


def load_split(args, config: dict, train: bool, subset, device):
    inputs, labels = load_sequences(args.data_dir, config, train, subset)
    return inputs.to(device), labels.to(device)


def history_record(config: dict, history: list, best: dict, device) -> dict:
    return {"config": config, "history": history, "best": best, "host": host_description(device)}


def prepare_train_dir(args, config: dict, device):
    """Decide between a fresh run and a resume; returns checkpoint_last's content or None.
    history.json is rewritten from checkpoint_last.pt (its source) whenever they disagree,
    e.g. after a crash between the two writes."""
    directory = Path(args.checkpoint_dir)
    if args.overwrite:
        for name in (LAST, BEST, LOG, HISTORY, *RESULTS):
            (directory / name).unlink(missing_ok=True)
    if not (directory / LAST).exists():
        if (directory / BEST).exists():
            raise RunError(f"{directory} holds an earlier run's {BEST} but no {LAST} to resume from; "
                           "pass --overwrite to start over")
        # a train.log alone: an attempt stopped before its first save; start afresh, appending to the log
        if args.start_epoch:
            raise RunError(f"--start-epoch {args.start_epoch} needs {directory / LAST} to resume from")
        return None
    checkpoint = load_checkpoint(directory / LAST)
    changed = [f"{key}: {checkpoint['config'].get(key)!r} -> {config[key]!r}" for key in config
               if checkpoint["config"].get(key) != config[key]]
    if changed:
        raise RunError(f"{directory / LAST} was trained with other settings ({'; '.join(changed)}); "
                       "use another --checkpoint-dir or pass --overwrite")
    done = checkpoint["epochs_done"]
    recorded = read_history(directory / HISTORY)
    if recorded is None or len(recorded.get("history", [])) != len(checkpoint["history"]):
        write_json_atomic(directory / HISTORY, history_record(checkpoint["config"], checkpoint["history"],
                                                               checkpoint["best"], device))
    if args.start_epoch is not None and args.start_epoch != done:
        raise RunError(f"{directory / LAST} has {done} epochs done, not --start-epoch {args.start_epoch}")
    if done >= args.end_epoch:
        raise RunError(f"{directory} is already trained for {done} epochs; raise --end-epoch to continue or pass --overwrite")
    return checkpoint


def read_history(path: Path):
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def train(args, device):
    config = model_config(args)
    config.update({key: getattr(args, key) for key in TRAINING_KEYS})
    if args.validation_size >= MNIST_TRAIN_SIZE:
        raise RunError(f"--validation-size {args.validation_size} leaves no training images (MNIST has {MNIST_TRAIN_SIZE})")
    directory = Path(args.checkpoint_dir)

    train_x, train_y = load_split(args, config, True, None, device)
    if args.validation_size:
        select_x, select_y = train_x[-args.validation_size:], train_y[-args.validation_size:]
        train_x, train_y = train_x[: -args.validation_size], train_y[: -args.validation_size]
    train_x, train_y = train_x[: args.train_subset], train_y[: args.train_subset]
    test_x, test_y = load_split(args, config, False, args.test_subset, device)
    if not args.validation_size:
        select_x, select_y = test_x, test_y
    selection = "validation" if args.validation_size else "test"

    directory.mkdir(parents=True, exist_ok=True)
    with run_lock(directory):
        fit(args, device, config, (train_x, train_y), (select_x, select_y), (test_x, test_y), selection)


def fit(args, device, config: dict, train_set, select_set, test_set, selection: str):
    """Train from scratch or resume, in the locked run folder."""
    directory = Path(args.checkpoint_dir)
    (train_x, train_y), (select_x, select_y), (test_x, test_y) = train_set, select_set, test_set
    resumed = prepare_train_dir(args, config, device)  # the first write, after every check
    torch.manual_seed(args.seed)
    model = build_model(config).to(device)
    optimizer = torch.optim.RMSprop(model.parameters(), lr=args.lr, alpha=0.99, eps=1e-8, momentum=args.momentum)
    partial = None
    if resumed is None:
        history, best = [], {"accuracy": -1.0, "epoch": 0}
        log(directory / LOG, f"# {args.command}")
    else:
        model.load_state_dict(resumed["model"])
        optimizer.load_state_dict(resumed["optimizer"])
        history, best, partial = resumed["history"], resumed["best"], resumed.get("partial_epoch")
        position = f" and {partial['batches_done']} batches" if partial else ""
        log(directory / LOG, f"# resumed after {resumed['epochs_done']} epochs{position}: {args.command}")

    def save_last(epochs_done, partial_epoch):
        save_atomic({"format": CHECKPOINT_FORMAT, "config": config, "epochs_done": epochs_done,
                     "model": model.state_dict(), "optimizer": optimizer.state_dict(), "history": history,
                     "best": best, "partial_epoch": partial_epoch}, directory / LAST)

    for epoch in range(len(history), args.end_epoch):
        loss, train_accuracy, seconds = train_epoch(
            model, optimizer, train_x, train_y, args.batch_size, args.grad_clip, epoch_seed(args.seed, epoch),
            partial=partial, save_interval=args.save_interval_updates,
            save_partial=lambda progress: save_last(epoch, progress), description=f"epoch {epoch + 1}/{args.end_epoch}")
        partial = None
        record = {"epoch": epoch + 1, "train_loss": loss, "train_accuracy": train_accuracy,
                  f"{selection}_accuracy": evaluate(model, select_x, select_y, args.batch_size, selection),
                  "seconds": seconds, "host": host_description(device)}
        if args.validation_size:
            record["test_accuracy"] = evaluate(model, test_x, test_y, args.batch_size, "test")
        history.append(record)
        if record[f"{selection}_accuracy"] > best["accuracy"]:
            best = {"accuracy": record[f"{selection}_accuracy"], "epoch": epoch + 1}
            save_atomic({"format": CHECKPOINT_FORMAT, "config": config, "epochs_done": epoch + 1,
                         "model": model.state_dict(), "selected_on": selection, "accuracy": best["accuracy"]},
                        directory / BEST)
        save_last(epoch + 1, None)
        write_json_atomic(directory / HISTORY, history_record(config, history, best, device))
        test_text = f" test_acc {record['test_accuracy']:.2f}" if args.validation_size else ""
        log(directory / LOG,
            f"epoch {epoch + 1}/{args.end_epoch} train_loss {loss:.4f} train_acc {train_accuracy:.2f} "
            f"{selection}_acc {record[f'{selection}_accuracy']:.2f}{test_text} "
            f"best {best['accuracy']:.2f} (epoch {best['epoch']}) time {seconds:.1f}s")


def test(args, device):
    directory = Path(args.checkpoint_dir)
    path = directory / BEST
    checkpoint = load_checkpoint(path)
    config = model_config(args, checkpoint["config"])
    results_path = directory / results_name(args.reset, args.initial_potential)
    if results_path.exists() and not args.overwrite:
        raise RunError(f"{results_path} exists; pass --overwrite to replace it")
    check_writable(directory)
    convertible = config["lstm_cell_class"] == "ModifiedLSTMCell"
    model = model_from_checkpoint(checkpoint, path).to(device)
    test_x, test_y = load_split(args, config, False, args.test_subset, device)
    hybrids = {}
    for n_timestep in args.n_timestep if convertible else []:  # refuse an impossible T before any compute
        try:
            hybrids[n_timestep] = model.to_hybrid(n_timestep, args.reset, args.simulation, args.initial_potential)
        except ValueError as error:
            raise RunError(f"--n-timestep {n_timestep}: {error}")

    ann_accuracy, ann_seconds = timed(evaluate, model, test_x, test_y, args.batch_size, "ANN")
    print(f"ANN: accuracy {ann_accuracy:.2f}% on {len(test_x)} test images ({ann_seconds:.1f} s)", flush=True)
    rows = [["ANN " + config["lstm_cell_class"], "-", f"{ann_accuracy:.2f}", "", "", "", "", "", f"{ann_seconds:.1f}"]]
    hybrid_results = []
    if not convertible:
        print(f"note: a {config['lstm_cell_class']} has no spiking equivalent; hybrid evaluation skipped")
    for n_timestep, hybrid in hybrids.items():
        accuracy, seconds = timed(evaluate, hybrid, test_x, test_y, args.batch_size, f"hybrid T={n_timestep}")
        record = hybrid.spike_record()
        rates = record.rates()
        print(f"hybrid T={n_timestep}: accuracy {accuracy:.2f}% ({seconds:.1f} s)", flush=True)
        hybrid_results.append({"n_timestep": n_timestep, "reset": args.reset, "initial_potential": args.initial_potential,
                               "simulation": args.simulation, "accuracy": accuracy,
                               "spike_rates": rates, "spike_totals": record.totals(), "wall_time_s": seconds})
        rows.append([f"hybrid ({args.reset} reset{', V0 = theta/2' if args.initial_potential == 'half' else ''})", n_timestep, f"{accuracy:.2f}",
                     *(f"{rates[p]:.3f}" for p in ("encoder", "i", "f", "g", "o")), f"{seconds:.1f}"])
    if hybrid_results:
        print(format_table(["model", "T", "accuracy %", "enc", "i", "f", "g", "o", "time s"], rows))
        print("(enc, i, f, g, o: spikes per neuron per SNN step)")
    write_json_atomic(results_path, {
        "command": args.command, "checkpoint": str(path), "epochs_done": checkpoint["epochs_done"],
        "selected_on": checkpoint.get("selected_on"), "config": config, "test_samples": len(test_x),
        "device": str(device), "host": host_description(device), "ann": {"accuracy": ann_accuracy, "wall_time_s": ann_seconds},
        "hybrid": hybrid_results,
    })
    print(f"wrote {results_path}")


def main(argv=None) -> int:
    args = parse_args(argv)
    try:
        check_settings(args)
        if args.threads:
            torch.set_num_threads(args.threads)
        device = resolve_device(args.device)
        if args.mode == "train":
            train(args, device)
        else:
            test(args, device)
    except (RunError, DataError) as error:
        print(f"{PROG}: error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted; rerun the same command to resume from the last saved update", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
