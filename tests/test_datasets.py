"""Tests for tfkmeans.datasets: the IDX reader and the MNIST loader's sources."""

from __future__ import annotations

import gzip
import logging as std_logging
import os
import struct
from pathlib import Path

import numpy as np
import pytest
import tensorflow_datasets as tfds

from tfkmeans.datasets import load_mnist, read_idx

ENV = "TFKMEANS_DATA_DIR"
FILES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}
SIZES = {"train": 12, "test": 5}


def idx_bytes(array: np.ndarray, *, magic: int | None = None) -> bytes:
    """Serialise a uint8 array as IDX: big-endian magic, uint32 dims, raw bytes."""
    array = np.asarray(array, dtype=np.uint8)
    if magic is None:
        magic = 0x0800 | array.ndim
    header = struct.pack(f">I{array.ndim}I", magic, *array.shape)
    return header + array.tobytes()


def write_idx(path: Path, data: np.ndarray | bytes, *, gz: bool = True, **kw) -> Path:
    """Write `data` (an array, or ready-made IDX bytes) to `path`, gzipped if `gz`."""
    payload = data if isinstance(data, bytes) else idx_bytes(data, **kw)
    if gz:
        path = path.with_name(path.name + ".gz")
        payload = gzip.compress(payload)
    path.write_bytes(payload)
    return path


def fake_split(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Random uint8 images (n, 28, 28) that include 0 and 255, and labels 0..9."""
    rng = np.random.default_rng(seed)
    images = rng.integers(0, 256, size=(n, 28, 28), dtype=np.uint8)
    images[0, 0, 0], images[0, 0, 1] = 0, 255
    labels = (np.arange(n) % 10).astype(np.uint8)
    return images, labels


def make_mnist_dir(directory: Path, *, gz: bool = True, seed: int = 0) -> dict:
    """Write a small, valid fake MNIST directory; return the arrays written by split."""
    directory.mkdir(parents=True, exist_ok=True)
    written = {}
    for i, (split, (img_stem, lbl_stem)) in enumerate(FILES.items()):
        images, labels = fake_split(SIZES[split], seed + i)
        write_idx(directory / img_stem, images, gz=gz)
        write_idx(directory / lbl_stem, labels, gz=gz)
        written[split] = (images, labels)
    return written


@pytest.fixture
def mnist_dir(tmp_path, monkeypatch):
    """A gzip fake MNIST directory, with TFKMEANS_DATA_DIR unset."""
    monkeypatch.delenv(ENV, raising=False)
    written = make_mnist_dir(tmp_path / "mnist")
    return tmp_path / "mnist", written


@pytest.fixture
def no_tfds(monkeypatch):
    """Make any call to tfds.load fail the test, and record it."""
    calls = []

    def fake_load(*args, **kwargs):
        calls.append((args, kwargs))
        raise AssertionError("tfds.load must not be called")

    monkeypatch.setattr(tfds, "load", fake_load)
    return calls


# --- read_idx ----------------------------------------------------------------


@pytest.mark.parametrize("gz", [True, False])
@pytest.mark.parametrize("shape", [(7,), (3, 28, 28), (2, 3, 4, 5)])
def test_read_idx_roundtrip(tmp_path, gz, shape):
    expected = np.arange(np.prod(shape)).reshape(shape).astype(np.uint8)
    path = write_idx(tmp_path / "x-ubyte", expected, gz=gz)
    got = read_idx(path)
    assert got.dtype == np.uint8
    assert got.shape == shape
    np.testing.assert_array_equal(got, expected)
    got[...] = 0  # Callers may modify the result in place.


def test_read_idx_detects_gzip_without_suffix(tmp_path):
    expected = np.arange(10, dtype=np.uint8)
    path = tmp_path / "labels-ubyte"
    path.write_bytes(gzip.compress(idx_bytes(expected)))
    np.testing.assert_array_equal(read_idx(path), expected)


def test_read_idx_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="nope-ubyte"):
        read_idx(tmp_path / "nope-ubyte")


@pytest.mark.parametrize(
    "payload, message",
    [
        (struct.pack(">II", 0x12345678, 1) + b"\x00", "bad IDX magic number 305419896"),
        (struct.pack(">II", 0x0D01, 1) + b"\x00" * 4, "bad IDX magic"),  # float type code
        (struct.pack(">I", 0x0800), "bad IDX magic"),  # zero dimensions
        (b"\x00\x00", "too short"),
        (struct.pack(">II", 0x0803, 2), "truncated IDX header"),
        (struct.pack(">IIII", 0x0803, 2, 28, 28) + bytes(2 * 784 - 1), "truncated IDX payload"),
        (struct.pack(">II", 0x0801, 3) + bytes(4), "unexpected trailing bytes"),
    ],
)
@pytest.mark.parametrize("gz", [True, False])
def test_read_idx_content_errors(tmp_path, payload, message, gz):
    path = write_idx(tmp_path / "bad-ubyte", payload, gz=gz)
    with pytest.raises(ValueError, match=message) as info:
        read_idx(path)
    assert path.name in str(info.value)


def test_read_idx_expected_ndim(tmp_path):
    path = write_idx(tmp_path / "labels-ubyte", np.arange(5))
    assert read_idx(path, ndim=1).shape == (5,)
    with pytest.raises(ValueError, match="wrong magic number 2049.*expected 2051") as info:
        read_idx(path, ndim=3)
    assert path.name in str(info.value)


def _corrupt_gzip_variants(good: bytes) -> dict[str, bytes]:
    compressed = gzip.compress(good)
    flipped = bytearray(compressed)
    flipped[-6] ^= 0xFF  # Inside the CRC32 trailer.
    return {
        "not gzip at all": b"this is not gzip data",
        "cut short": compressed[: len(compressed) // 2],
        "bad crc": bytes(flipped),
        "bad deflate stream": compressed[:10] + b"\xff" * 20 + compressed[-8:],
    }


@pytest.mark.parametrize("variant", ["not gzip at all", "cut short", "bad crc", "bad deflate stream"])
def test_read_idx_corrupt_gzip(tmp_path, variant):
    good = idx_bytes(np.arange(100, dtype=np.uint8))
    path = tmp_path / "labels-idx1-ubyte.gz"
    path.write_bytes(_corrupt_gzip_variants(good)[variant])
    with pytest.raises(ValueError, match="corrupt gzip") as info:
        read_idx(path)
    assert path.name in str(info.value)


# --- load_mnist from a directory ------------------------------------------------


@pytest.mark.parametrize("gz", [True, False])
@pytest.mark.parametrize("split", ["train", "test"])
def test_load_mnist_default_output(tmp_path, monkeypatch, no_tfds, split, gz):
    monkeypatch.delenv(ENV, raising=False)
    written = make_mnist_dir(tmp_path, gz=gz)
    raw_images, raw_labels = written[split]

    images, labels = load_mnist(split, tmp_path)

    n = SIZES[split]
    assert images.shape == (n, 784) and images.dtype == np.float32
    assert labels.shape == (n,) and labels.dtype == np.int64
    assert images.min() == 0.0 and images.max() == 1.0
    np.testing.assert_allclose(images, raw_images.reshape(n, 784) / 255.0, rtol=1e-6)
    np.testing.assert_array_equal(labels, raw_labels)
    assert not no_tfds


def test_load_mnist_flatten_and_normalize_flags(mnist_dir):
    directory, written = mnist_dir
    raw_images, _ = written["test"]

    images, _ = load_mnist("test", directory, flatten=False)
    assert images.shape == (5, 28, 28) and images.dtype == np.float32
    np.testing.assert_allclose(images * 255.0, raw_images, atol=1e-4)

    images, _ = load_mnist("test", directory, normalize=False)
    assert images.shape == (5, 784) and images.dtype == np.uint8
    np.testing.assert_array_equal(images, raw_images.reshape(5, 784))

    images, labels = load_mnist("test", str(directory), flatten=False, normalize=False)
    assert images.shape == (5, 28, 28) and images.dtype == np.uint8
    np.testing.assert_array_equal(images, raw_images)
    assert labels.dtype == np.int64


def test_load_mnist_mixed_compression(mnist_dir):
    directory, written = mnist_dir
    img_stem, lbl_stem = FILES["train"]
    gz_labels = directory / (lbl_stem + ".gz")
    write_idx(directory / lbl_stem, gzip.decompress(gz_labels.read_bytes()), gz=False)
    gz_labels.unlink()
    images, labels = load_mnist("train", directory)
    assert images.shape == (12, 784)
    np.testing.assert_array_equal(labels, written["train"][1])


@pytest.mark.parametrize("split", ["validation", "TRAIN", "", "t10k"])
def test_load_mnist_bad_split(mnist_dir, split):
    with pytest.raises(ValueError, match=r"\['test', 'train'\]"):
        load_mnist(split, mnist_dir[0])


def test_load_mnist_logs_source(mnist_dir, caplog):
    with caplog.at_level(std_logging.INFO, logger="absl"):
        load_mnist("test", mnist_dir[0])
    assert any("data_dir argument" in r.getMessage() and str(mnist_dir[0]) in r.getMessage() for r in caplog.records)


# --- load_mnist errors --------------------------------------------------------


def test_missing_file_names_data_dir_argument(mnist_dir):
    directory, _ = mnist_dir
    (directory / "t10k-labels-idx1-ubyte.gz").unlink()
    with pytest.raises(FileNotFoundError) as info:
        load_mnist("test", directory)
    message = str(info.value)
    assert "t10k-labels-idx1-ubyte" in message and "data_dir argument" in message
    load_mnist("train", directory)  # The other split is unaffected.


def test_missing_file_names_env_var(tmp_path, monkeypatch, no_tfds):
    missing = tmp_path / "does-not-exist"
    monkeypatch.setenv(ENV, str(missing))
    with pytest.raises(FileNotFoundError) as info:
        load_mnist("train")
    message = str(info.value)
    assert "train-images-idx3-ubyte" in message and str(missing) in message
    assert ENV in message and "does not exist" in message
    assert not no_tfds  # A set but broken env var must not silently fall back to tfds.


def _replace(directory: Path, stem: str, data: np.ndarray | bytes, **kw) -> Path:
    (directory / (stem + ".gz")).unlink()
    return write_idx(directory / stem, data, **kw)


def test_wrong_magic_in_image_file(mnist_dir):
    directory, _ = mnist_dir
    path = _replace(directory, "train-images-idx3-ubyte", np.zeros((12, 28, 28)), magic=2052)
    with pytest.raises(ValueError, match="magic number 2052") as info:
        load_mnist("train", directory)
    assert path.name in str(info.value)


@pytest.mark.parametrize(
    "stem, data, message",
    [
        ("t10k-images-idx3-ubyte", np.zeros(5 * 784), "expected 2051"),
        ("t10k-labels-idx1-ubyte", np.zeros((5, 1)), "expected 2049"),
    ],
)
def test_swapped_file_kinds(mnist_dir, stem, data, message):
    directory, _ = mnist_dir
    path = _replace(directory, stem, data)
    with pytest.raises(ValueError, match=message) as info:
        load_mnist("test", directory)
    assert path.name in str(info.value)


def test_truncated_payload(mnist_dir):
    directory, written = mnist_dir
    good = idx_bytes(written["train"][0])
    path = _replace(directory, "train-images-idx3-ubyte", good[:-100])
    with pytest.raises(ValueError, match="truncated IDX payload") as info:
        load_mnist("train", directory)
    assert path.name in str(info.value)


def test_corrupt_gzip(mnist_dir):
    directory, _ = mnist_dir
    path = directory / "t10k-labels-idx1-ubyte.gz"
    path.write_bytes(path.read_bytes()[:-12])
    with pytest.raises(ValueError, match="corrupt gzip") as info:
        load_mnist("test", directory)
    assert path.name in str(info.value)


def test_count_mismatch_names_both_files(mnist_dir):
    directory, _ = mnist_dir
    _replace(directory, "t10k-labels-idx1-ubyte", np.zeros(4))
    with pytest.raises(ValueError, match="5 images but .* 4 labels") as info:
        load_mnist("test", directory)
    assert "t10k-images-idx3-ubyte" in str(info.value)
    assert "t10k-labels-idx1-ubyte" in str(info.value)


def test_wrong_image_dims(mnist_dir):
    directory, _ = mnist_dir
    path = _replace(directory, "t10k-images-idx3-ubyte", np.zeros((5, 27, 28)))
    with pytest.raises(ValueError, match="27x28") as info:
        load_mnist("test", directory)
    assert path.name in str(info.value)


def test_labels_out_of_range(mnist_dir):
    directory, _ = mnist_dir
    path = _replace(directory, "t10k-labels-idx1-ubyte", np.array([0, 1, 2, 10, 255]))
    with pytest.raises(ValueError, match=r"2 labels outside 0\.\.9, first 10 at index 3") as info:
        load_mnist("test", directory)
    assert path.name in str(info.value)


# --- priority of sources ----------------------------------------------------------


def test_explicit_dir_beats_env_var(tmp_path, monkeypatch, no_tfds):
    explicit = make_mnist_dir(tmp_path / "explicit", seed=1)
    make_mnist_dir(tmp_path / "from_env", seed=2)
    monkeypatch.setenv(ENV, str(tmp_path / "from_env"))
    images, _ = load_mnist("train", tmp_path / "explicit", normalize=False)
    np.testing.assert_array_equal(images, explicit["train"][0].reshape(12, 784))
    # An explicit but broken dir is an error, not a reason to use the env var.
    with pytest.raises(FileNotFoundError, match="data_dir argument"):
        load_mnist("train", tmp_path / "empty")
    assert not no_tfds


def test_env_var_beats_tfds(tmp_path, monkeypatch, no_tfds):
    written = make_mnist_dir(tmp_path / "from_env")
    monkeypatch.setenv(ENV, str(tmp_path / "from_env"))
    images, labels = load_mnist("test", normalize=False, flatten=False)
    np.testing.assert_array_equal(images, written["test"][0])
    np.testing.assert_array_equal(labels, written["test"][1])
    assert not no_tfds


# --- tensorflow-datasets fallback ----------------------------------------------------


@pytest.mark.parametrize("split, n", [("train", 7), ("test", 3)])
def test_tfds_fallback_with_mock_data(monkeypatch, split, n):
    monkeypatch.delenv(ENV, raising=False)
    with tfds.testing.mock_data(num_examples=n):
        images, labels = load_mnist(split)
        raw, _ = load_mnist(split, flatten=False, normalize=False)
    assert images.shape == (n, 784) and images.dtype == np.float32
    assert 0.0 <= images.min() and images.max() <= 1.0
    assert labels.shape == (n,) and labels.dtype == np.int64
    assert labels.min() >= 0 and labels.max() <= 9
    assert raw.shape == (n, 28, 28) and raw.dtype == np.uint8


def test_empty_env_var_means_unset(monkeypatch):
    monkeypatch.setenv(ENV, "")
    with tfds.testing.mock_data(num_examples=4):
        images, labels = load_mnist("test")
    assert images.shape == (4, 784) and labels.shape == (4,)


def test_tfds_failure_explains_offline_fix(monkeypatch):
    monkeypatch.delenv(ENV, raising=False)

    def offline_load(*args, **kwargs):
        raise OSError("Failed to fetch https://example.invalid/mnist")

    monkeypatch.setattr(tfds, "load", offline_load)
    with pytest.raises(RuntimeError, match=ENV) as info:
        load_mnist("train")
    assert isinstance(info.value.__cause__, OSError)


# --- the real files (CI points TFKMEANS_DATA_DIR at the shared copy) -------------------

TRAIN_LABEL_COUNTS = [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]
TEST_LABEL_COUNTS = [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]


@pytest.mark.skipif(not os.environ.get(ENV), reason=f"{ENV} is not set")
def test_real_mnist_from_env_var(no_tfds):
    x_train, y_train = load_mnist("train")
    x_test, y_test = load_mnist("test")
    assert x_train.shape == (60_000, 784) and x_train.dtype == np.float32
    assert x_test.shape == (10_000, 784) and x_test.dtype == np.float32
    assert y_train.dtype == np.int64 and y_test.dtype == np.int64
    assert np.bincount(y_train, minlength=10).tolist() == TRAIN_LABEL_COUNTS
    assert np.bincount(y_test, minlength=10).tolist() == TEST_LABEL_COUNTS
    assert x_train.min() == 0.0 and x_train.max() == 1.0
    assert abs(float(x_train.mean(dtype=np.float64)) - 0.1307) < 1e-3
    assert not no_tfds
