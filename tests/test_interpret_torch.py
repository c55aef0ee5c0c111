"""Interpretability tools on torch models: every submodule's mode and ``requires_grad`` left as
found, batched functional information equal to the per-input calls, log-softmax gradients
where softmax underflows, tensor targets, models of tensors and Captum attributions through
the faithfulness harness, ROAD's imputation and curves against independent references, and
the model-randomisation check on a linear model (torch extra; Captum parts skip without it)."""
import numpy as np
import pytest
from numpy.testing import assert_allclose

torch = pytest.importorskip("torch")
from torch import nn  # noqa: E402

from fastmi.interpret import (bottleneck_map, collect_activations, deletion_curve, estimate_covariance,  # noqa: E402
                              faithfulness, functional_fisher, impute_linear, local_global_map,
                              randomisation_check, road_curve, spearman_rows, to_positions)
from fastmi.neural._torch import frozen_eval  # noqa: E402


def _cnn(dtype=torch.float64, seed=0):
    torch.manual_seed(seed)
    net = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(), nn.Dropout(0.3),
                        nn.Flatten(), nn.Linear(4 * 36, 16), nn.ReLU(), nn.Dropout(0.3), nn.Linear(16, 5))
    return net.to(dtype)


def _state(model):
    return ([(name, m.training) for name, m in model.named_modules()],
            [(name, p.requires_grad) for name, p in model.named_parameters()])


def _mixed_model():
    """An eval-mode net inside nn.Sequential(net, nn.Softmax(-1)) left in train mode (as the
    README's wrapping does), one dropout in train mode and one frozen layer: any
    ``model.train(was_training)`` or blanket ``requires_grad_(True)`` shows."""
    net = _cnn()
    model = nn.Sequential(net, nn.Softmax(-1))
    model.train()
    net.eval()
    net[3].train()
    for p in net[0].parameters():
        p.requires_grad_(False)
    return model, net


X6 = np.random.default_rng(0).standard_normal((6, 1, 6, 6))


def test_frozen_eval_restores_modes_and_flags_even_on_error():
    model, net = _mixed_model()
    before = _state(model)
    with pytest.raises(RuntimeError, match="inside"):
        with frozen_eval(model):
            assert not any(m.training for m in model.modules())
            assert not any(p.requires_grad for p in model.parameters())
            raise RuntimeError("inside")
    assert _state(model) == before
    assert model.training and not net.training and net[3].training and not net[0].weight.requires_grad


def test_every_tool_leaves_the_modes_and_requires_grad_as_found():
    model, net = _mixed_model()
    before = _state(model)
    functional_fisher(model, X6[0], n_samples=4, rng=0)
    assert _state(model) == before
    functional_fisher(model, X6, n_samples=4, batch=True, rng=0)
    assert _state(model) == before
    faithfulness(model, X6, np.ones((6, 6, 6)), n_steps=3, n_random=1, rng=0)
    assert _state(model) == before
    acts = collect_activations(model, X6.astype(np.float32), {"local": "0.2", "global": "0.6"})
    assert _state(model) == before
    loc, _ = to_positions(acts["local"])
    local_global_map(np.repeat(loc, 4, axis=0), np.repeat(acts["global"], 4, axis=0), max_epochs=2, rng=0)
    assert _state(model) == before
    head = nn.Sequential(nn.Flatten(), *list(net.children())[5:]).float()
    head[2].train()  # a dropout of the head in train mode must stay so
    head_before = _state(head)
    loc16 = np.repeat(loc.transpose(0, 2, 1).reshape(6, 4 * 36, 1), 3, axis=0)[:16]
    bottleneck_map(head, loc16, np.arange(16) % 5, beta=0.1, n_steps=2, rng=0)
    assert _state(head) == head_before


def test_batch_equals_single_calls():
    model = nn.Sequential(_cnn().eval(), nn.Softmax(-1))
    X = np.random.default_rng(1).standard_normal((7, 1, 6, 6))
    cov = estimate_covariance(np.random.default_rng(2).standard_normal((50, 36)),
                              np.arange(50) % 5)  # one covariance per class
    targets = np.array([0, 1, 2, 3, 4, 0, 1])
    b = functional_fisher(model, X, target=targets, cov=cov, n_samples=16, batch=True, rng=3)
    g = np.random.default_rng(3)
    singles = [functional_fisher(model, X[j], target=int(targets[j]), cov=cov, n_samples=16, rng=g) for j in range(7)]
    assert b.attributions.shape == X.shape and b.total.shape == (7,) and b.entropy.shape == (7,)
    assert b.map.shape == (7, 6, 6)
    att = np.array([s.attributions for s in singles])
    assert_allclose(b.attributions, att, rtol=1e-10, atol=1e-10 * np.abs(att).max())
    assert_allclose(b.total, [s.total for s in singles], rtol=1e-10)
    assert_allclose(b.entropy, [s.entropy for s in singles], rtol=1e-10, atol=1e-14)
    assert b.target.tolist() == targets.tolist()
    assert_allclose(b.f_x, [s.f_x for s in singles], rtol=1e-12)
    # a NumPy model with finite differences, argmax targets: batch equals singles too
    w = np.random.default_rng(4).standard_normal((5, 3))

    def soft(Z):
        e = np.exp(Z @ w)
        return e / e.sum(1, keepdims=True)

    Z = np.random.default_rng(5).standard_normal((4, 5))
    bn = functional_fisher(soft, Z, n_samples=8, batch=True, rng=6)
    g = np.random.default_rng(6)
    sn = [functional_fisher(soft, z, n_samples=8, rng=g) for z in Z]
    assert_allclose(bn.attributions, [s.attributions for s in sn], rtol=1e-10, atol=1e-16)
    assert bn.target.tolist() == [s.target for s in sn]
    with pytest.raises(ValueError, match="target"):
        functional_fisher(model, X, target=[1, 2], batch=True)


def test_tensor_targets_are_accepted():
    model = nn.Sequential(_cnn().eval(), nn.Softmax(-1))
    a = functional_fisher(model, X6[0], target=3, n_samples=8, rng=0)
    t = functional_fisher(model, torch.as_tensor(X6[0]), target=torch.tensor(3), n_samples=8, rng=0)
    assert t.target == 3
    assert_allclose(t.attributions, a.attributions, rtol=0, atol=0)
    with pytest.raises(ValueError, match="target"):
        functional_fisher(model, X6[0], target=torch.tensor(2.5))
    with pytest.raises(ValueError, match="n_outputs"):
        functional_fisher(model, X6[0], target=5)


def test_log_softmax_gradients_where_float32_softmax_underflows():
    torch.manual_seed(0)
    lin = nn.Linear(4, 3)
    with torch.no_grad():
        lin.weight.mul_(60.0)  # saturated: the minority classes' probabilities are below float32's tiny
    x = np.array([0.5, -0.3, 0.8, 0.1])
    f32 = nn.Sequential(lin.float(), nn.Softmax(-1))
    p = f32(torch.as_tensor(x[None], dtype=torch.float32))[0].detach().numpy()
    tgt = int(np.argmin(p))
    z = x + np.sqrt(3.0) * np.random.default_rng(0).standard_normal((200, 4))
    assert (f32(torch.as_tensor(z, dtype=torch.float32))[:, tgt] == 0).any()  # underflow happens
    with pytest.raises(ValueError, match="underflows"):
        functional_fisher(f32, x, target=tgt, spread=3.0, n_samples=200, output="prob", rng=0)
    r32 = functional_fisher(f32, x, target=tgt, spread=3.0, n_samples=200, rng=0)
    assert r32.diagnostics["log_f"] and np.isfinite(r32.attributions).all()
    # the same computation in float64 (no underflow there): log f and f paths agree
    lin64 = nn.Linear(4, 3).double()
    lin64.load_state_dict({k: v.double() for k, v in lin.state_dict().items()})
    r64 = functional_fisher(nn.Sequential(lin64, nn.Softmax(-1)), x, target=tgt, spread=3.0, n_samples=200,
                            output="prob", rng=0)
    assert_allclose(r32.attributions, r64.attributions, rtol=2e-3, atol=1e-3 * np.abs(r64.attributions).max())
    assert r32.entropy == pytest.approx(r64.entropy, rel=2e-3, abs=1e-30)
    # a NumPy callable of log-probabilities: the same numbers as its probabilities
    w = np.array([1.5, -2.0, 0.5])

    def prob(Z):
        return 1 / (1 + np.exp(-(Z @ w)))

    xs = np.array([0.2, 0.1, -0.4])
    a = functional_fisher(prob, xs, n_samples=32, rng=1)
    b = functional_fisher(lambda Z: np.log(prob(Z)), xs, n_samples=32, output="log_prob", rng=1)
    assert_allclose(b.attributions, a.attributions, rtol=1e-6)
    assert b.f_x == pytest.approx(a.f_x, rel=1e-12)


def _lin_model(d=6, seed=0):
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(d, 3), nn.Softmax(-1)).double()


def test_models_of_tensors_match_numpy():
    model = _lin_model()
    net = model[0]
    W, b = net.weight.detach().numpy(), net.bias.detach().numpy()

    def numpy_model(Z):
        e = np.exp(Z @ W.T + b)
        return e / e.sum(1, keepdims=True)

    def tensor_model(t):  # float64 module: the harness must cast to float64, from the module
        return torch.softmax(net(t), -1)

    X = np.random.default_rng(0).standard_normal((30, 6))
    att = np.random.default_rng(1).standard_normal((30, 6))
    ref = faithfulness(numpy_model, X, att, n_steps=6, rng=0, road=True)
    for f in (tensor_model, model, lambda t: model(t)):
        got = faithfulness(f, X, att, n_steps=6, rng=0, road=True)
        assert_allclose(got.deletion, ref.deletion, rtol=1e-12)
        assert_allclose(got.road_morf, ref.road_morf, rtol=1e-12)
    got = faithfulness(tensor_model, torch.as_tensor(X), torch.as_tensor(att), n_steps=6, rng=0)
    assert_allclose(got.insertion, ref.insertion, rtol=1e-12)
    # an attribution callable of tensors, given the targets
    seen = {}

    def grad_x_input(t, target):
        seen["type"] = type(t)
        t = t.clone().requires_grad_(True)
        out = model(t).gather(1, target[:, None]).sum()
        (g,) = torch.autograd.grad(out, t)
        return g * t

    res = faithfulness(model, X, grad_x_input, n_steps=6, rng=0)
    assert seen["type"] is torch.Tensor and res.deletion_auc < res.random_deletion_auc


def _reference_deletion(f, X, a, baseline, n_steps):
    """Deletion curve by a plain per-sample loop (independent of the vectorised harness)."""
    n, d = X.shape
    curves = np.empty((n, n_steps + 1))
    for i in range(n):
        order = sorted(range(d), key=lambda j: (-a[i, j], j))
        t = int(np.argmax(f(X[i:i + 1])[0]))
        for s in range(n_steps + 1):
            k = int(round(s * d / n_steps))
            z = X[i].copy()
            z[order[:k]] = baseline
            curves[i, s] = f(z[None])[0, t]
    return curves


def test_deletion_curve_matches_a_plain_loop():
    model = _lin_model(d=8)
    X = np.random.default_rng(2).standard_normal((12, 8))
    a = np.random.default_rng(3).standard_normal((12, 8))

    def f(Z):
        with torch.no_grad():
            return model(torch.as_tensor(Z)).numpy()

    fr, curve = deletion_curve(model, X, a, baseline=0.5, n_steps=4)
    assert_allclose(curve, _reference_deletion(f, X, a, 0.5, 4), rtol=1e-12)
    assert_allclose(fr, [0, 0.25, 0.5, 0.75, 1.0])


def _dense_imputation(img, removed):
    """Noise-free ROAD imputation solved densely, neighbours found by explicit loops."""
    c, h, w = img.shape
    rem = [(i, j) for i in range(h) for j in range(w) if removed[i, j]]
    index = {p: k for k, p in enumerate(rem)}
    A = np.eye(len(rem))
    rhs = np.zeros((len(rem), c))
    for k, (i, j) in enumerate(rem):
        nb = [(i + di, j + dj, 1 / 12 if di and dj else 1 / 6) for di in (-1, 0, 1) for dj in (-1, 0, 1)
              if (di or dj) and 0 <= i + di < h and 0 <= j + dj < w]
        tot = sum(wt for *_, wt in nb)
        for ii, jj, wt in nb:
            if (ii, jj) in index:
                A[k, index[ii, jj]] -= wt / tot
            else:
                rhs[k] += wt / tot * img[:, ii, jj]
    out = img.copy()
    sol = np.linalg.solve(A, rhs)
    for k, (i, j) in enumerate(rem):
        out[:, i, j] = sol[k]
    return out


def test_road_imputation_known_answers():
    ii, jj = np.mgrid[0:7, 0:9]
    ramp = np.stack([0.3 * ii - 0.7 * jj + 2.0, -ii + 0.25 * jj])  # planar in each channel
    removed = np.zeros((7, 9), dtype=bool)
    removed[2:5, 3:7] = True  # an interior block: the neighbour means of a plane are the plane
    assert_allclose(impute_linear(ramp, removed), ramp, atol=1e-12)
    img = np.random.default_rng(0).standard_normal((2, 7, 9))
    mask = np.random.default_rng(1).random((7, 9)) < 0.6  # touches the border too
    got = impute_linear(img, mask)
    assert_allclose(got, _dense_imputation(img, mask), atol=1e-12)
    assert_allclose(got[:, ~mask], img[:, ~mask])
    noisy = impute_linear(img, mask, noise=0.5, rng=0)
    assert_allclose(noisy[:, ~mask], img[:, ~mask])
    assert 0.3 < np.std(noisy[:, mask] - got[:, mask]) < 0.7
    with pytest.raises(ValueError, match="removed"):
        impute_linear(img, mask[:, :3])


def test_road_curve_matches_reference_and_ranks_a_linear_model():
    sk = pytest.importorskip("sklearn.covariance")
    g = np.random.default_rng(0)
    # a linear logistic model that reads 3 of 8 correlated features
    d = 8
    B = g.standard_normal((d, d))
    X = g.standard_normal((120, d)) @ (0.4 * B + np.eye(d))
    w = np.array([2.0, -1.5, 1.0, 0, 0, 0, 0, 0])

    def f(Z):
        p = 1 / (1 + np.exp(-(Z - X.mean(0)) @ w))
        return np.column_stack([1 - p, p])

    tgt = f(X).argmax(1)
    sign = np.where(tgt == 1, 1.0, -1.0)[:, None]
    exact = sign * w * (X - X.mean(0))  # each feature's contribution to the target's logit
    fr, morf = road_curve(f, X, exact, noise=0.0, rng=0)
    # independent reference: sklearn's Ledoit-Wolf Gaussian, conditional mean by a dense solve
    mu, cov = X.mean(0), sk.ledoit_wolf(X)[0]
    ref = np.empty_like(morf)
    for i in range(X.shape[0]):
        order = np.argsort(-exact[i], kind="stable")
        for s, q in enumerate(fr):
            r = np.sort(order[:int(round(q * d))])
            k = np.setdiff1d(np.arange(d), r)
            z = X[i].copy()
            if r.size:
                z[r] = mu[r] + cov[np.ix_(r, k)] @ np.linalg.solve(cov[np.ix_(k, k)], X[i, k] - mu[k])
            ref[i, s] = f(z[None])[0, tgt[i]]
    assert_allclose(morf, ref, rtol=1e-10)
    res = faithfulness(f, X, exact, road=True, n_random=3, rng=0)
    assert res.road_morf_auc < res.random_road_auc - 0.05 < res.road_lerf_auc - 0.1
    # an attribution reversed is the worst ordering
    bad = faithfulness(f, X, -exact, road=True, n_random=0, rng=0)
    assert bad.road_morf_auc > res.road_lerf_auc - 1e-9 - 0.05


def test_randomisation_check_on_a_linear_model():
    torch.manual_seed(0)
    d = 200
    model = nn.Sequential(nn.Linear(d, 2)).double()
    X = np.random.default_rng(0).standard_normal((100, d))

    def gradient(net, x, target):
        x = x.requires_grad_(True)
        (gr,) = torch.autograd.grad(net(x).gather(1, target[:, None]).sum(), x)
        return gr

    def grad_x_input(net, x, target):
        return gradient(net, x, target) * x

    before = [p.detach().clone() for p in model.parameters()]
    res = randomisation_check(model, X, gradient, rng=0)
    assert res.layers == ["0"]
    # the gradient of a linear model is its weight row: a fresh layer's is independent of it,
    # so rank correlations are ~ N(0, 1/(d - 1)) (sd 0.07 here)
    assert abs(res.mean[0]) < 0.25
    assert all(torch.equal(a, b) for a, b in zip(before, model.parameters()))  # the model itself untouched
    # gradient x input keeps the input's share of the ranking (Adebayo et al.'s observation)
    gxi = randomisation_check(model, X, grad_x_input, rng=0)
    assert gxi.mean[0] > res.mean[0] + 0.2
    # an attribution that ignores the model (the input itself) keeps rank correlation 1: fails the check
    same = randomisation_check(model, X, lambda net, x, target: x, rng=0)
    assert_allclose(same.spearman, 1.0)
    # the cascade on a deeper model, and the row-wise Spearman against scipy
    deep = nn.Sequential(nn.Linear(d, 8), nn.Tanh(), nn.Linear(8, 2)).double()
    casc = randomisation_check(deep, X[:50], grad_x_input, rng=1)
    assert casc.layers == ["2", "0"] and casc.spearman.shape == (2, 50)
    stats = pytest.importorskip("scipy.stats")
    a, b = np.random.default_rng(1).standard_normal((2, 5, 9))
    b[0, :3] = a[0, :3]
    assert_allclose(spearman_rows(a, b), [stats.spearmanr(a[i], b[i])[0] for i in range(5)], rtol=1e-12)
    with pytest.raises(ValueError, match="layers"):
        randomisation_check(model, X, grad_x_input, layers=["nope"])


def test_captum_attribution_in_one_call_and_captum_metrics_on_fastmi():
    captum_attr = pytest.importorskip("captum.attr")
    captum_metrics = pytest.importorskip("captum.metrics")
    model = _lin_model(d=6)
    X = np.random.default_rng(0).standard_normal((20, 6))
    ig = captum_attr.IntegratedGradients(model)
    one = faithfulness(model, X, ig, n_steps=6, rng=0, attribute_kwargs={"n_steps": 16})
    xt = torch.as_tensor(X)
    tgt = model(xt).argmax(1)
    arr = ig.attribute(xt, target=tgt, n_steps=16).detach().numpy()
    two = faithfulness(model, X, arr, n_steps=6, rng=0)
    assert_allclose(one.deletion, two.deletion, rtol=0, atol=0)
    assert one.deletion_auc < one.random_deletion_auc
    # Captum's infidelity scores fastmi's attributions: the gradient of a linear score is exact (0)
    lin = nn.Linear(6, 1).double()

    def score(t):
        return lin(t)[:, 0]

    # fastmi's smoothgrad of f = exp(a . z), given as log f = a . z, is E[f] a: divided by E[f] it is a
    sg = functional_fisher(lambda Z: Z @ lin.weight.detach().numpy()[0], X, method="smoothgrad",
                           output="log_prob", batch=True, n_samples=4, rng=0)
    grads = torch.as_tensor(sg.attributions / sg.diagnostics["mean_f"][:, None])

    def perturb(inputs):
        noise = torch.as_tensor(np.random.default_rng(0).standard_normal(tuple(inputs.shape)))
        return noise, inputs - noise

    inf_good = captum_metrics.infidelity(score, perturb, xt, grads, n_perturb_samples=4)
    inf_bad = captum_metrics.infidelity(score, perturb, xt, torch.flip(grads, [1]), n_perturb_samples=4)
    assert float(inf_good.max()) < 1e-12 and float(inf_bad.min()) > 1e-3


def test_gradient_chunks_sized_by_the_saved_activations():
    """rows=None: a 128-row first chunk measures the bytes the forward keeps for the backward,
    the next chunks keep about _SAVED_BYTES; the values and gradients equal one big chunk."""
    from fastmi.interpret import _functional

    sizes = []

    class Wide(nn.Module):  # 4 -> 4096 -> 3: the ReLU's output (32 KiB a row) kept for the backward
        def __init__(self):
            super().__init__()
            self.a, self.b = nn.Linear(4, 4096), nn.Linear(4096, 3)

        def forward(self, z):
            sizes.append(z.shape[0])
            return torch.log_softmax(self.b(torch.relu(self.a(z))), -1)

    torch.manual_seed(0)
    model = Wide().double()
    Z = np.random.default_rng(0).standard_normal((1000, 4))
    t = np.arange(1000) % 3
    v, g, log = _functional._torch_values_grads(model, Z, t, output="log_prob")
    first, step = sizes[0], sizes[1]
    assert first == 128 and 16 <= step < 400 and all(s == step for s in sizes[1:-1]) and sum(sizes) == 1000
    assert step == pytest.approx(_functional._SAVED_BYTES / (4096 * 8), rel=0.05)
    sizes.clear()
    v1, g1, _ = _functional._torch_values_grads(model, Z, t, output="log_prob", rows=1000)
    assert sizes == [1000] and log
    assert_allclose(v, v1, rtol=1e-12)
    assert_allclose(g, g1, rtol=1e-10, atol=1e-12)
    # an MLP keeps little per row: the rest in one chunk
    sizes.clear()
    small = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 3), nn.LogSoftmax(-1)).double()
    small.register_forward_pre_hook(lambda mod, a: sizes.append(a[0].shape[0]))
    _functional._torch_values_grads(small, Z, t)
    assert sizes == [128, 872]


def test_frozen_eval_calls_an_overridden_train_when_a_submodule_trains():
    """frozen_eval skips the writes on an eval, frozen model, but a model in training mode
    still goes through its own train(False) (a subclass may override it)."""
    calls = []

    class Net(nn.Sequential):
        def train(self, mode=True):
            calls.append(mode)
            return super().train(mode)

    model = Net(nn.Linear(3, 3), nn.Dropout(0.5))
    with frozen_eval(model):
        assert not any(m.training for m in model.modules())
    assert calls == [False] and all(m.training for m in model.modules())
    model.eval()
    calls.clear()
    with frozen_eval(model):
        pass
    assert calls == [] and not any(m.training for m in model.modules())
    assert all(p.requires_grad for p in model.parameters())
