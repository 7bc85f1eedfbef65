"""What every experiment script shares: flags, data, evaluation, output and timing.

An experiment module picks the shared clustering flags it needs with
:func:`define_flags` (and defines its own), writes a ``main(argv)`` and ends with::

    if __name__ == "__main__":
        runner.set_defaults(output_dir="runs/<name>")
        runner.run(main)

Inside ``main`` it calls :func:`load_data`, builds its estimators from the flags
with :func:`estimator`, scores with :func:`evaluate`, prints :func:`format_table`
and saves with :func:`write_metrics` / :func:`output_dir`, timing stages with
:func:`timed`.

Flags of every experiment (defined when this module is imported)
----------------------------------------------------------------
--data_dir
    Directory with the four MNIST IDX files; unset means ``TFKMEANS_DATA_DIR``,
    then tensorflow-datasets (see :func:`tfkmeans.datasets.load_mnist`).
--output_dir
    Where results go; each experiment sets its own default (``runs/<name>``).
--seed
    Seeds the model and every random choice of the script (subsets, samples shown).
--quick
    Smoke-test mode: a random subset of ``QUICK_N_TRAIN`` training and
    ``QUICK_N_TEST`` test images, at most ``QUICK_MAX_ITER`` iterations and at
    most ``QUICK_N_INIT`` restarts.

Shared flags a study defines with :func:`define_flags`: ``--k``, ``--init``,
``--n_init``, ``--max_iter``, ``--tol`` (K-means), ``--minibatch_max_iter``,
``--batch_size`` (MiniBatchKMeans, or the study's network), ``--algorithms``
and ``--reuse``; see :data:`SHARED_FLAGS`.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import math
import sys
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
from absl import app, flags, logging

from tfkmeans import KMeans, MiniBatchKMeans, metrics
from tfkmeans.datasets import load_mnist

__all__ = [
    "QUICK_MAX_ITER",
    "QUICK_N_INIT",
    "QUICK_N_TEST",
    "QUICK_N_TRAIN",
    "MnistSplits",
    "SHARED_FLAGS",
    "SharedFlag",
    "Timer",
    "algorithms_flag",
    "closing_sections",
    "comparison_lines",
    "define_flags",
    "estimator",
    "estimator_params",
    "evaluate",
    "experiment_flags",
    "format_table",
    "iteration_budget",
    "load_data",
    "load_data_from_flags",
    "output_dir",
    "padded",
    "record_head",
    "restart_budget",
    "run",
    "set_defaults",
    "timed",
    "to_jsonable",
    "write_metrics",
    "write_text",
    "ALGORITHMS",
    "cluster_order",
    "command_line",
    "format_value",
    "mapped_accuracy",
    "mapping_text",
    "seed_comparison",
]

#: Sizes of the ``--quick`` subsets: enough for every cluster to be populated, small
#: enough for a smoke test to finish in seconds.
QUICK_N_TRAIN = 2_000
QUICK_N_TEST = 500
#: Iteration cap in ``--quick`` mode (see :func:`iteration_budget`).
QUICK_MAX_ITER = 30
#: Restart cap in ``--quick`` mode (see :func:`restart_budget`).
QUICK_N_INIT = 2

FLAGS = flags.FLAGS

flags.DEFINE_string(
    "data_dir",
    None,
    "Directory with the MNIST IDX files (train-images-idx3-ubyte.gz, ...). "
    "Unset: $TFKMEANS_DATA_DIR, then tensorflow-datasets.",
)
flags.DEFINE_string("output_dir", None, "Directory for metrics.json, figures and summary.md.")
flags.DEFINE_integer("seed", 0, "Random seed of the model and of every random choice of the script.")
flags.DEFINE_bool(
    "quick",
    False,
    f"Smoke test: {QUICK_N_TRAIN:,} training / {QUICK_N_TEST:,} test images and at most "
    f"{QUICK_MAX_ITER} iterations and {QUICK_N_INIT} restarts.",
)

#: Estimators the experiments compare, by the short name used in flags and metrics.json.
ALGORITHMS = ("kmeans", "minibatch")
ALGORITHM_TITLES = {"kmeans": "K-means", "minibatch": "MiniBatchKMeans"}


class SharedFlag(NamedTuple):
    """How to define one shared flag: the absl ``DEFINE_*`` function, its default, help and other arguments."""

    define: Callable[..., Any]
    default: Any
    help: str
    options: Mapping[str, Any] | None = None


#: The flags several studies share, by name. :func:`define_flags` defines the ones a
#: study names; :func:`estimator_params` reads them.
SHARED_FLAGS: dict[str, SharedFlag] = {
    "k": SharedFlag(flags.DEFINE_integer, 10, "Number of clusters.", {"lower_bound": 1}),
    "init": SharedFlag(
        flags.DEFINE_enum,
        "k-means++",
        "Initial centres of every fit.",
        {"enum_values": ["k-means++", "random"]},
    ),
    "n_init": SharedFlag(
        flags.DEFINE_integer,
        1,
        f"Runs from different initial centres per fit; the lowest inertia wins (at most {QUICK_N_INIT} in --quick "
        "mode).",
        {"lower_bound": 1},
    ),
    "max_iter": SharedFlag(
        flags.DEFINE_integer,
        300,
        "K-means: maximum Lloyd iterations per run (capped in --quick mode).",
        {"lower_bound": 1},
    ),
    "tol": SharedFlag(
        flags.DEFINE_float,
        1e-4,
        "K-means: stop when the centre shift falls below tol x mean pixel variance; 0: when no label changes.",
    ),
    "minibatch_max_iter": SharedFlag(
        flags.DEFINE_integer,
        100,
        "MiniBatchKMeans: maximum epochs, i.e. at most minibatch_max_iter * n_train // batch_size steps (capped "
        "in --quick mode).",
        {"lower_bound": 1},
    ),
    "batch_size": SharedFlag(
        flags.DEFINE_integer,
        1024,
        "Images per mini-batch: a MiniBatchKMeans step, or a training step of the study's network.",
        {"lower_bound": 1},
    ),
    "algorithms": SharedFlag(flags.DEFINE_list, list(ALGORITHMS), "Estimators to compare: kmeans, minibatch."),
    "reuse": SharedFlag(
        flags.DEFINE_bool,
        False,
        "Load the weights (and embeddings) kept in --output_dir by an earlier run with the same data size, seed "
        "and training setup instead of computing them; compute (and keep) them when there are none.",
    ),
}

#: Constructor parameter -> the shared flag that sets it, per estimator.
_ESTIMATOR_FLAGS = {
    "kmeans": {"init": "init", "n_init": "n_init", "max_iter": "max_iter", "tol": "tol"},
    "minibatch": {"init": "init", "n_init": "n_init", "max_iter": "minibatch_max_iter", "batch_size": "batch_size"},
}


# -- flags and entry point -----------------------------------------------------------------


def set_defaults(**defaults: Any) -> None:
    """Change flag defaults (e.g. ``output_dir``) before :func:`run` parses the command line.

    Parameters
    ----------
    **defaults
        Flag name to new default value; the flags must already be defined.
    """
    for name, value in defaults.items():
        FLAGS.set_default(name, value)


def run(main: Callable[[list[str]], Any]) -> None:
    """Parse the flags and call ``main(argv)`` through :func:`absl.app.run`.

    Logging defaults to INFO so that progress shows without ``--verbosity``; an
    explicit ``--verbosity`` or ``-v`` on the command line still wins.

    Parameters
    ----------
    main : callable
        The experiment's ``main(argv)``; its return value becomes the exit status.
    """

    def main_with_logging(argv: list[str]) -> Any:
        if not FLAGS["verbosity"].present:
            logging.set_verbosity(logging.INFO)
        return main(argv)

    app.run(main_with_logging)


def experiment_flags() -> dict[str, Any]:
    """Values of the flags defined by the experiments (not by absl or TensorFlow).

    Returns
    -------
    dict
        Flag name to parsed value, sorted by name; recorded in ``metrics.json`` so a
        run can be repeated.
    """
    main_file = getattr(sys.modules.get("__main__"), "__file__", None)
    values = {}
    for module, module_flags in FLAGS.flags_by_module_dict().items():
        # Flags of the script run with ``python -m`` are filed under its file path.
        if module.startswith("experiments") or module in (main_file, "__main__"):
            values.update({flag.name: flag.value for flag in module_flags})
    return dict(sorted(values.items()))


def define_flags(*names: str, **defaults: Any) -> None:
    """Define the shared flags ``names`` of :data:`SHARED_FLAGS`, with the study's own defaults.

    Call it once, at the import of the study's module (absl flags are process-wide).

    Parameters
    ----------
    *names : str
        Keys of :data:`SHARED_FLAGS`.
    **defaults
        Flag name to the study's default, where it differs from the shared one.

    Examples
    --------
    ``runner.define_flags("k", "init", "n_init", "max_iter", n_init=5)``
    """
    unknown = sorted(set(names) - set(SHARED_FLAGS))
    if unknown:
        raise ValueError(f"unknown shared flags {unknown}; they are {sorted(SHARED_FLAGS)}")
    unnamed = sorted(set(defaults) - set(names))
    if unnamed:
        raise ValueError(f"defaults given for flags that are not defined: {unnamed}")
    for name in names:
        flag = SHARED_FLAGS[name]
        flag.define(name=name, default=defaults.get(name, flag.default), help=flag.help, **(flag.options or {}))


def iteration_budget(max_iter: int, quick: bool) -> int:
    """The iteration limit to use: ``max_iter``, capped at ``QUICK_MAX_ITER`` in quick mode."""
    return min(max_iter, QUICK_MAX_ITER) if quick else max_iter


def restart_budget(n_init: int, quick: bool) -> int:
    """The number of restarts to use: ``n_init``, capped at ``QUICK_N_INIT`` in quick mode."""
    return min(n_init, QUICK_N_INIT) if quick else n_init


def algorithms_flag() -> list[str]:
    """The estimators of ``--algorithms`` in :data:`ALGORITHMS` order; SystemExit naming any unknown one."""
    unknown = set(FLAGS.algorithms) - set(ALGORITHMS)
    if unknown:
        raise SystemExit(f"unknown --algorithms {sorted(unknown)}; expected {ALGORITHMS}")
    return [name for name in ALGORITHMS if name in FLAGS.algorithms]


# -- data ------------------------------------------------------------------------------------


class MnistSplits(NamedTuple):
    """MNIST train and test splits: images as float32 rows of 784 pixels in [0, 1].

    Unpacks as ``x_train, y_train, x_test, y_test = load_data()``.
    """

    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray


def _random_subset(x: np.ndarray, y: np.ndarray, size: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """At most ``size`` rows drawn without replacement, kept in their original order."""
    if size >= len(x):
        return x, y
    # A random subset rather than the first rows: the files are not shuffled uniformly
    # by writer, and a random draw keeps the class balance of the whole split.
    rows = np.sort(rng.choice(len(x), size=size, replace=False))
    return x[rows], y[rows]


def load_data(quick: bool = False, data_dir: str | None = None, seed: int = 0) -> MnistSplits:
    """Load MNIST, or a small random subset of it for smoke tests.

    Parameters
    ----------
    quick : bool, default False
        Keep only ``QUICK_N_TRAIN`` training and ``QUICK_N_TEST`` test images.
    data_dir : str, optional
        Directory with the IDX files; None falls back as in
        :func:`tfkmeans.datasets.load_mnist`.
    seed : int, default 0
        Seeds the choice of the quick subset.

    Returns
    -------
    MnistSplits
        ``x_*`` float32 of shape (n, 784) in [0, 1]; ``y_*`` int64 digits.
    """
    x_train, y_train = load_mnist("train", data_dir)
    x_test, y_test = load_mnist("test", data_dir)
    if quick:
        rng = np.random.default_rng(seed)
        x_train, y_train = _random_subset(x_train, y_train, QUICK_N_TRAIN, rng)
        x_test, y_test = _random_subset(x_test, y_test, QUICK_N_TEST, rng)
    logging.info("Data: %d training and %d test images of %d pixels", len(x_train), len(x_test), x_train.shape[1])
    return MnistSplits(x_train, y_train, x_test, y_test)


def load_data_from_flags() -> MnistSplits:
    """:func:`load_data` as ``--quick``, ``--data_dir`` and ``--seed`` ask."""
    return load_data(FLAGS.quick, FLAGS.data_dir, FLAGS.seed)


# -- evaluation ------------------------------------------------------------------------------


def evaluate(y_true: np.ndarray, y_pred: np.ndarray) -> dict[str, float]:
    """Score a clustering against the true digits with every metric the seeds report.

    Parameters
    ----------
    y_true : array-like of shape (n_samples,)
        True digits.
    y_pred : array-like of shape (n_samples,)
        Cluster ids.

    Returns
    -------
    dict
        ``purity`` (size-weighted: the fraction of samples in their cluster's
        majority digit), ``mean_cluster_purity`` (the unweighted per-cluster mean
        of the naive blog post), ``majority_accuracy`` (many-to-one mapping; equal
        to ``purity`` by definition, kept under the name papers use),
        ``hungarian_accuracy`` (one-to-one mapping), ``nmi`` and ``ari``.
    """
    return {
        "purity": metrics.purity(y_true, y_pred),
        "mean_cluster_purity": metrics.mean_cluster_purity(y_true, y_pred),
        "majority_accuracy": metrics.majority_accuracy(y_true, y_pred),
        "hungarian_accuracy": metrics.hungarian_accuracy(y_true, y_pred),
        "nmi": metrics.nmi(y_true, y_pred),
        "ari": metrics.ari(y_true, y_pred),
    }


# -- output ----------------------------------------------------------------------------------


def output_dir(path: str | Path | None = None) -> Path:
    """Create (if needed) and return the output directory.

    Parameters
    ----------
    path : str or Path, optional
        Directory to use; defaults to ``--output_dir``.

    Returns
    -------
    Path
    """
    path = path if path is not None else FLAGS.output_dir
    if path is None:
        raise ValueError("No output directory: pass --output_dir (or call set_defaults(output_dir=...)).")
    directory = Path(path).expanduser()
    directory.mkdir(parents=True, exist_ok=True)
    return directory


def to_jsonable(value: Any) -> Any:
    """Convert ``value`` recursively into plain JSON types.

    NumPy scalars and arrays become Python numbers and lists, paths and other
    unknown objects strings, tuples and sets lists, mapping keys strings, and
    non-finite floats ``None`` (strict JSON has no NaN or Infinity).
    """
    if isinstance(value, Mapping):
        return {str(key): to_jsonable(item) for key, item in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [to_jsonable(item) for item in value]
    if isinstance(value, np.ndarray):
        return to_jsonable(value.tolist())
    if isinstance(value, np.generic):
        return to_jsonable(value.item())
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if value is None or isinstance(value, (bool, int, str)):
        return value
    return str(value)


def write_metrics(results: Mapping[str, Any], directory: str | Path | None = None) -> Path:
    """Write ``results`` as indented JSON to ``metrics.json`` in the output directory.

    Parameters
    ----------
    results : mapping
        Anything :func:`to_jsonable` can convert.
    directory : str or Path, optional
        Defaults to ``--output_dir``.

    Returns
    -------
    Path
        The file written.
    """
    path = output_dir(directory) / "metrics.json"
    path.write_text(json.dumps(to_jsonable(results), indent=2, allow_nan=False) + "\n")
    logging.info("Wrote %s", path)
    return path


def write_text(name: str, text: str, directory: str | Path | None = None) -> Path:
    """Write ``text`` to the file ``name`` in the output directory and return its path."""
    path = output_dir(directory) / name
    path.write_text(text if text.endswith("\n") else text + "\n")
    logging.info("Wrote %s", path)
    return path


def _format_cell(value: Any) -> str:
    """Numbers in a readable, column-friendly form; everything else as ``str``."""
    if value is None:
        return "-"
    if isinstance(value, (bool, np.bool_)):
        return str(bool(value))
    if isinstance(value, (int, np.integer)):
        return f"{int(value):,}"
    if isinstance(value, (float, np.floating)):
        value = float(value)
        if not math.isfinite(value):
            return str(value)
        # Large values (inertia) are read as magnitudes, small ones (scores) to 4 places.
        return f"{value:,.0f}" if abs(value) >= 1000 else f"{value:.4f}"
    return str(value)


def format_table(
    rows: Sequence[Mapping[str, Any]],
    columns: Sequence[str] | None = None,
    *,
    markdown: bool = False,
) -> str:
    """Lay out rows of values as an aligned text table or a Markdown table.

    Parameters
    ----------
    rows : sequence of mappings
        One mapping per row, column name to value; missing values show as ``-``.
    columns : sequence of str, optional
        Columns in order; defaults to the keys of all rows in first-seen order.
    markdown : bool, default False
        Emit a GitHub-flavoured Markdown table instead of space-aligned text.

    Returns
    -------
    str
        The table, without a trailing newline. Numbers are right-aligned: integers
        and values of at least 1,000 with thousands separators, others to 4 decimals.

    Examples
    --------
    >>> print(format_table([{"split": "train", "purity": 0.5912}, {"split": "test", "purity": 0.6}]))
    split  purity
    -----  ------
    train  0.5912
    test   0.6000
    """
    if columns is None:
        columns = list(dict.fromkeys(key for row in rows for key in row))
    cells = [[_format_cell(row.get(column)) for column in columns] for row in rows]
    numeric = [
        all(isinstance(row.get(column), (int, float, np.number)) or row.get(column) is None for row in rows)
        and not all(row.get(column) is None for row in rows)
        for column in columns
    ]
    widths = [max([len(column)] + [len(line[i]) for line in cells]) for i, column in enumerate(columns)]

    def aligned(values: Sequence[str]) -> list[str]:
        return [value.rjust(w) if is_num else value.ljust(w) for value, w, is_num in zip(values, widths, numeric)]

    if markdown:
        rule = [("-" * (w - 1) + ":") if is_num else "-" * w for w, is_num in zip(widths, numeric)]
        lines = [aligned(columns), rule] + [aligned(line) for line in cells]
        return "\n".join("| " + " | ".join(line) + " |" for line in lines)
    lines = [aligned(columns), ["-" * w for w in widths]] + [aligned(line) for line in cells]
    return "\n".join("  ".join(line).rstrip() for line in lines)


# -- timing ----------------------------------------------------------------------------------


@dataclasses.dataclass
class Timer:
    """Elapsed wall-clock time of a :func:`timed` block; NaN until the block ends."""

    seconds: float = math.nan


@contextlib.contextmanager
def timed(label: str | None = None) -> Iterator[Timer]:
    """Measure the wall-clock time of a ``with`` block.

    Parameters
    ----------
    label : str, optional
        If given, the duration is logged at INFO as ``"<label>: <s> s"``.

    Yields
    ------
    Timer
        Its ``seconds`` is set when the block exits (also on an exception).

    Examples
    --------
    >>> with timed() as timer:
    ...     pass
    >>> timer.seconds >= 0
    True
    """
    timer = Timer()
    started = time.perf_counter()
    try:
        yield timer
    finally:
        timer.seconds = time.perf_counter() - started
        if label:
            logging.info("%s: %.2f s", label, timer.seconds)


# -- estimators and mapped accuracy ------------------------------------------------------------


def estimator_params(algorithm: str = "kmeans") -> dict[str, Any]:
    """Constructor arguments of ``algorithm`` from the shared flags the study defined.

    Parameters
    ----------
    algorithm : {"kmeans", "minibatch"}
        K-means takes ``--init``, ``--n_init``, ``--max_iter`` and ``--tol``;
        MiniBatchKMeans ``--init``, ``--n_init``, ``--minibatch_max_iter`` and
        ``--batch_size``: those of them the study defined.

    Returns
    -------
    dict
        Those parameters, restarts and iterations capped in ``--quick`` mode
        (:func:`restart_budget`, :func:`iteration_budget`), and ``random_state``
        = ``--seed``.
    """
    if algorithm not in _ESTIMATOR_FLAGS:
        raise ValueError(f"unknown algorithm {algorithm!r}; expected one of {ALGORITHMS}")
    params = {param: FLAGS[flag].value for param, flag in _ESTIMATOR_FLAGS[algorithm].items() if flag in FLAGS}
    if "n_init" in params:
        params["n_init"] = restart_budget(params["n_init"], FLAGS.quick)
    if "max_iter" in params:
        params["max_iter"] = iteration_budget(params["max_iter"], FLAGS.quick)
    return {**params, "random_state": FLAGS.seed}


def estimator(
    algorithm: str = "kmeans", n_clusters: int | None = None, /, **overrides: Any
) -> KMeans | MiniBatchKMeans:
    """An unfitted estimator built from the flags (:func:`estimator_params`).

    Parameters
    ----------
    algorithm : {"kmeans", "minibatch"}
        Which estimator.
    n_clusters : int, optional
        Defaults to ``--k``.
    **overrides
        Constructor arguments that replace the flags' (e.g. ``random_state`` of
        one of several fits); KMeans's own ``algorithm`` ("lloyd", "elkan") too,
        as the first two arguments are positional only.

    Returns
    -------
    KMeans or MiniBatchKMeans
    """
    n_clusters = FLAGS.k if n_clusters is None else n_clusters
    params = {**estimator_params(algorithm), **overrides}
    return (KMeans if algorithm == "kmeans" else MiniBatchKMeans)(n_clusters, **params)


def mapped_accuracy(y_true: np.ndarray, clusters: np.ndarray, mapping: np.ndarray) -> float:
    """Accuracy of predicting ``mapping[cluster]`` for every sample.

    Use it to score *held-out* samples with the cluster -> digit map learnt on the
    training set (``metrics.majority_labels(y_train, train_clusters)``); on the
    samples the map was learnt from it equals the majority accuracy (purity).

    Parameters
    ----------
    y_true : ndarray of shape (n_samples,)
        True digits.
    clusters : ndarray of shape (n_samples,)
        Cluster id of every sample.
    mapping : ndarray of shape (n_cluster_ids,)
        Digit of every cluster id; ids outside it, or mapped to -1 (empty when
        the map was learnt), count as wrong.

    Returns
    -------
    float
    """
    y_true = np.asarray(y_true)
    clusters = np.asarray(clusters)
    mapping = np.asarray(mapping)
    by_id = padded(mapping, (max(int(clusters.max(initial=0)) + 1, len(mapping)),), -1)
    return float(np.mean(by_id[clusters] == y_true))


def padded(values: np.ndarray, shape: tuple[int, ...], fill: int) -> np.ndarray:
    """``values`` in the leading corner of an int64 array of ``shape`` filled with ``fill``.

    The library's tables and maps end at the largest label present; padded, every
    digit and every cluster id up to k has its row, column or entry.
    """
    out = np.full(shape, fill, dtype=np.int64)
    out[tuple(slice(0, size) for size in np.shape(values))] = values
    return out


def cluster_order(y_true: np.ndarray, labels: np.ndarray, n_clusters: int) -> list[int]:
    """Every id below ``n_clusters`` by majority digit (:func:`tfkmeans.metrics.cluster_order`), empty ones last.

    Figures and sorted confusion matrices then read 0..9 from left to right.
    """
    order = [int(c) for c in metrics.cluster_order(y_true, labels)]
    return order + [c for c in range(n_clusters) if c not in order]


def mapping_text(mapping: np.ndarray) -> str:
    """A cluster -> digit map as ``"0→3, 1→7, ..."`` (empty clusters as ``→-``)."""
    return ", ".join(f"{c}→{d if d >= 0 else '-'}" for c, d in enumerate(np.asarray(mapping).tolist()))


# -- seed comparisons ----------------------------------------------------------------------------

#: The seed documents by title, as studies cite them in ``seed_comparison(source=...)``.
SEED_DOCUMENTS = {
    "paper": 'paper "Cluster analysis of MNIST data set" (Pei & Ye, J. Phys.: Conf. Ser. 2181, 2022)',
    "naive": 'blog "Clustering MNIST – naive"',
    "lenet": 'blog "K-Means clustering of MNIST dataset"',
    "course": 'course report "KMeans Clustering MNIST digits Dataset"',
    "autoencoder": "notebook write-up on K-means of MNIST autoencoder codes",
}

#: Keys of one entry of ``metrics.json["seed_comparisons"]``; ``experiments.report`` reads them.
SEED_COMPARISON_KEYS = (
    "source",
    "quantity",
    "seed_value",
    "ours",
    "definition",
    "note",
    "format",
    "approximate",
    "headline",
    "figures",
)


def seed_comparison(
    *,
    source: str,
    quantity: str,
    seed_value: Any,
    ours: Any,
    definition: str,
    note: str,
    format: str = "number",
    approximate: bool = False,
    headline: bool = True,
    figures: Sequence[str] = (),
) -> dict[str, Any]:
    """One figure of a seed document beside ours, in the shape every experiment writes.

    Experiments put a list of these under ``"seed_comparisons"`` in ``metrics.json``;
    :mod:`experiments.report` turns them into REPORT.md without knowing the experiment.

    Parameters
    ----------
    source : str
        The seed document by title (a value of :data:`SEED_DOCUMENTS`), or the
        published work a study sets itself beside.
    quantity : str
        What is compared, e.g. ``"k=10 test accuracy"``.
    seed_value, ours : number or str
        The seed's figure and ours (a number, or e.g. a chosen k).
    definition : str
        How our number is computed (and, if known, how the seed's was).
    note : str
        A sentence on any difference: other data, other definition, ...
    format : {"number", "percent", "int"}
        How to show the values: as they are, fractions as percentages, integers.
    approximate : bool
        The seed gives its figure only roughly ("about 0.6").
    headline : bool
        Belongs in the report's headline table (else only in the experiment's section).
    figures : sequence of str
        PNG file names, relative to the experiment's output directory, that show it.

    Returns
    -------
    dict
        With the keys of :data:`SEED_COMPARISON_KEYS`.
    """
    if format not in ("number", "percent", "int"):
        raise ValueError(f"format must be 'number', 'percent' or 'int', got {format!r}")
    return {
        "source": source,
        "quantity": quantity,
        "seed_value": seed_value,
        "ours": ours,
        "definition": definition,
        "note": note,
        "format": format,
        "approximate": approximate,
        "headline": headline,
        "figures": list(figures),
    }


def format_value(value: Any, format: str = "number") -> str:
    """Show a compared value as :func:`seed_comparison`'s ``format`` says."""
    if isinstance(value, (int, float, np.number)) and not isinstance(value, (bool, np.bool_)):
        if format == "percent":
            return f"{100 * float(value):.2f} %"
        if format == "int":
            return f"{int(round(float(value))):,}"
    return _format_cell(value)


def comparison_lines(comparisons: Sequence[Mapping[str, Any]]) -> list[str]:
    """One Markdown bullet per :func:`seed_comparison` entry: quantity, both values in its format, note."""
    return [
        f"- **{c['quantity']}**: seed {'≈ ' if c['approximate'] else ''}"
        f"{format_value(c['seed_value'], c['format'])}, ours {format_value(c['ours'], c['format'])}. "
        f"{c['note']}"
        for c in comparisons
    ]


def closing_sections(comparisons: Sequence[Mapping[str, Any]], figures: Sequence[str]) -> list[str]:
    """summary.md's last lines: the comparison with the seed (:func:`comparison_lines`), then the figures."""
    return ["", "## Comparison with the seed", "", *comparison_lines(comparisons), "", "## Figures", "", *figures]


def command_line(module: str) -> str:
    """The command that ran this process, as ``python -m <module> <args>``."""
    return " ".join(["python -m " + module, *sys.argv[1:]])


def record_head(experiment: str, title: str | None = None) -> dict[str, Any]:
    """The first keys of every study's ``metrics.json``: ``experiment``, ``title`` (if any), ``command``, ``flags``.

    Parameters
    ----------
    experiment : str
        The study's module name under ``experiments``.
    title : str, optional
        What the report calls the study.
    """
    return {
        "experiment": experiment,
        **({"title": title} if title else {}),
        "command": command_line(f"experiments.{experiment}"),
        "flags": experiment_flags(),
    }
