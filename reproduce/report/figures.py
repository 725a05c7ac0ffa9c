"""The report's figures: each draws the series it is given into one PNG; no log reading.

A figure is one or more Panels; a Series is a labelled line (x, y, optional error bars).
"""
from dataclasses import dataclass, field
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


@dataclass
class Series:
    label: str
    x: list
    y: list
    style: str = "-o"
    error: list | None = None  # error bars
    labels: list | None = None  # a text beside each point
    color: str | None = None


@dataclass
class Panel:
    title: str
    xlabel: str
    ylabel: str
    series: list
    xscale: str = "log2"  # "log2" (ticks at powers of two), "log" or "linear"
    ylim: tuple | None = None
    lines: dict = field(default_factory=dict)  # label -> y of a horizontal reference line


def draw(path: Path, panels: list, width: float = 6.4):
    figure, axes_list = plt.subplots(1, len(panels), figsize=(width * len(panels), 4.2), squeeze=False)
    for axes, panel in zip(axes_list[0], panels):
        for series in panel.series:
            if series.error is not None:
                axes.errorbar(series.x, series.y, yerr=series.error, fmt=series.style, capsize=3, label=series.label,
                              color=series.color)
                continue
            line, = axes.plot(series.x, series.y, series.style, label=series.label, color=series.color)
            for x, y, text in zip(series.x, series.y, series.labels or ()):
                axes.annotate(str(text), (x, y), fontsize=7, textcoords="offset points", xytext=(3, 3),
                              color=line.get_color())
        for label, y in panel.lines.items():
            axes.axhline(y, color="gray", linestyle=":", linewidth=1, label=label)
        if panel.xscale == "log2":
            axes.set_xscale("log", base=2)
            ticks = sorted({x for series in panel.series for x in series.x})
            ticks = [t for t in ticks if int(t) & (int(t) - 1) == 0] or ticks  # powers of two: labels that do not collide
            axes.set_xticks(ticks, [str(t) for t in ticks])
        elif panel.xscale == "log":
            axes.set_xscale("log")
        if panel.ylim:
            axes.set_ylim(*panel.ylim)
        axes.set(title=panel.title, xlabel=panel.xlabel, ylabel=panel.ylabel)
        axes.grid(alpha=0.3)
        axes.legend(fontsize=7)
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=120)
    plt.close(figure)


def image(root: Path, figure: Path, alt: str, panels: list, width: float = 6.4) -> list:
    """Draw panels into root/figure; the Markdown lines that show it."""
    draw(root / figure, panels, width)
    return [f"![{alt}]({figure.as_posix()})", ""]


T_AXIS = "T (SNN steps per LSTM step)"
