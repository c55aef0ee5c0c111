"""Hard distributions: smooth invertible maps of Gaussian and Student-t laws, concentric and
outlier mixtures, after the benchmark families of Czyż et al. (2023).

Mutual information is invariant under a diffeomorphism of x and one of y, so every
:class:`Mapped` distribution has its base's MI exactly; only the geometry changes (spirals,
waves, compressed or heavy tails). Each map here has an explicit inverse, which the tests use
to check that it is a bijection.

References
----------
.. [1] P. Czyż, F. Grabowski, J. E. Vogt, N. Beerenwinkel and A. Marx, "Beyond normal: on
       the evaluation of mutual information estimators", NeurIPS 2023.
"""
from __future__ import annotations

import numpy as np

from .._validation import check_float
from ._distributions import Distribution, Gaussian, GaussianMixture, StudentT, Transformed, _Reparametrised

__all__ = ["HARD_SUITE", "Mapped", "Spiral", "VectorMap", "Wave", "hard_suite"]


class VectorMap:
    """A smooth bijection of R^d (``forward``) with its inverse (``inverse``), both acting on
    arrays of shape (n, d)."""

    name = "map"

    def forward(self, a):  # pragma: no cover - abstract
        raise NotImplementedError

    def inverse(self, a):  # pragma: no cover - abstract
        raise NotImplementedError

    def check_dim(self, d, what):
        """Raise ``ValueError`` if the map cannot act on ``d`` coordinates."""


class Spiral(VectorMap):
    """Rotate the first two coordinates by an angle ``speed * |a|^2``.

    A rotation keeps the norm, so the inverse rotates back by the same angle: a smooth
    bijection of R^d (d >= 2) whose level sets of ``|a|`` are preserved while directions wind
    into a spiral (the "spiral" family of Czyż et al.).

    Parameters
    ----------
    speed : float, default=0.5
        Radians per unit of squared norm.
    """

    name = "spiral"

    def __init__(self, speed=0.5):
        self.speed = check_float(speed, "speed")

    def check_dim(self, d, what):
        if d < 2:
            raise ValueError(f"a spiral of {what} needs at least 2 coordinates, got {d}")

    def _rotate(self, a, sign):
        a = np.array(a, dtype=np.float64)
        theta = sign * self.speed * np.einsum("ij,ij->i", a, a)
        c, s = np.cos(theta), np.sin(theta)
        u, v = a[:, 0].copy(), a[:, 1].copy()
        a[:, 0], a[:, 1] = c * u - s * v, s * u + c * v
        return a

    def forward(self, a):
        return self._rotate(a, 1.0)

    def inverse(self, a):
        return self._rotate(a, -1.0)


class Wave(VectorMap):
    """Add a sine wave of each coordinate to the next one: a'_k = a_k + amplitude *
    sin(frequency * a_{k-1}) for k >= 1 (a_0 unchanged); on one coordinate,
    a' = a + amplitude * sin(frequency * a), which needs amplitude * frequency < 1.

    The map is triangular, so it is a bijection for any amplitude in d >= 2: the inverse
    recovers a_0, then a_1, and so on.

    Parameters
    ----------
    amplitude : float, default=1.0
    frequency : float, default=2.0
    """

    name = "wave"

    def __init__(self, amplitude=1.0, frequency=2.0):
        self.amplitude = check_float(amplitude, "amplitude")
        self.frequency = check_float(frequency, "frequency")

    def check_dim(self, d, what):
        if d == 1 and not abs(self.amplitude * self.frequency) < 1.0:
            raise ValueError(f"a wave of one coordinate ({what}) is monotone only when |amplitude * frequency| < 1, "
                             f"got {self.amplitude * self.frequency:g}")

    def forward(self, a):
        a = np.asarray(a, dtype=np.float64)
        out = a.copy()
        if a.shape[1] == 1:
            return out + self.amplitude * np.sin(self.frequency * a)
        out[:, 1:] += self.amplitude * np.sin(self.frequency * a[:, :-1])
        return out

    def inverse(self, a):
        a = np.asarray(a, dtype=np.float64)
        if a.shape[1] == 1:  # monotone: Newton from the identity, a few steps reach rounding
            x = a.copy()
            for _ in range(60):
                f = x + self.amplitude * np.sin(self.frequency * x) - a
                x = x - f / (1.0 + self.amplitude * self.frequency * np.cos(self.frequency * x))
            return x
        out = a.copy()
        for k in range(1, a.shape[1]):
            out[:, k] = a[:, k] - self.amplitude * np.sin(self.frequency * out[:, k - 1])
        return out


class Mapped(_Reparametrised):
    """``base`` with a smooth bijection of all of x's coordinates and/or all of y's.

    MI is invariant under such maps, so ``mi`` is ``base.mi``.

    Parameters
    ----------
    base : Distribution
        A distribution with continuous y.
    gx, gy : VectorMap, optional
        Maps of x and of y (None leaves the variable alone).
    name : str, optional
    """

    kind = "mapped"

    def __init__(self, base, gx=None, gy=None, *, name=None):
        if not isinstance(base, Distribution) or base.y_type != "continuous":
            raise ValueError(f"base must be a fastmi.bench distribution with continuous y, got {base!r}")
        for g, d, what in ((gx, base.dx, "x"), (gy, base.dy, "y")):
            if g is not None:
                if not isinstance(g, VectorMap):
                    raise ValueError(f"g{what} must be a VectorMap (Spiral, Wave, ...), got {g!r}")
                g.check_dim(d, what)
        self.gx, self.gy = gx, gy
        label = "/".join("id" if g is None else g.name for g in (gx, gy))
        params = {"base": base.name, "gx": None if gx is None else gx.name, "gy": None if gy is None else gy.name}
        self._init_from(base, name or f"{label}({base.name})", params)

    def _map_x(self, x):
        return x if self.gx is None else self.gx.forward(x)

    def _map_y(self, y):
        return y if self.gy is None else self.gy.forward(y)


def _scaled_identity_mixture(weights, scales, rho, d):
    """Concentric mixture: the same correlation structure at several scales (all means 0)."""
    base = Gaussian(rho, dx=d, dy=d).cov
    covs = [s * s * base for s in scales]
    return weights, np.zeros((len(scales), 2 * d)), covs


def _outlier_mixture(rho, frac, spread):
    """A correlated Gaussian with a fraction ``frac`` of wide, independent outliers."""
    base = Gaussian(rho).cov
    return [1.0 - frac, frac], np.zeros((2, 2)), [base, spread * spread * np.eye(2)]


HARD_SUITE = {
    "spiral_gaussian_2x2": lambda: Mapped(Gaussian(0.6, dx=2, dy=2), Spiral(0.5), Spiral(0.5),
                                          name="spiral_gaussian_2x2"),
    "spiral_strong_gaussian_2x2": lambda: Mapped(Gaussian(0.6, dx=2, dy=2), Spiral(1.5), Spiral(1.5),
                                                 name="spiral_strong_gaussian_2x2"),
    "wave_gaussian_2x2": lambda: Mapped(Gaussian(0.6, dx=2, dy=2), Wave(1.0, 2.0), Wave(1.0, 2.0),
                                        name="wave_gaussian_2x2"),
    "wave_gaussian_3x3": lambda: Mapped(Gaussian(0.6, dx=3, dy=3), Wave(1.5, 2.5), Wave(1.5, 2.5),
                                        name="wave_gaussian_3x3"),
    "wave_gaussian_1x1": lambda: Mapped(Gaussian(0.75), Wave(0.45, 2.0), Wave(0.45, 2.0), name="wave_gaussian_1x1"),
    "half_cube_gaussian_2x2": lambda: Transformed(Gaussian(0.6, dx=2, dy=2), "half_cube", "half_cube",
                                                  name="half_cube_gaussian_2x2"),
    "normal_cdf_gaussian": lambda: Transformed(Gaussian(0.8), "normal_cdf", "normal_cdf", name="normal_cdf_gaussian"),
    "asinh_student_t_nu1": lambda: Transformed(StudentT(1.0, 0.5), "arcsinh", "arcsinh", name="asinh_student_t_nu1"),
    "student_t_2x2": lambda: StudentT(2.0, 0.5, dx=2, dy=2, name="student_t_2x2"),
    "student_t_3x3": lambda: StudentT(3.0, 0.5, dx=3, dy=3, name="student_t_3x3"),
    "student_t_5x5": lambda: StudentT(5.0, 0.5, dx=5, dy=5, name="student_t_5x5"),
    "concentric_gaussian": lambda: GaussianMixture(*_scaled_identity_mixture([0.5, 0.5], [1.0, 3.0], 0.6, 1), dx=1,
                                                   name="concentric_gaussian"),
    "gaussian_outliers": lambda: GaussianMixture(*_outlier_mixture(0.7, 0.05, 10.0), dx=1, name="gaussian_outliers"),
}
"""The hard families by name: ``hard_suite()`` builds them all (also reachable through
``get_distribution(name)``)."""


def hard_suite(names=None):
    """Fresh instances of the hard distributions (all of ``HARD_SUITE``, or ``names``)."""
    names = list(HARD_SUITE) if names is None else list(names)
    unknown = sorted(set(names) - set(HARD_SUITE))
    if unknown:
        raise ValueError(f"unknown hard distribution(s) {unknown}; choose from {sorted(HARD_SUITE)}")
    return {k: HARD_SUITE[k]() for k in names}

