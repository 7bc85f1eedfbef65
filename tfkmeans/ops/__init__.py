"""The numeric core: pure TensorFlow functions, graph-friendly, no estimator state.

These are the pieces for composing K-means into a graph of your own: distances
and assignment, seeding, the fit loops (in memory, with Elkan's or Yinyang's bounds, several
restarts at once, over a ``tf.data`` stream, under a ``tf.distribute``
strategy, mini-batch) and their results. The estimators wrap the same
functions in ``tf.function(autograph=False)``; anything here can equally be
called eagerly or inside a larger graph. Control flow is explicit
(``tf.while_loop``, ``tf.cond``), so nothing needs AutoGraph, whose conversion
of this source would cost more than tracing it.

The modules behind this package (``tfkmeans.ops._lloyd`` and the like) are
private: their other names are plumbing shared by the estimators and may change.
"""

from tfkmeans.ops._assignment import (
    Assignment,
    dataset_labels_and_inertia,
    inertia,
    labels_and_inertia,
    nearest_centers,
    squared_distances,
)
from tfkmeans.ops._bounds import lloyd_bounded
from tfkmeans.ops._distances import matmul_squared_distances, squared_norms
from tfkmeans.ops._distributed import lloyd_distributed
from tfkmeans.ops._lloyd import Iterations, LloydResult, lloyd, update_centers
from tfkmeans.ops._minibatch import (
    MiniBatchResult,
    MiniBatchState,
    minibatch_initial_state,
    minibatch_kmeans,
    minibatch_kmeans_stream,
    minibatch_step,
)
from tfkmeans.ops._restarts import RunsResult, lloyd_runs
from tfkmeans.ops._seeding import kmeans_plusplus, random_points
from tfkmeans.ops._streaming import lloyd_stream
from tfkmeans.ops._yinyang import lloyd_yinyang

__all__ = [
    "Assignment",
    "Iterations",
    "LloydResult",
    "MiniBatchResult",
    "MiniBatchState",
    "RunsResult",
    "dataset_labels_and_inertia",
    "inertia",
    "kmeans_plusplus",
    "labels_and_inertia",
    "lloyd",
    "lloyd_bounded",
    "lloyd_distributed",
    "lloyd_runs",
    "lloyd_stream",
    "lloyd_yinyang",
    "matmul_squared_distances",
    "minibatch_initial_state",
    "minibatch_kmeans",
    "minibatch_kmeans_stream",
    "minibatch_step",
    "nearest_centers",
    "random_points",
    "squared_distances",
    "squared_norms",
    "update_centers",
]
