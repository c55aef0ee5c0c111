"""Local-global MI maps, the per-position information bottleneck, the activation adapter
and the map plot (fastmi.interpret, torch extra)."""
import math
import subprocess
import sys

import numpy as np
import pytest

torch = pytest.importorskip("torch")
from fastmi.interpret import (bottleneck_capacity, bottleneck_map, collect_activations,  # noqa: E402
                              local_global_map, plot_map, representation_decomposition, to_positions)

N, K, C = 512, 6, 2
R = np.array([[0.0, -1.0], [1.0, 0.0]])
A0, A1, NOISE = 0.8, 0.5, 0.5  # y = A0 x_0 + A1 R x_1 + sqrt(NOISE) n


def _data(seed=0):
    g = np.random.default_rng(seed)
    x = g.standard_normal((N, K, C))
    y = A0 * x[:, 0] + A1 * x[:, 1] @ R.T + math.sqrt(NOISE) * g.standard_normal((N, 2))
    return x, y


def _truth():
    """I(x_0; y) and I(x_1; y): two independent channels, each ln(var y / var(y | x_k)) / 2."""
    var = A0 ** 2 + A1 ** 2 + NOISE
    return math.log(var / (A1 ** 2 + NOISE)), math.log(var / (A0 ** 2 + NOISE))


@pytest.fixture(scope="module")
def lg_map():
    x, y = _data()
    return local_global_map(x, y, rng=0)


def test_local_global_map_recovers_the_analytic_values(lg_map):
    i0, i1 = _truth()
    r = lg_map
    assert r.map.shape == (N, K) and r.summary.shape == (K,) and r.std.shape == (K,)
    assert abs(r.summary[0] - i0) < 0.2, (r.summary, i0)
    assert abs(r.summary[1] - i1) < 0.2, (r.summary, i1)
    assert np.all(np.abs(r.summary[2:]) < 0.05), r.summary
    held = r.held_out
    assert np.allclose(r.map[held].mean(axis=0), r.summary) and np.isfinite(r.map).all()
    assert r.cap == pytest.approx(math.log(r.diagnostics["eval_batch_size"]))
    assert np.allclose(r.to("bit").summary, r.summary / math.log(2))


def test_shared_critic_recovers_much_less(lg_map):
    """Positions 0 and 1 map to y through different linear maps: one critic for every position
    cannot tell them apart, and the position-conditioned default recovers much more."""
    x, y = _data()
    shared = local_global_map(x, y, critic="shared", rng=0)
    assert shared.summary[0] < 0.5 * lg_map.summary[0], (shared.summary, lg_map.summary)
    assert shared.summary[:2].sum() < 0.6 * lg_map.summary[:2].sum()


def test_all_positions_negatives(lg_map):
    x, y = _data()
    r = local_global_map(x, y, negatives="all_positions", rng=0)
    assert r.cap == pytest.approx(math.log(r.diagnostics["eval_batch_size"] * K))
    assert r.summary[0] > 0.3 and r.summary[0] > r.summary[1] > np.abs(r.summary[2:]).max()


def test_local_global_is_seeded(rng):
    x, y = _data(1)
    a = local_global_map(x[:200], y[:200], rng=5, max_epochs=10)
    b = local_global_map(x[:200], y[:200], rng=5, max_epochs=10)
    assert np.array_equal(a.map, b.map)


def test_bad_shapes_are_clear():
    x, y = _data()
    with pytest.raises(ValueError, match=r"local must have shape \(n_samples, n_positions, n_channels\)"):
        local_global_map(x[:, 0], y)
    with pytest.raises(ValueError, match=r"global_ must have shape \(n_samples=512"):
        local_global_map(x, y[:100])
    with pytest.raises(ValueError, match="negatives must be one of"):
        local_global_map(x, y, negatives="other")


# ------------------------------------------------------------------ the bottleneck
class Position0Head(torch.nn.Module):
    """A frozen classifier that reads position 0 only."""

    def __init__(self):
        super().__init__()
        self.lin = torch.nn.Linear(C, 2)
        with torch.no_grad():
            self.lin.weight.copy_(torch.tensor([[3.0, 3.0], [-3.0, -3.0]]))
            self.lin.bias.zero_()

    def forward(self, x):
        return self.lin(x[:, 0])


def _labels(x):
    return (x[:, 0].sum(axis=1) < 0).astype(int)  # class 0 where the head's logit 0 wins


@pytest.mark.parametrize("alpha", ["per_position", "per_sample", "readout"])
def test_bottleneck_capacity_concentrates_where_the_head_reads(alpha):
    x, _ = _data()
    head = Position0Head()
    r = bottleneck_map(head, x, _labels(x), beta=0.05, alpha=alpha, rng=0)
    nats = r.summary * math.log(2)
    assert r.alpha.shape == r.capacity.shape == (N, K)
    assert nats[0] > 0.3, nats
    assert np.all(nats[1:] < 0.01), nats
    assert all(p.requires_grad for p in head.parameters())  # restored


def test_total_capacity_decreases_as_beta_grows():
    x, _ = _data()
    totals = [bottleneck_map(Position0Head(), x, _labels(x), beta=b, rng=0).total for b in (0.01, 0.1, 1.0)]
    assert totals[0] > totals[1] > totals[2], totals


def test_capacity_formula_zero_at_alpha_one_and_matches_monte_carlo_kl():
    g = np.random.default_rng(0)
    xt = g.standard_normal((5, C))
    assert np.array_equal(bottleneck_capacity(np.ones(5), xt), np.zeros(5))
    for a in (0.2, 0.5, 0.9):
        # KL(N((1-a) x~, a^2) || N(0, 1)) by Monte Carlo: E_q[log q(z) - log p(z)]
        mean = (1 - a) * xt
        z = mean[None] + a * g.standard_normal((200_000, 5, C))
        log_q = -0.5 * ((z - mean[None]) / a) ** 2 - math.log(a)
        log_p = -0.5 * z ** 2
        mc = (log_q - log_p).sum(-1).mean(0)
        assert np.allclose(bottleneck_capacity(np.full(5, a), xt), mc, atol=0.02), a


def test_representation_decomposition():
    x, y = _data()
    d = representation_decomposition(x, y, Position0Head(), _labels(x), beta=0.05, rng=0)
    assert d.total.shape == d.decision.shape == d.redundant.shape == (N, K)
    assert np.allclose(d.redundant, d.total - d.decision)
    assert np.allclose(d.summary["redundant"], d.summary["total"] - d.summary["decision"])
    # position 1 holds information about y that the decision (reading position 0) does not use
    assert d.summary["redundant"][1] > 0.1 and d.summary["decision"][1] < 0.02


# ------------------------------------------------------------------ adapters and plot
def test_collect_activations_and_plot(tmp_path):
    torch.manual_seed(0)
    net = torch.nn.Sequential()
    net.add_module("conv", torch.nn.Conv2d(1, 3, 3, padding=1))
    net.add_module("pool", torch.nn.AdaptiveAvgPool2d(1))
    net.add_module("flat", torch.nn.Flatten())
    net.add_module("fc", torch.nn.Linear(3, 4))
    images = np.random.default_rng(0).standard_normal((10, 1, 8, 8)).astype(np.float32)
    acts = collect_activations(net, images, {"local": "conv", "global": "fc"}, batch_size=4)
    assert acts["local"].shape == (10, 3, 8, 8) and acts["global"].shape == (10, 4)
    local, shape = to_positions(acts["local"])
    assert local.shape == (10, 64, 3) and shape == (8, 8)
    assert np.array_equal(local[:, 8 * 2 + 5], acts["local"][:, :, 2, 5])
    assert not net.conv._forward_hooks  # hooks removed
    with pytest.raises(ValueError, match="no layer"):
        collect_activations(net, images, {"local": "conv9"})
    pytest.importorskip("matplotlib")
    import matplotlib

    matplotlib.use("Agg")
    ax = plot_map(images[0, 0], np.arange(16.0), shape=(4, 4), title="map")
    ax.figure.savefig(tmp_path / "map.png")
    assert (tmp_path / "map.png").stat().st_size > 0


def test_without_torch_the_interpret_functions_name_the_extra():
    code = ("import sys; sys.modules['torch'] = None\n"
            "import numpy as np\n"
            "from fastmi.interpret import local_global_map\n"
            "try:\n    local_global_map(np.zeros((20, 2, 2)), np.zeros((20, 2)))\n"
            "except ImportError as e:\n    print(e)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert 'pip install "fastmi[torch]"' in out.stdout
