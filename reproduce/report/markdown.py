"""Markdown of the report: tables, code blocks, numbers, commands, hosts; and statistics over seeds."""
import shlex
import statistics
from dataclasses import dataclass

from .. import grid

NOT_RECORDED = "not recorded in the logs"


@dataclass
class Stats:
    """Mean and sample standard deviation of values (0 for one value)."""
    values: list

    mean = property(lambda self: statistics.fmean(self.values))
    std = property(lambda self: statistics.stdev(self.values) if len(self.values) > 1 else 0.0)

    def text(self) -> str:
        return f"{self.values[0]:.2f}" if len(self.values) == 1 else f"{self.mean:.2f} ± {self.std:.2f}"


def over_seeds(values: list, seeds: int | None = None, each: bool = False) -> str:
    """Mean ± std of values, "missing" without any; with each value when asked and how many of `seeds`
    they cover when fewer: "45.43 ± 26.84 (23.91 / 75.51; 2 of 3 seeds)"."""
    if not values:
        return "missing"
    notes = ([" / ".join(f"{v:.2f}" for v in values)] if each and len(values) > 1 else [])
    notes += [f"{len(values)} of {seeds} seeds"] if seeds and len(values) < seeds else []
    return Stats(values).text() + (f" ({'; '.join(notes)})" if notes else "")


def table(headers, rows) -> list:
    return ["| " + " | ".join(headers) + " |", "|" + "|".join("---" for _ in headers) + "|",
            *("| " + " | ".join(str(cell) for cell in row) + " |" for row in rows), ""]


def code_block(lines) -> list:
    return ["```", *lines, "```", ""]


def grid_command(step: "grid.Step", threads: int = 1) -> str:
    return shlex.join(["python", *(part.replace("{threads}", str(threads)) for part in step.argv)])


def as_command(recorded: str) -> str:
    """A record's command as a shell line starting with python."""
    recorded = recorded.replace("'python -m loihi_sim.benchmark'", "python -m loihi_sim.benchmark")
    return recorded if recorded.startswith("python ") else "python " + recorded


def minutes(seconds: float) -> str:
    return f"{seconds / 60:.1f} min" if seconds < 3600 else f"{seconds / 3600:.2f} h"


def epoch_hosts(histories) -> str:
    """The hosts that trained these histories' epochs, with their epoch counts and mean epoch time. An
    epoch without a host takes its run's, only in a run where no epoch names one."""
    per_host = {}
    for history in histories:
        epochs = history.get("history", [])
        default = NOT_RECORDED if any(epoch.get("host") for epoch in epochs) else history.get("host") or NOT_RECORDED
        for epoch in epochs:
            per_host.setdefault(epoch.get("host") or default, []).append(epoch["seconds"])
    return "; ".join(f"{host} ({len(seconds)} epochs, {minutes(sum(seconds) / len(seconds))} each)"
                     for host, seconds in sorted(per_host.items())) or NOT_RECORDED


def hosts(found) -> str:
    """The distinct hosts of these records."""
    return "; ".join(sorted({record.host or NOT_RECORDED for record in found})) or NOT_RECORDED
