"""run_seqmnist.py end to end on a slice of real MNIST, its resume, and its bad inputs."""
import json
import os
import shutil
import signal
import subprocess
import sys
import time

import pytest
import torch

import run_seqmnist
from hybrid_lstm.nn.model import SequenceClassifier
from hybrid_lstm.runs import evaluation
from conftest import REPO, SMALL, expect_error, run_cli




def test_hard_reset_results_go_to_their_own_file(run_copy, capsys, mnist_root):
    soft = (run_copy / "test_results.json").read_bytes()
    code, out, _ = run_cli(capsys, "--mode", "test", "--checkpoint-dir", run_copy, "--data-dir", mnist_root,
                           "--n-timestep", "8", "--reset", "hard", *SMALL)
    assert code == 0 and "hybrid (hard reset)" in out
    assert json.loads((run_copy / "test_results_hard.json").read_text())["hybrid"][0]["reset"] == "hard"
    assert (run_copy / "test_results.json").read_bytes() == soft


def test_output_puts_the_results_where_asked_and_leaves_the_default_file(run_copy, capsys, mnist_root, tmp_path):
    default = (run_copy / "test_results.json").read_bytes()
    output = tmp_path / "low-T.json"
    code, out, _ = run_cli(capsys, "--mode", "test", "--checkpoint-dir", run_copy, "--data-dir", mnist_root,
                           "--n-timestep", "4", "--output", output, *SMALL)
    assert code == 0 and f"wrote {output}" in out
    assert [r["n_timestep"] for r in json.loads(output.read_text())["hybrid"]] == [4]
    assert (run_copy / "test_results.json").read_bytes() == default and not list(tmp_path.glob("*.partial.json"))


def test_interrupted_test_resumes_after_its_last_finished_t(run_copy, capsys, mnist_root, monkeypatch):
    """Killed during T = 32, the rerun computes T = 32 only, and the results equal an uninterrupted test's."""
    expected = json.loads((run_copy / "test_results.json").read_text())
    (run_copy / "test_results.json").unlink()
    command = ["--mode", "test", "--checkpoint-dir", run_copy, "--data-dir", mnist_root, "--n-timestep", "8", "32",
               *SMALL]
    computed = []
    original = run_seqmnist.evaluate_hybrid

    def interrupted_at_32(hybrid, n_timestep, *args, **kwargs):
        computed.append(n_timestep)
        if n_timestep == 32 and len(computed) == 2:
            raise KeyboardInterrupt
        return original(hybrid, n_timestep, *args, **kwargs)

    monkeypatch.setattr(run_seqmnist, "evaluate_hybrid", interrupted_at_32)
    code, _, err = run_cli(capsys, *command)
    assert code == 130 and "rerun the same command" in err and not (run_copy / "test_results.json").exists()
    assert [r["n_timestep"] for r in json.loads((run_copy / "test_results.partial.json").read_text())["results"]] == [8]
    code, out, _ = run_cli(capsys, *command)
    assert code == 0 and computed == [8, 32, 32] and "# resumed from" in out
    results = json.loads((run_copy / "test_results.json").read_text())
    assert not (run_copy / "test_results.partial.json").exists()
    for got, want in zip(results["hybrid"], expected["hybrid"]):
        assert (got["n_timestep"], got["accuracy"], got["spike_totals"]) == \
               (want["n_timestep"], want["accuracy"], want["spike_totals"])
    assert results["ann"]["accuracy"] == expected["ann"]["accuracy"]


def test_test_interrupted_inside_a_t_resumes_from_its_last_saved_batch(run_copy, capsys, mnist_root, monkeypatch):
    """Killed in the second batch of T = 32, after T = 8 finished, the rerun skips T = 8 and starts T = 32
    at its second batch, and the accuracy and spike totals equal an uninterrupted test's."""
    expected = {r["n_timestep"]: r for r in json.loads((run_copy / "test_results.json").read_text())["hybrid"]}
    (run_copy / "test_results.json").unlink()
    command = ["--mode", "test", "--checkpoint-dir", run_copy, "--data-dir", mnist_root, "--n-timestep", "8", "32",
               *SMALL]
    monkeypatch.setattr(evaluation, "PROGRESS_SAVE_INTERVAL_S", 0.0)
    batch_sizes, original_forward = [], SequenceClassifier.forward

    def forward_killed_in_the_second_batch_of_t32(model, x):
        if any(hasattr(cell, "spike_record") for cell in model.cells):
            batch_sizes.append(len(x))
            if len(batch_sizes) == 4:  # T = 8: two batches, then T = 32's first and second
                raise KeyboardInterrupt
        return original_forward(model, x)

    monkeypatch.setattr(SequenceClassifier, "forward", forward_killed_in_the_second_batch_of_t32)
    code, _, _ = run_cli(capsys, *command)
    partial = json.loads((run_copy / "test_results.partial.json").read_text())
    assert code == 130 and partial["in_progress"]["n_timestep"] == 32
    assert partial["in_progress"]["progress"]["samples"] == 128 and [r["n_timestep"] for r in partial["results"]] == [8]
    code, out, _ = run_cli(capsys, *command)
    assert code == 0 and batch_sizes == [128] * 5 and "# resumed from" in out
    for got in json.loads((run_copy / "test_results.json").read_text())["hybrid"]:
        want = expected[got["n_timestep"]]
        assert (got["accuracy"], got["spike_totals"]) == (want["accuracy"], want["spike_totals"])


def test_partial_results_of_other_settings_are_not_reused(run_copy, capsys, mnist_root):
    (run_copy / "test_results.json").unlink()
    partial = {"checkpoint_sha256": "another checkpoint", "ann": {"accuracy": 1.0, "wall_time_s": 0},
               "results": [{"n_timestep": 8, "accuracy": 1.0}]}
    (run_copy / "test_results.partial.json").write_text(json.dumps(partial))
    code, out, _ = run_cli(capsys, "--mode", "test", "--checkpoint-dir", run_copy, "--data-dir", mnist_root,
                           "--n-timestep", "8", *SMALL)
    assert code == 0 and "# resumed" not in out
    assert json.loads((run_copy / "test_results.json").read_text())["hybrid"][0]["accuracy"] > 1.0


def test_train_then_test_writes_logs_checkpoints_and_results(trained):
    log = (trained / "train.log").read_text().splitlines()
    assert log[0].startswith("# run_seqmnist.py --mode train") and log[2].startswith("epoch 2/2 ")
    results = json.loads((trained / "test_results.json").read_text())
    assert results["command"].startswith("run_seqmnist.py --mode test --n-timestep 8 32")
    assert results["test_samples"] == 256 and results["epochs_done"] >= 1
    assert [entry["n_timestep"] for entry in results["hybrid"]] == [8, 32]
    for entry in results["hybrid"]:
        assert 0 <= entry["accuracy"] <= 100 and entry["wall_time_s"] > 0
        assert set(entry["spike_rates"]) == {"encoder", "i", "f", "g", "o"}
        for population, rate in entry["spike_rates"].items():  # rates are the recorded totals' ratio
            totals = entry["spike_totals"][population]
            assert rate == totals["spikes"] / totals["updates"] and 0 < rate <= 1
        # updates: neurons x samples x LSTM steps x T (28 steps; encoder: 28 + 128 inputs, gates: 128 each)
        assert entry["spike_totals"]["i"]["updates"] == 128 * 256 * 28 * entry["n_timestep"]
        assert entry["spike_totals"]["encoder"]["updates"] == (28 + 128) * 256 * 28 * entry["n_timestep"]
    assert results["ann"]["accuracy"] > 40  # 2 epochs on 2048 images: well above chance


def test_hybrid_at_large_t_tracks_the_ann(trained, capsys, mnist_root, tmp_path):
    shutil.copy(trained / "checkpoint_best.pt", tmp_path / "checkpoint_best.pt")
    code, out, _ = run_cli(capsys, "--mode", "test", "--checkpoint-dir", tmp_path, "--data-dir", mnist_root,
                           "--n-timestep", "256", *SMALL)
    assert code == 0 and "hybrid (soft reset)" in out
    results = json.loads((tmp_path / "test_results.json").read_text())
    assert abs(results["hybrid"][0]["accuracy"] - results["ann"]["accuracy"]) <= 2.0


def train_command(directory, mnist_root, end_epoch):
    """100 updates per epoch, a save every 5: the first save comes 95 updates before the epoch's end."""
    return [sys.executable, str(REPO / "run_seqmnist.py"), "--mode", "train", "--checkpoint-dir", str(directory),
            "--data-dir", str(mnist_root), "--end-epoch", str(end_epoch), "--train-subset", "12800",
            "--test-subset", "128", "--threads", "1", "--seed", "5", "--save-interval-updates", "5"]


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory, mnist_root):
    """The 2-epoch run of train_command, never stopped: what every resumed run must end with."""
    directory = tmp_path_factory.mktemp("uninterrupted")
    subprocess.run(train_command(directory, mnist_root, 2), check=True, capture_output=True)
    return torch.load(directory / "checkpoint_last.pt", weights_only=True)


KILL_AFTER_UPDATES = '''
import os, signal, sys, torch
sys.path.insert(0, sys.argv[1])
import run_seqmnist
step, updates = torch.optim.RMSprop.step, [0]
def step_then_maybe_die(self, *args, **kwargs):
    result = step(self, *args, **kwargs)
    updates[0] += 1
    if updates[0] == int(sys.argv[2]):
        os.kill(os.getpid(), signal.SIGKILL)
    return result
torch.optim.RMSprop.step = step_then_maybe_die
sys.exit(run_seqmnist.main(sys.argv[3:]))
'''


def test_killed_then_resumed_run_ends_with_the_same_weights(tmp_path, mnist_root, uninterrupted):
    """kill -9 after update 13 of epoch 1, always (the process kills itself there): the last save
    was at update 10, so the resumed run redoes updates 11 to 13 and ends where an
    uninterrupted run ends."""
    broken = tmp_path / "broken"

    killed_run = [sys.executable, "-c", KILL_AFTER_UPDATES, str(REPO), "13", *train_command(broken, mnist_root, 2)[2:]]
    process = subprocess.run(killed_run, capture_output=True)
    assert process.returncode == -signal.SIGKILL
    killed = torch.load(broken / "checkpoint_last.pt", weights_only=True)
    assert killed["partial_epoch"]["batches_done"] == 10 and killed["epochs_done"] == 0
    subprocess.run(train_command(broken, mnist_root, 2), check=True, capture_output=True)
    assert "# resumed after 0 epochs and 10 batches" in (broken / "train.log").read_text()

    a, b = uninterrupted, torch.load(broken / "checkpoint_last.pt", weights_only=True)
    assert a["epochs_done"] == b["epochs_done"] == 2 and b["partial_epoch"] is None
    assert all(torch.equal(a["model"][key], b["model"][key]) for key in a["model"])
    assert [(e["train_loss"], e["test_accuracy"]) for e in a["history"]] == \
        [(e["train_loss"], e["test_accuracy"]) for e in b["history"]]


def test_missing_checkpoint(capsys, tmp_path):
    expect_error(capsys, tmp_path, "no checkpoint at", "--mode", "test")


def test_corrupt_checkpoint(capsys, run_copy):
    (run_copy / "checkpoint_best.pt").write_bytes(b"not a checkpoint")
    expect_error(capsys, run_copy, "is corrupt or not a checkpoint", "--mode", "test", "--overwrite")


def test_checkpoint_of_another_cell_class(capsys, run_copy):
    expect_error(capsys, run_copy, "trained with --lstm-cell-class ModifiedLSTMCell, not BaselineLSTMCell",
                 "--mode", "test", "--lstm-cell-class", "BaselineLSTMCell", "--overwrite")


def test_checkpoint_of_another_shape(capsys, run_copy):
    expect_error(capsys, run_copy, "trained with --hidden-size 128, not 64", "--mode", "test", "--hidden-size", "64",
                 "--overwrite")


def test_resume_or_test_without_the_clamps_is_refused(capsys, run_copy):
    expect_error(capsys, run_copy, "was trained with other settings (clamps: True -> False)",
                 "--mode", "train", "--end-epoch", "3", "--no-clamps")
    expect_error(capsys, run_copy, "trained with the clamps of c and the parameters; --no-clamps does not apply",
                 "--mode", "test", "--no-clamps", "--overwrite")


def test_a_run_without_clamps_records_it_and_trains_unclamped(capsys, tmp_path, mnist_root):
    """--no-clamps: the config says so, the weights may leave [-1, 1], and the test reads it back."""
    from hybrid_lstm.runs.checkpoint import Checkpoint

    folder = tmp_path / "unclamped"
    code, out, err = run_cli(capsys, "--mode", "train", "--checkpoint-dir", folder, "--data-dir", mnist_root,
                             "--train-subset", "256", "--test-subset", "64", "--threads", "1", "--end-epoch", "1",
                             "--lr", "0.5", "--no-clamps", "--lstm-cell-class", "BaselineLSTMCell")
    assert code == 0, err
    checkpoint = Checkpoint.load(folder / "checkpoint_last.pt")
    model = checkpoint.classifier()
    assert checkpoint.config["clamps"] is False and not model.clamps
    assert max(parameter.abs().max() for parameter in model.parameters()) > 1.0
    code, out, err = run_cli(capsys, "--mode", "test", "--checkpoint-dir", folder, "--data-dir", mnist_root,
                             "--test-subset", "64", "--threads", "1")
    assert code == 0, err


def test_checkpoints_from_before_the_clamps_field_load_as_clamped(tmp_path):
    from hybrid_lstm.runs.checkpoint import Checkpoint

    checkpoint = Checkpoint.load(REPO / "runs/seqmnist/rowwise-ModifiedLSTMCell-seed0/checkpoint_best.pt")
    assert checkpoint.config["clamps"] is True and checkpoint.classifier().clamps


@pytest.mark.parametrize("argv, change", [
    (["--lr", "0.01"], "lr: 0.001 -> 0.01"),
    (["--hidden-size", "64"], "hidden_size: 128 -> 64"),
    (["--lstm-cell-class", "BaselineLSTMCell"], "lstm_cell_class: 'ModifiedLSTMCell' -> 'BaselineLSTMCell'"),
    (["--seed", "5"], "seed: 0 -> 5"),
    (["--batch-size", "64"], "batch_size: 128 -> 64"),
    (["--input-size", "14"], "input_size: 28 -> 14"),
    (["--permute", "3"], "permute: None -> 3"),
])
def test_resume_with_other_settings_is_refused_and_changes_nothing(capsys, run_copy, argv, change):
    """One line naming the changed setting; the run folder byte for byte as it was (expect_error)."""
    expect_error(capsys, run_copy, f"was trained with other settings ({change})", "--mode", "train",
                 "--end-epoch", "3", *argv)


@pytest.mark.parametrize("argv, message", [
    (["--mode", "test", "--n-timestep", "0"], "must be a positive integer"),
    (["--mode", "test", "--n-timestep", "16", "-4"], "must be a positive integer"),
    (["--mode", "train", "--input-size", "5"], "must divide 784"),
    (["--mode", "train", "--lstm-cell-class", "GRUCell"], "invalid choice: 'GRUCell'"),
    (["--mode", "test", "--reset", "sideways"], "invalid choice: 'sideways'"),
    (["--mode", "train", "--overwrite", "--validation-size", "60000"], "leaves no training images"),
])
def test_bad_flags(capsys, run_copy, argv, message):
    expect_error(capsys, run_copy, message, *argv)


def test_existing_results_without_overwrite(capsys, run_copy):
    expect_error(capsys, run_copy, "test_results.json exists; pass --overwrite", "--mode", "test")


def test_finished_run_without_overwrite(capsys, run_copy):
    expect_error(capsys, run_copy, "is already trained for 2 epochs", "--mode", "train", "--end-epoch", "2")


def test_best_checkpoint_without_last_is_not_overwritten(capsys, run_copy):
    (run_copy / "checkpoint_last.pt").unlink()
    expect_error(capsys, run_copy, "holds an earlier run's checkpoint_best.pt but no checkpoint_last.pt", "--mode", "train")


def test_log_of_an_attempt_that_saved_nothing_starts_afresh(capsys, tmp_path, mnist_root):
    (tmp_path / "train.log").write_text("# an attempt stopped before its first save\n")
    code, _, _ = run_cli(capsys, "--mode", "train", "--checkpoint-dir", tmp_path, "--data-dir", mnist_root,
                         "--end-epoch", "1", "--train-subset", "256", "--test-subset", "128", "--threads", "1")
    assert code == 0 and (tmp_path / "checkpoint_last.pt").exists()
    log = (tmp_path / "train.log").read_text().splitlines()
    assert log[0] == "# an attempt stopped before its first save" and log[1].startswith("# run_seqmnist.py")
    assert log[2].startswith("epoch 1/1 ")


def test_baseline_checkpoint_is_tested_as_ann_only(capsys, tmp_path, mnist_root):
    common = ["--checkpoint-dir", tmp_path, "--data-dir", mnist_root, "--lstm-cell-class", "BaselineLSTMCell",
              "--end-epoch", "1", "--train-subset", "128", "--test-subset", "128", "--threads", "1"]
    assert run_cli(capsys, "--mode", "train", *common)[0] == 0
    code, out, _ = run_cli(capsys, "--mode", "test", *common)
    assert code == 0 and "has no spiking equivalent" in out
    assert json.loads((tmp_path / "test_results.json").read_text())["hybrid"] == []


def test_reference_simulation_gives_the_same_results(run_copy, capsys, mnist_root):
    """--simulation reference: same accuracy and spike totals as the default fast path."""
    fast = json.loads((run_copy / "test_results.json").read_text())
    code, out, _ = run_cli(capsys, "--mode", "test", "--checkpoint-dir", run_copy, "--data-dir", mnist_root,
                           "--n-timestep", "8", "32", "--simulation", "reference", "--overwrite", *SMALL)
    assert code == 0
    reference = json.loads((run_copy / "test_results.json").read_text())
    assert [h["simulation"] for h in fast["hybrid"]] == ["fast", "fast"]
    assert [h["simulation"] for h in reference["hybrid"]] == ["reference", "reference"]
    for a, b in zip(fast["hybrid"], reference["hybrid"]):
        assert (a["accuracy"], a["spike_totals"]) == (b["accuracy"], b["spike_totals"])


def test_best_checkpoint_is_the_best_test_epoch(trained):
    """The authors' selection: checkpoint_best.pt is the epoch with the highest test accuracy."""
    best = torch.load(trained / "checkpoint_best.pt", weights_only=True)
    history = json.loads((trained / "history.json").read_text())["history"]
    top = max(history, key=lambda epoch: epoch["test_accuracy"])
    assert best["selected_on"] == "test" and best["epochs_done"] == top["epoch"]
    assert best["accuracy"] == top["test_accuracy"]


def test_a_run_resumes_on_a_fresh_clone_from_its_committed_state(tmp_path, mnist_root, uninterrupted):
    """What survives a new machine is what git keeps: a run stopped mid-epoch is committed
    under runs/seqmnist/ with the project's .gitignore, cloned elsewhere and resumed there; it
    continues at the saved update and ends with an uninterrupted run's weights."""
    origin = tmp_path / "origin"
    run = origin / "runs" / "seqmnist" / "pixelwise-ModifiedLSTMCell-seed9"
    run.mkdir(parents=True)
    shutil.copy(REPO / ".gitignore", origin / ".gitignore")
    process = subprocess.Popen(train_command(run, mnist_root, 2), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    while not (run / "checkpoint_last.pt").exists() and process.poll() is None:  # no deadline: a busy CPU is slow
        time.sleep(0.005)
    assert process.poll() is None, "the run ended before its first save was seen"
    os.kill(process.pid, signal.SIGSTOP)
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    saved = torch.load(run / "checkpoint_last.pt", weights_only=True)["partial_epoch"]["batches_done"]

    def git(*args, cwd=origin):
        subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@t", *args], cwd=cwd, check=True,
                       capture_output=True)

    git("init", "-q")
    git("add", "-A")
    git("commit", "-q", "-m", "run state")
    clone = tmp_path / "clone"
    git("clone", "-q", str(origin), str(clone), cwd=tmp_path)
    resumed = clone / "runs" / "seqmnist" / run.name
    assert sorted(p.name for p in resumed.iterdir()) == ["checkpoint_last.pt", "train.log"]
    subprocess.run(train_command(resumed, mnist_root, 2), check=True, capture_output=True)
    assert f"# resumed after 0 epochs and {saved} batches" in (resumed / "train.log").read_text()
    a, b = uninterrupted, torch.load(resumed / "checkpoint_last.pt", weights_only=True)
    assert all(torch.equal(a["model"][key], b["model"][key]) for key in a["model"])


def test_documented_flag_table_lists_every_flag():
    """The documented table of run_seqmnist.py flags stays complete as flags are added."""
    guide = (REPO / "docs" / "seqmnist.md").read_text()
    table = guide[guide.index("## Flags"):].split("\n\n")[1]
    parser_flags = {option for action in run_seqmnist.build_parser()._actions for option in action.option_strings
                    if option.startswith("--") and option != "--help"}
    assert {flag for flag in parser_flags if f"`{flag}" not in table} == set()

