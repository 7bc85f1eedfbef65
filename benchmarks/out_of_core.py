"""Out-of-core K-means: ten times MNIST train streamed from shards on disk, against the same rows in memory.

The 60,000 training images under ten pixel shifts (:mod:`benchmarks._mnist10x`)
are written to ``--work_dir`` as raw uint8 shards (470 MB; 1.9 GB as float32),
then ``KMeans(k, init=C, max_iter=n, tol=0, algorithm='lloyd').fit(dataset)``
runs on a ``tf.data`` pipeline reading them as uint8 batches (the fit casts
each chunk to float32 inside its pass), and on the same pixel values 0..255 as
one float32 array in memory, from the same centres. A pass costs the slope
between fits of 1 and n iterations (medians of ``--repeats`` pairs after a
warm-up pair). The memory target is read in a fresh process that imports
TensorFlow and tfkmeans and runs one streamed n-iteration fit, as a user's
would: its peak resident set (``VmHWM``), and its resident set after the
imports, which is TensorFlow's (with the Keras, scikit-learn and pandas it
imports), not the fit's.

Usage::

    python -m benchmarks.out_of_core --targets=streamed_pass,streamed_memory
    python -m benchmarks.out_of_core --work_dir=runs/mnist10x --iters=10 --bench_file=
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from absl import flags, logging

from benchmarks import _harness as harness
from benchmarks._mnist10x import SHIFTS

FLAGS = harness.new_flags("out_of_core", repeats=3)
#: Where the shards are written by default (runs/ is not tracked), and the rows per batch read from disk.
SHARDS_DIR = "runs/mnist10x"
BATCH_SIZE = 2048
flags.DEFINE_string("work_dir", SHARDS_DIR, "Where the shards are written.", flag_values=FLAGS)
flags.DEFINE_integer("k", 10, "Number of clusters.", flag_values=FLAGS)
flags.DEFINE_integer("iters", 10, "Iterations of the long timed fit (at least 2).", flag_values=FLAGS)
flags.DEFINE_integer(
    "batch_size", BATCH_SIZE, "Rows per batch read from disk (peak memory grows with it).", flag_values=FLAGS
)
flags.DEFINE_bool(
    "probe", False, "Internal: one streamed fit in this fresh process; print its memory record.", flag_values=FLAGS
)

IMAGE_BYTES = 28 * 28
IMAGES_PER_RECORD = 100  # divides 60,000 and the quick shards' rows
#: The memory target: peak resident set of the streamed fit, in bytes.
PEAK_RSS_BOUND = 10**9
PASS_RATIO_BOUND = 2.0


def write_shards(work_dir: Path, data_dir: str | None, rows: int, n_shards: int) -> list[Path]:
    """One raw uint8 shard per shift of the first ``rows`` training images, reused when already written."""
    from tfkmeans.datasets import load_mnist

    work_dir.mkdir(parents=True, exist_ok=True)
    images = None
    paths = []
    for index, shift in enumerate(SHIFTS[:n_shards]):
        path = work_dir / f"shard-{rows}-{index:02d}.u8"
        if not path.exists() or path.stat().st_size != rows * IMAGE_BYTES:
            if images is None:
                images, _ = load_mnist("train", data_dir, flatten=False, normalize=False)
            np.roll(images[:rows], shift, axis=(1, 2)).tofile(path)
        paths.append(path)
    return paths


def shard_dataset(paths: Sequence[Path], batch_size: int) -> Any:
    """Batches of uint8 pixels, decoded from the raw shards in the pipeline.

    The pixels stay uint8: the fit casts each chunk inside its pass, where a
    float32 batch made here would be written at four times the size on
    tf.data's threads and held so in the prefetch buffer. Records hold
    ``IMAGES_PER_RECORD`` images: tf.data's cost is per element, so one
    element per image would cost more than the clustering itself.

    The buffering is fixed: two decoded batches prefetched, nothing else.
    tf.data's autotuning would parallelise the decoding and grow its buffers
    against a budget of half the machine's RAM, and TensorFlow's CPU allocator
    keeps every page it has touched: peak memory would grow with no gain in
    speed on a few cores.
    """
    import tensorflow as tf

    records = tf.data.FixedLengthRecordDataset(
        [str(p) for p in paths], IMAGE_BYTES * IMAGES_PER_RECORD, buffer_size=1 << 20
    )

    def decode(raw: tf.Tensor) -> tf.Tensor:
        return tf.reshape(tf.io.decode_raw(raw, tf.uint8), [-1, IMAGE_BYTES])

    options = tf.data.Options()
    options.autotune.enabled = False
    return records.batch(max(1, batch_size // IMAGES_PER_RECORD)).map(decode).prefetch(2).with_options(options)


def in_memory(paths: Sequence[Path]) -> np.ndarray:
    """The shards' rows as one float32 array of pixel values 0..255, in the dataset's order."""
    return np.concatenate([np.fromfile(p, np.uint8).reshape(-1, IMAGE_BYTES) for p in paths]).astype(np.float32)


def initial_centres(paths: Sequence[Path], k: int, seed: int) -> np.ndarray:
    """``k`` random rows of the first shard (mapped, not read whole), as float32."""
    first = np.memmap(paths[0], np.uint8, mode="r").reshape(-1, IMAGE_BYTES)
    return first[np.sort(np.random.default_rng(seed).choice(len(first), k, replace=False))].astype(np.float32)


def shard_paths(values: flags.FlagValues) -> list[Path]:
    """The shards of this run (written on first use): MNIST train under the shifts, or a quick run's two."""
    rows, n_shards = (harness.QUICK_ROWS, 2) if values.quick else (60_000, len(SHIFTS))
    return write_shards(Path(values.work_dir), values.data_dir, rows, n_shards)


def probe(values: flags.FlagValues, iters: int) -> dict[str, int]:
    """The memory of one streamed fit in this (fresh) process: resident after the imports, and peak."""
    import tensorflow  # noqa: F401

    from tfkmeans import KMeans

    imported = 1024 * harness.own_status_kib("VmRSS")
    paths = shard_paths(values)
    KMeans(values.k, init=initial_centres(paths, values.k, values.seed), max_iter=iters, tol=0, algorithm="lloyd").fit(
        shard_dataset(paths, values.batch_size)
    )
    return {"imported_rss_bytes": imported, "peak_rss_bytes": 1024 * harness.own_status_kib("VmHWM")}


def fresh_probe(values: flags.FlagValues, iters: int) -> dict[str, int]:
    """:func:`probe` in a new process."""
    args = ["--probe", f"--work_dir={values.work_dir}", f"--k={values.k}", f"--seed={values.seed}"]
    args += [f"--batch_size={values.batch_size}", f"--iters={iters}", *(["--quick"] if values.quick else [])]
    if values.data_dir:
        args.append(f"--data_dir={values.data_dir}")
    return harness.fresh_process_record("benchmarks.out_of_core", args)


def pass_seconds(data: Any, init: np.ndarray, iters: int, repeats: int) -> dict[str, Any]:
    """Seconds per Lloyd pass over ``data``: the slope between fits of 1 and ``iters`` iterations."""
    from tfkmeans import KMeans

    def fit(max_iter: int) -> KMeans:
        return KMeans(len(init), init=init, max_iter=max_iter, tol=0, algorithm="lloyd").fit(data)

    fit(1), fit(iters)  # traces the graphs
    firsts, longs = [], []
    for _ in range(repeats):
        firsts.append(harness.timed(fit, 1)[0])
        long, km = harness.timed(fit, iters)
        if km.n_iter_ != iters:
            raise RuntimeError(f"the fit ran {km.n_iter_} iterations instead of {iters}")
        longs.append(long)
    return {
        "slope_s": harness.slope_per_iteration(firsts, longs, iters),
        "fit_s": harness.summarize(longs),
        "inertia": km.inertia_,
    }


def main(values: flags.FlagValues, argv: list[str]) -> None:
    iters = min(values.iters, 3) if values.quick else values.iters
    if iters < 2:
        raise harness.UsageError("--iters must be at least 2 (the slope needs two points).")
    unknown = set(values.targets) - {"streamed_pass", "streamed_memory"}
    if unknown:
        raise harness.UsageError(f"benchmarks.out_of_core reports none of the targets {sorted(unknown)}")
    if values.probe:
        print(json.dumps(probe(values, iters)))
        return
    machine = harness.machine_info()
    paths = shard_paths(values)
    init = initial_centres(paths, values.k, values.seed)
    repeats = harness.repeats(values)

    memory_record = fresh_probe(values, iters)
    peak, imported = memory_record["peak_rss_bytes"], memory_record["imported_rss_bytes"]
    logging.info(
        "streamed fit in a fresh process: peak RSS %.0f MB (%.0f MB after the imports)", peak / 1e6, imported / 1e6
    )
    streamed = pass_seconds(shard_dataset(paths, values.batch_size), init, iters, repeats)
    memory = pass_seconds(in_memory(paths), init, iters, repeats)
    ratio = streamed["slope_s"]["median"] / memory["slope_s"]["median"]

    n = sum(path.stat().st_size for path in paths) // IMAGE_BYTES
    table = harness.markdown_table(
        [
            "data",
            "s per pass, slope (medians / minima)",
            f"whole {iters}-iteration fit, s (median)",
            "× in memory",
            "inertia",
        ],
        [
            [
                name,
                f"{m['slope_s']['median']:.3f} / {m['slope_s']['min']:.3f}",
                f"{m['fit_s'].median:.2f}",
                harness.ratio(m["slope_s"]["median"], memory["slope_s"]["median"]),
                f"{m['inertia']:,.0f}",
            ]
            for name, m in (("streamed from uint8 shards (tf.data)", streamed), ("in memory (float32 array)", memory))
        ],
    )
    table += (
        f"\n\nPeak RSS of a fresh process running one streamed {iters}-iteration fit: {peak / 1e6:,.0f} MB "
        f"(after importing TensorFlow and tfkmeans, before the fit: {imported / 1e6:,.0f} MB); "
        f"the data: {n * IMAGE_BYTES / 1e6:,.0f} MB as uint8 shards, "
        f"{4 * n * IMAGE_BYTES / 1e6:,.0f} MB as float32."
    )
    targets = []
    if "streamed_pass" in values.targets:
        figure = (
            f"s per pass: streamed {streamed['slope_s']['median']:.3f}, "
            f"in memory {memory['slope_s']['median']:.3f} ({n:,} rows)"
        )
        targets.append(harness.TargetRow("streamed_pass", figure, f"{ratio:.2f}× in memory", ratio <= PASS_RATIO_BOUND))
    if "streamed_memory" in values.targets:
        targets.append(
            harness.TargetRow(
                "streamed_memory",
                f"peak RSS {peak / 1e6:,.0f} MB ({n:,} rows)",
                f"{peak / PEAK_RSS_BOUND:.2f}× 1 GB",
                peak < PEAK_RSS_BOUND,
            )
        )
    method = (
        f"{n:,} × {IMAGE_BYTES} (MNIST train under {len(paths)} pixel shifts) as raw uint8 shards, read by `tf.data` "
        f"as uint8 batches of {values.batch_size:,} rows (two prefetched, autotuning off); `KMeans({values.k}, init=C, "
        f"tol=0, algorithm='lloyd')` from {values.k} random rows, fits of 1 and {iters} iterations, {repeats} pairs "
        "after a warm-up, streamed first, then on the same rows (float32, 0..255) in memory; peak RSS of one "
        "streamed fit in a fresh process."
    )
    harness.publish(
        values,
        "benchmarks.out_of_core",
        argv,
        machine,
        method,
        table,
        targets,
        {"streamed": streamed, "in_memory": memory, **memory_record},
    )


def cli(argv: Sequence[str] | None = None) -> None:
    """Run with ``argv`` (default: the command line)."""
    harness.run(main, FLAGS, argv)


if __name__ == "__main__":
    cli()
