"""The Loihi sections: energy per inference and at the paper's accuracy, and the accuracy cost
of the chip's own neuron semantics (loihi_sim benchmarks of the row-wise model)."""
from pathlib import Path

from loihi_sim.hardware import PRESETS

from .. import grid, paper
from .figures import energy_figure, semantics_figure
from .logs import headline_results, loihi_results, paper_semantics_run, pixelwise_chip_results, seq_runs
from .markdown import NOT_RECORDED, as_command, code_block, minutes, table
from .stats import EQUAL_ACCURACY_POINTS, Stats


def smallest_t_at(data: dict, target: float):
    """The benchmark entry with the smallest T whose chip accuracy reaches target, or None."""
    good = [e for e in data["results"] if e["chip_accuracy"] >= target]
    return min(good, key=lambda e: e["n_timestep"]) if good else None


def equal_accuracy_section(root: Path, figures: Path, benchmarks: dict) -> list:
    """Per chip configuration: the smallest T whose accuracy is within 0.5 points of the paper's
    simulation at T = 128, and the CPU / Loihi energy ratio there; accuracy against energy."""
    target = paper.ROWWISE_HYBRID[128] - EQUAL_ACCURACY_POINTS
    lines = ["### Energy at the paper's accuracy", "",
             f"For each configuration, the smallest T whose chip accuracy is at least {target:.2f}% (within "
             f"{EQUAL_ACCURACY_POINTS} point of the paper's simulation at T = 128, {paper.ROWWISE_HYBRID[128]}%), "
             f"and the CPU / Loihi active-energy ratio there, beside the paper's {paper.ENERGY_RATIO_CPU_OVER_LOIHI}x. "
             "Realisable on Loihi 1: `hard`, `hard-independent` and `soft-feedback`; `soft` assumes a reset the chip "
             "does not have.", ""]
    rows = []
    for label, data in benchmarks.items():
        entry = smallest_t_at(data, target)
        tested = max((result["n_timestep"] for result in data.get("results", [])), default=None)
        rows.append([label, data["test_samples"], entry["n_timestep"] if entry else f"none up to T = {tested}",
                     f"{entry['chip_accuracy']:.2f}" if entry else "",
                     f"{entry['loihi']['active_j'] * 1e6:.1f}" if entry else "",
                     f"{entry['energy_ratio_cpu_over_loihi']:.1f}x" if entry else "",
                     f"{paper.ENERGY_RATIO_CPU_OVER_LOIHI}x"])
    lines += [table(["configuration", "images", "smallest T", "chip accuracy %", "Loihi active uJ", "CPU / Loihi",
                     "paper"], rows), ""]
    lines += headline_seeds(root, target)
    figure = figures / "chip_accuracy_vs_energy.png"
    energy_figure(root / figure, benchmarks, target)
    return lines + [f"![accuracy vs energy]({figure.as_posix()})", ""]


def headline_seeds(root: Path, target: float) -> list:
    """The headline configuration (soft-feedback, delay compensated, V0 = theta/2) on every seed's
    model, all test images: the smallest T at the paper's accuracy and the ratio there."""
    runs = headline_results(root)
    if not runs:
        return []
    rows, ratios, accuracies = [], [], []
    for seed, data in runs.items():
        entry = smallest_t_at(data, target)
        if entry:
            ratios.append(entry["energy_ratio_cpu_over_loihi"])
            accuracies.append(entry["chip_accuracy"])
        tested = ", ".join(str(e["n_timestep"]) for e in data["results"])
        rows.append([seed, data["test_samples"], entry["n_timestep"] if entry else f"none of {tested}",
                     f"{entry['chip_accuracy']:.2f}" if entry else "",
                     f"{entry['loihi']['active_j'] * 1e6:.1f}" if entry else "",
                     f"{data['cpu']['active_j'] * 1e6:.0f}",
                     f"{entry['energy_ratio_cpu_over_loihi']:.1f}x" if entry else ""])
    lines = [f"The headline configuration (soft-feedback, delay compensated, V0 = theta/2) on each seed's model, all "
             f"test images, T = {', '.join(map(str, grid.CHIP_HEADLINE_T))}:", "",
             table(["seed", "images", "smallest T", "chip accuracy %", "Loihi active uJ", "CPU active uJ",
                    "CPU / Loihi"], rows), ""]
    if ratios:
        ratio = Stats(ratios)
        lines += [f"Over the {len(ratios)} seed(s) that reach {target:.2f}%: chip accuracy {Stats(accuracies).text()}%, "
                  f"CPU / Loihi {ratio.text()}x, {ratio.mean / paper.ENERGY_RATIO_CPU_OVER_LOIHI:.2f} times the "
                  f"paper's {paper.ENERGY_RATIO_CPU_OVER_LOIHI}x. The CPU side is each run's own batch-1 latency "
                  "measurement on this shared machine, so the ratio varies with it from run to run.", ""]
    return lines


def energy_section(root: Path, figures: Path) -> list:
    benchmarks = loihi_results(root)
    lines = ["## Energy on Loihi (loihi_sim), row-wise model", ""]
    if not benchmarks:
        return lines + ["Missing: run `python -m reproduce.run_grid --only chip`.", ""]
    rows = []
    for reset, data in benchmarks.items():
        for entry in data["results"]:
            loihi = entry["loihi"]
            rows.append([f"{reset}, delay {data['chip']['delay']}", entry["n_timestep"], data["test_samples"],
                         f"{entry['chip_accuracy']:.2f}", entry["cores"], f"{loihi['latency_s'] * 1e3:.2f}",
                         f"{loihi['active_j'] * 1e6:.1f}", f"{data['cpu']['active_j'] * 1e6:.0f}",
                         f"{entry['energy_ratio_cpu_over_loihi']:.1f}x", f"{paper.ENERGY_RATIO_CPU_OVER_LOIHI}x"])
    lines += ["Per inference (one 28-step sequence, batch 1). Active energy = above the chip's idle power "
              "(the paper's measure); the CPU baseline runs the same ANN with torch, batch 1.", "",
              table(["chip configuration", "T", "images", "chip accuracy %", "cores", "Loihi ms", "Loihi active uJ",
                     "CPU active uJ", "CPU / Loihi", "paper"], rows), ""]
    lines += equal_accuracy_section(root, figures, benchmarks)
    data = next(iter(benchmarks.values()))
    costs = PRESETS[data["chip"]["preset"]]
    assumptions = data["assumptions"]
    lines += [
        "Assumptions (from the benchmark JSON and `loihi_sim/hardware.py`):", "",
        f"- energy and time per event: preset `{costs.name}`: synaptic op {costs.synaptic_op_pj} pJ / "
        f"{costs.synaptic_op_ns} ns, active compartment update {costs.update_active_pj} pJ / "
        f"{costs.update_active_ns} ns, inactive {costs.update_inactive_pj} pJ / {costs.update_inactive_ns} ns, "
        f"spike out {costs.spike_out_pj} pJ, hop {costs.hop_east_west_pj} / {costs.hop_north_south_pj} pJ "
        f"(east-west / north-south), barrier {costs.barrier_ns_one_tile} ns per time-step on one tile;",
        f"- the embedded x86 host (encoding, the analog LSTM part, the classifier): {assumptions['host_power_w']} W "
        f"at {assumptions['host_ops_per_second']:g} simple operations per second;",
        f"- synaptic memory: {assumptions['synaptic_memory']};",
        f"- CPU: batch-1 latency measured here ({data['cpu']['latency_s'] * 1e3:.3f} ms per sequence), energy "
        f"{data['cpu']['energy_source']}; the paper measured an Intel i7-6700.",
        "- `soft` rows assume the chip could run the paper's soft reset at the cost of a hard-reset compartment "
        "(it cannot); `soft-feedback` rows realise it with an integrator and a spiking compartment per neuron and a "
        "-threshold feedback synapse, and count their extra compartments, synaptic operations and messages "
        "(`loihi_sim/mapping.py`).", "",
        ratio_trend(benchmarks), "",
        "Commands:", "", code_block([as_command(d["command"]) for d in benchmarks.values()]), "",
        "Hardware: " + "; ".join(f"{reset}: {d.get('host', NOT_RECORDED)} ({d['torch_threads']} torch "
                                 f"thread{'s' if d['torch_threads'] > 1 else ''})" for reset, d in benchmarks.items())
        + ". Wall time (emulation, all T): " + "; ".join(
            f"{reset} {minutes(sum(e['wall_time_s']['chip'] for e in d['results']))} for {d['test_samples']} "
            "images" for reset, d in benchmarks.items()) + ".", ""]
    return lines


def ratio_trend(benchmarks: dict) -> str:
    """Whether the CPU / Loihi ratio falls with T in every configuration, and why."""
    falling = [label for label, data in benchmarks.items()
               if all(a["energy_ratio_cpu_over_loihi"] > b["energy_ratio_cpu_over_loihi"]
                      for a, b in zip(*[sorted(data["results"], key=lambda e: e["n_timestep"])[i:] for i in (0, 1)]))]
    if len(falling) == len(benchmarks):
        return ("The ratio falls as T grows in every configuration: Loihi's energy grows linearly with the number "
                "of SNN steps per LSTM step, the CPU's does not depend on T; the paper's single "
                f"{paper.ENERGY_RATIO_CPU_OVER_LOIHI}x figure does not state its T.")
    rising = [label for label in benchmarks if label not in falling]
    return f"The ratio does not fall monotonically with T for: {', '.join(rising)}."


def chip_semantics_section(root: Path, figures: Path, rowwise: dict) -> list:
    lines = ["## Beyond the paper: the accuracy cost of the chip's own semantics (row-wise)", "",
             "The paper's simulation uses soft reset (subtract the threshold) and delivers spikes in the same "
             "time-step; Loihi's compartments reset to 0 and deliver one time-step later. Columns: accuracy (%) "
             "of the same converted model under each semantics; delay 0 from hybrid_lstm (`run_seqmnist.py "
             "--reset`), delay 1 from loihi_sim's bit-accurate emulation, each beside the paper's semantics "
             "on the same images.", ""]
    modified = rowwise.get("ModifiedLSTMCell", [])
    chip = loihi_results(root)
    rows, curves = [], {}
    for n_timestep in grid.ROWWISE_T:
        soft = [run.hybrid()[n_timestep]["accuracy"] for run in modified if n_timestep in run.hybrid()]
        hard = [run.hybrid("hard")[n_timestep]["accuracy"] for run in modified if n_timestep in run.hybrid("hard")]
        row = [n_timestep, Stats(soft).text() if soft else "missing", Stats(hard).text() if hard else "missing"]
        if soft:
            curves.setdefault("soft reset, delay 0 (paper)", []).append((n_timestep, Stats(soft).mean))
        if hard:
            curves.setdefault("hard reset, delay 0", []).append((n_timestep, Stats(hard).mean))
        for reset in ("soft", "hard"):
            data = paper_semantics_run(chip, reset)
            entry = next((e for e in (data or {}).get("results", []) if e["n_timestep"] == n_timestep), None)
            if entry:
                images = data["test_samples"]
                row.append(f"{entry['chip_accuracy']:.2f} (paper's: {entry['hybrid_accuracy']:.2f}; {images} images)")
                curves.setdefault(f"{reset} reset, delay 1 (seed {grid.CHIP_SEED}, {images} images)", []).append(
                    (n_timestep, entry["chip_accuracy"]))
            else:
                row.append("missing")
        rows.append(row)
    seeds = len(modified)
    lines += [table(["T", f"soft, delay 0 (paper; {seeds} seeds, 10,000 images)",
                     f"hard, delay 0 ({seeds} seeds, 10,000 images)",
                     f"soft, delay 1 (seed {grid.CHIP_SEED})", f"hard, delay 1 (Loihi; seed {grid.CHIP_SEED})"], rows), ""]
    if curves:
        figure = figures / "chip_semantics_accuracy_vs_T.png"
        semantics_figure(root / figure, curves)
        lines += [f"![accuracy vs T per chip semantics]({figure.as_posix()})", ""]
    hard = [accuracy for label, points in curves.items() if label.startswith("hard") for _, accuracy in points]
    outcome = (f"the converted network scores {min(hard):.2f} to {max(hard):.2f}% at T = 16 ... 128"
               if hard else "the network's accuracy collapses")
    lines += [
        "Reading: the hard reset throws away the charge above threshold at every spike, so a neuron driven by "
        "I > 0 per step fires once every floor(threshold / I) + 1 steps instead of at rate I / threshold (I = "
        "threshold / 2 gives 1/3 instead of 1/2): every gate and every encoder rate is biased low, the bias does "
        f"not shrink with T, and {outcome}. The one-step delay only shifts each LSTM step's input spikes by "
        "one SNN step (the last step's spikes are lost), an error of order 1/T. On the chip the paper's "
        "accuracy therefore needs the soft reset realised, not the default compartment: `soft-feedback` "
        "(`loihi_sim/mapping.py`) does it with an integrator compartment, a spiking compartment and a "
        "-threshold feedback synapse per neuron, with the same spike counts as the soft reset and the costs "
        "shown in the energy section.", ""]
    return lines


def pixelwise_energy_section(root: Path) -> list:
    """Beyond the paper: the pixel-wise model on the chip, V0 = theta / 2 at low T against the paper's
    neurons at its T = 1024, each beside the simulation's accuracy on all test images."""
    potentials = {"half": "theta / 2", "one": "1 (paper)"}
    lines = ["## Beyond the paper: energy on Loihi, pixel-wise model", "",
             "The paper estimates Loihi's energy for the row-wise model only. Here the pixel-wise model (seed 0) runs "
             "on the emulated chip with the soft reset realised (`soft-feedback`) and the one-step synaptic delay "
             "compensated, so its spike counts are those of the paper's simulation: its accuracy is the simulation's "
             "on all 10,000 test images (the pixel-wise section). A 784-step emulation is slow, so each configuration "
             "runs on the first test images only, which is enough for the energy per inference; the chip's accuracy "
             "on those images is shown as a check that it equals the simulation's.", ""]
    benchmarks = pixelwise_chip_results(root)
    if not benchmarks:
        return lines + ["Missing: run `python -m reproduce.run_grid --runs chip-pixelwise-seed0`.", ""]
    runs = seq_runs(root, "pixelwise", "ModifiedLSTMCell", (0,), grid.PIXELWISE_EPOCHS)
    rows, energies = [], {}
    for potential, data in benchmarks.items():
        simulated = runs[0].hybrid(initial_potential=potential) if runs else {}
        for entry in data["results"]:
            t = entry["n_timestep"]
            accuracy = simulated[t]["accuracy"] if t in simulated else None
            energies[potential, t] = (entry["loihi"]["active_j"], accuracy)
            rows.append([potentials[potential], t, f"{accuracy:.2f}" if accuracy is not None else "missing",
                         data["test_samples"], f"{entry['chip_accuracy']:.2f}",
                         "yes" if entry["chip_accuracy"] == entry["hybrid_accuracy"] else "**no**",
                         f"{entry['loihi']['latency_s'] * 1e3:.1f}", f"{data['cpu']['latency_s'] * 1e3:.1f}",
                         f"{entry['loihi']['active_j'] * 1e6:.1f}", f"{data['cpu']['active_j'] * 1e6:.0f}",
                         f"{entry['energy_ratio_cpu_over_loihi']:.1f}x"])
    lines += [table(["V0", "T", "simulation accuracy % (10,000 images)", "images emulated", "chip accuracy % on them",
                     "chip = simulation", "Loihi ms", "CPU ms", "Loihi active uJ", "CPU active uJ", "CPU / Loihi"], rows),
              "", "Per inference (one 784-step sequence, batch 1); the CPU runs the ANN with torch. Every SNN step is a "
              "chip time-step, so Loihi's latency grows with 784 x (T + 1) steps.", ""]
    paper_t = max(paper.PIXELWISE_HYBRID)
    reference = energies.get(("one", paper_t))
    matching = sorted(t for (potential, t), (_, accuracy) in energies.items()
                      if potential == "half" and reference and None not in (accuracy, reference[1])
                      and accuracy >= reference[1])
    if matching:
        t = matching[0]
        energy, accuracy = energies["half", t]
        lines += [f"With V0 = theta / 2 the model reaches the accuracy of the paper's neurons at T = {paper_t} "
                  f"({reference[1]:.2f}%) at T = {t} ({accuracy:.2f}%), on {reference[0] / energy:.1f} times less "
                  "Loihi active energy per inference.", ""]
    cpu_ms = sorted(data["cpu"]["latency_s"] * 1e3 for data in benchmarks.values())
    if cpu_ms[-1] > 1.1 * cpu_ms[0]:
        lines += [f"The CPU's batch-1 latency is measured by each benchmark on a shared machine ({cpu_ms[0]:.1f} to "
                  f"{cpu_ms[-1]:.1f} ms here), so compare the configurations by Loihi's energy, which the emulation "
                  "determines exactly.", ""]
    lines += ["Commands:", "", code_block([as_command(d["command"]) for d in benchmarks.values()]), "",
              "Hardware: " + "; ".join(f"V0 = {potentials[p]}: {d.get('host', NOT_RECORDED)}"
                                       for p, d in benchmarks.items())
              + ". Wall time (emulation): " + "; ".join(
                  f"V0 = {potentials[p]} {minutes(sum(e['wall_time_s']['chip'] for e in d['results']))} for "
                  f"{d['test_samples']} images" for p, d in benchmarks.items()) + ".", ""]
    return lines
