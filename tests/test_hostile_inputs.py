"""Hostile inputs and faults, grouped by entry point: the library, then each command. A command-line
case asserts the exit code, the one-line message and that no file of the folder changed or was left
behind (conftest.expect_error)."""
import errno
import fcntl
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

import bleu_vs_timesteps
import modify_checkpoint_iwslt
import prepare_deen
from conftest import REPO, SMALL, expect_error, random_cell, run_cli, snapshot
from hybrid_lstm import HybridLSTMCell, SequenceClassifier, convert_cell, convert_weights, simulate_gates
from hybrid_lstm.runs import records
from hybrid_lstm.runs import data, files, run_folder, training
from hybrid_lstm.runs.files import RunError, save_atomic
from loihi_sim import benchmark as loihi_benchmark
from loihi_sim.hardware import CoreLimits
from reproduce import grid, make_report, run_grid


def one_line_error(capsys, code, message):
    out, err = capsys.readouterr()
    assert code == 2, (out, err)
    assert len(err.strip().splitlines()) == 1 and message in err, err
    return out


def converted(seed, input_size=5, hidden_size=4):
    return convert_cell(random_cell(input_size, hidden_size, seed))


def assert_equal_counts(a, b):
    assert all(torch.equal(x, y) for x, y in zip(a, b))


# ---------- the library: hybrid cells, conversion and both simulations

def test_fast_path_simulates_the_weights_after_load_state_dict():
    old, new = converted(0), converted(1)
    cell = HybridLSTMCell(old, 5, 32)
    x, h, c = torch.rand(3, 5), torch.rand(3, 4) * 2 - 1, torch.zeros(3, 4)
    cell(x, (h, c))  # prepares the fast path from the old weights
    cell.load_state_dict({"weight": new.weight, "bias": new.bias})
    reference = HybridLSTMCell(new, 5, 32, simulation="reference")
    assert all(torch.equal(a, b) for a, b in zip(cell(x, (h, c)), reference(x, (h, c))))
    assert_equal_counts(cell.backend(torch.cat([x, h], 1), cell.weights()), simulate_gates(torch.cat([x, h], 1), new, 32))


def test_fast_path_simulates_the_weights_after_an_in_place_change():
    cell = HybridLSTMCell(converted(2), 5, 32)
    u = torch.rand(3, 9) * 2 - 1
    cell.backend(u, cell.weights())
    with torch.no_grad():
        cell.weight.neg_()
        cell.bias.add_(100)
    assert_equal_counts(cell.backend(u, cell.weights()), simulate_gates(u, cell.weights(), 32))


def test_hybrid_classifier_loaded_from_a_state_dict_runs_the_loaded_weights():
    torch.manual_seed(3)
    trained, other = SequenceClassifier("ModifiedLSTMCell", 7, 6), SequenceClassifier("ModifiedLSTMCell", 7, 6)
    x = torch.rand(4, 5, 7)
    source, target = trained.to_hybrid(16), other.to_hybrid(16)
    target(x)  # prepared from the other model's weights
    target.load_state_dict(source.state_dict())
    reference = trained.to_hybrid(16, simulation="reference")
    with torch.no_grad():
        assert torch.equal(target(x), reference(x))


def test_non_finite_weights_are_refused_at_conversion():
    cell = random_cell(5, 4, 6)
    with torch.no_grad():
        cell.weight_hh[2, 1] = float("nan")
    with pytest.raises(ValueError, match="weight_hh holds non-finite values"):
        convert_cell(cell)
    with pytest.raises(ValueError, match="bias holds non-finite values"):
        convert_weights(cell.weight_ih, torch.zeros(16, 4), torch.full((16,), float("inf")))


@pytest.mark.parametrize("bad", [float("inf"), float("nan")])
def test_non_finite_inputs_are_refused_by_both_simulations(bad):
    weights = converted(7)
    u = torch.rand(2, 9)
    u[1, 3] = bad
    with pytest.raises(ValueError, match="u holds non-finite values"):
        simulate_gates(u, weights, 8)
    cell = HybridLSTMCell(weights, 5, 8)
    with pytest.raises(ValueError, match="x holds non-finite values"):
        cell(u[:, :5], (torch.zeros(2, 4), torch.zeros(2, 4)))


@pytest.mark.parametrize("simulation", ["fast", "reference"])
def test_batch_of_zero_samples(simulation):
    cell = HybridLSTMCell(converted(8), 5, 16, simulation=simulation)
    h, c = cell(torch.zeros(0, 5), (torch.zeros(0, 4), torch.zeros(0, 4)))
    assert h.shape == c.shape == (0, 4)


@pytest.mark.parametrize("x_size, h_size, named", [(5, 3, "h"), (6, 3, "x"), (6, 4, "x"), (5, 5, "h")])
def test_wrong_input_sizes_name_the_tensor(x_size, h_size, named):
    cell = HybridLSTMCell(converted(9), 5, 16)
    with pytest.raises(ValueError, match=f"{named} must have shape"):
        cell(torch.zeros(2, x_size), (torch.zeros(2, h_size), torch.zeros(2, 4)))


# ---------- run_seqmnist.py, training

@pytest.mark.parametrize("argv, message", [
    (["--overwrite", "--lr", "-1"], "--lr must be a positive number"),
    (["--overwrite", "--seed", "-1"], "--seed: must be in [0, 2^63)"),
    (["--overwrite", "--momentum", "-0.5"], "--momentum must be >= 0"),
    (["--overwrite", "--grad-clip", "-1"], "--grad-clip must be a positive number"),
    (["--overwrite", "--grad-clip", "0"], "--grad-clip must be a positive number"),
    (["--overwrite", "--grad-clip", "nan"], "--grad-clip must be a positive number"),
    (["--overwrite", "--lr", "inf"], "--lr must be a positive number"),
    (["--overwrite", "--device", "mps"], "only cpu and cuda are supported"),
    (["--overwrite", "--device", "meta"], "only cpu and cuda are supported"),
    (["--overwrite", "--device", "tpu"], "unknown --device 'tpu'"),
])
def test_training_flags_are_refused_before_the_folder_is_touched(capsys, run_copy, argv, message):
    expect_error(capsys, run_copy, message, "--mode", "train", "--end-epoch", "3", *argv)


def test_a_diverging_training_stops_with_the_last_checkpoint_kept():
    model = SequenceClassifier("ModifiedLSTMCell", 4, 3)
    optimizer = torch.optim.RMSprop(model.parameters())
    inputs, labels = torch.rand(8, 5, 4), torch.randint(0, 10, (8,))
    inputs[3, 2, 1] = float("nan")
    with pytest.raises(RunError, match="training diverged: the loss is nan at batch 1"):
        training.train_epoch(model, optimizer, inputs, labels, 8, 1.0, seed=0)


def test_history_lost_in_a_crash_is_rebuilt_from_checkpoint_last(capsys, run_copy, mnist_root):
    """A crash between writing checkpoint_last.pt and history.json: the grid, which reads
    history.json, would never see the run finish. The next command repairs the pair."""
    recorded = json.loads((run_copy / "history.json").read_text())
    (run_copy / "history.json").write_text(json.dumps({**recorded, "history": recorded["history"][:1]}))
    assert not grid.trained(run_copy, 2)()
    code, _, err = run_cli(capsys, "--mode", "train", "--checkpoint-dir", run_copy, "--data-dir", mnist_root,
                           "--end-epoch", "2", *SMALL)
    assert code == 2 and "is already trained for 2 epochs" in err
    assert grid.trained(run_copy, 2)()


def test_disk_full_save_is_one_line_and_leaves_no_temporary_file(tmp_path, monkeypatch):
    def full(obj, handle):
        handle.write(b"partial")
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(files.torch, "save", full)
    with pytest.raises(RunError, match="cannot write .*checkpoint_last.pt: No space left on device"):
        save_atomic({"a": 1}, tmp_path / "checkpoint_last.pt")
    assert list(tmp_path.iterdir()) == []


def test_interrupted_training_says_it_resumes_from_the_last_saved_update(tmp_path, mnist_root):
    process = subprocess.Popen([sys.executable, str(REPO / "run_seqmnist.py"), "--checkpoint-dir", str(tmp_path),
                                "--data-dir", str(mnist_root), "--train-subset", "60000", "--test-subset", "128",
                                "--threads", "1", "--end-epoch", "50"], stderr=subprocess.PIPE, text=True,
                               # a shell that starts the suite in the background ignores Ctrl-C in its children
                               preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    deadline = 120
    start = time.time()
    while not (tmp_path / "train.log").exists() and time.time() - start < deadline:
        time.sleep(0.05)
    process.send_signal(signal.SIGINT)  # Ctrl-C
    _, err = process.communicate(timeout=60)
    assert process.returncode == 130 and "resume from the last saved update" in err


@pytest.mark.parametrize("argv, message", [
    (["--seed", "99999999999999999999"], "argument --seed: must be in [0, 2^63)"),
    (["--permute", "99999999999999999999"], "argument --permute: must be in [0, 2^63)"),
])
def test_training_refuses_a_seed_torch_cannot_take_and_creates_nothing(capsys, tmp_path, argv, message):
    code, _, err = run_cli(capsys, "--checkpoint-dir", tmp_path / "new", *SMALL, *argv)
    assert code == 2 and len(err.strip().splitlines()) == 1 and message in err
    assert list(tmp_path.iterdir()) == []


def test_a_checkpoint_dir_name_too_long_for_the_file_system_is_one_line(capsys, tmp_path):
    code, _, err = run_cli(capsys, "--checkpoint-dir", tmp_path / ("x" * 300), *SMALL, "--end-epoch", "1")
    assert code == 2 and len(err.strip().splitlines()) == 1 and "File name too long" in err
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("name", ["", "a-file"])
def test_checkpoint_dir_that_is_empty_or_a_file(capsys, tmp_path, monkeypatch, name):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "a-file").write_text("x")
    before = snapshot(tmp_path)
    code, _, err = run_cli(capsys, "--mode", "train", "--checkpoint-dir", name, *SMALL)
    assert code == 2 and len(err.strip().splitlines()) == 1
    assert ("must name a folder" if not name else "is a file, not a folder") in err
    assert snapshot(tmp_path) == before


@pytest.mark.parametrize("argv", [["--mode", "train", "--end-epoch", "3"],
                                  ["--mode", "test", "--n-timestep", "4", "--overwrite"]])
def test_second_training_or_test_of_a_folder_is_refused_naming_the_holder(capsys, run_copy, argv):
    """Two tests of one run would each write test_results.json and lose the other's rows."""
    holder = os.open(run_copy, os.O_RDONLY)
    try:
        fcntl.flock(holder, fcntl.LOCK_EX | fcntl.LOCK_NB)
        expect_error(capsys, run_copy, f"is being trained or tested by process {os.getpid()}", *argv)
    finally:
        os.close(holder)


# ---------- run_seqmnist.py --mode test

def test_checkpoint_with_nan_weights_is_refused_by_test_mode(capsys, run_copy):
    checkpoint = torch.load(run_copy / "checkpoint_best.pt", weights_only=True)
    checkpoint["model"]["cells.0.weight_ih"][0, 0] = float("nan")
    torch.save(checkpoint, run_copy / "checkpoint_best.pt")
    expect_error(capsys, run_copy, "weight_ih holds non-finite values", "--mode", "test", "--overwrite",
                 "--simulation", "reference")


def test_test_mode_checks_the_folder_is_writable_before_computing(capsys, run_copy, monkeypatch):
    monkeypatch.setattr(run_folder.os, "access", lambda path, mode: False)  # root ignores chmod
    expect_error(capsys, run_copy, "permission denied", "--mode", "test", "--overwrite")


@pytest.mark.parametrize("argv, message", [
    (["--mode", "test", "--output", "."], "is a folder"),
    (["--mode", "test", "--output", "no/such/folder/results.json"], "does not exist"),
    (["--mode", "train", "--output", "results.json"], "--output is for --mode test"),
])
def test_bad_output_is_refused_before_computing(capsys, run_copy, argv, message):
    expect_error(capsys, run_copy, message, *argv)


@pytest.mark.parametrize("name, message", [
    ("checkpoint_best.pt", "would overwrite a run's own checkpoint_best.pt"),
    ("checkpoint_last.pt", "would overwrite a run's own checkpoint_last.pt"),
    ("history.json", "would overwrite a run's own history.json"),
    ("test_results.partial.json", "would overwrite a run's own test_results.partial.json"),
    ("results.txt", "give a .json file"),
])
def test_test_mode_never_writes_results_over_a_runs_own_files(capsys, run_copy, name, message):
    """Even with --overwrite, which discards earlier results, never the model or the run's records."""
    expect_error(capsys, run_copy, message, "--mode", "test", "--overwrite", "--output", str(run_copy / name))


def test_test_mode_refuses_its_input_checkpoint_through_a_link(capsys, run_copy):
    (run_copy / "model.json").symlink_to(run_copy / "checkpoint_best.pt")
    expect_error(capsys, run_copy, "is this command's input", "--mode", "test", "--overwrite", "--output",
                 str(run_copy / "model.json"))


def test_hand_made_checkpoint_config_is_one_line(capsys, run_copy):
    checkpoint = torch.load(run_copy / "checkpoint_best.pt", weights_only=True)
    checkpoint["config"]["hidden_size"] = "many"
    torch.save(checkpoint, run_copy / "checkpoint_best.pt")
    expect_error(capsys, run_copy, "config 'hidden_size' must be a positive integer, got 'many'",
                 "--mode", "test", "--overwrite")


def test_timesteps_beyond_the_fast_path_are_refused_before_computing(capsys, run_copy):
    expect_error(capsys, run_copy, "--n-timestep 100000000: T = 100000000", "--mode", "test", "--overwrite",
                 "--n-timestep", "16", "100000000")


# ---------- the MNIST data (run_seqmnist.py, every MNIST command)

def test_same_size_corrupted_mnist_file_is_detected_and_rebuilt(tmp_path, mnist_root, capsys):
    raw = tmp_path / "MNIST" / "raw"
    shutil.copytree(Path(mnist_root) / "MNIST" / "raw", raw)
    labels = raw / "t10k-labels-idx1-ubyte"
    corrupted = bytearray(labels.read_bytes())
    corrupted[-1] ^= 1
    labels.write_bytes(bytes(corrupted))
    assert data.remove_corrupt_files(tmp_path) == ["t10k-labels-idx1-ubyte"] and not labels.exists()
    assert data.remove_corrupt_files(tmp_path) == []


def test_mnist_message_names_what_failed(tmp_path, mnist_root, monkeypatch, capsys):
    """Files present: torchvision only reads them, so a failure is not a failed download."""
    from torchvision.datasets import MNIST

    shutil.copytree(Path(mnist_root) / "MNIST", tmp_path / "MNIST")
    calls = []

    def unreadable(self, *args, **kwargs):
        calls.append(1)
        if len(calls) == 1:
            raise RuntimeError("Dataset not found or corrupted.")
        return original(self, *args, **kwargs)

    original = MNIST.__init__
    monkeypatch.setattr(MNIST, "__init__", unreadable)
    images, _ = data.load_mnist(tmp_path, train=False)
    err = capsys.readouterr().err
    assert images.shape == (10000, 28, 28)
    assert "torchvision could not read MNIST" in err and "download failed" not in err


def test_a_read_only_data_dir_with_some_mnist_files_names_them(tmp_path, mnist_root, monkeypatch, capsys):
    """One IDX file of four, in a folder this user cannot write: one line naming the missing files
    and the folder, before any download or rebuild is tried."""
    raw = tmp_path / "MNIST" / "raw"
    raw.mkdir(parents=True)
    shutil.copy(Path(mnist_root) / "MNIST" / "raw" / "t10k-labels-idx1-ubyte", raw)
    monkeypatch.setattr(data.os, "access", lambda path, mode: False)  # root ignores chmod
    before = snapshot(tmp_path)
    code, _, err = run_cli(capsys, "--checkpoint-dir", tmp_path / "run", "--data-dir", tmp_path, *SMALL,
                           "--end-epoch", "1")
    assert code == 2 and len(err.strip().splitlines()) == 1, err
    assert "lacks train-images-idx3-ubyte, train-labels-idx1-ubyte, t10k-images-idx3-ubyte" in err
    assert f"{raw} is not writable" in err and snapshot(tmp_path) == before


# ---------- python -m loihi_sim.benchmark

@pytest.mark.parametrize("argv, message", [
    (["--output", "missing/x.json"], "the folder"),
    (["--host-ops-per-second", "0"], "--host-ops-per-second must be a positive number"),
    (["--cpu-active-power-w", "nan"], "--cpu-active-power-w must be a positive number"),
    (["--output", "checkpoint_best.pt"], "would overwrite a run's own checkpoint_best.pt"),
    (["--output", "history.json"], "would overwrite a run's own history.json"),
])
def test_loihi_benchmark_checks_its_settings_before_computing(capsys, run_copy, monkeypatch, argv, message):
    monkeypatch.chdir(run_copy)
    monkeypatch.setattr(loihi_benchmark, "run", lambda args: pytest.fail("computed before checking"))
    before = snapshot(run_copy)
    one_line_error(capsys, loihi_benchmark.main(["--checkpoint-dir", str(run_copy), *argv]), message)
    assert snapshot(run_copy) == before


def test_loihi_benchmark_refuses_a_model_that_does_not_fit_before_computing(capsys, run_copy, monkeypatch):
    """A layer whose gate cores need more input axons than a core has: one line, before any emulation."""
    monkeypatch.setattr(loihi_benchmark, "CoreLimits", lambda: CoreLimits(input_axons=16))
    monkeypatch.setattr(loihi_benchmark, "timed", lambda *args: pytest.fail("computed before refusing"))
    before = snapshot(run_copy)
    one_line_error(capsys, loihi_benchmark.main(["--checkpoint-dir", str(run_copy), "--n-timestep", "8"]),
                   "does not fit Loihi: every gate core needs")
    assert snapshot(run_copy) == before


# ---------- the translation commands: the fairseq plugin, modify_checkpoint_iwslt.py, bleu_vs_timesteps.py, prepare_deen.py

def test_fairseq_recurrent_layer_follows_its_converted_buffers():
    pytest.importorskip("fairseq")
    from fairseq_custom_modules.recurrent import RecurrentLayer

    layer = RecurrentLayer("modified", 5, 4, "orthogonal", converted=True, hybrid_timesteps=16)
    first, second = converted(4), converted(5)
    layer.load_state_dict({**layer.state_dict(), "converted_weight": first.weight, "converted_bias": first.bias})
    x, state = torch.rand(2, 5), (torch.zeros(2, 4), torch.zeros(2, 4))
    layer(x, state)
    layer.load_state_dict({**layer.state_dict(), "converted_weight": second.weight, "converted_bias": second.bias})
    expected = HybridLSTMCell(second, 5, 16, simulation="reference")(x, state)
    assert all(torch.equal(a, b) for a, b in zip(layer(x, state), expected))


def fairseq_checkpoint(path: Path, weight_ih: torch.Tensor, hidden: int = 4):
    state = {}
    for layer in modify_checkpoint_iwslt.LAYERS:
        state[f"{layer}.cell.weight_ih"] = weight_ih
        state[f"{layer}.cell.weight_hh"] = torch.zeros(4 * hidden, hidden)
        state[f"{layer}.cell.bias"] = torch.zeros(4 * hidden)
    torch.save({"model": state, "cfg": {"model": {"cell_type": "modified", "converted": False}},
                "optimizer_history": [{"criterion_name": "cross_entropy", "optimizer_name": "custom_adagrad",
                                       "lr_scheduler_state": {}, "num_updates": 0}],
                "extra_state": {"train_iterator": {"epoch": 1}}}, path)


@pytest.mark.parametrize("weight_ih, message", [
    (torch.full((16, 3), float("nan")), "encoder.rnn: cannot convert: weight_ih holds non-finite values"),
    (torch.zeros(12, 3), "encoder.rnn: expected weight_ih (4H, D)"),
])
def test_modify_checkpoint_refuses_bad_weights_and_writes_nothing(capsys, tmp_path, weight_ih, message):
    fairseq_checkpoint(tmp_path / "trained.pt", weight_ih)
    before = snapshot(tmp_path)
    code = modify_checkpoint_iwslt.main(["--src-path", str(tmp_path / "trained.pt"),
                                         "--des-path", str(tmp_path / "converted.pt")])
    one_line_error(capsys, code, message)
    assert snapshot(tmp_path) == before


@pytest.mark.parametrize("destination, message", [
    ("missing/converted.pt", "the folder"), (".", "is a folder"), ("converted.json", "give a .pt file"),
    ("checkpoint_best.pt", "would overwrite a run's own checkpoint_best.pt")])
def test_modify_checkpoint_refuses_an_unwritable_destination(capsys, tmp_path, destination, message):
    fairseq_checkpoint(tmp_path / "trained.pt", torch.zeros(16, 3))
    before = snapshot(tmp_path)
    code = modify_checkpoint_iwslt.main(["--src-path", str(tmp_path / "trained.pt"),
                                         "--des-path", str(tmp_path / destination)])
    one_line_error(capsys, code, message)
    assert snapshot(tmp_path) == before


@pytest.mark.parametrize("argv, message", [
    (["--n-timestep", "0"], "--n-timestep: must be a positive integer"),
    (["--threads", "0"], "--threads: must be a positive integer"),
    ([], "is not a fairseq-preprocess output folder"),
    (["--output", "."], "is a folder"),
    (["--output", "checkpoint_best.pt"], "would overwrite a run's own checkpoint_best.pt"),
    (["--output", "converted.pt"], "give a .json file"),
])
def test_bleu_vs_timesteps_refuses_bad_inputs_before_translating(capsys, tmp_path, monkeypatch, argv, message):
    data_dir = tmp_path / "bin"
    if argv[:1] == ["--output"]:
        data_dir.mkdir()
        for name in ("dict.de.txt", "dict.en.txt", "test.de-en.de.bin"):
            (data_dir / name).write_text("")
        (tmp_path / "converted.pt").write_text("")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(bleu_vs_timesteps, "generate", lambda *args: pytest.fail("translated before checking"))
    before = snapshot(tmp_path)
    code = None
    try:
        code = bleu_vs_timesteps.main(["--data", str(data_dir), "--converted", str(tmp_path / "converted.pt"),
                                       "--output", str(tmp_path / "bleu.json"), *argv])
    except SystemExit as exit_:
        code = exit_.code
    one_line_error(capsys, code, message)
    assert snapshot(tmp_path) == before


def test_bleu_vs_timesteps_resumes_after_its_last_finished_model(capsys, tmp_path, monkeypatch):
    """Interrupted during T = 16, the rerun translates T = 16 only; a changed checkpoint redoes everything."""
    data_dir = tmp_path / "bin"
    data_dir.mkdir()
    for name in ("dict.de.txt", "dict.en.txt", "test.de-en.de.bin"):
        (data_dir / name).write_text("")
    (tmp_path / "converted.pt").write_bytes(b"weights")
    calls = []

    def generate(data, checkpoint, overrides, threads):
        calls.append(overrides)
        if len(calls) == 3:
            raise KeyboardInterrupt
        return {"fairseq_bleu4": 20.0 + len(calls), "sacrebleu": 21.0, "sentences": 3, "seconds": 0.1, "command": "x"}

    monkeypatch.setattr(bleu_vs_timesteps, "generate", generate)
    output = tmp_path / "bleu.json"
    argv = ["--data", str(data_dir), "--converted", str(tmp_path / "converted.pt"), "--n-timestep", "8", "16",
            "--output", str(output)]
    assert bleu_vs_timesteps.main(argv) == 130 and "rerun the same command" in capsys.readouterr().err
    partial = json.loads((tmp_path / "bleu.partial.json").read_text())
    assert [row["label"] for row in partial["results"]] == ["ANN, --cell-type modified", "hybrid T=8"]
    assert bleu_vs_timesteps.main(argv) == 0 and "# resumed from" in capsys.readouterr().out
    overrides = "{{'hybrid_timesteps': {}, 'hybrid_initial_potential': 'one'}}".format
    assert calls == ["", overrides(8), overrides(16), overrides(16)]
    results = records.read(output, "bleu-vs-t").results
    assert [(row.label, row.fairseq_bleu4) for row in results] == \
           [("ANN, --cell-type modified", 21.0), ("hybrid T=8", 22.0), ("hybrid T=16", 24.0)]
    assert not (tmp_path / "bleu.partial.json").exists()
    calls.clear()
    (tmp_path / "bleu.partial.json").write_text(json.dumps({**partial, "converted_sha256": "another checkpoint"}))
    assert bleu_vs_timesteps.main(argv) == 130 and len(calls) == 3  # nothing reused: interrupted at the third again


def test_prepare_deen_refuses_a_package_dir_that_is_a_file(capsys, tmp_path):
    (tmp_path / "packages").write_text("x")
    before = snapshot(tmp_path)
    code = prepare_deen.main(["debian", "--out", str(tmp_path / "out"), "--package-dir", str(tmp_path / "packages")])
    one_line_error(capsys, code, "is a file, not a folder")
    assert snapshot(tmp_path) == before


@pytest.mark.skipif(shutil.which("dpkg-deb") is None, reason="needs Debian's dpkg-deb")
def test_prepare_deen_fetches_a_corrupt_cached_package_again(tmp_path, monkeypatch):
    monkeypatch.setattr(prepare_deen, "DEBIAN_PACKAGES", ("tiny",))
    (tmp_path / "tiny_1.0_all.deb").write_bytes(b"not an archive")
    fetched = []

    def download(package, directory):  # stands in for apt-get download: a valid tiny package
        source = tmp_path / "source"
        (source / "DEBIAN").mkdir(parents=True)
        (source / "DEBIAN" / "control").write_text("Package: tiny\nVersion: 1.0\nArchitecture: all\n"
                                                   "Maintainer: t <t@t>\nDescription: t\n")
        (source / "usr").mkdir()
        (source / "usr" / "hello").write_text("hi")
        deb = directory / "tiny_1.0_all.deb"
        subprocess.run(["dpkg-deb", "--build", str(source), str(deb)], check=True, capture_output=True)
        fetched.append(package)
        return deb

    monkeypatch.setattr(prepare_deen, "download", download)
    root = prepare_deen.fetch_debian(tmp_path)
    assert fetched == ["tiny"] and (root / "usr" / "hello").read_text() == "hi"


# ---------- python -m reproduce.run_grid

def test_run_grid_lists_a_history_that_is_not_a_history(capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    folder = grid.seqmnist_folder("rowwise", "ModifiedLSTMCell", 0)
    folder.mkdir(parents=True)
    (folder / "history.json").write_text("[]")
    assert run_grid.main(["--list", "--only", "rowwise", "--root", str(tmp_path)]) == 0
    assert "rowwise-ModifiedLSTMCell-seed0" in capsys.readouterr().out


def test_translation_with_its_results_is_not_pending(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    run = grid.translation_run()
    bleu = Path(run.steps[-1].argv[run.steps[-1].argv.index("--output") + 1])
    bleu.parent.mkdir(parents=True)
    bleu.write_text("{}")
    assert run.pending_steps() == []  # the corpus and checkpoints are not in git, the results are


# ---------- python -m reproduce.make_report

def test_make_report_on_a_history_without_best(capsys, tmp_path):
    folder = tmp_path / grid.seqmnist_folder("rowwise", "ModifiedLSTMCell", 0)
    folder.mkdir(parents=True)
    (folder / "history.json").write_text(json.dumps({"history": [{"epoch": 1}] * 50}))
    before = snapshot(tmp_path)
    one_line_error(capsys, make_report.main(["--root", str(tmp_path)]), "is not a run_seqmnist.py history")
    assert snapshot(tmp_path) == before


def one_trained_row_wise_run(root: Path) -> Path:
    """runs/ with the committed row-wise ModifiedLSTMCell seed 0 alone (trained, tested on all images)."""
    folder = root / grid.seqmnist_folder("rowwise", "ModifiedLSTMCell", 0)
    shutil.copytree(REPO / folder.relative_to(root), folder)
    return folder


@pytest.mark.parametrize("record, field", [
    ({"hybrid": "x"}, "'test_samples' must be a positive integer"),
    ([1, 2], "a record must be a JSON object, got list"),
    ({"test_samples": 10000, "ann": {"accuracy": "high"}}, "'ann.accuracy' must be a percentage"),
    ({"test_samples": 10000, "ann": {"accuracy": 99.0}, "hybrid": "x"}, "'hybrid' must be a list"),
    ({"test_samples": 10000, "ann": {"accuracy": 99.0}, "hybrid": [{"accuracy": 99.0}]},
     "'hybrid[0].n_timestep' must be a positive integer"),
    ({"test_samples": 10000, "ann": {"accuracy": 99.0}, "hybrid": [{"n_timestep": 16, "accuracy": 150}]},
     "'hybrid[0].accuracy' must be a percentage in [0, 100], got 150"),
    ({"test_samples": 10000, "ann": {"accuracy": 99.0}, "hybrid": [{"n_timestep": 32, "accuracy": float("nan")}]},
     "'hybrid[0].accuracy' must be a percentage in [0, 100], got nan"),
])
def test_make_report_refuses_a_malformed_results_file_naming_it_and_the_field(capsys, tmp_path, record, field):
    folder = one_trained_row_wise_run(tmp_path)
    (folder / "test_results_stray.json").write_text(json.dumps(record))
    before = snapshot(tmp_path)
    one_line_error(capsys, make_report.main(["--root", str(tmp_path)]), f"test_results_stray.json: {field}")
    assert snapshot(tmp_path) == before


def test_make_report_leaves_out_a_test_of_fewer_images(tmp_path):
    """A quick test (--test-subset 50) beside the protocol's record does not replace its numbers."""
    folder = one_trained_row_wise_run(tmp_path)
    expected = make_report.build_report(tmp_path, Path("figures"))
    quick = json.loads((folder / "test_results.json").read_text())
    quick["test_samples"] = 50
    for entry in quick["hybrid"]:
        entry["accuracy"] = 12.34
    (folder / "test_results_quick.json").write_text(json.dumps(quick))
    assert make_report.build_report(tmp_path, Path("figures")) == expected


def test_make_report_checks_its_output_path_first(capsys, tmp_path):
    (tmp_path / "runs").mkdir()
    one_line_error(capsys, make_report.main(["--root", str(tmp_path), "--output", "nodir/x.md"]), "does not exist")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["runs"]
