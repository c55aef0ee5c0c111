"""The hard benchmark families and the calibration runner."""
import math

import numpy as np
import pytest
from scipy.stats import rankdata

import fastmi
import fastmi.bench as fb


@pytest.mark.parametrize("g", [fb.Spiral(0.5), fb.Spiral(-1.3), fb.Wave(1.0, 2.0), fb.Wave(2.5, 0.7)])
@pytest.mark.parametrize("d", [2, 3, 5])
def test_vector_maps_are_bijections(g, d):
    a = np.random.default_rng(d).standard_normal((2000, d)) * 2.0
    b = g.forward(a)
    assert not np.allclose(a, b)
    np.testing.assert_allclose(g.inverse(b), a, rtol=0, atol=1e-10)


def test_one_dimensional_wave_is_monotone_and_inverted():
    g = fb.Wave(0.45, 2.0)
    a = np.sort(np.random.default_rng(0).standard_normal(5000) * 3)[:, None]
    b = g.forward(a)
    assert np.all(np.diff(b[:, 0]) > 0)
    np.testing.assert_allclose(g.inverse(b), a, rtol=0, atol=1e-10)
    with pytest.raises(ValueError, match=r"monotone only when \|amplitude \* frequency\| < 1"):
        fb.Mapped(fb.Gaussian(0.5), fb.Wave(1.0, 2.0))
    with pytest.raises(ValueError, match="a spiral of x needs at least 2 coordinates"):
        fb.Mapped(fb.Gaussian(0.5), fb.Spiral())


@pytest.mark.parametrize("name", sorted(fb.HARD_SUITE))
def test_hard_family_is_its_base_under_an_invertible_map(name):
    """The sample is the base's sample (same draws) pushed through the maps: inverting the maps
    (or, for coordinate-wise monotone maps, ranking) gives back the base's sample exactly, so
    the MI is the base's."""
    d = fb.get_distribution(name)
    x, y = d.sample(3000, 7)
    x, y = np.atleast_2d(x.T).T, np.atleast_2d(y.T).T
    if isinstance(d, fb.Mapped):
        bx, by = d.base._sample(3000, np.random.default_rng(7))
        gx = x if d.gx is None else d.gx.inverse(x)
        gy = y if d.gy is None else d.gy.inverse(y)
        np.testing.assert_allclose(gx, bx, atol=1e-9)
        np.testing.assert_allclose(gy, by, atol=1e-9)
        assert d.mi == d.base.mi
    elif isinstance(d, fb.Transformed):
        bx, by = d.base._sample(3000, np.random.default_rng(7))
        for a, b in ((x, bx), (y, by)):
            np.testing.assert_array_equal(rankdata(a, axis=0), rankdata(b, axis=0))
        assert d.mi == d.base.mi
    assert math.isfinite(d.mi) and d.mi > 0


@pytest.mark.parametrize("name", ["wave_gaussian_1x1", "wave_gaussian_2x2", "half_cube_gaussian_2x2",
                                  "normal_cdf_gaussian", "asinh_student_t_nu1", "concentric_gaussian",
                                  "gaussian_outliers"])
def test_true_mi_agrees_with_a_reference_estimate(name):
    """KSG on 10 000 mapped samples lands near the claimed MI (tolerance: KSG's bias and spread
    at this n, about 0.03 nat measured); a wrong truth (e.g. a non-invertible map, or a wrong
    reference integral) would miss by more."""
    d = fb.get_distribution(name)
    x, y = d.sample(10_000, 1)
    r = fastmi.mutual_info(x, y, method="ksg", n_bootstrap=0)
    assert abs(r.mi - d.mi) < 0.06, (r.mi, d.mi)


def test_calibration_counts_coverage_flags_and_time():
    truth = {}

    def honest(x, y):  # 0.5 std off: inside +-1
        return {"mi": truth["mi"] + 0.05, "std": 0.1}

    def overconfident(x, y):  # 3 std off: outside +-2
        return {"mi": truth["mi"] + 0.3, "std": 0.1}

    def flagged(x, y):
        return {"mi": truth["mi"] + 0.3, "std": 0.1, "flagged": True}

    dist = fb.Gaussian(0.5)
    truth["mi"] = dist.mi
    table, summary = fb.calibration({"honest": honest, "overconfident": overconfident, "flagged": flagged},
                                    [dist], n=50, seeds=3, as_frame=False)
    assert len(table) == 9 and all(r["z"] == pytest.approx((r["estimate"] - dist.mi) / 0.1) for r in table)
    s = {r["estimator"]: r for r in summary}
    assert s["honest"]["coverage_1"] == 1.0 and s["honest"]["coverage_2"] == 1.0 and s["honest"]["flagged"] == 0
    assert s["overconfident"]["coverage_1"] == 0.0 and s["overconfident"]["coverage_2"] == 0.0
    assert s["flagged"]["flagged"] == 3 and math.isnan(s["flagged"]["coverage_1_unflagged"])
    assert s["honest"]["mae"] == pytest.approx(0.05) and s["honest"]["runs"] == 3


def test_calibration_suite_and_command_line(tmp_path):
    suite = fb.calibration_suite()
    assert set(fb.HARD_SUITE) <= set(suite) and "mixture3" in suite and "categorical" not in suite
    out = tmp_path / "cal.csv"
    png = tmp_path / "z.png"
    pytest.importorskip("matplotlib")
    code = fb.main(["--calibration", "--estimators", "gaussian", "--distributions", "gaussian", "student_t_2x2",
                    "--n", "2000", "--seeds", "0", "1", "--out", str(out), "--plot", str(png), "--quiet"])
    assert code == 0 and out.stat().st_size > 0 and png.stat().st_size > 0
