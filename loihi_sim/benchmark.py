"""Benchmark a trained row- or pixel-wise ModifiedLSTMCell on the emulated Loihi.

    python -m loihi_sim.benchmark --checkpoint-dir DIR --n-timestep 16 32 64 128 [--test-subset N]

Per T it prints and writes to JSON: the ANN accuracy, the hybrid accuracy of the paper's
simulation (hybrid_lstm: soft reset, no synaptic delay), the accuracy on the emulated chip
with its own reset and delay (hard, 1 step by default), cores and chips used, latency and
energy per inference on Loihi (dynamic and static apart), the CPU's batch-1 latency and
active energy, and the active-energy ratio CPU / Loihi beside the paper's 55.9x.
"""
import argparse
import math
import shlex
import sys
from pathlib import Path

import torch
from torch import nn

from hybrid_lstm.snn.conversion import convert_cell
from hybrid_lstm.snn.neurons import DEFAULT_INITIAL_POTENTIAL
from hybrid_lstm.runs.cli import INITIAL_POTENTIAL_HELP, exit_status, initial_potential, positive_int
from hybrid_lstm.runs.data import load_sequences
from hybrid_lstm.runs.files import RunError, check_output_path, format_table
from hybrid_lstm.runs.evaluation import evaluate, timed
from hybrid_lstm.runs.host import host_description
from hybrid_lstm.runs.run_folder import RunFolder, file_sha256
from hybrid_lstm.runs.records import ChipBenchmark, ChipResult, ChipSettings
from hybrid_lstm.runs.sweep import ResumableSweep

from .compartment import OverflowMonitor
from .emulator import DELAYS, EmulatedHybridCell, EventCounts
from .energy import (
    CPU_ACTIVE_POWER_W, HOST_OPS_PER_S, HOST_POWER_W, PAPER_ENERGY_RATIO, DeviceCost, ann_cost, as_dict, loihi_cost,
)
from .hardware import PRESETS, CoreLimits
from .mapping import CHIP_RESETS, HybridLayerNetwork, MappingError, allocate

PROG = "python -m loihi_sim.benchmark"


def parse_args(argv=None):
    parser = argparse.ArgumentParser(prog=PROG, description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--checkpoint-dir", required=True, help="a run_seqmnist.py run folder (checkpoint_best.pt)")
    parser.add_argument("--input-size", type=positive_int, help="checked against the checkpoint (default: its own)")
    parser.add_argument("--data-dir", default="data", help="MNIST root (default %(default)s)")
    parser.add_argument("--n-timestep", type=positive_int, nargs="+", default=[16, 32, 64, 128], metavar="T")
    parser.add_argument("--test-subset", type=positive_int, help="the first N test images only (quick runs)")
    parser.add_argument("--reset", choices=CHIP_RESETS, default="hard",
                        help="chip reset realisation (loihi_sim/mapping.py; default %(default)s: Loihi's)")
    parser.add_argument("--compensate-delay", action="store_true",
                        help="with --delay 1: run T + 1 steps, gates starting at V0 - bias, so that the chip's spike "
                             "counts equal the paper's simulation (loihi_sim/emulator.py)")
    parser.add_argument("--initial-potential", type=initial_potential, default=DEFAULT_INITIAL_POTENTIAL,
                        help=INITIAL_POTENTIAL_HELP + "; default %(default)s")
    parser.add_argument("--delay", type=int, choices=DELAYS, default=1,
                        help="synaptic delay in time-steps (default %(default)s: Loihi's)")
    parser.add_argument("--preset", choices=sorted(PRESETS), default="davies2018", help="energy/time per event table")
    parser.add_argument("--overflow", choices=("count", "strict"), default="count",
                        help="fixed-point overflows: count and report (default) or raise")
    parser.add_argument("--cpu-sequences", type=positive_int, default=100,
                        help="test sequences timed one by one for the CPU baseline (default %(default)s)")
    parser.add_argument("--cpu-active-power-w", type=float, default=CPU_ACTIVE_POWER_W,
                        help="CPU active power when RAPL is unavailable (default %(default)g W: i7-6700 TDP / 4 cores)")
    parser.add_argument("--host-power-w", type=float, default=HOST_POWER_W,
                        help="embedded x86 dynamic power (default %(default)g W, NxSDK sMNIST figure)")
    parser.add_argument("--host-ops-per-second", type=float, default=HOST_OPS_PER_S,
                        help="embedded x86 simple operations per second (default %(default)g, an assumption)")
    parser.add_argument("--batch-size", type=positive_int, default=128, help="emulation batch (default %(default)s)")
    parser.add_argument("--threads", type=positive_int, help="torch CPU threads (default: torch's choice)")
    parser.add_argument("--output", help="JSON path (default: DIR/loihi_benchmark[_RESET_delayD].json)")
    args = parser.parse_args(argv)
    args.command = shlex.join([*PROG.split(), *(sys.argv[1:] if argv is None else argv)])
    return args


def emulated_model(model: nn.Module, n_timestep: int, args) -> nn.Module:
    return model.with_cells(lambda cell: EmulatedHybridCell(cell, n_timestep, args.reset, args.delay, args.overflow,
                                                            CoreLimits(), PRESETS[args.preset], args.initial_potential,
                                                            args.compensate_delay))


def run(args, output: Path):
    """Write the benchmark's record to output. A ResumableSweep over T: a rerun with the same
    checkpoint, data and chip settings resumes after the last finished T (with the ANN's accuracy
    and the CPU baseline measured the first time)."""
    folder = RunFolder(args.checkpoint_dir)
    path = folder.best
    checkpoint = folder.load_best()
    config = checkpoint.config
    if config["lstm_cell_class"] != "ModifiedLSTMCell":
        raise RunError(f"{path} holds a {config['lstm_cell_class']}; only a ModifiedLSTMCell converts to the hybrid")
    if args.input_size is not None and args.input_size != config["input_size"]:
        raise RunError(f"the checkpoint was trained with --input-size {config['input_size']}, not {args.input_size}")
    model = checkpoint.classifier().eval()
    try:  # a layer that does not fit the chip is refused before any compute
        for cell in model.cells:
            allocate(HybridLayerNetwork.from_converted(convert_cell(cell), cell.input_size, OverflowMonitor()),
                     CoreLimits(), args.reset)
    except MappingError as error:
        raise RunError(f"{path} does not fit Loihi: {error}")
    inputs, labels = load_sequences(args.data_dir, config, False, args.test_subset)
    chip_settings = {"reset": args.reset, "delay": args.delay, "preset": args.preset, "overflow": args.overflow,
                     "initial_potential": args.initial_potential, "compensate_delay": args.compensate_delay}
    assumptions = {"host_power_w": args.host_power_w, "host_ops_per_second": args.host_ops_per_second,
                   "cpu_active_power_w": args.cpu_active_power_w,
                   "synaptic_memory": "dense, 8-bit weights packed in 64-bit words, no header"}
    settings = {"checkpoint_sha256": file_sha256(path), "config": config, "test_samples": len(inputs),
                "chip": chip_settings, "assumptions": assumptions, "cpu_sequences": args.cpu_sequences}
    sweep = ResumableSweep(output, settings, "n_timestep")
    if sweep.resumed():
        print(sweep.resumed(), flush=True)
    ann_accuracy = sweep.compute_once("ann_accuracy", lambda: timed(evaluate, model, inputs, labels, args.batch_size,
                                                                     "ANN")[0])
    cpu = DeviceCost(**sweep.compute_once(
        "cpu", lambda: as_dict(ann_cost(model, inputs[: args.cpu_sequences], "cpu", active_power_w=args.cpu_active_power_w))))
    print(f"ANN accuracy {ann_accuracy:.2f}% on {len(inputs)} test images; CPU batch-1 latency "
          f"{cpu.latency_s * 1e3:.3f} ms, active energy {cpu.active_j * 1e3:.3f} mJ ({cpu.energy_source})", flush=True)
    costs = PRESETS[args.preset]

    def benchmark(n_timestep: int) -> dict:
        hybrid = model.to_hybrid(n_timestep, initial_potential=args.initial_potential)
        hybrid_accuracy, hybrid_s = timed(evaluate, hybrid, inputs, labels, args.batch_size,
                                          f"hybrid T={n_timestep}")
        chip = emulated_model(model, n_timestep, args)
        chip_accuracy, chip_s = timed(evaluate, chip, inputs, labels, args.batch_size, f"Loihi T={n_timestep}")
        events = EventCounts()
        for cell in chip.cells:
            events.merge(cell.emulator.events)
        events.host_flops += len(inputs) * 2 * chip.classifier.in_features * chip.classifier.out_features
        cores = sum(len(cell.allocation.cores) for cell in chip.cells)
        limits = CoreLimits()
        chips, tiles = -(-cores // limits.cores_per_chip), -(-cores // limits.cores_per_tile)
        loihi = loihi_cost(events, len(inputs), costs, tiles, chips, args.host_power_w, args.host_ops_per_second)
        return {
            "n_timestep": n_timestep, "hybrid_accuracy": hybrid_accuracy, "chip_accuracy": chip_accuracy,
            "cores": cores, "chips": chips, "loihi": as_dict(loihi),
            "energy_ratio_cpu_over_loihi": cpu.active_j / loihi.active_j,
            "events_per_inference": {k: (v / len(inputs) if not isinstance(v, dict) else v)
                                     for k, v in vars(events).items()},
            "wall_time_s": {"hybrid": hybrid_s, "chip": chip_s},
        }

    for n_timestep, result in sweep.run(args.n_timestep, benchmark):
        loihi, overflows = result["loihi"], result["events_per_inference"]["overflows"]
        print(f"T={n_timestep}: hybrid {result['hybrid_accuracy']:.2f}%, chip {result['chip_accuracy']:.2f}%, "
              f"{result['cores']} cores, Loihi {loihi['latency_s'] * 1e3:.3f} ms / {loihi['active_j'] * 1e6:.1f} uJ "
              f"active, CPU/Loihi {result['energy_ratio_cpu_over_loihi']:.1f}x"
              + (f"; overflows {overflows}" if overflows else ""), flush=True)
    results = sweep.results

    rows = [[r["n_timestep"], f"{ann_accuracy:.2f}", f"{r['hybrid_accuracy']:.2f}", f"{r['chip_accuracy']:.2f}",
             r["cores"], f"{r['loihi']['latency_s'] * 1e3:.3f}", f"{r['loihi']['active_j'] * 1e6:.1f}",
             f"{r['loihi']['static_j'] * 1e6:.1f}", f"{cpu.latency_s * 1e3:.3f}", f"{cpu.active_j * 1e6:.1f}",
             f"{r['energy_ratio_cpu_over_loihi']:.1f}x", f"{PAPER_ENERGY_RATIO}x"] for r in results]
    print(format_table(["T", "ANN %", "hybrid %", "chip %", "cores", "Loihi ms", "Loihi uJ", "static uJ",
                        "CPU ms", "CPU uJ", "CPU/Loihi", "paper"], rows))
    print(f"(chip: {args.reset} reset, delay {args.delay}{' compensated' if args.compensate_delay else ''}, "
          f"initial potential {args.initial_potential}; "
          "energies per inference, active = above idle; "
          f"preset {args.preset}; host {args.host_power_w:g} W at {args.host_ops_per_second:g} ops/s assumed; "
          f"CPU energy {cpu.energy_source})")
    sweep.finish(ChipBenchmark(
        command=args.command, checkpoint=str(path), config=config, test_samples=len(inputs),
        chip=ChipSettings(**chip_settings), event_costs=as_dict(costs), assumptions=assumptions,
        ann_accuracy=ann_accuracy, cpu=as_dict(cpu), paper_energy_ratio=PAPER_ENERGY_RATIO,
        torch_threads=torch.get_num_threads(), host=host_description(),
        results=tuple(ChipResult(**result) for result in results)))


def check_settings(args) -> Path:
    """The assumptions' values and the output path, before any compute; returns the output path."""
    if args.compensate_delay and args.delay != 1:
        raise RunError("--compensate-delay needs --delay 1")
    for flag, value, allow_zero in (("--host-ops-per-second", args.host_ops_per_second, False),
                                    ("--cpu-active-power-w", args.cpu_active_power_w, False),
                                    ("--host-power-w", args.host_power_w, True)):
        if not math.isfinite(value) or value < 0 or (value == 0 and not allow_zero):
            raise RunError(f"{flag} must be a {'non-negative' if allow_zero else 'positive'} number, got {value:g}")
    output = Path(args.output) if args.output else \
        RunFolder(args.checkpoint_dir).chip_results(args.reset, args.delay, args.compensate_delay, args.initial_potential)
    return check_output_path(output, inputs=(RunFolder(args.checkpoint_dir).best,))


def main(argv=None) -> int:
    args = parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)

    def work():
        output = check_settings(args)
        run(args, output)
        print(f"wrote {output}")

    return exit_status(PROG, work, "after the last finished T")


if __name__ == "__main__":
    sys.exit(main())
