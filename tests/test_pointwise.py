"""Pointwise MI of fitted mixtures against closed forms (Gaussian pairs, Gaussian classes, a
trivariate Gaussian's conditional form), its consistency with the estimate, new rows, the MI
matrix's entries, the PMI profile plot, and bad input."""
import numpy as np
import pytest
from scipy.stats import multivariate_normal, norm

import fastmi
from fastmi._copula import normal_scores, normal_scores_against

RHO = 0.6


def _gaussian_pair(n, seed):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(n)
    return x, RHO * x + np.sqrt(1 - RHO ** 2) * rng.standard_normal(n)


def _gaussian_pmi(x, y, rho=RHO):
    """log p(x, y) - log p(x) - log p(y) of the standard bivariate Gaussian with correlation rho."""
    return -0.5 * np.log(1 - rho ** 2) - (rho ** 2 * (x ** 2 + y ** 2) - 2 * rho * x * y) / (2 * (1 - rho ** 2))


@pytest.mark.parametrize("copula", ["auto", False])
def test_gaussian_pmi_matches_the_closed_form_and_averages_to_the_estimate(copula):
    x, y = _gaussian_pair(10_000, 0)
    est = fastmi.GMMMI(copula=copula, rng=1).fit(x, y)
    res = est.estimate()
    pmi = est.pointwise_mi()
    assert isinstance(pmi, fastmi.PointwiseMI) and pmi.values.shape == (10_000,) and pmi.n_fits == 50
    assert np.sqrt(np.mean((pmi.values - _gaussian_pmi(x, y)) ** 2)) <= 0.05
    assert abs(pmi.mean - res.mi) <= 0.01
    assert np.all(np.isfinite(pmi.std)) and np.all(pmi.std >= 0) and pmi.std.mean() < 0.05
    assert pmi.space == est.space_


def test_one_gaussian_resubstitution_is_exact():
    """For one fitted Gaussian, the mean log ratio over the rows it was fitted to is its MI exactly
    (the sample covariance is the fit): the mean PMI equals the point estimate before its bias
    correction."""
    x, y = _gaussian_pair(3000, 2)
    est = fastmi.GMMMI(copula=False, n_bootstrap=0, bias_correction=False, check_fit=False, rng=0).fit(x, y)
    assert est.n_components_ == 1
    pmi = est.pointwise_mi()
    assert pmi.mean == pytest.approx(est.estimate().mi, abs=1e-9)
    assert pmi.n_fits == 1 and np.all(np.isnan(pmi.std))


def test_new_rows_in_copula_space_and_in_the_data_space():
    x, y = _gaussian_pair(4000, 3)
    for copula in ("auto", False):
        est = fastmi.GMMMI(copula=copula, n_bootstrap=5, rng=0).fit(x, y)
        est.estimate()
        # the rows it was fitted to, passed again: the same values
        np.testing.assert_allclose(est.pointwise_mi(x, y).values, est.pointwise_mi().values, rtol=0, atol=1e-12)
        xn, yn = _gaussian_pair(2000, 4)
        got = est.pointwise_mi(xn, yn).values
        assert np.sqrt(np.mean((got - _gaussian_pmi(xn, yn)) ** 2)) <= 0.05


def test_normal_scores_against_the_reference_reproduce_its_own_scores():
    rng = np.random.default_rng(0)
    ref = np.column_stack([rng.integers(0, 5, 200).astype(float), rng.standard_normal(200)])
    np.testing.assert_array_equal(normal_scores_against(ref, ref), normal_scores(ref))
    between = normal_scores_against(ref, np.array([[-1.0, -10.0], [2.5, 10.0]]))
    n = ref.shape[0]
    assert between[0, 0] == pytest.approx(norm.ppf(0.5 / (n + 1)))  # below every value: rank 1/2
    assert between[1, 1] == pytest.approx(norm.ppf((n + 0.5) / (n + 1)))
    below = np.sum(ref[:, 0] <= 2)
    assert between[1, 0] == pytest.approx(norm.ppf((below + 0.5) / (n + 1)))  # halfway between ranks


def test_categorical_pmi_matches_the_class_densities():
    rng = np.random.default_rng(5)
    means, prior = np.array([-1.5, 0.0, 2.0]), np.array([0.3, 0.3, 0.4])
    labels = rng.choice(3, size=10_000, p=prior)
    x = means[labels] + rng.standard_normal(10_000)
    est = fastmi.GMMMI(y_type="categorical", rng=0).fit(x, labels)
    res = est.estimate()
    pmi = est.pointwise_mi()
    dens = norm.pdf(x[:, None], means[None], 1.0)
    truth = np.log(dens[np.arange(x.size), labels]) - np.log(dens @ prior)
    assert np.sqrt(np.mean((pmi.values - truth) ** 2)) <= 0.05
    assert abs(pmi.mean - res.mi) <= 0.01
    # string labels for new rows map through the fitted classes
    est2 = fastmi.GMMMI(y_type="categorical", n_bootstrap=0, rng=0).fit(x, np.array(list("abc"))[labels])
    np.testing.assert_allclose(est2.pointwise_mi(x[:5], np.array(list("abc"))[labels[:5]]).values,
                               est2.pointwise_mi().values[:5], atol=1e-12)


def test_conditional_pmi_averages_to_the_cmi_and_matches_the_closed_form():
    rng = np.random.default_rng(6)
    cov = np.array([[1.0, 0.5, 0.4], [0.5, 1.0, 0.6], [0.4, 0.6, 1.0]])  # (x, y, z)
    s = rng.multivariate_normal(np.zeros(3), cov, size=8000)
    x, y, z = s[:, 0], s[:, 1], s[:, 2]
    est = fastmi.GMMMI(copula=False, rng=0).fit(x, y, z)
    res = est.estimate()
    pmi = est.pointwise_mi()

    def logpdf(cols):
        return multivariate_normal(np.zeros(len(cols)), cov[np.ix_(cols, cols)]).logpdf(s[:, cols])

    truth = logpdf([0, 1, 2]) + logpdf([2]) - logpdf([0, 2]) - logpdf([1, 2])
    assert np.sqrt(np.mean((pmi.values - truth) ** 2)) <= 0.05
    assert abs(pmi.mean - res.mi) <= 0.01
    with pytest.raises(ValueError, match="fitted with z: pass z too"):
        est.pointwise_mi(x, y)


def test_bits_and_top_rows():
    x, y = _gaussian_pair(2000, 7)
    nat = fastmi.GMMMI(n_bootstrap=0, rng=0).fit(x, y).pointwise_mi()
    bit = fastmi.GMMMI(n_bootstrap=0, rng=0, unit="bit").fit(x, y).pointwise_mi()
    np.testing.assert_allclose(bit.values, nat.values / np.log(2))
    top = nat.top(5)
    assert list(top) == list(np.argsort(-nat.values)[:5]) and nat.values[top[0]] == nat.values.max()


def test_mi_matrix_entries_give_their_own_pointwise_mi():
    rng = np.random.default_rng(8)
    a = rng.standard_normal((1500, 2))
    b = np.column_stack([a[:, 0] + 0.5 * rng.standard_normal(1500), rng.uniform(size=1500)])
    m = fastmi.mi_matrix(a, b, n_bootstrap=8, rng=3)
    pmi = m.pointwise_mi(0, 0, a, b)
    # the refit is the entry's own fit: its estimate is the entry, bit for bit
    est = fastmi.GMMMI(**m.estimator_params, rng=m.pair_seed(0, 0)).fit(a[:, 0], b[:, 0])
    assert est.estimate().mi == m.values[0, 0]
    np.testing.assert_array_equal(est.pointwise_mi().values, pmi.values)
    assert abs(pmi.mean - m.values[0, 0]) <= 0.02
    sym = fastmi.mi_matrix(a, n_bootstrap=0, rng=3)
    assert sym.pointwise_mi(1, 0, a).values.shape == (1500,)
    with pytest.raises(ValueError, match="diagonal"):
        sym.pointwise_mi(1, 1, a)
    with pytest.raises(ValueError, match="pass b"):
        m.pointwise_mi(0, 0, a)
    with pytest.raises(ValueError, match="method='gmm'"):
        fastmi.mi_matrix(a, b, method="ksg", n_bootstrap=0).pointwise_mi(0, 0, a, b)


def test_plot_pmi_profile():
    pytest.importorskip("matplotlib")
    import matplotlib

    matplotlib.use("Agg")
    x, y = _gaussian_pair(2000, 9)
    est = fastmi.GMMMI(n_bootstrap=0, rng=0).fit(x, y)
    pmi = est.pointwise_mi()
    ax = fastmi.plot_pmi_profile(pmi, mi=est.estimate())
    assert sum(p.get_height() for p in ax.patches) == 2000
    assert "pointwise MI [nat]" == ax.get_xlabel() and len(ax.get_lines()) == 3
    with pytest.raises(ValueError, match="one value per sample"):
        fastmi.plot_pmi_profile(np.ones((10, 2)))


def test_bad_input():
    x, y = _gaussian_pair(500, 10)
    with pytest.raises(ValueError, match="not fitted"):
        fastmi.GMMMI().pointwise_mi()
    est = fastmi.GMMMI(n_bootstrap=0, rng=0).fit(x, y)
    with pytest.raises(ValueError, match="pass both x and y"):
        est.pointwise_mi(x)
    with pytest.raises(ValueError, match="x has 2 column"):
        est.pointwise_mi(np.ones((5, 2)), y[:5])
    with pytest.raises(ValueError, match="same number of samples"):
        est.pointwise_mi(x[:5], y[:4])
    with pytest.raises(ValueError, match="without z"):
        est.pointwise_mi(x, y, x)
    with pytest.raises(ValueError, match="NaN or inf|finite"):
        est.pointwise_mi(np.array([np.nan, 1.0]), y[:2])
    cat = fastmi.GMMMI(y_type="categorical", n_bootstrap=0, rng=0).fit(x, (x > 0).astype(int))
    with pytest.raises(ValueError, match="labels the model was not fitted with: \\[7\\]"):
        cat.pointwise_mi(x[:2], np.array([0, 7]))


def test_a_loaded_model_evaluates_rows_it_is_given(tmp_path):
    x, y = _gaussian_pair(1500, 11)
    data_fit = fastmi.GMMMI(copula=False, n_bootstrap=0, rng=0).fit(x, y)
    data_fit.save(tmp_path / "d.npz")
    loaded = fastmi.load_model(tmp_path / "d.npz")
    np.testing.assert_allclose(loaded.pointwise_mi(x, y).values, data_fit.pointwise_mi().values, atol=1e-10)
    with pytest.raises(ValueError, match="loaded without its data"):
        loaded.pointwise_mi()
    copula_fit = fastmi.GMMMI(n_bootstrap=0, rng=0).fit(x, y)
    assert copula_fit.space_ == "copula"
    copula_fit.save(tmp_path / "c.npz")
    with pytest.raises(ValueError, match="copula space and loaded without its data"):
        fastmi.load_model(tmp_path / "c.npz").pointwise_mi(x, y)
