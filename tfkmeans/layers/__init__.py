"""Keras layers built on fitted centres: nearest-centre assignment and DEC's soft assignment.

Registered for Keras serialisation under the ``tfkmeans`` package, so models
using them save with ``model.save("model.keras")`` and load with
``keras.models.load_model`` once this module is imported.
"""

from tfkmeans.layers.clustering_layer import ClusteringLayer, target_distribution
from tfkmeans.layers.kmeans_layer import KMeansLayer

__all__ = ["ClusteringLayer", "KMeansLayer", "target_distribution"]
