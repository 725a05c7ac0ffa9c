"""Pixel-wise sequential MNIST: training progress, the bars, the initial potential, the memory
measurements and the recipe diagnostics of the BaselineLSTMCell; provenance."""
from pathlib import Path

from .. import grid, paper
from ..collect import memory, read_history
from .figures import Panel, Series, image
from .markdown import epoch_hosts, grid_command, table
from .seqmnist import comparison, provenance

CHANCE = 20.0  # % test accuracy below which a 10-class model has not started to learn


def learning_curves(root: Path, runs: list, epochs: int) -> tuple:
    """(table of each (label, folder) run's first `epochs` epochs: best and last test accuracy, the first
    epoch at or above CHANCE, hosts; the Series of their test accuracy per epoch)."""
    rows, series = [], []
    for label, folder in runs:
        history = read_history(root / folder)
        curve = [epoch.get("test_accuracy", epoch.get("validation_accuracy"))
                 for epoch in (history or {"history": []})["history"][:epochs]]
        if not curve:
            rows.append([label, f"0 of {epochs}", "missing", "", "", ""])
            continue
        best = max(range(len(curve)), key=lambda index: (curve[index], -index))
        above = next((index + 1 for index, value in enumerate(curve) if value >= CHANCE), "none")
        rows.append([label, f"{len(curve)} of {epochs}", f"{curve[best]:.2f} (epoch {best + 1})", f"{curve[-1]:.2f}", above,
                     epoch_hosts([{**history, "history": history["history"][:epochs]}])])
        series.append(Series(label, list(range(1, len(curve) + 1)), curve, "-"))
    return table(["run", "epochs", "best test %", "last %", f"first epoch >= {CHANCE:g}%", "hosts"], rows), series


def progress(root: Path) -> tuple:
    """(table of every grid run's epochs, best test accuracy and hosts; the learning-curve Panel)."""
    runs = [(f"{cell} seed {seed}", grid.seqmnist_folder("pixelwise", cell, seed))
            for cell in grid.CELLS for seed in grid.PIXELWISE_SEEDS[cell]]
    rows, series = learning_curves(root, runs, grid.PIXELWISE_EPOCHS)
    return rows, Panel("Pixel-wise: test accuracy per epoch", "epoch", "test accuracy %", series, xscale="linear",
                       ylim=(0, 100), lines={f"paper, {cell} ({a:.2f}%)": a for cell, a in paper.PIXELWISE_ANN.items()})


def memory_table(root: Path) -> list:
    """The memory measurements (reproduce/memory_horizon.py) of the runs' current best checkpoints."""
    found = [(f"{cell} seed {seed}", m) for cell in grid.CELLS for seed in grid.PIXELWISE_SEEDS[cell]
             if (m := memory(root, "pixelwise", cell, seed))]
    if not found:
        return []
    rows = [[name, m["best_epoch"], *(f"{entry['accuracy']:.2f}" for entry in m["visible_last"]),
             f"{(gate := m['forget_gate'])['mean']:.3f}", f"{100 * gate['share_at_least_0.99']:.1f}%",
             f"{gate['retention']:.2g}", f"{gate['final_h_spread']:.3f}",
             f"{m['last_checkpoint']['forget_gate']['final_h_spread']:.3f}"] for name, m in found]
    shown, commands = [entry["steps"] for entry in found[-1][1]["visible_last"]], [m["command"] for _, m in found]
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
    rows, series = learning_curves(root, runs, epochs)
    lines = ["### Diagnostics, not reproduced rows: the BaselineLSTMCell under two changes of the recipe", "",
             f"{epochs} epochs, seed {grid.RECIPE_DIAGNOSTIC_SEED}: without the cell-state and parameter clamps, and "
             f"with a lower learning rate; beside the reproduced runs' first {epochs} epochs. Test accuracy %.", "",
             *rows]
    if series:
        lines += image(root, figures / "pixelwise_recipe_diagnostics.png", "recipe diagnostics", [Panel(
            f"Pixel-wise BaselineLSTMCell, first {epochs} epochs", "epoch", "test accuracy %", series, xscale="linear",
            ylim=(0, 100))], width=8)
    return lines + ["Commands: " + "; ".join(f"`{grid_command(grid.recipe_diagnostic_run(v).steps[0])}`"
                                             for v in grid.RECIPE_DIAGNOSTICS), ""]


def pixelwise_section(root: Path, figures: Path) -> tuple:
    """(the section's lines, its summary rows)."""
    progress_table, curves = progress(root)
    lines = ["## Pixel-wise sequential MNIST (784 steps of 1 pixel)", "",
             f"The paper's protocol: {grid.PIXELWISE_EPOCHS} epochs, the best test epoch, the hybrid on all 10,000 "
             f"test images at T = {', '.join(map(str, grid.PIXELWISE_T))}. Every run of the grid so far:", "",
             *progress_table]
    if curves.series:
        lines += image(root, figures / "pixelwise_learning_curves.png", "pixel-wise test accuracy per epoch",
                       [curves], width=8.6)
    compared, summary_rows, runs = comparison(root, figures, "pixelwise")
    lines += ["Finished runs against the paper:", "", *compared]
    return lines + memory_table(root) + diagnostics(root, figures) + provenance(runs), summary_rows
