"""Evaluation: a classifier's accuracy, and the test protocol of a trained ModifiedLSTMCell
(the ANN first, then its hybrid conversion at each T)."""
import time
from typing import Callable

import torch
from torch import nn
from tqdm import tqdm

from .data import batches
from ..nn.model import SequenceClassifier
from ..snn.spikes import SpikeRecord

PROGRESS_SAVE_INTERVAL_S = 60.0


@torch.no_grad()
def correct_per_batch(model: nn.Module, inputs, labels, batch_size: int, description: str, first: int = 0):
    """Yield (images in the batch, correctly classified of them) for each batch of (inputs, labels)
    from image `first` on, in order, with model in eval mode and a progress bar."""
    model.eval()
    steps = (len(inputs) - first + batch_size - 1) // batch_size
    for x, y in tqdm(batches(inputs[first:], labels[first:], batch_size), total=steps, desc=description,
                     leave=False, disable=None):
        yield len(y), (model(x).argmax(1) == y).sum().item()


def evaluate(model: nn.Module, inputs, labels, batch_size: int, description: str = "eval") -> float:
    """Accuracy (%) of model on (inputs, labels)."""
    correct = sum(count for _, count in correct_per_batch(model, inputs, labels, batch_size, description))
    return 100.0 * correct / len(inputs)


def timed(function, *args, **kwargs):
    """(function(*args, **kwargs), wall seconds)."""
    start = time.perf_counter()
    result = function(*args, **kwargs)
    return result, time.perf_counter() - start


@torch.no_grad()
def evaluate_hybrid(hybrid: SequenceClassifier, n_timestep: int, inputs, labels, batch_size: int,
                    progress: dict = None, save_progress: Callable[[dict], None] = None) -> dict:
    """One hybrid's accuracy with its spike rates and totals; the record a results file keeps.

    progress: what an interrupted evaluation had done ({"samples", "correct", "spike_totals",
    "wall_time_s"} over the first samples inputs), continued from the next sample; the result
    equals an uninterrupted evaluation's. save_progress(progress) is called after a batch when
    PROGRESS_SAVE_INTERVAL_S have passed since the last call."""
    done = progress or {"samples": 0, "correct": 0, "spike_totals": SpikeRecord().totals(), "wall_time_s": 0.0}
    samples, correct = done["samples"], done["correct"]
    hybrid.reset_spike_record()
    start = saved = time.perf_counter()

    def current() -> dict:
        record = SpikeRecord.from_totals(done["spike_totals"])
        record.merge(hybrid.spike_record())
        return {"samples": samples, "correct": correct, "spike_totals": record.totals(),
                "wall_time_s": done["wall_time_s"] + time.perf_counter() - start}

    for images, right in correct_per_batch(hybrid, inputs, labels, batch_size, f"hybrid T={n_timestep}", samples):
        samples, correct = samples + images, correct + right
        if save_progress is not None and time.perf_counter() - saved >= PROGRESS_SAVE_INTERVAL_S:
            save_progress(current())
            saved = time.perf_counter()
    final = current()
    record = SpikeRecord.from_totals(final["spike_totals"])
    return {"n_timestep": n_timestep, "accuracy": 100.0 * correct / len(inputs), "spike_rates": record.rates(),
            "spike_totals": final["spike_totals"], "wall_time_s": final["wall_time_s"]}
