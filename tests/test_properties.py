"""Property-based tests: random shapes, dtypes, scales, weights, duplicates and parameter types.

Whatever hypothesis draws, a fit either refuses it with a clear ValueError or
TypeError, or returns finite centres, labels in range, an inertia equal to a
float64 recomputation and ``predict(X) == labels_``. Examples are bounded so
the module runs in well under a minute.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tfkmeans import KMeans, MiniBatchKMeans

BOUNDED = settings(max_examples=8, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
INTEGER_TYPES = (int, np.int32, np.int64, np.uint16)


@st.composite
def problems(draw):
    """``(X, sample_weight, n_clusters, dtype)``: X of any scale, duplicated rows, weights of any scale or none."""
    n_samples = draw(st.integers(1, 40))
    n_features = draw(st.sampled_from([1, 3]))
    rng = np.random.RandomState(draw(st.integers(0, 2**16)))
    scale = 10.0 ** draw(st.floats(-30, 30))
    x = (rng.normal(size=(n_samples, n_features)) + draw(st.floats(-3, 3))) * scale
    if draw(st.booleans()):  # duplicate rows
        x = x[rng.randint(0, max(1, n_samples // 3), n_samples)]
    weights = None
    if draw(st.booleans()):
        weights = rng.uniform(0, 1, n_samples) * 10.0 ** draw(st.floats(-40, 38))
        weights[rng.rand(n_samples) < 0.2] = 0.0
    # Few distinct k (each compiles its own graphs), and sometimes one more than the samples.
    k = draw(st.sampled_from([1, 2, 3, 5, n_samples + 1]))
    n_clusters = draw(st.sampled_from(INTEGER_TYPES))(k)
    return x, weights, n_clusters, draw(st.sampled_from(["float32", "float64"]))


def _check_fit(estimator_class, x, weights, n_clusters, dtype, **params):
    try:
        km = estimator_class(n_clusters, random_state=0, dtype=dtype, **params).fit(x, sample_weight=weights)
    except (ValueError, TypeError) as error:
        assert len(str(error)) > 20, f"unclear error: {error!r}"
        return
    assert n_clusters <= len(x), "more clusters than samples must be refused"
    centers = km.cluster_centers_
    assert centers.shape == (n_clusters, x.shape[1]) and np.isfinite(centers).all()
    labels = km.labels_
    assert labels.shape == (len(x),) and labels.min() >= 0 and labels.max() < n_clusters

    # The inertia, recomputed in float64 from X as the estimator's dtype holds it.
    seen = x.astype(dtype).astype(np.float64)
    squared = ((seen[:, None, :] - centers.astype(np.float64)[None]) ** 2).sum(-1)
    # What the dtype resolves at the data's magnitude: fits centre the data and move the centres
    # back, so distances that are zero in the fit can come back as rounding noise of this size.
    resolution = float(16 * np.finfo(dtype).eps * max(np.abs(seen).max(), np.abs(centers).max())) ** 2
    w = np.ones(len(x)) if weights is None else weights
    expected = float((w * squared[np.arange(len(x)), labels]).sum())
    assert np.isfinite(km.inertia_)
    assert km.inertia_ == pytest.approx(expected, rel=1e-4, abs=float(w.sum()) * resolution)

    # Labels are nearest centres, and predict(X) == labels_ but where two centres tie up to rounding.
    nearest = squared.min(1)
    tolerance = 1e-4 * nearest + resolution
    assert (squared[np.arange(len(x)), labels] <= nearest + tolerance).all()
    predicted = km.predict(x)
    differ = np.flatnonzero(predicted != labels)
    assert (np.abs(squared[differ, predicted[differ]] - squared[differ, labels[differ]]) <= tolerance[differ]).all()


@BOUNDED
@given(
    problem=problems(),
    params=st.fixed_dictionaries(
        {
            "max_iter": st.sampled_from(INTEGER_TYPES).map(lambda t: t(50)),
            "tol": st.sampled_from([0.0, 1e-4, np.float32(1e-3)]),
            "n_init": st.sampled_from(["auto", 1, np.int64(2)]),
            "algorithm": st.sampled_from(["lloyd", "elkan"]),
        }
    ),
)
def test_kmeans_answers_correctly_or_refuses_clearly(problem, params):
    _check_fit(KMeans, *problem, **params)


@BOUNDED
@given(
    problem=problems(),
    params=st.fixed_dictionaries(
        {
            "batch_size": st.sampled_from(INTEGER_TYPES).map(lambda t: t(16)),
            "max_iter": st.sampled_from([5, np.int32(5)]),
            "reassignment_ratio": st.sampled_from([0.01, np.float64(0.1)]),
        }
    ),
)
def test_minibatch_kmeans_answers_correctly_or_refuses_clearly(problem, params):
    _check_fit(MiniBatchKMeans, *problem, **params)
