"""DifferentiableGMMMI: gradients (gradcheck, finite differences through EM's fixed point), agreement
with GMMMI and with the Gaussian closed form, float32, devices, bad input, and the training example."""
import importlib.util
import pathlib
import warnings

import numpy as np
import pytest

torch = pytest.importorskip("torch")

import fastmi  # noqa: E402
from fastmi.exceptions import ConvergenceWarning  # noqa: E402
from fastmi.neural import DifferentiableGMMMI  # noqa: E402

ROOT = pathlib.Path(__file__).resolve().parents[1]


def _bimodal(n, seed, shift=3.0):
    rng = np.random.default_rng(seed)
    s = rng.integers(0, 2, n) if n > 40 else np.arange(n) % 2
    a = rng.standard_normal(n) * (0.5 if n <= 40 else 1.0) + shift * s
    b = np.where(s == 1, 0.8, -0.5) * a + 0.5 * rng.standard_normal(n) + 2.0 * s
    return a, b


def _closed_form(data, dx):
    c = np.cov(data, rowvar=False, ddof=0)
    c = c / np.sqrt(np.outer(np.diag(c), np.diag(c))) + 1e-6 * np.eye(c.shape[0])
    ld = lambda m: np.linalg.slogdet(m)[1]  # noqa: E731
    return 0.5 * (ld(c[:dx, :dx]) + ld(c[dx:, dx:]) - ld(c))


@pytest.mark.parametrize("K", [1, 2])
def test_gradcheck_float64(K):
    a, b = _bimodal(24, 3)
    X = torch.tensor(np.column_stack([a, b]), requires_grad=True)
    loss = DifferentiableGMMMI(K, tol=1e-14, max_iter=5000, mc_samples=64, rng=0)
    assert torch.autograd.gradcheck(lambda X: loss(X[:, :1], X[:, 1:]), (X,), eps=1e-6, atol=1e-5, rtol=1e-3)


def test_implicit_gradient_follows_the_fixed_point_where_one_step_does_not():
    """Overlapping components (EM's rate near 1): the implicit gradient matches a central difference
    of the converged loss; one EM step's gradient is off by far more (3 % here, 55 % on other draws)."""
    rng = np.random.default_rng(3)
    s = rng.integers(0, 2, 400)
    a = rng.standard_normal(400) + 1.5 * s
    X = torch.tensor(np.column_stack([a, 0.6 * a + 0.8 * rng.standard_normal(400) - s]))
    u = torch.tensor(np.random.default_rng(0).standard_normal(X.shape))
    got = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)  # tol=0: EM runs all of max_iter
        for gradient in ("implicit", "one_step"):
            loss = DifferentiableGMMMI(2, tol=0.0, max_iter=5000, mc_samples=512, gradient=gradient, rng=0)
            Xg = X.clone().requires_grad_(True)
            loss(Xg[:, :1], Xg[:, 1:]).backward()
            got[gradient] = float((Xg.grad * u).sum())
            h = 1e-5
            with torch.no_grad():
                fd = float(loss((X + h * u)[:, :1], (X + h * u)[:, 1:]) - loss((X - h * u)[:, :1], (X - h * u)[:, 1:]))
                fd /= 2 * h
    assert got["implicit"] == pytest.approx(fd, rel=1e-4)
    assert abs(got["one_step"] - fd) > 0.01 * abs(fd) > 100 * abs(got["implicit"] - fd)


def test_one_gaussian_is_the_closed_form():
    rng = np.random.default_rng(1)
    cov = np.array([[1, 0.3, 0.5, 0.1], [0.3, 1, 0.2, 0.4], [0.5, 0.2, 1, 0.0], [0.1, 0.4, 0.0, 1]])
    data = rng.multivariate_normal(np.zeros(4), cov, size=20_000) * [1, 10, 0.1, 3] + [5, 0, 0, -2]
    x, y = torch.tensor(data[:, :2]), torch.tensor(data[:, 2:])
    got = float(DifferentiableGMMMI(1)(x, y))
    assert got == pytest.approx(_closed_form(data, 2), abs=1e-9)
    ld = lambda m: np.linalg.slogdet(m)[1]  # noqa: E731
    truth = 0.5 * (ld(cov[:2, :2]) + ld(cov[2:, 2:]) - ld(cov))
    assert abs(got - truth) < 0.01


def test_agrees_with_gmmmi_at_the_same_k():
    a, b = _bimodal(3000, 1)
    loss = DifferentiableGMMMI(2, rng=0)
    got = float(loss(torch.tensor(a), torch.tensor(b)))
    ref = fastmi.GMMMI(n_components=2, reg_covar=1e-6, n_bootstrap=0, copula=False, rng=0).fit(a, b).estimate()
    se = np.hypot(loss.mc_error_, ref.diagnostics["mc_stderr"][0])
    assert 0 < loss.mc_error_ < 0.05
    assert abs(got - ref.mi) <= 4 * se + 1e-3, (got, ref.mi, se)


def test_float32_matches_float64_and_common_random_numbers():
    a, b = _bimodal(2000, 2)
    loss = DifferentiableGMMMI(2, rng=0)
    v64 = loss(torch.tensor(a), torch.tensor(b))
    v32 = loss(torch.tensor(a, dtype=torch.float32), torch.tensor(b, dtype=torch.float32))
    assert v32.dtype == torch.float32 and abs(float(v32) - float(v64)) < 1e-3
    again = loss(torch.tensor(a), torch.tensor(b))
    # the same draws, and EM warm-started at its own fixed point: the same value up to EM's tol
    assert float(again) == pytest.approx(float(v64), abs=1e-7)
    loss.resample()
    fresh = float(loss(torch.tensor(a), torch.tensor(b)))
    assert fresh != float(v64) and abs(fresh - float(v64)) < 5 * loss.mc_error_


def test_auto_components_chosen_by_the_search_outside_the_gradient():
    a, b = _bimodal(3000, 4)
    loss = DifferentiableGMMMI("auto", rng=0)
    assert loss.n_components_ is None
    x = torch.tensor(a, requires_grad=True)
    loss(x, torch.tensor(b)).backward()
    assert loss.n_components_ >= 2 and torch.isfinite(x.grad).all()
    loss.reset()
    assert loss.n_components_ is None


def test_gradient_reaches_a_network():
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Linear(3, 8), torch.nn.Tanh(), torch.nn.Linear(8, 2))
    x = torch.randn(512, 3)
    loss = DifferentiableGMMMI(3, rng=0)
    loss(net(x), x[:, :1]).backward()
    assert all(p.grad is not None and torch.isfinite(p.grad).all() and p.grad.abs().sum() > 0 for p in net.parameters())


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")
def test_cuda_matches_cpu():
    a, b = _bimodal(2000, 5)
    cpu = float(DifferentiableGMMMI(2, rng=0)(torch.tensor(a), torch.tensor(b)))
    xg = torch.tensor(a, device="cuda", requires_grad=True)
    v = DifferentiableGMMMI(2, rng=0)(xg, torch.tensor(b, device="cuda"))
    v.backward()
    assert v.device.type == "cuda" and abs(float(v) - cpu) < 1e-6 and torch.isfinite(xg.grad).all()


def test_bad_input():
    loss = DifferentiableGMMMI(2)
    x = torch.randn(100, 1, dtype=torch.float64)
    with pytest.raises(TypeError, match="x must be a torch.Tensor"):
        loss(np.ones(10), x[:10])
    with pytest.raises(TypeError, match="float32 or float64"):
        loss(torch.ones(10, dtype=torch.int64), x[:10])
    with pytest.raises(ValueError, match="same batch size"):
        loss(x, x[:50])
    with pytest.raises(ValueError, match="share dtype"):
        loss(x, x.float())
    with pytest.raises(ValueError, match="shape \\(b,\\) or \\(b, d\\)"):
        loss(x[:, :, None], x)
    with pytest.raises(ValueError, match="at least 4 are needed"):
        loss(x[:3], x[:3])
    with pytest.raises(ValueError, match="finite"):
        loss(torch.full((10, 1), float("nan"), dtype=torch.float64), x[:10])
    with pytest.raises(ValueError, match="constant"):
        loss(torch.ones(10, 1, dtype=torch.float64), x[:10])
    with pytest.raises(ValueError, match="n_components"):
        DifferentiableGMMMI(0)
    with pytest.raises(ValueError, match="gradient"):
        DifferentiableGMMMI(2, gradient="exact")


def _example():
    spec = importlib.util.spec_from_file_location("mi_training", ROOT / "examples" / "mi_training.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_training_example_recovers_the_informative_direction():
    ex = _example()
    out = ex.learn_projection(ex.make_task(seed=0), objective="gmm", n_steps=120, seed=0)
    assert out["abs_cos"] >= 0.95, out
