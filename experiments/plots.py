"""Figures shared by the experiments: image grids of centres and of cluster members.

Matplotlib runs on the non-interactive Agg backend so that scripts work without a
display; every function writes a PNG and closes its figure.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # before pyplot is imported: no display needed

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from absl import logging  # noqa: E402

from tfkmeans import metrics  # noqa: E402

__all__ = ["as_images", "cluster_examples", "cluster_descriptions", "image_grid"]

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


def _show(ax: plt.Axes, image: np.ndarray) -> None:
    """Draw one image without ticks; the frame stays so blank space reads as a cell."""
    ax.imshow(image, cmap=CMAP, interpolation="nearest")
    ax.set_xticks([])
    ax.set_yticks([])


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
    n_cols = max(1, min(n_cols, len(images)))
    n_rows = math.ceil(len(images) / n_cols)
    title_lines = max((title.count("\n") + 1 for title in titles), default=1)
    row_inches = cell_inches + 0.2 * title_lines
    fig, axes = plt.subplots(
        n_rows, n_cols, figsize=(n_cols * cell_inches, n_rows * row_inches + (0.5 if suptitle else 0)),
        squeeze=False, layout="constrained",
    )
    for ax, image, title in zip(axes.flat, images, titles):
        _show(ax, image)
        ax.set_title(title, fontsize=9)
    for ax in axes.flat[len(images):]:
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
        left=label_inches / width, right=0.99, bottom=0.05 * cell_inches / height,
        top=1 - title_inches / height, wspace=0.05, hspace=0.05,
    )
    for row, cluster in zip(axes, order):
        members = np.flatnonzero(labels == cluster)
        shown = rng.choice(members, size=min(per_cluster, len(members)), replace=False)
        for ax, index in zip(row, shown):
            _show(ax, images[index])
        for ax in row[len(shown):]:
            ax.set_axis_off()
        # A y-label rather than axis text: it stays put next to its row whatever the layout.
        row[0].set_ylabel(descriptions[cluster], rotation=0, ha="right", va="center", fontsize=10, labelpad=8)
    if title:
        fig.suptitle(title, fontsize=12, y=1 - 0.1 / height, va="top")
    return _save(fig, path)
