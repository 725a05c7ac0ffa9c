"""Row-wise sequential MNIST: the bars, the initial potential, the hard reset; provenance."""
from pathlib import Path

from .. import grid
from .markdown import over_seeds, table
from .seqmnist import comparison, provenance


def rowwise_section(root: Path, figures: Path) -> tuple:
    """(the section's lines, its summary rows)."""
    lines, summary_rows, runs = comparison(root, figures, "rowwise")
    lines = ["## Row-wise sequential MNIST (28 steps of 28 pixels)", "",
             f"The paper's protocol: {grid.ROWWISE_EPOCHS} epochs, the checkpoint with the best test accuracy, all "
             "10,000 test images; the hybrid with the paper's neurons (soft reset, V0 = 1, no synaptic delay). Mean "
             "± sample standard deviation over the seeds, then each seed.", "", *lines]
    if modified := runs["ModifiedLSTMCell"]:
        lines += ["### Beyond the paper: the hard reset", "",
                  "The same checkpoints with Loihi's reset to 0 (`--reset hard`), no synaptic delay, all test images.",
                  "", *table(["T", "soft reset (paper) %", "hard reset %"],
                             [[t, *(over_seeds([run.hybrid(reset)[t] for run in modified if t in run.hybrid(reset)])
                                    for reset in ("soft", "hard"))] for t in grid.ROWWISE_T])]
    return lines + provenance(runs), summary_rows
