"""The grid's steps as jobs: the Slurm plan and parameters (no Slurm needed), and the one job
function run through submitit's local executor."""
import os
import signal
import sys
from pathlib import Path

import pytest
from test_reproduce import fake_grid

from reproduce import executors, run_grid
from reproduce.executors import SlurmOptions, plan_jobs, slurm_parameters, step_job


def test_plan_has_one_job_per_pending_step_with_its_dependencies(tmp_path):
    """Steps wait for the step before them in their run; a run's first step for the last pending
    step of the run it comes after; finished steps are not planned."""
    runs = fake_grid(tmp_path)
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "one.txt").write_text("done")
    jobs = {(job.run, job.step): job for job in plan_jobs(runs, threads=2)}
    assert list(jobs) == [("first", "two"), ("broken", "fails"), ("broken", "after-failure"), ("dependent", "x"),
                          ("needs-first", "y")]
    assert jobs[("first", "two")].after == ()
    assert jobs[("broken", "after-failure")].after == (("broken", "fails"),)
    assert jobs[("dependent", "x")].after == (("broken", "after-failure"),)
    assert jobs[("needs-first", "y")].after == (("first", "two"),)
    assert jobs[("first", "two")].argv[0] == sys.executable and jobs[("first", "two")].log.endswith("runner.log")
    # a step already queued on Slurm is not planned again, and what follows it waits for it
    replanned = {(job.run, job.step): job for job in plan_jobs(runs, 2, {"broken": {"fails": "101"}})}
    assert ("broken", "fails") not in replanned and replanned[("broken", "after-failure")].after == (("broken", "fails"),)


def test_slurm_parameters_of_a_job(tmp_path):
    job = next(job for job in plan_jobs(fake_grid(tmp_path), threads=4) if job.step == "after-failure")
    options = SlurmOptions("gpu", cpus=4, gpus_per_job=1, time_limit_min=90)
    assert slurm_parameters(job, options, {("broken", "fails"): "4242"}) == {
        "job_name": "broken.after-failure", "partition": "gpu", "cpus_per_task": 4, "time": 90,
        "gpus_per_node": 1, "dependency": "afterok:4242"}


def test_dry_run_prints_the_pending_grid_as_jobs(capsys, monkeypatch, tmp_path):
    monkeypatch.setattr(run_grid, "experiment_grid", lambda: fake_grid(tmp_path))
    assert run_grid.main(["--executor", "slurm", "--partition", "cpu", "--dry-run", "--threads", "2"]) == 0
    out = capsys.readouterr().out
    assert "first.one: python -c " in out and '"partition": "cpu", "cpus_per_task": 2' in out
    assert '"dependency": "afterok:<first.one>"' in out and "6 job(s) to submit" in out
    assert not (tmp_path / "a" / "one.txt").exists()  # nothing ran


@pytest.mark.parametrize("argv, message", [
    (["--executor", "pbs"], "invalid choice: 'pbs'"),
    (["--executor", "slurm"], "--executor slurm needs --partition"),
    (["--executor", "slurm", "--partition", "cpu"], "sbatch is not on PATH"),
    (["--partition", "cpu"], "--partition and --dry-run are for --executor slurm"),
])
def test_executor_errors_are_one_line(capsys, monkeypatch, argv, message):
    monkeypatch.setattr(executors.shutil, "which", lambda name: None)  # no Slurm on this machine
    try:
        code = run_grid.main(argv)
    except SystemExit as exit_:
        code = exit_.code
    err = capsys.readouterr().err
    lines = [line for line in err.strip().splitlines() if not line.startswith("# runs under")]
    assert code == 2 and len(lines) == 1 and message in lines[0], err


def test_two_steps_run_as_jobs_of_submitits_local_executor(tmp_path):
    """The job function Slurm would run, through submitit's own job machinery (pickled, run in a
    separate process): two steps of a run, in order, their output in the log."""
    submitit = pytest.importorskip("submitit")
    run = fake_grid(tmp_path)[0]
    executor = submitit.LocalExecutor(folder=str(tmp_path / "jobs"))
    executor.update_parameters(timeout_min=5)
    for job in plan_jobs([run], threads=1):
        submitted = executor.submit(step_job, list(job.argv), job.log, 1, str(tmp_path))
        assert submitted.result() == 0
    assert (tmp_path / "a" / "one.txt").read_text() == "ok" and (tmp_path / "a" / "two.txt").read_text() == "ok"
    assert plan_jobs([run], 1) == []  # both done: nothing pending


def job_process_of(run_folder) -> int:
    """The pid of the submitit task running the training of run_folder: its command's parent."""
    for entry in Path("/proc").iterdir():
        try:
            command = (entry / "cmdline").read_bytes().split(b"\0")
            if b"run_seqmnist.py" in command[1] and str(run_folder).encode() in command:
                return int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
    raise AssertionError(f"no training of {run_folder} is running")


def test_a_preempted_training_job_is_requeued_and_ends_with_the_same_weights(tmp_path, mnist_root):
    """A training job through submitit's local executor, preempted once it has saved mid-epoch
    (the signal Slurm sends before a time limit or a preemption): it stops its command and is
    requeued, the command resumes from its last save, and the final weights equal those of an
    uninterrupted run bit for bit."""
    import time

    import torch
    from test_cli import train_command

    submitit = pytest.importorskip("submitit")
    from reproduce.executors import StepJob

    straight, preempted = tmp_path / "straight", tmp_path / "preempted"
    assert step_job(train_command(straight, mnist_root, 1), str(tmp_path / "straight.log"), 1, str(tmp_path)) == 0
    executor = submitit.LocalExecutor(folder=str(tmp_path / "jobs"))
    executor.update_parameters(timeout_min=10)
    job = executor.submit(StepJob(), train_command(preempted, mnist_root, 1), str(tmp_path / "preempted.log"), 1,
                          str(tmp_path))
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        try:
            saved = torch.load(preempted / "checkpoint_last.pt", weights_only=True)["partial_epoch"]
        except (OSError, RuntimeError, EOFError, KeyError, TypeError):
            saved = None
        if saved and saved["batches_done"] >= 10:
            break
        time.sleep(0.2)
    os.kill(job_process_of(preempted), signal.SIGUSR2)  # what Slurm sends before a time limit or a preemption
    assert job.result() == 0
    log = (preempted / "train.log").read_text()
    assert "# resumed after 0 epochs and" in log
    a, b = (torch.load(d / "checkpoint_last.pt", weights_only=True) for d in (straight, preempted))
    assert a["epochs_done"] == b["epochs_done"] == 1
    assert all(torch.equal(a["model"][key], b["model"][key]) for key in a["model"])
