"""Neural MI bounds (fastmi.neural): known answers on correlated Gaussians, the InfoNCE cap,
CLUB as an upper bound, reproducibility, and the registry / matrix / command-line paths."""
import json
import math
import subprocess
import sys

import numpy as np
import pytest

import fastmi
from fastmi import _registry

torch = pytest.importorskip("torch")
from fastmi.bench import Gaussian  # noqa: E402
from fastmi.neural import club_mutual_info, infonce_mutual_info, mine_mutual_info, nwj_mutual_info  # noqa: E402

NEURAL = [m for m in _registry.names("mi") if _registry.get(m).extra == "torch"]
LOWER = [m for m in NEURAL if m != "club"]
# d, rho per dimension, n; truth -d/2 log(1 - rho^2) = 0.51, 0.72, 0.94 nat
CASES = {1: (0.8, 2000), 5: (0.5, 3000), 20: (0.3, 4000)}
# the default critic at every d; the bilinear one x^T W y, natural for Gaussian data, is checked at d = 20 too
CRITIC = {1: "separable", 5: "separable", 20: "separable"}


def _gaussian(d):
    rho, n = CASES[d]
    g = Gaussian(rho, dx=d)
    x, y = g.sample(n, rng=d)
    return g.mi, x, y


@pytest.mark.parametrize("d, critic", [(d, CRITIC[d]) for d in sorted(CASES)] + [(20, "bilinear")])
def test_infonce_known_answer_below_its_cap(d, critic):
    truth, x, y = _gaussian(d)
    r = infonce_mutual_info(x, y, critic=critic, rng=0)
    cap = r.diagnostics["cap"]
    assert truth < cap and cap == pytest.approx(math.log(r.diagnostics["eval_batch_size"]))
    assert abs(r.mi - min(truth, cap)) < 0.15, (r.mi, truth)
    assert r.diagnostics["bound"] == "lower" and "log(batch size)" in r.diagnostics["cap_note"]


@pytest.mark.parametrize("fn", [nwj_mutual_info, mine_mutual_info])
@pytest.mark.parametrize("d", [1, 5])
def test_nwj_and_mine_known_answer(fn, d):
    truth, x, y = _gaussian(d)
    r = fn(x, y, rng=0)
    assert abs(r.mi - truth) < 0.25, (fn.__name__, r.mi, truth)


@pytest.mark.parametrize("d", sorted(CASES))
def test_club_is_above_the_truth(d):
    truth, x, y = _gaussian(d)
    r = club_mutual_info(x, y, rng=0)
    assert r.mi >= truth - 0.1, (r.mi, truth)
    assert r.diagnostics["bound"] == "upper"


def test_infonce_saturates_at_log_batch_and_warns():
    """MI = 1.96 nat per dimension x 3 = 5.9 nat > log(16): the bound sits at the cap, with a warning."""
    g = Gaussian(0.99, dx=3)
    x, y = g.sample(2000, rng=1)
    with pytest.warns(RuntimeWarning, match="near its cap"):
        r = infonce_mutual_info(x, y, batch_size=16, rng=0)
    assert g.mi > 5.5 and r.diagnostics["cap"] == pytest.approx(math.log(16))
    assert r.diagnostics["cap"] - 0.3 < r.mi <= r.diagnostics["cap"] + 1e-9


def test_cross_check_against_gmm_and_ksg_on_2d_data():
    g = Gaussian(0.7, dx=1)
    x, y = g.sample(3000, rng=5)
    nce = fastmi.mutual_info(x, y, method="infonce", rng=0)
    ksg = fastmi.mutual_info(x, y, method="ksg", rng=0)
    gmm = fastmi.mutual_info(x, y, method="gmm", rng=0, n_bootstrap=4, mc_samples=5000, max_components=2)
    for other in (ksg, gmm):
        assert abs(nce.mi - other.mi) < 0.1, (nce, other)
    assert abs(nce.mi - g.mi) < 0.1


# ------------------------------------------------------------------ result contract and options
def test_result_contract_and_held_out_error_bar(rng):
    x = rng.standard_normal((800, 2))
    y = x + rng.standard_normal((800, 2))
    r = infonce_mutual_info(x, y, rng=0, batch_size=64)
    info = r.diagnostics["resampling"]
    assert info["scheme"] == "held-out batches" and info["point"] == _registry.get("infonce").point
    vals = r.diagnostics["batch_values"]
    assert info["n_replicates"] == vals.size == r.samples.size >= 2
    assert r.mi == pytest.approx(vals.mean()) and r.std == pytest.approx(vals.std(ddof=1) / math.sqrt(vals.size))
    assert r.samples.std(ddof=1) == pytest.approx(r.std)
    assert r.diagnostics["n_test"] == 64 * vals.size and r.diagnostics["device"] == "cpu"
    assert r.diagnostics["best_epoch"] <= r.diagnostics["epochs"]
    bits = infonce_mutual_info(x, y, rng=0, batch_size=64, unit="bit")
    assert bits.mi == pytest.approx(r.mi / math.log(2)) and bits.diagnostics["cap"] == pytest.approx(math.log2(64))
    json.loads(r.to_json())


@pytest.mark.parametrize("method", NEURAL)
def test_seeded_runs_are_identical_on_cpu(method, rng):
    x = rng.standard_normal((300, 3))
    y = x[:, :2] + rng.standard_normal((300, 2))
    before = torch.random.get_rng_state()
    a = fastmi.mutual_info(x, y, method=method, rng=3, max_epochs=20)
    b = fastmi.mutual_info(x, y, method=method, rng=3, max_epochs=20)
    assert a.mi == b.mi and np.array_equal(a.samples, b.samples)
    assert torch.equal(before, torch.random.get_rng_state())  # torch's global generator untouched
    c = fastmi.mutual_info(x, y, method=method, rng=4, max_epochs=20)
    assert c.mi != a.mi


@pytest.mark.parametrize("critic", ["separable", "bilinear", "mlp", "module"])
def test_every_critic_form(critic, rng):
    x = rng.standard_normal((600, 1))
    y = 0.8 * x + 0.6 * rng.standard_normal((600, 1))
    if critic == "module":
        class Dot(torch.nn.Module):
            def __init__(self):
                super().__init__()
                self.a = torch.nn.Linear(1, 8)
                self.b = torch.nn.Linear(1, 8)

            def forward(self, x, y):
                return self.a(x) @ self.b(y).T

        critic = Dot()
    r = infonce_mutual_info(x, y, critic=critic, rng=0, lr=1e-2)
    assert abs(r.mi - (-0.5 * math.log(1 - 0.64))) < 0.2
    name = r.diagnostics["critic"]
    assert name == (critic if isinstance(critic, str) else "Dot")


def test_bad_options_are_clear(rng):
    x, y = rng.standard_normal((100, 2)), rng.standard_normal((100, 2))
    with pytest.raises(ValueError, match="critic must be 'separable', 'bilinear', 'mlp' or a torch.nn.Module"):
        infonce_mutual_info(x, y, critic="quadratic")
    with pytest.raises(ValueError, match="device must be"):
        infonce_mutual_info(x, y, device="tpu9")
    with pytest.raises(ValueError, match="test_size must lie in"):
        nwj_mutual_info(x, y, test_size=1.5)
    with pytest.raises(ValueError, match="ema must lie in"):
        mine_mutual_info(x, y, ema=2.0)
    with pytest.raises(ValueError, match="too few"):
        club_mutual_info(x[:8], y[:8])


def test_cuda_device_when_available(rng):
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="no CUDA device"):
            infonce_mutual_info(rng.standard_normal(100), rng.standard_normal(100), device="cuda")
        return
    x = rng.standard_normal((2000, 2))
    r = infonce_mutual_info(x, x + rng.standard_normal((2000, 2)), device="cuda", rng=0)
    assert r.diagnostics["device"].startswith("cuda") and math.isfinite(r.mi)


# ------------------------------------------------------------------ registry, matrix, command line
@pytest.mark.parametrize("method", NEURAL)
def test_registered_and_listed_as_needing_torch(method):
    row = {m["name"]: m for m in fastmi.list_methods()}[method]
    assert row["install"] == 'pip install "fastmi[torch]"' and row["available"]
    assert row["error_bars"] == "held-out batches" and not _registry.get(method).cheap


@pytest.mark.parametrize("method", NEURAL)
def test_every_neural_method_runs_through_mutual_info_and_mi_matrix(method, rng):
    x = rng.standard_normal(600)
    y = 0.7 * x + 0.7 * rng.standard_normal(600)
    r = fastmi.mutual_info(x, y, method=method, rng=0, max_epochs=30)
    assert math.isfinite(r.mi) and math.isfinite(r.std) and r.std > 0 and r.method == method
    m = fastmi.mi_matrix(np.c_[x, y], method=method, rng=0, max_epochs=30)
    assert m.values.shape == (2, 2) and math.isfinite(m.values[0, 1])


@pytest.mark.parametrize("method", NEURAL)
def test_every_neural_method_runs_through_the_command_line(method, rng, tmp_path):
    x = rng.standard_normal(500)
    y = 0.7 * x + 0.7 * rng.standard_normal(500)
    path = tmp_path / "data.csv"
    np.savetxt(path, np.c_[x, y], delimiter=",", header="a,b", comments="")
    proc = subprocess.run([sys.executable, "-m", "fastmi._cli", "estimate", str(path), "--x", "a", "--y", "b",
                           "--method", method, "--set", "max_epochs=30", "--json"],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert math.isfinite(out["mi"]) and out["diagnostics"]["resampling"]["scheme"] == "held-out batches"


def test_import_fastmi_does_not_import_torch():
    code = "import sys, fastmi, fastmi.neural, fastmi.interpret; fastmi.list_methods(); print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr and out.stdout.strip() == "False"
    assert out.stdout.strip() == "False"


def test_without_torch_the_error_names_the_extra():
    """A child process where ``import torch`` fails: the functions and the registry say how to install it."""
    code = ("import sys; sys.modules['torch'] = None\n"
            "import numpy as np, fastmi\n"
            "from fastmi.neural import infonce_mutual_info\n"
            "x = np.random.default_rng(0).standard_normal(100)\n"
            "for f in (lambda: infonce_mutual_info(x, x), lambda: fastmi.mutual_info(x, x, method='infonce')):\n"
            "    try:\n        f()\n    except ImportError as e:\n        print(e)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.count('pip install "fastmi[torch]"') == 2, out.stdout
