"""MNIST loading from the original IDX files, with tensorflow-datasets as a fallback.

The loader looks for the data in this order:

1. the ``data_dir`` argument of :func:`load_mnist`;
2. the directory named by the environment variable ``TFKMEANS_DATA_DIR``;
3. the ``mnist`` builder of tensorflow-datasets, which downloads the data on first
   use and therefore fails on machines without internet access.

A data directory holds the four original files (``train-images-idx3-ubyte.gz``,
``train-labels-idx1-ubyte.gz``, ``t10k-images-idx3-ubyte.gz``,
``t10k-labels-idx1-ubyte.gz``), gzip-compressed or not (same names without ``.gz``).
"""

from __future__ import annotations

import gzip
import math
import os
import zlib
from pathlib import Path
from typing import BinaryIO

import numpy as np
from absl import logging

__all__ = ["DATA_DIR_ENV_VAR", "load_mnist", "read_idx"]

#: Environment variable naming a directory that holds the MNIST IDX files.
DATA_DIR_ENV_VAR = "TFKMEANS_DATA_DIR"

_SPLITS = {"train": 60_000, "test": 10_000}
_FILE_STEMS = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}
_IMAGE_SHAPE = (28, 28)
_NUM_CLASSES = 10

# IDX magic: two zero bytes, a type code, then the number of dimensions.
_UBYTE_TYPE_CODE = 0x08
_GZIP_MAGIC = b"\x1f\x8b"


def read_idx(path: str | os.PathLike, *, ndim: int | None = None) -> np.ndarray:
    """Read an IDX file of unsigned bytes into a numpy array.

    The IDX format (used by the original MNIST distribution) is a big-endian
    header -- a 32-bit magic number ``0x0000TTNN`` where ``TT`` is the element type
    and ``NN`` the number of dimensions, then one uint32 size per dimension --
    followed by the raw values in row-major order. Only the unsigned byte type
    (``TT == 0x08``, e.g. magic 2049 for a vector, 2051 for a stack of images)
    is supported. Gzip-compressed files are recognised by their content, so a
    ``.gz`` suffix is neither required nor trusted. The file is decompressed as
    it is read: the header is checked first, and no more than the payload it
    announces plus one byte (to detect trailing data) is ever read, so a small
    gzip bomb costs no more than its header claims.

    Parameters
    ----------
    path : str or os.PathLike
        File to read.
    ndim : int, optional
        If given, the magic number must announce exactly this many dimensions
        (1 -> magic 2049, 3 -> magic 2051); checked before the payload is parsed,
        so a file of the wrong kind is reported as such rather than as a size error.

    Returns
    -------
    numpy.ndarray
        A writable ``uint8`` array whose shape is given by the header.

    Raises
    ------
    FileNotFoundError
        If `path` does not exist.
    ValueError
        If the file is not valid gzip although it claims to be, has a wrong magic
        number (or not `ndim` dimensions), a truncated header or payload, or
        trailing bytes after the payload.
        The message names the file.
    """
    path = Path(path)
    with open(path, "rb") as file:
        compressed = file.read(2) == _GZIP_MAGIC or path.suffix == ".gz"
        file.seek(0)
        stream = gzip.GzipFile(fileobj=file, mode="rb") if compressed else file
        try:
            return _parse_idx(stream, path, ndim)
        except (OSError, EOFError, zlib.error) as err:
            if not compressed:
                raise
            # OSError covers gzip.BadGzipFile and CRC/length mismatches; EOFError a
            # stream cut short.
            raise ValueError(f"{path}: corrupt gzip file ({err})") from err


# Bytes asked of a stream at once: a header announcing a huge payload costs
# memory only as the bytes actually arrive.
_READ_CHUNK = 1 << 24


def _read_up_to(stream: BinaryIO, size: int) -> bytearray:
    """At most ``size`` bytes of ``stream``; fewer if it ends first."""
    buffer = bytearray()
    while len(buffer) < size:
        chunk = stream.read(min(size - len(buffer), _READ_CHUNK))
        if not chunk:
            break
        buffer += chunk
    return buffer


def _parse_idx(stream: BinaryIO, path: Path, ndim: int | None) -> np.ndarray:
    """:func:`read_idx` on an open (decompressed) stream: the header is checked first,
    and no more than the payload it announces plus one byte (to detect trailing data) is read."""
    head = _read_up_to(stream, 4)
    if len(head) < 4:
        raise ValueError(f"{path}: file too short for an IDX header ({len(head)} bytes)")
    magic = int.from_bytes(head, "big")
    type_code, num_dims = head[2], head[3]
    if head[:2] != b"\x00\x00" or type_code != _UBYTE_TYPE_CODE or num_dims == 0:
        raise ValueError(
            f"{path}: bad IDX magic number {magic} (0x{magic:08x}); expected "
            f"0x0000{_UBYTE_TYPE_CODE:02x}NN for unsigned bytes with NN >= 1 "
            "dimensions, e.g. 2049 for labels or 2051 for images"
        )
    if ndim is not None and num_dims != ndim:
        raise ValueError(
            f"{path}: wrong magic number {magic} (0x{magic:08x}, {num_dims} dimensions); "
            f"expected {(_UBYTE_TYPE_CODE << 8) | ndim} (unsigned bytes, {ndim} "
            f"dimension{'s' if ndim != 1 else ''})"
        )
    sizes = _read_up_to(stream, 4 * num_dims)
    if len(sizes) < 4 * num_dims:
        raise ValueError(
            f"{path}: truncated IDX header: magic {magic} announces {num_dims} "
            f"dimensions ({4 + 4 * num_dims} header bytes) but the file has {4 + len(sizes)} bytes"
        )
    shape = tuple(int(d) for d in np.frombuffer(sizes, dtype=">u4"))
    expected = math.prod(shape)  # Python ints, so absurd headers cannot overflow.
    payload = _read_up_to(stream, expected)
    if len(payload) < expected:
        raise ValueError(
            f"{path}: truncated IDX payload: header promises shape {shape} "
            f"({expected} bytes) but only {len(payload)} bytes follow"
        )
    if stream.read(1):
        raise ValueError(f"{path}: unexpected trailing bytes after the IDX payload of shape {shape}")
    # A bytearray gives a writable array; np.frombuffer over bytes would be read-only.
    return np.frombuffer(payload, dtype=np.uint8).reshape(shape)


def _find_file(directory: Path, stem: str, origin: str) -> Path:
    """Return the gzip or uncompressed file `stem` in `directory`, preferring gzip."""
    for name in (stem + ".gz", stem):
        candidate = directory / name
        if candidate.is_file():
            return candidate
    reason = "" if directory.is_dir() else " (the directory does not exist)"
    raise FileNotFoundError(
        f"MNIST file {directory / (stem + '.gz')} (or uncompressed {stem}) not found"
        f"{reason}; the directory {directory} was given by {origin}"
    )


def _load_from_dir(directory: Path, split: str, origin: str) -> tuple[np.ndarray, np.ndarray]:
    """Read and validate the uint8 images (N, 28, 28) and labels (N,) of `split`."""
    images_stem, labels_stem = _FILE_STEMS[split]
    images_path = _find_file(directory, images_stem, origin)
    labels_path = _find_file(directory, labels_stem, origin)

    images = read_idx(images_path, ndim=3)
    if images.shape[1:] != _IMAGE_SHAPE:
        raise ValueError(
            f"{images_path}: wrong image dimensions {images.shape[1]}x{images.shape[2]}; "
            f"MNIST images are {_IMAGE_SHAPE[0]}x{_IMAGE_SHAPE[1]}"
        )
    if len(images) == 0:
        raise ValueError(f"{images_path}: a valid IDX file holding 0 images; an MNIST split needs some")
    labels = read_idx(labels_path, ndim=1)
    if len(images) != len(labels):
        raise ValueError(
            f"MNIST {split} split: {images_path} holds {len(images)} images but "
            f"{labels_path} holds {len(labels)} labels"
        )
    if labels.size and labels.max() >= _NUM_CLASSES:
        bad = np.flatnonzero(labels >= _NUM_CLASSES)
        raise ValueError(
            f"{labels_path}: {bad.size} labels outside 0..{_NUM_CLASSES - 1}, first "
            f"{int(labels[bad[0]])} at index {int(bad[0])}"
        )
    if len(images) != _SPLITS[split]:
        # Subsets are legitimate (and used in tests), so only note it.
        logging.warning(
            "MNIST %s split in %s has %d examples instead of the usual %d",
            split,
            directory,
            len(images),
            _SPLITS[split],
        )
    return images, labels


def _load_from_tfds(split: str) -> tuple[np.ndarray, np.ndarray]:
    """Load `split` through tensorflow-datasets as uint8 images (N, 28, 28) and labels."""
    try:
        # Imported lazily: tensorflow-datasets is slow to import and only a fallback.
        import tensorflow_datasets as tfds

        ds = tfds.load("mnist", split=split, as_supervised=True)
        # Batching in chunks rather than batch_size=-1: when tfds does not know the
        # split size (e.g. under tfds.testing.mock_data) it batches by sys.maxsize,
        # which aborts the whole process inside TensorFlow.
        batches = list(tfds.as_numpy(ds.batch(10_000)))
    except Exception as err:
        raise RuntimeError(
            f"could not load MNIST ({split!r}) with tensorflow-datasets, the fallback "
            f"used when neither the data_dir argument nor the environment variable "
            f"{DATA_DIR_ENV_VAR} is set: {type(err).__name__}: {err}. Offline, point "
            f"{DATA_DIR_ENV_VAR} or data_dir at a directory with the four MNIST IDX "
            "files instead."
        ) from err
    if not batches:
        return np.zeros((0, *_IMAGE_SHAPE), np.uint8), np.zeros((0,), np.int64)
    images = np.concatenate([b[0] for b in batches]).reshape(-1, *_IMAGE_SHAPE)
    labels = np.concatenate([b[1] for b in batches])
    return images.astype(np.uint8, copy=False), labels


def load_mnist(
    split: str = "train",
    data_dir: str | os.PathLike | None = None,
    *,
    flatten: bool = True,
    normalize: bool = True,
) -> tuple[np.ndarray, np.ndarray]:
    """Load the MNIST images and labels of one split.

    Sources are tried in this order, and the first one that is set is used
    without falling back to the next: `data_dir`, the directory in the
    environment variable ``TFKMEANS_DATA_DIR`` (ignored when empty), then the
    ``mnist`` dataset of tensorflow-datasets (which needs internet access the
    first time). The source used is logged at INFO level.

    Parameters
    ----------
    split : {'train', 'test'}, default 'train'
        ``'train'`` for the 60,000 training examples, ``'test'`` for the 10,000
        test examples.
    data_dir : str or os.PathLike, optional
        Directory holding the four original IDX files, gzip-compressed
        (``train-images-idx3-ubyte.gz``, ...) or not (same names without ``.gz``).
    flatten : bool, default True
        Return images as rows of 784 pixels; otherwise as 28x28 arrays.
    normalize : bool, default True
        Return float32 pixels scaled to [0, 1]; otherwise the raw uint8 values.

    Returns
    -------
    images : numpy.ndarray
        Shape ``(N, 784)`` if `flatten` else ``(N, 28, 28)``; float32 in [0, 1] if
        `normalize` else uint8 in 0..255.
    labels : numpy.ndarray
        int64 digits in 0..9, shape ``(N,)``.

    Raises
    ------
    ValueError
        If `split` is not ``'train'`` or ``'test'``, or a data file is invalid
        (see :func:`read_idx`; also wrong image size, labels outside 0..9, or
        different numbers of images and labels). The message names the file.
    FileNotFoundError
        If a data file is missing from the chosen directory. The message says
        whether `data_dir` or ``TFKMEANS_DATA_DIR`` pointed there.
    RuntimeError
        If no directory is given and tensorflow-datasets fails, typically offline.

    Examples
    --------
    >>> x, y = load_mnist("test")  # doctest: +SKIP
    >>> x.shape, x.dtype, y.shape, y.dtype  # doctest: +SKIP
    ((10000, 784), dtype('float32'), (10000,), dtype('int64'))
    """
    if split not in _SPLITS:
        raise ValueError(f"split must be one of {sorted(_SPLITS)}, got {split!r}")

    env_dir = os.environ.get(DATA_DIR_ENV_VAR)
    if data_dir is not None:
        directory, origin = Path(data_dir).expanduser(), "the data_dir argument"
    elif env_dir:
        directory = Path(env_dir).expanduser()
        origin = f"the environment variable {DATA_DIR_ENV_VAR}"
    else:
        directory, origin = None, None

    if directory is not None:
        logging.info("Loading MNIST %s split from %s (%s)", split, directory, origin)
        images, labels = _load_from_dir(directory, split, origin)
    else:
        logging.info(
            "Loading MNIST %s split with tensorflow-datasets (no data_dir argument and %s unset)",
            split,
            DATA_DIR_ENV_VAR,
        )
        images, labels = _load_from_tfds(split)

    if flatten:
        images = images.reshape(len(images), math.prod(_IMAGE_SHAPE))
    if normalize:
        images = images.astype(np.float32)
        images /= 255.0
    else:
        images = images.astype(np.uint8, copy=False)
    return images, labels.astype(np.int64)
