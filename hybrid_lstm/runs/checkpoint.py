"""The checkpoint of a sequence-classifier run: one schema, read and written here only.

Two kinds, both plain dicts of tensors and Python values that load with
torch.load(weights_only=True):

- the selected model (checkpoint_best.pt), weights only:
  {format, config, epochs_done, model, selected_on, accuracy}
- the run's resumable state (checkpoint_last.pt):
  {format, config, epochs_done, model, optimizer, history, best, partial_epoch}

config holds the model fields (MODEL_DEFAULTS' keys) and, in a training run's checkpoints,
the training settings a resumed run must share (TRAINING_KEYS, and "finetune": None, or for a
conversion-aware fine-tuning its parent checkpoint and spiking configuration, FINETUNE_KEYS).
"""
from dataclasses import dataclass, fields
from pathlib import Path

import torch

from ..nn.cells import CELL_CLASSES
from .files import RunError, save_atomic
from ..nn.model import SequenceClassifier

CHECKPOINT_FORMAT = "hybrid_lstm.seqmnist.v1"
MODEL_DEFAULTS = {
    "lstm_cell_class": "ModifiedLSTMCell", "input_size": 28, "hidden_size": 128, "num_layer": 1,
    "dropout": 0.5, "permute": None, "clamps": True,
}
# model fields added after the first checkpoints were written, with the value those checkpoints imply
LATER_FIELDS = {"clamps": True}


def with_later_fields(config: dict) -> dict:
    """A recorded model config read in the current schema: LATER_FIELDS at their defaults where absent."""
    return {**LATER_FIELDS, **config}
TRAINING_KEYS = ("seed", "lr", "momentum", "grad_clip", "batch_size", "validation_size", "train_subset", "test_subset")
FINETUNE_KEYS = ("parent", "parent_sha256", "n_timestep", "reset", "initial_potential")


def _positive_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 1


CONFIG_CHECKS = {  # the model fields every checkpoint records, and what each must hold
    "lstm_cell_class": (lambda v: v in CELL_CLASSES, f"one of {sorted(CELL_CLASSES)}"),
    "input_size": (_positive_int, "a positive integer"),
    "hidden_size": (_positive_int, "a positive integer"),
    "num_layer": (_positive_int, "a positive integer"),
    "dropout": (lambda v: isinstance(v, (int, float)) and 0 <= v < 1, "a number in [0, 1)"),
    "permute": (lambda v: v is None or (isinstance(v, int) and not isinstance(v, bool)), "None or an integer"),
    "clamps": (lambda v: isinstance(v, bool), "True or False"),
}


def build_model(config: dict) -> SequenceClassifier:
    """A freshly initialised classifier of config's model fields (LATER_FIELDS at their defaults if absent)."""
    config = with_later_fields(config)
    return SequenceClassifier(config["lstm_cell_class"], config["input_size"], config["hidden_size"],
                              num_layers=config["num_layer"], dropout=config["dropout"], clamps=config["clamps"])


@dataclass
class Checkpoint:
    """A saved model; the training fields are None in a weights-only (selected) checkpoint,
    the selection fields None in a resumable one."""
    config: dict
    epochs_done: int
    model: dict  # the classifier's state dict
    selected_on: str | None = None  # "test" or "validation"
    accuracy: float | None = None  # % on the selection set
    optimizer: dict | None = None
    history: list | None = None  # one record per epoch done
    best: dict | None = None  # {"accuracy", "epoch"} of the selection so far
    partial_epoch: dict | None = None  # progress within the epoch after epochs_done (training.train_epoch)

    @classmethod
    def load(cls, path) -> "Checkpoint":
        """Read and validate a checkpoint with torch's safe (weights_only) loader."""
        path = Path(path)
        if not path.is_file():
            raise RunError(f"no checkpoint at {path}")
        try:
            content = torch.load(path, map_location="cpu", weights_only=True)
        except Exception as error:
            raise RunError(f"cannot read checkpoint {path}: it is corrupt or not a checkpoint ({type(error).__name__})")
        if not isinstance(content, dict) or content.get("format") != CHECKPOINT_FORMAT:
            raise RunError(f"{path} is not a run_seqmnist.py checkpoint")
        if isinstance(content.get("config"), dict):
            content["config"] = with_later_fields(content["config"])
        problem = schema_problem(content)
        if problem:
            raise RunError(f"{path} is not a valid run_seqmnist.py checkpoint: {problem}")
        known = {field.name for field in fields(cls)}
        checkpoint = cls(**{key: value for key, value in content.items() if key in known})
        try:
            checkpoint.classifier()
        except (RuntimeError, KeyError) as error:
            raise RunError(f"{path}: weights do not match its recorded configuration ({str(error).splitlines()[0]})")
        return checkpoint

    def save(self, path):
        """Write atomically: the common fields, then the selection fields of a selected model or
        the training fields of a resumable state (partial_epoch None at an epoch end)."""
        names = ["config", "epochs_done", "model"]
        names += ["selected_on", "accuracy"] if self.selected_on is not None else []
        names += ["optimizer", "history", "best", "partial_epoch"] if self.optimizer is not None else []
        save_atomic({"format": CHECKPOINT_FORMAT, **{name: getattr(self, name) for name in names}}, path)

    def classifier(self) -> SequenceClassifier:
        """The classifier with these weights (load checks that they fit the recorded config)."""
        model = build_model(self.config)
        model.load_state_dict(self.model)
        return model


def schema_problem(content: dict):
    """What is wrong with a checkpoint's structure (one phrase), or None."""
    config = content.get("config")
    if not isinstance(config, dict):
        return "no config dict"
    for key, (valid, expected) in CONFIG_CHECKS.items():
        if key not in config:
            return f"config has no {key!r}"
        if not valid(config[key]):
            return f"config {key!r} must be {expected}, got {config[key]!r}"
    model = content.get("model")
    if not isinstance(model, dict) or not all(isinstance(v, torch.Tensor) for v in model.values()):
        return "no 'model' state dict of tensors"
    epochs_done = content.get("epochs_done")
    if not (isinstance(epochs_done, int) and not isinstance(epochs_done, bool) and epochs_done >= 0):
        return f"epochs_done must be a non-negative integer, got {epochs_done!r}"
    return None
