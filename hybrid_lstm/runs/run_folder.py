"""A run folder: where one sequence-classifier run keeps everything, under fixed names.

    checkpoint_last.pt    the resumable state, saved at every epoch end and every N updates
    checkpoint_best.pt    the selected model, weights only
    train.log             each command that trained the folder and one line per epoch
    history.json          {config, history: one record per epoch, best, host}: what reports read
    test_results[_hard][_V0].json   the ANN and hybrid accuracies of one neuron setting
    loihi_benchmark_RESET_delayD[_compensated][_V0].json   one emulated-chip configuration
(_V0: potential_suffix, e.g. _half, or _encoder-half_f-half for a per-population initial potential)
    NAME.partial.json     what a test or benchmark in progress has finished (deleted when done)
"""
import fcntl
import hashlib
import json
import os
from contextlib import contextmanager
from pathlib import Path

from .checkpoint import Checkpoint, with_later_fields
from .files import (CHECKPOINT_BEST, CHECKPOINT_LAST, PARTIAL_SUFFIX, RUN_HISTORY, RUN_LOG, RunError,
                    write_json_atomic)
from ..snn.neurons import (DEFAULT_INITIAL_POTENTIAL, DEFAULT_RESET, INITIAL_POTENTIALS, RESET_MODES,
                           check_initial_potential)


def file_sha256(path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def partial_path(results: Path) -> Path:
    """Where a test or benchmark in progress keeps what it has finished: NAME.partial.json."""
    results = Path(results)
    return results.with_name(results.stem + PARTIAL_SUFFIX)


def read_partial(path: Path, settings: dict):
    """The partial record at path if it was made with these settings (compared as JSON holds
    them) and has finished results under "results"; else None: work of other settings is
    redone, never mixed in. A recorded model config lacking a later field had its default."""
    try:
        record = json.loads(Path(path).read_text())
    except (OSError, ValueError):
        return None
    if isinstance(record, dict) and isinstance(record.get("config"), dict):
        record["config"] = with_later_fields(record["config"])
    expected = json.loads(json.dumps(settings))
    same = isinstance(record, dict) and all(record.get(key) == value for key, value in expected.items())
    return record if same and isinstance(record.get("results"), list) else None


def potential_suffix(initial_potential: str) -> str:
    """"" for the paper's V0 = 1, "_half" for theta / 2, "_encoder-half_f-half" for "encoder=half,f=half"."""
    spec = check_initial_potential(initial_potential)
    return "" if spec == "one" else "_" + spec.replace("=", "-").replace(",", "_")


def results_name(reset: str = DEFAULT_RESET, initial_potential: str = DEFAULT_INITIAL_POTENTIAL,
                 label: str | None = None) -> str:
    """test_results.json for the paper's neurons; _hard and potential_suffix mark the other settings,
    and _LABEL a test of its own (e.g. "low-T", "T2") beside them."""
    return ("test_results" + ("_hard" if reset == "hard" else "") + potential_suffix(initial_potential)
            + (f"_{label}" if label else "") + ".json")


def bleu_results_path(folder: Path, corpus: str, initial_potential: str = DEFAULT_INITIAL_POTENTIAL,
                      complement: bool = False) -> Path:
    """bleu_vs_timesteps.py's results in folder: CORPUS-bleu_vs_t[_half][_complement].json (its log: .log)."""
    return Path(folder) / (f"{corpus}-bleu_vs_t" + potential_suffix(initial_potential)
                           + ("_complement" if complement else "") + ".json")


class RunFolder:
    LAST, BEST, LOG, HISTORY = CHECKPOINT_LAST, CHECKPOINT_BEST, RUN_LOG, RUN_HISTORY
    RESULTS = tuple(results_name(reset, potential) for reset in RESET_MODES for potential in INITIAL_POTENTIALS)

    def __init__(self, path):
        self.path = Path(path)
        self.last, self.best = self.path / self.LAST, self.path / self.BEST
        self.log_path, self.history_path = self.path / self.LOG, self.path / self.HISTORY

    def __str__(self):
        return str(self.path)

    def results(self, reset: str = DEFAULT_RESET, initial_potential: str = DEFAULT_INITIAL_POTENTIAL,
                label: str | None = None) -> Path:
        return self.path / results_name(reset, initial_potential, label)

    def chip_results(self, reset: str, delay: int, compensated: bool = False,
                     initial_potential: str = DEFAULT_INITIAL_POTENTIAL, label: str | None = None) -> Path:
        """Where python -m loihi_sim.benchmark writes one chip configuration's results
        (loihi_benchmark_RESET_delayD[_compensated][_half][_LABEL].json)."""
        return self.path / (f"loihi_benchmark_{reset}_delay{delay}" + ("_compensated" if compensated else "")
                            + potential_suffix(initial_potential) + (f"_{label}" if label else "") + ".json")

    def derived_files(self) -> list:
        """Every file computed from checkpoint_best.pt: the hybrid tests and the chip benchmarks."""
        return sorted([*self.path.glob("test_results*.json"), *self.path.glob("loihi_benchmark*")])

    def log(self, text: str):
        """Print text and append it to train.log."""
        print(text, flush=True)
        with open(self.log_path, "a") as handle:
            handle.write(text + "\n")

    def commands(self) -> list:
        """The commands recorded in train.log ('# ' lines), oldest first."""
        return [line[2:] for line in self.log_path.read_text().splitlines() if line.startswith("# ")]

    def read_history(self):
        """history.json's content, or None when it is missing or unreadable."""
        try:
            return json.loads(self.history_path.read_text())
        except (OSError, ValueError):
            return None

    def epochs_done(self) -> int:
        """Epochs recorded in history.json (0 without one)."""
        recorded = self.read_history()
        history = recorded.get("history") if isinstance(recorded, dict) else None
        return len(history) if isinstance(history, list) else 0

    def write_history(self, checkpoint: Checkpoint, host: str):
        write_json_atomic(self.history_path, {"config": checkpoint.config, "history": checkpoint.history,
                                              "best": checkpoint.best, "host": host})

    def load_best(self) -> Checkpoint:
        return Checkpoint.load(self.best)

    def load_last(self) -> Checkpoint:
        return Checkpoint.load(self.last)

    def clear(self):
        """Delete the run's checkpoints, logs and results (--overwrite)."""
        for name in (self.LAST, self.BEST, self.LOG, self.HISTORY, *self.RESULTS):
            (self.path / name).unlink(missing_ok=True)
            partial_path(self.path / name).unlink(missing_ok=True)

    def check(self):
        """A folder, or nothing yet, at a path the file system accepts."""
        try:
            if self.path.exists() and not self.path.is_dir():
                raise RunError(f"--checkpoint-dir {self.path} is a file, not a folder")
        except OSError as error:  # a name longer than the file system allows, a path through a file
            raise RunError(f"--checkpoint-dir {self.path}: {error.strerror}")

    def check_writable(self):
        """Fail now, not after the compute, when results cannot be written into the folder."""
        if not os.access(self.path, os.W_OK | os.X_OK):
            raise RunError(f"cannot write into {self.path} (permission denied)")

    @contextmanager
    def lock(self):
        """Hold an exclusive flock on the folder itself while training or testing it: a second
        training or test of it is refused, naming the holder (so no run loses another's
        results). Nothing is written for it, and the lock dies with its process, even under
        kill -9."""
        self.path.mkdir(parents=True, exist_ok=True)
        handle = os.open(self.path, os.O_RDONLY)
        try:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                raise RunError(f"{self.path} is being trained or tested by {self._lock_holder()}; wait for it to "
                               "finish or use another --checkpoint-dir")
            yield
        finally:
            os.close(handle)

    def _lock_holder(self) -> str:
        """The process holding the folder's flock, from /proc/locks (Linux), or a generic name."""
        inode = self.path.stat().st_ino
        try:
            for line in Path("/proc/locks").read_text().splitlines():
                fields = line.split()
                if "FLOCK" in fields and fields[-3].endswith(f":{inode}"):
                    return f"process {fields[-4]}"
        except (OSError, IndexError):
            pass
        return "another process"
