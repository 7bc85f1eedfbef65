"""Squared Euclidean distances between a block of points and the centres.

Two formulations share one signature ``(x, centers, x_sq_norms=None) -> (n, k)``:

* ``matmul`` (default): ``||x||² - 2 x·cᵀ + ||c||²``. One GEMM, so it runs at
  matrix-multiply speed; the expansion loses a little precision to cancellation,
  which is why callers clip the minimum at zero and recompute the final inertia
  exactly.
* ``expand``: the tensor-expansion form of the original TensorFlow blog post
  (``expand_dims``, ``subtract``, ``square``, ``reduce_sum``). Exact, but it builds
  an ``n × k × d`` intermediate, so callers must hand it small blocks.
"""

from __future__ import annotations

from collections.abc import Callable

import tensorflow as tf

from tfkmeans.ops._chunking import BLOCK_ELEMENTS, fold_chunks, map_chunks, row_slice

DistanceFn = Callable[[tf.Tensor, tf.Tensor, tf.Tensor | None], tf.Tensor]


def squared_norms(x: tf.Tensor) -> tf.Tensor:
    """Row-wise squared Euclidean norms, shape ``(n,)``."""
    return tf.reduce_sum(tf.square(x), axis=1)


def data_squared_norms(x: tf.Tensor, chunk_size: int = 2048) -> tf.Tensor:
    """:func:`squared_norms` of a whole data matrix, a chunk of rows at a time.

    The squares of one chunk stay in cache instead of filling an ``n × d``
    temporary, which is faster.
    """
    (norms,), _ = map_chunks(
        tf.shape(x)[0],
        chunk_size,
        lambda start, size: ((squared_norms(row_slice(x, start, size)),), ()),
        [tf.TensorSpec([None], x.dtype)],
    )
    return tf.ensure_shape(norms, x.shape[:1])


def matmul_squared_distances(x: tf.Tensor, centers: tf.Tensor, x_sq_norms: tf.Tensor | None = None) -> tf.Tensor:
    """``||x||² - 2 x·cᵀ + ||c||²`` for a block of points; shape ``(n, k)``.

    Not clipped: tiny negative values can appear for points on top of a centre.
    """
    if x_sq_norms is None:
        x_sq_norms = squared_norms(x)
    cross = tf.matmul(x, centers, transpose_b=True)
    return x_sq_norms[:, None] - 2.0 * cross + squared_norms(centers)[None, :]


def expand_squared_distances(x: tf.Tensor, centers: tf.Tensor, x_sq_norms: tf.Tensor | None = None) -> tf.Tensor:
    """The blog's tensor expansion: ``sum((c[:, None] - x[None])², -1)``, shape ``(n, k)``.

    ``x_sq_norms`` is accepted for a uniform signature and ignored.
    """
    del x_sq_norms
    points_expanded = tf.expand_dims(x, 0)  # (1, n, d)
    centers_expanded = tf.expand_dims(centers, 1)  # (k, 1, d)
    differences = tf.subtract(centers_expanded, points_expanded)  # (k, n, d)
    distances = tf.reduce_sum(tf.square(differences), axis=2)  # (k, n)
    return tf.transpose(distances)


# Entries below this fraction of ||x||² + ||c||² are recomputed directly by
# refine_near_distances: the matmul form's error is a few ulps of the norms, so
# what it keeps is within about 1e-5 of the distance in float32.
_CANCELLATION_RATIO = 1.0 / 64


def refine_near_distances(x: tf.Tensor, centers: tf.Tensor, squared: tf.Tensor) -> tf.Tensor:
    """``squared`` (matmul squared distances of ``x`` to ``centers``) with its cancellation-prone entries made exact.

    Where a distance is small next to the points' norms (a point on or near a
    centre), ``||x||² - 2x·c + ||c||²`` keeps only rounding noise: 0.00195
    instead of 0 for a centre against itself in float32. Those entries, and
    only those, are recomputed as ``||x - c||²``, a bounded number of pairs at
    a time; the others are clipped at 0.
    """
    scale = squared_norms(x)[:, None] + squared_norms(centers)[None, :]
    near = tf.where(squared < _CANCELLATION_RATIO * scale)
    # From the run-time width: graphs are traced with the width unknown.
    pairs_per_chunk = tf.maximum(1, BLOCK_ELEMENTS // tf.maximum(1, tf.shape(centers)[1]))

    def body(start, size, refined):
        pairs = tf.slice(near, [start, 0], [size, 2])
        difference = tf.gather(x, pairs[:, 0]) - tf.gather(centers, pairs[:, 1])
        return (tf.tensor_scatter_nd_update(refined, pairs, tf.reduce_sum(tf.square(difference), axis=1)),)

    (refined,) = fold_chunks(tf.shape(near)[0], pairs_per_chunk, body, (tf.maximum(squared, 0.0),))
    return refined


DISTANCES: dict[str, DistanceFn] = {
    "matmul": matmul_squared_distances,
    "expand": expand_squared_distances,
}


def get_distance(name: str) -> DistanceFn:
    """Look up a distance formulation by name (``'matmul'`` or ``'expand'``)."""
    try:
        return DISTANCES[name]
    except KeyError:
        raise ValueError(f"distance must be one of {sorted(DISTANCES)}, got {name!r}.") from None
