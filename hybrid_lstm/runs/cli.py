"""What every command line shares: a parser whose errors are one line (exit 2), the argument
types, and the exit status of a command's work."""
import argparse
import sys
from typing import Callable

from ..snn.neurons import check_initial_potential
from .data import DataError
from .files import RunError

INITIAL_POTENTIAL_HELP = ("the IF neurons' potential at the start of each LSTM step: one (V0 = 1, the paper), half "
                          "(theta / 2, unbiased rates), or per population, e.g. encoder=half,f=half (the others one)")


class OneLineParser(argparse.ArgumentParser):
    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message} (see --help)\n")


def positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {value}")
    return value


def non_negative_int(text: str) -> int:
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be >= 0, got {value}")
    return value


SEED_LIMIT = 2**63  # torch's generators take seeds below it


def seed(text: str) -> int:
    """A random seed: an integer in [0, 2^63)."""
    value = int(text)
    if not 0 <= value < SEED_LIMIT:
        raise argparse.ArgumentTypeError(f"must be in [0, 2^63), got {value}")
    return value


def initial_potential(text: str) -> str:
    """An initial-potential spec (neurons.check_initial_potential), in its canonical spelling."""
    try:
        return check_initial_potential(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error))


def exit_status(prog: str, work: Callable[[], None], resume: str) -> int:
    """Run a command's work: 0 when it finishes; 2 with one line on an error the user can fix (RunError,
    DataError); 130 with how to resume (`resume`: what a rerun of the same command starts after) on
    Ctrl-C or a SIGTERM turned into KeyboardInterrupt."""
    try:
        work()
    except (RunError, DataError) as error:
        print(f"{prog}: error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"{prog}: interrupted; rerun the same command to resume {resume}", file=sys.stderr)
        return 130
    return 0
