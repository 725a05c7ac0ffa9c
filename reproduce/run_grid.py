"""Run the experiment grid of RESULTS.md, resumably.

    python -m reproduce.run_grid                        # everything not yet done, 2 jobs
    python -m reproduce.run_grid --only rowwise chip    # some groups
    python -m reproduce.run_grid --list                 # what is done, what is pending and how far it got
    python -m reproduce.run_grid --executor slurm --partition P --dry-run   # the pending grid as Slurm jobs

Every run logs to its own folder (runs/...): the commands' own logs and results, and
runner.log with each step's command, start, end and exit status. Finished steps are
skipped; an interrupted step resumes when the grid is run again (for a session that may
end, start it with nohup ... &). Each job runs its commands with --threads / OMP threads
set to --threads, so --jobs x --threads should not exceed the CPU's cores. The runner works
in the repository it belongs to (or --root), whatever the current directory, and claims
each run before running it (an flock on the run folder's .NAME.claim file): a second runner
skips what the first is running, and says so.
"""
import argparse
import fcntl
import os
import shlex
import signal
import sys
import threading
import time
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait
from pathlib import Path

from hybrid_lstm.runs.cli import OneLineParser
from hybrid_lstm.runs.files import GRID_LOG
from hybrid_lstm.runs.host import host_description

from .executors import SlurmOptions, command_line, in_flight, step_job, step_log, submit
from .grid import GROUPS, Run, experiment_grid

PROG = "python -m reproduce.run_grid"
REPOSITORY = Path(__file__).resolve().parents[1]
_children = set()  # the commands running now, stopped with the runner
_children_lock = threading.Lock()
_stopping = threading.Event()


def note(run: Run, text: str):
    line = f"{time.strftime('%Y-%m-%d %H:%M:%S')} [{run.name}] {text}"
    print(line + "\n", end="", flush=True)  # one write: lines of runs in parallel threads stay whole
    run.folder.mkdir(parents=True, exist_ok=True)
    with open(run.folder / GRID_LOG, "a") as handle:
        handle.write(line + "\n")


def claim(run: Run):
    """An exclusive flock on the run's claim file, held until the returned descriptor is closed (or its
    process dies); None, after saying which process holds it, when another runner has it."""
    run.folder.mkdir(parents=True, exist_ok=True)
    handle = os.open(run.folder / f".{run.name}.claim", os.O_RDWR | os.O_CREAT)
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        holder = os.pread(handle, 32, 0).decode(errors="replace").strip() or "another process"
        os.close(handle)
        print(f"[{run.name}] skipped: another runner ({holder}) is running it", flush=True)
        return None
    os.ftruncate(handle, 0)
    os.pwrite(handle, f"process {os.getpid()}".encode(), 0)
    return handle


def execute(run: Run, threads: int) -> bool:
    """Claim the run, then run its pending steps in order; False at the first failing step or
    when another runner holds it."""
    handle = claim(run)
    if handle is None:
        return False
    try:
        return execute_steps(run, threads)
    finally:
        os.close(handle)


def execute_steps(run: Run, threads: int) -> bool:
    for step in run.pending_steps():
        argv = command_line(step, threads)
        shown = shlex.join(["python", *argv[1:]])
        log_path = step_log(run, step)
        note(run, f"{step.name}: start: {shown}" + (f" (output: {log_path})" if step.log else "")
             + f" on {host_description(threads=threads)}")
        start = time.monotonic()
        with _children_lock:
            if _stopping.is_set():
                return False

        def started(child):
            with _children_lock:
                _children.add(child)
                if _stopping.is_set():
                    child.terminate()

        child_status = step_job(argv, str(log_path), threads, os.getcwd(), started)
        with _children_lock:
            _children.difference_update({child for child in _children if child.poll() is not None})
        elapsed = time.monotonic() - start
        if _stopping.is_set():
            note(run, f"{step.name}: stopped after {elapsed:.0f} s; run the grid again to resume")
            return False
        if child_status != 0 or not step.done():
            note(run, f"{step.name}: FAILED (exit {child_status}) after {elapsed:.0f} s; see {log_path}")
            return False
        note(run, f"{step.name}: done in {elapsed:.0f} s")
    return True


def schedule(runs: list, jobs: int, threads: int) -> list:
    """Run `runs` in order on `jobs` workers, each once the run it comes after is complete
    (whether or not that one is selected); returns the names of the runs that failed.
    On KeyboardInterrupt (Ctrl-C or SIGTERM) the running commands are terminated."""
    by_name = {run.name: run for run in experiment_grid()}
    waiting = [run for run in runs if run.pending_steps()]
    finished, failed, active = set(), [], {}

    def ready(run):
        return run.after is None or run.after in finished or not by_name[run.after].pending_steps()

    with ThreadPoolExecutor(max_workers=jobs) as pool:
        try:
            while waiting or active:
                for run in [run for run in waiting if ready(run)][: jobs - len(active)]:
                    waiting.remove(run)
                    active[pool.submit(execute, run, threads)] = run
                for run in [run for run in waiting if run.after in failed]:
                    waiting.remove(run)
                    failed.append(run.name)
                    print(f"[{run.name}] skipped: {run.after} failed", flush=True)
                if not active:
                    for run in waiting:
                        failed.append(run.name)
                        print(f"[{run.name}] not started: {run.after} is not complete (run its group too)", flush=True)
                    break
                completed, _ = wait(active, return_when=FIRST_COMPLETED)
                for future in completed:
                    run = active.pop(future)
                    (finished.add if future.result() else failed.append)(run.name)
        except KeyboardInterrupt:
            with _children_lock:
                _stopping.set()
                for child in _children:
                    child.terminate()  # checkpoints are written atomically: at most one save interval is lost
            raise
    return failed


def stop(signum, frame):
    raise KeyboardInterrupt


def parse_args(argv=None):
    parser = OneLineParser(prog=PROG, description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter,
                                     epilog=__doc__.split("\n\n", 1)[1])
    parser.add_argument("--only", nargs="+", choices=GROUPS, help="run these groups only (default: all)")
    parser.add_argument("--runs", nargs="+", metavar="RUN",
                        help="run these runs only, by name (see --list), in the order given")
    parser.add_argument("--jobs", type=int, default=2, help="runs at once (default 2)")
    parser.add_argument("--threads", type=int, default=1, help="CPU threads per run (default 1)")
    parser.add_argument("--root", type=Path, default=REPOSITORY,
                        help="the repository whose runs/ the grid reads and writes (default: this one, %(default)s)")
    parser.add_argument("--list", action="store_true",
                        help="print each run's pending steps, with how far an interrupted one got, and the Slurm jobs "
                             "in flight, and exit")
    cluster = parser.add_argument_group("executor (reproduce/executors.py)")
    cluster.add_argument("--executor", choices=("local", "slurm"), default="local",
                         help="local: --jobs at once on this machine (default); slurm: one job per pending step, "
                              "submitted with its dependencies through submitit")
    cluster.add_argument("--partition", help="Slurm partition (needed to submit)")
    cluster.add_argument("--gpus-per-job", type=int, default=0, help="Slurm: GPUs per job (default 0)")
    cluster.add_argument("--time-limit", type=int, default=24 * 60, metavar="MIN",
                         help="Slurm: minutes per job; a job cut there resumes when resubmitted (default %(default)s)")
    cluster.add_argument("--array-limit", type=int, default=1000, metavar="N",
                         help="Slurm: submit at most N jobs per call (a cluster's MaxSubmitJobs; default %(default)s)")
    cluster.add_argument("--dry-run", action="store_true", help="Slurm: print the jobs and their parameters only")
    args = parser.parse_args(argv)
    if args.jobs < 1 or args.threads < 1 or args.array_limit < 1 or args.time_limit < 1 or args.gpus_per_job < 0:
        parser.error("--jobs, --threads, --array-limit and --time-limit must be >= 1, --gpus-per-job >= 0")
    if args.executor == "local" and (args.partition or args.dry_run):
        parser.error("--partition and --dry-run are for --executor slurm")
    return args


def main(argv=None) -> int:
    args = parse_args(argv)
    if not (args.root / "runs").is_dir():
        print(f"{PROG}: error: no runs/ folder under --root {args.root}", file=sys.stderr)
        return 2
    os.chdir(args.root)  # the grid's folders are relative to the repository
    print(f"# runs under {args.root.resolve() / 'runs'}", file=sys.stderr, flush=True)
    runs = [run for run in experiment_grid() if (args.only is None or run.group in args.only)
            and (args.runs is None or run.name in args.runs)]
    if args.runs:  # in the order given
        runs.sort(key=lambda run: args.runs.index(run.name))
    unknown = set(args.runs or ()) - {run.name for run in experiment_grid()}
    if unknown:
        print(f"{PROG}: error: no run named {', '.join(sorted(unknown))} (see --list)", file=sys.stderr)
        return 2
    if args.list:
        flying = in_flight()
        for run in runs:
            pending = [step.name + (f" ({progress})" if (progress := step.progress()) else "")
                       for step in run.pending_steps()]
            jobs = flying.get(run.name, {})
            print(f"{run.name:36s} {run.folder}: " + (f"pending {', '.join(pending)}" if pending else "done")
                  + (" (Slurm jobs in flight: " + ", ".join(f"{s} {i}" for s, i in jobs.items()) + ")" if jobs else ""))
        return 0
    if args.executor == "slurm":
        options = SlurmOptions(args.partition, args.threads, args.gpus_per_job, args.time_limit, args.array_limit)
        try:
            jobs = submit(runs, options, Path.cwd(), args.dry_run)
        except ValueError as error:
            print(f"{PROG}: error: {error}", file=sys.stderr)
            return 2
        print(f"{len(jobs)} job(s) " + ("to submit" if args.dry_run else "submitted"))
        return 0
    signal.signal(signal.SIGTERM, stop)
    try:
        failed = schedule(runs, args.jobs, args.threads)
    except KeyboardInterrupt:
        print(f"{PROG}: stopped; run it again to resume", file=sys.stderr)
        return 130
    if failed:
        print(f"{PROG}: failed: {', '.join(failed)}", file=sys.stderr)
        return 1
    print("all runs done")
    return 0


if __name__ == "__main__":
    sys.exit(main())
