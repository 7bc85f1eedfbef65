"""Row-chunked passes over the data, so memory never scales with ``n × k × d``."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import tensorflow as tf

# Blocks of at most this many distance (or expansion) elements: large enough for
# GEMM efficiency, small enough to stay near the last-level cache.
BLOCK_ELEMENTS = 2**22
# Rows per chunk for the matmul form when k is small: a chunk of MNIST-sized rows
# then stays in cache while it is assigned and summed; larger chunks made a Lloyd
# iteration slower.
_MAX_MATMUL_ROWS = 2048
# On a GPU every chunk costs several kernel launches and there is no cache to stay
# in: blocks as large as a few hundred MB of device memory, with no row cap, keep
# the kernels few and long.
_GPU_BLOCK_ELEMENTS = 2**26


def default_chunk_size(n_clusters: int, n_features: int, distance: str, device_type: str = "CPU") -> int:
    """Rows per chunk that bound the per-chunk intermediate.

    ``matmul`` materialises ``rows × k`` distances; ``expand`` materialises
    ``rows × k × d`` differences, so it gets far smaller chunks. On a
    ``device_type`` of "GPU" the blocks are larger and the rows uncapped.
    """
    per_row = n_clusters * (n_features if distance == "expand" else 1)
    if device_type == "GPU":
        return max(1, _GPU_BLOCK_ELEMENTS // max(per_row, 1))
    rows = max(1, BLOCK_ELEMENTS // max(per_row, 1))
    if distance != "expand":
        rows = max(256, min(rows, _MAX_MATMUL_ROWS))
    return rows


def compute_device_type() -> str:
    """ "GPU" where TensorFlow places ops on a GPU by default (one is visible and not hidden by a
    ``tf.device`` CPU scope), else "CPU"."""
    if not tf.config.list_logical_devices("GPU"):
        return "CPU"
    scope = tf.DeviceSpec.from_string(tf.constant(0.0).device or "")
    return scope.device_type or "GPU"


def fold_chunks(
    n_rows: tf.Tensor,
    chunk_size: int | tf.Tensor,
    body: Callable[..., Sequence[tf.Tensor]],
    initial_state: Sequence[tf.Tensor],
) -> list[tf.Tensor]:
    """Run ``state = body(start, size, *state)`` over consecutive row chunks.

    A ``tf.while_loop`` inside the graph: no Python per chunk. ``start`` and
    ``size`` are scalar int32 tensors; the last chunk may be short.
    """
    n_rows = tf.cast(n_rows, tf.int32)
    # Not (n_rows + chunk_size - 1) // chunk_size: that overflows int32 for chunk sizes near 2**31.
    n_chunks = n_rows // chunk_size + tf.cast(n_rows % chunk_size > 0, tf.int32)

    def step(i, *state):
        start = i * chunk_size
        size = tf.minimum(chunk_size, n_rows - start)
        return (i + 1, *body(start, size, *state))

    # At most two chunks in flight: one computing while the next starts keeps the
    # cores busy (as fast as TF's default of 10), and the per-chunk
    # intermediates alive at once stay bounded whatever the scheduler does.
    result = tf.while_loop(lambda i, *_: i < n_chunks, step, (tf.constant(0), *initial_state), parallel_iterations=2)
    return list(result[1:])


def map_chunks(
    n_rows: tf.Tensor,
    chunk_size: int,
    body: Callable[..., tuple[Sequence[tf.Tensor], Sequence[tf.Tensor]]],
    outputs: Sequence[tf.TensorSpec],
    initial_state: Sequence[tf.Tensor] = (),
) -> tuple[list[tf.Tensor], list[tf.Tensor]]:
    """:func:`fold_chunks` that also collects per-row results: ``(pieces, state) = body(start, size, *state)``.

    ``outputs`` gives the dtype and the shape of one chunk's piece (rows first,
    ``None``) for each per-row result; the pieces of every chunk are
    concatenated in row order. Returns the concatenated results and the final
    state.
    """
    arrays = [
        tf.TensorArray(spec.dtype, size=0, dynamic_size=True, infer_shape=False, element_shape=spec.shape)
        for spec in outputs
    ]
    n_outputs = len(arrays)

    def step(start, size, index, *carried):
        pieces, state = body(start, size, *carried[n_outputs:])
        written = (array.write(index, piece) for array, piece in zip(carried[:n_outputs], pieces))
        return (index + 1, *written, *state)

    _, *carried = fold_chunks(n_rows, chunk_size, step, (tf.constant(0), *arrays, *initial_state))
    return [array.concat() for array in carried[:n_outputs]], list(carried[n_outputs:])


def row_slice(x: tf.Tensor, start: tf.Tensor, size: tf.Tensor) -> tf.Tensor:
    """Rows ``start:start+size`` of a vector or matrix (a view on CPU, not a copy)."""
    if x.shape.rank == 1:
        return tf.slice(x, [start], [size])
    return tf.slice(x, [start, 0], tf.stack([size, tf.shape(x)[1]]))


def optional_row_slice(x: tf.Tensor | None, start: tf.Tensor, size: tf.Tensor) -> tf.Tensor | None:
    """:func:`row_slice` of an optional per-row tensor (norms, weights): None stays None."""
    return None if x is None else row_slice(x, start, size)
