"""Training and evaluation of the sequence classifier; atomic, resumable checkpoints."""
import os
import platform
import time
from pathlib import Path

import numpy as np
import torch
from torch import nn
from tqdm import tqdm

from .data import batches
from .cells import CELL_CLASSES
from .files import RunError
from .model import SequenceClassifier

CHECKPOINT_FORMAT = "hybrid_lstm.seqmnist.v1"


def host_description(device: torch.device = torch.device("cpu"), threads: int | None = None) -> str:
    """One line naming the hardware a result was measured on, e.g. 'AMD EPYC, 2 logical CPUs,
    1 torch thread, torch 2.14.1' (+ the GPU when device is CUDA); threads: default this process's."""
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as handle:
            cpu = next(line.split(":", 1)[1].strip() for line in handle if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    threads = threads or torch.get_num_threads()
    text = f"{cpu}, {os.cpu_count()} logical CPUs, {threads} torch thread{'s' if threads > 1 else ''}, torch {torch.__version__}"
    if device.type == "cuda":
        text += f", GPU {torch.cuda.get_device_name(device)}"
    return text


def load_checkpoint(path: Path) -> dict:
    """Load a checkpoint of this project with torch's safe (weights_only) loader."""
    path = Path(path)
    if not path.is_file():
        raise RunError(f"no checkpoint at {path}")
    try:
        checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:
        raise RunError(f"cannot read checkpoint {path}: it is corrupt or not a checkpoint ({type(error).__name__})")
    if not isinstance(checkpoint, dict) or checkpoint.get("format") != CHECKPOINT_FORMAT:
        raise RunError(f"{path} is not a run_seqmnist.py checkpoint")
    problem = checkpoint_problem(checkpoint)
    if problem:
        raise RunError(f"{path} is not a valid run_seqmnist.py checkpoint: {problem}")
    return checkpoint


def _positive_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 1


CONFIG_CHECKS = {  # the model fields every checkpoint records, and what each must hold
    "lstm_cell_class": (lambda v: v in CELL_CLASSES, f"one of {sorted(CELL_CLASSES)}"),
    "input_size": (_positive_int, "a positive integer"),
    "hidden_size": (_positive_int, "a positive integer"),
    "num_layer": (_positive_int, "a positive integer"),
    "dropout": (lambda v: isinstance(v, (int, float)) and 0 <= v < 1, "a number in [0, 1)"),
    "permute": (lambda v: v is None or (isinstance(v, int) and not isinstance(v, bool)), "None or an integer"),
}


def checkpoint_problem(checkpoint: dict):
    """What is wrong with a checkpoint's structure (one phrase), or None."""
    config = checkpoint.get("config")
    if not isinstance(config, dict):
        return "no config dict"
    for key, (valid, expected) in CONFIG_CHECKS.items():
        if key not in config:
            return f"config has no {key!r}"
        if not valid(config[key]):
            return f"config {key!r} must be {expected}, got {config[key]!r}"
    model = checkpoint.get("model")
    if not isinstance(model, dict) or not all(isinstance(v, torch.Tensor) for v in model.values()):
        return "no 'model' state dict of tensors"
    if "epochs_done" in checkpoint and not (isinstance(checkpoint["epochs_done"], int) and checkpoint["epochs_done"] >= 0):
        return f"epochs_done must be a non-negative integer, got {checkpoint['epochs_done']!r}"
    return None


def build_model(config: dict) -> SequenceClassifier:
    return SequenceClassifier(
        config["lstm_cell_class"], config["input_size"], config["hidden_size"],
        num_layers=config["num_layer"], dropout=config["dropout"],
    )


def model_from_checkpoint(checkpoint: dict, path) -> SequenceClassifier:
    model = build_model(checkpoint["config"])
    try:
        model.load_state_dict(checkpoint["model"])
    except (RuntimeError, KeyError) as error:
        raise RunError(f"{path}: weights do not match its recorded configuration ({str(error).splitlines()[0]})")
    return model


def epoch_seed(seed: int, epoch: int) -> int:
    """The seed of one epoch's shuffle and dropout, so a resumed run repeats it exactly."""
    return int(np.random.SeedSequence([seed, epoch]).generate_state(1)[0])


def _rng_state(device: torch.device) -> dict:
    state = {"cpu": torch.get_rng_state()}
    if device.type == "cuda":
        state["cuda"] = torch.cuda.get_rng_state(device)
    return state


def _set_rng_state(state: dict, device: torch.device):
    torch.set_rng_state(state["cpu"])
    if device.type == "cuda":
        torch.cuda.set_rng_state(state["cuda"], device)


def train_epoch(model: SequenceClassifier, optimizer, inputs, labels, batch_size: int, grad_clip: float,
                seed: int, partial: dict = None, save_interval: int = 0, save_partial=None,
                description: str = "train"):
    """One epoch: cross-entropy, gradient-norm clipping, parameter clamp after every step.

    The shuffle and dropout follow from seed. Every save_interval updates (0: never)
    save_partial(partial) is called with the epoch's progress {batches_done, loss_sum,
    correct, seconds, rng}; passing that dict back as partial continues the epoch exactly
    where it stood. Returns (mean loss, accuracy %, seconds).
    """
    model.train()
    if partial is None:
        partial = {"batches_done": 0, "loss_sum": 0.0, "correct": 0, "seconds": 0.0}
        torch.manual_seed(seed)  # dropout
    else:
        _set_rng_state(partial["rng"], inputs.device)
    loss_sum, correct, done = partial["loss_sum"], partial["correct"], partial["batches_done"]
    started = time.perf_counter() - partial["seconds"]
    criterion = nn.CrossEntropyLoss(reduction="sum")
    steps = (len(inputs) + batch_size - 1) // batch_size
    shuffled = batches(inputs, labels, batch_size, torch.Generator().manual_seed(seed), skip=done)
    with tqdm(shuffled, total=steps, initial=done, desc=description, leave=False, disable=None) as progress:
        for x, y in progress:
            optimizer.zero_grad()
            logits = model(x)
            loss = criterion(logits, y)
            if not torch.isfinite(loss):
                raise RunError(f"training diverged: the loss is {loss.item()} at batch {done + 1} of this epoch; "
                               "the last saved checkpoint is kept (lower --lr or --grad-clip)")
            (loss / len(y)).backward()
            nn.utils.clip_grad_norm_(model.parameters(), grad_clip)
            optimizer.step()
            model.clamp_parameters_()
            for name, parameter in model.named_parameters():
                if not torch.isfinite(parameter).all():
                    raise RunError(f"training diverged: {name} became non-finite at batch {done + 1} of this epoch; "
                                   "the last saved checkpoint is kept (lower --lr or --grad-clip)")
            loss_sum += loss.item()
            correct += (logits.argmax(1) == y).sum().item()
            done += 1
            progress.set_postfix(loss=f"{loss.item() / len(y):.4f}")
            if save_interval and done % save_interval == 0 and done < steps:
                save_partial({"batches_done": done, "loss_sum": loss_sum, "correct": correct,
                              "seconds": time.perf_counter() - started, "rng": _rng_state(inputs.device)})
    return loss_sum / len(inputs), 100.0 * correct / len(inputs), time.perf_counter() - started


@torch.no_grad()
def evaluate(model: nn.Module, inputs, labels, batch_size: int, description: str = "eval") -> float:
    """Accuracy (%) of model on (inputs, labels)."""
    model.eval()
    correct = 0
    steps = (len(inputs) + batch_size - 1) // batch_size
    for x, y in tqdm(batches(inputs, labels, batch_size), total=steps, desc=description, leave=False, disable=None):
        correct += (model(x).argmax(1) == y).sum().item()
    return 100.0 * correct / len(inputs)


def timed(function, *args, **kwargs):
    """(function(*args, **kwargs), wall seconds)."""
    start = time.perf_counter()
    result = function(*args, **kwargs)
    return result, time.perf_counter() - start
