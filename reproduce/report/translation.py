"""The translation section: BLEU vs T of the offline de-en models, each hybrid also as a
percentage of its own ANN's (the quantity comparable with the paper's IWSLT14 column)."""
import re
from pathlib import Path

from .. import grid, paper
from .figures import bleu_figure
from .logs import read_json, step_log, trained_epochs, translation_curves, translation_parameters, translation_results
from .markdown import NOT_RECORDED, as_command, code_block, grid_command, minutes, table


SHAPE_POINTS = 5.0  # a share within this many points of the paper's counts as the same shape


def shape_note(shares: dict) -> str:
    """How far each hybrid's share of its own ANN lies from the paper's, T by T."""
    if not shares:
        return "No hybrid BLEU to compare with the paper's yet."
    close = [t for t, (ours, theirs) in shares.items() if abs(ours - theirs) <= SHAPE_POINTS]
    far = {t: v for t, v in shares.items() if t not in close}
    text = (f"Shape: at T = {', '.join(map(str, close)) or 'none'} each hybrid keeps within {SHAPE_POINTS:g} points of "
            "the share of its ANN's BLEU that the paper's hybrid keeps (largest gap "
            f"{max((abs(a - b) for a, b in (shares[t] for t in close)), default=0):.1f} points)")
    if far:
        text += "; not at " + ", ".join(f"T = {t} ({ours:.1f}% against the paper's {theirs:.1f}%)"
                                        for t, (ours, theirs) in far.items())
    return text + "."


def potential_lines(curves: dict, results: dict) -> list:
    """Beyond the paper: the converted model with V0 = theta / 2 beside V0 = 1, each hybrid's BLEU4 and
    its share of the ANN's (curves: logs.translation_curves; results: logs.translation_results, whose
    files other than the paper's V0 = 1 are listed with their commands)."""
    lines = ["Beyond the paper, the same converted model with every potential starting at theta / 2 "
             "(`--initial-potential half`; see the row-wise section), and both potentials at T = "
             f"{min(min(t) for t in grid.DEEN_COMPLEMENT_T.values())} ... {max(grid.DEEN_T)}:", ""]
    if "half" not in curves:
        return lines + ["Missing: run `python -m reproduce.run_grid --runs translation-debian-half`.", ""]
    rows = []
    for t in sorted(set(curves["one"][1]) | set(curves["half"][1])):
        published = paper.IWSLT14_HYBRID_BLEU.get(t)
        cells = [f"{100 * published / paper.IWSLT14_ANN_BLEU['modified']:.1f}" if published is not None else ""]
        for own_ann, bleu in curves.values():
            cells.append(f"{bleu[t]:.2f} ({100 * bleu[t] / own_ann:.1f}%)" if t in bleu and own_ann else "not run")
        rows.append([t, *cells])
    lines += [table(["T", "paper (V0 = 1): hybrid / ANN %", "ours V0 = 1: BLEU4 (of own ANN)",
                     "ours V0 = theta/2: BLEU4 (of own ANN)"], rows), ""]
    if not all((potential, True) in results for potential in grid.DEEN_COMPLEMENT_T):
        lines += ["Not run yet: `python -m reproduce.run_grid --runs translation-debian-complement`.", ""]
    lines += ["Commands:", ""] + [f"- `{as_command(data['command'])}` ({data.get('host', NOT_RECORDED)})"
                                  for key, data in results.items() if key != ("one", False)] + [""]
    return lines


def models_note(root: Path) -> str:
    """Why the translation models are not in the repository, from their logged size."""
    sizes = {cell: count for cell in ("modified", "default")
             if (count := translation_parameters(root, cell)) is not None}
    if not sizes:
        return "Models: not committed; the commands above rebuild them."
    described = ", ".join(f"--cell-type {cell} {count:,} parameters ({count * 4 / 1e6:.0f} MB in float32)"
                          for cell, count in sizes.items())
    return (f"Models: not committed ({described}, too large for the repository); the commands above rebuild "
            "them on one CPU core in about the wall time shown.")


def translation_section(root: Path, figures: Path) -> list:
    run = grid.translation_run("debian")
    every_results = translation_results(root)
    results = every_results.get(("one", False))
    lines = ["## Translation: BLEU vs T", ""]
    if not results:
        return lines + ["Missing: run `python -m reproduce.run_grid --only translation`.", ""]
    counts = read_json(root / grid.TRANSLATION / "debian-corpus-counts.json") or {}
    lines += [
        "**Not comparable with the paper's IWSLT14 numbers.** IWSLT14 cannot be downloaded here, so the "
        "models are trained on an offline German-English corpus built from Debian packages (`prepare_deen.py "
        f"debian`: LibreOffice help and the Ding dictionary's examples; {counts.get('train', '?')} / "
        f"{counts.get('valid', '?')} / {counts.get('test', '?')} train / valid / test pairs) for "
        f"**{trained_epochs(root)} epochs** (paper: {grid.IWSLT14_EPOCHS}). Comparable with the paper: each "
        "hybrid's BLEU as a percentage of its own ANN's.", ""]
    rows, shares = [], {}
    own_ann = next((e["fairseq_bleu4"] for e in results["results"] if e["model"] == "ANN, --cell-type modified"), None)
    paper_ann = paper.IWSLT14_ANN_BLEU["modified"]
    for entry in results["results"]:
        name = entry["model"]
        match = re.match(r"hybrid T=(\d+)", name)
        share = paper_share = ""
        if match:
            published = paper.IWSLT14_HYBRID_BLEU.get(int(match.group(1)))
            share = f"{100 * entry['fairseq_bleu4'] / own_ann:.1f}" if own_ann else ""
            paper_share = f"{100 * published / paper_ann:.1f}" if published is not None else ""
            if share and paper_share:
                shares[int(match.group(1))] = (float(share), float(paper_share))
        else:
            published = paper.IWSLT14_ANN_BLEU.get("default" if "default" in name else "modified")
        rows.append([name, f"{published:.2f}" if published is not None else "",
                     f"{entry['fairseq_bleu4']:.2f}", f"{entry['sacrebleu']:.2f}", share, paper_share,
                     entry["sentences"], f"{entry['seconds']:.0f}"])
    lines += [table(["model", "paper BLEU (IWSLT14)", "ours BLEU4 (offline corpus)", "sacrebleu (tokenised)",
                     "ours: hybrid / own ANN %", "paper: hybrid / ANN %", "sentences", "wall s"], rows), ""]
    lines += [shape_note(shares), ""]
    curves = translation_curves(every_results)
    lines += potential_lines(curves, every_results)
    figure = figures / "translation_bleu_vs_T.png"
    anns = {e["model"]: e["fairseq_bleu4"] for e in results["results"] if e["model"].startswith("ANN")}
    bleu_figure(root / figure, anns, curves, trained_epochs(root))
    lines += [f"![BLEU vs T]({figure.as_posix()})", ""]
    trainings = {cell: step_log(root, run, f"train-{cell}") for cell in ("modified", "default")}
    train_times = [f"--cell-type {cell} {minutes(seconds)}" for cell, (seconds, _) in trainings.items() if seconds]
    train_hosts = sorted({host for _, hosts in trainings.values() for host in hosts})
    lines += ["Commands (`python -m reproduce.run_grid --only translation`):", "",
              code_block([grid_command(step) for step in run.steps]), "",
              f"Hardware: training {'; '.join(train_hosts) or NOT_RECORDED}; BLEU {results.get('host', NOT_RECORDED)}. "
              f"Wall time: training {', '.join(train_times) or NOT_RECORDED} ({trained_epochs(root)} epochs; summed "
              "over every attempt of the step in runner.log); generation per model as in "
              "the table.", "",
              models_note(root), "",
              f"The IWSLT14 reproduction ({grid.IWSLT14_EPOCHS} epochs, needs internet for the corpus):", "",
              code_block([grid_command(step) for step in grid.translation_run("iwslt14", grid.IWSLT14_EPOCHS).steps]),
              ""]
    return lines
