"""The report's figures: each function draws data it is given into one PNG; no log reading."""
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from .. import grid, paper  # noqa: E402
from .stats import Stats  # noqa: E402


def save(figure, path: Path):
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=120)
    plt.close(figure)


def accuracy_figure(path: Path, title: str, modified: list, published_hybrid: dict, published_ann: float,
                    subset_note: str = ""):
    figure, axes = plt.subplots(figsize=(6.4, 4.2))
    timesteps = sorted({t for run in modified for t in run.hybrid()})
    for run in modified:
        points = sorted((t, entry["accuracy"]) for t, entry in run.hybrid().items())
        axes.plot(*zip(*points), "o", color="tab:blue", alpha=0.35, markersize=4)
    if timesteps:
        means = [Stats([run.hybrid()[t]["accuracy"] for run in modified if t in run.hybrid()]).mean for t in timesteps]
        axes.plot(timesteps, means, "-o", color="tab:blue",
                  label=f"ours, hybrid (mean of {len(modified)} seed{'s' if len(modified) > 1 else ''}{subset_note})")
        ours_ann = Stats([run.ann for run in modified]).mean
        axes.axhline(ours_ann, color="tab:blue", linestyle="--", linewidth=1, label=f"ours, ANN ({ours_ann:.2f}%)")
    axes.plot(list(published_hybrid), list(published_hybrid.values()), "s", color="tab:red", markerfacecolor="none",
              markersize=8, label="paper, hybrid")
    axes.axhline(published_ann, color="tab:red", linestyle=":", linewidth=1, label=f"paper, ANN ({published_ann:.2f}%)")
    axes.set_xscale("log", base=2)
    all_t = sorted(set(timesteps) | set(published_hybrid))
    axes.set_xticks(all_t, [str(t) for t in all_t])
    axes.set_xlabel("SNN time-steps per LSTM step (T)")
    axes.set_ylabel("test accuracy (%)")
    axes.set_title(title)
    axes.grid(alpha=0.3)
    axes.legend(loc="lower right", fontsize=8)
    save(figure, path)


def learning_curves_figure(path: Path, curves: dict, published_ann: dict,
                           title: str = "Pixel-wise sequential MNIST: ANN training"):
    """Test accuracy after each epoch, one line per run (curves[(cell, seed)] or curves[label] =
    accuracies), with the paper's final ANN accuracy of each cell in published_ann."""
    figure, axes = plt.subplots(figsize=(8.6, 4.0))
    colors = {"ModifiedLSTMCell": "tab:blue", "BaselineLSTMCell": "tab:orange"}
    for index, (key, accuracies) in enumerate(curves.items()):
        if isinstance(key, tuple):
            (cell, seed), style = key, {"color": colors[key[0]], "linestyle": ("-", "--", ":")[key[1] % 3]}
            label = f"{cell} seed {seed}"
        else:
            label, style = key, {"color": f"C{index}"}
        axes.plot(range(1, len(accuracies) + 1), accuracies, label=label, **style)
    for cell, accuracy in published_ann.items():
        axes.axhline(accuracy, color=colors[cell], linestyle=":", linewidth=1, alpha=0.7,
                     label=f"paper, {cell} ({accuracy:.2f}%)")
    axes.axhline(10, color="gray", linewidth=0.8, alpha=0.5)
    axes.set_xlabel("epoch")
    axes.set_ylabel("test accuracy (%)")
    axes.set_ylim(0, 100)
    axes.set_title(title)
    axes.grid(alpha=0.3)
    axes.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=7)
    save(figure, path)


def potential_figure(path: Path, curves: dict, published: dict, timesteps, title: str):
    """Hybrid accuracy vs T per initial potential (curves[potential] = [(T, mean, std)]) beside the
    paper's (published {T: accuracy}, V0 = 1)."""
    figure, axes = plt.subplots(figsize=(5.5, 3.8))
    for potential, label in (("one", "ours, V0 = 1 (the paper's neurons)"), ("half", "ours, V0 = theta / 2")):
        if curves[potential]:
            t, mean, std = zip(*curves[potential])
            axes.errorbar(t, mean, yerr=std, marker="o", capsize=3, label=label)
    axes.plot(list(published), list(published.values()), "s--", color="tab:red", label="paper (V0 = 1)")
    axes.set_xscale("log", base=2)
    axes.set_xticks(list(timesteps), [str(t) for t in timesteps])
    axes.set_xlabel("T (SNN steps per LSTM step)")
    axes.set_ylabel("test accuracy %")
    axes.set_title(title)
    axes.legend()
    axes.grid(alpha=0.3)
    save(figure, path)


def bleu_figure(path: Path, anns: dict, curves: dict, epochs: int):
    """Left: BLEU4 of ours (offline corpus; anns {model: BLEU4}) and the paper's (IWSLT14) against T;
    right: each hybrid as a percentage of its own ANN (modified cell), the comparable quantity, per
    initial potential (curves {potential: (own ANN's BLEU4, {T: hybrid BLEU4})})."""
    figure, (bleu_axes, share_axes) = plt.subplots(1, 2, figsize=(9.5, 3.9))
    own_ann, hybrid = curves["one"]
    hybrid = list(hybrid.items())
    paper_hybrid = sorted(paper.IWSLT14_HYBRID_BLEU.items())
    if hybrid:
        bleu_axes.plot(*zip(*hybrid), "-o", color="tab:blue", label=f"ours, hybrid ({epochs} epochs, offline corpus)")
    for (name, value), style in zip(sorted(anns.items()), ("--", ":")):
        bleu_axes.axhline(value, color="tab:blue", linestyle=style, linewidth=1, label=f"ours, {name}")
    bleu_axes.plot(*zip(*paper_hybrid), "-s", color="tab:red", label=f"paper, hybrid ({grid.IWSLT14_EPOCHS} epochs, IWSLT14)")
    for (cell, value), style in zip(sorted(paper.IWSLT14_ANN_BLEU.items()), ("--", ":")):
        bleu_axes.axhline(value, color="tab:red", linestyle=style, linewidth=1, label=f"paper, ANN, --cell-type {cell}")
    bleu_axes.set_ylabel("BLEU4")
    bleu_axes.set_title("BLEU4 (different corpora)")
    if hybrid and own_ann:
        share_axes.plot([t for t, _ in hybrid], [100 * b / own_ann for _, b in hybrid], "-o", color="tab:blue",
                        label="ours, V0 = 1 (paper's neurons)")
    half_ann, half_hybrid = curves.get("half", (None, {}))
    if half_hybrid and half_ann:
        share_axes.plot(list(half_hybrid), [100 * b / half_ann for b in half_hybrid.values()], "-o",
                        color="tab:orange", label="ours, V0 = theta / 2")
    paper_ann = paper.IWSLT14_ANN_BLEU["modified"]
    share_axes.plot([t for t, _ in paper_hybrid], [100 * b / paper_ann for _, b in paper_hybrid], "-s",
                    color="tab:red", label="paper")
    share_axes.axhline(100, color="gray", linestyle=":", linewidth=1)
    share_axes.set_ylabel("hybrid BLEU / own ANN's (%)")
    share_axes.set_title("hybrid as a share of its own ANN (comparable)")
    for axes in (bleu_axes, share_axes):
        axes.set_xscale("log", base=2)
        powers_of_two = [2 ** k for k in range(2, 9) if axes.get_xlim()[0] <= 2 ** k <= axes.get_xlim()[1] * 1.01]
        axes.set_xticks(powers_of_two, [str(t) for t in powers_of_two])
        axes.set_xlabel("T (SNN steps per LSTM step)")
        axes.grid(alpha=0.3)
        axes.legend(fontsize=7, loc="lower right")
    save(figure, path)


def energy_figure(path: Path, benchmarks: dict, target: float):
    """Chip accuracy against the CPU / Loihi energy ratio, one curve per chip configuration: the
    whole range on the left, the band around the paper's accuracy (target - 2 ... 100) on the right."""
    figure, (overview, zoom) = plt.subplots(1, 2, figsize=(11, 4.4))
    for label, data in benchmarks.items():
        points = sorted((e["energy_ratio_cpu_over_loihi"], e["chip_accuracy"], e["n_timestep"]) for e in data["results"])
        for axes in (overview, zoom):
            line, = axes.plot([x for x, _, _ in points], [y for _, y, _ in points], "-o", label=label)
            for x, y, t in points:
                axes.annotate(str(t), (x, y), fontsize=7, textcoords="offset points", xytext=(3, 3),
                              color=line.get_color(), annotation_clip=True)
    for axes in (overview, zoom):
        axes.plot([paper.ENERGY_RATIO_CPU_OVER_LOIHI], [paper.ROWWISE_HYBRID[128]], "r*", markersize=14,
                  label="paper (ratio; its simulation at T = 128)")
        axes.axhline(target, color="gray", linestyle=":", linewidth=1)
        axes.set_xscale("log")
        axes.set_xlabel("CPU / Loihi active energy per inference (higher is better)")
        axes.grid(alpha=0.3)
    overview.set_ylim(max(0, min(target - 20, overview.get_ylim()[0])), 100)
    zoom.set_ylim(target - 2, 100)
    overview.set_ylabel("chip test accuracy (%)")
    overview.set_title("Row-wise hybrid on emulated Loihi (labels: T)")
    zoom.set_title(f"Near the paper's accuracy (dotted: {target:.2f}%)")
    overview.legend(fontsize=7, loc="lower left")
    save(figure, path)


def semantics_figure(path: Path, curves: dict):
    figure, axes = plt.subplots(figsize=(6.4, 4.2))
    for (label, points), style in zip(curves.items(), ("-o", "-s", "--^", "--v")):
        axes.plot(*zip(*points), style, label=label)
    axes.set_xscale("log", base=2)
    axes.set_xticks(list(grid.ROWWISE_T), [str(t) for t in grid.ROWWISE_T])
    axes.set_ylim(0, 100)
    axes.set_xlabel("SNN time-steps per LSTM step (T)")
    axes.set_ylabel("test accuracy (%)")
    axes.set_title("Row-wise hybrid under each neuron semantics")
    axes.grid(alpha=0.3)
    axes.legend(fontsize=8, loc="center right")
    save(figure, path)
