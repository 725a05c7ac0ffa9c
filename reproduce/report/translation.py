"""Translation: BLEU vs T of the offline de-en models, each hybrid also as a share of its own ANN's
(the quantity comparable with the paper's IWSLT14 column), for both initial potentials; provenance."""
from pathlib import Path

from .. import grid, paper
from ..collect import bleu_curves, bleu_records, finetuned_bleu, model_parameters, read_json, step_log, trained_epochs
from .figures import T_AXIS, Panel, Series, image
from .markdown import code_block, grid_command, hosts, minutes, table

PAPER_SHARE = {t: 100 * b / paper.IWSLT14_ANN_BLEU["modified"] for t, b in paper.IWSLT14_HYBRID_BLEU.items()}
POTENTIALS = {"one": "V0 = 1", "half": "V0 = theta/2"}
GOAL_GAP, GOAL_T = 0.5, 16  # beyond the paper: BLEU4 at most GOAL_GAP below its own ANN's at T <= GOAL_T


def translation_section(root: Path, figures: Path) -> list:
    found = bleu_records(root)
    lines = ["## Translation: BLEU vs T", ""]
    if ("one", False) not in found:
        return lines + ["Missing: run `python -m reproduce.run_grid --only translation`.", ""]
    main, counts = found["one", False], read_json(root / grid.TRANSLATION / "debian-corpus-counts.json") or {}
    own_ann = main.ann("modified").fairseq_bleu4
    lines += [f"Offline German-English corpus (`prepare_deen.py debian`; {counts.get('train', '?')} / "
              f"{counts.get('valid', '?')} / {counts.get('test', '?')} train / valid / test pairs), "
              f"{trained_epochs(root)} epochs (paper: IWSLT14, {grid.IWSLT14_EPOCHS} epochs): the BLEU values are not "
              "comparable with the paper's; each hybrid's share of its own ANN's BLEU is.", ""]
    rows = [[r.label, f"{p:.2f}" if (p := paper.IWSLT14_ANN_BLEU[r.cell_type] if r.n_timestep is None else
                                     paper.IWSLT14_HYBRID_BLEU.get(r.n_timestep)) else "",
             f"{r.fairseq_bleu4:.2f}", f"{r.sacrebleu:.2f}", f"{100 * r.fairseq_bleu4 / own_ann:.1f}" if r.n_timestep else "",
             f"{PAPER_SHARE[r.n_timestep]:.1f}" if r.n_timestep in PAPER_SHARE else "", r.sentences, f"{r.seconds:.0f}"]
            for r in main.results]
    lines += table(["model", "paper BLEU (IWSLT14)", "ours BLEU4", "sacrebleu (tokenised)", "ours: hybrid / own ANN %",
                    "paper: hybrid / ANN %", "sentences", "wall s"], rows)
    curves, tuned = bleu_curves(found), finetuned_bleu(root)
    columns = {f"ours {name}": curves.get(p, {}) for p, name in POTENTIALS.items()} | ({
        f"fine-tuned at T = {grid.DEEN_FINETUNE['timesteps']}, V0 = theta/2 (its ANN {tuned.ann('modified').fairseq_bleu4:.2f})":
        {t: r.fairseq_bleu4 for t, r in tuned.hybrid().items()}} if tuned else {})
    lines += ["### Beyond the paper: the initial potential and fine-tuning", "",
              "The same converted model with V0 = 1 and theta / 2, and fine-tuned through its hybrid (docs/method.md; not "
              f"the paper's pipeline), BLEU4 (share of the trained ANN's). Goal at T <= {GOAL_T}: within {GOAL_GAP} of its ANN, {own_ann - GOAL_GAP:.2f} or more.", "",
              *table(["T", "paper (V0 = 1): hybrid / ANN %", *columns],
                     [[t, f"{PAPER_SHARE[t]:.1f}" if t in PAPER_SHARE else "",
                       *(f"{c[t]:.2f} ({100 * c[t] / own_ann:.1f}%)" if t in c else "not run" for c in columns.values())]
                      for t in sorted(set().union(*columns.values()))])]
    lines += image(root, figures / "translation_bleu_vs_T.png", "BLEU vs T", [
        Panel(title, T_AXIS, unit, [Series(f"ours, {POTENTIALS[p]}", list(c), [scale(b) for b in c.values()])
                                    for p, c in curves.items()] + [Series("paper (IWSLT14)", list(published),
                                                                          list(published.values()), "s--", color="tab:red")])
        for title, unit, scale, published in (
            ("BLEU4 (different corpora)", "BLEU4", lambda b: b, paper.IWSLT14_HYBRID_BLEU),
            ("Hybrid as a share of its own ANN", "hybrid BLEU / own ANN's %", lambda b: 100 * b / own_ann, PAPER_SHARE))],
        width=5)
    run = grid.translation_run("debian")
    trainings = {cell: step_log(root, run, f"train-{cell}") for cell in ("modified", "default")}
    return lines + [
        "Commands (`python -m reproduce.run_grid --only translation`, then the other BLEU files):", "",
        *code_block([grid_command(step) for step in run.steps] + [c.command for key, c in found.items() if key != ("one", False)]
                    + [grid_command(step) for step in grid.translation_finetune_run().steps if tuned]),
        "Hardware: training " + "; ".join(sorted({h for _, hs in trainings.values() for h in hs}))
        + f"; BLEU {hosts(found.values())}. Wall time: training "
        + ", ".join(f"--cell-type {cell} {minutes(seconds)}" for cell, (seconds, _) in trainings.items())
        + " (runner.log, every attempt); generation as in the table.",
        "Models (float16, integer weights int16; every BLEU above is theirs, docs/translation.md): " + ", ".join(
            f"`{grid.shipped_model('debian', c)}` ({n} parameters)" for c, n in model_parameters(root).items()) + ".", "",
        f"The IWSLT14 reproduction ({grid.IWSLT14_EPOCHS} epochs; its corpus needs internet):", "",
        *code_block([grid_command(step) for step in grid.translation_run("iwslt14", grid.IWSLT14_EPOCHS).steps])]
