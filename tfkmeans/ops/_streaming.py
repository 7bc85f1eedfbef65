"""Passes over a ``tf.data.Dataset`` of ``(x, sample_weight)`` batches: out-of-core K-means.

Memory is bounded by one batch (and one chunk within it), never by the number
of rows: each pass folds batch totals into per-cluster sums, weights and a
k-slot buffer of relocation candidates in a ``tf.while_loop`` inside the graph.
"""

from __future__ import annotations

import tensorflow as tf

from tfkmeans.ops._lloyd import Iterations, PassTotals, add_totals, in_memory_pass, lloyd_iterations, no_totals


def dataset_pass(
    batches: tf.data.Iterator,
    n_batches: tf.Tensor,
    centers: tf.Tensor,
    distance: str = "matmul",
    chunk_size: int = 4096,
) -> PassTotals:
    """One Lloyd pass: the next ``n_batches`` elements of ``batches`` folded into cluster totals.

    The loop runs in the calling graph, not in a ``Dataset.reduce`` function:
    tf.data runs those on its own threads, where the GEMMs run several times slower.
    """

    def add(index, totals):
        x, w = batches.get_next()
        return index + 1, add_totals(totals, in_memory_pass(x, w, centers, distance, chunk_size))

    _, totals = tf.while_loop(
        lambda index, _: index < n_batches, add, (tf.constant(0, n_batches.dtype), no_totals(centers))
    )
    return totals


def lloyd_stream(
    batches: tf.data.Dataset,
    n_batches: tf.Tensor,
    initial_centers: tf.Tensor,
    max_iter: tf.Tensor,
    tol: tf.Tensor,
    distance: str = "matmul",
    chunk_size: int = 4096,
    verbose: bool = False,
    progress: tf.Tensor | None = None,
) -> Iterations:
    """Full-batch Lloyd over a dataset read once per iteration.

    ``batches`` must yield the same ``n_batches`` elements in the same order on
    every pass (no reshuffling); it is read as one repeated stream. The same
    iterations as :func:`tfkmeans.ops.lloyd` on the concatenated data.
    """
    stream = iter(batches.repeat())
    return lloyd_iterations(
        lambda centers: dataset_pass(stream, n_batches, centers, distance, chunk_size),
        initial_centers,
        max_iter,
        tol,
        verbose,
        progress,
    )
