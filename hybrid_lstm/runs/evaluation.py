"""Evaluation: a classifier's accuracy, and the test protocol of a trained ModifiedLSTMCell
(the ANN first, then its hybrid conversion at each T)."""
import time

import torch
from torch import nn
from tqdm import tqdm

from .data import batches
from ..nn.model import SequenceClassifier


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


def evaluate_hybrid(hybrid: SequenceClassifier, n_timestep: int, inputs, labels, batch_size: int) -> dict:
    """One hybrid's accuracy with its spike rates and totals; the record a results file keeps."""
    hybrid.reset_spike_record()
    accuracy, seconds = timed(evaluate, hybrid, inputs, labels, batch_size, f"hybrid T={n_timestep}")
    record = hybrid.spike_record()
    return {"n_timestep": n_timestep, "accuracy": accuracy, "spike_rates": record.rates(),
            "spike_totals": record.totals(), "wall_time_s": seconds}
