"""Reading the grid's logs: run folders' histories and results, loihi_sim benchmarks,
fairseq's train.log. Nothing here formats or judges."""
import json
import math
import re
from dataclasses import dataclass
from pathlib import Path

from hybrid_lstm.runs.files import PARTIAL_SUFFIX
from hybrid_lstm.runs.run_folder import RunFolder

from .. import grid
from .markdown import as_command


class ReportError(Exception):
    """A log the report cannot use; one line."""


def read_json(path: Path):
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def read_history(folder: RunFolder):
    """A run folder's history.json, or None when absent; ReportError when malformed."""
    history = folder.read_history()
    if history is None:
        return None
    best = history.get("best") if isinstance(history, dict) else None
    if not (isinstance(history, dict) and isinstance(history.get("history"), list) and isinstance(best, dict)
            and isinstance(best.get("accuracy"), (int, float)) and isinstance(best.get("epoch"), int)):
        raise ReportError(f"{folder.history_path} is not a run_seqmnist.py history (needs 'history' and 'best' "
                          "with accuracy, epoch)")
    return history


def _is_accuracy(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value) and 0 <= value <= 100


def _is_positive_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 1


def test_record_problem(data) -> str | None:
    """What is wrong with a run_seqmnist.py results JSON (the field, in a phrase), or None."""
    if not isinstance(data, dict):
        return "not a JSON object"
    if not _is_positive_int(data.get("test_samples")):
        return "'test_samples' must be a positive integer"
    if not (isinstance(data.get("ann"), dict) and _is_accuracy(data["ann"].get("accuracy"))):
        return "'ann.accuracy' must be a percentage in [0, 100]"
    if not isinstance(data.get("hybrid", []), list):
        return "'hybrid' must be a list"
    for index, entry in enumerate(data.get("hybrid", [])):
        if not isinstance(entry, dict) or not _is_positive_int(entry.get("n_timestep")):
            return f"'hybrid[{index}].n_timestep' must be a positive integer"
        if not _is_accuracy(entry.get("accuracy")):
            return f"'hybrid[{index}].accuracy' must be a percentage in [0, 100], got {entry.get('accuracy')!r}"
    return None


def read_test_records(folder: Path, images: int = grid.MNIST_TEST_IMAGES) -> tuple:
    """The finished run_seqmnist.py results of a run folder that cover all `images` test images
    (a test of fewer is not a result of the protocol, and is left out); ReportError naming the file
    and the field for a malformed one."""
    records = []
    for path in sorted(Path(folder).glob("test_results*.json")):
        if path.name.endswith(PARTIAL_SUFFIX):
            continue
        try:
            data = json.loads(path.read_text())
        except (OSError, ValueError):
            raise ReportError(f"{path} is not readable JSON")
        problem = test_record_problem(data)
        if problem:
            raise ReportError(f"{path}: {problem}")
        if data["test_samples"] == images:
            records.append(data)
    return tuple(records)


@dataclass
class SeqRun:
    seed: int
    folder: Path
    history: dict
    tests: tuple = ()  # every finished test_results*.json of the run folder, as read

    @property
    def ann(self) -> float:
        return self.history["best"]["accuracy"]

    @property
    def epochs(self) -> int:
        return len(self.history["history"])

    @property
    def train_seconds(self) -> float:
        return sum(epoch["seconds"] for epoch in self.history["history"])

    @property
    def train_command(self) -> str:
        """The last command that trained the run (a resumed run logs '# resumed after ...: CMD')."""
        last = RunFolder(self.folder).commands()[-1]
        return as_command(last.split(": ", 1)[1] if last.startswith("resumed") else last)

    def hybrid(self, reset="soft", initial_potential="one") -> dict:
        """{T: result} of the hybrid with these neurons, over all of the run's results files."""
        return {entry["n_timestep"]: entry for results in self.tests for entry in results.get("hybrid", [])
                if (entry.get("reset", "soft"), entry.get("initial_potential", "one")) == (reset, initial_potential)}


def seq_runs(root: Path, task: str, cell: str, seeds, epochs: int) -> list:
    """The finished runs (all epochs trained) of one task and cell, by seed."""
    runs = []
    for seed in seeds:
        folder = RunFolder(root / grid.seqmnist_folder(task, cell, seed))
        history = read_history(folder)
        if history and len(history["history"]) >= epochs:
            runs.append(SeqRun(seed, folder.path, history, read_test_records(folder.path)))
    return runs


def trained_epochs(root: Path) -> int:
    """Epochs the translation models were trained for, from fairseq's train.log (the fewer of the two)."""
    epochs = []
    for cell in ("modified", "default"):
        log = root / grid.TRANSLATION / f"debian-{cell}-seed{grid.DEEN_SEED}" / "train.log"
        text = log.read_text(errors="replace") if log.exists() else ""
        epochs.append(max(map(int, re.findall(r"end of epoch (\d+) ", text)), default=0))
    return min(epochs)


def hybrid_bleu(results: dict) -> tuple:
    """(BLEU4 of the modified cell's ANN or None, {T: the hybrid's BLEU4}) of a bleu_vs_timesteps.py JSON."""
    own_ann = next((e["fairseq_bleu4"] for e in results["results"] if e["model"] == "ANN, --cell-type modified"), None)
    return own_ann, dict(sorted((int(match.group(1)), e["fairseq_bleu4"]) for e in results["results"]
                                if (match := re.match(r"hybrid T=(\d+)", e["model"]))))


def translation_results(root: Path, corpus: str = "debian") -> dict:
    """{(initial potential, complement): bleu_vs_timesteps.py JSON} of the grid's results files that exist."""
    found = {}
    for complement in (False, True):
        for potential in grid.INITIAL_POTENTIALS:
            data = read_json(root / grid.translation_bleu_results(corpus, potential, complement))
            if data:
                found[(potential, complement)] = data
    return found


def translation_curves(results: dict) -> dict:
    """{initial potential: (BLEU4 of the modified cell's ANN, {T: hybrid BLEU4})} of translation_results,
    for each potential whose main file exists; its complement file adds T."""
    curves = {}
    for potential in grid.INITIAL_POTENTIALS:
        if (potential, False) in results:
            own_ann, curve = hybrid_bleu(results[(potential, False)])
            extra = hybrid_bleu(results[(potential, True)])[1] if (potential, True) in results else {}
            curves[potential] = (own_ann, dict(sorted({**curve, **extra}.items())))
    return curves


def translation_parameters(root: Path, cell: str) -> int | None:
    """The parameter count fairseq logged for one cell type's model, or None."""
    log = root / grid.TRANSLATION / f"debian-{cell}-seed{grid.DEEN_SEED}" / "train.log"
    match = re.search(r"num\. shared model params: ([\d,]+)", log.read_text(errors="replace")) if log.exists() else None
    return int(match.group(1).replace(",", "")) if match else None


def step_log(root: Path, run: "grid.Run", step: str) -> tuple:
    """(wall seconds summed over every attempt, hosts) of one grid step, from the run's runner.log:
    'STEP: start: ... on HOST', then 'STEP: done in N s' or 'STEP: stopped after N s'."""
    path = root / run.folder / "runner.log"
    text = path.read_text(errors="replace") if path.exists() else ""
    prefix = rf"\[{re.escape(run.name)}\] {re.escape(step)}: "
    seconds = sum(float(value) for value in re.findall(prefix + r"(?:done in|stopped after|FAILED .*? after) (\d+) s", text))
    hosts = sorted(set(re.findall(prefix + r"start: .* on (.+)$", text, flags=re.MULTILINE)))
    return seconds, hosts


def chip_label(data: dict) -> str:
    """A benchmark's configuration in words: reset realisation and initial potential."""
    potential = data["chip"].get("initial_potential", "one")
    return (data["chip"]["reset"] + (", delay compensated" if data["chip"].get("compensate_delay") else "")
            + (", V0 = theta/2" if potential == "half" else "") + f", {data['test_samples']} images")


def loihi_results(root: Path) -> dict:
    """Every loihi_sim benchmark of the chip seed with delay 1, by configuration label."""
    folder = root / grid.seqmnist_folder("rowwise", "ModifiedLSTMCell", grid.CHIP_SEED)
    found = [read_json(path) for path in sorted(folder.glob("loihi_benchmark_*_delay1*.json"))
             if not path.name.endswith(PARTIAL_SUFFIX)]  # a benchmark in progress is not a result
    return {chip_label(data): data for data in found if data}


def pixelwise_chip_results(root: Path) -> dict:
    """The finished loihi_sim benchmarks of grid.pixelwise_chip_run, by initial potential."""
    run = grid.pixelwise_chip_run()
    found = {potential: read_json(root / RunFolder(run.folder).chip_results("soft-feedback", 1, True, potential))
             for potential, _, _ in grid.PIXELWISE_CHIP}
    return {potential: data for potential, data in found.items() if data}


def headline_results(root: Path) -> dict:
    """The headline chip benchmark (grid.headline_output) of every row-wise seed that has one, by seed."""
    found = {seed: read_json(root / grid.headline_output(grid.seqmnist_folder("rowwise", "ModifiedLSTMCell", seed)))
             for seed in grid.ROWWISE_SEEDS["ModifiedLSTMCell"]}
    return {seed: data for seed, data in found.items() if data}


def paper_semantics_run(benchmarks: dict, reset: str):
    """The benchmark with this reset, the paper's initial potential and no delay compensation."""
    return next((data for data in benchmarks.values() if data["chip"]["reset"] == reset
                 and data["chip"].get("initial_potential", "one") == "one" and not data["chip"].get("compensate_delay")),
                None)
