"""The training protocol of a sequence-classifier run: RMSprop with gradient-norm clipping and
the parameter clamp, best-checkpoint selection, and exact resumption from the run folder. A
conversion-aware fine-tuning (config["finetune"]) follows the same protocol with its cells
trained through their hybrid (snn/finetune.py), starting from its parent's weights; it is
selected and evaluated as that hybrid."""
import time

import numpy as np
import torch
from torch import nn
from tqdm import tqdm

from .checkpoint import Checkpoint, build_model
from .data import batches
from .evaluation import evaluate
from .files import RunError
from .host import host_description
from ..nn.model import SequenceClassifier
from ..snn.finetune import ConversionAwareCell
from ..snn.neurons import SpikingConfig
from .run_folder import RunFolder


def epoch_seed(seed: int, epoch: int) -> int:
    """The seed of one epoch's shuffle and dropout, so a resumed run repeats it exactly."""
    return int(np.random.SeedSequence([seed, epoch]).generate_state(1)[0])


def _rng_state(device: torch.device) -> dict:
    state = {"cpu": torch.get_rng_state()}
    if device.type == "cuda":
        state["cuda"] = torch.cuda.get_rng_state(device)
    return state


def _set_rng_state(state: dict, device: torch.device, seed: int):
    """Restore _rng_state(device). A state saved off the GPU has no CUDA generator state: then
    the CUDA generator starts from seed (dropout masks cannot repeat across devices anyway)."""
    torch.set_rng_state(state["cpu"])
    if device.type == "cuda":
        if "cuda" in state:
            torch.cuda.set_rng_state(state["cuda"], device)
        else:
            torch.cuda.manual_seed(seed)


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
        _set_rng_state(partial["rng"], inputs.device, seed + partial["batches_done"])
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


def training_sets(train: tuple, test: tuple, validation_size: int, train_subset: int | None) -> dict:
    """{"train", "select", "test"}: (inputs, labels) each. With validation_size the last N
    training images are held out and the best checkpoint is selected on them; without, it is
    selected on the test set, as the authors did."""
    train_x, train_y = train
    select = test
    if validation_size:
        if validation_size >= len(train_x):
            raise RunError(f"--validation-size {validation_size} leaves no training images (there are {len(train_x)})")
        select = train_x[-validation_size:], train_y[-validation_size:]
        train_x, train_y = train_x[:-validation_size], train_y[:-validation_size]
    return {"train": (train_x[:train_subset], train_y[:train_subset]), "select": select, "test": test}


def resume_point(folder: RunFolder, config: dict, end_epoch: int, start_epoch: int | None, overwrite: bool,
                 device) -> Checkpoint | None:
    """Decide between a fresh run (None) and a resume (checkpoint_last.pt); the folder's first
    write. history.json is rewritten from checkpoint_last.pt (its source) whenever they
    disagree, e.g. after a crash between the two writes."""
    if overwrite:
        folder.clear()
    if not folder.last.exists():
        if folder.best.exists():
            raise RunError(f"{folder} holds an earlier run's {folder.BEST} but no {folder.LAST} to resume from; "
                           "pass --overwrite to start over")
        # a train.log alone: an attempt stopped before its first save; start afresh, appending to the log
        if start_epoch:
            raise RunError(f"--start-epoch {start_epoch} needs {folder.last} to resume from")
        return None
    checkpoint = folder.load_last()
    changed = [f"{key}: {checkpoint.config.get(key)!r} -> {config[key]!r}" for key in config
               if checkpoint.config.get(key) != config[key]]
    if changed:
        raise RunError(f"{folder.last} was trained with other settings ({'; '.join(changed)}); "
                       "use another --checkpoint-dir or pass --overwrite")
    if folder.epochs_done() != len(checkpoint.history) or folder.read_history() is None:
        folder.write_history(checkpoint, host_description(device))
    done = checkpoint.epochs_done
    if start_epoch is not None and start_epoch != done:
        raise RunError(f"{folder.last} has {done} epochs done, not --start-epoch {start_epoch}")
    if done >= end_epoch:
        raise RunError(f"{folder} is already trained for {done} epochs; raise --end-epoch to continue or pass --overwrite")
    return checkpoint


def training_model(config: dict) -> SequenceClassifier:
    """config's classifier as it trains: its cells trained through their hybrid when config["finetune"]
    names a spiking configuration (the parameters keep their names)."""
    model = build_model(config)
    tune = config.get("finetune")
    if tune:
        spiking = SpikingConfig(tune["n_timestep"], tune["reset"], tune["initial_potential"])
        model = model.with_cells(lambda cell: ConversionAwareCell(cell, spiking))
    return model


def fit(folder: RunFolder, config: dict, data: dict, device, command: str, end_epoch: int,
        start_epoch: int | None = None, save_interval: int = 0, overwrite: bool = False, initial_weights=None):
    """Train config's classifier in the (locked) folder until end_epoch epochs are done, from
    scratch or from checkpoint_last.pt.

    config: the model fields and the training settings (checkpoint.TRAINING_KEYS); data:
    training_sets(). After each epoch: a history record, checkpoint_best.pt when the selection
    accuracy improves, checkpoint_last.pt, history.json and a train.log line; every
    save_interval updates (0: epoch ends only) checkpoint_last.pt with the epoch's progress.
    initial_weights: the state dict a fresh run starts from (a fine-tuning's parent), else the
    initialisation of config's seed."""
    resumed = resume_point(folder, config, end_epoch, start_epoch, overwrite, device)
    selection = "validation" if config["validation_size"] else "test"
    torch.manual_seed(config["seed"])
    model = training_model(config).to(device)
    optimizer = torch.optim.RMSprop(model.parameters(), lr=config["lr"], alpha=0.99, eps=1e-8,
                                    momentum=config["momentum"])
    if resumed is None:
        if initial_weights is not None:
            model.load_state_dict(initial_weights)
        state = Checkpoint(config, 0, {}, history=[], best={"accuracy": -1.0, "epoch": 0})
        folder.log(f"# {command}")
    else:
        model.load_state_dict(resumed.model)
        optimizer.load_state_dict(resumed.optimizer)
        state = resumed
        position = f" and {resumed.partial_epoch['batches_done']} batches" if resumed.partial_epoch else ""
        folder.log(f"# resumed after {resumed.epochs_done} epochs{position}: {command}")

    def save_last(epochs_done: int, partial_epoch):
        state.epochs_done, state.partial_epoch = epochs_done, partial_epoch
        state.model, state.optimizer = model.state_dict(), optimizer.state_dict()
        state.save(folder.last)

    for epoch in range(len(state.history), end_epoch):
        loss, train_accuracy, seconds = train_epoch(
            model, optimizer, *data["train"], config["batch_size"], config["grad_clip"],
            epoch_seed(config["seed"], epoch), partial=state.partial_epoch, save_interval=save_interval,
            save_partial=lambda progress: save_last(epoch, progress), description=f"epoch {epoch + 1}/{end_epoch}")
        record = {"epoch": epoch + 1, "train_loss": loss, "train_accuracy": train_accuracy,
                  f"{selection}_accuracy": evaluate(model, *data["select"], config["batch_size"], selection),
                  "seconds": seconds, "host": host_description(device)}
        if selection != "test":
            record["test_accuracy"] = evaluate(model, *data["test"], config["batch_size"], "test")
        state.history.append(record)
        if record[f"{selection}_accuracy"] > state.best["accuracy"]:
            state.best = {"accuracy": record[f"{selection}_accuracy"], "epoch": epoch + 1}
            Checkpoint(config, epoch + 1, model.state_dict(), selected_on=selection,
                       accuracy=state.best["accuracy"]).save(folder.best)
        save_last(epoch + 1, None)
        folder.write_history(state, host_description(device))
        test_text = f" test_acc {record['test_accuracy']:.2f}" if selection != "test" else ""
        folder.log(f"epoch {epoch + 1}/{end_epoch} train_loss {loss:.4f} train_acc {train_accuracy:.2f} "
                   f"{selection}_acc {record[f'{selection}_accuracy']:.2f}{test_text} "
                   f"best {state.best['accuracy']:.2f} (epoch {state.best['epoch']}) time {seconds:.1f}s")
