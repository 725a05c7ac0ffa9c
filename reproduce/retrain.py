"""Give a finished grid run whose weights were not kept a checkpoint again, by retraining it.

Each run is retrained with its grid command in checkpoints/retrain/<run> (resumable: rerun
this command after an interruption), for the run's full schedule. Training is
deterministic for a given seed, code and machine, so where every retrained epoch's train
loss and test accuracy equal the logged ones to the last digit, only the checkpoints are
copied into the run folder: its logged results stand. Where they differ (the run was
trained by an earlier version of the code), the retrained run replaces the logged
training (train.log, history.json, checkpoints), and the results derived from the old
weights (test_results*.json, loihi_benchmark*.json) are removed, so that
`python -m reproduce.run_grid` recomputes them from the new weights. retrain.json in the
run folder says which of the two happened.

    python -m reproduce.retrain runs/seqmnist/rowwise-ModifiedLSTMCell-seed0 ... [--threads 1]
"""
import argparse
import json
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

from hybrid_lstm.runs.run_folder import RunFolder
from reproduce.grid import experiment_grid

PROG = "python -m reproduce.retrain"
SCRATCH = Path("checkpoints/retrain")
COMPARED = ("train_loss", "test_accuracy")


def train_argv(folder: Path, scratch: Path, end_epoch: int, threads: int) -> list:
    """The grid's training command of the run in folder, into scratch, for end_epoch epochs."""
    runs = [run for run in experiment_grid() if run.folder == folder]
    if not runs:
        raise SystemExit(f"{PROG}: error: {folder} is not a run of the grid")
    argv = [part.replace("{threads}", str(threads)) for part in runs[0].steps[0].argv]
    argv[argv.index("--checkpoint-dir") + 1] = str(scratch)
    argv[argv.index("--end-epoch") + 1] = str(end_epoch)
    return [sys.executable, *argv]


def first_difference(logged: list, retrained: list):
    """The first epoch whose compared values differ, or None."""
    for old, new in zip(logged, retrained):
        if any(old[key] != new[key] for key in COMPARED):
            return old["epoch"]
    return None


TRAINING = (RunFolder.LOG, RunFolder.HISTORY, RunFolder.BEST, RunFolder.LAST)


def retrain(folder: Path, threads: int):
    if RunFolder(folder).best.exists():
        print(f"{folder}: {RunFolder.BEST} present, nothing to do")
        return
    logged = RunFolder(folder).read_history()
    epochs = len(logged["history"])
    scratch = SCRATCH / folder.name
    argv = train_argv(folder, scratch, epochs, threads)
    print(f"{folder}: retraining {epochs} epochs: {shlex.join(argv[1:])}", flush=True)
    if RunFolder(scratch).epochs_done() < epochs:
        subprocess.run(argv, check=True, stdout=subprocess.DEVNULL)
    retrained = RunFolder(scratch).read_history()["history"]
    differs = first_difference(logged["history"], retrained)
    if differs is None:
        for name in (RunFolder.BEST, RunFolder.LAST):
            shutil.copy(scratch / name, folder / name)
        outcome = "identical to the log: the checkpoints were added, the logged results stand"
    else:
        for path in RunFolder(folder).derived_files():
            path.unlink()
        for name in TRAINING:
            shutil.copy(scratch / name, folder / name)
        outcome = (f"epoch {differs} differs from the log (trained by an earlier version of the code): the "
                   "retrained run replaced it, and its test results are recomputed by the grid")
    (folder / "retrain.json").write_text(json.dumps({
        "command": shlex.join(["python", *argv[1:]]), "epochs": epochs, "compared": list(COMPARED),
        "first_difference": differs, "outcome": outcome, "host": retrained[-1].get("host")}, indent=2) + "\n")
    print(f"{folder}: {outcome}", flush=True)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog=PROG, description=__doc__.split("\n\n")[0])
    parser.add_argument("folders", nargs="+", type=Path, help="finished run folders under runs/")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (default 1, as the grid)")
    args = parser.parse_args(argv)
    for folder in args.folders:
        retrain(folder, args.threads)
    return 0


if __name__ == "__main__":
    sys.exit(main())
