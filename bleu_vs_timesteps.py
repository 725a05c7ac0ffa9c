"""BLEU of the hybrid translation model against its number of SNN time-steps T.

    python bleu_vs_timesteps.py --data DATA/bin --converted DIR/checkpoint_best_modified.pt \
        --default-checkpoint DIR_DEFAULT/checkpoint_best.pt [--n-timestep 32 64 96 128 192 256] \
        --output runs/translation/bleu_vs_t.json

Runs fairseq-generate --beam 5 --remove-bpe on the test set for: the ANN of --cell-type
default, the ANN of --cell-type modified (the converted checkpoint without overrides), and
the hybrid at each T (--model-overrides "{'hybrid_timesteps': T}", with every IF potential
starting at --initial-potential: 1, the paper's, or theta / 2). Reports fairseq's
tokenised BLEU4 (the paper's metric) and sacrebleu's BLEU computed from the same tokenised,
lowercased hypotheses and references (so not a detokenised sacrebleu score), over all
sentences and over the first SUBSET_SENTENCES alone. Writes the
table and every command to JSON; prints a table. An interrupted run keeps the models it has
finished in OUTPUT.partial.json, and rerunning the same command (same data, checkpoints and
neurons) resumes after them.
"""
import argparse
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import sacrebleu

from hybrid_lstm.runs.cli import INITIAL_POTENTIAL_HELP, OneLineParser, exit_status, initial_potential, positive_int
from hybrid_lstm.runs.files import RunError, check_output_path
from hybrid_lstm.runs.host import host_description
from hybrid_lstm.runs.run_folder import file_sha256
from hybrid_lstm.runs.records import Bleu, BleuCurve
from hybrid_lstm.runs.sweep import ResumableSweep
from hybrid_lstm.snn.neurons import DEFAULT_INITIAL_POTENTIAL

REPO = Path(__file__).resolve().parent
PLUGIN = REPO / "fairseq_custom_modules"
SUBSET_SENTENCES = 100  # the first test sentences, whose BLEU is also recorded alone


def torch_cuda_unavailable() -> bool:
    import torch

    return not torch.cuda.is_available()


def generate(data: str, checkpoint: str, overrides: str, threads: int):
    command = [sys.executable, "-m", "fairseq_cli.generate", data, "--beam", "5", "--remove-bpe", "--user-dir",
               str(PLUGIN), "--path", checkpoint, "--gen-subset", "test", "--batch-size", "64"]
    if torch_cuda_unavailable():
        command.append("--cpu")
    if overrides:
        command += ["--model-overrides", overrides]
    start = time.perf_counter()
    result = subprocess.run(command, capture_output=True, text=True, env=dict(os.environ, OMP_NUM_THREADS=str(threads)))
    if result.returncode != 0:
        last = (result.stderr.strip().splitlines() or ["(no output)"])[-1]
        raise RunError(f"fairseq-generate failed on {checkpoint}: {last}")
    seconds = time.perf_counter() - start
    hypotheses, references = {}, {}
    for line in result.stdout.splitlines():
        fields = line.split("\t")
        if line.startswith("H-"):
            hypotheses[fields[0][2:]] = fields[2]
        elif line.startswith("T-"):
            references[fields[0][2:]] = fields[1]
    match = re.search(r"BLEU4 = ([0-9.]+)", result.stdout + result.stderr)
    keys = sorted(hypotheses, key=int)
    subset = [key for key in keys if int(key) < SUBSET_SENTENCES]
    return {"fairseq_bleu4": float(match.group(1)), "sacrebleu": corpus_sacrebleu(hypotheses, references, keys),
            "sentences": len(keys), "seconds": round(seconds, 1), "command": " ".join(command[2:]),
            "subset_sentences": len(subset), "subset_sacrebleu": corpus_sacrebleu(hypotheses, references, subset)}


def corpus_sacrebleu(hypotheses: dict, references: dict, keys: list) -> float:
    """sacrebleu over the sentences `keys` (already tokenised and lowercased), to 2 decimals."""
    return round(sacrebleu.corpus_bleu([hypotheses[k] for k in keys], [[references[k] for k in keys]],
                                       force=True).score, 2)


PROG = "bleu_vs_timesteps.py"


def check_inputs(args):
    """The data folder, the checkpoints and the output path, before the first translation."""
    data = Path(args.data)
    missing = [name for name in ("dict.de.txt", "dict.en.txt") if not (data / name).is_file()]
    if not data.is_dir() or missing or not list(data.glob("test.*.bin")):
        raise RunError(f"--data {data} is not a fairseq-preprocess output folder (dictionaries and a test split)")
    for flag, path in (("--converted", args.converted), ("--default-checkpoint", args.default_checkpoint)):
        if path is not None and not Path(path).is_file():
            raise RunError(f"{flag} {path}: no such checkpoint file")
    check_output_path(args.output, inputs=(args.converted, args.default_checkpoint))


def main(argv=None) -> int:
    parser = OneLineParser(prog=PROG, description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", required=True, help="fairseq-preprocess output (bin folder)")
    parser.add_argument("--converted", required=True, help="modify_checkpoint_iwslt.py output (--cell-type modified)")
    parser.add_argument("--default-checkpoint", help="checkpoint of --cell-type default, for its ANN BLEU")
    parser.add_argument("--n-timestep", type=positive_int, nargs="+", default=[32, 64, 96, 128, 192, 256])
    parser.add_argument("--initial-potential", type=initial_potential, default=DEFAULT_INITIAL_POTENTIAL,
                        help=INITIAL_POTENTIAL_HELP + "; default %(default)s")
    parser.add_argument("--threads", type=positive_int, default=2, help="CPU threads per fairseq-generate")
    parser.add_argument("--output", required=True, help="JSON results path (its folder must exist)")
    args = parser.parse_args(argv)

    def work():
        check_inputs(args)
        translate_all(args, argv)

    return exit_status(PROG, work, "after the last finished model")


def translate_all(args, argv):
    """Each ANN, then the hybrid at each T; the sweep's items are their labels (records.Bleu.label)."""
    runs = [("default", None, args.default_checkpoint)] if args.default_checkpoint else []
    runs += [("modified", None, args.converted)] + [("modified", t, args.converted) for t in args.n_timestep]
    by_label = {Bleu.label_of(cell, t): (cell, t, checkpoint) for cell, t, checkpoint in runs}
    settings = {"data": str(Path(args.data).resolve()), "initial_potential": args.initial_potential,
                **{f"{name}_sha256": file_sha256(path) for name, path in
                   (("converted", args.converted), ("default", args.default_checkpoint)) if path}}
    sweep = ResumableSweep(Path(args.output), settings, "label")
    if sweep.resumed():
        print(sweep.resumed(), flush=True)

    def translate(label: str) -> dict:
        cell_type, n_timestep, checkpoint = by_label[label]
        potential = DEFAULT_INITIAL_POTENTIAL if n_timestep is None else args.initial_potential
        overrides = "" if n_timestep is None else \
            repr({"hybrid_timesteps": n_timestep, "hybrid_initial_potential": potential})
        return {"label": label, "cell_type": cell_type, "n_timestep": n_timestep, "initial_potential": potential,
                **generate(args.data, checkpoint, overrides, args.threads)}

    for label, result in sweep.run(by_label, translate):
        print(f"{label:26} BLEU4 {result['fairseq_bleu4']:6.2f}  sacrebleu {result['sacrebleu']:6.2f}  "
              f"({result['sentences']} sentences, {result['seconds']} s)", flush=True)
    sweep.finish(BleuCurve(
        command=" ".join(["bleu_vs_timesteps.py", *(sys.argv[1:] if argv is None else argv)]),
        note="BLEU on the corpus in --data; not comparable with IWSLT14 unless --data is IWSLT14",
        host=host_description(threads=args.threads),
        results=tuple(Bleu(**{key: value for key, value in result.items() if key != "label"})
                      for result in sweep.results)))
    print(f"wrote {args.output}")


if __name__ == "__main__":
    sys.exit(main())
