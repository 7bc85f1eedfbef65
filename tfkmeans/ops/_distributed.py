"""Lloyd's algorithm under a ``tf.distribute`` strategy: data-parallel passes, all-reduced totals.

Each replica assigns its share of every global batch and folds it into
per-cluster sums, weights and its k farthest points; the strategy sums the
totals and gathers the candidates across replicas (and workers), so every
replica applies the identical update and holds identical centres.
"""

from __future__ import annotations

import tensorflow as tf

from tfkmeans.ops._lloyd import (
    Candidates,
    Iterations,
    PassTotals,
    add_totals,
    in_memory_pass,
    keep_farthest,
    lloyd_iterations,
    no_candidates,
    no_totals,
)


def distributed_pass(
    strategy: tf.distribute.Strategy,
    batches: tf.distribute.DistributedDataset,
    centers: tf.Tensor,
    distance: str = "matmul",
    chunk_size: int = 4096,
) -> PassTotals:
    """One pass over a distributed dataset of ``(x, sample_weight)`` batches.

    Unlike ``tf.data.Dataset.reduce`` (which runs its function on tf.data's
    threads, see :func:`tfkmeans.ops._streaming.dataset_pass`), ``DistributedDataset.reduce``
    is already a ``tf.while_loop`` over ``get_next_as_optional`` in the calling
    graph. The optional is what keeps workers in step when their shards have
    different numbers of batches, so a fixed-count loop over one repeated
    iterator is not a safe replacement under MultiWorkerMirroredStrategy.
    """

    def add(totals, element):
        return add_totals(totals, _replicas_pass(strategy, element, centers, distance, chunk_size))

    return batches.reduce(no_totals(centers), add)


def replicated_pass(
    strategy: tf.distribute.Strategy,
    shards: tuple[tf.distribute.DistributedValues, tf.distribute.DistributedValues],
    centers: tf.Tensor,
    distance: str = "matmul",
    chunk_size: int = 4096,
) -> PassTotals:
    """One pass over data already placed on the replicas: ``(x, sample_weight)``, one shard each.

    No dataset is read: each replica folds its whole shard chunk by chunk, which
    is faster than a distributed dataset, whose iterator is rebuilt every pass;
    on GPUs the shards also stay on their devices for the whole fit.
    """
    return _replicas_pass(strategy, shards, centers, distance, chunk_size)


def _replicas_pass(
    strategy: tf.distribute.Strategy, per_replica_data: tuple, centers: tf.Tensor, distance: str, chunk_size: int
) -> PassTotals:
    """Every replica's pass over its ``(x, sample_weight)``, totals summed and candidates gathered across replicas."""
    n_clusters, n_features = tf.unstack(tf.shape(centers))

    def replica_pass(x, w):
        block = in_memory_pass(x, w, centers, distance, chunk_size)
        # Only the k farthest points of a replica can matter: send those, not the batch.
        farthest = keep_farthest(no_candidates(n_clusters, n_features, centers.dtype), block.candidates)
        return block._replace(candidates=farthest)

    per_replica = strategy.run(replica_pass, args=per_replica_data)
    total = lambda value: strategy.reduce(tf.distribute.ReduceOp.SUM, value, axis=None)  # noqa: E731
    return PassTotals(
        total(per_replica.sums),
        total(per_replica.weights),
        total(per_replica.inertia),
        Candidates(*(strategy.gather(part, axis=0) for part in per_replica.candidates)),
    )


def lloyd_distributed(
    strategy: tf.distribute.Strategy,
    data: tf.distribute.DistributedDataset | tuple[tf.distribute.DistributedValues, tf.distribute.DistributedValues],
    initial_centers: tf.Tensor,
    max_iter: tf.Tensor,
    tol: tf.Tensor,
    distance: str = "matmul",
    chunk_size: int = 4096,
    verbose: bool = False,
    progress: tf.Tensor | None = None,
) -> Iterations:
    """Full-batch Lloyd with every pass spread over the strategy's replicas.

    ``data`` is a distributed dataset of ``(x, sample_weight)`` batches
    (:func:`distributed_pass`) or the pair of ``(x, sample_weight)`` shards
    already placed on the replicas (:func:`replicated_pass`).
    """
    data_pass = replicated_pass if isinstance(data, tuple) else distributed_pass
    return lloyd_iterations(
        lambda centers: data_pass(strategy, data, centers, distance, chunk_size),
        initial_centers,
        max_iter,
        tol,
        verbose,
        progress,
    )
