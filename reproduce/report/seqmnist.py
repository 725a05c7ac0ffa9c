"""What the row-wise and pixel-wise sections share: the bars against the paper, the initial-potential
table, and each run's provenance (commands, hardware, wall time, models)."""
from dataclasses import dataclass

from .. import grid, paper
from .figures import T_AXIS, Panel, Series
from .markdown import Stats, as_command, code_block, epoch_hosts, hosts, minutes, over_seeds, per_seed, signed, table

TASK_NAMES = {"rowwise": "row-wise", "pixelwise": "pixel-wise"}
PUBLISHED = {"rowwise": (paper.ROWWISE_ANN, paper.ROWWISE_HYBRID),
             "pixelwise": (paper.PIXELWISE_ANN, paper.PIXELWISE_HYBRID)}


@dataclass
class Verdict:
    """One published number against ours: met when |mean - published| <= bar."""
    task: str
    model: str  # "ANN <cell>" or "hybrid"
    n_timestep: int | None
    published: float
    ours: Stats
    bar: float

    @property
    def claim(self) -> str:
        return f"{TASK_NAMES[self.task]} {self.model}" + (f" T={self.n_timestep}" if self.n_timestep else "")

    @property
    def delta(self) -> float:
        return self.ours.mean - self.published

    @property
    def met(self) -> bool:
        return abs(self.delta) <= self.bar


def bars(task: str, runs: dict) -> tuple:
    """(Markdown table of each cell's ANN and the hybrid at the paper's T against the paper, verdicts)."""
    published_ann, published_hybrid = PUBLISHED[task]
    rows, verdicts = [], []
    claims = [(f"ANN {cell}", None, published_ann[cell], [run.ann for run in cell_runs], paper.ANN_BAR[task])
              for cell, cell_runs in runs.items()]
    claims += [("hybrid", t, published, [run.hybrid()[t] for run in runs["ModifiedLSTMCell"] if t in run.hybrid()],
                paper.HYBRID_BAR[task].get(t)) for t, published in published_hybrid.items()]
    for model, t, published, values, bar in claims:
        verdict = Verdict(task, model, t, published, Stats(values), bar) if values and bar else None
        verdicts += [verdict] if verdict else []
        rows.append([model + (f" T={t}" if t else ""), f"{published:.2f}", over_seeds(values),
                     " / ".join(f"{v:.2f}" for v in values), signed(Stats(values).mean - published) if values else "",
                     f"±{bar}" if bar else "", ("yes" if verdict.met else "**no**") if verdict else ""])
    return table(["model", "paper %", "ours %", "per seed", "delta", "bar", "met"], rows), verdicts


def summary(verdicts: list) -> list:
    rows = [[v.claim, f"{v.published:.2f}", v.ours.text(), signed(v.delta), f"±{v.bar}", "yes" if v.met else "**no**"]
            for v in verdicts]
    return ["## Summary: the bars", ""] + table(["claim", "paper", "ours", "delta", "bar", "met"], rows) if rows else []


def potential(runs: list, timesteps, published: dict, title: str) -> tuple:
    """(table of the hybrid with V0 = 1 and V0 = theta / 2 at each T over the runs, the figure's Panel)."""
    rows, series = [], []
    for potential_name, label in (("one", "ours, V0 = 1"), ("half", "ours, V0 = theta / 2")):
        points = [(t, Stats(values)) for t in timesteps
                  if (values := [run.hybrid(initial_potential=potential_name)[t] for run in runs
                                 if t in run.hybrid(initial_potential=potential_name)])]
        series.append(Series(label, [t for t, _ in points], [s.mean for _, s in points], error=[s.std for _, s in points]))
    for t in timesteps:
        rows.append([t, f"{published[t]:.2f}" if t in published else "",
                     *(per_seed([run.hybrid(initial_potential=p)[t] for run in runs
                                 if t in run.hybrid(initial_potential=p)], len(runs)) for p in ("one", "half"))])
    series.append(Series("paper (V0 = 1)", list(published), list(published.values()), "s--", color="tab:red"))
    return (table(["T", "paper (V0 = 1) %", "ours V0 = 1 %", "ours V0 = theta/2 %"], rows),
            Panel(title, T_AXIS, "test accuracy %", series))


def provenance(runs: list) -> list:
    """Commands, hardware, wall time and models of these runs, from their train.log, history and records."""
    if not runs:
        return []
    commands = []
    for run in runs:
        trained = [line for line in (run.folder / "train.log").read_text().splitlines() if line.startswith("# ")]
        last = trained[-1][2:] if trained else ""
        commands.append(as_command(last.split(": ", 1)[1] if last.startswith("resumed") else last))
        commands += [as_command(record.command) for record in run.tests]
    tests = [record for run in runs for record in run.tests]
    walls = {}
    for run in runs:
        for t, seconds in run.test_seconds().items():
            walls.setdefault(t, []).append(seconds)
    train = [sum(epoch["seconds"] for epoch in run.history["history"]) for run in runs]
    return ["Commands (`python -m reproduce.run_grid` runs them all):", "", *code_block(commands),
            f"Hardware: training {epoch_hosts([run.history for run in runs])}; testing {hosts(tests)}.",
            f"Wall time: training {minutes(min(train))} to {minutes(max(train))} per run; hybrid test per T (mean): "
            + ", ".join(f"T={t} {minutes(Stats(v).mean)}" for t, v in sorted(walls.items())) + ".",
            "Models: each row's `checkpoint_best.pt` is committed in its run folder: "
            + ", ".join(f"`{run.folder.relative_to(run.folder.parents[2]).as_posix()}`" for run in runs) + ".", ""]


def seeds_of(task: str) -> tuple:
    return (grid.ROWWISE_SEEDS if task == "rowwise" else grid.PIXELWISE_SEEDS)["ModifiedLSTMCell"]
