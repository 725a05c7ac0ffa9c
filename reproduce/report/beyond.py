"""Beyond the paper: what V0 = theta / 2 buys per task, and the hybrid at T <= 16 converted (V0 = 1,
V0 = theta / 2) and after conversion-aware fine-tuning at that T, with the tuned models on the chip."""
from pathlib import Path

from .. import grid, paper
from ..collect import bleu_curves, bleu_records, compensated_chip, mnist_tests, read_json, seq_runs
from .chip import at_target, smallest_t_at
from .markdown import Stats, code_block, grid_command, hosts, over_seeds, table
from .seqmnist import TASK_NAMES

LOW_T = (2, 4, 8, 16)
GOALS = {"rowwise": (98.8, 4), "pixelwise": (98.0, 8)}  # accuracy % at T <= this
ENERGY_GOAL = (300.0, 98.31)  # CPU / Loihi active energy at least this, at this accuracy % or better (row-wise)
SCHEDULES = {task: [schedule, *([grid.FINETUNE_LONGER[task]] if task in grid.FINETUNE_LONGER else [])]
             for task, schedule in grid.FINETUNE.items()}  # each task's fine-tuning schedules


def mean_curve(runs: list, potential: str) -> dict:
    """{T: mean over the runs} at the T where every run was tested with this potential."""
    curves = [run.hybrid(initial_potential=potential) for run in runs]
    return {t: Stats([c[t] for c in curves]).mean for t in sorted(set.intersection(*map(set, curves)))}


def potential_summary(root: Path) -> list:
    """Per task: the paper's neurons at the paper's largest T, and the smallest T at which V0 = theta / 2
    does at least as well (same models)."""
    tasks = []
    for task, published in (("rowwise", paper.ROWWISE_HYBRID), ("pixelwise", paper.PIXELWISE_HYBRID)):
        largest = max(published)
        runs = [r for r in seq_runs(root, task, "ModifiedLSTMCell")
                if largest in r.hybrid() and largest in r.hybrid(initial_potential="half")]
        tasks += [(f"{TASK_NAMES[task]} MNIST ({len(runs)} seed{'s' if len(runs) > 1 else ''})", largest,
                   mean_curve(runs, "one"), mean_curve(runs, "half"))] if runs else []
    if {"one", "half"} <= set(curves := bleu_curves(bleu_records(root))):
        tasks.append(("translation, BLEU4 (1 model)", max(paper.IWSLT14_HYBRID_BLEU), curves["one"], curves["half"]))
    rows = []
    for task, largest, one, half in tasks:
        first = next((t for t in sorted(half) if half[t] >= one.get(largest, 101)), None)
        rows.append([task, f"{one[largest]:.2f} at T = {largest}" if largest in one else "missing",
                     f"{half[first]:.2f} at T = {first}" if first else "not reached", f"{largest / first:g}x" if first else ""])
    return ["## Summary: beyond the paper, V0 = theta / 2", "",
            "The paper's neurons at the paper's largest T, and the smallest T at which every potential starting at "
            "theta / 2 does at least as well (same models).", "",
            *table(["task", "V0 = 1", "V0 = theta / 2", "fewer SNN steps"], rows)] if rows else []


def converted(parents: list, t: int, potential: str, seeds: int) -> str:
    """The trained models converted at T with this potential, over the seeds."""
    return over_seeds([r.hybrid(initial_potential=potential)[t] for r in parents
                       if t in r.hybrid(initial_potential=potential)], seeds)


def low_t_table(root: Path, task: str, parents: list, seeds: tuple) -> list:
    """Converted (both potentials) and fine-tuned at each T <= 16: the fine-tuned hybrid and its ANN, per schedule."""
    rows = []
    for t in LOW_T:
        row = [t, *(converted(parents, t, p, len(seeds)) for p in grid.INITIAL_POTENTIALS)]
        for schedule in SCHEDULES[task]:
            found = [(record, result) for seed in seeds
                     for record in mnist_tests(root / grid.finetune_run(task, seed, t, schedule["epochs"]).folder)
                     for result in record.hybrid if (result.n_timestep, result.initial_potential) ==
                     (t, grid.FINETUNE_POTENTIAL)]
            row += [over_seeds([res.accuracy for _, res in found], len(seeds)) if t in schedule["timesteps"] else
                    "not in the grid", over_seeds([rec.ann_accuracy for rec, _ in found]) if found else ""]
        rows.append(row)
    return table(["T", "V0 = 1 %", "V0 = theta / 2 %",
                  *(f"{name} ({s['epochs']} epochs) %" for s in SCHEDULES[task] for name in ("fine-tuned", "its ANN"))],
                 rows)


def tuned_chip_table(root: Path, task: str, seeds: tuple) -> list:
    """The task's fine-tuned models on the emulated chip (grid: their loihi step), per schedule and T, over the seeds."""
    rows, images, used = [], grid.FINETUNE_CHIP_IMAGES[task], []
    for schedule in SCHEDULES[task]:
        for t in schedule["timesteps"]:
            found = [(b, r) for seed in seeds
                     if (b := compensated_chip(root / grid.finetune_run(task, seed, t, schedule["epochs"]).folder,
                                               grid.FINETUNE_POTENTIAL))
                     and b.test_samples == images for r in b.results if r.n_timestep == t]
            rows.append([t, schedule["epochs"], len(found), over_seeds([r.chip_accuracy for _, r in found]),
                         over_seeds([r.loihi["active_j"] * 1e6 for _, r in found]),
                         over_seeds([b.cpu["latency_s"] * 1e3 for b, _ in found]),
                         over_seeds([r.energy_ratio_cpu_over_loihi for _, r in found])])
            used += [b for b, _ in found]
    goal = "goal: CPU / Loihi >= {:g}x at >= {}%".format(*ENERGY_GOAL) if task == "rowwise" else "goal: the next table"
    return [f"Fine-tuned models on the emulated chip (soft-feedback, delay compensated, V0 = theta / 2, the first "
            f"{images} test images); {goal}:", "",
            *table(["T", "epochs", "seeds", "chip accuracy %", "Loihi active uJ", "CPU ms (batch 1)", "CPU / Loihi"], rows),
            *([f"The CPU baselines' hardware: {hosts(used)}.", ""] if used else [])]


def smallest_t_on_chip(root: Path, task: str) -> list:
    """Per V0 = theta / 2 chip benchmark (the converted seed 0, each fine-tuned model): the smallest T reaching the goal."""
    goal, folders = GOALS[task][0], [("converted, seed 0", grid.seqmnist_folder(task, "ModifiedLSTMCell", 0))] + [
        (f"fine-tuned at T = {t} ({s['epochs']} epochs), seed {seed}", grid.finetune_run(task, seed, t, s["epochs"]).folder)
        for s in SCHEDULES[task] for t in s["timesteps"] for seed in grid.SEEDS[task]["ModifiedLSTMCell"]]
    rows = [[name, *at_target(smallest_t_at(b.results, goal))] for name, folder in folders
            if (b := compensated_chip(root / folder, grid.FINETUNE_POTENTIAL))]
    return [f"The smallest T reaching {goal}% on the chip (V0 = theta / 2, the first {grid.FINETUNE_CHIP_IMAGES[task]} "
            "test images; the ratio's CPU side is a timing on each benchmark's host, so compare the Loihi energies):",
            "", *table(["model", "smallest T", "chip accuracy %", "Loihi active uJ", "CPU / Loihi"], rows)]


def per_population_table(parents: list, seeds: int) -> list:
    spec = grid.PER_POPULATION_POTENTIAL
    rows = [[t, *(converted(parents, t, p, seeds) for p in (*grid.INITIAL_POTENTIALS, spec))]
            for t in grid.PER_POPULATION_T]
    return [f"Per population (`--initial-potential {spec}`; the populations not named start at 1):", "",
            *table(["T", "V0 = 1 %", "V0 = theta / 2 %", f"{spec} %"], rows)]


def finetune_section(root: Path) -> list:
    lines = ["## Beyond the paper: the paper's accuracy at T <= 8", "",
             "Not the paper's pipeline (docs/method.md): each trained ModifiedLSTMCell fine-tuned through its hybrid "
             "at T with V0 = theta / 2, then tested as that hybrid on all test images; beside it the same trained "
             "models converted without fine-tuning. Mean ± std over the seeds.", ""]
    for task, (goal, goal_t) in GOALS.items():
        parents, seeds = seq_runs(root, task, "ModifiedLSTMCell"), grid.SEEDS[task]["ModifiedLSTMCell"]
        lines += [f"### {TASK_NAMES[task].capitalize()}: goal >= {goal}% at T <= {goal_t}", "",
                  *low_t_table(root, task, parents, seeds), *tuned_chip_table(root, task, seeds),
                  *(smallest_t_on_chip(root, task) if task == "pixelwise" else []),
                  *(per_population_table(parents, len(seeds)) if task == "pixelwise" else []),
                  f"Seed {seeds[0]}'s commands (the other seeds alike): " + "; ".join(
                      f"`{grid_command(step)}`" for t in grid.FINETUNE[task]["timesteps"]
                      for step in grid.finetune_run(task, seeds[0], t).steps), ""]
    return lines


def example_section(root: Path) -> list:
    """examples/permuted_mnist.py's full run (public API only) beside the published spiking-RNN figures."""
    run = grid.example_run()
    results = read_json(root / run.folder / "results.json")
    lines = ["## Beyond the paper: permuted sequential MNIST with the public API", "",
             "`examples/permuted_mnist.py`: hybrid_lstm.nn.LSTM(1, 128, cell=\"modified\") trained with the paper's "
             "recipe on a fixed pixel order, converted with hybrid_lstm.convert, its cost from loihi_sim.estimate.", ""]
    if not results or results.get("test_images") != grid.MNIST_TEST_IMAGES:
        return lines + [f"Missing: run `python -m reproduce.run_grid --runs {run.name}`.", ""]
    rows = [[name, "1 step per pixel", f"{accuracy:.2f}"] for name, accuracy in paper.PSMNIST_PUBLISHED.items()]
    rows.append([f"ours, ANN (best of {len(results['history'])} epochs: {results['best_epoch']})", "",
                 f"{results['ann_accuracy']:.2f}"])
    rows += [[f"ours, hybrid, V0 = {'1' if r['initial_potential'] == 'one' else 'theta/2'}", f"T = {r['n_timestep']}",
              f"{r['accuracy']:.2f}"] for r in results["hybrid"]]
    energy, at = results["energy"], results["energy"]["at"]
    return lines + [*table(["model", "SNN steps", "test accuracy %"], rows),
                    f"Cost at T = {at['n_timestep']} (V0 {at['initial_potential']}), per inference: Loihi "
                    f"{energy['loihi']['active_j'] * 1e6:.1f} uJ active on {energy['cores']} cores, "
                    f"{energy['loihi']['latency_s'] * 1e3:.2f} ms; the ANN on this CPU {energy['cpu']['active_j'] * 1e6:.0f}"
                    f" uJ ({energy['cpu']['energy_source']}); ratio {energy['energy_ratio_cpu_over_loihi']:.1f}x.", "",
                    *code_block([results["command"]]), f"Hardware: {results['host']}.", ""]
