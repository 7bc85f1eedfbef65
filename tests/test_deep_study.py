"""Tests of experiments.deep: its pure helpers, and a quick run of the whole pipeline.

The quick run itself is part of the shared ``python -m experiments.all --quick`` run
(tests/test_experiment_studies.py); here its metrics.json is checked in detail.
"""

from __future__ import annotations

import numpy as np

from experiments import deep


def test_stage_records_time_the_pipeline_without_the_reference_stage():
    y = np.array([0, 0, 1, 1])
    perfect, swapped, wrong = np.array([0, 0, 1, 1]), np.array([1, 1, 0, 0]), np.array([0, 1, 0, 1])
    data = deep.runner.MnistSplits(None, y, None, y)
    stages = [
        deep.Stage("autoencoder codes", 10.0, wrong, wrong),
        deep.Stage("UMAP embedding", 30.0, swapped, swapped),
        deep.Stage("self-training 1", 5.0, perfect, perfect),
    ]
    records = deep.stage_records(data, stages)
    # The codes' K-means is a side reference: the pipeline's clock runs 30 s, then + 5 s.
    assert [r["elapsed_s"] for r in records] == [10.0, 30.0, 35.0]
    assert [r["test"]["hungarian_accuracy"] for r in records] == [0.5, 1.0, 1.0]
    assert deep.best_within(records, 32.0) == 1.0
    assert deep.best_within(records, 20.0) is None
