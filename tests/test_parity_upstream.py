"""Parity of fastmi's GMM-MI with upstream gmm-mi 0.8.2 on upstream's own toy cases.

Upstream (GPL-3 with a non-commercial clause) runs only as an external program in its own
venv, ``.venv-upstream`` (it needs scikit-learn 1.5.2), built on demand by
``benchmarks/upstream/make_venv.sh`` (~25 s with a warm network); the test is skipped, with
the builder's error, when the venv cannot be built (no network).

fastmi runs upstream's procedure by passing ``fastmi.gmm.UPSTREAM_PROCEDURE`` explicitly (fresh
initialisations at every K, EM to tol 1e-5 in the search, the refit and the bootstrap, bootstrap
refits started from the selected fit, 1e5 MC samples unless raised below): fastmi's own
defaults are a faster procedure (split-warm-started search, 'auto' MC samples, looser EM
tolerances) that this test does not cover.

Both sides use upstream's defaults (3 inits, 2 folds, tol 1e-5, reg_covar 1e-15, max_iter
1e4, threshold_components 1e-5, patience 1, validation-likelihood metric, 50 bootstraps, 1e5 MC
samples; the last two raised in some cases, see below) and upstream's initialisation (random responsibilities then an M-step: fastmi's ``init="random_resp"``),
on identical data (all seeds fixed: data ``default_rng(seed)``, fastmi ``rng=0``, upstream
fixes its own). Criterion: |mean_fastmi - mean_upstream| < 0.6 * std_upstream.

Noise budget, and why some cases raise n_bootstrap / mc_samples. With the seeds fixed the
outcome is deterministic; the question is whether two equivalent estimators would pass for
almost any choice of seeds. Each mean differs from its expectation by (a) bootstrap
resampling noise, std / sqrt(B) = 0.14 std for B = 50, and (b) the Monte-Carlo error of the
MI integrals. (b) does NOT average over the replicates when the MC draws are common to all
replicates: always in fastmi (MCDraws, common random numbers by design), and in upstream
when K = 1 (every replicate samples with the same ``random_state``; for K > 1 its draws
decorrelate). With 1e5 MC samples at n = 1e4 that error is ~0.38 std (it does not shrink
with n while std does), so at pure defaults |diff| has a spread of ~0.45-0.55 std and the
0.6-std bound would fail ~20-30 % of seed choices. So, without changing what is estimated
(model selection, EM, initialisation and bootstrap scheme stay at upstream's defaults;
B and the MC sample count change only the noise of the computed mean, not its expectation):
  * fastmi runs with n_bootstrap=100, mc_samples=1e6 (K > 1 cases) or n_bootstrap=200,
    mc_samples=2e6 (K = 1 Gaussians, where it is cheap);
  * upstream keeps all its defaults, except MC_samples=1e6 on the K = 1 Gaussians;
  * upstream's own README example (n = 200, MC error negligible there) runs at pure
    defaults on both sides.
The spread of |diff| is then ~0.21-0.22 std in every case: the 0.6-std bound is a ~2.8-sigma
check (~0.5 % false-failure chance per case), tight in absolute terms (0.003-0.006 nat at
n = 1e4), and still catches any systematic difference (a different selected K, a biased
M-step, a wrong MI integral) above ~0.4 std.

Not in that budget: with random-responsibility starts, EM in both implementations sometimes
stops at the near-symmetric start (the log-likelihood moves by < tol in the first steps), so
K is under-selected and the MI far off (seen on D3 at n = 1e4: upstream K=1, MI 0.042 for data
seed 4; fastmi K=2, MI ~0.07 for 2 of 9 ``rng`` seeds on data seed 0). With the seeds used
here both sides select the same K as the true model (K=3 on D3) or within one (gamma-exp).

Runtime (2 cores): upstream ~85 s of CPU (gamma-exponential ~45 s of it), run two at a time
in the background while fastmi computes (~35 s); about 1.5-2 min in all, plus ~25-30 s for
the venv build when it is missing (2 min 13 s measured from scratch). Upstream results are
cached in .venv-upstream/results-cache (keyed by data, options, pins and runner), so reruns
only pay for fastmi.
"""
from __future__ import annotations

import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest

pytestmark = [pytest.mark.network, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.append(str(ROOT))

from benchmarks.upstream import cases, harness  # noqa: E402

import fastmi  # noqa: E402
from fastmi.gmm import UPSTREAM_PROCEDURE  # noqa: E402

# (case, n, data seed, upstream options, fastmi options). Upstream jobs run two at a time in
# this order: the 1-s README case, then the ~45-s gamma-exponential one, which overlaps all the
# rest. See the module docstring for the B / MC settings.
_K1_UP = {"MC_samples": 1e6}
_K1_FM = {"n_bootstrap": 200, "mc_samples": 2_000_000}
_KN_FM = {"n_bootstrap": 100, "mc_samples": 1_000_000}
PARITY = [
    ("readme_gaussian", 200, 0, {}, {}),                 # upstream's README / test example, exactly
    ("gamma_exp", 10_000, 0, {}, _KN_FM),                # paper's gamma-exponential toy, alpha = 1
    ("D3", 10_000, 0, {}, _KN_FM),                       # upstream's synthetic 3-component model
    ("readme_gaussian", 10_000, 0, _K1_UP, _K1_FM),      # bivariate Gaussian, rho = 0.6
    ("gaussian_rho09", 10_000, 0, _K1_UP, _K1_FM),       # bivariate Gaussian, rho = 0.9
]
BOUND = 0.6
# upstream's README / tests: EstimateMI().fit_estimate(X) on this data gives 0.2140917 +- 0.0429001
UPSTREAM_README = (0.2140917, 0.0429001)


def _id(p):
    return f"{p[0]}-n{p[1]}"


def _data(p):
    return cases.make(p[0], p[1], p[2])


@pytest.fixture(scope="session")
def upstream_venv():
    try:
        return harness.ensure_venv()
    except harness.UpstreamUnavailable as exc:
        pytest.skip(f"upstream gmm-mi venv unavailable (no network to PyPI?): {exc}")


@pytest.fixture(scope="module")
def upstream_runs(upstream_venv):
    """Start every upstream run in the background (2 at a time, one BLAS thread each)."""
    pool = ThreadPoolExecutor(max_workers=2)
    futures = {_id(p): pool.submit(harness.run_upstream, *_data(p), p[3]) for p in PARITY}
    yield futures
    pool.shutdown(wait=True, cancel_futures=True)


def test_upstream_reproduces_its_readme(upstream_runs):
    """The harness runs upstream as published: its README example gives its documented numbers."""
    res = upstream_runs["readme_gaussian-n200"].result()
    assert res["versions"]["gmm-mi"] == "0.8.2"
    assert res["versions"]["scikit-learn"] == "1.5.2"
    assert np.isclose(res["mi"], UPSTREAM_README[0], rtol=0, atol=1e-6), res
    assert np.isclose(res["std"], UPSTREAM_README[1], rtol=0, atol=1e-6), res
    assert all(p.endswith("=1") for p in res["threadpools"]), res["threadpools"]


@pytest.mark.parametrize("params", PARITY, ids=_id)
def test_parity_with_upstream(params, upstream_runs):
    x, y = _data(params)
    ours = fastmi.mutual_info(x, y, method="gmm", init="random_resp", rng=0, **{**UPSTREAM_PROCEDURE, **params[4]})
    up = upstream_runs[_id(params)].result()
    diff = abs(ours.mi - up["mi"])
    msg = (f"{_id(params)}: fastmi {ours.mi:.5f} +- {ours.std:.5f} (K={ours.n_components}), "
           f"upstream {up['mi']:.5f} +- {up['std']:.5f} (K={up['n_components']}), "
           f"|diff| = {diff:.5f} = {diff / up['std']:.2f} std_upstream (bound {BOUND}); "
           f"true MI {cases.true_mi(params[0]):.5f}")
    print(msg)
    assert np.isfinite(ours.mi) and np.isfinite(ours.std) and ours.std > 0, msg
    assert diff < BOUND * up["std"], msg
