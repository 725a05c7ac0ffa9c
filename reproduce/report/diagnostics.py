"""The pixel-wise BaselineLSTMCell's recipe diagnostics (grid.RECIPE_DIAGNOSTICS): which part of the
recipe the sigmoid cell fails under, on a reduced schedule, beside the reproduced runs' first epochs.
Diagnostics, not reproduced rows."""
from pathlib import Path

from hybrid_lstm.runs.run_folder import RunFolder

from .. import grid
from .figures import learning_curves_figure
from .logs import read_history
from .markdown import grid_command, table
from .stats import CHANCE_PLATEAU

CELL = "BaselineLSTMCell"


def test_curve(history: dict) -> list:
    return [epoch.get("test_accuracy", epoch.get("validation_accuracy")) for epoch in history["history"]]


def diagnostics_section(root: Path, figures: Path) -> list:
    epochs = grid.RECIPE_DIAGNOSTIC_EPOCHS
    curves, rows = {}, []
    references = [(f"the paper's recipe, seed {seed}", RunFolder(root / grid.seqmnist_folder("pixelwise", CELL, seed)))
                  for seed in grid.PIXELWISE_SEEDS[CELL]]
    variants = [(f"{variant} ({' '.join(flags)}), seed {grid.RECIPE_DIAGNOSTIC_SEED}",
                 RunFolder(root / grid.recipe_diagnostic_run(variant).folder))
                for variant, flags in grid.RECIPE_DIAGNOSTICS.items()]
    for label, folder in references + variants:
        history = read_history(folder)
        curve = test_curve(history)[:epochs] if history else []
        if curve:
            curves[label] = curve
        best = max(curve) if curve else None
        above = next((index + 1 for index, value in enumerate(curve) if value >= CHANCE_PLATEAU), None)
        rows.append([label, f"{len(curve)} of {epochs}", f"{best:.2f}" if best is not None else "missing",
                     f"{curve[-1]:.2f}" if curve else "", str(above) if above else ("none" if curve else "")])
    lines = ["### Diagnostics: the pixel-wise BaselineLSTMCell under two changes of the recipe", "",
             f"Not reproduced rows. The sigmoid cell trained for {epochs} epochs (seed {grid.RECIPE_DIAGNOSTIC_SEED}) "
             "without the cell-state and parameter clamps (Loihi's ranges, which a cell that is never converted "
             "does not need), and with a lower learning rate, clamps kept; beside the reproduced runs' first "
             f"{epochs} epochs. Test accuracy %; 'epoch above {CHANCE_PLATEAU:g}%': the first epoch past chance.", "",
             table(["run", "epochs", f"best of the first {epochs}", "last", f"epoch above {CHANCE_PLATEAU:g}%"], rows),
             ""]
    if curves:
        figure = figures / "pixelwise_recipe_diagnostics.png"
        learning_curves_figure(root / figure, curves, {}, title=f"Pixel-wise BaselineLSTMCell: the first {epochs} "
                               "epochs under each recipe")
        lines += [f"![recipe diagnostics: test accuracy per epoch]({figure.as_posix()})", ""]
    lines += ["Commands: " + "; ".join(f"`{grid_command(grid.recipe_diagnostic_run(variant).steps[0])}`"
                                       for variant in grid.RECIPE_DIAGNOSTICS), ""]
    return lines
