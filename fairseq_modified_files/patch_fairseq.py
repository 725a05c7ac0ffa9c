"""Patch an installed fairseq 0.12.2 so that it runs on Python 3.11 and torch >= 2.6.

    python fairseq_modified_files/patch_fairseq.py          # patch (idempotent)
    python fairseq_modified_files/patch_fairseq.py --check  # exit 1 if a patch is missing

Refuses any fairseq version but 0.12.2. Each edit replaces an exact text by another; an
edit whose result is already present is skipped, so a second run changes nothing. Every
edit is explained in fairseq_modified_files/README.md. Stale bytecode of patched files is
removed.
"""
import argparse
import importlib.metadata
import importlib.util
import sys
from pathlib import Path

VERSION = "0.12.2"

# (file relative to the fairseq package, old text, new text)
EDITS = [
    # 1. Python 3.11 refuses mutable dataclass defaults: nested configs get default_factory.
    *[("dataclass/configs.py", f"    {name}: {cls} = {cls}()\n", f"    {name}: {cls} = field(default_factory={cls})\n")
      for name, cls in [
          ("common", "CommonConfig"), ("common_eval", "CommonEvalConfig"), ("distributed_training",
                                                                            "DistributedTrainingConfig"),
          ("dataset", "DatasetConfig"), ("optimization", "OptimizationConfig"), ("checkpoint", "CheckpointConfig"),
          ("bmuf", "FairseqBMUFConfig"), ("generation", "GenerationConfig"), ("eval_lm", "EvalLMConfig"),
          ("interactive", "InteractiveConfig"), ("ema", "EMAConfig")]],
    ("models/transformer/transformer_config.py", "    encoder: EncDecBaseConfig = EncDecBaseConfig()\n",
     "    encoder: EncDecBaseConfig = field(default_factory=EncDecBaseConfig)\n"),
    ("models/transformer/transformer_config.py", "    decoder: DecoderConfig = DecoderConfig()\n",
     "    decoder: DecoderConfig = field(default_factory=DecoderConfig)\n"),
    ("models/transformer/transformer_config.py", "    quant_noise: QuantNoiseConfig = field(default=QuantNoiseConfig())\n",
     "    quant_noise: QuantNoiseConfig = field(default_factory=QuantNoiseConfig)\n"),
    # 2. hydra_init reads Field.default, which is MISSING once a default_factory is used.
    ("dataclass/initialize.py", "        v = FairseqConfig.__dataclass_fields__[k].default\n",
     "        field_ = FairseqConfig.__dataclass_fields__[k]\n"
     "        v = field_.default_factory() if field_.default_factory is not MISSING else field_.default\n"),
    ("dataclass/initialize.py", "import logging\n", "import logging\nfrom dataclasses import MISSING\n"),
    # 3. torch >= 2.6 loads with weights_only=True, which refuses the argparse.Namespace that fairseq's
    #    checkpoints hold: allow that one class while loading, and keep the safe loader.
    ("checkpoint_utils.py", '        state = torch.load(f, map_location=torch.device("cpu"))\n',
     "        with torch.serialization.safe_globals([argparse.Namespace]):\n"
     '            state = torch.load(f, map_location=torch.device("cpu"))\n'),
    ("checkpoint_utils.py", "import ast\n", "import argparse\nimport ast\n"),
]


def fairseq_root() -> Path:
    spec = importlib.util.find_spec("fairseq")
    if spec is None or spec.origin is None:
        sys.exit("patch_fairseq: fairseq is not installed in this Python")
    version = importlib.metadata.version("fairseq")
    if version != VERSION:
        sys.exit(f"patch_fairseq: fairseq {version} is installed; these patches are for {VERSION} only")
    return Path(spec.origin).parent


def apply(root: Path, check_only: bool) -> int:
    missing = 0
    for relative, old, new in EDITS:
        path = root / relative
        text = path.read_text()
        if new in text and (old not in text or old in new):
            continue
        if old not in text:
            sys.exit(f"patch_fairseq: {relative}: neither the original nor the patched text is there")
        missing += 1
        if not check_only:
            path.write_text(text.replace(old, new, 1))
            for stale in path.parent.glob(f"__pycache__/{path.stem}.*.pyc"):
                stale.unlink()
            print(f"patched {relative}")
    return missing


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--check", action="store_true", help="only report; exit 1 if a patch is missing")
    args = parser.parse_args()
    root = fairseq_root()
    missing = apply(root, args.check)
    if args.check:
        print(f"fairseq {VERSION} at {root}: {missing} patch(es) missing")
        sys.exit(1 if missing else 0)
    print(f"fairseq {VERSION} at {root}: {'patched' if missing else 'already patched'} ({len(EDITS)} edits)")


if __name__ == "__main__":
    main()
