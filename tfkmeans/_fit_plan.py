"""How a :class:`tfkmeans.KMeans` fit runs Lloyd's iterations on its data: a :class:`FitPlan` per kind of storage.

A plan binds the (prepared, possibly centred) data to the compiled loops:
in memory (one run, all runs together, or Elkan's bounds), streamed from a
``tf.data.Dataset``, and either of them spread over a ``tf.distribute``
strategy's replicas. The estimator chooses initial centres, restarts and
checkpoints; the plan only runs iterations and the final labelling pass.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import tensorflow as tf

from tfkmeans import _compiled, ops

# run(initial_centers, tol, max_iter, progress): one Lloyd fit (max_iter=0: just labels and inertia);
# progress (:func:`progress`) numbers its verbose lines.
RunFn = Callable[[tf.Tensor, tf.Tensor, int, tf.Tensor], ops.LloydResult]
# run_all(initial_centers of shape (runs, k, d), tol, max_iter): every run in one loop.
RunsFn = Callable[[tf.Tensor, tf.Tensor, int], ops.RunsResult]


class FitPlan(NamedTuple):
    """What fit needs from the data, however it is stored."""

    seed_points: tf.Tensor  # rows to choose initial centres from
    seed_weights: tf.Tensor
    tol: tf.Tensor  # absolute tolerance
    run: RunFn
    distributed_run: Callable[[tf.distribute.Strategy], RunFn]  # ``run`` spread over a strategy's replicas
    in_memory: bool = False  # restarts can then be seeded together
    run_all: RunsFn | None = None  # every run in one loop (Lloyd); None: one by one
    origin: tf.Tensor | None = None  # the runs see the data moved by -origin (centred)
    weight_scale: float = 1.0  # the runs see the sample weights divided by it (scaled_sample_weight)


class LoopOptions(NamedTuple):
    """Static arguments of every compiled loop of one fit."""

    distance: str
    chunk_size: int
    verbose: bool


def progress(run_index: int, done: int = 0) -> tf.Tensor:
    """What verbose lines of run ``run_index`` (0-based) show: its number and the iterations it has done.

    A tensor, so that each run and checkpoint segment reuses one compiled graph.
    """
    return tf.constant([run_index + 1, done], tf.int32)


def stream_seed_sample_size(n_clusters: int) -> int:
    """Rows sampled from a streamed dataset to choose the initial centres from.

    30 per cluster (at least 10,000) is ample for k-means++ and keeps the
    sample small next to a batch of rows.
    """
    return max(10_000, 30 * n_clusters)


def in_memory_plan(
    x: tf.Tensor,
    weights: tf.Tensor,
    tol: tf.Tensor,
    options: LoopOptions,
    *,
    algorithm: str,
    n_groups: int,
    runs_chunk_size: Callable[[int], int],
    origin: tf.Tensor | None,
    weight_scale: float,
) -> FitPlan:
    """The plan of in-memory data ``x`` (moved by ``-origin``) with scaled sample ``weights``.

    ``algorithm``: the iterations of single runs, 'lloyd', 'elkan' or
    'yinyang' (with ``n_groups`` groups of centres); with bounds, restarts go
    one by one, with Lloyd's iterations they share one loop.
    ``runs_chunk_size(c)`` is the chunk size for distance blocks ``c`` columns
    wide, for that loop.
    """

    def run(initial_centers: tf.Tensor, tol: tf.Tensor, max_iter: int, progress: tf.Tensor) -> ops.LloydResult:
        arguments = (x, weights, initial_centers, tf.constant(max_iter), tol)
        if algorithm == "elkan":
            return _compiled.lloyd_bounded(
                *arguments, chunk_size=options.chunk_size, verbose=options.verbose, progress=progress
            )
        if algorithm == "yinyang":
            return _compiled.lloyd_yinyang(
                *arguments, n_groups=n_groups, chunk_size=options.chunk_size, verbose=options.verbose, progress=progress
            )
        return _compiled.lloyd(*arguments, **options._asdict(), progress=progress)

    def run_all(initial_centers: tf.Tensor, tol: tf.Tensor, max_iter: int) -> ops.RunsResult:
        # The distance block is rows × (runs·k): size the chunks for all runs' centres.
        chunk_size = runs_chunk_size(int(initial_centers.shape[0]) * int(initial_centers.shape[1]))
        return _compiled.lloyd_runs(
            x, weights, initial_centers, tf.constant(max_iter), tol, **options._replace(chunk_size=chunk_size)._asdict()
        )

    def distributed_run(strategy: tf.distribute.Strategy) -> RunFn:
        return replicated_run(strategy, x, weights, options)

    # Restarts with bounds go one by one: their iterations are cheap once the bounds settle.
    runs_together = run_all if algorithm == "lloyd" else None
    return FitPlan(x, weights, tol, run, distributed_run, True, runs_together, origin, weight_scale)


def stream_plan(
    batches: tf.data.Dataset,
    n_batches: tf.Tensor,
    seed_rows: tf.Tensor,
    tol: tf.Tensor,
    options: LoopOptions,
    origin: tf.Tensor | None,
) -> FitPlan:
    """The plan of a dataset of ``n_batches`` ``(x, sample_weight)`` batches (moved by ``-origin``), read once per
    iteration; initial centres come from ``seed_rows``, drawn by weight (so they count once each)."""

    def run(initial_centers: tf.Tensor, tol: tf.Tensor, max_iter: int, progress: tf.Tensor) -> ops.LloydResult:
        return _compiled.lloyd_stream_fit(
            batches, n_batches, initial_centers, tf.constant(max_iter), tol, progress, **options._asdict()
        )

    def distributed_run(strategy: tf.distribute.Strategy) -> RunFn:
        return dataset_distributed_run(strategy, batches, options)

    return FitPlan(
        seed_rows, tf.ones(tf.shape(seed_rows)[:1], seed_rows.dtype), tol, run, distributed_run, origin=origin
    )


def replicated_run(strategy: tf.distribute.Strategy, x: tf.Tensor, weights: tf.Tensor, options: LoopOptions) -> RunFn:
    """Lloyd iterations over in-memory data split once into one contiguous shard per replica.

    The shards are placed on the replicas' devices when the fit starts and
    every pass reads them there, with no dataset iterator per pass (faster than
    a distributed dataset: BENCHMARKS.md). The final labels and inertia take
    one ordinary pass over ``x``.
    """
    shard_size = -(-int(x.shape[0]) // strategy.num_replicas_in_sync)

    def shard(values: tf.Tensor) -> tf.distribute.DistributedValues:
        def replica_share(context: tf.distribute.experimental.ValueContext) -> tf.Tensor:
            start = context.replica_id_in_sync_group * shard_size
            return tf.identity(values[start : start + shard_size])  # a copy on the replica's device

        return strategy.experimental_distribute_values_from_function(replica_share)

    shards = (shard(x), shard(weights))

    def run(initial_centers: tf.Tensor, tol: tf.Tensor, max_iter: int, progress: tf.Tensor) -> ops.LloydResult:
        iterations = _compiled.lloyd_distributed(
            strategy, shards, initial_centers, tf.constant(max_iter), tol, **options._asdict(), progress=progress
        )
        return _compiled.lloyd_result(iterations, x, weights, options.distance, options.chunk_size)

    return run


def dataset_distributed_run(strategy: tf.distribute.Strategy, batches: tf.data.Dataset, options: LoopOptions) -> RunFn:
    """Lloyd iterations spread over the strategy's replicas (and workers).

    Every replica assigns its share of each global batch; totals are summed
    across replicas, so all of them apply the same update. The final labels
    and inertia take one more, ordinary pass.
    """
    distributed = strategy.experimental_distribute_dataset(batches)

    def run(initial_centers: tf.Tensor, tol: tf.Tensor, max_iter: int, progress: tf.Tensor) -> ops.LloydResult:
        iterations = _compiled.lloyd_distributed(
            strategy, distributed, initial_centers, tf.constant(max_iter), tol, **options._asdict(), progress=progress
        )
        return _compiled.lloyd_result(iterations, batches, None, options.distance, options.chunk_size)

    return run
