"""Functional-information attribution and the faithfulness harness: known answers (logistic
and exponential models, the log-Sobolev bound), gradients, covariance, and deletion curves."""
import subprocess
import sys

import numpy as np
import pytest
from numpy.testing import assert_allclose

from fastmi.interpret import (deletion_curve, estimate_covariance, faithfulness, functional_fisher,
                              insertion_curve)
from fastmi.interpret._functional import finite_difference_grad

W = np.array([2.0, -1.0, 0.5, 0.0, 0.0, 0.0])


def _sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


def logistic(X):
    return _sigmoid(np.asarray(X) @ W)


def logistic_grad(Z):
    p = logistic(Z)
    return (p * (1 - p))[:, None] * W


def logistic2(X):
    p = logistic(X)
    return np.column_stack([1 - p, p])


def _exact_exp_entropy(a, x, sigma):
    """Ent of f = exp(a . z), z ~ N(x, sigma): E f = exp(a.x + v/2), E[f log f] = E f (a.x + v),
    so Ent = E f * v / 2 with v = a^T sigma a."""
    v = a @ sigma @ a
    return np.exp(a @ x + v / 2) * v / 2


@pytest.mark.parametrize("use_grad", [False, True])
def test_logistic_unused_features_zero_and_ratio(use_grad):
    x = np.array([0.3, -0.2, 0.1, 1.0, 2.0, -1.0])
    res = functional_fisher(logistic, x, cov=np.eye(6), grad=logistic_grad if use_grad else None, rng=0)
    a = res.attributions
    assert np.all(a[3:] == 0.0)
    assert np.all(a[:3] > 0)
    assert_allclose(a[0] / a[1], W[0] ** 2 / W[1] ** 2, rtol=1e-9)
    assert_allclose(a[0] / a[2], W[0] ** 2 / W[2] ** 2, rtol=1e-9)
    assert res.total == pytest.approx(a.sum())
    assert res.diagnostics["gradient"] == ("user" if use_grad else "finite_differences")


def test_exponential_bound_is_tight_with_full_covariance():
    rng = np.random.default_rng(1)
    d = 5
    B = rng.standard_normal((d, d))
    S = B @ B.T / d + 0.1 * np.eye(d)
    a = 0.8 * rng.standard_normal(d)
    x = rng.standard_normal(d)
    res = functional_fisher(lambda Z: np.exp(Z @ a), x, cov=S, n_samples=20000, rng=0)
    exact = _exact_exp_entropy(a, x, 0.15 * S)
    assert res.total == pytest.approx(exact, rel=0.02)
    assert res.entropy == pytest.approx(exact, rel=0.05)
    # the off-diagonal terms of S matter: the diagonal-only variant gives another mu and value
    fi = functional_fisher(lambda Z: np.exp(Z @ a), x, cov=S, n_samples=20000, method="fi", rng=0)
    exact_diag = _exact_exp_entropy(a, x, 0.15 * np.diag(np.diag(S)))
    assert fi.total == pytest.approx(exact_diag, rel=0.02)


def test_log_sobolev_bound_non_extremal():
    # a steep logistic is far from exp(a . x): the bound is strict
    w = np.array([3.0, -2.0, 1.0])
    x = np.array([0.1, 0.2, -0.1])

    def f(Z):
        return _sigmoid(Z @ w)

    res = functional_fisher(f, x, spread=1.0, n_samples=4000, rng=0)
    # a precise entropy from many more samples of the same mu = N(x, I)
    z = x + np.random.default_rng(5).standard_normal((400_000, 3))
    v = f(z)
    ent = np.mean(v * np.log(v)) - v.mean() * np.log(v.mean())
    assert ent < 0.9 * res.total
    assert res.entropy < res.total


def test_finite_differences_match_analytic():
    Z = np.random.default_rng(0).standard_normal((50, 6))
    assert_allclose(finite_difference_grad(logistic, Z), logistic_grad(Z), atol=1e-5, rtol=0)
    x = np.random.default_rng(1).standard_normal(6)
    S = estimate_covariance(np.random.default_rng(2).standard_normal((100, 6)))
    fd = functional_fisher(logistic, x, cov=S, rng=3)
    an = functional_fisher(logistic, x, cov=S, grad=logistic_grad, rng=3)
    assert_allclose(fd.attributions, an.attributions, atol=1e-5 * np.abs(an.attributions).max())


def test_methods_and_groups():
    x = np.array([0.3, -0.2, 0.1, 1.0, 2.0, -1.0])
    sg = functional_fisher(logistic, x, method="smoothgrad", grad=logistic_grad, rng=0)
    assert np.sign(sg.attributions[:3]).tolist() == [1, -1, 1]
    sq = functional_fisher(logistic, x, method="smoothgrad_sq", grad=logistic_grad, rng=0)
    vg = functional_fisher(logistic, x, method="vargrad", grad=logistic_grad, rng=0)
    assert_allclose(vg.attributions, sq.attributions - sg.attributions ** 2, atol=1e-12)
    groups = np.array([0, 0, 1, 1, 2, 2])
    gr = functional_fisher(logistic, x, groups=groups, rng=0)
    full = functional_fisher(logistic, x, rng=0)
    assert_allclose(gr.attributions, [full.attributions[:2].sum(), full.attributions[2:4].sum(), 0.0])
    assert gr.group_labels.tolist() == [0, 1, 2]
    # two-column output: the target column, argmax by default
    two = functional_fisher(logistic2, x, rng=0)
    assert two.target == int(logistic(x[None])[0] > 0.5)
    again = functional_fisher(logistic2, x, rng=0)
    assert_allclose(two.attributions, again.attributions)  # same rng, same result
    with pytest.raises(ValueError, match="method"):
        functional_fisher(logistic, x, method="saliency")
    with pytest.raises(ValueError, match="positive"):
        functional_fisher(lambda Z: Z @ W, x)


def test_image_channel_summed_map():
    rng = np.random.default_rng(0)
    k = np.zeros((2, 4, 4))
    k[:, 1, 2] = 1.0  # the model reads one pixel, both channels

    def f(Z):
        return _sigmoid((Z * k).sum(axis=(1, 2, 3)))

    res = functional_fisher(f, rng.standard_normal((2, 4, 4)), n_samples=20, rng=0)
    assert res.attributions.shape == (2, 4, 4)
    assert res.map.shape == (4, 4)
    assert np.unravel_index(np.argmax(res.map), (4, 4)) == (1, 2)
    assert np.count_nonzero(res.map) == 1


def test_estimate_covariance_ledoit_wolf_and_classes():
    sk = pytest.importorskip("sklearn.covariance")
    rng = np.random.default_rng(0)
    X = rng.standard_normal((60, 8)) @ rng.standard_normal((8, 8))
    assert_allclose(estimate_covariance(X), sk.ledoit_wolf(X)[0], atol=1e-10)
    assert_allclose(estimate_covariance(X, shrinkage=None), np.cov(X.T, bias=True), atol=1e-10)
    y = np.repeat([0, 1], 30)
    covs = estimate_covariance(X, y, shrinkage=0.5)
    assert sorted(covs) == [0, 1]
    emp = np.cov(X[y == 1].T, bias=True)
    assert_allclose(covs[1], 0.5 * emp + 0.5 * np.trace(emp) / 8 * np.eye(8))
    x = X[0]

    def f2(Z):
        p = _sigmoid(Z[:, 0])
        return np.column_stack([1 - p, p])

    res = functional_fisher(f2, x, cov=covs, target=1, rng=0)
    assert_allclose(res.total, functional_fisher(f2, x, cov=covs[1], target=1, rng=0).total)
    with pytest.raises(ValueError, match="shrinkage"):
        estimate_covariance(X, shrinkage=2.0)


def test_deletion_beats_random_on_logistic():
    X = np.random.default_rng(0).standard_normal((200, 6))

    def attribute(batch):
        return np.array([functional_fisher(logistic2, row, n_samples=50, rng=0).attributions for row in batch])

    res = faithfulness(logistic2, X, attribute, n_random=10, rng=0)
    assert res.deletion_auc < res.random_deletion_auc - 5 * res.random_deletion_std
    assert res.insertion_auc > res.random_insertion_auc + 5 * res.random_insertion_std
    fr, curve = deletion_curve(logistic2, X, attribute(X))
    assert fr[0] == 0 and fr[-1] == 1 and curve.shape == (200, 21)
    assert_allclose(np.trapezoid(curve, fr, axis=1).mean(), res.deletion_auc)
    # curve ends: all features deleted (everything at the baseline) / none inserted
    _, ins = insertion_curve(logistic2, X, attribute(X), baseline=0.0)
    assert_allclose(curve[:, -1], ins[:, 0])
    assert_allclose(ins[:, -1], logistic2(X).max(axis=1))


def test_faithfulness_image_pixels_and_baseline():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((10, 3, 4, 4))

    def f(Z):
        p = _sigmoid(Z[:, :, 0, 0].sum(1))
        return np.column_stack([1 - p, p])

    maps = np.zeros((10, 4, 4))
    maps[:, 0, 0] = 1.0
    fr, curve = deletion_curve(f, X, maps, baseline=X.mean(axis=0), n_steps=16)
    assert_allclose(curve[:, 1], f(np.broadcast_to(X.mean(axis=0), X.shape))[np.arange(10), f(X).argmax(1)])
    with pytest.raises(ValueError, match="attributions"):
        deletion_curve(f, X, np.zeros((10, 5)))


def test_no_torch_import():
    code = ("import sys; sys.modules['torch'] = None\n"
            "import numpy as np, fastmi\n"
            "from fastmi.interpret import functional_fisher, FLINT\n"
            "r = functional_fisher(lambda Z: 1 / (1 + np.exp(-Z.sum(1))), np.zeros(3), rng=0)\n"
            "assert r.total > 0\n"
            "try:\n"
            "    FLINT(4).fit(np.zeros((8, 3)), np.zeros((8, 2)), np.zeros((8, 2)))\n"
            "except ImportError as e:\n"
            "    assert 'pip install \"fastmi[torch]\"' in str(e), e\n"
            "else:\n"
            "    raise AssertionError('no ImportError')\n")
    subprocess.run([sys.executable, "-c", code], check=True)
    out = subprocess.run([sys.executable, "-c", "import fastmi, fastmi.interpret, sys; print('torch' in sys.modules)"],
                         check=True, capture_output=True, text=True)
    assert out.stdout.strip() == "False"


def test_entropy_from_the_samples_with_zero_f_and_batch_rows():
    """``entropy`` is E[f (log f - log E f)] over each input's own samples (f = 0 contributes 0;
    NaN when log f is -inf on every sample), per row of a batch as in the single calls."""
    w = np.array([3.0, -2.0, 1.0])
    seen = []

    def logf(Z):  # log f, -inf (f = 0) where the first coordinate is negative
        Z = np.asarray(Z)
        return np.where(Z[:, 0] < 0, -np.inf, -np.log1p(np.exp(-(Z @ w))))

    def grad(Z):
        seen.append(np.array(Z))
        p = _sigmoid(Z @ w)
        return np.where((Z[:, 0] < 0)[:, None], 0.0, (1 - p)[:, None] * w)

    X = np.array([[0.1, 0.0, 0.0], [2.0, 1.0, 0.0], [-30.0, 0.0, 0.0]])  # part zero, positive, all zero
    b = functional_fisher(logf, X, grad=grad, output="log_prob", cov=np.eye(3), spread=1.0, n_samples=64,
                          batch=True, rng=5)
    for j in range(2):
        lf = logf(seen[j])
        fz = np.exp(lf)
        live = np.isfinite(lf)
        assert 0 < live.sum() <= 64
        expected = np.sum(fz[live] * (lf[live] - np.log(fz.mean()))) / 64
        assert b.entropy[j] == pytest.approx(expected, rel=1e-12)
    assert (~np.isfinite(logf(seen[0]))).any()  # the first input's samples hit f = 0
    assert np.isnan(b.entropy[2]) and np.isfinite(b.entropy[:2]).all()
    g = np.random.default_rng(5)
    singles = [functional_fisher(logf, x, grad=grad, output="log_prob", cov=np.eye(3), spread=1.0, n_samples=64,
                                 rng=g) for x in X]
    assert_allclose(b.entropy[:2], [s.entropy for s in singles[:2]], rtol=1e-12)
    assert np.isnan(singles[2].entropy)
    assert_allclose(b.attributions, [s.attributions for s in singles], rtol=1e-12, atol=1e-300)
