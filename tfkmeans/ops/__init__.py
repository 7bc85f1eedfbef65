"""The numeric core: pure TensorFlow functions, graph-friendly, no estimator state.

The estimators wrap these in ``tf.function``; anything here can equally be
called eagerly or composed into a larger graph.
"""

from tfkmeans.ops.assignment import Assignment, assign_block, inertia, nearest_centers, squared_distances
from tfkmeans.ops.chunking import default_chunk_size, fold_chunks
from tfkmeans.ops.distances import (
    DISTANCES,
    expand_squared_distances,
    get_distance,
    matmul_squared_distances,
    squared_norms,
)
from tfkmeans.ops.lloyd_algorithm import (
    ClusterTotals,
    LloydResult,
    assign_and_accumulate,
    lloyd,
    relocate_empty_clusters,
    update_centers,
)
from tfkmeans.ops.seeding import default_local_trials, kmeans_plusplus, random_points

__all__ = [
    "Assignment",
    "ClusterTotals",
    "DISTANCES",
    "LloydResult",
    "assign_and_accumulate",
    "assign_block",
    "default_chunk_size",
    "default_local_trials",
    "expand_squared_distances",
    "fold_chunks",
    "get_distance",
    "inertia",
    "kmeans_plusplus",
    "lloyd",
    "matmul_squared_distances",
    "nearest_centers",
    "random_points",
    "relocate_empty_clusters",
    "squared_distances",
    "squared_norms",
    "update_centers",
]
