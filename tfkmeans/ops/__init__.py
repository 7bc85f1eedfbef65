"""The numeric core: pure TensorFlow functions, graph-friendly, no estimator state.

The estimators wrap these in ``tf.function(autograph=False)``; anything here
can equally be called eagerly or composed into a larger graph. Control flow
is explicit (``tf.while_loop``, ``tf.cond``), so nothing needs AutoGraph, whose
conversion of this source took 2 of the 2.6 s needed to trace
:func:`lloyd_bounded` (MNIST, first fit).
"""

from tfkmeans.ops.assignment import (
    Assignment,
    assign_block,
    inertia,
    labels_and_inertia,
    nearest_centers,
    squared_distances,
)
from tfkmeans.ops.bounds import Bounds, lloyd_bounded
from tfkmeans.ops.chunking import default_chunk_size, fold_chunks
from tfkmeans.ops.distances import (
    DISTANCES,
    data_squared_norms,
    expand_squared_distances,
    get_distance,
    matmul_squared_distances,
    squared_norms,
)
from tfkmeans.ops.distributed import distributed_pass, lloyd_distributed, replicated_pass
from tfkmeans.ops.lloyd_algorithm import (
    Candidates,
    ClusterTotals,
    Iterations,
    LloydResult,
    PassTotals,
    add_totals,
    assign_and_accumulate,
    in_memory_pass,
    keep_farthest,
    lloyd,
    lloyd_iterations,
    no_candidates,
    no_totals,
    relocate_empty_clusters,
    update_centers,
)
from tfkmeans.ops.minibatch import (
    NO_PLATEAU_STOP,
    MiniBatchResult,
    MiniBatchState,
    minibatch_initial_state,
    minibatch_kmeans,
    minibatch_kmeans_resume,
    minibatch_kmeans_stream,
    minibatch_step,
    reassign_starved_centers,
    update_centers_online,
)
from tfkmeans.ops.streaming import (
    DatasetMoments,
    dataset_labels_and_inertia,
    dataset_moments,
    dataset_pass,
    lloyd_stream,
    mean_variance,
    reservoir_sample,
)
from tfkmeans.ops.restarts import RunsResult, lloyd_runs, runs_pass
from tfkmeans.ops.statistics import data_mean_variance
from tfkmeans.ops.seeding import default_local_trials, kmeans_plusplus, kmeans_plusplus_runs, random_points

__all__ = [
    "Assignment",
    "Bounds",
    "Candidates",
    "ClusterTotals",
    "DISTANCES",
    "Iterations",
    "DatasetMoments",
    "dataset_labels_and_inertia",
    "dataset_moments",
    "dataset_pass",
    "lloyd_stream",
    "mean_variance",
    "reservoir_sample",
    "LloydResult",
    "PassTotals",
    "add_totals",
    "MiniBatchResult",
    "MiniBatchState",
    "NO_PLATEAU_STOP",
    "assign_and_accumulate",
    "assign_block",
    "default_chunk_size",
    "default_local_trials",
    "distributed_pass",
    "replicated_pass",
    "expand_squared_distances",
    "fold_chunks",
    "get_distance",
    "in_memory_pass",
    "inertia",
    "keep_farthest",
    "kmeans_plusplus",
    "kmeans_plusplus_runs",
    "labels_and_inertia",
    "lloyd",
    "lloyd_bounded",
    "lloyd_iterations",
    "lloyd_runs",
    "lloyd_distributed",
    "matmul_squared_distances",
    "minibatch_initial_state",
    "minibatch_kmeans",
    "minibatch_kmeans_resume",
    "minibatch_kmeans_stream",
    "minibatch_step",
    "nearest_centers",
    "no_candidates",
    "no_totals",
    "random_points",
    "reassign_starved_centers",
    "relocate_empty_clusters",
    "RunsResult",
    "runs_pass",
    "squared_distances",
    "squared_norms",
    "data_mean_variance",
    "data_squared_norms",
    "update_centers",
    "update_centers_online",
]
