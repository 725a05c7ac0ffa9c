"""The grid's records read back from runs/: run folders' histories and results records
(hybrid_lstm.runs.records), memory measurements, and the grid's own logs; what the report
renders (reproduce/report/) and what docs/discussion.md's tests check. Nothing here renders."""
import json
import re
from dataclasses import dataclass
from pathlib import Path

from hybrid_lstm.runs import records
from hybrid_lstm.runs.files import PARTIAL_SUFFIX
from hybrid_lstm.runs.run_folder import RunFolder, file_sha256
from hybrid_lstm.snn.neurons import DEFAULT_INITIAL_POTENTIAL, DEFAULT_RESET

from . import grid
from .memory_horizon import RESULTS_NAME as MEMORY_HORIZON


class ReportError(Exception):
    """A log the report cannot use; one line naming the file and the field."""


def read_json(path: Path):
    try:
        return json.loads(Path(path).read_text())
    except (OSError, ValueError):
        return None


def read_record(path: Path, kind: str):
    """The record at path, None when absent; ReportError when malformed."""
    if not Path(path).exists():
        return None
    try:
        return records.read(path, kind)
    except records.RecordError as error:
        raise ReportError(str(error)) from None


def read_history(folder: Path):
    """A run folder's history.json, or None when absent; ReportError when malformed."""
    folder = RunFolder(folder)
    history = folder.read_history()
    if history is None:
        return None
    best = history.get("best") if isinstance(history, dict) else None
    if not (isinstance(history, dict) and isinstance(history.get("history"), list) and isinstance(best, dict)
            and isinstance(best.get("accuracy"), (int, float)) and isinstance(best.get("epoch"), int)):
        raise ReportError(f"{folder.history_path} is not a run_seqmnist.py history ('history', and 'best' with "
                          "accuracy and epoch)")
    return history


def mnist_tests(folder: Path, images: int = grid.MNIST_TEST_IMAGES) -> tuple:
    """The finished run_seqmnist.py records of a run folder that cover all `images` test images (a test
    of fewer is not the protocol's and is left out)."""
    found = (read_record(path, "mnist-test") for path in sorted(Path(folder).glob("test_results*.json"))
             if not path.name.endswith(PARTIAL_SUFFIX))
    return tuple(record for record in found if record.test_samples == images)


@dataclass
class SeqRun:
    """A trained sequential-MNIST run: its history and its full-test-set records."""
    seed: int
    folder: Path
    history: dict
    tests: tuple = ()

    @property
    def ann(self) -> float:
        return self.history["best"]["accuracy"]

    def hybrid(self, reset: str = DEFAULT_RESET, initial_potential: str = DEFAULT_INITIAL_POTENTIAL) -> dict:
        """{T: accuracy} of the hybrid with these neurons, over all of the run's records."""
        return {result.n_timestep: result.accuracy for record in self.tests for result in record.hybrid
                if (result.reset, result.initial_potential) == (reset, initial_potential)}

    def test_seconds(self) -> dict:
        """{T: wall seconds} of the paper's neurons' tests."""
        return {result.n_timestep: result.wall_time_s for record in self.tests for result in record.hybrid
                if (result.reset, result.initial_potential) == (DEFAULT_RESET, DEFAULT_INITIAL_POTENTIAL)}


def seq_run(root: Path, folder: Path, seed: int, epochs: int):
    """The run in folder once it has trained `epochs` epochs, else None."""
    history = read_history(root / folder)
    if history and len(history["history"]) >= epochs:
        return SeqRun(seed, root / folder, history, mnist_tests(root / folder))
    return None


def seq_runs(root: Path, task: str, cell: str) -> list:
    """The finished runs (the paper's schedule) of one task and cell, by seed."""
    runs = [seq_run(root, grid.seqmnist_folder(task, cell, seed), seed, grid.EPOCHS[task]) for seed in grid.SEEDS[task][cell]]
    return [run for run in runs if run]


def memory(root: Path, task: str, cell: str, seed: int):
    """The memory_horizon.json of a run when it measured the run's current best checkpoint, else None."""
    folder = root / grid.seqmnist_folder(task, cell, seed)
    measured = read_json(folder / MEMORY_HORIZON)
    best = folder / RunFolder.BEST
    if measured and best.is_file() and measured.get("checkpoint_sha256") == file_sha256(best):
        return measured
    return None


def chip(path: Path):
    return read_record(path, "chip-benchmark")


def compensated_chip(folder: Path, initial_potential: str):
    """The folder's soft-feedback, delay-compensated chip benchmark with this potential (delay 1), or None."""
    return chip(RunFolder(folder).chip_results("soft-feedback", 1, True, initial_potential))


def rowwise_chip(root: Path) -> list:
    """The chip benchmarks of the chip seed's model: grid.CHIP_CONFIGS, then the headline configuration."""
    folder = RunFolder(root / grid.seqmnist_folder("rowwise", "ModifiedLSTMCell", grid.CHIP_SEED))
    paths = [folder.chip_results(reset, 1, compensated, potential) for reset, potential, compensated in grid.CHIP_CONFIGS]
    return [benchmark for path in paths + [grid.headline_output(folder.path)] if (benchmark := chip(path))]


def bleu_records(root: Path, corpus: str = "debian") -> dict:
    """{(initial potential, complement): records.BleuCurve} of the grid's BLEU files that exist."""
    found = {(p, c): read_record(root / grid.translation_bleu_results(corpus, p, c), "bleu-vs-t")
             for p in grid.INITIAL_POTENTIALS for c in (False, True)}
    return {key: curve for key, curve in found.items() if curve}


def finetuned_bleu(root: Path, corpus: str = "debian"):
    """records.BleuCurve of the model fine-tuned through its hybrid (grid.translation_finetune_run), or None."""
    return read_record(root / grid.translation_finetune_bleu(corpus), "bleu-vs-t")


def bleu_curves(found: dict) -> dict:
    """{initial potential: {T: hybrid BLEU4}} over each potential's main and complement files."""
    return {p: dict(sorted((t, r.fairseq_bleu4) for (q, _), curve in found.items() if q == p
                           for t, r in curve.hybrid().items()))
            for p in grid.INITIAL_POTENTIALS if (p, False) in found}


def fairseq_log(root: Path, cell: str) -> str:
    log = root / grid.TRANSLATION / f"debian-{cell}-seed{grid.DEEN_SEED}" / "train.log"
    return log.read_text(errors="replace") if log.exists() else ""


def model_parameters(root: Path) -> dict:
    """{cell type: its parameter count as fairseq's train.log prints it, e.g. '6,500,008'}."""
    return {cell: match.group(1) for cell in ("modified", "default")
            if (match := re.search(r"num\. shared model params: ([\d,]+)", fairseq_log(root, cell)))}


def trained_epochs(root: Path) -> int:
    """Epochs both translation models finished, from fairseq's train.log."""
    return min(max(map(int, re.findall(r"end of epoch (\d+) ", fairseq_log(root, cell))), default=0)
               for cell in ("modified", "default"))


def step_log(root: Path, run: "grid.Run", step: str) -> tuple:
    """(wall seconds summed over every attempt, hosts) of one grid step, from the run's runner.log."""
    path = root / run.folder / "runner.log"
    text = path.read_text(errors="replace") if path.exists() else ""
    prefix = rf"\[{re.escape(run.name)}\] {re.escape(step)}: "
    seconds = sum(float(value) for value in re.findall(prefix + r"(?:done in|stopped after|FAILED .*? after) (\d+) s", text))
    hosts = sorted(set(re.findall(prefix + r"start: .* on (.+)$", text, flags=re.MULTILINE)))
    return seconds, hosts
