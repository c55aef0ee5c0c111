"""FLINT on real hidden layers: collapse is detected and warned about (forced here), constant
attributes get no relevance, and at its defaults FLINT stays faithful on the fc1 layer of a
CNN trained on scikit-learn's digits (held-out images; torch and scikit-learn)."""
import os
import warnings

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("sklearn")
from fastmi.exceptions import CollapseWarning  # noqa: E402
from fastmi.interpret import FLINT, collect_activations, conciseness, fidelity  # noqa: E402


def _linear_task(seed=0, n=400):
    g = np.random.default_rng(seed)
    H = g.standard_normal((n, 12))
    logits = 3.0 * H[:, :4] @ g.standard_normal((4, 4))
    return H, H[:, :6], logits


def test_forced_collapse_warns_and_reports_no_relevance():
    H, X, logits = _linear_task()
    # sparsity far above the fidelity term, no warm-up: every attribute is switched off
    with pytest.warns(CollapseWarning, match="collapsed"):
        fl = FLINT(6, l1_weight=50.0, group_weight=50.0, warmup=0.0, head_sparsity=0, n_init=2, n_steps=60,
                   rng=0).fit(H, X, logits)
    assert fl.collapsed_ and all(fl.runs_collapsed_)
    assert fl.fidelity_ < 0.8
    r = fl.local_relevance()
    assert np.all(r[:, ~fl.live_attributes_] == 0)
    if not fl.live_attributes_.any():
        assert conciseness(r) == 0.0  # no CNS from constant attributes
    with pytest.raises(ValueError, match="warmup"):
        FLINT(3, warmup=1.5).fit(H, X, logits)


@pytest.fixture(scope="module")
def digits_fc1():
    from _digits import digits_cnn

    net, X_tr, y_tr, X_te, y_te, acc = digits_cnn(0)
    assert acc > 0.93
    h_tr = collect_activations(net, X_tr, {"fc1": "relu3"})["fc1"]
    h_te = collect_activations(net, X_te, {"fc1": "relu3"})["fc1"]
    with torch.no_grad():
        f_tr, f_te = net(torch.from_numpy(X_tr)).numpy(), net(torch.from_numpy(X_te)).numpy()
    return h_tr, X_tr, f_tr, h_te, f_te


# Measured at the defaults (n_init=3, 3000 steps, warmup='auto': collapsed runs are retrained with
# the 0.3 warm-up; relax_head=True): held-out fidelity 0.961 at J = 10 and 0.965 at J = 25 (10 and
# 24 attributes vary; benchmarks/flint_digits_runs.py --J 10 --chosen-only). With the head's
# group-lasso fit itself (relax_head=False, the default before): 0.946 and 0.954, J = 10 short of
# the 0.95 asked for. Before the warm-up: 0.39 and 0.11. 6 runs of 3000 steps per J: 1.4-2.3 min for
# this file on the shared 2-core machine (about 15 min per J when it was heavily loaded), over the
# suite's budget, so it runs only when FASTMI_DIGITS_FLINT=1 is set.
@pytest.mark.slow
@pytest.mark.skipif(not os.environ.get("FASTMI_DIGITS_FLINT"),
                    reason="FLINT at its defaults on the digits CNN takes minutes per J; set FASTMI_DIGITS_FLINT=1")
@pytest.mark.parametrize("J", [10, 25])
def test_flint_defaults_on_digits_fc1(digits_fc1, J):
    h_tr, X_tr, f_tr, h_te, f_te = digits_fc1
    with warnings.catch_warnings():
        warnings.simplefilter("error", CollapseWarning)
        fl = FLINT(J, rng=0).fit(h_tr, X_tr, f_tr)
    assert fidelity(fl.predict_logits(h_te), f_te) >= 0.95
    # no dead attribute is reported as active: relevance only on attributes that vary
    r = fl.local_relevance(h_te)
    active = np.abs(r).max(axis=0) > 0
    assert not np.any(active & ~fl.live_attributes_)
    assert fl.live_attributes_.sum() >= 2
