"""KMeans under tf.distribute: MirroredStrategy on logical CPUs, MultiWorkerMirroredStrategy in two processes.

Each runs in a fresh process (``conftest.FreshProcess``): logical CPU devices must be configured before
TensorFlow starts, and each worker is a process of its own.
"""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.datasets import make_blobs

from tfkmeans import KMeans


def data():
    x, _ = make_blobs(n_samples=2000, centers=6, n_features=5, cluster_std=2.0, random_state=7)
    return x


_MIRRORED = """
import numpy as np
import tensorflow as tf
cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 3)
from sklearn.datasets import make_blobs
from tfkmeans import KMeans
x, _ = make_blobs(n_samples=2000, centers=6, n_features=5, cluster_std=2.0, random_state=7)
strategy = tf.distribute.MirroredStrategy([d.name for d in tf.config.list_logical_devices("CPU")])
results = {}
with strategy.scope():
    for name, data in [("array", x), ("dataset", tf.data.Dataset.from_tensor_slices(x).batch(300))]:
        km = KMeans(6, init=x[:6], dtype="float64").fit(data)
        copies = [v.numpy().tolist() for v in strategy.experimental_local_results(km.centers)]
        results[name] = {"centers": km.cluster_centers_.tolist(), "labels": km.labels_.tolist(),
                         "n_iter": km.n_iter_, "inertia": km.inertia_, "copies": copies}
    # 7 weighted rows in slices of 3, 3 and 1 rows, split over 3 replicas: some replicas get none.
    few = KMeans(3, init=x[:3], dtype="float64").fit(x[:7], sample_weight=np.linspace(0.5, 2.0, 7))
    results["few"] = {"centers": few.cluster_centers_.tolist(), "labels": few.labels_.tolist(),
                      "n_iter": few.n_iter_, "inertia": few.inertia_}
print(json.dumps({"replicas": strategy.num_replicas_in_sync, "fits": results}))
"""
_WORKER = """
import json, sys
import tensorflow as tf
from sklearn.datasets import make_blobs
from tfkmeans import KMeans
strategy = tf.distribute.MultiWorkerMirroredStrategy()
x, _ = make_blobs(n_samples=2000, centers=6, n_features=5, cluster_std=2.0, random_state=7)
with strategy.scope():
    km = KMeans(6, init=x[:6], dtype="float64").fit(x)
json.dump({"centers": km.cluster_centers_.tolist(), "labels": km.labels_.tolist(),
           "n_iter": km.n_iter_, "inertia": km.inertia_,
           "replicas": strategy.num_replicas_in_sync}, open(sys.argv[1], "w"))
"""
# Two workers on free ports of 127.0.0.1, each told the cluster and its task by TF_CONFIG.
_TWO_WORKERS = (
    f"WORKER = {_WORKER!r}\n"
    + """
import os, socket, subprocess
sockets = [socket.socket() for _ in range(2)]
for s in sockets:
    s.bind(("127.0.0.1", 0))
workers = [f"127.0.0.1:{s.getsockname()[1]}" for s in sockets]
for s in sockets:
    s.close()
processes = []
for index in range(2):
    config = {"cluster": {"worker": workers}, "task": {"type": "worker", "index": index}}
    env = {**os.environ, "TF_CONFIG": json.dumps(config), "CUDA_VISIBLE_DEVICES": ""}
    processes.append(subprocess.Popen([sys.executable, "-c", WORKER, f"{scratch}/result{index}.json"], env=env))
assert [process.wait(timeout=300) for process in processes] == [0, 0]
print(json.dumps([json.load(open(f"{scratch}/result{index}.json")) for index in range(2)]))
"""
)


def assert_matches_single_process(result: dict, single: KMeans | None = None) -> None:
    if single is None:
        single = KMeans(6, init=data()[:6], dtype="float64").fit(data())
    np.testing.assert_array_equal(result["labels"], single.labels_)
    assert result["n_iter"] == single.n_iter_
    np.testing.assert_allclose(result["centers"], single.cluster_centers_, rtol=1e-10)
    assert result["inertia"] == pytest.approx(single.inertia_, rel=1e-10)


@pytest.mark.fresh_process(_MIRRORED)
def test_mirrored_strategy_fit_equals_single_device_fit(script_report):
    assert script_report["replicas"] == 3
    few = KMeans(3, init=data()[:3], dtype="float64").fit(data()[:7], sample_weight=np.linspace(0.5, 2.0, 7))
    assert_matches_single_process(script_report["fits"].pop("few"), few)
    for result in script_report["fits"].values():
        assert_matches_single_process(result)
        # The centres live in a mirrored variable: one identical copy per replica.
        assert len(result["copies"]) == 3 and all(copy == result["copies"][0] for copy in result["copies"])


@pytest.mark.slow
@pytest.mark.fresh_process(_TWO_WORKERS)
def test_multi_worker_fit_equals_single_process_fit(script_report):
    """Two worker processes on 127.0.0.1 with TF_CONFIG reach the single-process result."""
    for result in script_report:
        assert result["replicas"] == 2
        assert_matches_single_process(result)
