#!/usr/bin/env python3
"""Sequential MNIST with LSTMs and their hybrid analog-spiking conversion.

train: fit a BaselineLSTMCell or ModifiedLSTMCell classifier (row-wise: --input-size 28,
pixel-wise: --input-size 1), keeping checkpoint_best.pt and checkpoint_last.pt in
--checkpoint-dir; rerunning the same command resumes an interrupted run. With --finetune-from
RUN --finetune-timestep T it fine-tunes RUN's model through its hybrid at T instead.
test: ANN accuracy of checkpoint_best.pt, then the accuracy of its hybrid conversion at
every --n-timestep T; printed as a table and written to test_results.json
(test_results_hard.json with --reset hard, _half with --initial-potential half, or --output);
an interrupted test keeps its finished T in test_results.partial.json (beside --output), and
rerunning the same command resumes after them.
"""
import argparse
import math
import shlex
import sys
from pathlib import Path

import torch

from hybrid_lstm.runs.checkpoint import MODEL_DEFAULTS, TRAINING_KEYS
from hybrid_lstm.runs.cli import (INITIAL_POTENTIAL_HELP, OneLineParser, exit_status, initial_potential, non_negative_int,
                                   positive_int, seed)
from hybrid_lstm.nn.cells import CELL_CLASSES
from hybrid_lstm.runs.data import PIXELS, load_sequences
from hybrid_lstm.runs.evaluation import evaluate, evaluate_hybrid, timed
from hybrid_lstm.runs.files import RunError, check_output_path, format_table
from hybrid_lstm.runs.host import host_description
from hybrid_lstm.snn.hybrid import SIMULATIONS
from hybrid_lstm.snn.neurons import DEFAULT_INITIAL_POTENTIAL, DEFAULT_RESET, RESET_MODES, parse_initial_potential
from hybrid_lstm.snn.spikes import POPULATIONS
from hybrid_lstm.runs.records import HybridAccuracy, MnistTest
from hybrid_lstm.runs.run_folder import RunFolder, file_sha256
from hybrid_lstm.runs.sweep import ResumableSweep
from hybrid_lstm.runs.training import fit, training_sets

PROG = "run_seqmnist.py"
DEVICE_TYPES = ("cpu", "cuda")


def build_parser() -> OneLineParser:
    parser = OneLineParser(prog=PROG, description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--mode", choices=("train", "test"), default="train", help="default %(default)s")
    parser.add_argument("--checkpoint-dir", default="checkpoints/seqmnist", help="where checkpoints, logs and results go (default %(default)s)")
    parser.add_argument("--data-dir", default="data", help="MNIST root, torchvision layout, fetched when absent (default %(default)s)")
    parser.add_argument("--seed", type=seed, default=0, help="initialisation, shuffling and dropout seed (default %(default)s)")
    model = parser.add_argument_group("model (test mode: taken from the checkpoint when not given)")
    model.add_argument("--lstm-cell-class", choices=sorted(CELL_CLASSES), help="default ModifiedLSTMCell")
    model.add_argument("--input-size", type=positive_int, help=f"pixels per LSTM step, divides {PIXELS}: 28 row-wise (default), 1 pixel-wise")
    model.add_argument("--hidden-size", type=positive_int, help="default 128")
    model.add_argument("--num-layer", type=positive_int, help="stacked LSTM layers, default 1")
    model.add_argument("--dropout", type=float, help="between stacked layers, default 0.5 (no effect with one layer)")
    model.add_argument("--permute", type=seed, nargs="?", const=0, metavar="SEED",
                       help="apply a fixed random pixel permutation (seeded by SEED, default 0)")
    model.add_argument("--no-clamps", dest="clamps", action="store_const", const=False,
                       help="a diagnostic: neither c nor the parameters clamped to [-1, 1] (the paper clamps both)")
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
    training.add_argument("--finetune-from", metavar="RUN",
                          help="conversion-aware fine-tuning: start from RUN's checkpoint_best.pt (a ModifiedLSTMCell) "
                               "and train through its hybrid at --finetune-timestep T with --reset and "
                               "--initial-potential (the forward the hybrid's, the backward the ANN's gradient)")
    training.add_argument("--finetune-timestep", type=positive_int, metavar="T",
                          help="the SNN time-steps per LSTM step of --finetune-from")
    training.add_argument("--validation-size", type=non_negative_int, default=0,
                          help="hold out the last N training images and select the best checkpoint on them "
                               "(default 0: select on the test set, as the authors did)")
    testing = parser.add_argument_group("testing")
    testing.add_argument("--n-timestep", type=positive_int, nargs="+", default=[128], metavar="T",
                         help="SNN time-steps per LSTM step; several values are tested in turn (default 128)")
    testing.add_argument("--reset", choices=RESET_MODES, default=DEFAULT_RESET,
                         help="IF neurons' reset after a spike: soft (subtract threshold, the paper) or hard (to 0, Loihi); default %(default)s")
    testing.add_argument("--initial-potential", type=initial_potential, default=DEFAULT_INITIAL_POTENTIAL,
                         help=INITIAL_POTENTIAL_HELP + "; default %(default)s")
    testing.add_argument("--simulation", choices=SIMULATIONS, default="fast",
                         help="hybrid simulation: fast or the plain per-SNN-step reference; their spike counts are "
                              "bit-identical (default %(default)s)")
    testing.add_argument("--output", help="results JSON path (default: DIR/test_results[_hard][_half].json)")
    runtime = parser.add_argument_group("runtime")
    runtime.add_argument("--train-subset", type=positive_int, help="train on the first N training images only")
    runtime.add_argument("--test-subset", type=positive_int, help="evaluate on the first N test images only")
    runtime.add_argument("--device", default="auto", help="cpu, cuda, cuda:N, or auto (cuda when available)")
    runtime.add_argument("--threads", type=positive_int, help="torch CPU threads (default: torch's choice)")
    return parser


def parse_args(argv=None):
    args = build_parser().parse_args(argv)
    args.command = shlex.join([PROG, *(sys.argv[1:] if argv is None else argv)])
    return args


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
    RunFolder(args.checkpoint_dir).check()
    for flag, value, low in (("--lr", args.lr, 0.0), ("--grad-clip", args.grad_clip, 0.0)):
        if not math.isfinite(value) or value <= low:
            raise RunError(f"{flag} must be a positive number, got {value}")
    if not math.isfinite(args.momentum) or args.momentum < 0:
        raise RunError(f"--momentum must be >= 0, got {args.momentum}")
    if args.dropout is not None and not 0.0 <= args.dropout < 1.0:
        raise RunError(f"--dropout must be in [0, 1), got {args.dropout}")
    if args.output is not None:
        if args.mode != "test":
            raise RunError("--output is for --mode test")
        check_output_path(args.output, inputs=(RunFolder(args.checkpoint_dir).best,))


def model_config(args, recorded=None) -> dict:
    """The model flags: given ones, else those recorded in a checkpoint, else the defaults.
    A given flag that contradicts the recorded value is an error."""
    config = {}
    for key, default in MODEL_DEFAULTS.items():
        given = getattr(args, key)
        if recorded is not None and given is not None and given != recorded[key]:
            if key == "clamps":
                raise RunError("the checkpoint was trained with the clamps of c and the parameters; --no-clamps "
                               "does not apply to it")
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


def finetune_parent(args):
    """(the parent's best checkpoint, its config["finetune"] record) of --finetune-from, or (None, None)."""
    if args.finetune_from is None:
        if args.finetune_timestep is not None:
            raise RunError("--finetune-timestep needs --finetune-from RUN")
        return None, None
    if args.finetune_timestep is None:
        raise RunError("--finetune-from needs --finetune-timestep T")
    parent = RunFolder(args.finetune_from)
    if parent.path.resolve() == Path(args.checkpoint_dir).resolve():
        raise RunError("--finetune-from must name another run folder than --checkpoint-dir")
    checkpoint = parent.load_best()
    if checkpoint.config["lstm_cell_class"] != "ModifiedLSTMCell":
        raise RunError(f"{parent.best} holds a {checkpoint.config['lstm_cell_class']}; only a ModifiedLSTMCell "
                       "trains through its hybrid")
    record = {"parent": str(parent.best), "parent_sha256": file_sha256(parent.best),
              "n_timestep": args.finetune_timestep, "reset": args.reset, "initial_potential": args.initial_potential}
    return checkpoint, record


def train(args, device):
    parent, finetune = finetune_parent(args)
    config = model_config(args, parent.config if parent else None)
    config.update({key: getattr(args, key) for key in TRAINING_KEYS})
    config["finetune"] = finetune
    data = training_sets(load_split(args, config, True, None, device),
                         load_split(args, config, False, args.test_subset, device),
                         args.validation_size, args.train_subset)
    folder = RunFolder(args.checkpoint_dir)
    with folder.lock():
        fit(folder, config, data, device, args.command, args.end_epoch, args.start_epoch,
            args.save_interval_updates, args.overwrite, initial_weights=parent.model if parent else None)


def test(args, device):
    """The ANN, then the hybrid at each T, with the folder locked (a second test or a training of
    it is refused). What is finished is kept in the results' .partial.json after each model, and
    a T in progress keeps its finished batches there every minute, so a rerun of the same command
    on the same checkpoint resumes where the last one stopped."""
    folder = RunFolder(args.checkpoint_dir)
    checkpoint = folder.load_best()
    with folder.lock():
        evaluate_run(args, device, folder, checkpoint)


def evaluate_run(args, device, folder: RunFolder, checkpoint):
    config = model_config(args, checkpoint.config)
    results_path = Path(args.output) if args.output else folder.results(args.reset, args.initial_potential)
    if results_path.exists() and not args.overwrite:
        raise RunError(f"{results_path} exists; pass --overwrite to replace it")
    folder.check_writable()
    model = checkpoint.classifier().to(device)
    convertible = config["lstm_cell_class"] == "ModifiedLSTMCell"
    hybrids = {}
    for n_timestep in args.n_timestep if convertible else []:  # refuse an impossible T before any compute
        try:
            hybrids[n_timestep] = model.to_hybrid(n_timestep, args.reset, args.simulation, args.initial_potential)
        except ValueError as error:
            raise RunError(f"--n-timestep {n_timestep}: {error}")
    test_x, test_y = load_split(args, config, False, args.test_subset, device)
    settings = {"checkpoint_sha256": file_sha256(folder.best), "config": config, "test_samples": len(test_x),
                "reset": args.reset, "initial_potential": args.initial_potential, "simulation": args.simulation}
    sweep = ResumableSweep(results_path, settings, "n_timestep", fresh=args.overwrite)
    if sweep.resumed():
        print(sweep.resumed(), flush=True)

    def test_ann():
        accuracy, seconds = timed(evaluate, model, test_x, test_y, args.batch_size, "ANN")
        return {"accuracy": accuracy, "wall_time_s": seconds}

    ann = sweep.compute_once("ann", test_ann)
    ann_accuracy, ann_seconds = ann["accuracy"], ann["wall_time_s"]
    print(f"ANN: accuracy {ann_accuracy:.2f}% on {len(test_x)} test images ({ann_seconds:.1f} s)", flush=True)
    rows = [["ANN " + config["lstm_cell_class"], "-", f"{ann_accuracy:.2f}", "", "", "", "", "", f"{ann_seconds:.1f}"]]
    if not convertible:
        print(f"note: a {config['lstm_cell_class']} has no spiking equivalent; hybrid evaluation skipped")
    halves = [name for name, choice in parse_initial_potential(args.initial_potential).items() if choice == "half"]
    neurons = f"{args.reset} reset" + (", V0 = theta/2" if len(halves) == len(POPULATIONS) else
                                       f", V0 = theta/2 for {', '.join(halves)}" if halves else "")

    def test_hybrid(n_timestep):
        result = evaluate_hybrid(hybrids[n_timestep], n_timestep, test_x, test_y, args.batch_size,
                                 sweep.progress(n_timestep), lambda progress: sweep.save_progress(n_timestep, progress))
        return {**result,
                "reset": args.reset, "initial_potential": args.initial_potential, "simulation": args.simulation}

    for n_timestep, result in sweep.run(hybrids, test_hybrid):
        print(f"hybrid T={n_timestep}: accuracy {result['accuracy']:.2f}% ({result['wall_time_s']:.1f} s)", flush=True)
        rows.append([f"hybrid ({neurons})", n_timestep, f"{result['accuracy']:.2f}",
                     *(f"{result['spike_rates'][p]:.3f}" for p in ("encoder", "i", "f", "g", "o")),
                     f"{result['wall_time_s']:.1f}"])
    if sweep.results:
        print(format_table(["model", "T", "accuracy %", "enc", "i", "f", "g", "o", "time s"], rows))
        print("(enc, i, f, g, o: spikes per neuron per SNN step)")
    sweep.finish(MnistTest(
        command=args.command, checkpoint=str(folder.best), epochs_done=checkpoint.epochs_done,
        selected_on=checkpoint.selected_on, config=config, test_samples=len(test_x), device=str(device),
        host=host_description(device), ann_accuracy=ann_accuracy, ann_wall_time_s=ann_seconds,
        hybrid=tuple(HybridAccuracy(**result) for result in sweep.results)))
    print(f"wrote {results_path}")


def main(argv=None) -> int:
    args = parse_args(argv)

    def work():
        check_settings(args)
        if args.threads:
            torch.set_num_threads(args.threads)
        device = resolve_device(args.device)
        (train if args.mode == "train" else test)(args, device)

    return exit_status(PROG, work, "from the last saved update")


if __name__ == "__main__":
    sys.exit(main())
