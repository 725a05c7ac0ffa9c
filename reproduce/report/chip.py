"""Loihi (loihi_sim benchmarks): energy and latency per inference of the row-wise model per chip
configuration (chip and simulation accuracy side by side), the smallest T at the paper's accuracy, every
seed in the headline configuration, the assumptions each benchmark logged, and the pixel-wise model."""
from pathlib import Path

from hybrid_lstm.runs.run_folder import RunFolder

from .. import grid, paper
from .figures import Panel, Series, image
from .load import chip, rowwise_chip, seq_runs
from .markdown import Stats, as_command, code_block, hosts, minutes, percent, table

TARGET = paper.ROWWISE_HYBRID[128] - paper.EQUAL_ACCURACY_POINTS


def label(settings) -> str:
    """A chip configuration in words, from a benchmark's logged settings."""
    return (settings.reset + (", delay compensated" if settings.compensate_delay else "")
            + (", V0 = theta/2" if settings.initial_potential == "half" else
               f", V0 {settings.initial_potential}" if settings.initial_potential != "one" else ""))


def smallest_t_at(results, target: float = TARGET):
    """The result with the smallest T whose chip accuracy reaches target, or None."""
    return min((r for r in results if r.chip_accuracy >= target), key=lambda r: r.n_timestep, default=None)


def at_target(result) -> list:
    return [result.n_timestep, f"{result.chip_accuracy:.2f}", f"{result.loihi['active_j'] * 1e6:.1f}",
            f"{result.energy_ratio_cpu_over_loihi:.1f}x"] if result else ["none", "", "", ""]


def assumptions(benchmark) -> list:
    costs, host = benchmark.event_costs, benchmark.assumptions
    return [f"Assumptions, as the benchmarks logged them: event costs `{costs['name']}` (synaptic op "
            f"{costs['synaptic_op_pj']} pJ / {costs['synaptic_op_ns']} ns; compartment update "
            f"{costs['update_active_pj']} pJ / {costs['update_active_ns']} ns active, {costs['update_inactive_pj']} pJ /"
            f" {costs['update_inactive_ns']} ns inactive; spike out {costs['spike_out_pj']} pJ; hop "
            f"{costs['hop_east_west_pj']} / {costs['hop_north_south_pj']} pJ east-west / north-south; barrier "
            f"{costs['barrier_ns_one_tile']} ns per time-step on one tile); embedded host {host['host_power_w']} W at "
            f"{host['host_ops_per_second']:g} operations per second; synaptic memory {host['synaptic_memory']}; CPU "
            f"batch-1 latency {benchmark.cpu['latency_s'] * 1e3:.3f} ms, energy {benchmark.cpu['energy_source']}.", ""]


def provenance(benchmarks: list) -> list:
    return ["Commands:", "", *code_block([as_command(b.command) for b in benchmarks]),
            f"Hardware: {hosts(benchmarks)}. Wall time (emulation): "
            + ", ".join(f"{label(b.chip)} {minutes(sum(r.wall_time_s['chip'] for r in b.results))} for "
                        f"{b.test_samples} images" for b in benchmarks) + ".", ""]


def headline(root: Path) -> list:
    """The headline configuration (soft-feedback, delay compensated, V0 = theta / 2) on every seed's model."""
    found = {seed: chip(grid.headline_output(root / grid.seqmnist_folder("rowwise", "ModifiedLSTMCell", seed)))
             for seed in grid.ROWWISE_SEEDS["ModifiedLSTMCell"]}
    rows = [[seed, b.test_samples, *at_target(smallest_t_at(b.results)), f"{b.cpu['active_j'] * 1e6:.0f}"]
            for seed, b in found.items() if b]
    reached = [r for b in found.values() if b and (r := smallest_t_at(b.results))]
    if not rows:
        return []
    rows.append([f"mean of the {len(reached)} reaching {TARGET:.2f}%", "", "",
                 Stats([r.chip_accuracy for r in reached]).text() if reached else "",
                 "", Stats([r.energy_ratio_cpu_over_loihi for r in reached]).text() + "x" if reached else "", ""])
    return [f"Soft-feedback, delay compensated, V0 = theta / 2 on every seed's model, all test images, T = "
            f"{', '.join(map(str, grid.CHIP_HEADLINE_T))} (paper: {paper.ENERGY_RATIO_CPU_OVER_LOIHI}x):", "",
            *table(["seed", "images", "smallest T", "chip accuracy %", "Loihi active uJ", "CPU / Loihi",
                    "CPU active uJ"], rows)]


def energy_section(root: Path, figures: Path) -> list:
    benchmarks = rowwise_chip(root)
    lines = ["## Energy on Loihi (loihi_sim), row-wise model", ""]
    if not benchmarks:
        return lines + ["Missing: run `python -m reproduce.run_grid --only chip`.", ""]
    rows = [[label(b.chip), r.n_timestep, b.test_samples, f"{r.chip_accuracy:.2f}", f"{r.hybrid_accuracy:.2f}",
             r.cores, f"{r.loihi['latency_s'] * 1e3:.2f}", f"{r.loihi['active_j'] * 1e6:.1f}",
             f"{b.cpu['active_j'] * 1e6:.0f}", f"{r.energy_ratio_cpu_over_loihi:.1f}x"] for b in benchmarks for r in b.results]
    configurations = {}
    for b in benchmarks:
        configurations.setdefault(label(b.chip), []).extend(b.results)
    lines += [f"Seed {grid.CHIP_SEED}'s model, delay 1, per inference (one 28-step sequence, batch 1); active energy "
              "is above idle; the CPU runs the same ANN with torch, batch 1. Realisable on Loihi 1: `hard`, "
              "`hard-independent`, `soft-feedback`; `soft` is the paper's reset at a hard-reset compartment's cost.",
              "", *table(["configuration", "T", "images", "chip accuracy %", "simulation accuracy %", "cores",
                          "Loihi ms", "Loihi active uJ", "CPU active uJ", "CPU / Loihi"], rows),
              f"### Energy at the paper's accuracy (chip accuracy >= {TARGET:.2f}%)", "",
              *table(["configuration", "smallest T", "chip accuracy %", "Loihi active uJ", "CPU / Loihi"],
                     [[name, *at_target(smallest_t_at(results))] for name, results in configurations.items()]),
              *headline(root)]
    series = [Series(name, [r.energy_ratio_cpu_over_loihi for r in results], [r.chip_accuracy for r in results],
                     error=[r.n_timestep for r in results])
              for name, results in ((name, sorted(rs, key=lambda r: r.n_timestep)) for name, rs in configurations.items())]
    star = Series("paper (its ratio; its simulation at T = 128)", [paper.ENERGY_RATIO_CPU_OVER_LOIHI],
                  [paper.ROWWISE_HYBRID[128]], "*", color="tab:red")
    lines += image(root, figures / "chip_accuracy_vs_energy.png", "accuracy vs energy", [
        Panel(title, "CPU / Loihi active energy", "chip accuracy %", series + [star], log2_x=False, log_x=True,
              ylim=ylim, lines={f"{TARGET:.2f}%": TARGET}, annotate=True)
        for title, ylim in (("Row-wise on emulated Loihi (labels: T)", (0, 100)),
                            ("Near the paper's accuracy", (TARGET - 2, 100)))], width=5.5)
    return lines + assumptions(benchmarks[0]) + provenance(benchmarks)


def pixelwise_energy_section(root: Path) -> list:
    """The pixel-wise model (seed 0) on the chip (soft-feedback, delay compensated) on its first test images,
    beside its simulation's accuracy on all of them."""
    folder = RunFolder(root / grid.seqmnist_folder("pixelwise", "ModifiedLSTMCell", 0))
    found = [b for potential, _, _ in grid.PIXELWISE_CHIP
             if (b := chip(folder.chip_results("soft-feedback", 1, True, potential)))]
    lines = ["## Beyond the paper: energy on Loihi, pixel-wise model", ""]
    if not found:
        return lines + ["Missing: run `python -m reproduce.run_grid --runs chip-pixelwise-seed0`.", ""]
    runs = seq_runs(root, "pixelwise", "ModifiedLSTMCell")
    simulated = {p: runs[0].hybrid(initial_potential=p) for p in ("one", "half")} if runs and runs[0].seed == 0 else {}
    rows = [[b.chip.initial_potential, r.n_timestep, percent(simulated.get(b.chip.initial_potential, {}).get(r.n_timestep)),
             b.test_samples, f"{r.chip_accuracy:.2f}", f"{r.hybrid_accuracy:.2f}", f"{r.loihi['latency_s'] * 1e3:.1f}",
             f"{b.cpu['latency_s'] * 1e3:.1f}",
             f"{r.loihi['active_j'] * 1e6:.1f}", f"{b.cpu['active_j'] * 1e6:.0f}", f"{r.energy_ratio_cpu_over_loihi:.1f}x"]
            for b in found for r in b.results]
    return lines + [
        "Soft-feedback, delay compensated: the chip's spike counts are the simulation's. Per inference (784 steps, "
        "batch 1), on the first test images (784-step emulation is slow).", "",
        *table(["V0", "T", "simulation % (10,000 images)", "images emulated", "chip % on them", "simulation % on them",
                "Loihi ms", "CPU ms", "Loihi active uJ", "CPU active uJ", "CPU / Loihi"], rows), *provenance(found)]
