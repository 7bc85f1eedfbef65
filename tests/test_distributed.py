"""KMeans under tf.distribute: MirroredStrategy on logical CPUs, MultiWorkerMirroredStrategy in two processes."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
from sklearn.datasets import make_blobs

from tfkmeans import KMeans


def data():
    x, _ = make_blobs(n_samples=2000, centers=6, n_features=5, cluster_std=2.0, random_state=7)
    return x


# Run in a fresh process: logical CPU devices must be configured before TensorFlow starts.
_MIRRORED = textwrap.dedent(
    """
    import json, sys
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
    json.dump({"replicas": strategy.num_replicas_in_sync, "fits": results}, open(sys.argv[1], "w"))
    """
)
_WORKER = textwrap.dedent(
    """
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
)


def _start(script: Path, output: Path, **env_vars: str) -> subprocess.Popen:
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", "CUDA_VISIBLE_DEVICES": "", **env_vars}
    return subprocess.Popen(
        [sys.executable, str(script), str(output)], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )


def _finish(process: subprocess.Popen) -> None:
    output, _ = process.communicate(timeout=300)
    assert process.returncode == 0, output[-3000:]


def assert_matches_single_process(result: dict, single: KMeans | None = None) -> None:
    if single is None:
        single = KMeans(6, init=data()[:6], dtype="float64").fit(data())
    np.testing.assert_array_equal(result["labels"], single.labels_)
    assert result["n_iter"] == single.n_iter_
    np.testing.assert_allclose(result["centers"], single.cluster_centers_, rtol=1e-10)
    assert result["inertia"] == pytest.approx(single.inertia_, rel=1e-10)


def test_mirrored_strategy_fit_equals_single_device_fit(tmp_path: Path):
    script = tmp_path / "mirrored.py"
    script.write_text(_MIRRORED)
    _finish(_start(script, tmp_path / "result.json"))
    report = json.loads((tmp_path / "result.json").read_text())
    assert report["replicas"] == 3
    few = KMeans(3, init=data()[:3], dtype="float64").fit(data()[:7], sample_weight=np.linspace(0.5, 2.0, 7))
    assert_matches_single_process(report["fits"].pop("few"), few)
    for result in report["fits"].values():
        assert_matches_single_process(result)
        # The centres live in a mirrored variable: one identical copy per replica.
        assert len(result["copies"]) == 3 and all(copy == result["copies"][0] for copy in result["copies"])


def _free_ports(count):
    sockets = [socket.socket() for _ in range(count)]
    for s in sockets:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    return ports


@pytest.mark.slow
def test_multi_worker_fit_equals_single_process_fit(tmp_path: Path):
    """Two worker processes on 127.0.0.1 with TF_CONFIG reach the single-process result."""
    workers = [f"127.0.0.1:{port}" for port in _free_ports(2)]
    script = tmp_path / "worker.py"
    script.write_text(_WORKER)
    processes = [
        _start(
            script,
            tmp_path / f"result{index}.json",
            TF_CONFIG=json.dumps({"cluster": {"worker": workers}, "task": {"type": "worker", "index": index}}),
        )
        for index in range(2)
    ]
    for process in processes:
        _finish(process)
    for index in range(2):
        result = json.loads((tmp_path / f"result{index}.json").read_text())
        assert result["replicas"] == 2
        assert_matches_single_process(result)
