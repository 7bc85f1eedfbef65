"""Datasets for tfkmeans: MNIST from the original IDX files or tensorflow-datasets."""

from tfkmeans.datasets.mnist import load_mnist, read_idx

__all__ = ["load_mnist", "read_idx"]
