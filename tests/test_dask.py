"""mi_matrix on a Dask LocalCluster: the same numbers as the local run, bit for bit."""
import numpy as np
import pytest

import fastmi

distributed = pytest.importorskip("distributed")

GMM_FAST = dict(n_bootstrap=5, mc_samples=20_000)


@pytest.fixture(scope="module")
def client():
    """A 2-worker LocalCluster of separate processes, started and closed here."""
    cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                       dashboard_address=None, silence_logs=40)
    c = distributed.Client(cluster)
    try:
        assert len(c.scheduler_info()["workers"]) == 2
        yield c
    finally:
        c.close()
        cluster.close()
    assert cluster.status.name == "closed"


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(21)
    n = 600
    v = rng.standard_normal((n, 2))
    z = np.column_stack([v[:, 0] + 0.4 * rng.standard_normal(n), np.tanh(v[:, 1]) + 0.2 * rng.standard_normal(n),
                         rng.standard_normal(n)])
    return z, v


def assert_identical(m, ref):
    np.testing.assert_array_equal(m.values, ref.values)
    np.testing.assert_array_equal(m.stds, ref.stds)
    np.testing.assert_array_equal(m.samples, ref.samples)
    assert m.row_names == ref.row_names and m.col_names == ref.col_names
    for r, s in zip(m.results.flat, ref.results.flat):
        assert (r is None) == (s is None)
        if r is not None:
            assert r.n_components == s.n_components


def test_gmm_matrix_on_local_cluster_equals_local_run(client, data):
    z, v = data
    ref = fastmi.mi_matrix(z, v, rng=3, n_jobs=2, progress=False, **GMM_FAST)
    m = fastmi.mi_matrix(z, v, rng=3, client=client, progress=False, **GMM_FAST)
    assert m.diagnostics["scheduler"] == "dask" and m.diagnostics["n_workers"] == 2
    assert ref.diagnostics["scheduler"] == "threads"
    assert_identical(m, ref)
    assert m.values[0, 0] > 0.5 and m.values[1, 1] > 0.5 and abs(m.values[2, 0]) < 0.05


def test_symmetric_matrix_and_batched_tasks_on_local_cluster(client, data):
    z, _ = data
    kw = dict(method="ksg", jitter=True, n_bootstrap=4, rng=np.random.SeedSequence(5), progress=False)
    ref = fastmi.mi_matrix(z, n_jobs=1, **kw)
    m = fastmi.mi_matrix(z, client=client, pairs_per_task=2, **kw)
    assert m.symmetric and m.diagnostics["n_tasks"] == 2
    assert_identical(m, ref)


def test_data_scattered_once_and_tasks_depend_on_it(client, data, monkeypatch):
    z, v = data
    scattered, submitted = [], []
    real_scatter, real_submit = client.scatter, client.submit

    def scatter(obj, *args, **kwargs):
        fut = real_scatter(obj, *args, **kwargs)
        scattered.append((obj, fut))
        return fut

    def submit(fn, *args, **kwargs):
        submitted.append(args)
        return real_submit(fn, *args, **kwargs)

    monkeypatch.setattr(client, "scatter", scatter)
    monkeypatch.setattr(client, "submit", submit)
    m = fastmi.mi_matrix(z, v, method="gaussian", n_bootstrap=3, rng=0, client=client, pairs_per_task=1,
                         progress=False)
    assert len(scattered) == 1  # one scatter for the whole matrix
    obj, fut = scattered[0]
    np.testing.assert_array_equal(obj.a, z)
    np.testing.assert_array_equal(obj.b, v)
    assert len(submitted) == 6
    for args in submitted:
        assert isinstance(args[0], distributed.Future) and args[0].key == fut.key  # a reference, not the arrays
        assert not any(isinstance(a, np.ndarray) for a in args[1:])
    ref = fastmi.mi_matrix(z, v, method="gaussian", n_bootstrap=3, rng=0, progress=False)
    assert_identical(m, ref)


def test_worker_errors_reach_the_caller_with_the_pair(client, data):
    z, v = data
    with pytest.raises(ValueError, match=r"pair \('a0', 'b0'\).*too few"):
        fastmi.mi_matrix(z[:40], v[:40], n_components=100, client=client, progress=False)
    m = fastmi.mi_matrix(z[:40], v[:40], n_components=100, client=client, on_error="nan", progress=False)
    assert np.isnan(m.values).all() and len(m.diagnostics["errors"]) == 6


def test_progress_bar_with_dask(client, data, capsys):
    pytest.importorskip("tqdm")
    z, v = data
    fastmi.mi_matrix(z, v, method="gaussian", client=client, progress=True)
    assert "6/6" in capsys.readouterr().err
