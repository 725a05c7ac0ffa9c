"""Convert a trained custom_baseline_iwslt checkpoint (--cell-type modified) for hybrid inference.

    python modify_checkpoint_iwslt.py --src-path DIR/checkpoint_best.pt --des-path DIR/checkpoint_best_modified.pt

Layer 0 of the encoder and of the decoder (the model's only LSTM layers) are converted with
hybrid_lstm.convert_weights (integer per-gate weights and biases, docs/method.md, "Conversion"); they
are written beside the float weights as <layer>.converted_weight / converted_bias, and the
checkpoint's model configuration gets converted = True (and finetune_timesteps = 0: a model
fine-tuned through its hybrid runs, unconverted, as the plain ANN again). Generate with the hybrid by adding
    --model-overrides "{'hybrid_timesteps': T}"
to fairseq-generate. Any problem ends with one error line, exit status 2 and no file written.
"""
import argparse
import sys
from pathlib import Path

from fairseq import checkpoint_utils
from omegaconf import OmegaConf, open_dict

from hybrid_lstm import convert_weights
from hybrid_lstm.runs.cli import OneLineParser
from hybrid_lstm.runs.files import RunError, check_output_path

PROG = "modify_checkpoint_iwslt.py"
LAYERS = ("encoder.rnn", "decoder.rnn")
CELL_KEYS = ("weight_ih", "weight_hh", "bias")


class ConversionError(Exception):
    pass


def model_config(checkpoint: dict):
    """The model section of a fairseq checkpoint's configuration (cfg.model: a config or a namespace)."""
    cfg = checkpoint.get("cfg")
    model = cfg.get("model") if cfg is not None else None
    if model is None:
        raise ConversionError("no model configuration (cfg.model) in the checkpoint")
    return model


def load(path: Path) -> dict:
    """The checkpoint as fairseq loads it (checkpoint_utils.load_checkpoint_to_cpu: upgraded to today's layout)."""
    if not path.is_file():
        raise ConversionError(f"no checkpoint at {path}")
    try:
        checkpoint = checkpoint_utils.load_checkpoint_to_cpu(str(path))
    except Exception as error:
        raise ConversionError(f"cannot read {path}: corrupt or not a fairseq checkpoint ({type(error).__name__})")
    if not isinstance(checkpoint.get("model"), dict):
        raise ConversionError(f"{path} is not a fairseq checkpoint (no 'model' state dict)")
    return checkpoint


def convert(checkpoint: dict) -> list:
    """Convert in place; returns one line per converted layer."""
    config = model_config(checkpoint)
    if getattr(config, "converted", False):
        raise ConversionError("this checkpoint is already converted")
    if getattr(config, "cell_type", None) != "modified":
        raise ConversionError(f"only --cell-type modified converts; this checkpoint has --cell-type "
                              f"{getattr(config, 'cell_type', None)} (sigmoid/tanh gates have no IF-neuron equivalent)")
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
    with open_dict(checkpoint["cfg"]):
        config.converted = True
        config.finetune_timesteps = 0  # a model fine-tuned through its hybrid: its ANN is the plain cell again
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
        checkpoint["cfg"] = OmegaConf.to_container(checkpoint["cfg"], resolve=True, enum_to_str=True)
        checkpoint_utils.torch_persistent_save(checkpoint, str(destination))
    except (ConversionError, RunError) as error:
        print(f"{PROG}: error: {error}", file=sys.stderr)
        return 2
    for line in report:
        print(f"converted {line}")
    print(f"wrote {destination}; generate with --model-overrides \"{{'hybrid_timesteps': T}}\"")
    return 0


if __name__ == "__main__":
    sys.exit(main())
