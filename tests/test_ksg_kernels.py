"""The KSG kernels against brute-force O(n^2) references: every radius and
every count must be equal, not close."""
import numpy as np
import pytest

from fastmi.knn import _common, _ksg, _mixed
from fastmi._ksg_cy import KDTree, count_sorted


# ----------------------------------------------------------------- references
def cheb(a):
    """All pairwise max-norm distances, computed pair by pair as the kernels do."""
    return np.max(np.abs(a[:, None, :] - a[None, :, :]), axis=2)


def kth_others(d, k):
    """k-th smallest entry of each row, the diagonal (self) excluded."""
    d = d.copy()
    np.fill_diagonal(d, np.inf)
    return np.sort(d, axis=1)[:, k - 1]


def strictly_within(d, eps):
    """Other points strictly closer than eps; all tied points when eps == 0."""
    inside = (d < eps[:, None]) | ((eps[:, None] == 0) & (d == 0))
    np.fill_diagonal(inside, False)
    return inside.sum(axis=1)


def within(d, r):
    inside = d <= r[:, None]
    np.fill_diagonal(inside, False)
    return inside.sum(axis=1)


def ref_ksg(x, y, k, variant):
    dxy, dx, dy = cheb(np.hstack([x, y])), cheb(x), cheb(y)
    if variant == 1:
        eps = kth_others(dxy, k)
        return eps, strictly_within(dx, eps), strictly_within(dy, eps)
    n = x.shape[0]
    ext = np.empty((n, 2))
    for i in range(n):
        others = np.delete(np.arange(n), i)
        # neighbour set: k smallest by (distance, row index)
        nb = others[np.lexsort((others, dxy[i, others]))[:k]]
        ext[i] = dx[i, nb].max(), dy[i, nb].max()
    return ext, within(dx, ext[:, 0]), within(dy, ext[:, 1])


def ref_mixed(x, y, k):
    """Counts include the point itself: strictly inside rho, or the copies
    of the point when rho == 0."""
    dxy = cheb(np.hstack([x, y]))
    rho = kth_others(dxy, k)
    ktilde = np.where(rho == 0, (dxy == 0).sum(axis=1), k)
    return rho, ktilde, strictly_within(cheb(x), rho) + 1, strictly_within(cheb(y), rho) + 1


def ref_ross(x, codes, k):
    n = x.shape[0]
    d = cheb(x)
    radius = np.empty(n)
    k_used = np.empty(n, dtype=int)
    for c in np.unique(codes):
        idx = np.flatnonzero(codes == c)
        kc = min(k, idx.size - 1)
        radius[idx] = kth_others(d[np.ix_(idx, idx)], kc)
        k_used[idx] = kc
    # all classes, the point itself included
    m = ((d < radius[:, None]) | ((radius[:, None] == 0) & (d == 0))).sum(axis=1)
    return radius, k_used, m


def ref_cmi(x, y, z, k):
    eps = kth_others(cheb(np.hstack([x, y, z])), k)
    return (eps, strictly_within(cheb(np.hstack([x, z])), eps),
            strictly_within(cheb(np.hstack([y, z])), eps), strictly_within(cheb(z), eps))


# ----------------------------------------------------------------- data
def make(rng, n, d, ties):
    a = rng.standard_normal((n, d))
    if ties:
        # coarse values (many equal coordinates) and some duplicated rows
        a = np.round(a * 2) / 2
        dup = rng.choice(n, n // 5, replace=False)
        a[dup] = a[rng.choice(n, n // 5)]
    return a


DIMS = [(1, 1), (2, 1), (1, 3), (3, 2)]


@pytest.fixture
def rng():
    return np.random.default_rng(20240611)


# ----------------------------------------------------------------- KDTree
@pytest.mark.parametrize("d", [1, 2, 3, 6])
@pytest.mark.parametrize("leafsize", [2, 3, 8])
@pytest.mark.parametrize("ties", [False, True])
def test_tree_knn_and_count_match_brute_force(rng, d, leafsize, ties):
    n = 157
    a = make(rng, n, d, ties)
    tree = KDTree(a, leafsize, 2)
    dist = cheb(a)
    for k in (1, 3, 10):
        eps, _ = tree.knn(k, n_threads=2)
        np.testing.assert_array_equal(eps, kth_others(dist, k))
    # radii equal to actual pairwise distances probe the <= boundary exactly
    radius = dist[np.arange(n), rng.integers(0, n, n)]
    radius[::7] = np.nextafter(radius[::7], 0)
    radius[::11] = 0.0
    radius[::13] = -1.0
    expected = (dist <= radius[:, None]).sum(axis=1)
    np.testing.assert_array_equal(tree.count(radius, 2), expected)
    np.testing.assert_array_equal(tree.count(radius, 1), expected)


def test_tree_knn_extents_tiebreak_by_row(rng):
    a = np.round(rng.standard_normal((120, 3)), 0)   # heavy ties in the joint distance
    tree = KDTree(a, 2, 2)
    for k in (1, 3, 10):
        _, ext = tree.knn(k, groups=[0, 1, 3], tiebreak=True, n_threads=2)
        ref, _, _ = ref_ksg(a[:, :1], a[:, 1:], k, 2)
        np.testing.assert_array_equal(ext, ref)


def test_tree_indices_are_a_permutation(rng):
    a = rng.standard_normal((100, 2))
    tree = KDTree(a, 4, 1)
    np.testing.assert_array_equal(np.sort(tree.indices), np.arange(100))
    assert tree.levels >= 1 and tree.n == 100 and tree.dim == 2


def test_tree_degenerate_inputs():
    # all points equal: the median selection and the search must still terminate
    a = np.zeros((50, 2))
    tree = KDTree(a, 2, 2)
    eps, _ = tree.knn(3, n_threads=2)
    assert (eps == 0).all()
    np.testing.assert_array_equal(tree.count(np.zeros(50), 2), np.full(50, 50))
    # sorted and reverse-sorted inputs (selection worst cases for naive pivots)
    s = np.arange(300, dtype=float)[:, None]
    for b in (s, s[::-1].copy(), np.concatenate([s[::2], s[1::2]])):
        eps, _ = KDTree(b, 2, 1).knn(2, n_threads=1)
        np.testing.assert_array_equal(eps, kth_others(cheb(b), 2))


def test_tree_rejects_bad_arguments():
    a = np.random.default_rng(0).standard_normal((10, 2))
    tree = KDTree(a, 4, 1)
    with pytest.raises(ValueError, match="k must"):
        tree.knn(10)
    with pytest.raises(ValueError, match="k must"):
        tree.knn(0)
    with pytest.raises(ValueError, match="radius"):
        tree.count(np.zeros(3))
    with pytest.raises(ValueError, match="groups"):
        tree.knn(2, groups=[0, 3])
    with pytest.raises(ValueError, match="leafsize"):
        KDTree(a, 1, 1)


# ----------------------------------------------------------------- 1-D counts
@pytest.mark.parametrize("ties", [False, True])
def test_count_sorted_matches_brute_force(rng, ties):
    n = 400
    x = make(rng, n, 1, ties)[:, 0] * 1e3 + 1e6   # offset: rounding in x_i - x_j matters
    order = np.argsort(x, kind="stable")
    dist = np.abs(x[:, None] - x[None, :])
    radius = dist[np.arange(n), rng.integers(0, n, n)]
    radius[::5] = np.nextafter(radius[::5], np.inf)
    radius[::7] = np.nextafter(radius[::7], 0)
    radius[::9] = 0.0
    radius[::17] = -0.5
    radius[3] = np.inf
    expected = (dist <= radius[:, None]).sum(axis=1)
    for threads in (1, 2):
        got = count_sorted(np.ascontiguousarray(x[order]), order, radius, threads)
        np.testing.assert_array_equal(got, expected)


# ----------------------------------------------------------------- estimator counts
@pytest.mark.parametrize("dims", DIMS)
@pytest.mark.parametrize("k", [1, 3, 10])
@pytest.mark.parametrize("ties", [False, True])
@pytest.mark.parametrize("variant", [1, 2])
def test_ksg_counts(rng, dims, k, ties, variant):
    n = 150
    x, y = make(rng, n, dims[0], ties), make(rng, n, dims[1], ties)
    y[:, 0] += x[:, 0]
    got = _ksg._ksg_counts(x, y, k, variant, n_threads=2)
    for g, r in zip(got, ref_ksg(x, y, k, variant)):
        np.testing.assert_array_equal(g, r)


@pytest.mark.parametrize("dims", DIMS)
@pytest.mark.parametrize("k", [1, 3, 10])
@pytest.mark.parametrize("ties", [False, True])
def test_mixed_counts(rng, dims, k, ties):
    n = 150
    x, y = make(rng, n, dims[0], ties), make(rng, n, dims[1], ties)
    if ties:   # a genuinely discrete column
        x[:, 0] = rng.integers(0, 4, n)
    got = _mixed._mixed_counts(x, y, k, n_threads=2)
    for g, r in zip(got, ref_mixed(x, y, k)):
        np.testing.assert_array_equal(g, r)


@pytest.mark.parametrize("d", [1, 2])
@pytest.mark.parametrize("k", [1, 3, 10])
@pytest.mark.parametrize("ties", [False, True])
def test_ross_counts(rng, d, k, ties):
    n = 160
    x = make(rng, n, d, ties)
    codes = rng.choice(4, n, p=[0.5, 0.3, 0.15, 0.05])
    codes[:2] = 3   # every class has at least two members
    codes[2:12] = 2
    got = _mixed._ross_counts(x, codes, k, n_threads=2)
    for g, r in zip(got, ref_ross(x, codes, k)):
        np.testing.assert_array_equal(g, r)


@pytest.mark.parametrize("dims", [(1, 1, 1), (1, 2, 1), (2, 1, 2)])
@pytest.mark.parametrize("k", [1, 3, 10])
@pytest.mark.parametrize("ties", [False, True])
def test_cmi_counts(rng, dims, k, ties):
    n = 150
    z = make(rng, n, dims[2], ties)
    x = make(rng, n, dims[0], ties)
    y = make(rng, n, dims[1], ties)
    x[:, 0] += z[:, 0]
    y[:, 0] += z[:, 0]
    got = _ksg._cmi_counts(x, y, z, k, n_threads=2)
    for g, r in zip(got, ref_cmi(x, y, z, k)):
        np.testing.assert_array_equal(g, r)


# ----------------------------------------------------------------- parallel paths
# Small inputs run serially; these sizes take the multi-threaded build and
# query loops (>= 8192 points per thread). Too large for the O(n^2)
# references, so SciPy's exact max-norm cKDTree is the reference instead.
@pytest.mark.parametrize("d", [1, 2, 4])
def test_parallel_tree_matches_ckdtree(rng, d):
    from scipy.spatial import cKDTree

    n = 40_000
    a = rng.standard_normal((n, d))
    a[: n // 10] = np.round(a[: n // 10], 1)   # some ties too
    serial = KDTree(a, 8, 1)
    parallel = KDTree(a, 8, 4)
    np.testing.assert_array_equal(serial.indices, parallel.indices)   # same tree
    ref = cKDTree(a)
    for k in (1, 3, 10):
        eps, _ = parallel.knn(k, n_threads=4)
        np.testing.assert_array_equal(eps, ref.query(a, k=k + 1, p=np.inf)[0][:, -1])
        np.testing.assert_array_equal(eps, serial.knn(k, n_threads=1)[0])
    radius = np.nextafter(eps, 0)
    expected = ref.query_ball_point(a, radius, p=np.inf, return_length=True)
    np.testing.assert_array_equal(parallel.count(radius, 4), expected)
    np.testing.assert_array_equal(serial.count(radius, 1), expected)
    if d == 1:
        order = np.argsort(a[:, 0])
        xs = np.ascontiguousarray(a[order, 0])
        np.testing.assert_array_equal(count_sorted(xs, order, radius, 4), expected)


def test_counts_do_not_depend_on_threads(rng):
    n = 40_000
    x = rng.standard_normal((n, 2))
    y = x[:, :1] + rng.standard_normal((n, 1))
    z = np.round(rng.standard_normal((n, 1)), 2)
    for f in (lambda j: _ksg._ksg_counts(x, y, 3, 1, n_threads=j),
              lambda j: _ksg._ksg_counts(x, y, 3, 2, n_threads=j),
              lambda j: _mixed._mixed_counts(np.round(x, 1), y, 3, n_threads=j),
              lambda j: _ksg._cmi_counts(x, y, z, 3, n_threads=j)):
        one, many = f(1), f(4)
        for a, b in zip(one, many):
            np.testing.assert_array_equal(a, b)


def test_estimates_use_the_verified_counts(rng):
    """The estimators average counts taken in kernel order (no scatter back
    to rows); they must equal the formulas on the by-row counts checked
    against brute force above."""
    from scipy.special import digamma

    n = 30_000
    x = rng.standard_normal((n, 1))
    y = x + rng.standard_normal((n, 1))
    z = rng.standard_normal((n, 2))
    codes = (y[:, 0] > 0.3).astype(np.intp)
    psi = lambda c: float(np.mean(digamma(c.astype(float))))
    for threads in (1, 3):
        eps, nx, ny = _ksg._ksg_counts(x, y, 3, 1, threads)
        ref = digamma(3) + digamma(n) - psi(nx + 1) - psi(ny + 1)
        assert _ksg._ksg_value(x, y, 3, 1, threads)[0] == pytest.approx(ref, abs=1e-12)
        ext, nx, ny = _ksg._ksg_counts(z, y, 4, 2, threads)
        ref = digamma(4) - 1 / 4 + digamma(n) - psi(nx) - psi(ny)
        assert _ksg._ksg_value(z, y, 4, 2, threads)[0] == pytest.approx(ref, abs=1e-12)
        xr = np.round(x, 1)
        _, kt, nx, ny = _mixed._mixed_counts(xr, y, 3, threads)
        ref = psi(kt) + np.log(n) - psi(nx) - psi(ny)
        assert _mixed._mixed_value(xr, y, 3, threads) == pytest.approx(ref, abs=1e-12)
        _, k_used, m = _mixed._ross_counts(z, codes, 3, threads)
        ref = digamma(n) + psi(k_used) - psi(np.bincount(codes)[codes]) - psi(m)
        assert _mixed._ross_value(z, codes, 3, threads)[0] == pytest.approx(ref, abs=1e-12)
        _, nxz, nyz, nz = _ksg._cmi_counts(x, y, z, 3, threads)
        ref = digamma(3) - psi(nxz + 1) - psi(nyz + 1) + psi(nz + 1)
        assert _ksg._cmi_value(x, y, z, 3, threads)[0] == pytest.approx(ref, abs=1e-12)
    tree = KDTree(z, 8, 2)
    r = np.abs(rng.standard_normal(n)) * 0.05
    np.testing.assert_array_equal(np.sort(tree.count(r, 2, False)), np.sort(tree.count(r, 2)))


def test_presort_helper_thread(rng, monkeypatch):
    n = _common._Presort._MIN_ROWS
    a, b = rng.standard_normal((n, 1)), rng.standard_normal((n, 2))
    for threads in (1, 2):
        sort = _common._Presort([a, b], threads)
        np.testing.assert_array_equal(a[sort.order(0), 0], np.sort(a[:, 0]))
        assert sort.order(1) is None

    def broken(*args, **kwargs):
        raise MemoryError("no room to sort")

    monkeypatch.setattr(_common.np, "argsort", broken)
    sort = _common._Presort([a], 2)
    with pytest.raises(MemoryError, match="no room"):
        sort.order(0)


@pytest.mark.parametrize("n_threads", [1, 2])
def test_exact_column_sums_equal_fsum_whatever_the_order(n_threads):
    """The standardisation's sums are correctly rounded (math.fsum's result), so they do not
    depend on the row order; with a shift they are sums of squared deviations."""
    import math

    from fastmi._ksg_cy import exact_column_sums

    rng = np.random.default_rng(3)
    for trial in range(100):
        n, d = int(rng.integers(1, 2000)), int(rng.integers(1, 4))
        a = rng.standard_normal((n, d)) * 10.0 ** rng.integers(-40, 40, size=(n, d))
        s = exact_column_sums(a, None, n_threads)
        assert np.array_equal(s, [math.fsum(c) for c in a.T])
        assert np.array_equal(exact_column_sums(np.ascontiguousarray(a[rng.permutation(n)]), None, n_threads), s)
        shift = s / n
        assert np.array_equal(exact_column_sums(a, shift, n_threads),
                              [math.fsum((c - m) ** 2) for c, m in zip(a.T, shift)])
    with pytest.raises(OverflowError, match="overflows"):
        exact_column_sums(np.array([[1e308], [1e308]]), None, n_threads)
    with pytest.raises(ValueError, match="one value per column"):
        exact_column_sums(np.ones((3, 2)), np.ones(3), n_threads)


# ----------------------------------------------------------------- 2-D grid k-NN
def _grid_cases(rng, n):
    x = rng.standard_normal(n)
    yield "independent", x, rng.standard_normal(n)
    yield "correlated", x, 0.9 * x + 0.3 * rng.standard_normal(n)
    yield "on a line", x, x.copy()
    yield "coarse ties", np.round(x * 2) / 2, np.round(rng.standard_normal(n) * 2) / 2
    c = rng.standard_cauchy(n)
    yield "heavy tails", c, c + rng.standard_cauchy(n)
    u = rng.uniform(size=n)
    yield "thin band", u, u + rng.uniform(-0.1, 0.1, n)


@pytest.mark.parametrize("k", [1, 3, 10])
def test_grid_knn_matches_brute_force(rng, k):
    """Every k-th neighbour distance of the marginal-quantile grid equals the O(n^2) answer,
    whatever the number of cells (1, coarse, the default, one column per point)."""
    from fastmi._ksg_cy import grid_knn2

    n = 600
    for what, x, y in _grid_cases(rng, n):
        ref = kth_others(cheb(np.column_stack([x, y])), k)
        ox, oy = np.argsort(x), np.argsort(y)
        for cells in (1, 3, int(np.sqrt(n / 2)), n):
            for threads in (1, 2):
                got = grid_knn2(x, y, ox, oy, k, cells, np.inf, threads)
                np.testing.assert_array_equal(got, ref, err_msg=f"{what}, {cells} cells")


def test_grid_knn_matches_tree_on_large_data_and_gives_up_on_a_curve(rng):
    from fastmi._ksg_cy import grid_knn2

    n = 50_000
    for what, x, y in _grid_cases(rng, n):
        x, y = (x - x.mean()) / x.std(), (y - y.mean()) / y.std()
        ref, _ = KDTree(np.column_stack([x, y]), 8, 2).knn(3, n_threads=2)
        ox, oy = np.argsort(x), np.argsort(y)
        got = grid_knn2(x, y, ox, oy, 3, int(np.sqrt(n / 2)), np.inf, 2)
        np.testing.assert_array_equal(got, ref, err_msg=what)
        default = grid_knn2(x, y, ox, oy, 3, int(np.sqrt(n / 2)), _common._GRID_WORK * 4, 2)
        # y = x puts ~n / G points in each diagonal cell: the probe hands it to the tree
        assert (default is None) == (what == "on a line"), what
    assert grid_knn2(x, y, ox, oy, 3, 10, 0.0, 1) is None
    with pytest.raises(ValueError, match="1 <= G <= n"):
        grid_knn2(x, y, ox, oy, 3, 0, np.inf, 1)
    with pytest.raises(ValueError, match="same length"):
        grid_knn2(x, y[:-1], ox, oy, 3, 10, np.inf, 1)


@pytest.mark.parametrize("ties", [False, True])
def test_ksg_counts_through_the_grid(rng, monkeypatch, ties):
    """KSG-1 on 1-D x and y goes through the grid (or, on a curve, the tree): its counts equal
    brute force."""
    monkeypatch.setattr(_common, "_GRID_MIN_ROWS", 16)
    calls = []
    real = _common._ksg_cy.grid_knn2
    monkeypatch.setattr(_common._ksg_cy, "grid_knn2", lambda *a: calls.append(1) or real(*a))
    for y_of_x in (lambda x, e: x + e, lambda x, e: x.copy()):
        x = make(rng, 400, 1, ties)
        y = y_of_x(x, make(rng, 400, 1, ties))
        got = _ksg._ksg_counts(x, y, 3, 1, n_threads=2)
        for g, r in zip(got, ref_ksg(x, y, 3, 1)):
            np.testing.assert_array_equal(g, r)
    assert len(calls) == 2


# ----------------------------------------------------------------- 2-D / 3-D grid counts and k-NN
def _nd_cases(rng, n, d):
    x = rng.standard_normal((n, d))
    yield "independent", x, rng.standard_normal(n)
    yield "dependent", x, x.sum(axis=1) + 0.3 * rng.standard_normal(n)
    yield "columns on a line", np.repeat(x[:, :1], d, axis=1) + 1e-3 * x, rng.standard_normal(n)
    yield "coarse ties", np.round(x * 2) / 2, np.round(rng.standard_normal(n) * 2) / 2
    dup = np.round(x, 1)
    dup[::3] = dup[0]
    yield "repeated rows", dup, np.where(np.arange(n) % 3 == 0, 0.5, rng.standard_normal(n))
    yield "heavy tails", rng.standard_cauchy((n, d)), rng.standard_cauchy(n)


def _cut_sets(a):
    """No cuts (one slab per axis), coarse, the default, and about one slab per point."""
    n, d = a.shape
    yield [np.zeros(0)] * d
    for rows in (n // 4, _common._GRID_ND_ROWS_PER_CELL[d], 1):
        yield _common._grid_cuts(a, rows)


@pytest.mark.parametrize("d", [2, 3])
def test_grid_count_matches_brute_force(rng, d):
    """Every count of the slab grid equals the O(n^2) answer, at radii equal to pairwise
    distances, just below them, 0 and negative, whatever the cuts and the threads."""
    from fastmi._ksg_cy import grid_count

    n = 500
    for what, a, _ in _nd_cases(rng, n, d):
        dist = cheb(a)
        radius = dist[np.arange(n), rng.integers(0, n, n)]
        radius[::7] = np.nextafter(radius[::7], 0)
        radius[::11] = 0.0
        radius[::13] = -1.0
        expected = (dist <= radius[:, None]).sum(axis=1)
        for cuts in _cut_sets(a):
            for threads in (1, 2):
                got = grid_count(a, radius, cuts, np.inf, threads)
                np.testing.assert_array_equal(got, expected, err_msg=f"{what}, {[len(c) for c in cuts]} cuts")
            unordered = grid_count(a, radius, cuts, np.inf, 2, False)
            np.testing.assert_array_equal(np.sort(unordered), np.sort(expected))


@pytest.mark.parametrize("d", [2, 3])
@pytest.mark.parametrize("k", [1, 3, 10])
def test_grid_knn_count_matches_brute_force(rng, d, k):
    """The joint k-th neighbour distance over (grid columns, extra column) and the counts strictly
    inside it in the grid's columns (all tied points where it is 0) equal brute force."""
    from fastmi._ksg_cy import grid_knn_count

    n = 400
    for what, a, e in _nd_cases(rng, n, d):
        eps = kth_others(cheb(np.column_stack([a, e])), k)
        counts = strictly_within(cheb(a), eps)
        for cuts in _cut_sets(a):
            for threads in (1, 2):
                got_eps, got = grid_knn_count(a, e, cuts, k, np.inf, threads)
                msg = f"{what}, {[len(c) for c in cuts]} cuts, {threads} threads"
                np.testing.assert_array_equal(got_eps, eps, err_msg=msg)
                np.testing.assert_array_equal(got, counts, err_msg=msg)


def test_grid_knn_count_more_candidates_than_its_scratch(rng):
    """Where a point has more candidates than the per-thread scratch holds (thousands of copies
    of one x, spread in y), its count is taken again by the counting query: still exact."""
    from fastmi._ksg_cy import grid_knn_count

    n = 3000
    a = rng.standard_normal((n, 2))
    a[: n - 200] = a[0]
    e = rng.standard_normal(n)
    eps = kth_others(cheb(np.column_stack([a, e])), 3)
    got_eps, got = grid_knn_count(a, e, _common._grid_cuts(a, 16), 3, np.inf, 2)
    np.testing.assert_array_equal(got_eps, eps)
    np.testing.assert_array_equal(got, strictly_within(cheb(a), eps))
    assert got.max() > 2048


def test_grid_probes_hand_curves_to_the_trees(rng):
    """On 50 000 points, columns on a curve fill the cells along it: the probe returns None (the
    kd-trees take over); Gaussian data stay on the grid and equal the trees' answer."""
    from fastmi._ksg_cy import grid_count, grid_knn_count

    n = 50_000
    x = rng.standard_normal((n, 3))
    e = rng.standard_normal(n)
    limit = _common._GRID_ND_WORK * 4
    line = np.repeat(x[:, :1], 3, axis=1) + 1e-4 * x
    for what, a in (("gaussian", x), ("line", line)):
        cuts = _common._grid_cuts(a, _common._GRID_ND_ROWS_PER_CELL[3])
        got = grid_knn_count(a, e, cuts, 3, limit, 2)
        assert (got is None) == (what == "line"), what
        if got is not None:
            eps = KDTree(np.column_stack([a, e]), 8, 2).knn(3, n_threads=2)[0]
            np.testing.assert_array_equal(got[0], eps)
            np.testing.assert_array_equal(got[1], KDTree(a, 16, 2).count(_common._strict(eps), 2) - 1)
    assert grid_count(x, np.ones(n), _common._grid_cuts(x, 8), 0.0, 1) is None


def test_grid_rejects_bad_arguments(rng):
    from fastmi._ksg_cy import grid_count, grid_knn_count

    a = rng.standard_normal((50, 3))
    cuts = _common._grid_cuts(a, 4)
    with pytest.raises(ValueError, match="2 or 3 columns"):
        grid_count(rng.standard_normal((50, 4)), np.ones(50), cuts + [cuts[0]])
    with pytest.raises(ValueError, match="one array of cuts per column"):
        grid_count(a, np.ones(50), cuts[:2])
    with pytest.raises(ValueError, match="radius must have 50 entries"):
        grid_count(a, np.ones(49), cuts)
    with pytest.raises(ValueError, match="extra must have 50 entries"):
        grid_knn_count(a, np.ones(49), cuts, 3)
    with pytest.raises(ValueError, match="1 <= k < n"):
        grid_knn_count(a, np.ones(50), cuts, 50)


@pytest.mark.parametrize("dims", [(2, 1), (3, 1), (1, 2), (1, 3)])
@pytest.mark.parametrize("ties", [False, True])
def test_ksg_counts_through_the_nd_grid(rng, monkeypatch, dims, ties):
    """KSG-1 with one marginal of 2 or 3 columns and the other of 1 goes through the grid (on
    whichever side has the columns): its radii and both counts equal brute force."""
    monkeypatch.setattr(_common, "_GRID_ND_MIN_ROWS", 16)
    calls = []
    real = _common._ksg_cy.grid_knn_count
    monkeypatch.setattr(_common._ksg_cy, "grid_knn_count", lambda *a: calls.append(a[0].shape[1]) or real(*a))
    x, y = make(rng, 300, dims[0], ties), make(rng, 300, dims[1], ties)
    y[:, 0] += x[:, 0]
    ref_eps, ref_nx, ref_ny = ref_ksg(x, y, 3, 1)
    for by_row in (True, False):
        eps, nx, ny = _ksg._ksg_counts(x, y, 3, 1, n_threads=2, by_row=by_row)
        same = (lambda v: v) if by_row else np.sort  # by_row=False: the counts in some fixed order
        np.testing.assert_array_equal(eps, ref_eps)
        np.testing.assert_array_equal(same(nx), same(ref_nx))
        np.testing.assert_array_equal(same(ny), same(ref_ny))
    assert calls == [max(dims)] * 2


@pytest.mark.parametrize("ties", [False, True])
def test_estimator_counts_through_the_grid_count(rng, monkeypatch, ties):
    """With the grids allowed from 16 rows, the 2-D and 3-D counts of the conditional, mixed, Ross
    and KSG-2 estimators go through ``grid_count``: all equal brute force."""
    monkeypatch.setattr(_common, "_GRID_ND_MIN_ROWS", 16)
    calls = []
    real = _common._ksg_cy.grid_count
    monkeypatch.setattr(_common._ksg_cy, "grid_count", lambda *a: calls.append(a[0].shape[1]) or real(*a))
    n = 150
    x, y, z = make(rng, n, 1, ties), make(rng, n, 2, ties), make(rng, n, 1, ties)
    x[:, 0] += z[:, 0]
    y[:, 0] += z[:, 0]
    for g, r in zip(_ksg._cmi_counts(x, y, z, 3, n_threads=2), ref_cmi(x, y, z, 3)):
        np.testing.assert_array_equal(g, r)
    for g, r in zip(_mixed._mixed_counts(y, x, 3, n_threads=2), ref_mixed(y, x, 3)):
        np.testing.assert_array_equal(g, r)
    codes = np.arange(n) % 3
    for g, r in zip(_mixed._ross_counts(y, codes, 3, n_threads=2), ref_ross(y, codes, 3)):
        np.testing.assert_array_equal(g, r)
    x3 = make(rng, n, 3, ties)
    for g, r in zip(_ksg._ksg_counts(x3, y, 3, 2, n_threads=2), ref_ksg(x3, y, 3, 2)):
        np.testing.assert_array_equal(g, r)
    assert calls.count(2) >= 4 and 3 in calls, calls


@pytest.mark.parametrize("ties", [False, True])
def test_ksg1_pieces_match_the_counts_of_each_piece(rng, ties):
    """The batched partition kernel gives every piece the counts that ``_ksg_counts`` gives that
    piece alone (in its own order), for any thread count; rows in no piece are ignored."""
    import math

    from fastmi._ksg_cy import ksg1_pieces

    n, P, s = 5000, 6, 700
    x = make(rng, n, 1, ties)[:, 0]
    y = x + make(rng, n, 1, ties)[:, 0]
    rows = rng.permutation(n)[:P * s].reshape(P, s)
    piece_of = np.full(n, -1, dtype=np.intp)
    for p in range(P):
        piece_of[rows[p]] = p
    ox, oy = np.argsort(x), np.argsort(y)
    cells = math.isqrt(s // _common._GRID_ROWS_PER_CELL)
    for threads in (1, 2):
        nx, ny = ksg1_pieces(x, y, ox, oy, piece_of, P, s, 3, cells, np.inf, threads)
        for p in range(P):
            idx = np.sort(rows[p])
            _, rx, ry = _ksg._ksg_counts(x[idx, None], y[idx, None], 3, 1, n_threads=1)
            np.testing.assert_array_equal(np.sort(nx[p]), np.sort(rx))
            np.testing.assert_array_equal(np.sort(ny[p]), np.sort(ry))
    assert ksg1_pieces(x, y, ox, oy, piece_of, P, s, 3, cells, 0.0, 1) is None  # every probe too slow
    with pytest.raises(ValueError, match="every piece must hold s=701 points"):
        ksg1_pieces(x, y, ox, oy, piece_of, P, s + 1, 3, cells, np.inf, 1)
    with pytest.raises(ValueError, match="same length"):
        ksg1_pieces(x, y[:-1], ox, oy, piece_of, P, s, 3, cells, np.inf, 1)
    with pytest.raises(ValueError, match="1 <= k < s"):
        ksg1_pieces(x, y, ox, oy, piece_of, P, s, s, cells, np.inf, 1)


def test_batched_partition_error_bar_equals_the_piece_by_piece_one(rng, monkeypatch):
    """KSG-1's default error bar on 1-D data comes from the batched kernel; it is the piece-by-
    piece one bit for bit, with 1 or 2 threads and with a repeated partition (n < 64 * 250)."""
    from fastmi.knn import ksg_mutual_info

    calls = []
    real = _ksg._ksg_cy.ksg1_pieces
    monkeypatch.setattr(_ksg._ksg_cy, "ksg1_pieces", lambda *a: calls.append(1) or real(*a))
    for n in (20_000, 6000):
        x = rng.standard_normal(n)
        y = 0.5 * x + rng.standard_normal(n)
        batched = [ksg_mutual_info(x, y, rng=1, n_jobs=j) for j in (1, 2)]
        with monkeypatch.context() as m:
            m.setattr(_ksg, "_ksg1_batch", lambda *a: None)
            single = ksg_mutual_info(x, y, rng=1, n_jobs=2)
        for r in batched:
            np.testing.assert_array_equal(r.samples, single.samples)
            assert r.std == single.std and r.diagnostics["resampling"]["scheme"] == "partition"
        assert single.diagnostics["resampling"]["repeats"] == (1 if n == 20_000 else 3)
    assert len(calls) == 2 + 2 * 3


def test_exact_column_sums_over_the_whole_float64_range():
    """Subnormals, the largest doubles, and cancellation between them: still math.fsum's result;
    a sum that only overflows part-way (fsum raises there) is exact."""
    import math

    from fastmi._ksg_cy import exact_column_sums

    rng = np.random.default_rng(5)
    tiny, huge = 5e-324, np.finfo(np.float64).max
    for trial in range(50):
        n = int(rng.integers(1, 500))
        a = rng.standard_normal(n) * 10.0 ** rng.integers(-320, 300, size=n)
        a[rng.random(n) < 0.1] = tiny * rng.integers(-3, 4)
        a = np.concatenate([a, -a[: n // 3], [huge / 4, -huge / 4]])
        col = np.ascontiguousarray(a[rng.permutation(len(a))][:, None])
        assert exact_column_sums(col)[0] == math.fsum(col[:, 0])
    assert exact_column_sums(np.array([[huge], [huge], [-huge]]))[0] == huge
    assert exact_column_sums(np.array([[0.1], [0.2], [0.3]]))[0] == math.fsum([0.1, 0.2, 0.3])
