"""The worked example runs end to end on a few images and resumes after its last epoch."""
import json
import subprocess
import sys

from conftest import REPO


def test_permuted_mnist_example_trains_converts_and_reports(tmp_path, mnist_root):
    command = [sys.executable, str(REPO / "examples/permuted_mnist.py"), "--output", str(tmp_path), "--data-dir",
               str(mnist_root), "--epochs", "1", "--train-subset", "256", "--test-subset", "32", "--n-timestep", "8",
               "--threads", "1"]
    first = subprocess.run(command, capture_output=True, text=True, cwd=tmp_path)
    assert first.returncode == 0, first.stderr[-2000:]
    results = json.loads((tmp_path / "results.json").read_text())
    assert results["test_images"] == 32 and len(results["history"]) == 1
    assert [(row["n_timestep"], row["initial_potential"]) for row in results["hybrid"]] == [(8, "one"), (8, "half")]
    assert results["energy"]["loihi"]["active_j"] > 0 and "CPU / Loihi active energy" in first.stdout
    again = subprocess.run(command, capture_output=True, text=True, cwd=tmp_path)
    assert again.returncode == 0 and "resumed after epoch 1" in again.stdout
    accuracies = [(row["n_timestep"], row["initial_potential"], row["accuracy"]) for row in results["hybrid"]]
    rerun = json.loads((tmp_path / "results.json").read_text())["hybrid"]
    assert [(row["n_timestep"], row["initial_potential"], row["accuracy"]) for row in rerun] == accuracies
