"""RESULTS.md from the records of the experiment grid: records -> tables -> Markdown and figures.

It reads runs/ through reproduce.collect and renders (markdown, figures), one module per task: rowwise,
pixelwise, translation, chip, beyond (past the paper); seqmnist holds what both MNIST tasks share.
Measurements only: their interpretation is docs/discussion.md's.
"""
from pathlib import Path

from ..collect import ReportError
from .beyond import example_section, finetune_section, potential_summary
from .chip import energy_section, pixelwise_energy_section
from .pixelwise import pixelwise_section
from .rowwise import rowwise_section
from .seqmnist import summary
from .translation import translation_section

PROG = "python -m reproduce.make_report"


def build_report(root: Path, figures: Path) -> str:
    rowwise, rowwise_bars = rowwise_section(root, figures)
    pixelwise, pixelwise_bars = pixelwise_section(root, figures)
    lines = ["# Results: what the paper reported, what this code gets", "",
             f"Written by `{PROG}` from the records under `runs/` that `python -m reproduce.run_grid` writes; do not "
             "edit by hand. Published numbers: `reproduce/paper.py` (docs/method.md). What the numbers mean: "
             "docs/discussion.md.", ""]
    lines += summary(rowwise_bars + pixelwise_bars) + potential_summary(root) + rowwise + pixelwise
    lines += translation_section(root, figures) + energy_section(root, figures) + pixelwise_energy_section(root)
    lines += finetune_section(root) + example_section(root)
    return "\n".join(lines).rstrip() + "\n"


__all__ = ["PROG", "ReportError", "build_report"]
