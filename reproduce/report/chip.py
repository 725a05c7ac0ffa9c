"""Loihi (loihi_sim benchmarks): energy and latency per inference of the row-wise model per chip
configuration (chip and simulation accuracy side by side), the smallest T at the paper's accuracy, every
seed in the headline configuration, the assumptions each benchmark logged, and the pixel-wise model."""
from pathlib import Path

from .. import grid, paper
from ..collect import chip, compensated_chip, rowwise_chip
from .figures import Panel, Series, image
from .markdown import Stats, as_command, code_block, hosts, minutes, table

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


def benchmark_table(benchmarks: list) -> list:
    """Every result of these benchmarks, per inference."""
    return table(["configuration", "T", "images", "chip accuracy %", "simulation accuracy %", "cores", "Loihi ms",
                  "CPU ms", "Loihi active uJ", "CPU active uJ", "CPU / Loihi"],
                 [[label(b.chip), r.n_timestep, b.test_samples, f"{r.chip_accuracy:.2f}", f"{r.hybrid_accuracy:.2f}",
                   r.cores, f"{r.loihi['latency_s'] * 1e3:.2f}", f"{b.cpu['latency_s'] * 1e3:.2f}",
                   f"{r.loihi['active_j'] * 1e6:.1f}", f"{b.cpu['active_j'] * 1e6:.0f}",
                   f"{r.energy_ratio_cpu_over_loihi:.1f}x"] for b in benchmarks for r in b.results])


def provenance(benchmarks: list) -> list:
    """The commands, hardware and wall time of these benchmarks, and the assumptions the first one logged."""
    logged = {**benchmarks[0].event_costs, **benchmarks[0].assumptions,
              "cpu_energy_source": benchmarks[0].cpu["energy_source"]}
    return ["Assumptions, as the benchmark logged them (loihi_sim.hardware; docs/chip.md): "
            + "; ".join(f"`{key}` {value}" for key, value in logged.items()) + ".", "", "Commands:", "", *code_block([as_command(b.command) for b in benchmarks]),
            f"Hardware: {hosts(benchmarks)}. Wall time (emulation): "
            + ", ".join(f"{label(b.chip)} {minutes(sum(r.wall_time_s['chip'] for r in b.results))} for "
                        f"{b.test_samples} images" for b in benchmarks) + ".", ""]


def energy_section(root: Path, figures: Path) -> list:
    benchmarks = rowwise_chip(root)
    lines = ["## Energy on Loihi (loihi_sim), row-wise model", ""]
    if not benchmarks:
        return lines + ["Missing: run `python -m reproduce.run_grid --only chip`.", ""]
    configurations = {}
    for b in benchmarks:
        configurations[label(b.chip)] = sorted(configurations.get(label(b.chip), []) + list(b.results),
                                               key=lambda r: r.n_timestep)
    rows = [[f"seed {grid.CHIP_SEED}", name, *at_target(smallest_t_at(results))] for name, results in configurations.items()]
    headline = {seed: b for seed in grid.ROWWISE_SEEDS["ModifiedLSTMCell"]
                if (b := chip(grid.headline_output(root / grid.seqmnist_folder("rowwise", "ModifiedLSTMCell", seed))))
                and b.test_samples == grid.MNIST_TEST_IMAGES}
    rows += [[f"seed {seed}", label(b.chip), *at_target(smallest_t_at(b.results))]
             for seed, b in headline.items() if seed != grid.CHIP_SEED]
    if reached := [r for b in headline.values() if (r := smallest_t_at(b.results))]:
        rows.append([f"mean of the {len(reached)} seeds reaching it", label(next(iter(headline.values())).chip), "",
                     Stats([r.chip_accuracy for r in reached]).text(), "",
                     Stats([r.energy_ratio_cpu_over_loihi for r in reached]).text() + "x"])
    lines += [f"Seed {grid.CHIP_SEED}'s model, delay 1, per inference (one 28-step sequence, batch 1); active energy "
              "is above idle; the CPU runs the same ANN with torch, batch 1. Realisable on Loihi 1: `hard`, "
              "`hard-independent`, `soft-feedback`; `soft` is the paper's reset at a hard-reset compartment's cost.",
              "", *benchmark_table(benchmarks),
              f"### Energy at the paper's accuracy (chip accuracy >= {TARGET:.2f}%)", "",
              f"Seed {grid.CHIP_SEED}'s model in every configuration, then every seed's model in the headline one "
              f"(all test images, T = {', '.join(map(str, grid.CHIP_HEADLINE_T))}; paper: "
              f"{paper.ENERGY_RATIO_CPU_OVER_LOIHI}x):", "",
              *table(["model", "configuration", "smallest T", "chip accuracy %", "Loihi active uJ", "CPU / Loihi"], rows)]
    series = [Series(name, [r.energy_ratio_cpu_over_loihi for r in results], [r.chip_accuracy for r in results],
                     labels=[r.n_timestep for r in results]) for name, results in configurations.items()]
    star = Series("paper (its ratio; its simulation at T = 128)", [paper.ENERGY_RATIO_CPU_OVER_LOIHI],
                  [paper.ROWWISE_HYBRID[128]], "*", color="tab:red")
    lines += image(root, figures / "chip_accuracy_vs_energy.png", "accuracy vs energy", [
        Panel(title, "CPU / Loihi active energy", "chip accuracy %", series + [star], xscale="log",
              ylim=ylim, lines={f"{TARGET:.2f}%": TARGET})
        for title, ylim in (("Row-wise on emulated Loihi (labels: T)", (0, 100)),
                            ("Near the paper's accuracy", (TARGET - 2, 100)))], width=5.5)
    return lines + provenance(benchmarks)


def pixelwise_energy_section(root: Path) -> list:
    """The pixel-wise model (seed 0) on the chip (soft-feedback, delay compensated) on its first test images."""
    folder = root / grid.seqmnist_folder("pixelwise", "ModifiedLSTMCell", 0)
    found = [b for potential, _, _ in grid.PIXELWISE_CHIP if (b := compensated_chip(folder, potential))]
    lines = ["## Beyond the paper: energy on Loihi, pixel-wise model", ""]
    if not found:
        return lines + ["Missing: run `python -m reproduce.run_grid --runs chip-pixelwise-seed0`.", ""]
    return lines + [
        "Soft-feedback, delay compensated: the chip's spike counts are the simulation's. Per inference (784 steps, "
        "batch 1), on the first test images (784-step emulation is slow); seed 0's accuracy on all of them is in "
        "the pixel-wise section.", "", *benchmark_table(found), *provenance(found)]
