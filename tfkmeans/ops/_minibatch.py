"""Mini-batch K-means (Sculley 2010, as scikit-learn runs it) as pure TensorFlow functions.

Everything the algorithm carries from one mini-batch to the next lives in a
:class:`MiniBatchState`; :func:`minibatch_step` maps a state and one batch to the
next state, so one step is one graph. :func:`minibatch_kmeans` runs the whole
step loop over in-memory data inside one ``tf.while_loop``, drawing each batch
with replacement by stateless random integers (scikit-learn's
``random_state.choice(n, batch_size, replace=True, p=w/sum(w))``), and
:func:`minibatch_kmeans_stream` runs it over a ``tf.data`` pipeline, one step
per element. Neither returns to Python between steps; both return a history
of every step's smoothed and batch inertia (two scalars a step), recorded in
the loop, for the estimator's TensorBoard curves.

The step follows scikit-learn's ``_mini_batch_step`` and
``_mini_batch_convergence``:

1. **Reassignment due?** Decided before the update, from the counts so far:
   always while a centre has count 0, otherwise once every ``10 * n_clusters``
   samples.
2. **Assign** the batch to the current centres; the batch inertia (before the
   update) feeds the convergence monitor.
3. **Update** each centre that received weight with its own learning rate,
   ``c ← (c · count + Σ w·x) / (count + Σ w)``: the centre stays the mean of
   every sample it was ever given. Centres that received nothing keep their
   place and count.
4. **Reassign** (when due) the centres whose count is below
   ``reassignment_ratio × max(count)`` — at most half the batch size, the
   lowest counts first — to distinct random rows of the batch, and set their
   count to the smallest count left untouched (so they are not reassigned
   again at once).
5. **Monitor**: the mean batch inertia is smoothed by an exponentially
   weighted average (``alpha = 2 · batch / (n_samples + 1)``), the first step
   being ignored; the run has converged when the total squared centre change
   is at most ``tol`` (if ``tol > 0``) or when the smoothed inertia has not
   improved for ``max_no_improvement`` consecutive steps.
"""

from __future__ import annotations

from typing import NamedTuple

import tensorflow as tf

from tfkmeans.ops._assignment import final_assignment
from tfkmeans.ops._lloyd import empty_history, in_memory_pass, stacked_history
from tfkmeans.ops._sampling import sample_by_weight

# max_no_improvement=None (never stop on a plateau) is passed to the graph as this.
NO_PLATEAU_STOP = 2**31 - 1


class MiniBatchState(NamedTuple):
    """Everything mini-batch K-means carries between steps."""

    centers: tf.Tensor  # (k, d)
    counts: tf.Tensor  # (k,) total sample weight each centre has absorbed (scikit-learn's _counts)
    step: tf.Tensor  # int32 scalar: steps taken
    rows_seen: tf.Tensor  # int64 scalar: batch rows processed (epochs = ceil(rows_seen / n_samples))
    samples_since_reassign: tf.Tensor  # int64 scalar: batch rows seen since the last reassignment check fired
    batch_inertia: tf.Tensor  # scalar: mean inertia of the last batch, under the centres before its update
    ewa_inertia: tf.Tensor  # scalar: smoothed mean batch inertia (the first batch's until step 2)
    ewa_inertia_min: tf.Tensor  # scalar: lowest smoothed inertia so far (+inf before step 2)
    no_improvement: tf.Tensor  # int32 scalar: consecutive steps without a new minimum
    converged: tf.Tensor  # bool scalar: an early-stopping criterion fired at the last step
    n_reassigned: tf.Tensor  # int32 scalar: centres reassigned so far


class MiniBatchResult(NamedTuple):
    state: MiniBatchState
    labels: tf.Tensor  # (n,) int32 nearest centre of every sample, or (0,) without compute_labels
    inertia: tf.Tensor  # scalar: exact inertia of the data, or the EWA estimate without compute_labels
    history: tf.Tensor  # (steps run, 2): after each step of this call, its ewa_inertia and batch_inertia


def _record_step(history: tf.TensorArray, first_step: tf.Tensor, state: MiniBatchState) -> tf.TensorArray:
    """``history`` with the row of the step that produced ``state``, in a loop that began at ``first_step``."""
    return history.write(state.step - first_step - 1, tf.stack([state.ewa_inertia, state.batch_inertia]))


def minibatch_initial_state(
    centers: tf.Tensor,
    counts: tf.Tensor | None = None,
    samples_since_reassign: int = 0,
    step: int = 0,
    rows_seen: int = 0,
) -> MiniBatchState:
    """A fresh state at ``centers`` (counts zero unless given)."""
    centers = tf.convert_to_tensor(centers)
    dtype = centers.dtype
    if counts is None:
        counts = tf.zeros(tf.shape(centers)[:1], dtype)
    return MiniBatchState(
        centers=centers,
        counts=tf.cast(counts, dtype),
        step=tf.cast(step, tf.int32),
        rows_seen=tf.cast(rows_seen, tf.int64),
        samples_since_reassign=tf.cast(samples_since_reassign, tf.int64),
        batch_inertia=tf.zeros([], dtype),
        ewa_inertia=tf.zeros([], dtype),
        ewa_inertia_min=tf.constant(float("inf"), dtype),
        no_improvement=tf.constant(0, tf.int32),
        converged=tf.constant(False),
        n_reassigned=tf.constant(0, tf.int32),
    )


def update_centers_online(
    centers: tf.Tensor, counts: tf.Tensor, batch_sums: tf.Tensor, batch_weights: tf.Tensor
) -> tuple[tf.Tensor, tf.Tensor]:
    """scikit-learn's per-centre learning rate: ``c ← (c · count + Σ w·x) · 1 / (count + Σ w)``.

    ``batch_sums``/``batch_weights`` are the weighted sums and total weights of the
    batch rows assigned to each centre. A centre that received no weight keeps its
    position and count.
    """
    received = batch_weights > 0
    new_counts = counts + batch_weights
    scale = 1.0 / tf.where(received, new_counts, tf.ones_like(new_counts))
    moved = (centers * counts[:, None] + batch_sums) * scale[:, None]
    return tf.where(received[:, None], moved, centers), tf.where(received, new_counts, counts)


def reassign_starved_centers(
    x: tf.Tensor,
    sample_weight: tf.Tensor,
    centers: tf.Tensor,
    counts: tf.Tensor,
    reassignment_ratio: tf.Tensor,
    seed: tf.Tensor,
) -> tuple[tf.Tensor, tf.Tensor, tf.Tensor]:
    """Move centres with ``count < ratio · max(count)`` onto distinct random rows of the batch ``x``.

    At most ``floor(batch / 2)`` centres move, those with the lowest counts. Rows
    are drawn uniformly without replacement, as scikit-learn does, except that
    rows of positive weight are preferred to zero-weight ones. A moved centre's
    count becomes the smallest count among the centres that did not move.

    Returns ``(centers, counts, n_moved)``.
    """
    rows = tf.shape(x)[0]
    starving = counts < tf.cast(reassignment_ratio, counts.dtype) * tf.reduce_max(counts)
    # scikit-learn: at most int(0.5 * batch) centres, the lowest counts first.
    cap = rows // 2
    order = tf.argsort(counts, stable=True)
    rank = tf.math.invert_permutation(order)
    starving = starving & (rank < cap)
    n_moved = tf.reduce_sum(tf.cast(starving, tf.int32))

    def move():
        u = tf.random.stateless_uniform([rows], seed, dtype=tf.float32)
        keys = tf.where(sample_weight > 0, u, u - 1.0)  # positive-weight rows first
        shuffled = tf.argsort(keys, direction="DESCENDING")
        slot = tf.maximum(tf.cumsum(tf.cast(starving, tf.int32)) - 1, 0)  # j-th starving centre → j-th row
        picked = tf.gather(x, tf.gather(shuffled, slot))
        floor = tf.reduce_min(tf.where(starving, tf.constant(float("inf"), counts.dtype), counts))
        floor = tf.where(tf.math.is_inf(floor), tf.reduce_max(counts), floor)  # every centre moved
        return tf.where(starving[:, None], picked, centers), tf.where(starving, floor, counts)

    centers, counts = tf.cond(n_moved > 0, move, lambda: (centers, counts))
    return centers, counts, n_moved


def minibatch_step(
    state: MiniBatchState,
    x: tf.Tensor,
    sample_weight: tf.Tensor,
    seed: tf.Tensor,
    n_samples: tf.Tensor,
    reassignment_ratio: tf.Tensor,
    tol: tf.Tensor,
    max_no_improvement: tf.Tensor,
    distance: str = "matmul",
    chunk_size: int = 4096,
    x_sq_norms: tf.Tensor | None = None,
    verbose: bool = False,
) -> MiniBatchState:
    """One mini-batch step: state in, state out (see the module docstring for the rules).

    Parameters
    ----------
    state : MiniBatchState
    x, sample_weight : the batch ``(b, d)`` and its weights ``(b,)``
    seed : shape-[2] int tensor for the reassignment draw
    n_samples : size of the whole data set (sets the EWA's smoothing factor)
    reassignment_ratio, tol, max_no_improvement : scalars; ``tol`` is absolute
        (already scaled by the data variance), ``tol <= 0`` disables it, and
        :data:`NO_PLATEAU_STOP` disables the plateau test.
    distance, chunk_size, x_sq_norms : as for :func:`tfkmeans.ops.labels_and_inertia`
    verbose : print the step's figures from the graph
    """
    dtype = x.dtype
    rows = tf.shape(x)[0]
    n_clusters = tf.shape(state.centers)[0]

    # 1. Reassignment due? (scikit-learn's _random_reassign, before the update)
    seen = state.samples_since_reassign + tf.cast(rows, tf.int64)
    due = tf.reduce_any(state.counts <= 0) | (seen >= 10 * tf.cast(n_clusters, tf.int64))
    seen = tf.where(due, tf.zeros_like(seen), seen)

    # 2-3. Assign and update: the batch is one Lloyd pass (its candidates go unused).
    totals = in_memory_pass(x, sample_weight, state.centers, distance, chunk_size, x_sq_norms)
    batch_inertia = totals.inertia / tf.cast(rows, dtype)
    centers, counts = update_centers_online(state.centers, state.counts, totals.sums, totals.weights)

    # 4. Reassign starved centres.
    centers, counts, n_moved = tf.cond(
        due & (reassignment_ratio > 0),
        lambda: reassign_starved_centers(x, sample_weight, centers, counts, reassignment_ratio, seed),
        lambda: (centers, counts, tf.constant(0, tf.int32)),
    )

    # 5. Convergence monitor (scikit-learn's _mini_batch_convergence). The first
    # step's inertia is that of the initial centres: it only seeds the EWA.
    alpha = tf.minimum(tf.cast(2 * rows, dtype) / (tf.cast(n_samples, dtype) + 1.0), 1.0)
    first, second = state.step == 0, state.step == 1
    ewa = tf.where(first | second, batch_inertia, state.ewa_inertia * (1.0 - alpha) + batch_inertia * alpha)
    improved = ewa < state.ewa_inertia_min
    no_improvement = tf.where(improved, 0, state.no_improvement + 1)
    ewa_min = tf.where(improved, ewa, state.ewa_inertia_min)
    tol = tf.cast(tol, dtype)
    shift = tf.reduce_sum(tf.square(centers - state.centers))
    converged = ((tol > 0) & (shift <= tol)) | (no_improvement >= tf.cast(max_no_improvement, tf.int32))
    # On the first step nothing but the EWA seed changes.
    no_improvement = tf.where(first, state.no_improvement, no_improvement)
    ewa_min = tf.where(first, state.ewa_inertia_min, ewa_min)
    converged = tf.logical_and(tf.logical_not(first), converged)

    if verbose:
        tf.print(
            "tfkmeans: minibatch step",
            state.step + 1,
            "mean batch inertia",
            batch_inertia,
            "ewa inertia",
            ewa,
            "centre change",
            shift,
            "reassigned",
            n_moved,
        )
    return MiniBatchState(
        centers=tf.ensure_shape(centers, state.centers.shape),
        counts=tf.ensure_shape(counts, state.counts.shape),
        step=state.step + 1,
        rows_seen=state.rows_seen + tf.cast(rows, tf.int64),
        samples_since_reassign=seen,
        batch_inertia=batch_inertia,
        ewa_inertia=ewa,
        ewa_inertia_min=ewa_min,
        no_improvement=no_improvement,
        converged=converged,
        n_reassigned=state.n_reassigned + n_moved,
    )


def minibatch_kmeans(
    x: tf.Tensor,
    sample_weight: tf.Tensor,
    initial_centers: tf.Tensor,
    n_steps: tf.Tensor,
    seed: tf.Tensor,
    reassignment_ratio: tf.Tensor,
    tol: tf.Tensor,
    max_no_improvement: tf.Tensor,
    batch_size: int,
    weighted: bool = False,
    distance: str = "matmul",
    chunk_size: int = 4096,
    compute_labels: bool = True,
    verbose: bool = False,
) -> MiniBatchResult:
    """A whole mini-batch fit on in-memory data, in one ``tf.while_loop``.

    Step ``i`` draws ``batch_size`` row indices with replacement from the
    stateless seed ``fold_in(seed, i)``: uniformly, or with probability
    proportional to ``sample_weight`` if ``weighted`` — the batch then gets unit
    weights, so weights are not counted twice (scikit-learn's scheme). The loop
    stops after ``n_steps`` steps or when the state reports convergence. With
    ``compute_labels`` the final centres label all of ``x`` and the exact
    inertia is computed; otherwise the inertia is estimated as
    ``ewa_inertia · Σ w``.
    """
    return minibatch_kmeans_resume(
        x,
        sample_weight,
        minibatch_initial_state(initial_centers),
        n_steps,
        seed,
        reassignment_ratio,
        tol,
        max_no_improvement,
        batch_size,
        weighted,
        distance,
        chunk_size,
        compute_labels,
        verbose,
    )


def minibatch_kmeans_resume(
    x: tf.Tensor,
    sample_weight: tf.Tensor,
    state: MiniBatchState,
    n_steps: tf.Tensor,
    seed: tf.Tensor,
    reassignment_ratio: tf.Tensor,
    tol: tf.Tensor,
    max_no_improvement: tf.Tensor,
    batch_size: int,
    weighted: bool = False,
    distance: str = "matmul",
    chunk_size: int = 4096,
    compute_labels: bool = True,
    verbose: bool = False,
) -> MiniBatchResult:
    """:func:`minibatch_kmeans` continued from ``state`` until ``state.step == n_steps`` or convergence.

    ``n_steps`` counts from the start of the fit, not from ``state``, and the
    batch of step ``i`` depends only on ``seed`` and ``i``: running steps
    ``[0, a)`` then ``[a, b)`` in two calls gives the state of one call running
    ``[0, b)``. A fit can so run in segments (checkpointing between them) and
    resume from a saved state to the uninterrupted result. The result's
    ``history`` covers the steps of this call.
    """
    n = tf.shape(x)[0]
    first_step = state.step
    cumulative = tf.cumsum(tf.cast(sample_weight, tf.float64)) if weighted else None
    unit_weights = tf.ones([batch_size], x.dtype)

    def body(state, history):
        step_seed = tf.random.experimental.stateless_fold_in(seed, state.step)
        draw_seed = tf.random.experimental.stateless_fold_in(step_seed, 0)
        if weighted:  # as one run of the seeding's sampler, drawing from fold_in(step_seed, 0) = draw_seed
            indices = sample_by_weight(cumulative[None], batch_size, step_seed[None], 0)[0]
        else:
            indices = tf.random.stateless_uniform([batch_size], draw_seed, minval=0, maxval=n, dtype=tf.int32)
        # Norms of the batch rows are computed per batch: precomputing them for all
        # of x would cost a full pass over the data, more than a short fit needs.
        state = minibatch_step(
            state,
            tf.gather(x, indices),
            unit_weights,
            tf.random.experimental.stateless_fold_in(step_seed, 1),
            n,
            reassignment_ratio,
            tol,
            max_no_improvement,
            distance,
            chunk_size,
            None,
            verbose,
        )
        return state, _record_step(history, first_step, state)

    state, history = tf.while_loop(
        lambda state, _history: (state.step < tf.cast(n_steps, tf.int32)) & tf.logical_not(state.converged),
        body,
        (state, empty_history(x.dtype)),
    )
    return minibatch_result(
        state,
        stacked_history(history),
        x,
        tf.reduce_sum(sample_weight),
        compute_labels,
        distance,
        chunk_size,
        sample_weight,
    )


def minibatch_result(
    state: MiniBatchState,
    history: tf.Tensor,
    data: tf.Tensor | tf.data.Dataset,
    total_weight: tf.Tensor,
    compute_labels: bool,
    distance: str = "matmul",
    chunk_size: int = 4096,
    sample_weight: tf.Tensor | None = None,
) -> MiniBatchResult:
    """A mini-batch fit's result: with ``compute_labels`` the labels and exact inertia of ``data``.

    Without ``compute_labels`` no pass is made: the labels are empty and the
    inertia is estimated as ``ewa_inertia · total_weight``. ``data`` and
    ``sample_weight`` are as for :func:`tfkmeans.ops._assignment.final_assignment`.
    """
    if compute_labels:
        labels, total = final_assignment(data, state.centers, sample_weight, distance, chunk_size)
    else:
        labels, total = tf.zeros([0], tf.int32), state.ewa_inertia * tf.cast(total_weight, state.centers.dtype)
    return MiniBatchResult(state, labels, total, history)


def minibatch_kmeans_stream(
    batches: tf.data.Dataset,
    initial_centers: tf.Tensor,
    n_samples: tf.Tensor,
    seed: tf.Tensor,
    reassignment_ratio: tf.Tensor,
    tol: tf.Tensor,
    max_no_improvement: tf.Tensor,
    distance: str = "matmul",
    chunk_size: int = 4096,
    verbose: bool = False,
) -> tuple[MiniBatchState, tf.Tensor]:
    """Mini-batch steps over a ``tf.data`` pipeline of ``(x, sample_weight)`` batches, one step per element.

    Repeat the dataset for several epochs. Each batch's rows carry their own
    weights into the step (as in ``partial_fit``: a stream cannot be sampled by
    weight). Iteration stops at the end of the dataset or when the state
    reports convergence, inside one ``tf.while_loop`` (call it from a
    ``tf.function``). Returns the final state and the ``(steps, 2)`` history
    of :class:`MiniBatchResult`.
    """
    iterator = iter(batches)
    initial = minibatch_initial_state(initial_centers)

    def body(state, history, _exhausted):
        element = iterator.get_next_as_optional()

        def step():
            x, weights = element.get_value()
            stepped = minibatch_step(
                state,
                tf.cast(x, weights.dtype),
                weights,
                tf.random.experimental.stateless_fold_in(seed, state.step),
                n_samples,
                reassignment_ratio,
                tol,
                max_no_improvement,
                distance,
                chunk_size,
                None,
                verbose,
            )
            return stepped, _record_step(history, initial.step, stepped)

        state, history = tf.cond(element.has_value(), step, lambda: (state, history))
        return state, history, tf.logical_not(element.has_value())

    state, history, _ = tf.while_loop(
        lambda state, _history, exhausted: tf.logical_not(exhausted | state.converged),
        body,
        (initial, empty_history(initial.centers.dtype), tf.constant(False)),
    )
    return state, stacked_history(history)
