"""Tests of experiments.deep: its pure helpers, and a quick run of the whole pipeline.

The quick run itself is part of the shared ``python -m experiments.all --quick`` run
(tests/test_experiment_studies.py); here its metrics.json is checked in detail.
"""

from __future__ import annotations

import numpy as np
import pytest

from experiments import deep


def test_parse_rounds_reads_fraction_and_epochs():
    assert deep.parse_rounds(["0.5:2", "1:3"]) == [deep.Round(0.5, 2), deep.Round(1.0, 3)]
    for bad in ("0.5", "half:2", "0:2", "1.5:2", "0.5:0"):
        with pytest.raises(ValueError, match="--self_training"):
            deep.parse_rounds([bad])


def test_confident_members_keeps_a_share_of_every_cluster():
    clusters = np.array([0, 0, 0, 0, 1, 1, 2])
    confidence = np.array([0.1, 0.9, 0.5, 0.7, 0.2, 0.3, 0.0])
    keep = deep.confident_members(clusters, confidence, 0.5)
    # Half of cluster 0 (its two most confident), one of cluster 1, and cluster 2's only member.
    np.testing.assert_array_equal(keep, [False, True, False, True, False, True, True])
    assert deep.confident_members(clusters, confidence, 1.0).all()


def test_centre_margin_is_the_gap_between_the_two_nearest_centres():
    distances = np.array([[1.0, 4.0, 2.5], [3.0, 3.0, 0.5]])
    np.testing.assert_allclose(deep.centre_margin(distances), [1.5, 2.5])


def test_stage_records_time_the_pipeline_without_the_reference_stage():
    y = np.array([0, 0, 1, 1])
    perfect, swapped, wrong = np.array([0, 0, 1, 1]), np.array([1, 1, 0, 0]), np.array([0, 1, 0, 1])
    data = deep.runner.MnistSplits(None, y, None, y)
    stages = [
        deep.Stage("autoencoder codes", 10.0, wrong, wrong, np.zeros(4)),
        deep.Stage("UMAP embedding", 30.0, swapped, swapped, np.zeros(4)),
        deep.Stage("self-training 1", 5.0, perfect, perfect, np.zeros(4)),
    ]
    records = deep.stage_records(data, stages)
    # The codes' K-means is a side reference: the pipeline's clock runs 30 s, then + 5 s.
    assert [r["elapsed_s"] for r in records] == [10.0, 30.0, 35.0]
    assert [r["test"]["hungarian_accuracy"] for r in records] == [0.5, 1.0, 1.0]
    assert deep.best_within(records, 32.0) == 1.0
    assert deep.best_within(records, 20.0) is None
