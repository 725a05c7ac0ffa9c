"""python -m loihi_sim.report --checkpoint-dir RUN --n-timestep T: the energy report
(loihi_sim.energy_report.estimate) of a run_seqmnist.py model on its first test images."""
import argparse
import json

import torch

from hybrid_lstm.runs.cli import INITIAL_POTENTIAL_HELP, exit_status, initial_potential, positive_int
from hybrid_lstm.snn.neurons import DEFAULT_INITIAL_POTENTIAL
from hybrid_lstm.runs.data import load_sequences
from hybrid_lstm.runs.files import RunError
from hybrid_lstm.runs.host import host_description
from hybrid_lstm.nn import convert
from hybrid_lstm.runs.run_folder import RunFolder

from .energy_report import ESTIMATE_RESETS, estimate
from .energy import DEVICE_PROFILES
from .hardware import PRESETS


PROG = "python -m loihi_sim.report"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog=PROG, description="Energy and latency per inference on Loihi and on "
                                     "a conventional device of a converted run_seqmnist.py model (loihi_sim/energy_report.py).")
    parser.add_argument("--checkpoint-dir", required=True, help="a run_seqmnist.py run folder (checkpoint_best.pt)")
    parser.add_argument("--n-timestep", type=positive_int, default=32, metavar="T", help="default %(default)s")
    parser.add_argument("--initial-potential", type=initial_potential, default=DEFAULT_INITIAL_POTENTIAL,
                        help=INITIAL_POTENTIAL_HELP + "; default %(default)s")
    parser.add_argument("--reset", choices=ESTIMATE_RESETS, default="soft-feedback",
                        help="chip realisation of the soft reset (default %(default)s: Loihi's own compartments)")
    parser.add_argument("--preset", choices=sorted(PRESETS), default="davies2018", help="energy/time per event table")
    parser.add_argument("--device", choices=("cpu", "cuda"), default="cpu",
                        help="where the ANN is timed (and its energy read, where zeus can): default %(default)s")
    parser.add_argument("--profile", choices=sorted(DEVICE_PROFILES),
                        help="device profile whose power models the ANN's energy where no counter is readable "
                             "(default: i7-6700 on the CPU, a100-pcie on a GPU)")
    parser.add_argument("--data-dir", default="data", help="MNIST root (default %(default)s)")
    parser.add_argument("--test-subset", type=positive_int, default=100, help="test images (default %(default)s)")
    parser.add_argument("--threads", type=positive_int, help="torch CPU threads (default: torch's choice)")
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)

    def work():
        checkpoint = RunFolder(args.checkpoint_dir).load_best()
        if checkpoint.config["lstm_cell_class"] != "ModifiedLSTMCell":
            raise RunError(f"{args.checkpoint_dir} holds a {checkpoint.config['lstm_cell_class']}; only a "
                           "ModifiedLSTMCell converts to the hybrid")
        inputs, _ = load_sequences(args.data_dir, checkpoint.config, False, args.test_subset)
        model = convert(checkpoint.classifier().eval(), args.n_timestep, initial_potential=args.initial_potential)
        try:
            report = estimate(model, inputs, reset=args.reset, preset=args.preset, device=args.device,
                              profile=args.profile)
        except ValueError as error:
            raise RunError(str(error))
        print(json.dumps(report.as_dict(), indent=1) if args.json else
              report.table() + f"\n({len(inputs)} test images, T = {args.n_timestep}, V0 {args.initial_potential}; "
              f"{host_description()})")

    return exit_status(PROG, work, "from the start (it saves nothing)")


if __name__ == "__main__":
    raise SystemExit(main())
