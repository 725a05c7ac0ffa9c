"""Markdown and text formatting of the report: tables, code blocks, numbers, commands, hosts."""
import shlex

from .. import grid

NOT_RECORDED = "not recorded in the logs"


def table(headers, rows) -> str:
    lines = ["| " + " | ".join(headers) + " |", "|" + "|".join("---" for _ in headers) + "|"]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return "\n".join(lines)


def code_block(lines) -> str:
    return "```\n" + "\n".join(lines) + "\n```"


def grid_command(step: grid.Step, threads: int = 1) -> str:
    return shlex.join(["python", *(part.replace("{threads}", str(threads)) for part in step.argv)])


def as_command(recorded: str) -> str:
    """A results file's command as a shell line starting with python."""
    recorded = recorded.replace("'python -m loihi_sim.benchmark'", "python -m loihi_sim.benchmark")
    return recorded if recorded.startswith("python ") else "python " + recorded


def signed(value: float) -> str:
    return f"{value:+.2f}"


def minutes(seconds: float) -> str:
    return f"{seconds / 60:.1f} min" if seconds < 3600 else f"{seconds / 3600:.2f} h"


def epoch_hosts(histories, with_times: bool = False) -> str:
    """The hosts that trained the epochs of these history.json records, with each host's number of
    epochs when there are several, and with_times its mean time per epoch. A run may move between
    machines, and its own "host" is the last one's: it stands for epochs without a host only in a run
    where no epoch has one (trained before epochs recorded theirs)."""
    per_host = {}
    for history in histories:
        epochs = (history or {}).get("history", [])
        default = NOT_RECORDED if any(epoch.get("host") for epoch in epochs) else history.get("host") or NOT_RECORDED
        for epoch in epochs:
            per_host.setdefault(epoch.get("host") or default, []).append(epoch["seconds"])
    parts = []
    for host, seconds in sorted(per_host.items()):
        details = ([f"{len(seconds)} epoch{'s' if len(seconds) > 1 else ''}"] if len(per_host) > 1 else []) + \
                  ([f"{minutes(sum(seconds) / len(seconds))} each"] if with_times else [])
        parts.append(f"{host} ({', '.join(details)})" if details else host)
    return "; ".join(parts) or NOT_RECORDED


def hosts(records) -> str:
    """The hosts the records name, and how many records name none (runs older than the field)."""
    records = [record for record in records if record]
    found = sorted({record["host"] for record in records if record.get("host")})
    missing = sum(1 for record in records if not record.get("host"))
    if not found:
        return NOT_RECORDED
    return "; ".join(found) + (f" ({missing} of {len(records)} not recorded)" if missing else "")
