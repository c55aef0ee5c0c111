"""Post-hoc FLINT on synthetic concepts: 4 sparse binary concepts -> 20-D inputs; the frozen
predictor's classes depend on concepts 0-2 only."""
import numpy as np
import pytest
from numpy.testing import assert_allclose

torch = pytest.importorskip("torch")
from scipy.optimize import linear_sum_assignment  # noqa: E402
from scipy.special import log_softmax, softmax  # noqa: E402

from fastmi.interpret import FLINT, conciseness, fidelity  # noqa: E402


def _make_concepts(seed):
    rng = np.random.default_rng(seed)
    n = 2000
    C = (rng.random((n, 4)) < 0.25).astype(float)
    X = C @ rng.standard_normal((4, 20)) + 0.1 * rng.standard_normal((n, 20))
    y = (4 * C[:, 0] + 2 * C[:, 1] + C[:, 2]).astype(int)  # 8 classes, concept 3 unused
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        net = torch.nn.Sequential(torch.nn.Linear(20, 32), torch.nn.ReLU(), torch.nn.Linear(32, 8))
        opt = torch.optim.Adam(net.parameters(), lr=1e-2)
        Xt, yt = torch.tensor(X, dtype=torch.float32), torch.tensor(y)
        for _ in range(300):
            loss = torch.nn.functional.cross_entropy(net(Xt), yt)
            opt.zero_grad()
            loss.backward()
            opt.step()
    with torch.no_grad():
        hidden = net[1](net[0](Xt)).numpy()
        logits = net(Xt).numpy()
    assert np.mean(logits.argmax(1) == y) > 0.99
    return C, X, hidden, logits


@pytest.fixture(scope="module")
def concepts():
    return _make_concepts(0)


@pytest.fixture(scope="module")
def fit_cached(concepts):
    """fit(data_seed, rng, conciseness_weight) -> FLINT with the defaults otherwise, each fit
    done once per module (so the per-seed tests below share them)."""
    cache, data = {}, {0: concepts}

    def fit(data_seed, rng, cd=None):
        if (data_seed, rng, cd) not in cache:
            if data_seed not in data:
                data[data_seed] = _make_concepts(data_seed)
            C, X, hidden, logits = data[data_seed]
            cache[data_seed, rng, cd] = FLINT(6, conciseness_weight=cd, rng=rng).fit(hidden, X, logits)
        return data[data_seed], cache[data_seed, rng, cd]

    return fit


@pytest.fixture(scope="module")
def fitted(fit_cached):
    return fit_cached(0, 0)[1]


def _matching(C, a):
    """Hungarian matching of the four concepts to distinct attributes by |corr|: (matched
    attribute of each concept, its |corr|)."""
    with np.errstate(invalid="ignore", divide="ignore"):
        corr = np.nan_to_num(np.corrcoef(np.column_stack([C, a]).T)[:4, 4:])
    rows, cols = linear_sum_assignment(-np.abs(corr))
    assert list(rows) == [0, 1, 2, 3] and len(set(cols)) == 4
    return cols, np.abs(corr[rows, cols])


# Measured with the defaults (benchmarks/bench_flint_seeds.py --data 0 1 2), rng 0-4: fidelity
# 1.000 on 15/15; every used concept matched at |corr| >= 0.99 on 15/15 (FLINT's four terms alone:
# 1/10 on data seeds 0 and 1); the unused concept's attribute has class relevance exactly 0 on
# 15/15 (with the prior but the jointly trained head: 0.10-0.61 on data seed 0, 0.14-1.00 on 1),
# while each used concept's attribute reaches relevance 1 for some class. Data seed 2 is not
# tested here (time); with L1 at 1e-3, 1500 steps and L_cd at 0.2 it aligned on 2/5 seeds. Data
# seeds 3 and 4, not used to choose the defaults (--data 3 4): aligned on 9/10, relevance 0 on 10/10.
@pytest.mark.slow
@pytest.mark.parametrize("data_seed", [0, 1])
@pytest.mark.parametrize("rng", range(5))
def test_fidelity_concepts_and_relevance(fit_cached, data_seed, rng):
    (C, X, hidden, logits), fl = fit_cached(data_seed, rng)
    assert fl.fidelity_ >= 0.95
    assert fidelity(fl.predict_logits(hidden), logits) == fl.fidelity_
    a = fl.attributes()
    assert a.shape == (2000, 6) and (a >= 0).all() and (a <= 1).all()
    cols, m = _matching(C, a)
    assert np.all(m[:3] >= 0.9), m
    G = fl.global_relevance()
    assert G.shape == (8, 6) and np.abs(G).max() == pytest.approx(1.0)
    rel = np.abs(G[:, cols]).max(axis=0)  # each concept's class relevance: max over classes
    assert rel[3] < 0.05 and np.all(rel[:3] > 0.5), rel


# Measured (bench_flint_seeds.py --data 0 1 2): CNS(5) and CNS(10) with L_cd at the concept code's
# floor (the mean number of active used concepts: 0.77, 0.74, 0.76) on 15/15 seeds; without it,
# above the floor on 2/5, 1/5 and 2/5 (up to 1.52); mean CNS(5) with/without 0.77/1.01 on data
# seed 0 (0.74/0.89 and 0.76/0.96 on 1 and 2).
@pytest.mark.slow
def test_conciseness_term_lowers_cns(fit_cached):
    """L_cd lowers CNS(5) and CNS(10), averaged over 5 seeds, and raises neither on any seed
    (ties happen: both runs can reach the concept code's floor)."""
    with_cd, without = [], []
    for rng in range(5):
        fl = fit_cached(0, rng)[1]
        plain = fit_cached(0, rng, cd=0.0)[1]
        assert plain.fidelity_ >= 0.95
        with_cd.append(conciseness(fl.local_relevance(), [5, 10]))
        without.append(conciseness(plain.local_relevance(), [5, 10]))
    with_cd, without = np.array(with_cd), np.array(without)
    assert np.all(with_cd.mean(0) < without.mean(0) - 0.1), (with_cd, without)  # measured 0.24
    assert np.all(with_cd <= without + 0.05), (with_cd, without)


def test_sparse_head_kkt():
    """The head refit solves its convex problem: the group-lasso optimality conditions hold,
    class-centred, with exact zeros for the attributes the targets do not depend on."""
    from fastmi.interpret._flint import _sparse_head

    rng = np.random.default_rng(0)
    n, J, K = 400, 5, 4
    A = rng.random((n, J))
    P = softmax(3 * A[:, :2] @ rng.standard_normal((2, K)) + 0.3 * rng.standard_normal((n, K)), axis=1)
    for lam in (1e-3, 1e-2, 5e-2):
        W, b = _sparse_head(A, P, lam, rng.standard_normal((K, J)), rng.standard_normal(K))
        R = softmax(A @ W.T + b, axis=1) - P
        grad, s = R.T @ A / n, lam * np.sqrt((A ** 2).mean())
        norm = np.linalg.norm(W, axis=0)
        for j in range(J):
            if norm[j] > 0:
                assert_allclose(grad[:, j], -s * W[:, j] / norm[j], atol=1e-5)
            else:
                assert np.linalg.norm(grad[:, j]) <= s + 1e-6
        assert_allclose(R.mean(0), 0, atol=1e-5)  # the bias gradient
        assert_allclose(W.sum(0), 0, atol=1e-12) and abs(b.sum()) < 1e-12
        assert np.all(norm[2:] == 0) if lam >= 1e-2 else norm[0] > 0


def test_prior_none_is_plain_flint(concepts):
    C, X, hidden, logits = concepts
    fl = FLINT(4, prior=None, n_steps=30, rng=0).fit(hidden, X, logits)
    assert isinstance(fl._dec, torch.nn.Sequential) and fl.attributes().max() > 1  # ReLU attributes, MLP decoder
    with pytest.raises(ValueError, match="prior"):
        FLINT(4, prior="ica").fit(hidden, X, logits)


def test_restarts_and_refit(concepts):
    """n_init keeps the run with the lowest objective (its first run is the n_init=1 run);
    head_sparsity=0 keeps the jointly trained head, which the refit fits better; relax_head."""
    C, X, hidden, logits = concepts
    one = FLINT(6, n_init=1, head_sparsity=0, n_steps=40, rng=5).fit(hidden, X, logits)
    three = FLINT(6, n_init=3, head_sparsity=0, n_steps=40, rng=5).fit(hidden, X, logits)
    refit = FLINT(6, n_init=1, n_steps=40, rng=5).fit(hidden, X, logits)
    assert three.objective_ <= one.objective_
    assert_allclose(refit.attributes(), one.attributes())
    assert_allclose(one._weights().sum(0), 0, atol=1e-6)

    def ce(fl):
        return -(softmax(logits, axis=1) * log_softmax(fl.predict_logits(), axis=1)).sum(1).mean()

    assert ce(refit) < ce(one)
    # relax_head=False: the group-lasso fit itself; the relaxed refit (default) keeps its zeros
    # and, unpenalised on that support, fits f at least as well
    lasso = FLINT(6, n_init=1, relax_head=False, n_steps=40, rng=5).fit(hidden, X, logits)
    assert_allclose(lasso.attributes(), refit.attributes())
    assert np.array_equal(np.linalg.norm(lasso._weights(), axis=0) > 0, np.linalg.norm(refit._weights(), axis=0) > 0)
    assert ce(refit) <= ce(lasso) + 1e-9
    for bad, match in (({"n_init": 0}, "n_init"), ({"head_sparsity": -1.0}, "head_sparsity"),
                       ({"relax_head": "yes"}, "relax_head")):
        with pytest.raises(ValueError, match=match):
            FLINT(4, **bad).fit(hidden, X, logits)


def test_relevance_and_functions(concepts, fitted):
    C, X, hidden, logits = concepts
    r = fitted.local_relevance(hidden[:50])
    assert r.shape == (50, 6) and np.abs(r).max() <= 1 + 1e-12
    assert_allclose(np.abs(r).max(axis=1), 1.0)
    assert conciseness(r, 1.0) == 0.0  # r_j > 1 never holds
    assert conciseness(np.array([[1.0, 0.5, 0.05]]), 10.0) == 2.0
    assert fidelity(np.eye(3), np.eye(3)[[0, 2, 1]]) == pytest.approx(1 / 3)
    same = FLINT(6, conciseness_weight=0.5, n_steps=20, rng=3).fit(hidden, X, logits).attributes()
    assert_allclose(same, FLINT(6, conciseness_weight=0.5, n_steps=20, rng=3).fit(hidden, X, logits).attributes())
    both = FLINT(3, n_steps=5, rng=0).fit({"a": hidden[:, :16], "b": hidden[:, 16:]}, X, logits)
    assert both.predict_logits({"a": hidden[:4, :16], "b": hidden[:4, 16:]}).shape == (4, 8)
    with pytest.raises(RuntimeError, match="not fitted"):
        FLINT(3).attributes()
    with pytest.raises(ValueError, match="n_samples"):
        FLINT(3).fit(hidden, X[:10], logits)
