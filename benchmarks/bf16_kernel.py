"""Exact Lloyd passes over small-integer data stored as bfloat16 (a measured experiment, not used by tfkmeans).

Data whose values are small integers times a common scale (MNIST pixels are
``q / 255`` with ``q`` in 0..255) are stored exactly as bfloat16 *codes*
``q``: half the bytes of float32, and bfloat16 × bfloat16 → float32 dot
products run on the CPU's AVX512-BF16 units (XLA only: TensorFlow's own
bfloat16 MatMul rounds its output to bfloat16, and no TensorFlow kernel takes
bfloat16 in and gives float32 out). Measured on a 2-core Zen 5, one
``(2048 × 784)·(784 × 1000)`` product is 1.7-3.3× faster than TensorFlow's
float32 GEMM.

Everything here works in code units (centres ``m = c / scale``) and keeps the
results exact:

* **Cluster sums.** A 0/1 membership times integer codes, accumulated in
  float32, is exact while a chunk's sum stays below 2**24; chunks are added in
  float64.
* **Labels.** Centres are split into two bfloat16 parts ``hi + lo`` (16
  significant bits; one GEMM against ``2k`` columns). A rigorous bound on the
  error of the resulting scores (Cauchy-Schwarz for the split residual, the
  float32 accumulation bound ``γ_d`` for the dot products) certifies most
  labels; the few rows whose two best scores lie within the bound are
  re-checked in float64 against their candidate centres. A chunk with more
  near-ties than the re-check capacity is assigned entirely in float64.

All shapes are static so that a whole pass compiles with XLA
(``tf.function(jit_compile=True)``): the data are padded to a multiple of the
chunk size and padding rows are masked out.

Exact, but on TensorFlow 2.21 not faster than the float32 pass: the split
doubles the GEMM, and XLA's while-loop and small-op overheads on CPU eat the
rest (``benchmarks/kernels.py``, BENCHMARKS.md "Kernel variants").
"""

from __future__ import annotations

from typing import NamedTuple

import tensorflow as tf

# Unit roundoff of float32.
_U32 = 2.0**-24
# Margin for the second-order terms the bound leaves out (products of roundoffs,
# rounding of the norms that enter it).
_SAFETY = 1.01
# bfloat16 holds every integer up to 2**8 exactly.
MAX_CODE = 256.0


class SplitCenters(NamedTuple):
    """Centres in code units, prepared once per Lloyd iteration."""

    hi_lo: tf.Tensor  # (parts·k, d) bfloat16: hi = bf16(m) in rows 0..k-1, then lo = bf16(m - hi)
    centers: tf.Tensor  # (k, d) float64, the exact centres (for re-checks)
    sq_norms: tf.Tensor  # (k,) float32, ||m_j||²
    residual_norm: tf.Tensor  # scalar float64, max_j ||m_j - hi_j - lo_j||
    split_norm: tf.Tensor  # scalar float64, max_j of the sum of the parts' norms
    max_sq_norm: tf.Tensor  # scalar float64, max_j ||m_j||²


class BlockAssignment(NamedTuple):
    """Exact nearest centres of one chunk, and how they were obtained."""

    labels: tf.Tensor  # (rows,) int32
    min_sq_distances: tf.Tensor  # (rows,) float32, code units², clipped at 0
    n_near_ties: tf.Tensor  # scalar int32, rows the bound could not certify
    fallback: tf.Tensor  # scalar bool, the chunk was assigned in float64 (too many near-ties)


class PassTotals(NamedTuple):
    """One pass over all the data, in code units."""

    sums: tf.Tensor  # (k, d) float64, exact per-cluster sums of the codes
    counts: tf.Tensor  # (k,) float64
    inertia: tf.Tensor  # scalar float64, sum of the assignment distances (code units²)
    farthest_rows: tf.Tensor  # (k,) int32, rows farthest from their centres (relocation candidates)
    farthest_labels: tf.Tensor  # (k,) int32
    farthest_distances: tf.Tensor  # (k,) float32, -inf in unused slots
    n_near_ties: tf.Tensor  # scalar int32, rows re-checked because of a near-tie
    n_fallback_chunks: tf.Tensor  # scalar int32


def integer_codes(x: tf.Tensor, levels: float = 255.0) -> tuple[tf.Tensor, tf.Tensor]:
    """bfloat16 codes ``q = round(x · levels)`` and whether they reproduce ``x`` exactly.

    Exact means ``q`` is an integer in ``0..256`` and ``float32(q / levels) == x``
    for every element (true of images loaded as ``uint8 / 255``). The low-precision
    pass is only valid on data for which this returns True.
    """
    x = tf.convert_to_tensor(x, tf.float32)
    codes = tf.round(x * levels)
    exact = tf.reduce_all(
        (codes / levels == x) & (codes >= 0.0) & (codes <= MAX_CODE)
    )
    return tf.cast(codes, tf.bfloat16), exact


def pad_rows(x: tf.Tensor, chunk_size: int) -> tf.Tensor:
    """``x`` with zero rows appended up to a multiple of ``chunk_size`` (static shapes for XLA)."""
    n = x.shape[0]
    padding = -n % chunk_size
    return tf.pad(x, [[0, padding]] + [[0, 0]] * (x.shape.rank - 1))


def split_centers(centers: tf.Tensor, parts: int = 2) -> SplitCenters:
    """Split float32 centres ``m`` (code units) into ``parts`` bfloat16 terms plus error-bound inputs.

    ``parts=2`` gives ``hi + lo`` (16 significant bits, a tight bound, a GEMM
    against ``2k`` columns); ``parts=1`` only ``hi`` (8 bits: half the GEMM,
    a bound 2**8 times wider, so more rows to re-check).
    """
    m = tf.cast(centers, tf.float64)
    terms, residual = [], m
    for _ in range(parts):
        term = tf.cast(residual, tf.bfloat16)
        terms.append(term)
        residual -= tf.cast(term, tf.float64)
    sq_norms = tf.reduce_sum(tf.square(m), axis=1)
    return SplitCenters(
        hi_lo=tf.concat(terms, axis=0),
        centers=m,
        sq_norms=tf.cast(sq_norms, tf.float32),
        residual_norm=tf.reduce_max(tf.norm(residual, axis=1)),
        split_norm=tf.reduce_max(tf.add_n([tf.norm(tf.cast(t, tf.float64), axis=1) for t in terms])),
        max_sq_norm=tf.reduce_max(sq_norms),
    )


def score_error_bound(block_sq_norms: tf.Tensor, split: SplitCenters, n_features: int) -> tf.Tensor:
    """Per row, a bound on ``|score - (||m_j||² - 2 q·m_j)|`` valid for every centre ``j``.

    ``q·m = q·hi + q·lo + q·r``: ``|q·r| ≤ ||q||·||r||``; each float32 dot product
    of exact products errs by at most ``γ_d ||q||·||hi||`` (any summation order);
    adding the two parts, rounding ``||m||²`` to float32 and forming the score
    cost one roundoff each.
    """
    gamma = n_features * _U32 / (1.0 - n_features * _U32)
    q_norm = tf.sqrt(tf.cast(block_sq_norms, tf.float64))
    cross = q_norm * (split.residual_norm + (gamma + 3.0 * _U32) * split.split_norm)
    return tf.cast(_SAFETY * (2.0 * cross + 2.0 * _U32 * split.max_sq_norm), tf.float32)


def _exact_labels(block: tf.Tensor, centers: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
    """Nearest centres and squared distances of a whole chunk in float64 (the fallback)."""
    q = tf.cast(block, tf.float64)
    scores = tf.reduce_sum(tf.square(centers), axis=1)[None, :] - 2.0 * tf.matmul(q, centers, transpose_b=True)
    labels = tf.argmin(scores, axis=1, output_type=tf.int32)
    distances = tf.reduce_sum(tf.square(q), axis=1) + tf.reduce_min(scores, axis=1)
    return labels, tf.cast(tf.maximum(distances, 0.0), tf.float32)


def assign_block(
    block: tf.Tensor,
    block_sq_norms: tf.Tensor,
    valid: tf.Tensor,
    split: SplitCenters,
    max_recheck: int = 64,
    max_candidates: int = 4,
) -> BlockAssignment:
    """Exact nearest centres of a chunk of bfloat16 codes.

    Parameters
    ----------
    block : tf.Tensor
        ``(rows, d)`` bfloat16 integer codes.
    block_sq_norms : tf.Tensor
        ``(rows,)`` float32 squared norms of the codes.
    valid : tf.Tensor
        ``(rows,)`` bool, False on padding rows (never re-checked).
    split : SplitCenters
        The centres from :func:`split_centers`.
    max_recheck : int
        Rows per chunk that can be re-checked in float64. More near-ties than
        this send the whole chunk to float64.
    max_candidates : int
        Centres per re-checked row; a row with more centres inside its error
        bound also sends the chunk to float64.

    Returns
    -------
    BlockAssignment
        Labels equal to the float64 argmin (lowest index among exact ties).
    """
    n_clusters = tf.shape(split.centers)[0]
    products = tf.matmul(block, split.hi_lo, transpose_b=True, output_type=tf.float32)
    cross = tf.add_n(tf.split(products, split.hi_lo.shape[0] // split.centers.shape[0], axis=1))
    scores = split.sq_norms[None, :] - 2.0 * cross
    labels = tf.argmin(scores, axis=1, output_type=tf.int32)
    best = tf.reduce_min(scores, axis=1)
    is_best = tf.one_hot(labels, n_clusters, on_value=True, off_value=False)
    second = tf.reduce_min(tf.where(is_best, tf.constant(float("inf")), scores), axis=1)
    # Two scores each within `bound` of the truth: closer than 2·bound is a near-tie.
    window = 2.0 * score_error_bound(block_sq_norms, split, block.shape[1])
    margin = tf.where(valid, second - best - window, tf.constant(float("inf")))
    n_near_ties = tf.reduce_sum(tf.cast(margin <= 0.0, tf.int32))

    # Re-check the rows of smallest margin (all near-ties, if they fit) against
    # their candidates; a certified row passing through gets its own label back.
    _, rows = tf.math.top_k(-margin, k=min(max_recheck, block.shape[0]))
    row_scores = tf.gather(scores, rows)
    ranked_scores, candidates = tf.math.top_k(-row_scores, k=min(max_candidates + 1, split.centers.shape[0]))
    if candidates.shape[1] > max_candidates:  # some centre could lie outside the candidates
        limit = tf.gather(best + window, rows)
        too_many_candidates = tf.reduce_any(
            (-ranked_scores[:, max_candidates] <= limit) & (tf.gather(margin, rows) <= 0.0)
        )
    else:
        too_many_candidates = tf.constant(False)
    candidates = tf.sort(candidates[:, :max_candidates], axis=1)  # exact ties go to the lowest index
    q = tf.cast(tf.gather(block, rows), tf.float64)
    exact = tf.reduce_sum(tf.square(q[:, None, :] - tf.gather(split.centers, candidates)), axis=2)
    winner = tf.argmin(exact, axis=1, output_type=tf.int32)
    rechecked = tf.gather(candidates, winner, batch_dims=1)
    labels = tf.tensor_scatter_nd_update(labels, rows[:, None], rechecked)
    distances = tf.maximum(block_sq_norms + best, 0.0)
    distances = tf.tensor_scatter_nd_update(
        distances, rows[:, None], tf.cast(tf.reduce_min(exact, axis=1), tf.float32)
    )

    fallback = (n_near_ties > max_recheck) | too_many_candidates
    labels, distances = tf.cond(
        fallback, lambda: _exact_labels(block, split.centers), lambda: (labels, distances)
    )
    return BlockAssignment(labels, distances, n_near_ties, fallback)


def cluster_sums(
    block: tf.Tensor, labels: tf.Tensor, valid: tf.Tensor, n_clusters: int, one_hot: bool
) -> tuple[tf.Tensor, tf.Tensor]:
    """Exact per-cluster sums of a chunk of codes (float32) and member counts.

    Every partial sum is an integer below ``rows · 256 ≤ 2**24``, so float32
    accumulation is exact either way: a bfloat16 one-hot membership times the
    codes (a GEMM), or a scatter-add of the widened codes (padding rows go to
    an extra segment that is dropped).
    """
    if one_hot:
        membership = tf.one_hot(tf.where(valid, labels, -1), n_clusters, dtype=tf.bfloat16)
        sums = tf.matmul(membership, block, transpose_a=True, output_type=tf.float32)
        return sums, tf.reduce_sum(tf.cast(membership, tf.float32), axis=0)
    segments = tf.where(valid, labels, n_clusters)
    sums = tf.math.unsorted_segment_sum(tf.cast(block, tf.float32), segments, n_clusters + 1)
    counts = tf.math.unsorted_segment_sum(tf.ones_like(labels, tf.float32), segments, n_clusters + 1)
    return sums[:n_clusters], counts[:n_clusters]


def lloyd_pass(
    codes: tf.Tensor,
    sq_norms: tf.Tensor,
    n_rows: tf.Tensor,
    centers: tf.Tensor,
    chunk_size: int = 2048,
    max_recheck: int = 64,
    max_candidates: int = 4,
    one_hot_sums: bool = False,
    parts: int = 2,
) -> PassTotals:
    """One exact Lloyd pass (assignment and cluster sums) over bfloat16 codes.

    Meant to run under ``tf.function(jit_compile=True)``.

    Parameters
    ----------
    codes : tf.Tensor
        ``(n_padded, d)`` bfloat16 codes, ``n_padded`` a multiple of ``chunk_size``
        (see :func:`pad_rows`).
    sq_norms : tf.Tensor
        ``(n_padded,)`` float32 squared norms of the codes.
    n_rows : tf.Tensor
        Scalar int32, the number of real rows; the rest are padding.
    centers : tf.Tensor
        ``(k, d)`` float32 centres in code units.
    chunk_size, max_recheck, max_candidates : int
        Rows per chunk (at most 65,536 so that chunk sums stay exact), and the
        re-check capacity of :func:`assign_block`.
    one_hot_sums : bool
        Sum clusters with a one-hot GEMM instead of a scatter-add (see
        :func:`cluster_sums`).
    parts : int
        bfloat16 terms per centre (see :func:`split_centers`).

    Returns
    -------
    PassTotals
        Sums and counts equal to those of the float64 labels.
    """
    if chunk_size > 2**24 // int(MAX_CODE):
        raise ValueError(f"chunk_size {chunk_size} would make float32 chunk sums inexact.")
    n_padded, n_features = codes.shape
    n_clusters = centers.shape[0]
    split = split_centers(centers, parts)
    slots = min(n_clusters, chunk_size)

    def body(index, sums, counts, inertia, far_rows, far_labels, far_distances, near_ties, fallbacks):
        start = index * chunk_size
        block = tf.slice(codes, [start, 0], [chunk_size, n_features])
        norms = tf.slice(sq_norms, [start], [chunk_size])
        row_ids = start + tf.range(chunk_size)
        valid = row_ids < n_rows
        assigned = assign_block(block, norms, valid, split, max_recheck, max_candidates)
        block_sums, block_counts = cluster_sums(block, assigned.labels, valid, n_clusters, one_hot_sums)
        distances = tf.where(valid, assigned.min_sq_distances, tf.constant(-float("inf")))
        # Keep the k farthest rows seen so far: at most k clusters can be empty.
        _, top = tf.math.top_k(distances, k=slots)
        merged_distances = tf.concat([far_distances, tf.gather(distances, top)], axis=0)
        _, keep = tf.math.top_k(merged_distances, k=n_clusters)
        return (
            index + 1,
            sums + tf.cast(block_sums, tf.float64),
            counts + tf.cast(block_counts, tf.float64),
            inertia + tf.reduce_sum(tf.cast(tf.maximum(distances, 0.0), tf.float64)),
            tf.gather(tf.concat([far_rows, tf.gather(row_ids, top)], axis=0), keep),
            tf.gather(tf.concat([far_labels, tf.gather(assigned.labels, top)], axis=0), keep),
            tf.gather(merged_distances, keep),
            near_ties + assigned.n_near_ties,
            fallbacks + tf.cast(assigned.fallback, tf.int32),
        )

    initial = (
        tf.constant(0),
        tf.zeros([n_clusters, n_features], tf.float64),
        tf.zeros([n_clusters], tf.float64),
        tf.zeros([], tf.float64),
        tf.zeros([n_clusters], tf.int32),
        tf.zeros([n_clusters], tf.int32),
        tf.fill([n_clusters], -float("inf")),
        tf.constant(0),
        tf.constant(0),
    )
    result = tf.while_loop(lambda index, *_: index < n_padded // chunk_size, body, initial)
    return PassTotals(*result[1:])
