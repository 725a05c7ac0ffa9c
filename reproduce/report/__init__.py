"""RESULTS.md from the logs of the experiment grid, by concern: logs (reading), stats (seeds
and bars), markdown (formatting), figures (matplotlib), and one module per section."""
from pathlib import Path

from .chip import chip_semantics_section, energy_section, pixelwise_energy_section
from .diagnostics import diagnostics_section
from .finetune import finetune_section
from .logs import ReportError
from .potential import potential_summary
from .seqmnist import pixelwise_section, potential_section, rowwise_section, summary
from .translation import translation_section

PROG = "python -m reproduce.make_report"


def build_report(root: Path, figures: Path) -> str:
    rowwise_lines, verdicts, rowwise = rowwise_section(root, figures)
    lines = ["# Results: what the paper reported, what this code gets", "",
             f"Written by `{PROG}` from the logs under `runs/` that `python -m reproduce.run_grid` produces; "
             "do not edit by hand (rerun both to update). Published numbers: docs/method.md, "
             "in `reproduce/paper.py`.", ""]
    pixelwise_lines, pixelwise_verdicts = pixelwise_section(root, figures)
    lines += summary(verdicts + pixelwise_verdicts)
    lines += potential_summary(root, rowwise["ModifiedLSTMCell"])
    lines += rowwise_lines
    lines += potential_section(root, figures, rowwise["ModifiedLSTMCell"])
    lines += pixelwise_lines
    lines += diagnostics_section(root, figures)
    lines += translation_section(root, figures)
    lines += energy_section(root, figures)
    lines += chip_semantics_section(root, figures, rowwise)
    lines += pixelwise_energy_section(root)
    lines += finetune_section(root)
    return "\n".join(lines).rstrip() + "\n"


__all__ = ["PROG", "ReportError", "build_report"]
