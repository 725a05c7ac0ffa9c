"""Pixel-wise sequential MNIST: training progress, the bars, the initial potential, the memory
measurements and the recipe diagnostics of the BaselineLSTMCell; provenance."""
from pathlib import Path

from .. import grid, paper
from .figures import Panel, Series, T_AXIS, image
from .load import memory, read_history, seq_runs
from .markdown import Stats, epoch_hosts, grid_command, table
from .seqmnist import bars, potential, provenance

CHANCE = 20.0  # % test accuracy below which a 10-class model has not started to learn


def test_curve(history: dict) -> list:
    return [epoch.get("test_accuracy", epoch.get("validation_accuracy")) for epoch in history["history"]]


def progress(root: Path) -> tuple:
    """(table of every grid run's epochs, best test accuracy and hosts; the learning-curve Panel)."""
    rows, series = [], []
    for cell in grid.CELLS:
        for seed in grid.PIXELWISE_SEEDS[cell]:
            history = read_history(root / grid.seqmnist_folder("pixelwise", cell, seed))
            if not history or not history["history"]:
                rows.append([f"{cell} seed {seed}", f"0 of {grid.PIXELWISE_EPOCHS}", "", ""])
                continue
            curve = test_curve(history)
            series.append(Series(f"{cell} seed {seed}", list(range(1, len(curve) + 1)), curve, "-"))
            rows.append([f"{cell} seed {seed}", f"{len(curve)} of {grid.PIXELWISE_EPOCHS}",
                         f"{history['best']['accuracy']:.2f} (epoch {history['best']['epoch']})", epoch_hosts([history])])
    return (table(["run", "epochs", "best test %", "hosts"], rows),
            Panel("Pixel-wise: test accuracy per epoch", "epoch", "test accuracy %", series, log2_x=False, ylim=(0, 100),
                  lines={f"paper, {cell} ({a:.2f}%)": a for cell, a in paper.PIXELWISE_ANN.items()}))


def memory_table(root: Path) -> list:
    """The memory measurements (reproduce/memory_horizon.py) of the runs' current best checkpoints."""
    rows, commands, shown = [], [], []
    for cell in grid.CELLS:
        for seed in grid.PIXELWISE_SEEDS[cell]:
            measured = memory(root, "pixelwise", cell, seed)
            if measured:
                gate, last = measured["forget_gate"], measured["last_checkpoint"]
                shown = [entry["steps"] for entry in measured["visible_last"]]
                rows.append([f"{cell} seed {seed}", measured["best_epoch"],
                             *(f"{entry['accuracy']:.2f}" for entry in measured["visible_last"]),
                             f"{gate['mean']:.3f}", f"{100 * gate['share_at_least_0.99']:.1f}%",
                             f"{gate['retention']:.2g}", f"{gate['final_h_spread']:.3f}",
                             f"{last['forget_gate']['final_h_spread']:.3f}"])
                commands.append(measured["command"])
    if not rows:
        return []
    return ["### Memory of each model", "",
            "Accuracy when only the last K pixels are shown (earlier pixels black); the forget gate f (mean, share "
            ">= 0.99); c kept over the last 98 steps (mean of prod f); the spread of the final h over images, for "
            "the selected and the last model. First 2,000 test images.", "",
            *table(["model", "best epoch", *(f"last {k} shown %" for k in shown), "mean f", "f >= 0.99",
                    "c kept", "final h spread", "final h spread, last model"], rows),
            *(f"`{command}`" for command in commands), ""]


def diagnostics(root: Path, figures: Path) -> list:
    """The BaselineLSTMCell under each grid.RECIPE_DIAGNOSTICS change, beside the reproduced runs' first epochs."""
    epochs, cell = grid.RECIPE_DIAGNOSTIC_EPOCHS, "BaselineLSTMCell"
    runs = [(f"the paper's recipe, seed {seed}", grid.seqmnist_folder("pixelwise", cell, seed))
            for seed in grid.PIXELWISE_SEEDS[cell]]
    runs += [(f"{variant} ({' '.join(flags)}), seed {grid.RECIPE_DIAGNOSTIC_SEED}",
              grid.recipe_diagnostic_run(variant).folder) for variant, flags in grid.RECIPE_DIAGNOSTICS.items()]
    rows, series = [], []
    for label, folder in runs:
        history = read_history(root / folder)
        curve = test_curve(history)[:epochs] if history else []
        above = next((index + 1 for index, value in enumerate(curve) if value >= CHANCE), "none")
        rows.append([label, f"{len(curve)} of {epochs}", f"{max(curve):.2f}" if curve else "missing",
                     f"{curve[-1]:.2f}" if curve else "", above if curve else ""])
        series += [Series(label, list(range(1, len(curve) + 1)), curve, "-")] if curve else []
    lines = ["### Diagnostics, not reproduced rows: the BaselineLSTMCell under two changes of the recipe", "",
             f"{epochs} epochs, seed {grid.RECIPE_DIAGNOSTIC_SEED}: without the cell-state and parameter clamps, and "
             f"with a lower learning rate; beside the reproduced runs' first {epochs} epochs. Test accuracy %.", "",
             *table(["run", "epochs", f"best of the first {epochs}", "last", f"first epoch >= {CHANCE:g}%"], rows)]
    if series:
        lines += image(root, figures / "pixelwise_recipe_diagnostics.png", "recipe diagnostics", [Panel(
            f"Pixel-wise BaselineLSTMCell, first {epochs} epochs", "epoch", "test accuracy %", series, log2_x=False,
            ylim=(0, 100))], width=8)
    return lines + ["Commands: " + "; ".join(f"`{grid_command(grid.recipe_diagnostic_run(v).steps[0])}`"
                                             for v in grid.RECIPE_DIAGNOSTICS), ""]


def pixelwise_section(root: Path, figures: Path) -> tuple:
    progress_table, curves = progress(root)
    lines = ["## Pixel-wise sequential MNIST (784 steps of 1 pixel)", "",
             f"The paper's protocol: {grid.PIXELWISE_EPOCHS} epochs, the best test epoch, the hybrid on all 10,000 "
             f"test images at T = {', '.join(map(str, grid.PIXELWISE_T))}. Every run of the grid so far:", "",
             *progress_table]
    if curves.series:
        lines += image(root, figures / "pixelwise_learning_curves.png", "pixel-wise test accuracy per epoch",
                       [curves], width=8.6)
    runs = {cell: seq_runs(root, "pixelwise", cell) for cell in grid.CELLS}
    modified = runs["ModifiedLSTMCell"]
    bar_table, verdicts = bars("pixelwise", runs)
    lines += ["Finished runs against the paper:", "", *bar_table]
    if modified:
        points = [(t, Stats(v)) for t in grid.PIXELWISE_T if (v := [r.hybrid()[t] for r in modified if t in r.hybrid()])]
        lines += image(root, figures / "pixelwise_accuracy_vs_T.png", "pixel-wise accuracy vs T", [Panel(
            "Pixel-wise sequential MNIST", T_AXIS, "test accuracy %",
            [Series(f"ours, hybrid ({len(modified)} seeds)", [t for t, _ in points], [s.mean for _, s in points],
                    error=[s.std for _, s in points]),
             Series("paper, hybrid", list(paper.PIXELWISE_HYBRID), list(paper.PIXELWISE_HYBRID.values()), "s--",
                    color="tab:red")])])
        timesteps = sorted(grid.PIXELWISE_LOW_T + grid.PIXELWISE_T)
        potential_table, panel = potential(modified, timesteps, paper.PIXELWISE_HYBRID,
                                           "Pixel-wise hybrid: initial potential")
        lines += ["### Beyond the paper: the initial potential", "", "Same checkpoints, all test images.", "",
                  *potential_table]
        lines += image(root, figures / "pixelwise_initial_potential_accuracy_vs_T.png", "pixel-wise initial potential",
                       [panel])
    lines += memory_table(root) + diagnostics(root, figures)
    return lines + provenance([run for cell_runs in runs.values() for run in cell_runs]), verdicts
