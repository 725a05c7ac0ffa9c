"""What the row-wise and pixel-wise sections share: the bars against the paper, accuracy against T,
the initial potential, and each run's provenance (commands, hardware, wall time, models)."""
from pathlib import Path

from .. import grid, paper
from ..collect import seq_runs
from .figures import T_AXIS, Panel, Series, image
from .markdown import Stats, as_command, code_block, epoch_hosts, hosts, minutes, over_seeds, table

TASK_NAMES = {"rowwise": "row-wise", "pixelwise": "pixel-wise"}
PUBLISHED = {"rowwise": (paper.ROWWISE_ANN, paper.ROWWISE_HYBRID),
             "pixelwise": (paper.PIXELWISE_ANN, paper.PIXELWISE_HYBRID)}
TEST_T = {"rowwise": grid.ROWWISE_TEST_T, "pixelwise": tuple(sorted(grid.PIXELWISE_LOW_T + grid.PIXELWISE_T))}
FIGURES = {"rowwise": ("rowwise_accuracy_vs_T", "initial_potential_accuracy_vs_T"),
           "pixelwise": ("pixelwise_accuracy_vs_T", "pixelwise_initial_potential_accuracy_vs_T")}


def bars(task: str, runs: dict) -> tuple:
    """(Markdown table of each cell's ANN and the hybrid at the paper's T against the paper, the
    summary's rows: one per claim with a bar, met when |mean - published| <= bar)."""
    published_ann, published_hybrid = PUBLISHED[task]
    rows, summary_rows = [], []
    claims = [(f"ANN {cell}", published_ann[cell], [run.ann for run in cell_runs], paper.ANN_BAR[task])
              for cell, cell_runs in runs.items()]
    claims += [(f"hybrid T={t}", published, [run.hybrid()[t] for run in runs["ModifiedLSTMCell"] if t in run.hybrid()],
                paper.HYBRID_BAR[task].get(t)) for t, published in published_hybrid.items()]
    for model, published, values, bar in claims:
        delta = f"{Stats(values).mean - published:+.2f}" if values else ""
        met = ("yes" if abs(Stats(values).mean - published) <= bar else "**no**") if values and bar else ""
        rows.append([model, f"{published:.2f}", over_seeds(values), " / ".join(f"{v:.2f}" for v in values), delta,
                     f"±{bar}" if bar else "", met])
        if met:
            summary_rows.append([f"{TASK_NAMES[task]} {model}", f"{published:.2f}", Stats(values).text(), delta,
                                 f"±{bar}", met])
    return table(["model", "paper %", "ours %", "per seed", "delta", "bar", "met"], rows), summary_rows


def summary(rows: list) -> list:
    return ["## Summary: the bars", ""] + table(["claim", "paper", "ours", "delta", "bar", "met"], rows) if rows else []


def hybrid_series(label: str, runs: list, timesteps, initial_potential: str = "one") -> Series:
    """Mean ± std over the runs of the hybrid's accuracy at each T where any run was tested."""
    points = [(t, Stats(values)) for t in timesteps
              if (values := [run.hybrid(initial_potential=initial_potential)[t] for run in runs
                             if t in run.hybrid(initial_potential=initial_potential)])]
    return Series(label, [t for t, _ in points], [s.mean for _, s in points], error=[s.std for _, s in points])


def paper_series(published: dict, label: str = "paper, hybrid") -> Series:
    return Series(label, list(published), list(published.values()), "s--", color="tab:red")


def comparison(root: Path, figures: Path, task: str) -> tuple:
    """(lines: the bars, the hybrid's accuracy against T, the initial potential; summary rows; runs by cell)."""
    runs = {cell: seq_runs(root, task, cell) for cell in grid.CELLS}
    modified, published = runs["ModifiedLSTMCell"], PUBLISHED[task][1]
    lines, summary_rows = bars(task, runs)
    if not modified:
        return lines, summary_rows, runs
    title, ann = f"{TASK_NAMES[task].capitalize()} sequential MNIST", Stats([r.ann for r in modified]).mean
    accuracy_figure, potential_figure = FIGURES[task]
    lines += image(root, figures / f"{accuracy_figure}.png", f"{TASK_NAMES[task]} accuracy vs T", [Panel(
        title, T_AXIS, "test accuracy %", [hybrid_series(f"ours, hybrid ({len(modified)} seeds)", modified, TEST_T[task]),
                                          paper_series(published)], lines={f"ours, ANN ({ann:.2f}%)": ann})])
    rows = [[t, f"{published[t]:.2f}" if t in published else "",
             *(over_seeds([run.hybrid(initial_potential=p)[t] for run in modified if t in run.hybrid(initial_potential=p)],
                          len(modified), each=True) for p in ("one", "half"))] for t in TEST_T[task]]
    lines += ["### Beyond the paper: the initial potential", "",
              "Every IF neuron starts each LSTM step at V0 = 1 (the paper) or at V0 = theta / 2 "
              "(`--initial-potential half`); same checkpoints, all test images.", "",
              *table(["T", "paper (V0 = 1) %", "ours V0 = 1 %", "ours V0 = theta/2 %"], rows)]
    lines += image(root, figures / f"{potential_figure}.png", f"{TASK_NAMES[task]} initial potential", [Panel(
        f"{TASK_NAMES[task].capitalize()} hybrid: initial potential", T_AXIS, "test accuracy %",
        [hybrid_series(label, modified, TEST_T[task], p) for p, label in (("one", "ours, V0 = 1"),
                                                                          ("half", "ours, V0 = theta / 2"))]
        + [paper_series(published, "paper (V0 = 1)")])])
    return lines, summary_rows, runs


def provenance(runs: dict) -> list:
    """Commands, hardware, wall time and models of these runs (by cell), from their train.log, history and records."""
    runs = [run for cell_runs in runs.values() for run in cell_runs]
    if not runs:
        return []
    commands = []
    for run in runs:
        trained = [line for line in (run.folder / "train.log").read_text().splitlines() if line.startswith("# ")]
        last = trained[-1][2:] if trained else ""
        commands.append(as_command(last.split(": ", 1)[1] if last.startswith("resumed") else last))
        commands += [as_command(record.command) for record in run.tests]
    walls = {}
    for run in runs:
        for t, seconds in run.test_seconds().items():
            walls.setdefault(t, []).append(seconds)
    train = [sum(epoch["seconds"] for epoch in run.history["history"]) for run in runs]
    return ["Commands (`python -m reproduce.run_grid` runs them all):", "", *code_block(commands),
            f"Hardware: training {epoch_hosts([run.history for run in runs])}; testing "
            f"{hosts([record for run in runs for record in run.tests])}.",
            f"Wall time: training {minutes(min(train))} to {minutes(max(train))} per run; hybrid test per T (mean): "
            + ", ".join(f"T={t} {minutes(Stats(v).mean)}" for t, v in sorted(walls.items())) + ".",
            "Models: each row's `checkpoint_best.pt` is committed in its run folder: "
            + ", ".join(f"`{run.folder.relative_to(run.folder.parents[2]).as_posix()}`" for run in runs) + ".", ""]
