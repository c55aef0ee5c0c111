# cython: language_level=3
"""Nearest-neighbour kernels for the KSG family (fastmi._ksg_cy).

Everything here assumes clean input: C-contiguous float64 arrays without NaN
or inf, ``1 <= k < n``, validated once by the caller in ``fastmi._ksg``.
Distances are max-norm (Chebyshev) distances, computed for a pair of points
exactly as ``max_d fabs(a[d] - b[d])`` so that every count and radius equals
the brute-force O(n^2) answer bit for bit.

Parallel loops run over query points (``prange``); each iteration writes only
its own output slots and uses its own scratch row (indexed by
``threadid()``), so results do not depend on the number of threads. Without
OpenMP the loops compile to serial loops.
"""
cimport cython
from cython.parallel cimport prange, threadid
from libc.math cimport fabs, INFINITY

import numpy as np

ctypedef Py_ssize_t intp

# Depth-first stacks hold at most two entries per tree level.
cdef enum:
    STACK_SIZE = 160


@cython.final
cdef class KDTree:
    """A kd-tree over the rows of ``X`` for max-norm queries by its own points.

    The tree is implicit and balanced: node ``i`` has children ``2i+1`` and
    ``2i+2``; every split is at the median position of the node's range, on
    the dimension of widest spread. Points are stored in tree order, so a
    leaf is a contiguous block of rows. Every node keeps the tight bounding
    box of its points, which makes pruning consistent with the exact
    point-to-point distances.

    Parameters
    ----------
    X : ndarray of shape (n, d), float64, C-contiguous
        The points (copied).
    leafsize : int, default=8
        Maximum number of points in a leaf (>= 2).
    n_threads : int, default=1
        Threads used for the build.
    """

    cdef readonly intp n, dim, levels, leafsize, n_nodes, first_leaf
    cdef double[:, ::1] data
    cdef intp[::1] perm
    cdef intp[::1] start
    cdef intp[::1] end
    cdef double[:, ::1] lo
    cdef double[:, ::1] hi
    # per-thread scratch: k best distances / tree positions, DFS stacks
    cdef double[:, ::1] bd
    cdef intp[:, ::1] bi
    cdef intp[:, ::1] stk

    def __init__(self, const double[:, ::1] X, intp leafsize=8, int n_threads=1):
        cdef intp n = X.shape[0], dim = X.shape[1], levels = 0, level, node, a, b
        if n < 1 or dim < 1:
            raise ValueError("KDTree needs at least one point and one dimension")
        if leafsize < 2:
            raise ValueError("leafsize must be >= 2")
        while (n + (1 << levels) - 1) >> levels > leafsize:
            levels += 1
        self.n, self.dim, self.levels, self.leafsize = n, dim, levels, leafsize
        self.n_nodes = (2 << levels) - 1
        self.first_leaf = (1 << levels) - 1
        self.data = np.array(X, dtype=np.float64, order="C", copy=True)
        self.perm = np.arange(n, dtype=np.intp)
        self.start = np.zeros(self.n_nodes, dtype=np.intp)
        self.end = np.zeros(self.n_nodes, dtype=np.intp)
        self.lo = np.empty((self.n_nodes, dim), dtype=np.float64)
        self.hi = np.empty((self.n_nodes, dim), dtype=np.float64)
        self.end[0] = n
        for level in range(levels + 1):
            a = (1 << level) - 1
            b = (2 << level) - 1
            with nogil:
                for node in prange(a, b, num_threads=n_threads, schedule="dynamic"):
                    self._build_node(node, level < levels)

    @property
    def indices(self):
        """Original row index of each point, in tree order."""
        return np.asarray(self.perm).copy()

    # ------------------------------------------------------------------ build
    cdef void _build_node(self, intp node, bint split) noexcept nogil:
        cdef intp s = self.start[node], e = self.end[node], i, d, mid, best = 0
        cdef double v, spread = -1.0
        for d in range(self.dim):
            self.lo[node, d] = INFINITY
            self.hi[node, d] = -INFINITY
        for i in range(s, e):
            for d in range(self.dim):
                v = self.data[i, d]
                if v < self.lo[node, d]:
                    self.lo[node, d] = v
                if v > self.hi[node, d]:
                    self.hi[node, d] = v
        if not split:
            return
        mid = s + (e - s) // 2
        self.start[2 * node + 1] = s
        self.end[2 * node + 1] = mid
        self.start[2 * node + 2] = mid
        self.end[2 * node + 2] = e
        if e - s < 2:
            return
        for d in range(self.dim):
            if self.hi[node, d] - self.lo[node, d] > spread:
                spread = self.hi[node, d] - self.lo[node, d]
                best = d
        self._select(s, e - 1, mid, best)

    cdef inline void _swap(self, intp i, intp j) noexcept nogil:
        cdef intp d, p
        cdef double v
        for d in range(self.dim):
            v = self.data[i, d]
            self.data[i, d] = self.data[j, d]
            self.data[j, d] = v
        p = self.perm[i]
        self.perm[i] = self.perm[j]
        self.perm[j] = p

    cdef void _select(self, intp l, intp r, intp kth, intp d) noexcept nogil:
        """Reorder rows l..r (inclusive) so that row kth holds the value of
        rank kth on dimension d, rows before it <= and rows after it >=.
        Wirth's selection with a median-of-three pivot; after 64 passes it
        falls back to heapsort, so the worst case is O(m log m)."""
        cdef intp i, j, m, passes = 0
        cdef double pivot
        while r > l:
            passes += 1
            if passes > 64:
                self._heapsort(l, r, d)
                return
            m = l + (r - l) // 2
            # median of (l, m, r) moved to kth
            if self.data[m, d] < self.data[l, d]:
                self._swap(m, l)
            if self.data[r, d] < self.data[l, d]:
                self._swap(r, l)
            if self.data[r, d] < self.data[m, d]:
                self._swap(r, m)
            self._swap(m, kth)
            pivot = self.data[kth, d]
            i = l
            j = r
            while i <= j:
                while self.data[i, d] < pivot:
                    i += 1
                while pivot < self.data[j, d]:
                    j -= 1
                if i <= j:
                    self._swap(i, j)
                    i += 1
                    j -= 1
            if j < kth:
                l = i
            if kth < i:
                r = j

    cdef void _sift(self, intp base, intp root, intp count, intp d) noexcept nogil:
        cdef intp child
        while 2 * root + 1 < count:
            child = 2 * root + 1
            if child + 1 < count and self.data[base + child, d] < self.data[base + child + 1, d]:
                child += 1
            if self.data[base + root, d] < self.data[base + child, d]:
                self._swap(base + root, base + child)
                root = child
            else:
                return

    cdef void _heapsort(self, intp l, intp r, intp d) noexcept nogil:
        cdef intp count = r - l + 1, i
        i = count // 2 - 1
        while i >= 0:
            self._sift(l, i, count, d)
            i -= 1
        i = count - 1
        while i > 0:
            self._swap(l, l + i)
            self._sift(l, 0, i, d)
            i -= 1

    # ---------------------------------------------------------- geometry
    cdef inline double _min_dist(self, intp node, intp t) noexcept nogil:
        """Lower bound of the distance from point t to any point of node."""
        cdef intp d
        cdef double r = 0.0, v, q
        for d in range(self.dim):
            q = self.data[t, d]
            v = self.lo[node, d] - q
            if v > r:
                r = v
            v = q - self.hi[node, d]
            if v > r:
                r = v
        return r

    cdef inline double _max_dist(self, intp node, intp t) noexcept nogil:
        """Upper bound of the distance from point t to any point of node."""
        cdef intp d
        cdef double r = 0.0, v, q
        for d in range(self.dim):
            q = self.data[t, d]
            v = fabs(q - self.lo[node, d])
            if v > r:
                r = v
            v = fabs(q - self.hi[node, d])
            if v > r:
                r = v
        return r

    cdef inline double _dist(self, intp t, intp j, double bound) noexcept nogil:
        """Max-norm distance between points t and j; stops early (returning
        a value > bound) once it exceeds ``bound``."""
        cdef intp d
        cdef double r = 0.0, v
        for d in range(self.dim):
            v = fabs(self.data[t, d] - self.data[j, d])
            if v > r:
                r = v
                if r > bound:
                    return r
        return r

    # ----------------------------------------------------------- k-NN
    cdef inline void _offer(self, intp tid, intp k, intp* filled, double dist,
                            intp j, bint tiebreak) noexcept nogil:
        """Insert candidate j at distance dist into thread tid's sorted list."""
        cdef intp pos
        cdef double pd
        if filled[0] < k:
            pos = filled[0]
            filled[0] += 1
        else:
            pd = self.bd[tid, k - 1]
            if dist > pd:
                return
            if dist == pd and (not tiebreak or self.perm[j] >= self.perm[self.bi[tid, k - 1]]):
                return
            pos = k - 1
        while pos > 0:
            pd = self.bd[tid, pos - 1]
            if dist < pd or (tiebreak and dist == pd and
                             self.perm[j] < self.perm[self.bi[tid, pos - 1]]):
                self.bd[tid, pos] = pd
                self.bi[tid, pos] = self.bi[tid, pos - 1]
                pos -= 1
            else:
                break
        self.bd[tid, pos] = dist
        self.bi[tid, pos] = j

    cdef inline bint _prune(self, intp tid, intp k, intp filled, double bound,
                            bint tiebreak) noexcept nogil:
        if filled < k:
            return False
        if tiebreak:
            return bound > self.bd[tid, k - 1]
        return bound >= self.bd[tid, k - 1]

    cdef void _scan_knn(self, intp node, intp t, intp k, intp tid, intp* filled,
                        bint tiebreak) noexcept nogil:
        cdef intp j
        cdef double worst, dist
        for j in range(self.start[node], self.end[node]):
            if j == t:
                continue
            worst = self.bd[tid, k - 1] if filled[0] == k else INFINITY
            dist = self._dist(t, j, worst)
            if dist <= worst:
                self._offer(tid, k, filled, dist, j, tiebreak)

    cdef void _search_knn(self, intp root, intp t, intp k, intp tid, intp* filled,
                          bint tiebreak) noexcept nogil:
        """Depth-first k-NN search of the subtree at root, nearer child first."""
        cdef intp sp = 0, node, c1, c2
        cdef double d1, d2
        if self._prune(tid, k, filled[0], self._min_dist(root, t), tiebreak):
            return
        self.stk[tid, 0] = root
        sp = 1
        while sp > 0:
            sp -= 1
            node = self.stk[tid, sp]
            if node >= self.first_leaf:
                self._scan_knn(node, t, k, tid, filled, tiebreak)
                continue
            c1 = 2 * node + 1
            c2 = c1 + 1
            d1 = self._min_dist(c1, t)
            d2 = self._min_dist(c2, t)
            if d2 < d1:
                c1, c2 = c2, c1
                d1, d2 = d2, d1
            # push the farther child first so the nearer one is searched first
            if not self._prune(tid, k, filled[0], d2, tiebreak):
                self.stk[tid, sp] = c2
                sp += 1
            if not self._prune(tid, k, filled[0], d1, tiebreak):
                self.stk[tid, sp] = c1
                sp += 1
            # re-check on pop is unnecessary for correctness; children are
            # pruned against the bound current when they were pushed.

    cdef void _knn_one(self, intp t, intp leaf, intp k, intp tid, bint tiebreak) noexcept nogil:
        """k nearest neighbours of point t (excluding t itself): own leaf
        first, then the sibling subtree of every ancestor, bottom-up."""
        cdef intp filled = 0, node = leaf, sib
        self._scan_knn(leaf, t, k, tid, &filled, tiebreak)
        while node > 0:
            sib = node + 1 if (node & 1) else node - 1
            self._search_knn(sib, t, k, tid, &filled, tiebreak)
            node = (node - 1) >> 1

    def knn(self, intp k, groups=None, bint tiebreak=False, int n_threads=1):
        """Distance to the k-th nearest neighbour of every point.

        Parameters
        ----------
        k : int
            Neighbour rank, ``1 <= k < n``; a point is not its own neighbour.
        groups : sequence of int, optional
            Column boundaries ``[c0, c1, ..., cG]`` of G column groups. For
            each group, also return the largest max-norm distance, within that
            group's columns, from the point to its k neighbours (the marginal
            extents of KSG algorithm 2).
        tiebreak : bool, default=False
            Make the neighbour *set* well defined under ties by ordering
            candidates by (distance, original row index). The k-th distance
            itself never depends on it.
        n_threads : int, default=1

        Returns
        -------
        eps : ndarray of shape (n,)
            k-th neighbour distance, by original row.
        extents : ndarray of shape (n, G) or None
        """
        cdef intp n = self.n, G, g, li, leaf, t, i, m, c, j, n_leaves
        cdef double e, v
        if k < 1 or k >= n:
            raise ValueError(f"k must satisfy 1 <= k < n = {n}, got {k}")
        if n_threads < 1:
            raise ValueError("n_threads must be >= 1")
        cdef intp[::1] grp = np.asarray(groups if groups is not None else [0], dtype=np.intp)
        G = grp.shape[0] - 1
        for g in range(G):
            if not (0 <= grp[g] < grp[g + 1] <= self.dim):
                raise ValueError("groups must be increasing column boundaries within [0, dim]")
        out_eps = np.empty(n, dtype=np.float64)
        out_ext = np.empty((n, max(G, 0)), dtype=np.float64)
        cdef double[::1] eps = out_eps
        cdef double[:, ::1] ext = out_ext
        self.bd = np.empty((n_threads, k), dtype=np.float64)
        self.bi = np.empty((n_threads, k), dtype=np.intp)
        self.stk = np.empty((n_threads, STACK_SIZE), dtype=np.intp)
        n_leaves = self.n_nodes - self.first_leaf
        cdef intp tid
        with nogil:
            for li in prange(n_leaves, num_threads=n_threads, schedule="dynamic", chunksize=32):
                tid = threadid()
                leaf = self.first_leaf + li
                for t in range(self.start[leaf], self.end[leaf]):
                    self._knn_one(t, leaf, k, tid, tiebreak)
                    i = self.perm[t]
                    eps[i] = self.bd[tid, k - 1]
                    for g in range(G):
                        e = 0.0
                        for m in range(k):
                            j = self.bi[tid, m]
                            for c in range(grp[g], grp[g + 1]):
                                v = fabs(self.data[t, c] - self.data[j, c])
                                if v > e:
                                    e = v
                        ext[i, g] = e
        return out_eps, (out_ext if groups is not None else None)

    # ---------------------------------------------------------- counts
    cdef intp _count_subtree(self, intp root, intp t, double r, intp tid) noexcept nogil:
        cdef intp sp = 1, node, j, c = 0
        self.stk[tid, 0] = root
        while sp > 0:
            sp -= 1
            node = self.stk[tid, sp]
            if self._min_dist(node, t) > r:
                continue
            if self._max_dist(node, t) <= r:
                c += self.end[node] - self.start[node]
                continue
            if node >= self.first_leaf:
                for j in range(self.start[node], self.end[node]):
                    if self._dist(t, j, r) <= r:
                        c += 1
                continue
            self.stk[tid, sp] = 2 * node + 1
            self.stk[tid, sp + 1] = 2 * node + 2
            sp += 2
        return c

    cdef intp _count_one(self, intp t, intp leaf, double r, intp tid) noexcept nogil:
        cdef intp c, node = leaf, sib
        if r < 0:
            return 0
        c = self._count_subtree(leaf, t, r, tid)
        while node > 0:
            sib = node + 1 if (node & 1) else node - 1
            c += self._count_subtree(sib, t, r, tid)
            node = (node - 1) >> 1
        return c

    def count(self, const double[::1] radius, int n_threads=1):
        """Number of points within max-norm distance <= radius of each point.

        The count includes the point itself (distance 0) whenever
        ``radius >= 0``; a negative radius gives 0.

        Parameters
        ----------
        radius : ndarray of shape (n,), by original row
        n_threads : int, default=1

        Returns
        -------
        ndarray of shape (n,), intp, by original row
        """
        cdef intp n = self.n, li, leaf, t, i, n_leaves, tid
        if radius.shape[0] != n:
            raise ValueError(f"radius must have {n} entries, got {radius.shape[0]}")
        if n_threads < 1:
            raise ValueError("n_threads must be >= 1")
        out = np.empty(n, dtype=np.intp)
        cdef intp[::1] cnt = out
        self.stk = np.empty((n_threads, STACK_SIZE), dtype=np.intp)
        n_leaves = self.n_nodes - self.first_leaf
        with nogil:
            for li in prange(n_leaves, num_threads=n_threads, schedule="dynamic", chunksize=32):
                tid = threadid()
                leaf = self.first_leaf + li
                for t in range(self.start[leaf], self.end[leaf]):
                    i = self.perm[t]
                    cnt[i] = self._count_one(t, leaf, radius[i], tid)
        return out


@cython.cdivision(True)
def count_sorted(const double[::1] xs, const intp[::1] order, const double[::1] radius,
                 int n_threads=1):
    """1-D counts by binary search: for every point, how many points lie
    within ``|x_i - x_j| <= radius[i]`` (itself included when radius >= 0).

    Parameters
    ----------
    xs : ndarray of shape (n,)
        The values sorted ascending, ``xs = x[order]``.
    order : ndarray of shape (n,), intp
        The sorting permutation.
    radius : ndarray of shape (n,), by original row.
    n_threads : int, default=1

    Returns
    -------
    ndarray of shape (n,), intp, by original row

    Notes
    -----
    For a fixed query ``q = xs[p]``, ``fl(q - xs[j])`` is monotone in ``j``
    on the left of ``p`` and ``fl(xs[j] - q)`` on the right, so a galloping
    search from ``p`` followed by bisection finds the exact boundaries of the
    set ``{j : fabs(q - xs[j]) <= r}``; the count is therefore identical to
    the brute-force one.
    """
    cdef intp n = xs.shape[0], p, i, good, bad, step, j, left, right
    cdef double q, r
    if order.shape[0] != n or radius.shape[0] != n:
        raise ValueError("xs, order and radius must have the same length")
    if n_threads < 1:
        raise ValueError("n_threads must be >= 1")
    out = np.empty(n, dtype=np.intp)
    cdef intp[::1] cnt = out
    with nogil:
        for p in prange(n, num_threads=n_threads, schedule="static"):
            i = order[p]
            r = radius[i]
            q = xs[p]
            if r < 0:
                cnt[i] = 0
            else:
                # left boundary: smallest j <= p with q - xs[j] <= r
                good = p
                bad = -1
                step = 1
                while good - step >= 0:
                    j = good - step
                    if q - xs[j] <= r:
                        good = j
                        step = step * 2
                    else:
                        bad = j
                        break
                while good - bad > 1:
                    j = bad + (good - bad) // 2
                    if q - xs[j] <= r:
                        good = j
                    else:
                        bad = j
                left = good
                # right boundary: largest j >= p with xs[j] - q <= r
                good = p
                bad = n
                step = 1
                while good + step < n:
                    j = good + step
                    if xs[j] - q <= r:
                        good = j
                        step = step * 2
                    else:
                        bad = j
                        break
                while bad - good > 1:
                    j = good + (bad - good) // 2
                    if xs[j] - q <= r:
                        good = j
                    else:
                        bad = j
                right = good
                cnt[i] = right - left + 1
    return out
