"""Where the grid's steps run: here (run_grid's pool of local jobs), or as Slurm jobs through submitit.

Every step is one job of the same function, step_job, under both executors. On Slurm, each
pending step is submitted with a dependency on the job before it in its run (afterok) and, for
the first, on the last pending job of the run it comes after; a step whose run has nothing
pending before it starts at once. The commands resume by themselves (checkpoints every
--save-interval-updates, partial records after every finished T), so a job cut by its time
limit or by preemption continues where it stopped when it runs again: StepJob, the callable
submitted, is submitit-checkpointable, so such a job stops its command and is requeued.
"""
import json
import os
import shlex
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import submitit

from hybrid_lstm.runs.files import GRID_LOG, write_json_atomic

from .grid import Run, Step

SLURM_FOLDER = Path("runs/slurm")  # submitit's job files and the record of what was submitted
SUBMITTED = SLURM_FOLDER / "submitted.json"


def command_line(step: Step, threads: int) -> list:
    """The step's command with this interpreter and "{threads}" replaced."""
    return [sys.executable, *(part.replace("{threads}", str(threads)) for part in step.argv)]


def step_job(argv: list, log_path: str, threads: int, root: str, started=None) -> int:
    """Run one step's command in the repository root with `threads` CPU threads, appending its output
    to log_path; returns its exit status. started(process), when given, is called once it runs."""
    environment = dict(os.environ, OMP_NUM_THREADS=str(threads), MKL_NUM_THREADS=str(threads))
    Path(log_path).parent.mkdir(parents=True, exist_ok=True)
    with open(log_path, "a") as log:
        child = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                 env=environment, cwd=root)
        if started is not None:
            started(child)
        return child.wait()


class StepJob(submitit.helpers.Checkpointable):
    """step_job as a submitit job: on a time limit or a preemption (Slurm's warning signal, or
    LocalJob._interrupt in tests) it stops the command, whose last save stands, and is requeued
    with the same arguments; the command then resumes from that save."""

    def __init__(self):
        self.child = None

    def __call__(self, argv: list, log_path: str, threads: int, root: str) -> int:
        return step_job(argv, log_path, threads, root, started=self._started)

    def _started(self, child):
        self.child = child

    def checkpoint(self, *args, **kwargs):
        """Called in a signal handler while step_job waits for the command: stop the command and reap it
        with os.waitpid (Popen.wait's lock is held by the interrupted wait), so that the requeued job
        finds the run folder free."""
        if self.child is not None:
            try:
                self.child.terminate()
                os.waitpid(self.child.pid, 0)
            except (ProcessLookupError, ChildProcessError):
                pass  # it had already ended
        return submitit.helpers.DelayedSubmission(StepJob(), *args, **kwargs)


def step_log(run: Run, step: Step) -> Path:
    return step.log or run.folder / GRID_LOG


@dataclass(frozen=True)
class SlurmOptions:
    partition: str
    cpus: int = 1  # CPU threads per job
    gpus_per_job: int = 0
    time_limit_min: int = 24 * 60
    array_limit: int = 1000  # jobs submitted per call at most (a cluster's MaxSubmitJobs)


@dataclass(frozen=True)
class PlannedJob:
    run: str
    step: str
    argv: tuple  # the command, with this interpreter
    log: str
    after: tuple  # (run, step) of the jobs it waits for

    @property
    def command(self) -> str:
        return shlex.join(["python", *self.argv[1:]])


def plan_jobs(runs: list, threads: int, submitted: dict = None) -> list:
    """One PlannedJob per pending step of runs, in order, with its dependencies; steps recorded in
    `submitted` ({run: {step: job id}}, jobs still queued or running) are not planned again."""
    submitted = submitted or {}
    by_name = {run.name: run for run in runs}
    last_pending = {}
    jobs = []
    for run in runs:
        before = None
        if run.after is not None and run.after in last_pending:
            before = last_pending[run.after]
        for step in run.pending_steps():
            if step.name in submitted.get(run.name, {}):
                before = (run.name, step.name)
                continue
            jobs.append(PlannedJob(run.name, step.name, tuple(command_line(step, threads)), str(step_log(run, step)),
                                   (before,) if before else ()))
            before = (run.name, step.name)
        if before is not None and by_name[run.name].pending_steps():
            last_pending[run.name] = before
    return jobs


def slurm_parameters(job: PlannedJob, options: SlurmOptions, ids: dict) -> dict:
    """submitit's SlurmExecutor parameters of one job; dependencies by job id where known."""
    parameters = {"job_name": f"{job.run}.{job.step}", "partition": options.partition or "<--partition>",
                  "cpus_per_task": options.cpus, "time": options.time_limit_min}
    if options.gpus_per_job:
        parameters["gpus_per_node"] = options.gpus_per_job
    waits = [ids.get(dependency, f"<{'.'.join(dependency)}>") for dependency in job.after]
    if waits:
        parameters["dependency"] = "afterok:" + ":".join(waits)
    return parameters


def check_slurm(options: SlurmOptions, dry_run: bool):
    """One-line errors (ValueError) for a Slurm submission that cannot work."""
    if not options.partition and not dry_run:
        raise ValueError("--executor slurm needs --partition (--dry-run prints the jobs without one)")
    if not dry_run and shutil.which("sbatch") is None:
        raise ValueError("--executor slurm: sbatch is not on PATH (no Slurm here); --dry-run prints the jobs")


def in_flight() -> dict:
    """{run: {step: Slurm job id}} of the recorded submissions still queued or running (squeue);
    empty where Slurm is not installed."""
    try:
        submitted = json.loads(SUBMITTED.read_text())
    except (OSError, ValueError):
        return {}
    ids = [job_id for steps in submitted.values() for job_id in steps.values()]
    if not ids or shutil.which("squeue") is None:
        return {}
    listed = subprocess.run(["squeue", "-h", "-o", "%i", "-j", ",".join(ids)], capture_output=True, text=True)
    alive = set(listed.stdout.split())
    return {run: kept for run, steps in submitted.items()
            if (kept := {step: job_id for step, job_id in steps.items() if job_id in alive})}


def submit(runs: list, options: SlurmOptions, root: Path, dry_run: bool) -> list:
    """Submit (or with dry_run, print) the pending steps of runs as Slurm jobs; returns the planned jobs.
    At most options.array_limit jobs per call; the record of submitted job ids goes to SUBMITTED."""
    check_slurm(options, dry_run)
    submitted = {} if dry_run else in_flight()
    jobs = plan_jobs(runs, options.cpus, submitted)[: options.array_limit]
    ids = {(run, step): job_id for run, steps in submitted.items() for step, job_id in steps.items()}
    executor = None if dry_run else submitit.SlurmExecutor(folder=str(root / SLURM_FOLDER / "%j"))
    for job in jobs:
        parameters = slurm_parameters(job, options, ids)
        if dry_run:
            print(f"{job.run}.{job.step}: {job.command}\n    {json.dumps(parameters)}", flush=True)
            continue
        executor.update_parameters(**parameters)
        handle = executor.submit(StepJob(), list(job.argv), job.log, options.cpus, str(root))
        ids[(job.run, job.step)] = handle.job_id
        submitted.setdefault(job.run, {})[job.step] = handle.job_id
        write_json_atomic(root / SUBMITTED, submitted)
        print(f"{job.run}.{job.step}: submitted as Slurm job {handle.job_id}", flush=True)
    return jobs

