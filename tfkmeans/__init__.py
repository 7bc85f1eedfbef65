"""tfkmeans: K-means and mini-batch K-means compiled with TensorFlow, scikit-learn's API."""

from tfkmeans._kmeans import KMeans
from tfkmeans._minibatch import MiniBatchKMeans
from tfkmeans._seeding import kmeans_plusplus
from tfkmeans.exceptions import ConvergenceWarning, NotFittedError

__version__ = "0.1.0"

__all__ = [
    "ConvergenceWarning",
    "KMeans",
    "MiniBatchKMeans",
    "NotFittedError",
    "__version__",
    "kmeans_plusplus",
    "layers",
]


def __getattr__(name: str):
    # tfkmeans.layers (Keras) is imported on first use, so estimator-only code never loads it.
    if name == "layers":
        import importlib

        return importlib.import_module("tfkmeans.layers")
    raise AttributeError(f"module 'tfkmeans' has no attribute {name!r}")
