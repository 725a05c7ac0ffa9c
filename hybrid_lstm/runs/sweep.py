"""A sweep (over T, or over models) that resumes after its last finished item.

Every command that evaluates one item after another (run_seqmnist.py --mode test,
python -m loihi_sim.benchmark, bleu_vs_timesteps.py) keeps what it has finished in OUTPUT's
partial record (run_folder.partial_path) after each item: the settings, the values computed
once per sweep (the ANN's accuracy, a CPU baseline), and the finished results. A rerun with the
same settings resumes after the last finished item; a rerun with other settings starts afresh
(run_folder.read_partial). An item that takes long may also keep its own progress there
(save_progress), which the rerun hands back to it (progress). finish() writes the final record
(records.py) atomically and removes the partial one.
"""
from pathlib import Path
from typing import Callable, Iterable

from . import records
from .files import write_json_atomic
from .run_folder import partial_path, read_partial


class ResumableSweep:
    """Items identified by result[key] (e.g. "n_timestep"); fresh=True ignores a partial record."""

    def __init__(self, output: Path, settings: dict, key: str, fresh: bool = False):
        self.output, self.partial = Path(output), partial_path(output)
        self.settings, self.key = settings, key
        self.previous = None if fresh else read_partial(self.partial, settings)
        self.finished = {row[key]: row for row in self.previous["results"]} if self.previous else {}
        self.once, self.results = {}, []
        self.in_progress = self.previous.get("in_progress") if self.previous else None

    def resumed(self) -> str:
        """'# resumed from PATH: ... done' when a partial record was found, else ''."""
        if self.previous is None:
            return ""
        done = ", ".join(str(item) for item in self.finished) or "none"
        return f"# resumed from {self.partial}: {self.key} {done} done"

    def compute_once(self, name: str, compute: Callable):
        """The value recorded under name: the partial record's, else compute() (kept from now on)."""
        if self.previous is not None and name in self.previous:
            value = self.previous[name]
        else:
            value = compute()
        self.once[name] = value
        self._save()
        return value

    def run(self, items: Iterable, compute: Callable):
        """For each item: its finished result, else compute(item), saved at once; yields (item, result).
        An unfinished item's saved progress is kept until that item finishes."""
        for item in items:
            result = self.finished.get(item)
            if result is None:
                result = compute(item)
                if self.in_progress is not None and self.in_progress[self.key] == item:
                    self.in_progress = None
            self.results.append(result)
            self._save()
            yield item, result

    def progress(self, item) -> dict:
        """What an interrupted compute(item) last saved with save_progress, else None."""
        saved = self.in_progress
        return saved["progress"] if saved is not None and saved[self.key] == item else None

    def save_progress(self, item, progress: dict):
        """Keep an unfinished item's progress (JSON) in the partial record."""
        self.in_progress = {self.key: item, "progress": progress}
        self._save()

    def _save(self):
        record = {**self.settings, **self.once, "results": self.results}
        if self.in_progress is not None:
            record["in_progress"] = self.in_progress
        write_json_atomic(self.partial, record)

    def finish(self, record):
        """Write the final record (a records.py dataclass) to the output and remove the partial one."""
        records.write(self.output, record)
        self.partial.unlink(missing_ok=True)
