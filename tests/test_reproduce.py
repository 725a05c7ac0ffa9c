"""The experiment grid: its runs and commands, and its runner (skip, resume order, failure, claims)."""
import fcntl
import json
import os
import shutil
from pathlib import Path

import pytest
import torch

from conftest import REPO
from reproduce import grid, paper, run_grid
from reproduce.report import pixelwise
from reproduce.grid import Run, Step, exists

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def write_step(path: Path, text: str = "ok") -> tuple:
    return ("-c", f"import pathlib; pathlib.Path({str(path)!r}).write_text({text!r})")


def fake_grid(tmp_path: Path) -> list:
    a, b = tmp_path / "a", tmp_path / "b"
    return [
        Run("first", "rowwise", a, (
            Step("one", write_step(a / "one.txt"), exists(a / "one.txt")),
            Step("two", write_step(a / "two.txt"), exists(a / "two.txt")),
        )),
        Run("broken", "pixelwise", b, (
            Step("fails", ("-c", "import sys; print('boom'); sys.exit(3)"), exists(b / "never"),
                 progress=grid.partial_progress(b / "never.json")),
            Step("after-failure", write_step(b / "not-run.txt"), exists(b / "not-run.txt")),
        )),
        Run("dependent", "chip", b, (Step("x", write_step(b / "x.txt"), exists(b / "x.txt")),), after="broken"),
        Run("needs-first", "chip", a, (Step("y", write_step(a / "y.txt"), exists(a / "y.txt")),), after="first"),
    ]


@pytest.fixture
def fake(monkeypatch, tmp_path):
    runs = fake_grid(tmp_path)
    monkeypatch.setattr(run_grid, "experiment_grid", lambda: fake_grid(tmp_path))
    return tmp_path, runs


def test_runner_runs_pending_steps_in_order_and_stops_a_run_at_its_failure(fake, capsys):
    tmp_path, _ = fake
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "one.txt").write_text("kept")  # already done: must not run again
    assert run_grid.main(["--jobs", "2"]) == 1
    assert (tmp_path / "a" / "one.txt").read_text() == "kept"
    assert (tmp_path / "a" / "two.txt").exists() and (tmp_path / "a" / "y.txt").exists()
    assert not (tmp_path / "b" / "not-run.txt").exists() and not (tmp_path / "b" / "x.txt").exists()
    err = capsys.readouterr().err
    assert "failed: broken, dependent" in err
    log = (tmp_path / "b" / "runner.log").read_text()
    assert "[broken] fails: FAILED (exit 3)" in log and "boom" in log
    first_log = (tmp_path / "a" / "runner.log").read_text()
    assert "one:" not in first_log and "[first] two: done" in first_log


def test_runner_skips_finished_runs_and_lists_what_is_pending(fake, capsys):
    tmp_path, _ = fake
    run_grid.main(["--only", "rowwise"])
    capsys.readouterr()
    assert run_grid.main(["--list"]) == 0
    listing = capsys.readouterr().out
    assert "first" in listing and "done" in listing.splitlines()[0]
    assert "pending fails, after-failure" in listing
    (tmp_path / "b").mkdir(exist_ok=True)
    (tmp_path / "b" / "never.partial.json").write_text(json.dumps({"results": [{"n_timestep": 32}, {"n_timestep": 128}]}))
    run_grid.main(["--list"])
    assert "pending fails (T = 32, 128 done), after-failure" in capsys.readouterr().out
    assert run_grid.main(["--only", "rowwise"]) == 0
    assert "all runs done" in capsys.readouterr().out


def test_runner_does_not_start_a_run_whose_prerequisite_is_not_selected(fake, capsys):
    tmp_path, _ = fake
    assert run_grid.main(["--only", "chip"]) == 1
    out = capsys.readouterr().out
    assert "[needs-first] not started: first is not complete" in out
    assert not (tmp_path / "a" / "y.txt").exists()


def test_runner_runs_the_named_runs_in_the_order_given(fake, capsys):
    assert run_grid.main(["--runs", "needs-first", "first", "--list"]) == 0
    assert [line.split()[0] for line in capsys.readouterr().out.splitlines()] == ["needs-first", "first"]


def test_grid_commands_run_the_papers_protocol():
    """Every training command runs the paper's 50 epochs; every test command of a paper's run tests the T
    of the paper's table; the low-T tests write files of their own (so the paper's rows are never
    recomputed); every prerequisite exists."""
    runs = {run.name: run for run in grid.experiment_grid()}
    for task, published in (("rowwise", paper.ROWWISE_HYBRID), ("pixelwise", paper.PIXELWISE_HYBRID)):
        for cell in grid.CELLS:
            train = runs[f"{task}-{cell}-seed0"].steps[0].argv
            assert train[train.index("--end-epoch") + 1] == "50"
        test = next(step for step in runs[f"{task}-ModifiedLSTMCell-seed0"].steps if step.name == "test").argv
        assert set(published) <= {int(t) for t in test[test.index("--n-timestep") + 1:]}
    folder = grid.seqmnist_folder("pixelwise", "ModifiedLSTMCell", 0)
    outputs = {step.name: step.argv[step.argv.index("--output") + 1] for step in runs["pixelwise-ModifiedLSTMCell-seed0"].steps
               if "--output" in step.argv}
    assert outputs == {"test-low-T": str(folder / "test_results_low-T.json"),
                       "test-half-low-T": str(folder / "test_results_half_low-T.json")}
    assert all(run.after in runs for run in runs.values() if run.after)


def test_a_rowwise_seed_tested_without_the_low_t_gets_them_in_a_file_of_its_own(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    folder = grid.seqmnist_folder("rowwise", "ModifiedLSTMCell", 3)
    folder.mkdir(parents=True)

    def low_t_step():
        run = grid.seqmnist_run("rowwise", "ModifiedLSTMCell", 3, 50, grid.ROWWISE_TEST_T, grid.INITIAL_POTENTIALS)
        return next(step for step in run.steps if step.name == "test-low-T")

    def tested(timesteps):
        (folder / "test_results.json").write_text(json.dumps({"test_samples": 10000, "ann": {"accuracy": 99.0}, "hybrid": [
            {"n_timestep": t, "accuracy": 98.0} for t in timesteps]}))

    tested(grid.ROWWISE_T)  # an older grid's test: the paper's T only
    step = low_t_step()
    assert not step.done()
    assert step.argv[step.argv.index("--n-timestep") + 1:] == ("4", "8", "--output", str(folder / "test_results_low-T.json"))
    tested(grid.ROWWISE_TEST_T)  # today's grid tests them in the main file
    assert low_t_step().done()


def test_memory_horizon_measures_a_run_and_the_report_shows_it(trained, tmp_path, mnist_root, capsys):
    from reproduce import memory_horizon

    folder = tmp_path / "runs" / grid.seqmnist_folder("pixelwise", "BaselineLSTMCell", 0)
    shutil.copytree(trained, folder)
    assert memory_horizon.main([str(folder), "--data-dir", str(mnist_root), "--test-subset", "64"]) == 0
    measured = json.loads((folder / memory_horizon.RESULTS_NAME).read_text())
    assert [entry["steps"] for entry in measured["visible_last"]] == [28, 14, 7, 4, 2]  # the tiny run is row-wise
    assert measured["test_samples"] == 64 and measured["command"].startswith("python -m reproduce.memory_horizon")
    gate = measured["forget_gate"]
    assert 0 <= gate["retention"] <= 1 and 0 < gate["mean"] < 1 and gate["final_h_spread"] > 0
    assert measured["last_checkpoint"]["epochs"] == 2 and measured["last_checkpoint"]["forget_gate"]["final_h_spread"] > 0
    trailing = measured["trailing_background_steps"]
    assert 0 <= trailing["percentile_1"] <= trailing["median"] < 28
    assert grid.memory_measured(folder, 2)() and not grid.memory_measured(folder, 3)()
    text = "\n".join(pixelwise.memory_table(tmp_path / "runs"))
    assert "BaselineLSTMCell seed 0 | 2 | " in text
    (folder / "checkpoint_best.pt").write_bytes((folder / "checkpoint_best.pt").read_bytes() + b"x")
    assert pixelwise.memory_table(tmp_path / "runs") == []  # measured on another model: not shown
    assert not grid.memory_measured(folder, 2)()


def test_forget_resolution_records_the_hybrids_own_forget_gate(trained, tmp_path, mnist_root):
    """The recorder passes the counts through unchanged: the hybrid's accuracy is the test's."""
    from reproduce import forget_resolution

    folder = tmp_path / "run"
    shutil.copytree(trained, folder)
    argv = [str(folder), "--n-timestep", "8", "--initial-potential", "one", "--data-dir", str(mnist_root),
            "--test-subset", "256"]
    assert forget_resolution.main(argv) == 0
    measured = json.loads((folder / forget_resolution.results_name(8, "one")).read_text())
    tested = json.loads((trained / "test_results.json").read_text())
    assert tested["test_samples"] == measured["test_samples"] == 256
    assert measured["hybrid"]["accuracy"] == next(r["accuracy"] for r in tested["hybrid"] if r["n_timestep"] == 8)
    shares = measured["hybrid"]["share_per_count"]
    assert len(shares) == 9 and abs(sum(shares) - 1) < 1e-12 and measured["hybrid"]["share_full_hold"] == shares[-1]
    assert 0 <= measured["hybrid"]["retention"] <= 1 and measured["hybrid"]["retention_window_steps"] == 3


def test_forget_gate_recorder_counts_every_level_and_multiplies_only_the_last_eighth():
    from types import SimpleNamespace

    from reproduce.forget_resolution import ForgetGateRecorder

    counts = [torch.tensor([[0, 1]])] * 14 + [torch.tensor([[2, 4]]), torch.tensor([[4, 3]])]  # T = 4, 16 steps
    steps = iter(counts)
    recorder = ForgetGateRecorder(lambda u, weights: SimpleNamespace(f=next(steps)), 4, 16)
    for _ in counts:
        recorder(None, None)
    assert recorder.window == 2 and recorder.histogram.tolist() == [14, 14, 1, 1, 2]
    assert recorder.retention.tolist() == [[0.5, 0.75]]  # 2/4 * 4/4 and 4/4 * 3/4; the first 14 steps are outside


def test_trailing_background_counts_the_steps_after_the_last_ink():
    from reproduce.memory_horizon import BACKGROUND, trailing_background

    inputs = torch.full((3, 10, 2), BACKGROUND)
    inputs[0, 9, 1] = 1.0  # ink at the last step: 0 after it
    inputs[1, 4, 0] = 0.5  # 5 after it
    inputs[2, 0, 0] = 0.5  # 9 after it
    assert trailing_background(inputs) == {"median": 5.0, "percentile_1": pytest.approx(0.1)}


def test_memory_horizon_rejects_a_folder_without_a_model(tmp_path, capsys):
    from reproduce import memory_horizon

    with pytest.raises(SystemExit) as exit_:
        memory_horizon.main([str(tmp_path)])
    assert exit_.value.code == 2 and "no checkpoint at" in capsys.readouterr().err


def test_a_second_runner_skips_the_run_the_first_holds(fake, capsys):
    """Two runners on one runs/ tree: a run claimed by one (its .NAME.claim flock) is skipped by the
    other, which says which process holds it, and runs nothing of it."""
    tmp_path, _ = fake
    (tmp_path / "a").mkdir()
    holder = os.open(tmp_path / "a" / ".first.claim", os.O_RDWR | os.O_CREAT)
    try:
        os.write(holder, b"process 4242")
        fcntl.flock(holder, fcntl.LOCK_EX | fcntl.LOCK_NB)
        run_grid.main(["--only", "rowwise"])
    finally:
        os.close(holder)
    assert "[first] skipped: another runner (process 4242) is running it" in capsys.readouterr().out
    assert not (tmp_path / "a" / "one.txt").exists()
    assert run_grid.main(["--only", "rowwise"]) == 0  # the claim released: first runs
    assert (tmp_path / "a" / "two.txt").exists()


def test_the_runner_finds_its_repositorys_runs_from_any_directory(capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert run_grid.main(["--list", "--only", "rowwise"]) == 0
    out, err = capsys.readouterr()
    assert f"# runs under {REPO / 'runs'}" in err and "rowwise-ModifiedLSTMCell-seed0" in out
    assert "pending train (0 of" not in out  # the committed row-wise runs are trained
    assert run_grid.main(["--list", "--root", str(tmp_path)]) == 2
    assert "no runs/ folder under --root" in capsys.readouterr().err


