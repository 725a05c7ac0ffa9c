"""Write RESULTS.md and its figures from the logs of the experiment grid; nothing typed by hand.

    python -m reproduce.make_report            # reads runs/, writes RESULTS.md and figures/*.png

Every number comes from a file the grid's commands wrote (history.json, test_results*.json,
loihi_benchmark_*.json, the BLEU JSON, fairseq's train.log) or from reproduce/paper.py (the
published numbers); every table names the command, the hardware and the wall time found in
those files. Runs that have not finished are reported as missing, never filled in. The
sections are built by reproduce/report/.
"""
import argparse
import sys
from pathlib import Path

from hybrid_lstm.runs.files import RunError, check_output_path, write_atomic

from .report import PROG, ReportError, build_report


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog=PROG, description=__doc__.split("\n\n")[0])
    parser.add_argument("--root", default=".", help="repository root holding runs/ (default .)")
    parser.add_argument("--output", default="RESULTS.md", help="relative to --root (default RESULTS.md)")
    parser.add_argument("--figures", default="figures", help="figure folder relative to --root (default figures)")
    args = parser.parse_args(argv)
    root = Path(args.root)
    if not (root / "runs").is_dir():
        parser.error(f"no runs/ folder under --root {root}: run python -m reproduce.run_grid there first")
    try:
        path = check_output_path(root / args.output, suffix=".md")
        if (root / args.figures).exists() and not (root / args.figures).is_dir():
            raise RunError(f"--figures {root / args.figures} is a file, not a folder")
        text = build_report(root, Path(args.figures))
        write_atomic(path, lambda handle: handle.write(text.encode()))
    except (ReportError, RunError) as error:
        print(f"{PROG}: error: {error}", file=sys.stderr)
        return 2
    print(f"wrote {path} and {root / args.figures}/*.png")
    return 0


if __name__ == "__main__":
    sys.exit(main())
