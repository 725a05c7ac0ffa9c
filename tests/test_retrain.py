"""reproduce/retrain.py on a tiny run: an identical retraining adds the checkpoints and keeps
the logged results; a different one replaces the training and removes the derived results."""
import json
import shutil
import sys

import pytest

from conftest import REPO, SMALL
from reproduce import retrain


@pytest.fixture
def tiny_retrain(monkeypatch, tmp_path, mnist_root):
    """retrain's grid command replaced by a 1-epoch run of the small test setting."""
    def tiny_argv(folder, scratch, end_epoch, threads):
        return [sys.executable, str(REPO / "run_seqmnist.py"), "--checkpoint-dir", str(scratch), "--data-dir",
                str(mnist_root), "--end-epoch", str(end_epoch), *SMALL]

    monkeypatch.setattr(retrain, "train_argv", tiny_argv)
    monkeypatch.setattr(retrain, "SCRATCH", tmp_path / "scratch")
    return tmp_path


def logged_run(trained, folder, change=None):
    """A run folder as an old grid run left it: logs and results, no checkpoints."""
    shutil.copytree(trained, folder)
    for name in ("checkpoint_best.pt", "checkpoint_last.pt"):
        (folder / name).unlink()
    history = json.loads((folder / "history.json").read_text())
    history["history"] = history["history"][:1]
    if change:
        history["history"][0]["train_loss"] += change
    (folder / "history.json").write_text(json.dumps(history))
    (folder / "loihi_benchmark_hard_delay1.json").write_text("{}")
    return folder


def test_identical_retraining_keeps_the_logged_results(tiny_retrain, trained):
    folder = logged_run(trained, tiny_retrain / "run")
    retrain.retrain(folder, threads=1)
    report = json.loads((folder / "retrain.json").read_text())
    assert report["first_difference"] is None and "checkpoints were added" in report["outcome"]
    assert (folder / "checkpoint_best.pt").exists() and (folder / "test_results.json").exists()
    assert (folder / "loihi_benchmark_hard_delay1.json").exists()


def test_different_retraining_replaces_the_run_and_its_results(tiny_retrain, trained):
    folder = logged_run(trained, tiny_retrain / "run", change=0.5)
    retrain.retrain(folder, threads=1)
    report = json.loads((folder / "retrain.json").read_text())
    assert report["first_difference"] == 1 and "replaced it" in report["outcome"]
    assert (folder / "checkpoint_best.pt").exists()
    assert not (folder / "test_results.json").exists() and not (folder / "loihi_benchmark_hard_delay1.json").exists()
    retrained = json.loads((folder / "history.json").read_text())["history"]
    assert len(retrained) == 1 and retrained[0]["train_loss"] == \
        json.loads((trained / "history.json").read_text())["history"][0]["train_loss"]
