"""Ten times MNIST train: the training images under ten pixel shifts (no absl flags here, so tests can import it)."""

from __future__ import annotations

import numpy as np

#: Pixel shifts (rows, columns) applied to every training image: ten copies.
SHIFTS = [(dy, dx) for dy in (-1, 0, 1) for dx in (-1, 0, 1)] + [(2, 2)]


def load_points(n: int, data_dir: str | None) -> np.ndarray:
    """N MNIST images as float32 (N, 784) rows in [0, 1]: train's first N, or its copies under N/60,000 shifts."""
    from tfkmeans.datasets import load_mnist

    images, _ = load_mnist("train", data_dir, flatten=False)
    if n <= len(images):
        return np.ascontiguousarray(images[:n].reshape(n, -1))
    copies, rest = divmod(n, len(images))
    if rest or copies > len(SHIFTS):
        raise ValueError(f"N={n}: above {len(images)} it must be a multiple of it, at most {len(SHIFTS)} times")
    points = np.empty((n, images[0].size), np.float32)
    for index, shift in enumerate(SHIFTS[:copies]):
        rows = slice(index * len(images), (index + 1) * len(images))
        points[rows] = np.roll(images, shift, axis=(1, 2)).reshape(len(images), -1)
    return points
