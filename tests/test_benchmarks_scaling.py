"""The scaling benchmark's own logic: slopes, /proc parsing, iteration counts, data, table."""

from __future__ import annotations

import numpy as np
import pytest

from benchmarks._harness import slope_per_iteration, status_kib
from benchmarks._mnist10x import SHIFTS, load_points
from benchmarks._scaling_parts import copies_of_data, initial_centres, iters_run, markdown_table, within

STATUS = """Name:\tpython
VmPeak:\t 2616776 kB
VmHWM:\t 1315636 kB
VmRSS:\t  550856 kB
Threads:\t3
"""


def test_slope_is_taken_between_medians_and_between_minima():
    # The stalled 1-iteration fit (5.0 s) moves neither the median nor the minimum.
    slope = slope_per_iteration([1.0, 1.2, 5.0], [3.0, 3.4, 3.1], 5)
    assert slope["median"] == pytest.approx((3.1 - 1.2) / 4)
    assert slope["min"] == pytest.approx((3.0 - 1.0) / 4)
    with pytest.raises(ValueError):
        slope_per_iteration([1.0], [1.0], 1)


def test_status_fields_are_read_in_kib():
    assert status_kib(STATUS, "VmRSS") == 550856
    assert status_kib(STATUS, "VmHWM") == 1315636
    with pytest.raises(KeyError):
        status_kib(STATUS, "VmSwap")
    with pytest.raises(ValueError):
        status_kib("VmRSS:\t 12 MB\n", "VmRSS")


def test_within_rounds_down_then_clips():
    assert within(7.9, 3, 20) == 7
    assert within(0.4, 3, 20) == 3
    assert within(1e9, 3, 20) == 20


def test_points_above_the_training_set_are_its_images_under_each_shift(monkeypatch):
    import tfkmeans.datasets

    images = np.random.default_rng(0).random((6, 28, 28), dtype=np.float32)
    monkeypatch.setattr(tfkmeans.datasets, "load_mnist", lambda *args, **kwargs: (images, None))
    x = load_points(12, None)
    assert x.shape == (12, 784) and x.dtype == np.float32
    for copy, (dy, dx) in enumerate(SHIFTS[:2]):
        expected = np.roll(np.roll(images, dy, axis=1), dx, axis=2).reshape(6, 784)
        np.testing.assert_array_equal(x[copy * 6 : (copy + 1) * 6], expected)
    np.testing.assert_array_equal(load_points(4, None), images[:4].reshape(4, 784))
    for n in (9, 6 * len(SHIFTS) + 6):  # not a multiple; more copies than shifts
        with pytest.raises(ValueError):
            load_points(n, None)


def test_initial_centres_are_distinct_rows_and_repeatable():
    x = np.arange(200, dtype=np.float32).reshape(100, 2)
    centres = initial_centres(x, 30, seed=3)
    assert centres.shape == (30, 2)
    assert len(np.unique(centres[:, 0])) == 30
    assert np.all(centres[:, 1] == centres[:, 0] + 1)  # whole rows of x
    np.testing.assert_array_equal(centres, initial_centres(x, 30, seed=3))


def test_iters_run_is_the_long_fits_count_when_every_repeat_agrees():
    assert iters_run([[1, 12], [1, 12], [1, 12]]) == 12
    assert iters_run([[1, 12], [1, 13]]) is None  # converged at different iterations
    assert iters_run([[0, 12]]) is None
    assert iters_run([[1, 1]]) is None  # no slope from one point


def test_extra_memory_is_shown_in_copies_of_the_float32_data():
    data_mb = 600_000 * 784 * 4 / 2**20
    assert copies_of_data(data_mb, 600_000, 784) == pytest.approx(1.0)
    assert copies_of_data(2014.0, 600_000, 784) == pytest.approx(2014.0 / 1794.43, rel=1e-5)


def test_markdown_table_row():
    results = {
        "config": {"methods": ["tfkmeans", "sklearn", "faiss"], "n_features": 784},
        "cells": [
            {
                "n": 60_000,
                "k": 100,
                "iters": 12,
                "repeats": 3,
                "timing": {
                    "tfkmeans": {"ms_per_iter": {"median": 1234.56, "min": 1000.0}, "iters_run": 12},
                    "sklearn": {"ms_per_iter": {"median": 50.0, "min": 40.0}, "iters_run": 9},
                    "faiss": {"ms_per_iter": None, "iters_run": None},
                },
                "memory": {"tfkmeans": {"extra_mb": 400.4}, "sklearn": {"extra_mb": 180.0}},
            }
        ],
    }
    row = markdown_table(results).splitlines()[2]
    # 60,000 × 784 float32 is 179.4 MB: 400.4 MB is 2.23 copies of it; faiss was not probed.
    assert row == (
        "| 60,000 | 100 | 12 × 3 | 1,234.6 / 1,000.0 | 50.0 / 40.0 (m=9) | m varied | 400 (2.23) | 180 (1.00) | – "
        "| 179 | 17,944 |"
    )
