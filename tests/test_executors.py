"""The grid's steps as jobs: the Slurm plan and parameters (no Slurm needed), and the one job
function run through submitit's local executor."""
import sys

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
