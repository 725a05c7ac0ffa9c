"""Convert a trained custom_baseline_iwslt checkpoint (--cell-type modified) for hybrid inference.

    python modify_checkpoint_iwslt.py --src-path DIR/checkpoint_best.pt --des-path DIR/checkpoint_best_modified.pt

Layer 0 of the encoder and of the decoder (the model's only LSTM layers) are converted with
hybrid_lstm.convert_weights (integer per-gate weights and biases, docs/method.md, "Conversion"); they
are written beside the float weights as <layer>.converted_weight / converted_bias, and the
checkpoint's model configuration gets converted = True. Generate with the hybrid by adding
    --model-overrides "{'hybrid_timesteps': T}"
to fairseq-generate. Any problem ends with one error line, exit status 2 and no file written.
"""
import argparse
import sys
from pathlib import Path

import torch

from hybrid_lstm.runs.cli import OneLineParser
from hybrid_lstm import convert_weights
from hybrid_lstm.runs.files import RunError, check_output_path, save_atomic

PROG = "modify_checkpoint_iwslt.py"
LAYERS = ("encoder.rnn", "decoder.rnn")
CELL_KEYS = ("weight_ih", "weight_hh", "bias")


class ConversionError(Exception):
    pass


def model_config(checkpoint: dict) -> dict:
    """The model section of a fairseq checkpoint's configuration (cfg dict, or legacy args)."""
    cfg = checkpoint.get("cfg")
    if isinstance(cfg, dict) and isinstance(cfg.get("model"), (dict, argparse.Namespace)):
        model = cfg["model"]
        return vars(model) if isinstance(model, argparse.Namespace) else model
    if isinstance(checkpoint.get("args"), argparse.Namespace):
        return vars(checkpoint["args"])
    raise ConversionError("no model configuration (cfg['model'] or args) in the checkpoint")


def load(path: Path) -> dict:
    if not path.is_file():
        raise ConversionError(f"no checkpoint at {path}")
    torch.serialization.add_safe_globals([argparse.Namespace])
    try:
        checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:
        raise ConversionError(f"cannot read {path}: corrupt or not a checkpoint ({type(error).__name__})")
    if not isinstance(checkpoint, dict) or not isinstance(checkpoint.get("model"), dict):
        raise ConversionError(f"{path} is not a fairseq checkpoint (no 'model' state dict)")
    return checkpoint


def convert(checkpoint: dict) -> list:
    """Convert in place; returns one line per converted layer."""
    config = model_config(checkpoint)
    if config.get("converted"):
        raise ConversionError("this checkpoint is already converted")
    if config.get("cell_type") != "modified":
        raise ConversionError(f"only --cell-type modified converts; this checkpoint has --cell-type "
                              f"{config.get('cell_type')} (sigmoid/tanh gates have no IF-neuron equivalent)")
    state, report = checkpoint["model"], []
    for layer in LAYERS:
        keys = [f"{layer}.cell.{name}" for name in CELL_KEYS]
        missing = [key for key in keys if key not in state]
        if missing:
            raise ConversionError(f"missing layer weights {', '.join(missing)}")
        try:
            weights = convert_weights(*(state[key] for key in keys))
        except ValueError as error:  # wrong shapes, non-finite values
            raise ConversionError(f"{layer}: {error}")
        state[f"{layer}.converted_weight"], state[f"{layer}.converted_bias"] = weights
        hidden4, fanin = weights.weight.shape
        report.append(f"{layer}: {hidden4 // 4} units, fan-in {fanin}; integer weights in "
                      f"[{int(weights.weight.min())}, {int(weights.weight.max())}], biases in "
                      f"[{int(weights.bias.min())}, {int(weights.bias.max())}]")
    config["converted"] = True
    return report


def main(argv=None) -> int:
    parser = OneLineParser(prog=PROG, description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--src-path", required=True, help="trained checkpoint (--cell-type modified)")
    parser.add_argument("--des-path", required=True, help="where the converted checkpoint goes")
    args = parser.parse_args(argv)
    source, destination = Path(args.src_path), Path(args.des_path)
    try:
        if destination.resolve() == source.resolve():
            raise ConversionError("--des-path must differ from --src-path (the trained checkpoint is kept)")
        check_output_path(destination, "--des-path", ".pt", inputs=(source,))
        checkpoint = load(source)
        report = convert(checkpoint)
        save_atomic(checkpoint, destination)
    except (ConversionError, RunError) as error:
        print(f"{PROG}: error: {error}", file=sys.stderr)
        return 2
    for line in report:
        print(f"converted {line}")
    print(f"wrote {destination}; generate with --model-overrides \"{{'hybrid_timesteps': T}}\"")
    return 0


if __name__ == "__main__":
    sys.exit(main())
