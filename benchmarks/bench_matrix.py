"""MI-matrix speed: a 10 x 6 GMM-MI matrix (50 bootstrap replicates per entry, N = 1e4), run on
local threads with n_jobs=2 and on a 2-worker Dask LocalCluster, and the overhead of Dask.

The data are a synthetic representation: 6 Gaussian factors, 6 latents that are known functions
of them (linear, tanh, cubic, a product, a sum of two, a noisy copy) and 4 nuisance latents.

pytest-benchmark (one round each after a warm-up that compiles the kernels in this process and
in every worker, so compilation is never timed):

    python -m pytest benchmarks/bench_matrix.py --benchmark-only [--quick]

Script mode, printing both times, the Dask overhead and a check that the two matrices are
identical bit for bit:

    python benchmarks/bench_matrix.py [--n 10000] [--n-bootstrap 50] [--latents 10] [--factors 6]
                                      [--repeat 1] [--seed 0] [--serial]

``--serial`` adds a n_jobs=1 run for the parallel speed-up. The Dask run also reports the task
compute time from the task stream, separating Dask's own overhead (scheduling, transfers, idle
workers) from compute slowed down by other load on the machine. Timings are ``time.perf_counter``
around ``fastmi.mi_matrix`` (cluster start-up excluded; scattering the data and collecting the
results included). The machine may be shared with other jobs: compare times from one invocation.
"""
from __future__ import annotations

import argparse
import sys
import time
import warnings
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.append(str(ROOT))

import fastmi  # noqa: E402

N_BENCH = 10_000
N_BOOTSTRAP = 50
SEED = 0


def representation(n, n_latents=10, n_factors=6, seed=0):
    """(latents, factors): the first min(6, n_latents) latents are functions of the factors."""
    rng = np.random.default_rng(seed)
    v = rng.standard_normal((n, n_factors))
    noise = lambda s: s * rng.standard_normal(n)  # noqa: E731
    f = lambda k: v[:, k % n_factors]  # noqa: E731
    signal = [
        f(0) + noise(0.3),
        np.tanh(f(1)) + noise(0.2),
        f(2) ** 3 + noise(0.5),
        f(3) * (1 + 0.5 * f(4)) + noise(0.3),
        f(4) + f(5) + noise(0.5),
        f(5) + noise(1.0),
    ]
    latents = signal[:n_latents]
    while len(latents) < n_latents:  # nuisance latents: independent of every factor
        latents.append(rng.standard_normal(n) if len(latents) % 2 else rng.gamma(2.0, 1.0, n))
    return np.column_stack(latents), v


def run_local(z, v, n_jobs=2, **kw):
    return fastmi.mi_matrix(z, v, n_jobs=n_jobs, progress=False, **kw)


def run_dask(client, z, v, **kw):
    return fastmi.mi_matrix(z, v, client=client, progress=False, **kw)


def start_cluster(n_workers=2):
    from distributed import Client, LocalCluster

    cluster = LocalCluster(n_workers=n_workers, threads_per_worker=1, processes=True, dashboard_address=None,
                           silence_logs=40)
    return cluster, Client(cluster)


def warm_up(client=None):
    """Compile/load every kernel here (and on every worker) on a tiny matrix."""
    z, v = representation(1_000, 4, 2, seed=123)
    kw = dict(n_bootstrap=2, mc_samples=1_000, rng=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        run_local(z, v, **kw)
        if client is not None:
            # enough tasks that both workers get some; then make sure each worker compiled
            run_dask(client, z, v, **kw)
            client.run(lambda: run_local(z, v, n_jobs=1, **kw) and None)


def identical(a, b):
    return (np.array_equal(a.values, b.values, equal_nan=True)
            and np.array_equal(a.samples, b.samples, equal_nan=True))


# ------------------------------------------------------------------------------ pytest-benchmark
try:
    import pytest
except ImportError:  # script mode without pytest
    pytest = None

if pytest is not None:
    CASES = [pytest.param((N_BENCH, N_BOOTSTRAP), id="10x6-N1e4-B50"),
             pytest.param((2_000, 10), id="10x6-N2e3-B10", marks=pytest.mark.quick)]

    @pytest.fixture(scope="module")
    def cluster_client():
        pytest.importorskip("distributed")
        cluster, client = start_cluster(2)
        try:
            warm_up(client)
            yield client
        finally:
            client.close()
            cluster.close()

    @pytest.fixture(scope="module")
    def local_results():
        return {}

    @pytest.mark.parametrize("case", CASES)
    def test_matrix_local_threads(benchmark, case, local_results):
        n, b = case
        z, v = representation(n, seed=SEED)
        warm_up()
        benchmark.group = f"mi_matrix 10x6 gmm N={n} B={b}"
        benchmark.extra_info.update(n_jobs=2, scheduler="threads")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            m = benchmark.pedantic(run_local, args=(z, v), kwargs=dict(n_jobs=2, n_bootstrap=b, rng=SEED),
                                   rounds=1, iterations=1)
        local_results[case] = m
        assert m.shape == (10, 6) and np.isfinite(m.values).all()

    @pytest.mark.parametrize("case", CASES)
    def test_matrix_dask_local_cluster(benchmark, case, cluster_client, local_results):
        n, b = case
        z, v = representation(n, seed=SEED)
        benchmark.group = f"mi_matrix 10x6 gmm N={n} B={b}"
        benchmark.extra_info.update(n_workers=2, scheduler="dask LocalCluster")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            m = benchmark.pedantic(run_dask, args=(cluster_client, z, v), kwargs=dict(n_bootstrap=b, rng=SEED),
                                   rounds=1, iterations=1)
        if case in local_results:
            assert identical(m, local_results[case]), "Dask and local results differ"


# ------------------------------------------------------------------------------ script mode
def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--n", type=int, default=N_BENCH)
    p.add_argument("--n-bootstrap", type=int, default=N_BOOTSTRAP)
    p.add_argument("--latents", type=int, default=10)
    p.add_argument("--factors", type=int, default=6)
    p.add_argument("--repeat", type=int, default=1, help="best of this many runs per variant")
    p.add_argument("--seed", type=int, default=SEED)
    p.add_argument("--serial", action="store_true", help="also time n_jobs=1")
    args = p.parse_args(argv)

    z, v = representation(args.n, args.latents, args.factors, seed=args.seed)
    kw = dict(n_bootstrap=args.n_bootstrap, rng=args.seed)
    pairs = args.latents * args.factors
    print(f"mi_matrix: {args.latents} x {args.factors} GMM-MI, N = {args.n}, {args.n_bootstrap} bootstrap "
          f"replicates per entry ({pairs} pairs)")
    t0 = time.perf_counter()
    cluster, client = start_cluster(2)
    t_start = time.perf_counter() - t0
    try:
        warm_up(client)

        def best(fn):
            times, out = [], None
            for _ in range(args.repeat):
                t = time.perf_counter()
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    out = fn()
                times.append(time.perf_counter() - t)
            return min(times), out

        rows = []
        if args.serial:
            t_serial, m_serial = best(lambda: run_local(z, v, n_jobs=1, **kw))
            rows.append(("local, n_jobs=1", t_serial))
        t_local, m_local = best(lambda: run_local(z, v, n_jobs=2, **kw))
        rows.append(("local threads, n_jobs=2", t_local))
        from distributed import get_task_stream

        with get_task_stream(client) as stream:
            t_dask, m_dask = best(lambda: run_dask(client, z, v, **kw))
        rows.append(("Dask LocalCluster, 2 workers x 1 thread", t_dask))
        compute = sum(s["stop"] - s["start"] for task in stream.data for s in task["startstops"]
                      if s["action"] == "compute") / args.repeat
    finally:
        client.close()
        cluster.close()

    print("\n| run | seconds | per pair |\n|---|---|---|")
    for name, t in rows:
        print(f"| {name} | {t:.2f} | {t / pairs:.3f} |")
    print(f"\nDask overhead over local: {t_dask - t_local:+.2f} s ({100 * (t_dask / t_local - 1):+.1f} %); "
          f"cluster start-up (not included): {t_start:.1f} s")
    print(f"Dask task compute time summed over tasks: {compute:.2f} s, i.e. {compute / 2:.2f} s per worker; "
          f"wall time not spent computing (scheduling, transfers, load imbalance): {t_dask - compute / 2:.2f} s")
    if args.serial:
        print(f"parallel speed-up of n_jobs=2 over n_jobs=1: {t_serial / t_local:.2f}x")
    same = identical(m_local, m_dask)
    print(f"local and Dask matrices identical bit for bit: {same}")
    best_rows = [f"{r['row']}->{r['col']} {r['mi']:.3f}±{r['std']:.3f}" for r in m_local.most_informative()]
    print("most informative factor per latent:", ", ".join(best_rows))
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
