"""Beyond the paper: the hybrid at T <= 16 with the paper's neurons (V0 = 1), with V0 = theta / 2,
and after conversion-aware fine-tuning at that T (grid group finetune), per MNIST task."""
from pathlib import Path

from hybrid_lstm.runs.run_folder import RunFolder

from .. import grid
from .logs import read_json, read_test_records, seq_runs
from .markdown import grid_command, table
from .stats import Stats

LOW_T = (2, 4, 8, 16)
GOALS = {"rowwise": ("row-wise", 98.8, 4), "pixelwise": ("pixel-wise", 98.0, 8)}  # accuracy % at T <= this


def seeds_text(values: list, seeds: int) -> str:
    """Mean ± spread of the values, with how many of the task's seeds they cover."""
    return f"{Stats(values).text()} ({len(values)} of {seeds} seeds)" if values else "not tested"


def tuned_results(root: Path, task: str, n_timestep: int) -> tuple:
    """([hybrid accuracy at T], [ANN accuracy]) of the task's fine-tuned runs at T, over the seeds tested."""
    hybrid, ann = [], []
    for seed in (grid.ROWWISE_SEEDS if task == "rowwise" else grid.PIXELWISE_SEEDS)["ModifiedLSTMCell"]:
        run = grid.finetune_run(task, seed, n_timestep)
        for record in read_test_records(root / run.folder):
            entries = [entry for entry in record.get("hybrid", []) if entry["n_timestep"] == n_timestep
                       and entry.get("initial_potential", "one") == grid.FINETUNE_POTENTIAL]
            if entries:
                hybrid.append(entries[0]["accuracy"])
                ann.append(record["ann"]["accuracy"])
    return hybrid, ann


def per_population_lines(parents: list, seeds: int) -> list:
    """The pixel-wise models with only some populations at theta / 2, beside all at 1 and all at theta / 2."""
    spec = grid.PER_POPULATION_POTENTIAL
    rows = []
    for n_timestep in grid.PER_POPULATION_T:
        values = {potential: [run.hybrid(initial_potential=potential)[n_timestep]["accuracy"] for run in parents
                              if n_timestep in run.hybrid(initial_potential=potential)]
                  for potential in (*grid.INITIAL_POTENTIALS, spec)}
        rows.append([n_timestep, *(seeds_text(values[p], seeds) for p in (*grid.INITIAL_POTENTIALS, spec))])
    return [f"Per population: only {spec.replace('=half', '').replace(',', ' and ')} start at theta / 2 "
            f"(`--initial-potential {spec}`), the other populations at 1:", "",
            table(["T", "V0 = 1 %", "V0 = theta / 2 %", f"{spec} %"], rows), ""]


ENERGY_GOAL = (300.0, 98.31)  # CPU / Loihi active energy at least this, at this accuracy % or better (row-wise)


def tuned_chip_lines(root: Path) -> list:
    """The row-wise fine-tuned models on the emulated chip (grid: their loihi step), per T, over the seeds."""
    rows = []
    for n_timestep in grid.FINETUNE["rowwise"]["timesteps"]:
        found = []
        for seed in grid.ROWWISE_SEEDS["ModifiedLSTMCell"]:
            folder = root / grid.finetune_run("rowwise", seed, n_timestep).folder
            data = read_json(RunFolder(folder).chip_results("soft-feedback", 1, True, grid.FINETUNE_POTENTIAL))
            entries = [r for r in (data or {}).get("results", []) if r.get("n_timestep") == n_timestep]
            if data and data.get("test_samples") == grid.MNIST_TEST_IMAGES and entries:
                found.append(entries[0])
        if found:
            rows.append([n_timestep, len(found), Stats([r["chip_accuracy"] for r in found]).text(),
                         Stats([r["loihi"]["active_j"] * 1e6 for r in found]).text(),
                         Stats([r["energy_ratio_cpu_over_loihi"] for r in found]).text() + "x"])
        else:
            rows.append([n_timestep, 0, "missing", "", ""])
    ratio, accuracy = ENERGY_GOAL
    return [f"On the emulated chip (soft-feedback, delay compensated, V0 = theta / 2, all test images; goal: at least "
            f"{ratio:g}x less active energy than the CPU at {accuracy}% or better):", "",
            table(["T", "seeds", "chip accuracy %", "Loihi active uJ per inference", "CPU / Loihi"], rows), ""]


def finetune_section(root: Path) -> list:
    lines = ["## Beyond the paper: the paper's accuracy at T <= 8", "",
             "Not the paper's pipeline (docs/method.md): each trained ModifiedLSTMCell is fine-tuned through its "
             "hybrid at T (the hybrid's forward, the ANN's gradient), with V0 = theta / 2, then tested as its hybrid "
             "at that T on all test images. Beside it, the same trained models converted without fine-tuning, with "
             "the paper's neurons (V0 = 1) and with V0 = theta / 2. Mean ± spread over the seeds tested.", ""]
    for task, (name, goal, goal_t) in GOALS.items():
        epochs = grid.ROWWISE_EPOCHS if task == "rowwise" else grid.PIXELWISE_EPOCHS
        seeds = (grid.ROWWISE_SEEDS if task == "rowwise" else grid.PIXELWISE_SEEDS)["ModifiedLSTMCell"]
        parents = seq_runs(root, task, "ModifiedLSTMCell", seeds, epochs)
        rows = []
        for n_timestep in LOW_T:
            converted = {potential: [run.hybrid(initial_potential=potential)[n_timestep]["accuracy"] for run in parents
                                     if n_timestep in run.hybrid(initial_potential=potential)]
                         for potential in grid.INITIAL_POTENTIALS}
            tuned, tuned_ann = tuned_results(root, task, n_timestep)
            fine_tuned = n_timestep in grid.FINETUNE[task]["timesteps"]
            rows.append([n_timestep, seeds_text(converted["one"], len(seeds)), seeds_text(converted["half"], len(seeds)),
                         seeds_text(tuned, len(seeds)) if fine_tuned else "not in the grid",
                         Stats(tuned_ann).text() if tuned_ann else ""])
        lines += [f"### {name.capitalize()}: goal >= {goal}% at T <= {goal_t}", "",
                  table(["T", "V0 = 1 %", "V0 = theta / 2 %", "fine-tuned, V0 = theta / 2 %", "fine-tuned ANN %"],
                        rows), ""]
        if task == "pixelwise":
            lines += per_population_lines(parents, len(seeds))
        else:
            lines += tuned_chip_lines(root)
        commands = [grid_command(step) for n_timestep in grid.FINETUNE[task]["timesteps"]
                    for step in grid.finetune_run(task, seeds[0], n_timestep).steps]
        lines += [f"Fine-tuning, for seed {seeds[0]} (the other seeds alike): " + "; ".join(f"`{c}`" for c in commands),
                  ""]
    return lines
