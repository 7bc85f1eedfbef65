"""Chunk-body variants of one Lloyd pass on MNIST train, timed interleaved in one run.

One Lloyd pass (assign every row to its nearest centre, sum each cluster) over
the 60,000 × 784 MNIST training images, as different kernels:

* ``fp32_tf``: tfkmeans's current body, ``ops.in_memory_pass`` (float32, a
  TensorFlow while-loop over 2048-row chunks: X·Cᵀ GEMM, argmin, one-hot GEMM
  sums for k ≤ 32, TensorFlow's scatter-add beyond).
* ``fp32_tf_plain``: the same chunk body without the inertia and relocation
  candidates (GEMM, argmin, sums only), so that the next two compare like with like.
* ``fp32_tf_xla_scatter``: ``fp32_tf_plain`` whose scatter-add sums (k > 32)
  run as a small XLA-compiled function inside the TensorFlow loop.
* ``fp32_xla``: the plain float32 body with fixed-size chunks, the whole
  pass compiled by XLA (``jit_compile=True``); scatter-add sums are XLA's.
* ``bf16_xla``: ``benchmarks.bf16_kernel.lloyd_pass``: the pixels stored as
  bfloat16 integer codes 0..255, bfloat16 × bfloat16 → float32 products
  against the centres split into ``hi + lo``, labels certified by an error
  bound and near-ties re-checked in float64: exact.
* ``fp32_gemm_xla`` and ``bf16_gemm_xla``: only the distance GEMMs of the
  last two (no argmin, no sums): the compute floor of each precision.
* ``bf16_hi_gemm_xla``: the GEMM against ``hi`` alone (centres rounded to
  bfloat16, ``parts=1``): half the bf16 work, at the price of a bound 2**8
  times wider. Its near-tie counts (rows a hi-only pass would have to
  re-check) are recorded during the Lloyd iterations, untimed.

Centres are realistic: ``--init`` (k-means++ by scikit-learn, or k distinct
random rows; both seeded by ``--seed``) followed by ``--lloyd_iters`` exact
Lloyd iterations. During those iterations each bf16
pass is checked against float64 labels (counts and sums must be identical) and
its near-tie count (rows re-checked in float64) is recorded. Repeats of the
variants are interleaved (round-robin), so load changes hit them alike.

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
        "fp32_tf", "fp32_tf_plain", "fp32_tf_xla_scatter", "fp32_xla", "bf16_xla",
        "fp32_gemm_xla", "bf16_gemm_xla", "bf16_hi_gemm_xla",
    ],
    "Variants to time.",
)
flags.DEFINE_integer("repeats", 7, "Timed passes per variant (round-robin across variants).")
flags.DEFINE_integer("lloyd_iters", 5, "Exact Lloyd iterations from k-means++ before timing (checked against float64).")
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

    from tfkmeans.ops.chunking import fold_chunks, row_slice

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
        products = tf.matmul(block, right, transpose_b=True, output_type=tf.float32)
        # Slice before reducing: XLA's CPU fusion of a mixed bf16/f32 dot with a reduce crashes (TF 2.21).
        return index + 1, total + products[:1, :1]

    return tf.while_loop(lambda index, _: index < n_padded // chunk_size, body, (tf.constant(0), tf.zeros([1, 1])))[1]


def near_ties(codes: Any, sq_norms: Any, n_rows: int, centers: Any, parts: int) -> Any:
    """Rows whose two best bf16 scores lie within the error bound (all rows at once; untimed)."""
    import tensorflow as tf

    from benchmarks import bf16_kernel as low_precision

    split = low_precision.split_centers(centers, parts)
    products = tf.matmul(codes[:n_rows], split.hi_lo, transpose_b=True, output_type=tf.float32)
    scores = split.sq_norms[None, :] - 2.0 * tf.add_n(tf.split(products, parts, axis=1))
    two_best = -tf.math.top_k(-scores, k=2).values
    window = 2.0 * low_precision.score_error_bound(sq_norms[:n_rows], split, codes.shape[1])
    return tf.reduce_sum(tf.cast(two_best[:, 1] - two_best[:, 0] <= window, tf.int32))


def float64_totals(codes64: np.ndarray, centers: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Reference labels, counts and sums in float64 (code units)."""
    c = centers.astype(np.float64)
    labels = ((c * c).sum(axis=1)[None, :] - 2.0 * (codes64 @ c.T)).argmin(axis=1)
    counts = np.bincount(labels, minlength=len(c)).astype(np.float64)
    sums = np.zeros_like(c)
    np.add.at(sums, labels, codes64)
    return labels, counts, sums


def measure_k(x: np.ndarray, k: int) -> dict[str, Any]:
    """Exactness checks, near-tie counts and interleaved timings of every variant at one k."""
    import tensorflow as tf
    from sklearn.cluster import kmeans_plusplus

    from tfkmeans import ops
    from benchmarks import bf16_kernel as low_precision

    chunk = FLAGS.chunk_size
    n = x.shape[0]
    codes, exact = low_precision.integer_codes(x)
    if not bool(exact):
        raise ValueError("the data are not integer codes / 255")
    codes = low_precision.pad_rows(codes, chunk)
    code_norms = tf.reduce_sum(tf.square(tf.cast(codes, tf.float32)), axis=1)
    codes64 = np.round(x.astype(np.float64) * 255.0)

    bf16_pass = tf.function(
        lambda c: low_precision.lloyd_pass(
            codes, code_norms, tf.constant(n), c, chunk, one_hot_sums=k <= _ONE_HOT_MAX_CLUSTERS
        ),
        jit_compile=True,
    )
    hi_only_ties = tf.function(lambda c: near_ties(codes, code_norms, n, c, parts=1), jit_compile=True)

    # Realistic centres: exact Lloyd iterations, each checked against float64.
    if FLAGS.init == "random":
        init = x[np.random.default_rng(FLAGS.seed).choice(n, k, replace=False)]
    else:
        init, _ = kmeans_plusplus(x, k, random_state=FLAGS.seed)
    centers = (init * 255.0).astype(np.float32)
    iterations = []
    for _ in range(FLAGS.lloyd_iters):
        totals = bf16_pass(tf.constant(centers))
        _, counts, sums = float64_totals(codes64, centers)
        iterations.append({
            "near_ties": int(totals.n_near_ties),
            "near_ties_hi_only": int(hi_only_ties(tf.constant(centers))),
            "fallback_chunks": int(totals.n_fallback_chunks),
            "counts_equal_float64": bool(np.array_equal(totals.counts.numpy(), counts)),
            "sums_equal_float64": bool(np.array_equal(totals.sums.numpy(), sums)),
        })
        logging.info("k=%d Lloyd iteration: %s", k, iterations[-1])
        filled = counts > 0
        centers = np.where(filled[:, None], sums / np.maximum(counts, 1.0)[:, None], centers).astype(np.float32)

    xt = tf.constant(x)
    x_padded = low_precision.pad_rows(xt, chunk)
    scaled = tf.constant(centers / 255.0)
    code_centers = tf.constant(centers)
    weights = tf.ones([n])
    x_norms = ops.squared_norms(xt)
    split = low_precision.split_centers(code_centers)
    body = tf.function(lambda c: ops.in_memory_pass(xt, weights, c, "matmul", chunk, x_norms).sums)
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
        "bf16_xla": lambda: bf16_pass(code_centers).sums.numpy(),
        "fp32_gemm_xla": lambda: gemm(x_padded, scaled).numpy(),
        "bf16_gemm_xla": lambda: gemm(codes, split.hi_lo).numpy(),
        "bf16_hi_gemm_xla": lambda: gemm(codes, split.hi_lo[:k]).numpy(),
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
        "lloyd_iterations": iterations,
        "ms": {name: summarize(values)._asdict() for name, values in times.items()},
        "raw_ms": times,
    }


def markdown_table(results: list[dict[str, Any]]) -> str:
    """One row per (k, variant): ms per pass and the ratio to ``fp32_tf`` (medians, minima)."""
    lines = [
        "| k | variant | median ms | min ms | ÷ fp32_tf (median) | ÷ fp32_tf (min) | near-ties of 60,000, per iteration | exact vs float64 |",
        "|---:|---|---:|---:|---:|---:|---:|---|",
    ]
    for result in results:
        ms, its = result["ms"], result["lloyd_iterations"]
        ties = ", ".join(str(it["near_ties"]) for it in its)
        hi_ties = ", ".join(str(it["near_ties_hi_only"]) for it in its)
        fallbacks = sum(it["fallback_chunks"] for it in its)
        exact = all(it["counts_equal_float64"] and it["sums_equal_float64"] for it in its)
        for name, summary in ms.items():
            base = ms.get("fp32_tf")
            ratio = (
                (f"{summary['median'] / base['median']:.2f}", f"{summary['min'] / base['min']:.2f}")
                if base else ("", "")
            )
            bf16 = name == "bf16_xla"
            near = {"bf16_xla": f"{ties} ({fallbacks} fallback chunks)", "bf16_hi_gemm_xla": hi_ties}.get(name, "")
            lines.append(
                f"| {result['k']} | {name} | {summary['median']:.1f} | {summary['min']:.1f} | {ratio[0]} | {ratio[1]} "
                f"| {near} | {('yes' if exact else 'NO') if bf16 else ''} |"
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
