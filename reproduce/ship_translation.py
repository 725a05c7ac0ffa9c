"""Write a trained translation model in the form the repository ships: a fairseq model folder.

    python -m reproduce.ship_translation --checkpoint DIR/checkpoint_best_modified.pt \
        --data data/debian.tokenized.de-en --output runs/translation/debian-modified-seed1

FOLDER gets, as fairseq's published models do:
- model.pt: the checkpoint's configuration and weights, without the optimizer state.
  Floating-point tensors are stored as float16, integer tensors (a converted model's
  integer weights and biases) as int16, after checking that every integer fits; fairseq
  casts them back to the model's float32 / int32 on loading. The BLEU the repository
  reports is measured on this file (`bleu_vs_timesteps.py --converted FOLDER/model.pt`),
  so the shipped model reproduces it exactly. `torch.load(..., weights_only=True)` reads it.
- dict.de.txt, dict.en.txt: the fairseq dictionaries; bpecodes: the BPE merges
  (subword-nmt), so that new German text can be tokenised as the training text was;
- test-first100.de, test-first100.en: the first SUBSET_SENTENCES (100) sentences of the
  test split after BPE, whose BLEU bleu_vs_timesteps.py records alone, so that a fresh
  clone checks the shipped model on them (tests/test_shipped_translation.py).

    fairseq-generate BIN --path FOLDER/model.pt --user-dir fairseq_custom_modules --beam 5 --remove-bpe
"""
import argparse
import shutil
import sys
from pathlib import Path

import torch

from bleu_vs_timesteps import SUBSET_SENTENCES
from hybrid_lstm.runs.cli import OneLineParser
from hybrid_lstm.runs.files import RunError, save_atomic

PROG = "python -m reproduce.ship_translation"
MODEL = "model.pt"
LANGUAGES = ("de", "en")


def subset_prefix(folder: Path) -> Path:
    """FOLDER/test-first100: the prefix of the shipped test sentences (fairseq-preprocess --testpref)."""
    return Path(folder) / f"test-first{SUBSET_SENTENCES}"


def compact_tensor(name: str, tensor: torch.Tensor) -> torch.Tensor:
    """float16 for floating point, int16 for integers; refuses a value that would not survive."""
    if tensor.is_floating_point():
        if not torch.isfinite(tensor).all() or tensor.abs().max() > torch.finfo(torch.float16).max:
            raise RunError(f"{name}: values beyond float16's range")
        return tensor.to(torch.float16)
    limits = torch.iinfo(torch.int16)
    if tensor.numel() and (tensor.min() < limits.min or tensor.max() > limits.max):
        raise RunError(f"{name}: integers beyond int16's range")
    return tensor.to(torch.int16)


def plain(value):
    """value with every argparse.Namespace (the optimizer's and scheduler's options) a dict, so that
    the weights-only loader reads it."""
    if isinstance(value, argparse.Namespace):
        value = vars(value)
    if isinstance(value, dict):
        return {key: plain(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(plain(item) for item in value)
    return value


def compact_checkpoint(checkpoint: dict) -> dict:
    """What fairseq-generate reads of a checkpoint (configuration, weights, the training's
    bookkeeping as plain values), with the weights in compact_tensor's widths."""
    from omegaconf import DictConfig, OmegaConf

    cfg = checkpoint["cfg"]
    if isinstance(cfg, DictConfig):
        cfg = OmegaConf.to_container(cfg, resolve=True, enum_to_str=True)
    history = checkpoint["optimizer_history"][-1]
    return {
        "cfg": plain(cfg),
        "model": {name: compact_tensor(name, tensor) for name, tensor in checkpoint["model"].items()},
        "optimizer_history": [{key: history[key] for key in ("criterion_name", "optimizer_name", "num_updates")}
                              | {"lr_scheduler_state": {}}],
        "extra_state": {"train_iterator": {"epoch": checkpoint["extra_state"]["train_iterator"]["epoch"]}},
    }


def ship(checkpoint_path: Path, data: Path, folder: Path) -> list:
    """Write FOLDER (see the module's docstring); returns one line per file written."""
    binary, bpe = data / "bin", data / "bpe"
    sources = [binary / f"dict.{lang}.txt" for lang in LANGUAGES] + [data / "code"]
    sources += [bpe / f"test.{lang}" for lang in LANGUAGES]
    missing = [str(path) for path in [checkpoint_path, *sources] if not path.is_file()]
    if missing:
        raise RunError(f"missing {', '.join(missing)} (train the model, and run prepare_deen.py for --data)")
    from fairseq import checkpoint_utils

    try:
        checkpoint = checkpoint_utils.load_checkpoint_to_cpu(str(checkpoint_path))
    except Exception as error:
        raise RunError(f"cannot read {checkpoint_path}: not a fairseq checkpoint ({type(error).__name__})")
    compact = compact_checkpoint(checkpoint)
    folder.mkdir(parents=True, exist_ok=True)
    written = [folder / MODEL]
    save_atomic(compact, written[0])
    for lang in LANGUAGES:
        written.append(folder / f"dict.{lang}.txt")
        shutil.copyfile(binary / f"dict.{lang}.txt", written[-1])
        written.append(subset_prefix(folder).with_suffix(f".{lang}"))
        lines = (bpe / f"test.{lang}").read_text().splitlines(keepends=True)[:SUBSET_SENTENCES]
        written[-1].write_text("".join(lines))
    written.append(folder / "bpecodes")
    shutil.copyfile(data / "code", written[-1])
    return [f"wrote {path} ({path.stat().st_size / 1e6:.2f} MB)" for path in written]


def main(argv=None) -> int:
    parser = OneLineParser(prog=PROG, description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--checkpoint", required=True, help="fairseq checkpoint (trained, or converted)")
    parser.add_argument("--data", required=True, help="prepare_deen.py's --out folder of the model's corpus")
    parser.add_argument("--output", required=True, help="the model folder to write")
    args = parser.parse_args(argv)
    try:
        lines = ship(Path(args.checkpoint), Path(args.data), Path(args.output))
    except RunError as error:
        print(f"{PROG}: error: {error}", file=sys.stderr)
        return 2
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
