"""Row-wise sequential MNIST: the bars, the initial potential, the hard reset; provenance."""
from pathlib import Path

from .. import grid, paper
from .figures import T_AXIS, Panel, Series, image
from .load import seq_runs
from .markdown import Stats, over_seeds, table
from .seqmnist import bars, potential, provenance


def hard_reset_table(modified: list) -> list:
    """The same models with the hard reset (delay 0), beside the soft one."""
    rows = [[t, over_seeds([run.hybrid()[t] for run in modified if t in run.hybrid()]),
             over_seeds([run.hybrid("hard")[t] for run in modified if t in run.hybrid("hard")])] for t in grid.ROWWISE_T]
    return table(["T", "soft reset (paper) %", "hard reset %"], rows)


def rowwise_section(root: Path, figures: Path) -> tuple:
    runs = {cell: seq_runs(root, "rowwise", cell) for cell in grid.CELLS}
    modified = runs["ModifiedLSTMCell"]
    bar_table, verdicts = bars("rowwise", runs)
    lines = ["## Row-wise sequential MNIST (28 steps of 28 pixels)", "",
             f"The paper's protocol: {grid.ROWWISE_EPOCHS} epochs, the checkpoint with the best test accuracy, all "
             "10,000 test images; the hybrid with the paper's neurons (soft reset, V0 = 1, no synaptic delay). Mean "
             "± sample standard deviation over the seeds, then each seed.", "", *bar_table]
    if not modified:
        return lines, verdicts, runs
    points = [(t, Stats([run.hybrid()[t] for run in modified if t in run.hybrid()])) for t in grid.ROWWISE_TEST_T
              if any(t in run.hybrid() for run in modified)]
    lines += image(root, figures / "rowwise_accuracy_vs_T.png", "row-wise accuracy vs T", [Panel(
        "Row-wise sequential MNIST", T_AXIS, "test accuracy %",
        [Series(f"ours, hybrid ({len(modified)} seeds)", [t for t, _ in points], [s.mean for _, s in points],
                error=[s.std for _, s in points]),
         Series("paper, hybrid", list(paper.ROWWISE_HYBRID), list(paper.ROWWISE_HYBRID.values()), "s--",
                color="tab:red")],
        lines={f"ours, ANN ({Stats([r.ann for r in modified]).mean:.2f}%)": Stats([r.ann for r in modified]).mean})])
    potential_table, panel = potential(modified, grid.ROWWISE_TEST_T, paper.ROWWISE_HYBRID,
                                       "Row-wise hybrid: initial potential")
    lines += ["### Beyond the paper: the initial potential", "",
              "Every IF neuron starts each LSTM step at V0 = 1 (the paper) or at V0 = theta / 2 "
              "(`--initial-potential half`); same checkpoints, all test images.", "", *potential_table]
    lines += image(root, figures / "initial_potential_accuracy_vs_T.png", "initial potential", [panel])
    lines += ["### Beyond the paper: the hard reset", "",
              "The same checkpoints with Loihi's reset to 0 (`--reset hard`), no synaptic delay, all test images.",
              "", *hard_reset_table(modified)]
    return lines + provenance([run for cell_runs in runs.values() for run in cell_runs]), verdicts, runs
