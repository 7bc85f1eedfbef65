"""Chunk-body variants of one Lloyd pass on MNIST train, timed interleaved in one run.

One Lloyd pass (assign every row to its nearest centre, sum each cluster) over
the 60,000 × 784 MNIST training images, as different kernels:

* ``fp32_tf``: tfkmeans's current body, ``ops.in_memory_pass`` (float32, a
  TensorFlow while-loop over 2048-row chunks: X·Cᵀ GEMM, argmin, one-hot GEMM
  sums for k ≤ 32, an XLA-compiled segment sum beyond).
* ``fp32_tf_plain``: a chunk body with only the GEMM, argmin and sums (no
  inertia, no relocation candidates) and TensorFlow's own scatter-add sums
  for k > 32, so that the next two compare like with like.
* ``fp32_tf_xla_scatter``: ``fp32_tf_plain`` whose scatter-add sums (k > 32)
  run as a small XLA-compiled function inside the TensorFlow loop (what
  ``fp32_tf`` does).
* ``fp32_xla``: the plain float32 body with fixed-size chunks, the whole
  pass compiled by XLA (``jit_compile=True``); scatter-add sums are XLA's.
* ``fp32_gemm_xla``: only the chunked distance GEMMs (no argmin, no sums),
  compiled by XLA: the compute floor of a float32 pass.

(An exact bfloat16 pass was measured here too and was not faster; it lives in
git history, not in the suite: see BENCHMARKS.md, "What did not help".)

Centres are realistic: ``--init`` (k-means++ by scikit-learn, or k distinct
random rows; both seeded by ``--seed``) followed by ``--lloyd_iters`` Lloyd
iterations in float64 (numpy). Repeats of the variants are interleaved
(round-robin), so load changes hit them alike.

Usage::

    python -m benchmarks.kernels --markdown
    python -m benchmarks.kernels --k=10,100,1000 --repeats=9 --output=runs/bench/kernels.json
"""

from __future__ import annotations

import datetime
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Callable

import numpy as np
from absl import app, flags, logging

from benchmarks._timing import machine_info, source_revision, summarize, timed

FLAGS = flags.FLAGS
flags.DEFINE_list("k", ["10", "100", "1000"], "Numbers of clusters, comma-separated.")
flags.DEFINE_list(
    "variants",
    [
        "fp32_tf", "fp32_tf_plain", "fp32_tf_xla_scatter", "fp32_xla", "fp32_gemm_xla",
    ],
    "Variants to time.",
)
flags.DEFINE_integer("repeats", 7, "Timed passes per variant (round-robin across variants).")
flags.DEFINE_integer("lloyd_iters", 5, "Float64 Lloyd iterations from the initial centres before timing.")
flags.DEFINE_integer("chunk_size", 2048, "Rows per chunk, all variants.")
flags.DEFINE_enum("init", "k-means++", ["k-means++", "random"], "Initial centres (k-means++ is slow at k=1000).")
flags.DEFINE_integer("seed", 0, "Seed of the initial centres.")
flags.DEFINE_string("data_dir", None, "MNIST directory; default: $TFKMEANS_DATA_DIR or tensorflow-datasets.")
flags.DEFINE_string("output", None, "Write the measurements and the machine record to this JSON file.")
flags.DEFINE_bool("markdown", False, "Print the results as a markdown table.")

# Up to this many clusters, sums by one-hot GEMM (as tfkmeans does); beyond, scatter-add.
_ONE_HOT_MAX_CLUSTERS = 32


def fp32_tf_pass(x: Any, centers: Any, chunk_size: int, segment_sum: Callable[..., Any]) -> Any:
    """Float32 Lloyd pass in a TensorFlow loop, sums only: one-hot GEMM up to 32 clusters, else ``segment_sum``."""
    import tensorflow as tf

    from tfkmeans.ops._chunking import fold_chunks, row_slice

    n_clusters = centers.shape[0]
    center_norms = tf.reduce_sum(tf.square(centers), axis=1)

    def body(start, size, sums):
        block = row_slice(x, start, size)
        labels = tf.argmin(center_norms[None, :] - 2.0 * tf.matmul(block, centers, transpose_b=True), axis=1)
        if n_clusters <= _ONE_HOT_MAX_CLUSTERS:
            return (sums + tf.matmul(tf.one_hot(labels, n_clusters), block, transpose_a=True),)
        return (sums + segment_sum(block, labels, n_clusters),)

    return fold_chunks(tf.shape(x)[0], chunk_size, body, (tf.zeros_like(centers),))[0]


def fp32_xla_pass(x: Any, n_rows: Any, centers: Any, chunk_size: int) -> Any:
    """Float32 Lloyd pass with fixed-size chunks, for XLA: ``(sums, counts)``.

    ``x`` is padded to a multiple of ``chunk_size``; rows from ``n_rows`` on are masked.
    """
    import tensorflow as tf

    n_padded, n_features = x.shape
    n_clusters = centers.shape[0]
    center_norms = tf.reduce_sum(tf.square(centers), axis=1)

    def body(index, sums, counts):
        start = index * chunk_size
        block = tf.slice(x, [start, 0], [chunk_size, n_features])
        scores = center_norms[None, :] - 2.0 * tf.matmul(block, centers, transpose_b=True)
        labels = tf.argmin(scores, axis=1, output_type=tf.int32)
        segments = tf.where(start + tf.range(chunk_size) < n_rows, labels, n_clusters)
        if n_clusters <= _ONE_HOT_MAX_CLUSTERS:
            membership = tf.one_hot(segments, n_clusters)
            return index + 1, sums + tf.matmul(membership, block, transpose_a=True), counts + tf.reduce_sum(membership, 0)
        return (
            index + 1,
            sums + tf.math.unsorted_segment_sum(block, segments, n_clusters + 1)[:n_clusters],
            counts + tf.math.unsorted_segment_sum(tf.ones([chunk_size]), segments, n_clusters + 1)[:n_clusters],
        )

    initial = (tf.constant(0), tf.zeros([n_clusters, n_features]), tf.zeros([n_clusters]))
    return tf.while_loop(lambda index, *_: index < n_padded // chunk_size, body, initial)[1:]


def gemm_pass(x: Any, right: Any, chunk_size: int) -> Any:
    """Only the chunked distance products ``x · rightᵀ`` (float32 out), reduced to one number."""
    import tensorflow as tf

    n_padded, n_features = x.shape

    def body(index, total):
        block = tf.slice(x, [index * chunk_size, 0], [chunk_size, n_features])
        products = tf.matmul(block, right, transpose_b=True)
        return index + 1, total + products[:1, :1]

    return tf.while_loop(lambda index, _: index < n_padded // chunk_size, body, (tf.constant(0), tf.zeros([1, 1])))[1]


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


def measure_k(x: np.ndarray, k: int) -> dict[str, Any]:
    """Interleaved timings of every variant at one k."""
    import tensorflow as tf
    from sklearn.cluster import kmeans_plusplus

    from tfkmeans import ops
    from tfkmeans.ops._lloyd import in_memory_pass

    chunk = FLAGS.chunk_size
    n = x.shape[0]
    # Realistic centres: a few Lloyd iterations from the initial ones.
    if FLAGS.init == "random":
        init = x[np.random.default_rng(FLAGS.seed).choice(n, k, replace=False)]
    else:
        init, _ = kmeans_plusplus(x, k, random_state=FLAGS.seed)
    centers = float64_lloyd(x.astype(np.float64), init, FLAGS.lloyd_iters)

    xt = tf.constant(x)
    x_padded = tf.pad(xt, [[0, -n % chunk], [0, 0]])
    scaled = tf.constant(centers)
    weights = tf.ones([n])
    x_norms = ops.squared_norms(xt)
    body = tf.function(lambda c: in_memory_pass(xt, weights, c, "matmul", chunk, x_norms).sums)
    xla = tf.function(lambda c: fp32_xla_pass(x_padded, tf.constant(n), c, chunk)[0], jit_compile=True)
    gemm = tf.function(lambda a, b: gemm_pass(a, b, chunk), jit_compile=True)
    plain = tf.function(lambda c: fp32_tf_pass(xt, c, chunk, tf.math.unsorted_segment_sum))
    xla_scatter = tf.function(
        lambda c: fp32_tf_pass(xt, c, chunk, tf.function(tf.math.unsorted_segment_sum, jit_compile=True))
    )
    variants: dict[str, Callable[[], Any]] = {
        "fp32_tf": lambda: body(scaled).numpy(),
        "fp32_tf_plain": lambda: plain(scaled).numpy(),
        "fp32_tf_xla_scatter": lambda: xla_scatter(scaled).numpy(),
        "fp32_xla": lambda: xla(scaled).numpy(),
        "fp32_gemm_xla": lambda: gemm(x_padded, scaled).numpy(),
    }
    variants = {name: variants[name] for name in FLAGS.variants}
    for fn in variants.values():
        fn()  # trace and compile
    times: dict[str, list[float]] = {name: [] for name in variants}
    for _ in range(FLAGS.repeats):
        for name, fn in variants.items():
            times[name].append(1e3 * timed(fn)[0])
    return {
        "k": k,
        "ms": {name: summarize(values)._asdict() for name, values in times.items()},
        "raw_ms": times,
    }


def markdown_table(results: list[dict[str, Any]]) -> str:
    """One row per (k, variant): ms per pass and the ratio to ``fp32_tf`` (medians, minima)."""
    lines = [
        "| k | variant | median ms | min ms | ÷ fp32_tf (median) | ÷ fp32_tf (min) |",
        "|---:|---|---:|---:|---:|---:|",
    ]
    for result in results:
        ms = result["ms"]
        base = ms.get("fp32_tf")
        for name, summary in ms.items():
            ratio = (
                (f"{summary['median'] / base['median']:.2f}", f"{summary['min'] / base['min']:.2f}")
                if base else ("", "")
            )
            lines.append(
                f"| {result['k']} | {name} | {summary['median']:.1f} | {summary['min']:.1f} | {ratio[0]} | {ratio[1]} |"
            )
    return "\n".join(lines)


def main(argv: Sequence[str]) -> None:
    del argv
    from tfkmeans.datasets import load_mnist

    x, _ = load_mnist("train", FLAGS.data_dir)
    started = datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")
    machine = machine_info(["tensorflow", "numpy", "sklearn", "tfkmeans"])
    results = []
    for k in FLAGS.k:
        results.append(measure_k(x, int(k)))
        logging.info("k=%s done:\n%s", k, markdown_table(results[-1:]))
    record = {
        "started_utc": started,
        "machine": machine,
        "load_average_at_end": machine_info()["load_average_1_5_15min"],
        "tfkmeans_source": source_revision("tfkmeans"),
        "flags": {
            name: FLAGS[name].value for name in ("k", "variants", "repeats", "lloyd_iters", "chunk_size", "init", "seed")
        },
        "results": results,
    }
    if FLAGS.output:
        Path(FLAGS.output).parent.mkdir(parents=True, exist_ok=True)
        Path(FLAGS.output).write_text(json.dumps(record, indent=2))
    table = markdown_table(results)
    print(table if FLAGS.markdown else json.dumps(record["results"], indent=2))


if __name__ == "__main__":
    app.run(main)
