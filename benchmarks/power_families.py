"""Families of data sets for tuning and checking the permutation test's statistic.

Each generator takes a ``numpy.random.Generator`` and returns ``(x, y)``. ``TUNING`` chooses the
statistic, ``HELD_OUT`` checks it (never used to choose), ``NULL`` checks the level.
"""
from __future__ import annotations

import numpy as np


def gauss(n, rho):
    def draw(g):
        x = g.standard_normal(n)
        return x, rho * x + np.sqrt(1 - rho ** 2) * g.standard_normal(n)
    return draw


def quadratic(n, a):
    """y = a x^2 + noise: no correlation, monotone in neither direction."""
    def draw(g):
        x = g.standard_normal(n)
        return x, a * x ** 2 + g.standard_normal(n)
    return draw


def student_t(n, rho, nu):
    """Bivariate Student-t (a t copula, with tail dependence, and heavy-tailed marginals)."""
    def draw(g):
        x, y = gauss(n, rho)(g)
        w = np.sqrt(nu / g.chisquare(nu, n))
        return x * w, y * w
    return draw


def x2d_linear(n, b):
    def draw(g):
        x = g.standard_normal((n, 2))
        return x, b * (x[:, 0] + x[:, 1]) + g.standard_normal(n)
    return draw


def sine(n, a, freq):
    """y = a sin(freq x) + noise, x uniform on [-pi, pi]: local, non-monotone."""
    def draw(g):
        x = g.uniform(-np.pi, np.pi, n)
        return x, a * np.sin(freq * x) + g.standard_normal(n)
    return draw


def mixture(n, share):
    """A share of the rows on a thin band y = x (+0.1 noise), the rest independent Gaussians."""
    def draw(g):
        x, y = g.standard_normal(n), g.standard_normal(n)
        band = g.uniform(size=n) < share
        y[band] = x[band] + 0.1 * g.standard_normal(band.sum())
        return x, y
    return draw


def t_marginals(n, b):
    """x ~ t_3, y = b x + t_3 noise: heavy-tailed marginals, monotone dependence."""
    def draw(g):
        x = g.standard_t(3, n)
        return x, b * x + g.standard_t(3, n)
    return draw


def x2d_product(n, a):
    """2-D x, y = a x1 x2 + noise: no dependence on either coordinate alone."""
    def draw(g):
        x = g.standard_normal((n, 2))
        return x, a * x[:, 0] * x[:, 1] + g.standard_normal(n)
    return draw


def independent(n, kind, dx=1):
    marg = {"gauss": lambda g, s: g.standard_normal(s), "uniform": lambda g, s: g.uniform(size=s),
            "exponential": lambda g, s: g.exponential(size=s)}[kind]

    def draw(g):
        return marg(g, (n, dx) if dx > 1 else n), marg(g, n)
    return draw


# (name, generator, first seed); held-out seeds never overlap tuning seeds
TUNING = [
    ("gauss rho=0.15 n=2000", gauss(2000, 0.15), 10_000),
    ("quadratic 0.12 x^2 n=2000", quadratic(2000, 0.12), 20_000),
    ("bivariate t3 rho=0.1 n=2000", student_t(2000, 0.1, 3), 30_000),
    ("gauss rho=0.25 n=500", gauss(500, 0.25), 40_000),
    ("2-D x, 0.1(x1+x2) n=2000", x2d_linear(2000, 0.1), 50_000),
]
HELD_OUT = [
    ("gauss rho=0.15 n=2000", gauss(2000, 0.15), 110_000),
    ("sine 0.25 sin(3x) n=2000", sine(2000, 0.25, 3.0), 120_000),
    ("sine 0.35 sin(8x) n=2000", sine(2000, 0.35, 8.0), 125_000),
    ("mixture 6% band n=2000", mixture(2000, 0.06), 130_000),
    ("gauss rho=0.1 n=5000", gauss(5000, 0.1), 140_000),
    ("t3 marginals 0.15x n=2000", t_marginals(2000, 0.15), 150_000),
    ("2-D x, 0.15 x1 x2 n=2000", x2d_product(2000, 0.15), 160_000),
]
NULL = [
    ("independent gauss n=1000", independent(1000, "gauss"), 0),
    ("independent uniform n=1000", independent(1000, "uniform"), 1_000),
    ("independent exponential n=1000", independent(1000, "exponential"), 2_000),
    ("independent exponential 2-D x n=500", independent(500, "exponential", dx=2), 3_000),
]
