"""Lloyd's iterations with Yinyang's group bounds: Lloyd's labels in ``n × groups`` memory.

Yinyang K-means (Ding et al., ICML 2015) groups the centres once, by a
K-means on the initial centres, and keeps per point an upper bound on the
distance to its own centre and one lower bound per group: on the distance to
the nearest centre of the group other than its own. When the centres move,
the upper bound grows by its centre's move and each group bound shrinks by
the largest move in the group (triangle inequality). Each iteration then

1. settles the points whose upper bound is below every group bound (global
   filter), without any distance;
2. tightens the upper bound of the others to the exact distance to their
   centre, and settles those that now pass;
3. measures the rest only against the groups whose bound they do not clear
   (group filter), and their own group, with one gather of their rows and one
   product with the group's centres per group.

With ``g`` groups the bounds take ``n × g`` floats where Elkan's take
``n × k``. When the group filter would leave a large share of all distances
to compute, one chunked pass over every point (as Lloyd's) is cheaper than
the gathers. Cluster sums are updated from the points that changed cluster
only, as in :mod:`tfkmeans.ops._bounds`, and a cluster left empty is re-seeded
by a full Lloyd pass, after which the bounds are rebuilt.

The labels are those of Lloyd's matmul assignment: a point or group is
skipped only when its margin beats the rounding error of the squared
distances (:data:`tfkmeans.ops._bounds.ROUNDING_MARGIN`), and the labels of
measured points come from a GEMM, ties going to the lower centre index.
"""

from __future__ import annotations

from typing import NamedTuple

import tensorflow as tf

from tfkmeans.ops._assignment import inertia
from tfkmeans.ops._bounds import (
    ROUNDING_MARGIN,
    Totals,
    assignment_inertia,
    counted,
    empty_totals,
    moved_totals,
    next_centers,
)
from tfkmeans.ops._chunking import fold_chunks, row_slice
from tfkmeans.ops._distances import data_squared_norms, matmul_squared_distances
from tfkmeans.ops._lloyd import (
    LloydResult,
    cluster_sums,
    lloyd,
    print_iteration,
)

# Centres per group when the caller does not choose. Ding et al. use 10; on MNIST at
# k = 1000, groups of 50 ran faster: each gathered row then meets a GEMM five times as
# wide, and the gathers, not the products, dominate a vectorised iteration.
CENTERS_PER_GROUP = 50

# Above this share of all n × k distances left by the group filter, one chunked
# pass over every point beats gathering the rows group by group.
DENSE_SHARE = 0.3

# Lloyd iterations of the K-means that groups the initial centres: the grouping
# only needs to be reasonable, never converged (any grouping gives the same labels).
_GROUPING_ITERATIONS = 5


class CenterGroups(NamedTuple):
    """A fixed partition of the centres, each group's members in increasing index order."""

    of_center: tf.Tensor  # (k,) int32, the group of each centre
    members: tf.Tensor  # (k,) int32, centre indices sorted by group, then index
    splits: tf.Tensor  # (groups + 1,) int32, group g is members[splits[g]:splits[g + 1]]


class GroupBounds(NamedTuple):
    """Per point: its label and bounds on its distances (not squared); per cluster, totals."""

    labels: tf.Tensor  # (n,) int32
    upper: tf.Tensor  # (n,) ≥ distance to centre ``labels``
    lower: tf.Tensor  # (n, groups) ≤ distance to every centre of the group except ``labels``
    totals: Totals


def default_n_groups(n_clusters: int) -> int:
    """Groups for ``n_clusters`` centres: about one per :data:`CENTERS_PER_GROUP` centres, at least one."""
    return max(1, n_clusters // CENTERS_PER_GROUP)


def group_centers(centers: tf.Tensor, n_groups: int) -> CenterGroups:
    """Partition the centres into ``n_groups`` groups by a few Lloyd iterations on the centres themselves.

    Seeded with evenly spaced centres, so the grouping is deterministic. A
    group that ends empty is kept (its bound is infinite and never fails).
    """
    n_clusters = tf.shape(centers)[0]
    seeds = tf.gather(centers, tf.range(n_groups) * n_clusters // n_groups)
    ones = tf.ones([n_clusters], centers.dtype)
    grouping = lloyd(
        centers, ones, seeds, tf.constant(_GROUPING_ITERATIONS), tf.constant(0.0, centers.dtype), chunk_size=4096
    )
    of_center = grouping.labels
    # A stable sort by group keeps each group's members in increasing index order.
    members = tf.argsort(of_center, stable=True)
    sizes = tf.math.bincount(of_center, minlength=n_groups, maxlength=n_groups)
    return CenterGroups(of_center, members, tf.concat([[0], tf.cumsum(sizes)], axis=0))


def _group_lower_bounds(distances: tf.Tensor, labels: tf.Tensor, of_center: tf.Tensor, n_groups: int) -> tf.Tensor:
    """Per row and group, the smallest distance to a centre of the group other than the row's own: ``(m, groups)``.

    An empty group's bound is infinite.
    """
    own = tf.one_hot(labels, tf.shape(distances)[1], on_value=True, off_value=False)
    others = tf.where(own, tf.constant(float("inf"), distances.dtype), distances)
    return tf.transpose(tf.math.unsorted_segment_min(tf.transpose(others), of_center, n_groups))


def _with_static_shapes(bounds: GroupBounds, x: tf.Tensor, centers: tf.Tensor, n_groups: int) -> GroupBounds:
    """Restore the static shapes that dynamic-size ops forget; a ``tf.while_loop`` needs them fixed."""
    rows, clusters = x.shape[:1], centers.shape[:1]
    shapes = (rows, rows, rows.concatenate([n_groups]))
    totals = Totals(
        *(tf.ensure_shape(t, shape) for t, shape in zip(bounds.totals, (centers.shape, clusters, clusters)))
    )
    return GroupBounds(*(tf.ensure_shape(t, shape) for t, shape in zip(bounds[:3], shapes)), totals)


def full_group_bounds(
    x: tf.Tensor,
    sample_weight: tf.Tensor,
    centers: tf.Tensor,
    x_sq_norms: tf.Tensor,
    groups: CenterGroups,
    chunk_size: int,
    previous_labels: tf.Tensor | None = None,
) -> tuple[GroupBounds, Totals]:
    """Every point measured against every centre, chunk by chunk: exact labels and bounds.

    Returns the bounds (their ``totals`` are left as zeros) and the cluster
    totals of the points, or, given ``previous_labels``, only the change in
    them from the points that changed cluster (no second product with the data).
    """
    n_clusters = tf.shape(centers)[0]
    n_groups = tf.shape(groups.splits)[0] - 1
    arrays = [
        tf.TensorArray(tf.int32, size=0, dynamic_size=True, infer_shape=False, element_shape=[None]),
        tf.TensorArray(x.dtype, size=0, dynamic_size=True, infer_shape=False, element_shape=[None]),
        tf.TensorArray(x.dtype, size=0, dynamic_size=True, infer_shape=False, element_shape=[None, None]),
    ]

    def body(start, size, index, labels, upper, lower, *totals):
        block = row_slice(x, start, size)
        block_weights = row_slice(sample_weight, start, size)
        squared = matmul_squared_distances(block, centers, row_slice(x_sq_norms, start, size))
        block_labels = tf.argmin(squared, axis=1, output_type=tf.int32)
        distances = tf.sqrt(tf.maximum(squared, 0.0))
        if previous_labels is None:
            block_sums, _ = cluster_sums(block, block_weights, block_labels, n_clusters)
            block_totals = Totals(tf.cast(block_sums, tf.float64), *counted(block_weights, block_labels, n_clusters))
        else:
            old = row_slice(previous_labels, start, size)
            block_totals = moved_totals(block, block_weights, old, block_labels, n_clusters)
        written = (
            labels.write(index, block_labels),
            upper.write(index, tf.reduce_min(distances, axis=1)),
            lower.write(index, _group_lower_bounds(distances, block_labels, groups.of_center, n_groups)),
        )
        # tf.cond in the sums forgets static shapes; the loop needs them fixed.
        added = (tf.ensure_shape(total + more, total.shape) for total, more in zip(totals, block_totals))
        return (index + 1, *written, *added)

    initial = (tf.constant(0), *arrays, *empty_totals(centers))
    _, labels, upper, lower, *totals = fold_chunks(tf.shape(x)[0], chunk_size, body, initial)
    return GroupBounds(labels.concat(), upper.concat(), lower.concat(), empty_totals(centers)), Totals(*totals)


@tf.function(jit_compile=True, autograph=False)
def loosen_group_bounds(
    labels: tf.Tensor,
    upper: tf.Tensor,
    lower: tf.Tensor,
    x_norms: tf.Tensor,
    of_center: tf.Tensor,
    old_centers: tf.Tensor,
    centers: tf.Tensor,
) -> tuple[tf.Tensor, tf.Tensor, tf.Tensor, tf.Tensor]:
    """Bounds under the moved ``centers``, and the rounding allowance of each point's squared distances.

    Returns the upper bounds ``(n,)``, group bounds ``(n, groups)``, a boolean
    ``(n,)`` mask of the points the global filter does not settle, and the
    allowance ``(n,)``. Compiled by XLA so the ``n × groups`` steps fuse.
    """
    shift = tf.norm(centers - old_centers, axis=1)
    group_shift = tf.math.unsorted_segment_max(shift, of_center, tf.shape(lower)[1])
    upper = upper + tf.gather(shift, labels)
    lower = tf.maximum(lower - tf.maximum(group_shift, 0.0), 0.0)
    allowance = ROUNDING_MARGIN * tf.square(x_norms + tf.reduce_max(tf.norm(centers, axis=1)))
    unsettled = tf.square(tf.reduce_min(lower, axis=1)) - tf.square(upper) <= allowance
    return upper, lower, unsettled, allowance


def _own_distances(
    x: tf.Tensor, x_sq_norms: tf.Tensor, centers: tf.Tensor, rows: tf.Tensor, labels: tf.Tensor, chunk_size: int
) -> tf.Tensor:
    """Exact distance (not squared) of the points at ``rows`` to their own centres, a chunk at a time."""
    own = tf.TensorArray(x.dtype, size=0, dynamic_size=True, infer_shape=False, element_shape=[None])
    center_sq_norms = tf.reduce_sum(tf.square(centers), axis=1)

    def body(start, size, index, own):
        chosen = row_slice(rows, start, size)
        block_labels = tf.gather(labels, chosen)
        cross = tf.reduce_sum(tf.gather(x, chosen) * tf.gather(centers, block_labels), axis=1)
        squared = tf.gather(x_sq_norms, chosen) - 2.0 * cross + tf.gather(center_sq_norms, block_labels)
        return index + 1, own.write(index, tf.sqrt(tf.maximum(squared, 0.0)))

    _, own = fold_chunks(tf.shape(rows)[0], chunk_size, body, (tf.constant(0), own))
    return own.concat()


class GroupMeasures(NamedTuple):
    """For (point, group) pairs: the nearest and second-nearest centre of the group."""

    nearest: tf.Tensor  # (p,) squared distance to the group's nearest centre
    label: tf.Tensor  # (p,) int32, that centre (the lowest index among ties)
    second: tf.Tensor  # (p,) squared distance to the group's second-nearest centre (inf if none)


def _measure_groups(
    x: tf.Tensor,
    x_sq_norms: tf.Tensor,
    centers: tf.Tensor,
    groups: CenterGroups,
    rows: tf.Tensor,
    pair_splits: tf.Tensor,
    chunk_size: int,
) -> GroupMeasures:
    """Distances of points to the centres of one group at a time.

    ``rows`` holds the point of every pair, grouped by group: group ``g``'s
    points are ``rows[pair_splits[g]:pair_splits[g + 1]]``. Each group's rows
    are gathered a chunk at a time and multiplied with the group's centres.
    """
    arrays = [
        tf.TensorArray(x.dtype, size=0, dynamic_size=True, infer_shape=False, element_shape=[None]),
        tf.TensorArray(tf.int32, size=0, dynamic_size=True, infer_shape=False, element_shape=[None]),
        tf.TensorArray(x.dtype, size=0, dynamic_size=True, infer_shape=False, element_shape=[None]),
    ]
    n_groups = tf.shape(pair_splits)[0] - 1
    inf = tf.constant(float("inf"), x.dtype)

    def group_body(group, index, *arrays):
        members = groups.members[groups.splits[group] : groups.splits[group + 1]]
        centers_of_group = tf.gather(centers, members)
        first = pair_splits[group]

        def chunk_body(start, size, index, nearest, label, second):
            chosen = tf.slice(rows, [first + start], [size])
            squared = matmul_squared_distances(tf.gather(x, chosen), centers_of_group, tf.gather(x_sq_norms, chosen))
            local = tf.argmin(squared, axis=1, output_type=tf.int32)
            others = tf.where(tf.one_hot(local, tf.shape(members)[0], on_value=True, off_value=False), inf, squared)
            return (
                index + 1,
                nearest.write(index, tf.reduce_min(squared, axis=1)),
                label.write(index, tf.gather(members, local)),
                second.write(index, tf.reduce_min(others, axis=1)),
            )

        n_pairs = pair_splits[group + 1] - first
        return (group + 1, *fold_chunks(n_pairs, chunk_size, chunk_body, (index, *arrays)))

    _, _, *arrays = tf.while_loop(
        lambda group, *_: group < n_groups, group_body, (tf.constant(0), tf.constant(0), *arrays)
    )
    return GroupMeasures(*(array.concat() for array in arrays))


def _chunked_moved_totals(
    x: tf.Tensor,
    sample_weight: tf.Tensor,
    old_labels: tf.Tensor,
    new_labels: tf.Tensor,
    centers: tf.Tensor,
    chunk_size: int,
) -> Totals:
    """Change in the cluster totals from the points that changed cluster, their rows gathered a chunk at a time."""
    changed = tf.cast(tf.where(tf.not_equal(old_labels, new_labels))[:, 0], tf.int32)
    n_clusters = tf.shape(centers)[0]

    def body(start, size, *totals):
        chosen = row_slice(changed, start, size)
        more = moved_totals(
            tf.gather(x, chosen),
            tf.gather(sample_weight, chosen),
            tf.gather(old_labels, chosen),
            tf.gather(new_labels, chosen),
            n_clusters,
        )
        return tuple(tf.ensure_shape(total + change, total.shape) for total, change in zip(totals, more))

    return Totals(*fold_chunks(tf.shape(changed)[0], chunk_size, body, tuple(empty_totals(centers))))


def refresh_group_bounds(
    x: tf.Tensor,
    sample_weight: tf.Tensor,
    x_sq_norms: tf.Tensor,
    x_norms: tf.Tensor,
    groups: CenterGroups,
    bounds: GroupBounds,
    old_centers: tf.Tensor,
    centers: tf.Tensor,
    chunk_size: int,
    dense_share: float = DENSE_SHARE,
) -> tuple[GroupBounds, tf.Tensor]:
    """Labels under the new ``centers``, measuring only the distances the bounds cannot rule out.

    Returns the new bounds and the number of point-to-centre distances computed.
    """
    n_rows, n_clusters = tf.shape(x)[0], tf.shape(centers)[0]
    n_groups = bounds.lower.shape[1]
    upper, lower, unsettled_mask, allowance = loosen_group_bounds(
        bounds.labels, bounds.upper, bounds.lower, x_norms, groups.of_center, old_centers, centers
    )
    # Tighten the upper bounds of the unsettled points; the global filter settles some of them then.
    unsettled = tf.cast(tf.where(unsettled_mask)[:, 0], tf.int32)
    upper = tf.tensor_scatter_nd_update(
        upper, unsettled[:, None], _own_distances(x, x_sq_norms, centers, unsettled, bounds.labels, chunk_size)
    )
    unsettled_lower = tf.gather(lower, unsettled)
    unsettled_upper = tf.gather(upper, unsettled)
    unsettled_allowance = tf.gather(allowance, unsettled)[:, None]
    # Group filter. A point the tightened bound settles opens no group; the others also open their
    # own group, so that their label comes from a GEMM, as Lloyd's does.
    failing = tf.square(unsettled_lower) - tf.square(unsettled_upper)[:, None] <= unsettled_allowance
    still = tf.reduce_any(failing, axis=1)
    own_group = tf.one_hot(
        tf.gather(groups.of_center, tf.gather(bounds.labels, unsettled)), n_groups, on_value=True, off_value=False
    )
    open_groups = tf.logical_and(tf.logical_or(failing, own_group), still[:, None])
    group_sizes = tf.cast(groups.splits[1:] - groups.splits[:-1], tf.int64)
    open_distances = tf.reduce_sum(tf.cast(open_groups, tf.int64) * group_sizes[None, :])
    n_tightened = tf.cast(tf.size(unsettled), tf.int64)
    all_distances = tf.cast(n_rows, tf.int64) * tf.cast(n_clusters, tf.int64)

    def measure_all():
        measured, moved = full_group_bounds(x, sample_weight, centers, x_sq_norms, groups, chunk_size, bounds.labels)
        return measured._replace(totals=moved), n_tightened + all_distances

    def measure_open():
        # Pairs (point, group), grouped by group: the transpose's nonzeros come out group by group.
        pairs = tf.cast(tf.where(tf.transpose(open_groups)), tf.int32)
        pair_group, pair_point = pairs[:, 0], pairs[:, 1]
        counts = tf.math.bincount(pair_group, minlength=n_groups, maxlength=n_groups)
        pair_splits = tf.concat([[0], tf.cumsum(counts)], axis=0)
        rows = tf.gather(unsettled, pair_point)
        measured = _measure_groups(x, x_sq_norms, centers, groups, rows, pair_splits, chunk_size)
        # Each point's nearest over its open groups, ties to the lower centre index (as argmin).
        n_points = tf.shape(unsettled)[0]
        best = tf.math.unsorted_segment_min(measured.nearest, pair_point, n_points)
        candidate = tf.where(measured.nearest == tf.gather(best, pair_point), measured.label, n_clusters)
        new_labels = tf.math.unsorted_segment_min(candidate, pair_point, n_points)
        is_own_group = tf.gather(groups.of_center, tf.gather(new_labels, pair_point)) == pair_group
        group_bound = tf.sqrt(tf.maximum(tf.where(is_own_group, measured.second, measured.nearest), 0.0))
        measured_points = tf.cast(tf.where(still)[:, 0], tf.int32)
        rows_measured = tf.gather(unsettled, measured_points)
        labels = tf.tensor_scatter_nd_update(
            bounds.labels, rows_measured[:, None], tf.gather(new_labels, measured_points)
        )
        new_upper = tf.tensor_scatter_nd_update(
            upper, rows_measured[:, None], tf.sqrt(tf.maximum(tf.gather(best, measured_points), 0.0))
        )
        new_lower = tf.tensor_scatter_nd_update(lower, tf.stack([rows, pair_group], axis=1), group_bound)
        moved = _chunked_moved_totals(x, sample_weight, bounds.labels, labels, centers, chunk_size)
        return GroupBounds(labels, new_upper, new_lower, moved), n_tightened + open_distances

    dense = tf.cast(open_distances, tf.float64) > dense_share * tf.cast(all_distances, tf.float64)
    measured, n_computed = tf.cond(dense, measure_all, measure_open)
    totals = Totals(*(total + change for total, change in zip(bounds.totals, measured.totals)))
    return _with_static_shapes(measured._replace(totals=totals), x, centers, n_groups), n_computed


def lloyd_yinyang(
    x: tf.Tensor,
    sample_weight: tf.Tensor,
    initial_centers: tf.Tensor,
    max_iter: tf.Tensor,
    tol: tf.Tensor,
    chunk_size: int = 4096,
    verbose: bool = False,
    progress: tf.Tensor | None = None,
    n_groups: int | None = None,
) -> LloydResult:
    """Lloyd's algorithm with Yinyang's group bounds, as one graph; same contract as :func:`tfkmeans.ops.lloyd`.

    ``n_groups`` (a Python int, at most k; default :func:`default_n_groups`)
    sets the memory: ``n × n_groups`` bounds. ``history`` has a third column: the
    share of the ``n × k`` distances each iteration computed (1 for a full pass).
    """
    n_clusters = initial_centers.shape[0]
    if n_groups is None:
        if n_clusters is None:
            raise ValueError("lloyd_yinyang needs n_groups when the number of centres is not static.")
        n_groups = default_n_groups(n_clusters)
    if n_clusters is not None:
        n_groups = min(n_groups, n_clusters)
    tol = tf.cast(tol, initial_centers.dtype)
    x_sq_norms = data_squared_norms(x)
    x_norms = tf.sqrt(x_sq_norms)
    x_sq_total = tf.reduce_sum(tf.cast(x_sq_norms, tf.float64) * tf.cast(sample_weight, tf.float64))
    all_distances = tf.cast(tf.shape(x)[0], tf.float64) * tf.cast(tf.shape(initial_centers)[0], tf.float64)
    groups = group_centers(initial_centers, n_groups)
    history = tf.TensorArray(initial_centers.dtype, size=0, dynamic_size=True, element_shape=[3])

    def rebuilt(centers):
        bounds, totals = full_group_bounds(x, sample_weight, centers, x_sq_norms, groups, chunk_size)
        n_computed = tf.cast(tf.shape(x)[0], tf.int64) * tf.cast(tf.shape(centers)[0], tf.int64)
        return _with_static_shapes(bounds._replace(totals=totals), x, centers, n_groups), n_computed

    def assign(centers, previous_centers, bounds, rebuild):
        return tf.cond(
            rebuild,
            lambda: rebuilt(centers),
            lambda: refresh_group_bounds(
                x, sample_weight, x_sq_norms, x_norms, groups, bounds, previous_centers, centers, chunk_size
            ),
        )

    def body(iteration, centers, previous_centers, bounds, rebuild, _done, history):
        bounds, n_computed = assign(centers, previous_centers, bounds, rebuild)
        new_centers, empty = next_centers(x, sample_weight, x_sq_norms, centers, bounds.totals, chunk_size)
        shift = tf.reduce_sum(tf.square(new_centers - centers))
        assigned_inertia = tf.cast(assignment_inertia(x_sq_total, bounds, centers), centers.dtype)
        share = tf.cast(tf.cast(n_computed, tf.float64) / all_distances, centers.dtype)
        if verbose:
            print_iteration(
                progress,
                iteration,
                "inertia",
                assigned_inertia,
                "centre shift",
                shift,
                "share of distances computed",
                share,
            )
        history = history.write(iteration, tf.stack([assigned_inertia, shift, share]))
        return iteration + 1, new_centers, centers, bounds, empty, shift <= tol, history

    n = tf.shape(x)[0]
    no_bounds = GroupBounds(
        tf.zeros([n], tf.int32), tf.zeros([n], x.dtype), tf.zeros([n, n_groups], x.dtype), empty_totals(initial_centers)
    )
    no_bounds = _with_static_shapes(no_bounds, x, initial_centers, n_groups)
    n_iter, centers, previous_centers, bounds, rebuild, converged, history = tf.while_loop(
        lambda iteration, _c, _p, _b, _r, done, _h: tf.logical_and(iteration < max_iter, tf.logical_not(done)),
        body,
        (tf.constant(0), initial_centers, initial_centers, no_bounds, tf.constant(True), tf.constant(False), history),
    )
    # labels_ must agree with the final centres (scikit-learn's last E-step).
    labels = assign(centers, previous_centers, bounds, rebuild)[0].labels
    total = inertia(x, centers, labels, sample_weight, chunk_size)
    return LloydResult(centers, labels, total, n_iter, converged, tf.reshape(history.stack(), [-1, 3]))
