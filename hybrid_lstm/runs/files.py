"""What the commands write: files, atomically (never half-written, nothing left behind on a
failure) to paths checked before any work; console tables; and the one-line error every
command reports."""
import json
import os
from pathlib import Path

import torch


# the files a run folder keeps for itself (run_folder.RunFolder, the grid's runner.log, fairseq's checkpoints):
# no command writes its results over them
CHECKPOINT_LAST, CHECKPOINT_BEST = "checkpoint_last.pt", "checkpoint_best.pt"
RUN_LOG, RUN_HISTORY, GRID_LOG = "train.log", "history.json", "runner.log"
PARTIAL_SUFFIX = ".partial.json"  # what a sweep in progress has finished (sweep.py)
RUN_FILES = (CHECKPOINT_LAST, CHECKPOINT_BEST, RUN_LOG, RUN_HISTORY, GRID_LOG)


class RunError(Exception):
    """A problem the user can fix (bad flag, missing or mismatched checkpoint); one line."""


def write_atomic(path: Path, write) -> None:
    """write(handle) into a temporary file in the same folder, then rename it to path: path is
    never half-written, and a failed write (a full disk) leaves no temporary file behind."""
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    try:
        with open(tmp, "wb") as handle:
            write(handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except OSError as error:
        tmp.unlink(missing_ok=True)
        raise RunError(f"cannot write {path}: {error.strerror or error}") from None


def check_output_path(path, flag: str = "--output", suffix: str = ".json", inputs=()) -> Path:
    """Refuse, before any work, an output path that must not or cannot be written: one that is not
    a `suffix` file, a run folder's own file (RUN_FILES, a partial record), one of the command's
    inputs (even through a link), a folder, a missing or read-only parent folder. Every command
    that writes a file checks its path here."""
    path = Path(path)
    if path.is_dir():
        raise RunError(f"{flag} {path} is a folder; give a file path")
    if path.name in RUN_FILES or path.name.endswith(PARTIAL_SUFFIX):
        raise RunError(f"{flag} {path} would overwrite a run's own {path.name}; give a file of its own")
    if path.suffix != suffix:
        raise RunError(f"{flag} {path}: give a {suffix} file")
    for source in inputs:
        if source is not None and path.exists() and Path(source).exists() and path.samefile(source):
            raise RunError(f"{flag} {path} is this command's input {source}; give a file of its own")
    parent = path.parent
    if not parent.is_dir():
        raise RunError(f"{flag} {path}: the folder {parent} does not exist")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise RunError(f"{flag} {path}: cannot write into {parent} (permission denied)")
    return path


def save_atomic(obj, path: Path):
    """torch.save, atomically (write_atomic)."""
    write_atomic(path, lambda handle: torch.save(obj, handle))


def write_json_atomic(path: Path, data: dict):
    """JSON, atomically (write_atomic)."""
    write_atomic(path, lambda handle: handle.write((json.dumps(data, indent=2) + "\n").encode()))


def format_table(headers, rows) -> str:
    """A right-aligned console table with a dashed rule under the headers."""
    widths = [max(len(str(cell)) for cell in column) for column in zip(headers, *rows)]
    lines = [headers, ["-" * width for width in widths], *rows]
    return "\n".join("  ".join(str(cell).rjust(width) for cell, width in zip(line, widths)) for line in lines)
