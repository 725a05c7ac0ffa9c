"""The summary of what V0 = theta / 2 buys on each task: the smallest T at which the hybrid with
every potential starting at theta / 2 is at least as good as the paper's neurons (V0 = 1) at the
paper's largest T, from the same logs as the task sections."""
from pathlib import Path

from .. import grid, paper
from .logs import seq_runs, translation_curves, translation_results
from .markdown import table
from .stats import Stats


def mean_curve(runs: list, initial_potential: str) -> dict:
    """{T: mean accuracy over the runs} of the hybrid with this initial potential, at the T where
    every run was tested (so that each point averages the same models)."""
    curves = [run.hybrid(initial_potential=initial_potential) for run in runs]
    common = set.intersection(*(set(curve) for curve in curves))
    return {t: Stats([curve[t]["accuracy"] for curve in curves]).mean for t in sorted(common)}


def task_curves(root: Path, rowwise_modified: list) -> list:
    """(task, unit, paper's largest T, {T: V0 = 1 value}, {T: V0 = theta / 2 value}, models) per task
    whose logs have both potentials; MNIST over the seeds tested with both up to the paper's largest T
    (a seed whose V0 = theta / 2 test is still running would cut the common T short)."""
    tasks = []
    for task, runs, largest in (
            ("row-wise MNIST", rowwise_modified, max(paper.ROWWISE_HYBRID)),
            ("pixel-wise MNIST", seq_runs(root, "pixelwise", "ModifiedLSTMCell", grid.PIXELWISE_SEEDS["ModifiedLSTMCell"],
                                          grid.PIXELWISE_EPOCHS), max(paper.PIXELWISE_HYBRID))):
        tested = [run for run in runs if largest in run.hybrid() and largest in run.hybrid(initial_potential="half")]
        if tested:
            tasks.append((task, "% accuracy", largest, mean_curve(tested, "one"), mean_curve(tested, "half"),
                          f"{len(tested)} seeds, mean" if len(tested) > 1 else "1 seed"))
    curves = translation_curves(translation_results(root))
    if {"one", "half"} <= set(curves):
        tasks.append(("translation (offline de-en)", "BLEU4", max(paper.IWSLT14_HYBRID_BLEU), curves["one"][1],
                      curves["half"][1], "1 model"))
    return tasks


def potential_summary(root: Path, rowwise_modified: list) -> list:
    rows = []
    for task, unit, largest, one, half, models in task_curves(root, rowwise_modified):
        if largest not in one:
            continue
        target = one[largest]
        matching = [t for t in sorted(half) if half[t] >= target]
        rows.append([task, models, unit, f"{target:.2f} at T = {largest}",
                     f"{half[matching[0]]:.2f} at T = {matching[0]}" if matching else
                     f"not reached up to T = {max(half)}",
                     f"{largest / matching[0]:g}x" if matching else ""])
    if not rows:
        return []
    return ["## Summary: beyond the paper, V0 = theta / 2", "",
            "The paper starts every IF potential at 1 (V0 = 1), which rounds every rate down. Starting it at "
            "theta / 2 (`--initial-potential half`) rounds to nearest. Per task: the paper's neurons at the paper's "
            "largest T, and the smallest T we tested at which V0 = theta / 2 does at least as well (same models; "
            "details in each task's section).", "",
            table(["task", "models", "unit", "V0 = 1 (paper's neurons)", "V0 = theta / 2", "fewer SNN steps"], rows), ""]
