"""Post-hoc FLINT on synthetic concepts: 4 sparse binary concepts -> 20-D inputs; the frozen
predictor's classes depend on concepts 0-2 only."""
import numpy as np
import pytest
from numpy.testing import assert_allclose

torch = pytest.importorskip("torch")
from scipy.optimize import linear_sum_assignment  # noqa: E402

from fastmi.interpret import FLINT, conciseness, fidelity  # noqa: E402


@pytest.fixture(scope="module")
def concepts():
    rng = np.random.default_rng(0)
    n = 2000
    C = (rng.random((n, 4)) < 0.25).astype(float)
    X = C @ rng.standard_normal((4, 20)) + 0.1 * rng.standard_normal((n, 20))
    y = (4 * C[:, 0] + 2 * C[:, 1] + C[:, 2]).astype(int)  # 8 classes, concept 3 unused
    with torch.random.fork_rng():
        torch.manual_seed(0)
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
def fitted(concepts):
    C, X, hidden, logits = concepts
    return FLINT(6, conciseness_weight=0.5, rng=0).fit(hidden, X, logits)


@pytest.mark.slow
# These FLINT checks pass for rng=0. Concept alignment is not yet robust over seeds: with rng=1..4
# the Hungarian-matched |corr| misses 0.9 and the unused concept's relevance and the CNS comparison
# fail too (measured; see issue 13's note). They guard the current implementation, not the method.
def test_fidelity_and_concepts(concepts, fitted):
    C, X, hidden, logits = concepts
    assert fitted.fidelity_ >= 0.95
    assert fidelity(fitted.predict_logits(hidden), logits) == fitted.fidelity_
    a = fitted.attributes()
    assert a.shape == (2000, 6) and (a >= 0).all()
    with np.errstate(invalid="ignore", divide="ignore"):
        corr = np.nan_to_num(np.corrcoef(np.column_stack([C, a]).T)[:4, 4:])
    rows, cols = linear_sum_assignment(-np.abs(corr[:3]))  # Hungarian matching, used concepts
    assert len(set(cols)) == 3
    assert np.all(np.abs(corr[rows, cols]) >= 0.9), np.abs(corr[rows, cols])
    # the unused concept: no class logit of the interpreter follows it ...
    g = fitted.predict_logits()
    rel_unused = max(abs(np.corrcoef(C[:, 3], g[:, k])[0, 1]) for k in range(8))
    rel_used = [max(abs(np.corrcoef(C[:, j], g[:, k])[0, 1]) for k in range(8)) for j in range(3)]
    assert rel_unused < 0.1 and min(rel_used) > 0.5
    G = fitted.global_relevance()
    assert G.shape == (8, 6) and np.abs(G).max() == pytest.approx(1.0)


@pytest.mark.slow
def test_conciseness_term_lowers_cns(concepts, fitted):
    C, X, hidden, logits = concepts
    plain = FLINT(6, conciseness_weight=0.0, rng=0).fit(hidden, X, logits)
    assert plain.fidelity_ >= 0.95
    cns = conciseness(fitted.local_relevance(), [5, 10])
    cns_plain = conciseness(plain.local_relevance(), [5, 10])
    assert np.all(cns < cns_plain), (cns, cns_plain)


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
