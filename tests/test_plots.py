"""Plots render under Agg to non-empty PNGs of the expected size, and draw what they claim."""
import math
import sys

import numpy as np
import pytest

mpl = pytest.importorskip("matplotlib")
mpl.use("Agg")
from matplotlib.figure import Figure  # noqa: E402
from matplotlib.image import imread  # noqa: E402
from matplotlib.patches import Ellipse  # noqa: E402

import fastmi  # noqa: E402

GMM_FAST = dict(n_bootstrap=6, mc_samples=20_000)


@pytest.fixture(scope="module")
def fitted():
    rng = np.random.default_rng(5)
    n = 600
    x = rng.standard_normal(n)
    y = np.where(rng.random(n) < 0.5, -2.0, 2.0) + 0.8 * x + 0.5 * rng.standard_normal(n)
    est = fastmi.GMMMI(rng=0, **GMM_FAST).fit(x, y)
    return est, est.estimate(), x, y


def render(draw, tmp_path, figsize=(4.0, 3.0), dpi=100):
    """Draw on a new Agg figure, save it as PNG and return (ax, image array)."""
    fig = Figure(figsize=figsize, dpi=dpi, layout="constrained")
    ax = draw(fig.add_subplot())
    path = tmp_path / "plot.png"
    fig.savefig(path)
    with open(path, "rb") as f:
        assert f.read(8) == b"\x89PNG\r\n\x1a\n"
    return ax, imread(path)


def assert_non_empty(img, width, height):
    assert img.shape[:2] == (height, width)
    rgb = img[..., :3]
    not_white = (rgb < 0.95).any(axis=-1).mean()
    assert not_white > 0.02, f"only {not_white:.1%} of the pixels are drawn"
    assert len(np.unique(rgb.reshape(-1, 3), axis=0)) > 20  # more than a blank frame and some text


def test_plot_fit_draws_data_contours_and_ellipses(fitted, tmp_path):
    est, _, x, y = fitted
    ax, img = render(lambda ax: fastmi.plot_fit(est, x, y, ax=ax, n_sigma=(1, 2)), tmp_path)
    assert_non_empty(img, 400, 300)
    K = est.n_components_
    ellipses = [p for p in ax.patches if isinstance(p, Ellipse)]
    assert len(ellipses) == 2 * K
    centres = np.array(sorted({tuple(np.round(e.center, 12)) for e in ellipses}))
    np.testing.assert_allclose(centres, np.array(sorted(map(tuple, np.round(est.means_, 12)))))
    assert len(ax.collections) >= 2  # the scatter and the contour set
    assert ax.get_xlabel() == "x" and ax.get_ylabel() == "y"


def test_plot_fit_default_axes_and_bad_input(fitted):
    est, _, x, y = fitted
    ax = fastmi.plot_fit(est, x, y)  # a pyplot figure of its own
    assert ax.figure.get_size_inches().tolist() == [5.5, 4.5]
    import matplotlib.pyplot as plt

    plt.close(ax.figure)
    with pytest.raises(ValueError, match="fitted GMMMI"):
        fastmi.plot_fit(fastmi.GMMMI(), x, y)
    with pytest.raises(ValueError, match="columns"):
        fastmi.plot_fit(est, np.column_stack([x, x]), y)
    with pytest.raises(ValueError, match="dims"):
        fastmi.plot_fit(est, x, y, dims=(0, 0))


def test_plot_bootstrap_shows_replicates_estimate_and_interval(fitted, tmp_path):
    _, r, _, _ = fitted
    ax, img = render(lambda ax: fastmi.plot_bootstrap(r, ax=ax, bins=4), tmp_path, figsize=(5, 3.5), dpi=80)
    assert_non_empty(img, 400, 280)
    bars = list(ax.containers[0])  # the histogram
    assert len(bars) == 4 and sum(p.get_height() for p in bars) == r.samples.size
    assert ax.lines[0].get_xdata()[0] == r.mi
    span = [p for p in ax.patches if p not in bars]
    assert span, "the interval is drawn"
    with pytest.raises(ValueError, match="replicates"):
        fastmi.plot_bootstrap(fastmi.MIResult(mi=0.1))


def test_plot_cv_from_estimator_result_and_dict(fitted, tmp_path):
    est, r, _, _ = fitted
    ax, img = render(lambda ax: fastmi.plot_cv(est, ax=ax), tmp_path)
    assert_non_empty(img, 400, 300)
    line = ax.lines[0]
    np.testing.assert_array_equal(line.get_xdata(), est.cv_["k"])
    np.testing.assert_array_equal(line.get_ydata(), est.cv_["score"])
    star = [ln for ln in ax.lines if ln.get_marker() == "*"]
    assert star and star[0].get_xdata()[0] == est.cv_["selected"] == est.n_components_
    for obj in (r, r.diagnostics["cv"]):  # the MIResult and the dict give the same curve
        ax2 = render(lambda ax: fastmi.plot_cv(obj, ax=ax), tmp_path)[0]
        np.testing.assert_array_equal(ax2.lines[0].get_ydata(), est.cv_["score"])
    with pytest.raises(ValueError, match="no component search"):
        fastmi.plot_cv(fastmi.MIResult(mi=0.1, method="ksg"))


def test_plot_cv_categorical_has_a_curve_per_class(tmp_path):
    rng = np.random.default_rng(0)
    labels = rng.choice(["a", "b"], 400)
    x = np.where(labels == "a", -1.0, 1.0) + rng.standard_normal(400)
    est = fastmi.GMMMI(y_type="categorical", rng=0, **GMM_FAST).fit(x, labels)
    ax, img = render(lambda ax: fastmi.plot_cv(est, ax=ax), tmp_path)
    assert_non_empty(img, 400, 300)
    curves = [ln for ln in ax.lines if ln.get_label().startswith("best initialisation")]
    assert len(curves) == 2
    with pytest.raises(ValueError, match="categorical"):
        fastmi.plot_fit(est, x, labels)


def test_plot_mi_matrix_heatmap_with_annotations(tmp_path):
    rng = np.random.default_rng(2)
    a = rng.standard_normal((300, 3))
    b = np.column_stack([a[:, 0] + rng.standard_normal(300), rng.standard_normal(300)])
    m = fastmi.mi_matrix(a, b, method="gaussian", n_bootstrap=4, rng=0, progress=False)
    ax, img = render(lambda ax: m.plot(ax=ax), tmp_path, figsize=(4, 5))
    assert_non_empty(img, 400, 500)
    texts = [t.get_text() for t in ax.texts]
    assert len(texts) == 6
    d = 1 - math.floor(math.log10(m.stds[0, 0]))  # default: down to the std's second significant digit
    assert texts[0] == f"{m.values[0, 0]:.{d}f}\n±{m.stds[0, 0]:.{d}f}"
    np.testing.assert_array_equal(np.asarray(ax.images[0].get_array()), m.values)
    assert [t.get_text() for t in ax.get_yticklabels()] == m.row_names
    # the symmetric matrix leaves its NaN diagonal blank
    s = fastmi.mi_matrix(a, method="gaussian", n_bootstrap=3, rng=0, progress=False)
    ax, img = render(lambda ax: fastmi.plot_mi_matrix(s, ax=ax, digits=3), tmp_path, figsize=(3, 3), dpi=120)
    assert_non_empty(img, 360, 360)
    assert len(ax.texts) == 6 and ax.texts[0].get_text().count(".") == 2


def test_missing_matplotlib_gives_a_helpful_error(monkeypatch, fitted):
    _, r, _, _ = fitted
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    with pytest.raises(ImportError, match=r"fastmi\[plot\]"):
        fastmi.plot_bootstrap(r)
