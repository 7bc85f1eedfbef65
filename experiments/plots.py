"""Figures shared by the experiments: image grids of centres and of cluster members.

Matplotlib runs on the non-interactive Agg backend so that scripts work without a
display; every function writes a PNG and closes its figure.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import NamedTuple

import matplotlib

matplotlib.use("Agg")  # before pyplot is imported: no display needed

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from absl import logging  # noqa: E402

from tfkmeans import metrics  # noqa: E402

__all__ = [
    "as_images",
    "centre_images",
    "cluster_examples",
    "cluster_descriptions",
    "image_grid",
    "tile_images",
    "Colouring",
    "confusion_heatmaps",
    "embedding_panels",
    "grouped_bars",
    "knee_point",
    "line_chart",
    "progress_chart",
    "strip_chart",
]

# White background, dark ink: how handwritten digits are usually shown (and the blog did).
CMAP = "gray_r"
DPI = 100


def as_images(images: np.ndarray) -> np.ndarray:
    """Reshape flat square images ``(n, side*side)`` to ``(n, side, side)``.

    Arrays that are already ``(n, h, w)`` are returned unchanged.

    Raises
    ------
    ValueError
        If rows are flat but their length is not a perfect square.
    """
    images = np.asarray(images)
    if images.ndim == 3:
        return images
    if images.ndim != 2:
        raise ValueError(f"images must have shape (n, h*w) or (n, h, w), got {images.shape}")
    side = math.isqrt(images.shape[1])
    if side * side != images.shape[1]:
        raise ValueError(f"cannot reshape rows of {images.shape[1]} pixels to square images")
    return images.reshape(len(images), side, side)


def tile_images(images: np.ndarray, side: int, *, gap: int = 1, gap_value: float = 0.25) -> np.ndarray:
    """Tile up to ``side * side`` images row by row into one square mosaic, thin lines between them.

    Parameters
    ----------
    images : ndarray of shape (n, h*w) with square rows, or (n, h, w)
        At most ``side * side`` images; missing cells stay blank (0).
    side : int
        Images per row and per column.
    gap : int, default 1
        Pixels of separating line between neighbouring images.
    gap_value : float, default 0.25
        Value of the separating lines: a light grey under :data:`CMAP` for pixels in [0, 1].

    Returns
    -------
    ndarray of shape (side*h + (side-1)*gap, side*w + (side-1)*gap)
        The mosaic, for :func:`image_grid` (one mosaic per cluster, e.g. seed 002's 10x10 grids).

    Examples
    --------
    >>> tile_images(np.ones((3, 4)), side=2, gap=1, gap_value=0.5)
    array([[1. , 1. , 0.5, 1. , 1. ],
           [1. , 1. , 0.5, 1. , 1. ],
           [0.5, 0.5, 0.5, 0.5, 0.5],
           [1. , 1. , 0.5, 0. , 0. ],
           [1. , 1. , 0.5, 0. , 0. ]], dtype=float32)
    """
    images = as_images(images)
    if len(images) > side * side:
        raise ValueError(f"{len(images)} images do not fit a {side}x{side} mosaic")
    height, width = images.shape[1:]
    mosaic = np.full((side * (height + gap) - gap, side * (width + gap) - gap), gap_value, dtype=np.float32)
    for cell in range(side * side):
        row, col = divmod(cell, side)
        top, left = row * (height + gap), col * (width + gap)
        mosaic[top : top + height, left : left + width] = images[cell] if cell < len(images) else 0.0
    return mosaic


def _show(ax: plt.Axes, image: np.ndarray) -> None:
    """Draw one image without ticks; the frame stays so blank space reads as a cell."""
    ax.imshow(image, cmap=CMAP, interpolation="nearest")
    ax.set_xticks([])
    ax.set_yticks([])


def _label_axes(ax: plt.Axes, title: str, xlabel: str, ylabel: str) -> None:
    """The title and axis labels of a chart, in the sizes every chart uses."""
    ax.set_title(title, fontsize=12)
    ax.set_xlabel(xlabel, fontsize=11)
    ax.set_ylabel(ylabel, fontsize=11)


def _save(fig: plt.Figure, path: str | Path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    # "tight" grows the canvas to whatever text sticks out (long row labels), so nothing is clipped.
    fig.savefig(path, dpi=DPI, facecolor="white", bbox_inches="tight", pad_inches=0.15)
    plt.close(fig)
    logging.info("Wrote %s", path)
    return path


def image_grid(
    images: np.ndarray,
    titles: Sequence[str],
    path: str | Path,
    *,
    n_cols: int = 5,
    suptitle: str | None = None,
    cell_inches: float = 2.0,
) -> Path:
    """Save images (e.g. the k centres) as a grid, each with its own title.

    Parameters
    ----------
    images : ndarray of shape (n, side*side) or (n, h, w)
        Grey-level images; each is scaled to its own range so faint centres stay visible.
    titles : sequence of str
        One title per image (may contain newlines).
    path : str or Path
        PNG file to write.
    n_cols : int, default 5
        Images per row.
    suptitle : str, optional
        Title of the whole figure.
    cell_inches : float, default 2.0
        Width of one cell; rows get extra height for the titles.

    Returns
    -------
    Path
        The file written.
    """
    images = as_images(images)
    if len(titles) != len(images):
        raise ValueError(f"got {len(titles)} titles for {len(images)} images")
    if not len(images):
        raise ValueError("no images to show")
    n_cols = max(1, min(n_cols, len(images)))
    n_rows = math.ceil(len(images) / n_cols)
    title_lines = max((title.count("\n") + 1 for title in titles), default=1)
    row_inches = cell_inches + 0.2 * title_lines
    fig, axes = plt.subplots(
        n_rows,
        n_cols,
        figsize=(n_cols * cell_inches, n_rows * row_inches + (0.5 if suptitle else 0)),
        squeeze=False,
        layout="constrained",
    )
    for ax, image, title in zip(axes.flat, images, titles):
        _show(ax, image)
        ax.set_title(title, fontsize=9)
    for ax in axes.flat[len(images) :]:
        ax.set_axis_off()
    if suptitle:
        fig.suptitle(suptitle, fontsize=12)
    return _save(fig, path)


def cluster_descriptions(
    labels: np.ndarray, true_labels: np.ndarray | None = None, *, multiline: bool = False
) -> dict[int, str]:
    """A short description of every cluster: its size and, given the truth, its majority digit.

    Parameters
    ----------
    labels : ndarray of shape (n_samples,)
        Cluster id of every sample.
    true_labels : ndarray of shape (n_samples,), optional
        True digit of every sample.
    multiline : bool, default False
        Two short lines (for titles above small images) instead of one.

    Returns
    -------
    dict
        Cluster id to e.g. ``"cluster 3 (n=6,021, majority digit 7: 52%)"``, or
        ``"cluster 3\\nn=6,021, majority 7: 52%"`` if `multiline`; ids without
        samples are left out.
    """
    labels = np.asarray(labels)
    sizes = np.bincount(labels)
    if true_labels is not None:
        table = metrics.contingency_matrix(true_labels, labels)
        majority = table.argmax(axis=0)
    descriptions = {}
    for cluster in np.flatnonzero(sizes):
        details = [f"n={sizes[cluster]:,}"]
        if true_labels is not None:
            share = table[majority[cluster], cluster] / sizes[cluster]
            details.append(f"majority {'' if multiline else 'digit '}{majority[cluster]}: {share:.0%}")
        text = f"cluster {cluster}\n{', '.join(details)}" if multiline else f"cluster {cluster} ({', '.join(details)})"
        descriptions[int(cluster)] = text
    return descriptions


def centre_images(
    centres: np.ndarray,
    labels: np.ndarray,
    true_labels: np.ndarray,
    order: Sequence[int],
    path: str | Path,
    *,
    suptitle: str,
    n_cols: int = 5,
) -> Path:
    """Save the cluster centres as images in ``order``, each titled with its cluster's size and majority digit.

    Parameters
    ----------
    centres : ndarray of shape (n_clusters, side*side)
        Centres in pixel space.
    labels, true_labels : ndarray of shape (n_samples,)
        Cluster id and true digit of every training image (for the titles).
    order : sequence of int
        Every cluster id, in the order shown; clusters without images are titled "(empty)".
    path : str or Path
        PNG file to write.
    suptitle : str
        Title of the figure.
    n_cols : int, default 5
        Images per row.

    Returns
    -------
    Path
        The file written.
    """
    titles = cluster_descriptions(labels, true_labels, multiline=True)
    return image_grid(
        np.asarray(centres)[list(order)],
        [titles.get(c, f"cluster {c}\n(empty)") for c in order],
        path,
        n_cols=n_cols,
        suptitle=suptitle,
    )


def cluster_examples(
    images: np.ndarray,
    labels: np.ndarray,
    path: str | Path,
    per_cluster: int = 10,
    *,
    true_labels: np.ndarray | None = None,
    order: Sequence[int] | None = None,
    seed: int = 0,
    title: str | None = None,
    cell_inches: float = 0.8,
) -> Path:
    """Save a grid with one row per cluster showing random members of that cluster.

    Parameters
    ----------
    images : ndarray of shape (n_samples, side*side) or (n_samples, h, w)
        The clustered images.
    labels : ndarray of shape (n_samples,)
        Cluster id of every image.
    path : str or Path
        PNG file to write.
    per_cluster : int, default 10
        Images per row; a smaller cluster leaves its row partly empty.
    true_labels : ndarray of shape (n_samples,), optional
        True digits; adds each cluster's majority digit to its row label.
    order : sequence of int, optional
        Cluster ids from top to bottom; defaults to the non-empty ids in increasing order.
    seed : int, default 0
        Seeds the choice of members shown.
    title : str, optional
        Title of the figure.
    cell_inches : float, default 0.8
        Side of one image.

    Returns
    -------
    Path
        The file written.
    """
    images = as_images(images)
    labels = np.asarray(labels)
    if len(labels) != len(images):
        raise ValueError(f"got {len(labels)} labels for {len(images)} images")
    descriptions = cluster_descriptions(labels, true_labels)
    order = [int(c) for c in (order if order is not None else sorted(descriptions)) if int(c) in descriptions]
    rng = np.random.default_rng(seed)

    # Room for the longest row label at 10 pt (about 0.08 inch per character).
    label_inches = 0.3 + 0.08 * max(len(descriptions[c]) for c in order)
    title_inches = 0.5 if title else 0.1
    width = label_inches + per_cluster * cell_inches
    height = len(order) * cell_inches + title_inches
    fig, axes = plt.subplots(len(order), per_cluster, figsize=(width, height), squeeze=False)
    fig.subplots_adjust(
        left=label_inches / width,
        right=0.99,
        bottom=0.05 * cell_inches / height,
        top=1 - title_inches / height,
        wspace=0.05,
        hspace=0.05,
    )
    for row, cluster in zip(axes, order):
        members = np.flatnonzero(labels == cluster)
        shown = rng.choice(members, size=min(per_cluster, len(members)), replace=False)
        for ax, index in zip(row, shown):
            _show(ax, images[index])
        for ax in row[len(shown) :]:
            ax.set_axis_off()
        # A y-label rather than axis text: it stays put next to its row whatever the layout.
        row[0].set_ylabel(descriptions[cluster], rotation=0, ha="right", va="center", fontsize=10, labelpad=8)
    if title:
        fig.suptitle(title, fontsize=12, y=1 - 0.1 / height, va="top")
    return _save(fig, path)


# -- charts of the seed studies (restarts, confusion, tsne, select_k) ---------------------------

#: Ten distinguishable colours, one per digit (matplotlib's "tab10").
DIGIT_COLOURS = plt.get_cmap("tab10").colors


def knee_point(ks: Sequence[float], values: Sequence[float]) -> float:
    """The knee (elbow) of a monotone curve: the point farthest from its chord.

    Both axes are scaled to [0, 1] by their ranges; the chord joins the first and
    the last point; the knee is the point with the largest perpendicular distance
    to the chord (on the convex side of the curve, i.e. below the chord for a
    falling curve such as inertia against k). This is the "maximum distance"
    rule that Kneedle (Satopaa et al., 2011) builds on, without its smoothing or
    threshold.

    Parameters
    ----------
    ks : sequence of numbers
        Increasing x values (numbers of clusters).
    values : sequence of numbers
        y values, e.g. inertia; falling or rising.

    Returns
    -------
    number
        The element of ``ks`` at the knee; the first one if the curve is a straight
        line or has fewer than three points.

    Examples
    --------
    >>> knee_point([1, 2, 3, 4, 5], [100, 40, 30, 25, 22])
    2
    """
    x = np.asarray(ks, dtype=float)
    y = np.asarray(values, dtype=float)
    if x.shape != y.shape or x.ndim != 1:
        raise ValueError(f"ks and values must be 1-D of the same length, got {x.shape} and {y.shape}")
    if len(x) < 3 or np.ptp(y) == 0:
        return ks[0]
    xn = (x - x[0]) / (x[-1] - x[0])
    yn = (y - y.min()) / np.ptp(y)
    # Falling curve: (0, 1) to (1, 0); rising: (0, 0) to (1, 1). Signed distance to the
    # chord, positive on the side a convex falling (concave rising) curve bends to.
    falling = y[-1] < y[0]
    chord = (1.0 - xn) if falling else xn
    distance = (chord - yn) if falling else (yn - chord)
    return ks[int(np.argmax(distance))]


def line_chart(
    x: Sequence[float],
    series: dict[str, Sequence[float]],
    path: str | Path,
    *,
    title: str,
    xlabel: str,
    ylabel: str,
    errors: dict[str, tuple[Sequence[float], Sequence[float]]] | None = None,
    marked: dict[str, float] | None = None,
    references: dict[str, tuple[Sequence[float], Sequence[float]]] | None = None,
    integer_x: bool = True,
    size: tuple[float, float] = (8.0, 5.0),
) -> Path:
    """Save one or more curves over a common x axis (e.g. inertia against k).

    Parameters
    ----------
    x : sequence of numbers
        Common x values.
    series : dict
        Legend label to y values (NaN leaves a gap).
    path : str or Path
        PNG file to write.
    title, xlabel, ylabel : str
        Texts of the figure.
    errors : dict, optional
        Legend label to ``(low, high)`` y values drawn as an error band around that series.
    marked : dict, optional
        Legend label to the x value to circle on that series (e.g. the chosen k),
        annotated with ``"k=<x>"``.
    references : dict, optional
        Legend label to ``(x, y)`` points drawn as hollow markers without a line
        (e.g. figures reported by a seed document).
    integer_x : bool, default True
        One tick per x value.
    size : (width, height), default (8, 5)
        Figure size in inches.

    Returns
    -------
    Path
        The file written.
    """
    fig, ax = plt.subplots(figsize=size, layout="constrained")
    x = np.asarray(x, dtype=float)
    for index, (label, values) in enumerate(series.items()):
        colour = DIGIT_COLOURS[index % len(DIGIT_COLOURS)]
        values = np.asarray(values, dtype=float)
        ax.plot(x, values, marker="o", color=colour, label=label)
        if errors and label in errors:
            low, high = (np.asarray(v, dtype=float) for v in errors[label])
            ax.fill_between(x, low, high, color=colour, alpha=0.2, linewidth=0)
        if marked and label in marked and marked[label] is not None:
            at = float(marked[label])
            y = values[np.flatnonzero(x == at)[0]]
            ax.plot([at], [y], marker="o", markersize=16, markerfacecolor="none", markeredgewidth=2, color=colour)
            # Right of the circle, one line lower per series so labels at the same k do not collide.
            ax.annotate(
                f"k={at:g}",
                (at, y),
                xytext=(14, 4 - 16 * index),
                textcoords="offset points",
                fontsize=11,
                color=colour,
                fontweight="bold",
                va="center",
                bbox={"boxstyle": "round,pad=0.1", "facecolor": "white", "alpha": 0.8, "linewidth": 0},
            )
    for index, (label, (ref_x, ref_y)) in enumerate((references or {}).items()):
        ax.plot(
            ref_x,
            ref_y,
            linestyle="none",
            marker="D",
            markersize=8,
            markerfacecolor="none",
            markeredgewidth=1.5,
            color=DIGIT_COLOURS[(len(series) + index) % len(DIGIT_COLOURS)],
            label=label,
        )
    ax.margins(y=0.08)  # room for the circles and labels at the ends
    if integer_x:
        ax.set_xticks(x)
        ax.set_xticklabels([f"{v:g}" for v in x])
    _label_axes(ax, title, xlabel, ylabel)
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=10)
    return _save(fig, path)


def confusion_heatmaps(
    tables: Sequence[np.ndarray],
    column_labels: Sequence[Sequence[str]],
    titles: Sequence[str],
    path: str | Path,
    *,
    suptitle: str | None = None,
    xlabel: str = "cluster (id → majority digit)",
    ylabel: str = "true digit",
    cell_inches: float = 0.7,
) -> Path:
    """Save confusion matrices (true digit × cluster) side by side, every count written in its cell.

    Each cell is shaded by its share of the cluster (column), so a pure cluster shows
    as one dark cell whatever its size; the counts themselves are printed.

    Parameters
    ----------
    tables : sequence of ndarray of shape (n_classes, n_clusters)
        Counts, columns already in display order.
    column_labels : sequence of sequences of str
        Tick label of every column of every table.
    titles : sequence of str
        Title of every panel.
    path : str or Path
        PNG file to write.
    suptitle : str, optional
        Title of the whole figure.
    xlabel, ylabel : str
        Axis labels.
    cell_inches : float, default 0.7
        Side of one cell.

    Returns
    -------
    Path
        The file written.
    """
    n_rows = max(t.shape[0] for t in tables)
    widths = [t.shape[1] * cell_inches + 1.2 for t in tables]
    fig, axes = plt.subplots(
        1,
        len(tables),
        figsize=(sum(widths) + 1.0, n_rows * cell_inches + 2.2),
        squeeze=False,
        layout="constrained",
        gridspec_kw={"width_ratios": [t.shape[1] for t in tables]},
    )
    for ax, table, labels, title in zip(axes[0], tables, column_labels, titles):
        table = np.asarray(table)
        share = table / np.maximum(table.sum(axis=0, keepdims=True), 1)
        image = ax.imshow(share, cmap="Blues", vmin=0.0, vmax=1.0, aspect="equal")
        largest = max(int(table.max()), 1)
        fontsize = 8 if largest >= 100_000 else 9
        for (row, col), count in np.ndenumerate(table):
            if count:
                ax.text(
                    col,
                    row,
                    f"{count:,}",
                    ha="center",
                    va="center",
                    fontsize=fontsize,
                    color="white" if share[row, col] > 0.5 else "black",
                )
        ax.set_xticks(range(table.shape[1]))
        # Two-line labels ("c3\n→ 0") fit upright; long one-line labels are turned.
        upright = all("\n" in label or len(label) <= 3 for label in labels)
        ax.set_xticklabels(labels, rotation=0 if upright else 90, fontsize=9)
        ax.set_yticks(range(table.shape[0]))
        ax.set_yticklabels([str(i) for i in range(table.shape[0])], fontsize=10)
        ax.set_xlabel(xlabel, fontsize=10)
        ax.set_ylabel(ylabel, fontsize=10)
        ax.set_title(title, fontsize=11)
    colourbar = fig.colorbar(image, ax=axes[0].tolist(), shrink=0.8)
    colourbar.set_label("share of the cluster (column)", fontsize=10)
    if suptitle:
        fig.suptitle(suptitle, fontsize=12)
    return _save(fig, path)


class Colouring(NamedTuple):
    """One panel of :func:`embedding_panels`.

    Attributes
    ----------
    title : str
        Panel title.
    groups : ndarray of shape (n_samples,)
        Every point's group (a digit or a cluster id).
    names : dict
        Legend text of each group, in legend order; also written at the group's median.
    colours : dict, optional
        Group to an index into :data:`DIGIT_COLOURS` (e.g. a cluster to its majority
        digit, so clusters take the colour of the digit they stand for); by default
        a group's position in ``names``.
    """

    title: str
    groups: np.ndarray
    names: dict[int, str]
    colours: dict[int, int] | None = None


def embedding_panels(
    embedding: np.ndarray,
    colourings: Sequence[Colouring],
    path: str | Path,
    *,
    suptitle: str | None = None,
    panel_inches: float = 5.5,
    axis_name: str = "t-SNE",
) -> Path:
    """Save a 2-D embedding (e.g. t-SNE) several times side by side, coloured differently.

    Parameters
    ----------
    embedding : ndarray of shape (n_samples, 2)
        The points.
    colourings : sequence of Colouring
        One panel each (see :class:`Colouring`); at most 10 colours look distinct.
    path : str or Path
        PNG file to write.
    suptitle : str, optional
        Title of the whole figure.
    panel_inches : float, default 5.5
        Side of one panel.
    axis_name : str, default "t-SNE"
        The method that made the embedding, for the axis labels.

    Returns
    -------
    Path
        The file written.
    """
    embedding = np.asarray(embedding)
    fig, axes = plt.subplots(
        1,
        len(colourings),
        figsize=(panel_inches * len(colourings), panel_inches + 1.6),
        squeeze=False,
        layout="constrained",
    )
    for ax, (title, groups, names, colours) in zip(axes[0], colourings):
        groups = np.asarray(groups)
        for index, (group, name) in enumerate(names.items()):
            members = groups == group
            if not members.any():
                continue
            colour = DIGIT_COLOURS[(colours[group] if colours else index) % len(DIGIT_COLOURS)]
            ax.scatter(*embedding[members].T, s=9, color=colour, alpha=0.8, label=name, linewidths=0)
            centre = np.median(embedding[members], axis=0)
            ax.text(
                *centre,
                name,
                fontsize=10,
                fontweight="bold",
                ha="center",
                va="center",
                color="black",
                bbox={"boxstyle": "round,pad=0.15", "facecolor": colour, "alpha": 0.6, "linewidth": 0},
            )
        ax.set_title(title, fontsize=11)
        ax.set_xticks([])
        ax.set_yticks([])
        ax.set_xlabel(f"{axis_name} 1", fontsize=10)
        ax.set_ylabel(f"{axis_name} 2", fontsize=10)
        ax.legend(
            fontsize=8,
            markerscale=2,
            loc="upper center",
            bbox_to_anchor=(0.5, -0.06),
            ncol=min(5, len(names)),
            frameon=False,
            handletextpad=0.2,
            columnspacing=0.8,
        )
    if suptitle:
        fig.suptitle(suptitle, fontsize=12)
    return _save(fig, path)


def grouped_bars(
    categories: Sequence[str],
    series: dict[str, Sequence[float]],
    path: str | Path,
    *,
    title: str,
    xlabel: str,
    ylabel: str,
    totals: Sequence[float] | None = None,
    totals_label: str = "total",
    size: tuple[float, float] = (10.0, 5.0),
) -> Path:
    """Save a bar chart with one group of bars per category (e.g. correct counts per digit).

    Parameters
    ----------
    categories : sequence of str
        Group labels along x.
    series : dict
        Legend label to one value per category; values are written above the bars.
    path : str or Path
        PNG file to write.
    title, xlabel, ylabel : str
        Texts of the figure.
    totals : sequence of numbers, optional
        Drawn as an outlined bar behind each group (e.g. how many samples there were).
    totals_label : str, default "total"
        Legend text of ``totals``.
    size : (width, height), default (10, 5)
        Figure size in inches.

    Returns
    -------
    Path
        The file written.
    """
    fig, ax = plt.subplots(figsize=size, layout="constrained")
    x = np.arange(len(categories))
    width = 0.8 / max(len(series), 1)
    if totals is not None:
        ax.bar(x, totals, width=0.9, facecolor="none", edgecolor="grey", linestyle="--", label=totals_label)
    for index, (label, values) in enumerate(series.items()):
        offset = (index - (len(series) - 1) / 2) * width
        bars = ax.bar(x + offset, values, width=width, color=DIGIT_COLOURS[index % len(DIGIT_COLOURS)], label=label)
        ax.bar_label(bars, labels=[f"{v:g}" for v in values], fontsize=7, padding=1)
    ax.set_xticks(x)
    ax.set_xticklabels(categories, fontsize=10)
    _label_axes(ax, title, xlabel, ylabel)
    ax.grid(True, axis="y", alpha=0.3)
    ax.margins(y=0.08)  # room for the value labels above the tallest bars
    # Outside the axes: inside, the legend would hide bars whatever corner it took.
    ax.legend(fontsize=10, loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0)
    return _save(fig, path)


def strip_chart(
    groups: dict[str, Sequence[float]],
    path: str | Path,
    *,
    title: str,
    ylabel: str,
    references: dict[str, float] | None = None,
    colours: dict[str, int] | None = None,
    size: tuple[float, float] = (9.0, 5.0),
) -> Path:
    """Save one column of dots per group (e.g. the accuracy of every initialisation), with reference lines.

    Parameters
    ----------
    groups : dict
        Column label (may contain newlines) to its values; the median is drawn as a bar.
    path : str or Path
        PNG file to write.
    title, ylabel : str
        Texts of the figure.
    references : dict, optional
        Legend label to a y value drawn as a dashed horizontal line (e.g. a paper's figure).
    colours : dict, optional
        Group or reference label to an index into :data:`DIGIT_COLOURS` (e.g. one colour per
        estimator for its groups and its reference line); by default groups take
        successive colours and references a dark red.
    size : (width, height), default (9, 5)
        Figure size in inches.

    Returns
    -------
    Path
        The file written.
    """
    fig, ax = plt.subplots(figsize=size, layout="constrained")
    rng = np.random.default_rng(0)  # horizontal jitter only, so equal values stay visible
    for index, (label, values) in enumerate(groups.items()):
        values = np.asarray(values, dtype=float)
        jitter = rng.uniform(-0.12, 0.12, size=len(values)) if len(values) > 1 else np.zeros(1)
        colour = DIGIT_COLOURS[(colours or {}).get(label, index) % len(DIGIT_COLOURS)]
        ax.scatter(index + jitter, values, s=36, color=colour, zorder=3)
        ax.plot([index - 0.25, index + 0.25], [np.median(values)] * 2, color="black", linewidth=2, zorder=2)
    for label, y in (references or {}).items():
        colour = DIGIT_COLOURS[colours[label] % len(DIGIT_COLOURS)] if colours and label in colours else "darkred"
        ax.axhline(y, linestyle="--", linewidth=1.5, label=label, color=colour)
    ax.set_xticks(range(len(groups)))
    ax.set_xticklabels(list(groups), fontsize=10)
    ax.set_xlim(-0.6, len(groups) - 0.4)
    ax.set_title(title + "\n(black bar: median)", fontsize=12)
    ax.set_ylabel(ylabel, fontsize=11)
    ax.grid(True, axis="y", alpha=0.3)
    if references:
        ax.legend(fontsize=10, loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0)
    return _save(fig, path)


def progress_chart(
    series: dict[str, tuple[Sequence[float], Sequence[float]]],
    path: str | Path,
    *,
    title: str,
    xlabel: str,
    ylabel: str,
    references: dict[str, float] | None = None,
    size: tuple[float, float] = (8.0, 5.0),
) -> Path:
    """Save curves that each have their own x values (e.g. accuracy against elapsed time per seed).

    Parameters
    ----------
    series : dict
        Legend label to ``(x, y)`` values, drawn as a line with markers.
    path : str or Path
        PNG file to write.
    title, xlabel, ylabel : str
        Texts of the figure.
    references : dict, optional
        Legend label to a y value drawn as a dashed horizontal line (e.g. a published result).
    size : (width, height), default (8, 5)
        Figure size in inches.

    Returns
    -------
    Path
        The file written.
    """
    fig, ax = plt.subplots(figsize=size, layout="constrained")
    for index, (label, (x, y)) in enumerate(series.items()):
        ax.plot(x, y, marker="o", color=DIGIT_COLOURS[index % len(DIGIT_COLOURS)], label=label)
    for index, (label, value) in enumerate((references or {}).items()):
        ax.axhline(
            value,
            linestyle="--",
            linewidth=1,
            color=DIGIT_COLOURS[(len(series) + index) % len(DIGIT_COLOURS)],
            label=f"{label}: {value:.3f}",
        )
    _label_axes(ax, title, xlabel, ylabel)
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=9, loc="lower right")
    return _save(fig, path)
