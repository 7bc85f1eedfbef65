"""Chunk-body variants of one Lloyd pass on MNIST train, timed interleaved in one run.

One Lloyd pass (assign every row to its nearest centre, sum each cluster) over
MNIST train, chunk by chunk, as different kernels; all share one chunk body
(X·Cᵀ GEMM, argmin, sums by one-hot GEMM up to 32 clusters, scatter-add beyond):

* ``fp32_tf``: the body in a TensorFlow while-loop, TensorFlow's scatter-add.
* ``fp32_tf_xla_scatter``: the same with the scatter-add compiled by XLA
  (what the library's pass does beyond 32 clusters).
* ``fp32_xla``: the whole pass compiled by XLA (``jit_compile=True``).
* ``fp32_gemm_xla``: only the chunked distance GEMMs (no argmin, no sums),
  compiled by XLA: the compute floor of a float32 pass.

The library's own pass is timed as whole fits by :mod:`benchmarks.lloyd`. (An
exact bfloat16 pass was measured here too and was not faster; it lives in git
history: see BENCHMARKS.md, "What did not help".)

Centres are realistic: k distinct random rows (``--seed``) after ``--lloyd_iters``
float64 Lloyd iterations (numpy). Repeats of the variants are interleaved.

Usage::

    python -m benchmarks.kernels
    python -m benchmarks.kernels --ks=10,100,1000 --repeats=9 --bench_file=
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
from absl import flags

from benchmarks import _harness as harness

FLAGS = harness.new_flags("kernels", repeats=7)
flags.DEFINE_list("ks", ["10", "100", "1000"], "Numbers of clusters.", flag_values=FLAGS)
flags.DEFINE_list(
    "variants", ["fp32_tf", "fp32_tf_xla_scatter", "fp32_xla", "fp32_gemm_xla"], "Variants to time.", flag_values=FLAGS
)
flags.DEFINE_integer(
    "lloyd_iters", 3, "Float64 Lloyd iterations from the random rows before timing.", flag_values=FLAGS
)
flags.DEFINE_integer("chunk_size", 2048, "Rows per chunk, all variants.", flag_values=FLAGS)

VARIANTS = ("fp32_tf", "fp32_tf_xla_scatter", "fp32_xla", "fp32_gemm_xla")
# Up to this many clusters, sums by one-hot GEMM (as the library does); beyond, scatter-add.
_ONE_HOT_MAX_CLUSTERS = 32


def lloyd_pass(x: Any, n_rows: Any, centers: Any, chunk_size: int, segment_sum: Callable[..., Any]) -> Any:
    """Cluster sums of one float32 Lloyd pass over ``x`` padded to whole chunks; rows from ``n_rows`` on are masked."""
    import tensorflow as tf

    n_padded, n_features = x.shape
    n_clusters = centers.shape[0]
    center_norms = tf.reduce_sum(tf.square(centers), axis=1)

    def body(index, sums):
        start = index * chunk_size
        block = tf.slice(x, [start, 0], [chunk_size, n_features])
        labels = tf.argmin(
            center_norms[None, :] - 2.0 * tf.matmul(block, centers, transpose_b=True), axis=1, output_type=tf.int32
        )
        segments = tf.where(start + tf.range(chunk_size) < n_rows, labels, n_clusters)  # padding: no cluster
        if n_clusters <= _ONE_HOT_MAX_CLUSTERS:
            return index + 1, sums + tf.matmul(tf.one_hot(segments, n_clusters), block, transpose_a=True)
        return index + 1, sums + segment_sum(block, segments, n_clusters + 1)[:n_clusters]

    initial = (tf.constant(0), tf.zeros([n_clusters, n_features]))
    return tf.while_loop(lambda index, _: index < n_padded // chunk_size, body, initial)[1]


def gemm_pass(x: Any, centers: Any, chunk_size: int) -> Any:
    """Only the chunked distance products ``x · centersᵀ``, reduced to one number."""
    import tensorflow as tf

    n_padded, n_features = x.shape

    def body(index, total):
        block = tf.slice(x, [index * chunk_size, 0], [chunk_size, n_features])
        return index + 1, total + tf.matmul(block, centers, transpose_b=True)[:1, :1]

    initial = (tf.constant(0), tf.zeros([1, 1]))
    return tf.while_loop(lambda index, _: index < n_padded // chunk_size, body, initial)[1]


def float64_lloyd(x64: np.ndarray, centers: np.ndarray, iterations: int) -> np.ndarray:
    """``iterations`` Lloyd iterations in float64 (an emptied cluster keeps its centre)."""
    c = centers.astype(np.float64)
    for _ in range(iterations):
        labels = ((c * c).sum(axis=1)[None, :] - 2.0 * (x64 @ c.T)).argmin(axis=1)
        counts = np.bincount(labels, minlength=len(c)).astype(np.float64)
        sums = np.zeros_like(c)
        np.add.at(sums, labels, x64)
        c = np.where(counts[:, None] > 0, sums / np.maximum(counts, 1.0)[:, None], c)
    return c.astype(np.float32)


def measure_k(x: np.ndarray, k: int, values: flags.FlagValues, repeats: int) -> dict[str, harness.Summary]:
    """Interleaved timings of every variant at one k."""
    import tensorflow as tf

    chunk = values.chunk_size
    n = x.shape[0]
    init = x[np.random.default_rng(values.seed).choice(n, k, replace=False)]
    centers = tf.constant(float64_lloyd(x.astype(np.float64), init, values.lloyd_iters))
    x_padded = tf.pad(tf.constant(x), [[0, -n % chunk], [0, 0]])
    rows = tf.constant(n)
    compiled_sum = tf.function(tf.math.unsorted_segment_sum, jit_compile=True)
    graphs: dict[str, Callable[[], Any]] = {
        "fp32_tf": tf.function(lambda c: lloyd_pass(x_padded, rows, c, chunk, tf.math.unsorted_segment_sum)),
        "fp32_tf_xla_scatter": tf.function(lambda c: lloyd_pass(x_padded, rows, c, chunk, compiled_sum)),
        "fp32_xla": tf.function(
            lambda c: lloyd_pass(x_padded, rows, c, chunk, tf.math.unsorted_segment_sum), jit_compile=True
        ),
        "fp32_gemm_xla": tf.function(lambda c: gemm_pass(x_padded, c, chunk), jit_compile=True),
    }
    variants = {name: (lambda graph=graphs[name]: graph(centers).numpy()) for name in values.variants}
    for fn in variants.values():
        fn()  # trace and compile
    times: dict[str, list[float]] = {name: [] for name in variants}
    for _ in range(repeats):
        for name, fn in variants.items():
            times[name].append(harness.timed(fn)[0])
    return {name: harness.summarize(series) for name, series in times.items()}


def results_table(results: dict[int, dict[str, harness.Summary]]) -> str:
    """One row per k, one column per variant: ms per pass, median / minimum."""
    variants = list(next(iter(results.values())))
    rows = [
        [f"{k:,}", *(f"{harness.ms(s.median)} / {harness.ms(s.min)}" for s in by_variant.values())]
        for k, by_variant in results.items()
    ]
    return harness.markdown_table(["k", *(f"{name}, ms" for name in variants)], rows)


def main(values: flags.FlagValues, argv: list[str]) -> None:
    harness.check_methods(values.variants, VARIANTS)
    if values.targets:
        raise harness.UsageError("benchmarks.kernels reports no target")
    ks = [10] if values.quick else [int(k) for k in values.ks]
    machine = harness.machine_info()
    x = harness.load_train(values)
    repeats = harness.repeats(values)
    results = {k: measure_k(x, k, values, repeats) for k in ks}
    method = (
        f"one Lloyd pass over {x.shape[0]:,} × {x.shape[1]} float32 in {values.chunk_size:,}-row chunks, centres "
        f"from k random rows (`--seed={values.seed}`) after {values.lloyd_iters} float64 Lloyd iterations, "
        f"variants interleaved, {repeats} repeats after tracing; ms, median and minimum."
    )
    harness.publish(
        values,
        "benchmarks.kernels",
        argv,
        machine,
        method,
        results_table(results),
        (),
        {str(k): v for k, v in results.items()},
    )


def cli(argv: Sequence[str] | None = None) -> None:
    """Run with ``argv`` (default: the command line)."""
    harness.run(main, FLAGS, argv)


if __name__ == "__main__":
    cli()
