# cython: language_level=3
"""Nearest-neighbour kernels for the KSG family (fastmi._ksg_cy).

Everything here assumes clean input: C-contiguous float64 arrays without NaN
or inf, ``1 <= k < n``, validated once by the caller in ``fastmi._ksg``.
Distances are max-norm (Chebyshev) distances, computed for a pair of points
exactly as ``max_d fabs(a[d] - b[d])``, or, for a tree built with
``metric='euclidean'``, Euclidean distances ``sqrt(sum_d (a[d] - b[d])**2)``
(summed in column order, searched on the squared sums, square root taken
once per result). Every pruning test is monotone in those same
floating-point operations, so every count and radius equals the brute-force
O(n^2) answer bit for bit.

Parallel loops run over query points (``prange``); each iteration writes only
its own output slots and uses its own (cache-line padded) scratch row,
indexed by ``threadid()``, so results do not depend on the number of threads.
Without OpenMP the loops compile to serial loops. Small problems run on one
thread: waking workers costs more than it saves there.
"""
cimport cython
from cython.parallel cimport prange, threadid
from libc.math cimport exp, fabs, floor, log, nextafter, sqrt, INFINITY

import numpy as np

ctypedef Py_ssize_t intp

cdef intp ONE = 1      # shifts on intp, not on C int

cdef enum:
    # depth-first stacks hold at most two entries per tree level, and a tree
    # over fewer than 2**63 points has fewer than 64 levels
    STACK_SIZE = 160
    # scratch rows are padded to whole cache lines (8 doubles / intps)
    PAD = 8
    # fewer queries than this per thread: run serially
    MIN_PER_THREAD = 8192


cdef inline int _threads(int n_threads, intp n_items) noexcept nogil:
    cdef intp useful = n_items // MIN_PER_THREAD
    if useful < 1:
        return 1
    if useful < n_threads:
        return <int>useful
    return n_threads


cdef inline intp _padded(intp k) noexcept nogil:
    return (k + 2 * PAD - 1) // PAD * PAD


@cython.final
cdef class KDTree:
    """A kd-tree over the rows of ``X`` for k-NN queries, by its own points
    (:meth:`knn`) or by other points (:meth:`query`), and max-norm counts.

    The tree is implicit and balanced: node ``i`` has children ``2i+1`` and
    ``2i+2``; every split is at the median position of the node's range, on
    the dimension of widest spread. Points are stored in tree order, so a
    leaf is a contiguous block of rows. Every node keeps the tight bounding
    box of its points, which makes pruning consistent with the exact
    point-to-point distances.

    Queries start in the query point's own leaf and climb: at each ancestor
    the sibling subtree is searched (depth first, nearer child first, pruned
    by box distance), and the climb stops as soon as the query ball lies
    strictly inside the box of the subtree searched so far -- kd cells have
    disjoint interiors, so no point outside can then be inside the ball.
    Queries by other points (:meth:`query`) search from the root down.

    Parameters
    ----------
    X : ndarray of shape (n, d), float64, C-contiguous
        The points (copied).
    leafsize : int, default=8
        Maximum number of points in a leaf (>= 2).
    n_threads : int, default=1
        Threads used for the build.
    metric : {'max', 'euclidean'}, default='max'
        Distance of the k-NN queries. :meth:`count` and the extents of
        :meth:`knn` are max-norm only.
    """

    cdef readonly intp n, dim, levels, leafsize, n_nodes, first_leaf
    # Euclidean metric: searches compare squared distances
    cdef readonly bint euclidean
    cdef double[:, ::1] data
    cdef intp[::1] perm
    cdef intp[::1] start
    cdef intp[::1] end
    cdef double[:, ::1] lo
    cdef double[:, ::1] hi
    # per-thread scratch of k-NN queries: the k best distances and tree
    # positions found so far, kept sorted (rows padded to cache lines)
    cdef double[:, ::1] bd
    cdef intp[:, ::1] bi

    def __init__(self, const double[:, ::1] X, intp leafsize=8, int n_threads=1, metric="max"):
        cdef intp n = X.shape[0], dim = X.shape[1], levels = 0, top = 0, level, node, a, b
        cdef int nt
        if n < 1 or dim < 1:
            raise ValueError("KDTree needs at least one point and one dimension")
        if leafsize < 2:
            raise ValueError("leafsize must be >= 2")
        if n_threads < 1:
            raise ValueError("n_threads must be >= 1")
        if metric not in ("max", "euclidean"):
            raise ValueError(f"metric must be 'max' or 'euclidean', got {metric!r}")
        self.euclidean = metric == "euclidean"
        while (n + (ONE << levels) - 1) >> levels > leafsize:
            levels += 1
        self.n, self.dim, self.levels, self.leafsize = n, dim, levels, leafsize
        self.n_nodes = (ONE << (levels + 1)) - 1
        self.first_leaf = (ONE << levels) - 1
        self.data = np.array(X, dtype=np.float64, order="C", copy=True)
        self.perm = np.arange(n, dtype=np.intp)
        self.start = np.zeros(self.n_nodes, dtype=np.intp)
        self.end = np.zeros(self.n_nodes, dtype=np.intp)
        self.lo = np.empty((self.n_nodes, dim), dtype=np.float64)
        self.hi = np.empty((self.n_nodes, dim), dtype=np.float64)
        self.end[0] = n
        nt = _threads(n_threads, n)
        # split the top levels serially until there is a subtree per thread
        # (a few to balance), then build those subtrees in one parallel loop
        if nt > 1:
            while top < levels and (ONE << top) < 4 * nt:
                top += 1
        with nogil:
            for level in range(top):
                for node in range((ONE << level) - 1, (ONE << (level + 1)) - 1):
                    self._build_node(node, True)
            a = (ONE << top) - 1
            b = (ONE << (top + 1)) - 1
            for node in prange(a, b, num_threads=nt, schedule="dynamic", chunksize=1):
                self._build_subtree(node, top)

    @property
    def metric(self):
        """'max' or 'euclidean'."""
        return "euclidean" if self.euclidean else "max"

    @property
    def indices(self):
        """Original row index of each point, in tree order."""
        return np.asarray(self.perm).copy()

    # ------------------------------------------------------------------ build
    cdef int _build_subtree(self, intp node, intp level) except -1 nogil:
        self._build_node(node, level < self.levels)
        if level < self.levels:
            self._build_subtree(2 * node + 1, level + 1)
            self._build_subtree(2 * node + 2, level + 1)
        return 0

    cdef int _build_node(self, intp node, bint split) except -1 nogil:
        """Tight box of the node; if ``split``, median-partition its rows on
        the widest dimension and set the children's ranges."""
        cdef intp s = self.start[node], e = self.end[node], i, d, mid, best = 0
        cdef double v, a, b, spread = -1.0
        for d in range(self.dim):
            a = INFINITY
            b = -INFINITY
            for i in range(s, e):
                v = self.data[i, d]
                a = v if v < a else a
                b = v if v > b else b
            self.lo[node, d] = a
            self.hi[node, d] = b
        if not split:
            return 0
        mid = s + (e - s) // 2
        self.start[2 * node + 1] = s
        self.end[2 * node + 1] = mid
        self.start[2 * node + 2] = mid
        self.end[2 * node + 2] = e
        if e - s < 2:
            return 0
        for d in range(self.dim):
            if self.hi[node, d] - self.lo[node, d] > spread:
                spread = self.hi[node, d] - self.lo[node, d]
                best = d
        self._select(s, e - 1, mid, best)
        return 0

    cdef inline int _swap(self, intp i, intp j) except -1 nogil:
        cdef intp d, p
        cdef double v
        for d in range(self.dim):
            v = self.data[i, d]
            self.data[i, d] = self.data[j, d]
            self.data[j, d] = v
        p = self.perm[i]
        self.perm[i] = self.perm[j]
        self.perm[j] = p
        return 0

    cdef int _select(self, intp l, intp r, intp kth, intp d) except -1 nogil:
        """Reorder rows l..r (inclusive) so that row kth holds the value of
        rank kth on dimension d, rows before it <= and rows after it >=.

        Floyd & Rivest's SELECT (CACM 1975, algorithm 489): on large ranges
        a recursive selection inside a small window around kth first places
        a pivot very close to the target, so one partition pass does most
        of the work (about 1.5 m comparisons for a median). After 64 passes
        it falls back to heapsort, so the worst case is O(m log m)."""
        cdef intp i, j, m, pos, newl, newr, passes = 0
        cdef double t, z, s, sd
        while r > l:
            passes += 1
            if passes > 64:
                self._heapsort(l, r, d)
                return 0
            if r - l > 600:
                m = r - l + 1
                pos = kth - l + 1
                z = log(<double>m)
                s = 0.5 * exp(2.0 * z / 3.0)
                sd = 0.5 * sqrt(z * s * (m - s) / m)
                if 2 * pos < m:
                    sd = -sd
                newl = <intp>floor(kth - pos * s / m + sd)
                newr = <intp>floor(kth + (m - pos) * s / m + sd)
                self._select(newl if newl > l else l, newr if newr < r else r, kth, d)
            t = self.data[kth, d]
            i = l
            j = r
            self._swap(l, kth)
            if self.data[r, d] > t:
                self._swap(r, l)
            # rows l and r now hold t and a value on the other side of t:
            # they are the sentinels of both scans
            while i < j:
                self._swap(i, j)
                i += 1
                j -= 1
                while self.data[i, d] < t:
                    i += 1
                while self.data[j, d] > t:
                    j -= 1
            if self.data[l, d] == t:
                self._swap(l, j)
            else:
                j += 1
                self._swap(j, r)
            if j <= kth:
                l = j + 1
            if kth <= j:
                r = j - 1
        return 0

    cdef int _sift(self, intp base, intp root, intp count, intp d) except -1 nogil:
        cdef intp child
        while 2 * root + 1 < count:
            child = 2 * root + 1
            if child + 1 < count and self.data[base + child, d] < self.data[base + child + 1, d]:
                child += 1
            if self.data[base + root, d] < self.data[base + child, d]:
                self._swap(base + root, base + child)
                root = child
            else:
                return 0
        return 0

    cdef int _heapsort(self, intp l, intp r, intp d) except -1 nogil:
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
        return 0

    # ---------------------------------------------------------- geometry
    # A query point is a pointer q to its coordinates (a row of the tree's
    # own data, or of the caller's query array). "Distances" in the search
    # are max-norm distances, or squared Euclidean distances.
    cdef inline double _min_dist(self, intp node, const double* q) except -1 nogil:
        """Lower bound of the distance from q to any point of node: for every
        coordinate p >= lo, fl(p - q) >= fl(lo - q), and squares and sums of
        nonnegative terms (added in the same order) are monotone too."""
        cdef intp d
        cdef double r = 0.0, a, b
        if self.euclidean:
            for d in range(self.dim):
                a = self.lo[node, d] - q[d]
                b = q[d] - self.hi[node, d]
                a = a if a > b else b
                a = a if a > 0.0 else 0.0
                r += a * a
            return r
        for d in range(self.dim):
            a = self.lo[node, d] - q[d]
            b = q[d] - self.hi[node, d]
            a = a if a > b else b
            r = a if a > r else r
        return r

    cdef inline int _ball_inside(self, intp node, const double* q, double r) except -1 nogil:
        """True when every point at distance <= r from q lies strictly
        inside node's box, so that it belongs to node's subtree. A point p
        with p >= hi has fl(p - q) >= fl(hi - q) > r (max-norm), or a squared
        Euclidean distance >= fl((hi - q)**2) > r, hence is outside."""
        cdef intp d
        cdef double a, b
        if self.euclidean:
            for d in range(self.dim):
                a = q[d] - self.lo[node, d]
                b = self.hi[node, d] - q[d]
                if not (a > 0.0 and b > 0.0 and a * a > r and b * b > r):
                    return False
            return True
        for d in range(self.dim):
            if not (q[d] - self.lo[node, d] > r and self.hi[node, d] - q[d] > r):
                return False
        return True

    cdef inline double _dist(self, const double* q, intp j) except -1 nogil:
        """Max-norm distance between q and point j (branch-free)."""
        cdef intp d
        cdef double r = 0.0, v
        for d in range(self.dim):
            v = fabs(q[d] - self.data[j, d])
            r = v if v > r else r
        return r

    cdef inline double _dist2(self, const double* q, intp j) except -1 nogil:
        """Squared Euclidean distance between q and point j, summed in column
        order (as ``scipy.spatial.distance.cdist`` sums it)."""
        cdef intp d
        cdef double r = 0.0, v
        for d in range(self.dim):
            v = q[d] - self.data[j, d]
            r += v * v
        return r

    # ----------------------------------------------------------- k-NN
    cdef inline int _offer(self, intp tid, intp k, intp* filled, double dist,
                            intp j, bint tiebreak) except -1 nogil:
        """Insert candidate j at distance dist into thread tid's sorted list."""
        cdef intp pos
        cdef double pd
        if filled[0] < k:
            pos = filled[0]
            filled[0] += 1
        else:
            pd = self.bd[tid, k - 1]
            if dist > pd:
                return 0
            if dist == pd and (not tiebreak or self.perm[j] >= self.perm[self.bi[tid, k - 1]]):
                return 0
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
        return 0

    cdef inline int _prune(self, intp tid, intp k, intp filled, double bound,
                            bint tiebreak) except -1 nogil:
        """Can a node at distance >= bound be skipped? With tiebreak, a point
        at exactly the current k-th distance may still enter the set."""
        if filled < k:
            return False
        if tiebreak:
            return bound > self.bd[tid, k - 1]
        return bound >= self.bd[tid, k - 1]

    cdef int _scan_knn(self, intp node, const double* q, intp skip, intp k, intp tid,
                        intp* filled, bint tiebreak) except -1 nogil:
        """Offer the points of leaf node, except tree row skip, to the list."""
        cdef intp j
        cdef double worst, dist
        # one loop per metric: the max-norm loop is the KSG hot path
        if self.euclidean:
            for j in range(self.start[node], self.end[node]):
                if j == skip:
                    continue
                worst = self.bd[tid, k - 1] if filled[0] == k else INFINITY
                dist = self._dist2(q, j)
                if dist <= worst:
                    self._offer(tid, k, filled, dist, j, tiebreak)
            return 0
        for j in range(self.start[node], self.end[node]):
            if j == skip:
                continue
            worst = self.bd[tid, k - 1] if filled[0] == k else INFINITY
            dist = self._dist(q, j)
            if dist <= worst:
                self._offer(tid, k, filled, dist, j, tiebreak)
        return 0

    cdef int _search_knn(self, intp root, const double* q, intp skip, intp k, intp tid,
                          intp* filled, bint tiebreak) except -1 nogil:
        """Depth-first k-NN search of the subtree at root, nearer child first."""
        # local stacks: no aliasing with the memoryviews' fields, so the
        # compiler keeps their base pointers in registers. Depth <= 2/level.
        cdef intp stk[STACK_SIZE]
        cdef double stkd[STACK_SIZE]
        cdef intp sp = 0, node, c1, c2
        cdef double d1, d2
        d1 = self._min_dist(root, q)
        if self._prune(tid, k, filled[0], d1, tiebreak):
            return 0
        stk[0] = root
        stkd[0] = d1
        sp = 1
        while sp > 0:
            sp -= 1
            node = stk[sp]
            # the k-th distance may have shrunk since the node was pushed
            if self._prune(tid, k, filled[0], stkd[sp], tiebreak):
                continue
            if node >= self.first_leaf:
                self._scan_knn(node, q, skip, k, tid, filled, tiebreak)
                continue
            c1 = 2 * node + 1
            c2 = c1 + 1
            d1 = self._min_dist(c1, q)
            d2 = self._min_dist(c2, q)
            if d2 < d1:
                c1, c2 = c2, c1
                d1, d2 = d2, d1
            # push the farther child first so the nearer one is searched first
            if not self._prune(tid, k, filled[0], d2, tiebreak):
                stk[sp] = c2
                stkd[sp] = d2
                sp += 1
            if not self._prune(tid, k, filled[0], d1, tiebreak):
                stk[sp] = c1
                stkd[sp] = d1
                sp += 1
        return 0

    cdef int _knn_one(self, intp t, intp leaf, intp k, intp tid, bint tiebreak) except -1 nogil:
        """k nearest neighbours of point t (excluding t itself), bottom-up."""
        cdef intp filled = 0, node = leaf, sib
        cdef const double* q = &self.data[t, 0]
        self._scan_knn(leaf, q, t, k, tid, &filled, tiebreak)
        while node > 0:
            if filled == k and self._ball_inside(node, q, self.bd[tid, k - 1]):
                return 0
            sib = node + 1 if (node & 1) else node - 1
            self._search_knn(sib, q, t, k, tid, &filled, tiebreak)
            node = (node - 1) >> 1
        return 0

    cdef double _query_one(self, const double* q, intp k, intp tid) except -1 nogil:
        """Distance (squared if Euclidean) from q to its k-th nearest tree
        point, searched from the root."""
        cdef intp filled = 0
        self._search_knn(0, q, -1, k, tid, &filled, False)
        return self.bd[tid, k - 1]

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
            extents of KSG algorithm 2). Max-norm trees only.
        tiebreak : bool, default=False
            Make the neighbour *set* well defined under ties by ordering
            candidates by (distance, original row index). The k-th distance
            itself never depends on it.
        n_threads : int, default=1

        Returns
        -------
        eps : ndarray of shape (n,)
            k-th neighbour distance (in the tree's metric), by original row.
        extents : ndarray of shape (n, G) or None
        """
        cdef intp n = self.n, G, g, li, leaf, t, m, c, j, n_leaves, tid
        cdef double e, v
        cdef int nt
        if k < 1 or k >= n:
            raise ValueError(f"k must satisfy 1 <= k < n = {n}, got {k}")
        if n_threads < 1:
            raise ValueError("n_threads must be >= 1")
        if groups is not None and self.euclidean:
            raise ValueError("groups (marginal max-norm extents) need a tree with metric='max'")
        cdef intp[::1] grp = np.asarray(groups if groups is not None else [0], dtype=np.intp)
        G = grp.shape[0] - 1
        for g in range(G):
            if not (0 <= grp[g] < grp[g + 1] <= self.dim):
                raise ValueError("groups must be increasing column boundaries within [0, dim]")
        # results in tree order (sequential writes), reordered below
        tree_eps = np.empty(n, dtype=np.float64)
        tree_ext = np.empty((n, max(G, 0)), dtype=np.float64)
        cdef double[::1] eps = tree_eps
        cdef double[:, ::1] ext = tree_ext
        nt = _threads(n_threads, n)
        self.bd = np.empty((nt, _padded(k)), dtype=np.float64)
        self.bi = np.empty((nt, _padded(k)), dtype=np.intp)
        n_leaves = self.n_nodes - self.first_leaf
        with nogil:
            for li in prange(n_leaves, num_threads=nt, schedule="dynamic", chunksize=64):
                tid = threadid()
                leaf = self.first_leaf + li
                for t in range(self.start[leaf], self.end[leaf]):
                    self._knn_one(t, leaf, k, tid, tiebreak)
                    eps[t] = sqrt(self.bd[tid, k - 1]) if self.euclidean else self.bd[tid, k - 1]
                    for g in range(G):
                        e = 0.0
                        for m in range(k):
                            j = self.bi[tid, m]
                            for c in range(grp[g], grp[g + 1]):
                                v = fabs(self.data[t, c] - self.data[j, c])
                                if v > e:
                                    e = v
                        ext[t, g] = e
        perm = np.asarray(self.perm)
        out_eps = np.empty(n, dtype=np.float64)
        out_eps[perm] = tree_eps
        if groups is None:
            return out_eps, None
        out_ext = np.empty_like(tree_ext)
        out_ext[perm] = tree_ext
        return out_eps, out_ext

    def query(self, const double[:, ::1] Y, intp k, int n_threads=1):
        """Distance from every row of ``Y`` to its k-th nearest point of the
        tree (all n tree points are candidates; a row of Y equal to a tree
        point is at distance 0 from it).

        Parameters
        ----------
        Y : ndarray of shape (m, dim), float64, C-contiguous
            Query points, finite. Rows near each other in space are searched
            faster when they are near each other in Y too (e.g. in the tree
            order of another tree).
        k : int
            Neighbour rank, ``1 <= k <= n``.
        n_threads : int, default=1

        Returns
        -------
        ndarray of shape (m,)
            k-th neighbour distance, in the tree's metric, by row of Y.
        """
        cdef intp m = Y.shape[0], i, tid
        cdef int nt
        if Y.shape[1] != self.dim:
            raise ValueError(f"query points must have {self.dim} columns, got {Y.shape[1]}")
        if k < 1 or k > self.n:
            raise ValueError(f"k must satisfy 1 <= k <= n = {self.n}, got {k}")
        if n_threads < 1:
            raise ValueError("n_threads must be >= 1")
        out = np.empty(m, dtype=np.float64)
        if m == 0:
            return out
        cdef double[::1] eps = out
        nt = _threads(n_threads, m)
        self.bd = np.empty((nt, _padded(k)), dtype=np.float64)
        self.bi = np.empty((nt, _padded(k)), dtype=np.intp)
        with nogil:
            for i in prange(m, num_threads=nt, schedule="dynamic", chunksize=256):
                tid = threadid()
                eps[i] = self._query_one(&Y[i, 0], k, tid)
                if self.euclidean:
                    eps[i] = sqrt(eps[i])
        return out

    # ---------------------------------------------------------- counts
    cdef inline int _relation(self, intp node, intp t, double r) except -1 nogil:
        """0: no point of node within r of point t; 2: all of them; 1: some
        may be. Branch-free; the same monotone bounds as _min_dist."""
        cdef intp d
        cdef double q, a, b, near = 0.0, far = 0.0
        for d in range(self.dim):
            q = self.data[t, d]
            a = self.lo[node, d] - q
            b = q - self.hi[node, d]
            near = a if a > near else near
            near = b if b > near else near
            a = fabs(a)
            b = fabs(b)
            far = a if a > far else far
            far = b if b > far else far
        return (near <= r) + (far <= r)

    cdef intp _count_leaf(self, intp node, intp t, double r) except -1 nogil:
        cdef intp j, d, c = 0
        cdef double m, v
        for j in range(self.start[node], self.end[node]):
            m = 0.0
            for d in range(self.dim):
                v = fabs(self.data[t, d] - self.data[j, d])
                m = v if v > m else m
            c += m <= r
        return c

    cdef intp _count_subtree(self, intp root, intp t, double r) except -1 nogil:
        """Points of the subtree at root within r of point t."""
        cdef intp stk[STACK_SIZE]
        cdef intp sp = 0, node, child, j, c = 0
        cdef int rel = self._relation(root, t, r)
        if rel == 0:
            return 0
        if rel == 2:
            return self.end[root] - self.start[root]
        if root >= self.first_leaf:
            return self._count_leaf(root, t, r)
        stk[0] = root
        sp = 1
        while sp > 0:
            sp -= 1
            node = stk[sp]        # straddles the ball, internal
            for child in range(2 * node + 1, 2 * node + 3):
                rel = self._relation(child, t, r)
                if rel == 2:
                    c += self.end[child] - self.start[child]
                elif rel == 1:
                    if child >= self.first_leaf:
                        c += self._count_leaf(child, t, r)
                    else:
                        stk[sp] = child
                        sp += 1
        return c

    cdef intp _count_one(self, intp t, intp leaf, double r) except -1 nogil:
        cdef intp c, node = leaf, sib
        if r < 0:
            return 0
        c = self._count_subtree(leaf, t, r)
        while node > 0:
            if self._ball_inside(node, &self.data[t, 0], r):
                break
            sib = node + 1 if (node & 1) else node - 1
            c += self._count_subtree(sib, t, r)
            node = (node - 1) >> 1
        return c

    def count(self, const double[::1] radius, int n_threads=1, bint by_row=True):
        """Number of points within max-norm distance <= radius of each point.

        The count includes the point itself (distance 0) whenever
        ``radius >= 0``; a negative radius gives 0.

        Parameters
        ----------
        radius : ndarray of shape (n,), by original row
        n_threads : int, default=1
        by_row : bool, default=True
            Return the counts by original row; False returns them in tree
            order (enough for sums over points, and saves a scatter).

        Returns
        -------
        ndarray of shape (n,), intp
        """
        cdef intp n = self.n, li, leaf, t, n_leaves
        cdef int nt
        if self.euclidean:
            raise ValueError("count needs a tree with metric='max'")
        if radius.shape[0] != n:
            raise ValueError(f"radius must have {n} entries, got {radius.shape[0]}")
        if n_threads < 1:
            raise ValueError("n_threads must be >= 1")
        perm = np.asarray(self.perm)
        cdef const double[::1] rad = np.ascontiguousarray(np.asarray(radius)[perm])
        tree_cnt = np.empty(n, dtype=np.intp)
        cdef intp[::1] cnt = tree_cnt
        nt = _threads(n_threads, n)
        n_leaves = self.n_nodes - self.first_leaf
        with nogil:
            for li in prange(n_leaves, num_threads=nt, schedule="dynamic", chunksize=64):
                leaf = self.first_leaf + li
                for t in range(self.start[leaf], self.end[leaf]):
                    cnt[t] = self._count_one(t, leaf, rad[t])
        if not by_row:
            return tree_cnt
        out = np.empty(n, dtype=np.intp)
        out[perm] = tree_cnt
        return out


@cython.cdivision(True)
cdef inline intp _count_sorted_one(const double* xs, intp n, intp p, double r) noexcept nogil:
    """#{j : fabs(xs[p] - xs[j]) <= r} for ascending xs.

    fl(q - xs[j]) is monotone in j on the left of p and fl(xs[j] - q) on the
    right, so a galloping search from p brackets each boundary and a
    branch-free bisection finds it exactly."""
    cdef intp good, bad, step, base, m, half, left, right
    cdef double q = xs[p]
    if r < 0:
        return 0
    # left boundary: smallest j <= p with q - xs[j] <= r
    good = p
    bad = -1
    step = 1
    while good - step >= 0:
        if q - xs[good - step] <= r:
            good -= step
            step *= 2
        else:
            bad = good - step
            break
    base = bad + 1
    m = good - bad - 1          # undecided candidates bad+1 .. good-1
    if m > 0:
        while m > 1:
            half = m >> 1
            base += half * (q - xs[base + half] > r)
            m -= half
        left = base + (q - xs[base] > r)
    else:
        left = good
    # right boundary: largest j >= p with xs[j] - q <= r
    good = p
    bad = n
    step = 1
    while good + step < n:
        if xs[good + step] - q <= r:
            good += step
            step *= 2
        else:
            bad = good + step
            break
    base = good + 1
    m = bad - good - 1          # undecided candidates good+1 .. bad-1
    if m > 0:
        while m > 1:
            half = m >> 1
            base += half * (xs[base + half] - q <= r)
            m -= half
        right = base + (xs[base] - q <= r) - 1
    else:
        right = good
    return right - left + 1


def count_sorted(const double[::1] xs, const intp[::1] order, const double[::1] radius,
                 int n_threads=1, bint by_row=True):
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
    by_row : bool, default=True
        Return the counts by original row; False returns them in sorted
        order (enough for sums over points, and saves a scatter).

    Returns
    -------
    ndarray of shape (n,), intp
    """
    cdef intp n = xs.shape[0], p
    cdef int nt
    if order.shape[0] != n or radius.shape[0] != n:
        raise ValueError("xs, order and radius must have the same length")
    if n_threads < 1:
        raise ValueError("n_threads must be >= 1")
    idx = np.asarray(order)
    cdef const double[::1] rs = np.ascontiguousarray(np.asarray(radius)[idx])
    sorted_cnt = np.empty(n, dtype=np.intp)
    cdef intp[::1] cnt = sorted_cnt
    nt = _threads(n_threads, n)
    with nogil:
        for p in prange(n, num_threads=nt, schedule="dynamic", chunksize=2048):
            cnt[p] = _count_sorted_one(&xs[0], n, p, rs[p])
    if not by_row:
        return sorted_cnt
    out = np.empty(n, dtype=np.intp)
    out[idx] = sorted_cnt
    return out


# --------------------------------------------------------------------------- 2-D grid k-NN
cdef inline intp _probe_stride(intp n) noexcept nogil:
    """Every how many points the probes of the grids run: about 1024 evenly spread queries,
    fewer on small data (a sixteenth of the points, at least 32)."""
    return n // min(1024, max(32, n // 16)) if n > 32 else 1


@cython.cdivision(True)
cdef inline double _probe_budget(intp n, double max_work) noexcept nogil:
    """The work past which a probe has failed whatever its remaining queries find: it stops
    there (a few queries into a pile of tied points can each look at most of the data)."""
    cdef intp stride = _probe_stride(n)
    return max_work * ((n + stride - 1) // stride)


cdef inline double _insert_sorted(double* bd, intp k, double d) noexcept nogil:
    """Insert d (below bd[k - 1]) into the ascending k best distances bd; returns the new k-th."""
    cdef intp pos = k - 1
    while pos > 0 and bd[pos - 1] > d:
        bd[pos] = bd[pos - 1]
        pos -= 1
    bd[pos] = d
    return bd[k - 1]


@cython.cdivision(True)
cdef inline intp _grid_scan(const double* px, const double* py, const intp* start, intp c, intp q,
                            double qx, double qy, double lb, double* bd, intp k) noexcept nogil:
    """Offer the points of cell c, other than q, to the sorted k best distances bd, unless
    the cell's box (at distance lb) is no nearer than the current k-th. Returns the number
    of points looked at."""
    cdef double worst = bd[k - 1], dx, dy, d
    cdef intp p
    if lb >= worst:
        return 0
    for p in range(start[c], start[c + 1]):
        dx = fabs(qx - px[p])
        dy = fabs(qy - py[p])
        d = dy if dy > dx else dx
        if d < worst and p != q:
            worst = _insert_sorted(bd, k, d)
    return start[c + 1] - start[c]


cdef inline double _gap(double lo, double hi, double v) noexcept nogil:
    """Distance from v to the interval [lo, hi] (0 inside), as a difference of coordinates."""
    return lo - v if lo > v else (v - hi if v > hi else 0.0)


cdef inline intp _grid_strip(const double* px, const double* py, const intp* start, intp c0, intp stride,
                             intp count, double g, const double* lo, const double* hi, double v, intp q, double qx,
                             double qy, double* bd, intp k) noexcept nogil:
    """Offer the ``count`` cells c0, c0 + stride, ... (a new column or row of the searched
    block) to ``_grid_scan``: ``g`` is their common gap on the block's new axis, ``lo`` and
    ``hi`` their bounds on the other axis, where the query is at ``v``. Returns the points and
    cells looked at."""
    cdef intp t, work = 0
    for t in range(count):
        work += 1 + _grid_scan(px, py, start, c0 + t * stride, q, qx, qy, max(g, _gap(lo[t], hi[t], v)), bd, k)
    return work


@cython.cdivision(True)
cdef intp _grid_query(const double* px, const double* py, const intp* start, const double* xlo,
                      const double* xhi, const double* ylo, const double* yhi, intp G, intp q, intp a,
                      intp b, double* bd, intp k) noexcept nogil:
    """k best distances (into bd) from point q, in cell column a and row b, to the other
    points. The searched block of cells [i0, i1] x [j0, j1] grows by one column or row at a
    time, on the side whose boundary is nearest, until every side is at least the k-th
    distance away: any point outside the block is at least that far in x or in y. Growing
    the nearest side adapts the block to cells that are long in one direction (tails of the
    marginals). Returns the points and cells looked at, a cost measure."""
    cdef double qx = px[q], qy = py[q], left, right, down, up, m
    cdef intp i0 = a, i1 = a, j0 = b, j1 = b, i, j, work = 1
    for i in range(k):
        bd[i] = INFINITY
    work += _grid_scan(px, py, start, a * G + b, q, qx, qy, 0.0, bd, k)
    while True:
        left = qx - xhi[i0 - 1] if i0 > 0 else INFINITY
        right = xlo[i1 + 1] - qx if i1 < G - 1 else INFINITY
        down = qy - yhi[j0 - 1] if j0 > 0 else INFINITY
        up = ylo[j1 + 1] - qy if j1 < G - 1 else INFINITY
        m = left if left < right else right
        m = m if m < down else down
        m = m if m < up else up
        if m >= bd[k - 1]:  # also once the whole grid is searched (all inf)
            return work
        if m == left or m == right:  # one more column, its cells i G + j0 .. i G + j1
            if m == left:
                i0 -= 1
                i = i0
            else:
                i1 += 1
                i = i1
            work += _grid_strip(px, py, start, i * G + j0, 1, j1 - j0 + 1, _gap(xlo[i], xhi[i], qx),
                                ylo + j0, yhi + j0, qy, q, qx, qy, bd, k)
        else:                        # one more row, its cells i0 G + j .. i1 G + j
            if m == down:
                j0 -= 1
                j = j0
            else:
                j1 += 1
                j = j1
            work += _grid_strip(px, py, start, i0 * G + j, G, i1 - i0 + 1, _gap(ylo[j], yhi[j], qy),
                                xlo + i0, xhi + i0, qx, q, qx, qy, bd, k)


cdef struct Grid2:
    # the 2-D grid of grid_knn2 over n points: G x G cells, column-major
    intp n
    intp G
    intp* row        # (n) cell row of each point, by point
    double* bnd      # (4, G) xlo, xhi, ylo, yhi of each column / row
    intp* start      # (G * G + 1) first position of each cell
    double* px       # (n) coordinates in cell order
    double* py
    intp* pid        # (n) point of each position


@cython.cdivision(True)
cdef inline void _grid2_row(Grid2* g, const intp* oy, intp i) noexcept nogil:
    g.row[oy[i]] = i * g.G // g.n


@cython.cdivision(True)
cdef inline void _grid2_bounds(Grid2* g, const double* x, const double* y, const intp* ox, const intp* oy,
                               intp c) noexcept nogil:
    cdef intp lo = (c * g.n + g.G - 1) // g.G, hi = ((c + 1) * g.n + g.G - 1) // g.G
    g.bnd[c] = x[ox[lo]]
    g.bnd[g.G + c] = x[ox[hi - 1]]
    g.bnd[2 * g.G + c] = y[oy[lo]]
    g.bnd[3 * g.G + c] = y[oy[hi - 1]]


@cython.cdivision(True)
cdef inline void _grid2_column(Grid2* g, const double* x, const double* y, const intp* ox, intp c,
                               intp* fill) noexcept nogil:
    """Sort column c's points (x-sorted positions [ceil(c n / G), ceil((c + 1) n / G)), those
    with i G // n == c) into its rows, in place of px / py: cell order is column-major."""
    cdef intp G = g.G, lo = (c * g.n + G - 1) // G, hi = ((c + 1) * g.n + G - 1) // G, i, r, p, pos
    for r in range(G):
        fill[r] = 0
    for i in range(lo, hi):
        fill[g.row[ox[i]]] += 1
    pos = lo
    for r in range(G):                  # fill[r]: where row r's next point goes
        g.start[c * G + r] = pos
        pos = pos + fill[r]
        fill[r] = g.start[c * G + r]
    for i in range(lo, hi):
        p = ox[i]
        r = g.row[p]
        pos = fill[r]
        fill[r] = pos + 1
        g.px[pos] = x[p]
        g.py[pos] = y[p]
        g.pid[pos] = p


cdef inline intp _grid2_query(Grid2* g, intp q, intp a, intp b, double* bd, intp k) noexcept nogil:
    return _grid_query(g.px, g.py, g.start, g.bnd, g.bnd + g.G, g.bnd + 2 * g.G, g.bnd + 3 * g.G, g.G, q, a, b,
                       bd, k)


@cython.cdivision(True)
cdef bint _grid2_probe(Grid2* g, intp k, double max_work, double* bd) noexcept nogil:
    """Does a probe of evenly spread queries look at fewer than max_work points and cells each?"""
    cdef intp stride = _probe_stride(g.n), q = 0, probes = 0, work = 0
    cdef double budget = _probe_budget(g.n, max_work)
    while q < g.n and work <= budget:
        work += _grid2_query(g, q, q * g.G // g.n, g.row[g.pid[q]], bd, k)
        probes += 1
        q += stride
    return work <= max_work * probes


cdef bint _grid2_knn_serial(Grid2* g, const double* x, const double* y, const intp* ox, const intp* oy, intp k,
                            double max_work, intp* fill, double* bd, double* eps) noexcept nogil:
    """grid_knn2 on one thread, into eps (by point); False where the probe finds the grid slow."""
    cdef intp i, c, q, a
    for i in range(g.n):
        _grid2_row(g, oy, i)
    for c in range(g.G):
        _grid2_bounds(g, x, y, ox, oy, c)
    for c in range(g.G):
        _grid2_column(g, x, y, ox, c, fill)
    g.start[g.G * g.G] = g.n
    if not _grid2_probe(g, k, max_work, bd):
        return False
    for c in range(g.G * g.G):
        a = c // g.G
        for q in range(g.start[c], g.start[c + 1]):
            _grid2_query(g, q, a, c - a * g.G, bd, k)
            eps[g.pid[q]] = bd[k - 1]
    return True


@cython.cdivision(True)
def grid_knn2(const double[::1] x, const double[::1] y, const intp[::1] ox, const intp[::1] oy,
              intp k, intp G, double max_work, int n_threads=1):
    """k-th neighbour max-norm distances of the points (x_i, y_i), on a G x G grid of
    marginal-quantile cells; None when the grid would be slow for these data.

    Cell column c holds the points of x-ranks ``[c n / G, (c + 1) n / G)`` (ranks from the
    sort order ``ox``), cell row likewise from ``oy``. A column's bounds are the smallest and
    largest x it holds, so the columns are ordered and overlap only in tied values; rows
    likewise. Each query grows a block of cells around its own (see ``_grid_query``).
    Distances are ``max(fabs(dx), fabs(dy))``, as in :class:`KDTree`, and every bound is a
    difference of the same coordinates, so the result equals the tree's bit for bit.

    Parameters
    ----------
    x, y : ndarray of shape (n,)
    ox, oy : ndarray of shape (n,), intp
        Sort orders of x and y.
    k : int
        ``1 <= k < n``; the point itself is not its own neighbour.
    G : int
        Cells per axis, ``1 <= G <= n``.
    max_work : float
        A probe first runs about 1024 evenly spread queries (a sixteenth of the points on small
        data, at least 32); if they look at more than this many points and cells each on
        average (data concentrated on a curve, where a kd-tree is faster), None is returned.
    n_threads : int, default=1

    Returns
    -------
    ndarray of shape (n,) or None
    """
    cdef intp n = x.shape[0], i, c, q, tid, a
    cdef int nt
    cdef bint fast
    cdef Grid2 g
    if not (x.shape[0] == y.shape[0] == ox.shape[0] == oy.shape[0]):
        raise ValueError("x, y, ox and oy must have the same length")
    if not (1 <= k < n) or not (1 <= G <= n):
        raise ValueError(f"need 1 <= k < n and 1 <= G <= n, got k={k}, G={G}, n={n}")
    cdef intp[::1] row = np.empty(n, dtype=np.intp)
    cdef double[::1] bnd = np.empty(4 * G)
    cdef intp[::1] start = np.zeros(G * G + 1, dtype=np.intp)
    cdef double[::1] px = np.empty(n)
    cdef double[::1] py = np.empty(n)
    cdef intp[::1] pid = np.empty(n, dtype=np.intp)
    g.n, g.G, g.row, g.bnd, g.start, g.px, g.py, g.pid = n, G, &row[0], &bnd[0], &start[0], &px[0], &py[0], &pid[0]
    nt = _threads(n_threads, n)
    cdef intp[:, ::1] fill = np.zeros((nt, G + PAD), dtype=np.intp)
    cdef double[:, ::1] bd = np.empty((nt, _padded(k)), dtype=np.float64)
    out = np.empty(n, dtype=np.float64)
    cdef double[::1] eps = out
    with nogil:
        for i in prange(n, num_threads=nt, schedule="static"):
            _grid2_row(&g, &oy[0], i)
        for c in prange(G, num_threads=nt, schedule="static"):
            _grid2_bounds(&g, &x[0], &y[0], &ox[0], &oy[0], c)
        for c in prange(G, num_threads=nt, schedule="dynamic", chunksize=16):
            _grid2_column(&g, &x[0], &y[0], &ox[0], c, &fill[threadid(), 0])
        start[G * G] = n
        fast = _grid2_probe(&g, k, max_work, &bd[0, 0])
    if not fast:
        return None
    with nogil:
        for c in prange(G * G, num_threads=nt, schedule="dynamic", chunksize=256):
            tid = threadid()
            a = c // G
            for q in range(start[c], start[c + 1]):
                _grid2_query(&g, q, a, c - a * G, &bd[tid, 0], k)
                eps[pid[q]] = bd[tid, k - 1]
    return out


cdef bint _ksg1_piece(const double[::1] x, const double[::1] y, const intp* rows, const intp* bx, const intp* by,
                      const intp* loc, intp s, intp k, intp G, double max_work, double* d, intp* ii, intp* nx,
                      intp* ny) noexcept nogil:
    """One piece of ``ksg1_pieces``: its s points (``rows``, and in x and y order ``bx``, ``by``)
    into the scratch ``d`` (px0, py0, eps, sorted values, radii, grid px / py, bounds, bd) and
    ``ii`` (local x and y orders, grid row / pid / start / fill); its counts into nx, ny."""
    cdef Grid2 g
    cdef intp j
    for j in range(s):
        d[j] = x[rows[j]]
        d[s + j] = y[rows[j]]
        ii[j] = loc[bx[j]]
        ii[s + j] = loc[by[j]]
    g.n, g.G = s, G
    g.row, g.pid, g.start = ii + 2 * s, ii + 3 * s, ii + 4 * s
    g.px, g.py, g.bnd = d + 5 * s, d + 6 * s, d + 7 * s
    if not _grid2_knn_serial(&g, d, d + s, ii, ii + s, k, max_work, ii + 4 * s + G * G + 1, d + 7 * s + 4 * G,
                             d + 2 * s):
        return False
    for j in range(s):           # x sorted, with the radii in that order; then y
        d[3 * s + j] = d[ii[j]]
        d[4 * s + j] = nextafter(d[2 * s + ii[j]], 0.0)
    for j in range(s):
        nx[j] = _count_sorted_one(d + 3 * s, s, j, d[4 * s + j]) - 1
    for j in range(s):
        d[3 * s + j] = d[s + ii[s + j]]
        d[4 * s + j] = nextafter(d[2 * s + ii[s + j]], 0.0)
    for j in range(s):
        ny[j] = _count_sorted_one(d + 3 * s, s, j, d[4 * s + j]) - 1
    return True


@cython.cdivision(True)
def ksg1_pieces(const double[::1] x, const double[::1] y, const intp[::1] ox, const intp[::1] oy,
                const intp[::1] piece_of, intp P, intp s, intp k, intp G, double max_work, int n_threads=1):
    """KSG-1's marginal counts on each piece of one partition of the points (x_i, y_i), all in
    one call: the grid k-NN of :func:`grid_knn2` and the counts of :func:`count_sorted` on each
    piece, one piece per thread at a time.

    Parameters
    ----------
    x, y : ndarray of shape (n,)
    ox, oy : ndarray of shape (n,), intp
        Sort orders of all of x and y; each piece's orders are read off them.
    piece_of : ndarray of shape (n,), intp
        Piece of each point, in ``[0, P)``, or -1 for a point in none; every piece has s points.
    P, s : int
        Pieces, and points per piece (``1 <= k < s``).
    k, G, max_work
        As in :func:`grid_knn2`, for every piece.
    n_threads : int, default=1

    Returns
    -------
    (nx, ny) : ndarrays of shape (P, s), intp, or None
        The number of other points of its piece strictly closer than each point's k-th
        neighbour distance (the tied ones where it is 0), in x and in y, in an arbitrary fixed
        order within each piece; None when the probe of some piece finds the grid slow.
    """
    cdef intp n = x.shape[0], i, p, t, ok = 1
    cdef int nt = _threads(n_threads, P * MIN_PER_THREAD // 4)  # pieces are coarse: thread from 4 pieces
    if not (x.shape[0] == y.shape[0] == ox.shape[0] == oy.shape[0] == piece_of.shape[0]):
        raise ValueError("x, y, ox, oy and piece_of must have the same length")
    if not (1 <= k < s) or not (1 <= G <= s) or P < 1:
        raise ValueError(f"need 1 <= k < s, 1 <= G <= s and P >= 1, got k={k}, G={G}, s={s}, P={P}")
    # each piece's points in x order, in y order and in row order: stable bucket passes
    cdef intp[:, ::1] bx = np.empty((P, s), dtype=np.intp)
    cdef intp[:, ::1] by = np.empty((P, s), dtype=np.intp)
    cdef intp[:, ::1] rows = np.empty((P, s), dtype=np.intp)
    cdef intp[::1] loc = np.empty(n, dtype=np.intp)         # a point's position in its piece's rows
    cdef intp[::1] fx = np.zeros(P, dtype=np.intp)
    cdef intp[::1] fy = np.zeros(P, dtype=np.intp)
    cdef intp[::1] fr = np.zeros(P, dtype=np.intp)
    nx_np = np.empty((P, s), dtype=np.intp)
    ny_np = np.empty((P, s), dtype=np.intp)
    cdef intp[:, ::1] nx = nx_np
    cdef intp[:, ::1] ny = ny_np
    # per-thread scratch: the piece's x, y, local orders, sorted values, radii and grid
    cdef double[:, ::1] dscr = np.empty((nt, 7 * s + 4 * G + _padded(k)))
    cdef intp[:, ::1] iscr = np.empty((nt, 4 * s + G * G + 1 + G + PAD), dtype=np.intp)
    with nogil:
        for i in range(n):
            p = piece_of[i]
            if p >= 0:
                if fr[p] >= s:
                    ok = -1
                    break
                loc[i] = fr[p]
                rows[p, fr[p]] = i
                fr[p] += 1
            p = piece_of[ox[i]]
            if p >= 0 and fx[p] < s:
                bx[p, fx[p]] = ox[i]
                fx[p] += 1
            p = piece_of[oy[i]]
            if p >= 0 and fy[p] < s:
                by[p, fy[p]] = oy[i]
                fy[p] += 1
    for p in range(P):
        if ok < 0 or fr[p] != s:
            raise ValueError(f"every piece must hold s={s} points")
    cdef intp[::1] failed = np.zeros(P, dtype=np.intp)
    with nogil:
        for p in prange(P, num_threads=nt, schedule="dynamic", chunksize=1):
            t = threadid()
            failed[p] = not _ksg1_piece(x, y, &rows[p, 0], &bx[p, 0], &by[p, 0], &loc[0], s, k, G, max_work,
                                        &dscr[t, 0], &iscr[t, 0], &nx[p, 0], &ny[p, 0])
    if np.asarray(failed).any():
        return None
    return nx_np, ny_np


# --------------------------------------------------------------------------- grid counts
# a grid k-NN query starts from the block of cells within this fraction of the k-th distance of
# the previous query of its thread (a nearby point, in cell order); the search is exact whatever it is
cdef double GRID_GUESS = 0.8
# per-thread scratch of a grid k-NN query: the distances of its count's candidates
cdef enum:
    GRID_CAP = 2048


cdef inline intp _slab_range(const double* lo, const double* hi, intp G, intp s, double v, double r,
                             intp* t0, intp* t1, intp* i0, intp* i1) noexcept nogil:
    """On one axis of the grid, the slabs that may hold points within r of the value v (which
    lies in slab s): [t0, t1]; and those whose points all do: [i0, i1] (empty when i0 > i1).
    Slab bounds are ordered, so both are intervals; each test is a difference of the same
    coordinates that the distances are computed from."""
    cdef intp a = s, b = s
    while a > 0 and not (v - hi[a - 1] > r):
        a -= 1
    while b < G - 1 and not (lo[b + 1] - v > r):
        b += 1
    t0[0] = a
    t1[0] = b
    while a <= b and not (v - lo[a] <= r and hi[a] - v <= r):
        a += 1
    while b >= a and not (v - lo[b] <= r and hi[b] - v <= r):
        b -= 1
    i0[0] = a
    i1[0] = b
    return 0


cdef inline double _dist23(const double* q, const double* x, intp D) noexcept nogil:
    """Max-norm distance of two points of 2 or 3 coordinates (unrolled)."""
    cdef double m = fabs(q[0] - x[0]), v = fabs(q[1] - x[1])
    m = v if v > m else m
    if D == 3:
        v = fabs(q[2] - x[2])
        m = v if v > m else m
    return m


cdef inline intp _scan_count(const double* pts, intp D, intp j0, intp j1, const double* q, double r) noexcept nogil:
    """Points j0 <= j < j1 of pts (rows of D coordinates) within max-norm r of q."""
    cdef intp j, c = 0
    for j in range(j0, j1):
        c += _dist23(q, pts + j * D, D) <= r
    return c


cdef inline intp _scan_knn_count(const double* pts, const double* ext, intp D, intp j0, intp j1,
                                 const double* q, double qe, double* bd, intp k, double* buf, intp* nbuf,
                                 intp cap) noexcept nogil:
    """Offer points j0 <= j < j1 to the sorted k best joint distances bd, where the joint
    distance is the larger of the max-norm distance in the grid's columns and |qe - ext[j]|;
    keep the grid-column distance of each that is not beyond the current k-th distance in buf
    (counting all of them in nbuf, which may pass cap). Returns the points looked at."""
    cdef intp j, nb = nbuf[0]
    cdef double worst = bd[k - 1], m, v
    cdef bint room = nb + (j1 - j0) <= cap
    for j in range(j0, j1):
        m = _dist23(q, pts + j * D, D)
        if room:
            buf[nb] = m         # kept only if within the k-th distance: no branch
        elif m <= worst and nb < cap:
            buf[nb] = m
        nb += m <= worst
        v = fabs(qe - ext[j])
        v = v if v > m else m
        if v < worst:
            worst = _insert_sorted(bd, k, v)
    nbuf[0] = nb
    return j1 - j0


@cython.final
cdef class _Grid:
    """Points of 2 or 3 columns sorted into the cells of a grid of slabs, for
    :func:`grid_count` and :func:`grid_knn_count`.

    Axis d is cut into slabs at the ascending values ``cuts[d]`` (a point with value v is in
    the slab of the cuts <= v); a slab's bounds are the smallest and largest value it holds,
    so slabs are ordered. With 2 columns, axis 0 is a single slab at 0 (the data's columns are
    axes 1 and 2). Cells are stored with axis 2 fastest, so the cells of one (axis 0, axis 1)
    pair are one contiguous run of points.
    """

    cdef intp n, D, Gm
    cdef intp[::1] G
    cdef intp[::1] start
    cdef intp[::1] pos
    cdef double[:, ::1] pts
    cdef intp[:, ::1] slab
    cdef double[:, :, ::1] bnd

    def __init__(self, const double[:, ::1] a, cuts, int n_threads):
        cdef intp n = a.shape[0], D = a.shape[1], i, j, ax, c, s, m, lo_i, half, p, ncell
        cdef int nt
        cdef double v
        if D not in (2, 3) or len(cuts) != D:
            raise ValueError("the grid needs 2 or 3 columns and one array of cuts per column")
        cut_arrays = [np.zeros(0)] * (3 - D) + [np.ascontiguousarray(cv, dtype=np.float64) for cv in cuts]
        self.n, self.D = n, D
        self.G = np.array([cv.shape[0] + 1 for cv in cut_arrays], dtype=np.intp)
        self.Gm = max(self.G[0], self.G[1], self.G[2])
        ncell = self.G[0] * self.G[1] * self.G[2]
        cut_np = np.zeros((3, self.Gm))
        for ax in range(3):
            cut_np[ax, :self.G[ax] - 1] = cut_arrays[ax]
        cdef double[:, ::1] cut = cut_np
        cdef intp[::1] G = self.G
        cdef intp[:, ::1] slab = np.zeros((n, 3), dtype=np.intp)
        cdef intp[::1] cell = np.empty(n, dtype=np.intp)
        nt = _threads(n_threads, n)
        with nogil:
            for i in prange(n, num_threads=nt, schedule="static"):
                for ax in range(3 - D, 3):
                    v = a[i, ax - 3 + D]
                    m = G[ax] - 1                      # slab = number of cuts <= v
                    lo_i = 0
                    while m > 0:
                        half = m >> 1
                        if cut[ax, lo_i + half] <= v:
                            lo_i = lo_i + half + 1
                            m = m - half - 1
                        else:
                            m = half
                    slab[i, ax] = lo_i
                cell[i] = (slab[i, 0] * G[1] + slab[i, 1]) * G[2] + slab[i, 2]
        self.start = np.zeros(ncell + 1, dtype=np.intp)
        self.pos = np.empty(n, dtype=np.intp)
        self.pts = np.empty((n, D))
        self.slab = np.empty((n, 3), dtype=np.intp)
        bnd_np = np.empty((2, 3, self.Gm))
        bnd_np[0] = INFINITY
        bnd_np[1] = -INFINITY
        bnd_np[:, 0, 0] = 0.0 if D == 2 else bnd_np[:, 0, 0]
        self.bnd = bnd_np
        with nogil:
            for i in range(n):
                self.start[cell[i] + 1] += 1
            for c in range(ncell):
                self.start[c + 1] += self.start[c]
            for i in range(n):                               # a stable counting sort
                c = cell[i]
                p = self.start[c]
                self.start[c] = p + 1
                self.pos[i] = p
            for c in range(ncell, 0, -1):
                self.start[c] = self.start[c - 1]
            self.start[0] = 0
            for i in range(n):
                p = self.pos[i]
                for j in range(D):
                    self.pts[p, j] = a[i, j]
                for ax in range(3):
                    self.slab[p, ax] = slab[i, ax]
                for ax in range(3 - D, 3):
                    v = a[i, ax - 3 + D]
                    s = slab[i, ax]
                    if v < self.bnd[0, ax, s]:
                        self.bnd[0, ax, s] = v
                    if v > self.bnd[1, ax, s]:
                        self.bnd[1, ax, s] = v

    def in_cell_order(self, v):
        """``v`` (by original row) in the order of the cells."""
        out = np.empty_like(v)
        out[np.asarray(self.pos)] = v
        return out

    def by_row(self, v):
        """``v`` (in the order of the cells) by original row."""
        return np.asarray(v)[np.asarray(self.pos)]

    cdef intp count_one(self, intp p, double r, intp* work) noexcept nogil:
        """Points within max-norm r of point p (itself included): cells whose slabs all lie
        within r wholesale, the points of the cells around them one by one. Adds the points and
        cell runs looked at to ``work`` (unless NULL)."""
        cdef intp t0[3]
        cdef intp t1[3]
        cdef intp i0[3]
        cdef intp i1[3]
        cdef double qv[3]
        cdef intp D = self.D, Gm = self.Gm, ax, a, b, base, c = 0, w = 0
        cdef const double* pts = &self.pts[0, 0]
        cdef const double* q = pts + p * D
        cdef const intp* start = &self.start[0]
        if r < 0:
            return 0
        qv[0] = q[0] if D == 3 else 0.0
        qv[1] = q[D - 2]
        qv[2] = q[D - 1]
        for ax in range(3):
            _slab_range(&self.bnd[0, ax, 0], &self.bnd[1, ax, 0], self.G[ax], self.slab[p, ax], qv[ax], r,
                        &t0[ax], &t1[ax], &i0[ax], &i1[ax])
        for a in range(t0[0], t1[0] + 1):
            for b in range(t0[1], t1[1] + 1):
                base = (a * self.G[1] + b) * self.G[2]
                w += 1
                if i0[0] <= a <= i1[0] and i0[1] <= b <= i1[1] and i0[2] <= i1[2]:
                    c += start[base + i1[2] + 1] - start[base + i0[2]]
                    c += _scan_count(pts, D, start[base + t0[2]], start[base + i0[2]], q, r)
                    c += _scan_count(pts, D, start[base + i1[2] + 1], start[base + t1[2] + 1], q, r)
                    w += start[base + i0[2]] - start[base + t0[2]] + start[base + t1[2] + 1] - start[base + i1[2] + 1]
                else:
                    c += _scan_count(pts, D, start[base + t0[2]], start[base + t1[2] + 1], q, r)
                    w += start[base + t1[2] + 1] - start[base + t0[2]]
        if work != NULL:
            work[0] += w
        return c

    cdef intp knn_count_one(self, const double* ext, intp p, intp k, double guess, double* bd, double* buf,
                            intp* cnt) noexcept nogil:
        """Joint k-th distance of point p into bd[k] (bd[0] is the point itself, at 0), with the
        other coordinate ``ext`` (in cell order); into cnt, the number of other points strictly
        closer than it in the grid's columns (the tied ones where it is 0).

        The searched block of cells starts as the cells within ``guess`` and grows by one face
        at a time, on the side whose slab boundary is nearest, until every side is at least the
        k-th distance away; the points outside are then at least that far in the grid's
        columns, so neither nearer joint neighbours nor counted points (closer than the k-th
        distance there) can be among them. Returns the points and cell runs looked at."""
        cdef intp t0[3]
        cdef intp t1[3]
        cdef double qv[3]
        cdef intp D = self.D, Gm = self.Gm, ax, best, a, b, base, i, c, nbuf = 0, work = 0, kk = k + 1
        cdef const double* pts = &self.pts[0, 0]
        cdef const double* q = pts + p * D
        cdef const intp* start = &self.start[0]
        cdef const intp* G = &self.G[0]
        cdef const double* lo = &self.bnd[0, 0, 0]
        cdef const double* hi = &self.bnd[1, 0, 0]
        cdef double qe = ext[p], m, g, below, above, lb, r
        qv[0] = q[0] if D == 3 else 0.0
        qv[1] = q[D - 2]
        qv[2] = q[D - 1]
        for ax in range(3):
            t0[ax] = self.slab[p, ax]
            t1[ax] = t0[ax]
            if guess > 0.0:
                _slab_range(lo + ax * Gm, hi + ax * Gm, G[ax], t0[ax], qv[ax], guess, &t0[ax], &t1[ax], &a, &b)
        for i in range(kk):
            bd[i] = INFINITY
        for a in range(t0[0], t1[0] + 1):
            for b in range(t0[1], t1[1] + 1):
                base = (a * G[1] + b) * G[2]
                work += 1 + _scan_knn_count(pts, ext, D, start[base + t0[2]], start[base + t1[2] + 1], q, qe, bd,
                                            kk, buf, &nbuf, GRID_CAP)
        while True:
            m = INFINITY
            best = 0
            for ax in range(3):
                below = qv[ax] - hi[ax * Gm + t0[ax] - 1] if t0[ax] > 0 else INFINITY
                above = lo[ax * Gm + t1[ax] + 1] - qv[ax] if t1[ax] < G[ax] - 1 else INFINITY
                g = below if below < above else above
                if g < m:
                    m = g
                    best = ax
            if m >= bd[k]:  # also once the whole grid is searched (all inf)
                break
            # the new face: slab c on axis best, the block's ranges on the other axes
            if t0[best] > 0 and qv[best] - hi[best * Gm + t0[best] - 1] == m:
                t0[best] -= 1
                c = t0[best]
            else:
                t1[best] += 1
                c = t1[best]
            if best == 2:
                for a in range(t0[0], t1[0] + 1):
                    for b in range(t0[1], t1[1] + 1):
                        lb = max(m, max(_gap(lo[a], hi[a], qv[0]), _gap(lo[Gm + b], hi[Gm + b], qv[1])))
                        work += 1
                        if lb < bd[k]:
                            base = (a * G[1] + b) * G[2] + c
                            work += _scan_knn_count(pts, ext, D, start[base], start[base + 1], q, qe, bd, kk, buf,
                                                    &nbuf, GRID_CAP)
            else:
                for i in range(t0[1 - best], t1[1 - best] + 1):
                    a = c if best == 0 else i
                    b = i if best == 0 else c
                    lb = max(_gap(lo[a], hi[a], qv[0]), _gap(lo[Gm + b], hi[Gm + b], qv[1]))
                    work += 1
                    if lb < bd[k]:
                        base = (a * G[1] + b) * G[2]
                        work += _scan_knn_count(pts, ext, D, start[base + t0[2]], start[base + t1[2] + 1], q, qe,
                                                bd, kk, buf, &nbuf, GRID_CAP)
        r = nextafter(bd[k], 0.0)
        if nbuf > GRID_CAP:  # more candidates than the scratch holds: count them again
            cnt[0] = self.count_one(p, r, NULL) - 1
        else:
            c = -1
            for i in range(nbuf):
                c += buf[i] <= r
            cnt[0] = c
        return work


def grid_count(const double[:, ::1] a, const double[::1] radius, cuts, double max_work=INFINITY,
               int n_threads=1, bint by_row=True):
    """Number of points within max-norm distance <= radius of each point (itself included
    when radius >= 0), for 2 or 3 columns, on a grid of slabs; None when the grid would be
    slow for these data.

    A query counts the cells whose slabs all lie within its radius wholesale and checks the
    points of the cells around them; every test is a difference of the same coordinates as
    the distances, so the counts equal brute force bit for bit, as :meth:`KDTree.count`'s
    do. A probe first runs about 1024 evenly spread queries; if they look at more than
    ``max_work`` points and cell runs each on average (columns so dependent that the cells
    along their curve fill up), None is returned.

    Parameters
    ----------
    a : ndarray of shape (n, d), d = 2 or 3
    radius : ndarray of shape (n,), by original row
    cuts : sequence of d ascending float64 arrays
        Interior cut values of each axis (see ``_Grid``). Every slab must hold a point: each
        cut must be a value of its column, above the column's smallest.
    max_work : float, default=inf
    n_threads : int, default=1
    by_row : bool, default=True
        Return the counts by original row; False returns them in an arbitrary fixed order.

    Returns
    -------
    ndarray of shape (n,), intp, or None
    """
    cdef intp n = a.shape[0], p, probes = 0, work = 0, stride
    cdef double budget
    cdef int nt = _threads(n_threads, n)
    if radius.shape[0] != n:
        raise ValueError(f"radius must have {n} entries, got {radius.shape[0]}")
    cdef _Grid grid = _Grid(a, cuts, n_threads)
    cdef const double[::1] rad = grid.in_cell_order(np.asarray(radius))
    cnt_np = np.empty(n, dtype=np.intp)
    cdef intp[::1] cnt = cnt_np
    with nogil:
        stride = _probe_stride(n)
        budget = _probe_budget(n, max_work)
        p = 0
        while p < n and work <= budget:
            grid.count_one(p, rad[p], &work)
            probes += 1
            p += stride
    if work > max_work * probes:
        return None
    with nogil:
        for p in prange(n, num_threads=nt, schedule="dynamic", chunksize=512):
            cnt[p] = grid.count_one(p, rad[p], NULL)
    return grid.by_row(cnt_np) if by_row else cnt_np


def grid_knn_count(const double[:, ::1] a, const double[::1] extra, cuts, intp k, double max_work=INFINITY,
                   int n_threads=1, bint by_row=True):
    """KSG-1's joint k-NN and one marginal's counts in one pass, on the grid of
    :func:`grid_count` over that marginal's 2 or 3 columns ``a``; the other marginal is the
    one column ``extra``. Returns the k-th neighbour max-norm distance eps_i of every point
    in the joint space of (``a``, ``extra``), the point itself excluded, and the number of
    other points strictly closer than eps_i in ``a``'s columns (the tied ones where
    eps_i = 0, as counting within ``nextafter(eps_i, 0)`` gives); or None when the grid would
    be slow for these data (a probe as in :func:`grid_count`).

    The joint distance is at least the distance in ``a``'s columns, so searching the cells of
    ``a`` by their distance finds the joint neighbours, and the points it looks at include
    every point that the count needs. Both results equal brute force bit for bit.

    Parameters
    ----------
    a : ndarray of shape (n, d), d = 2 or 3
    extra : ndarray of shape (n,), by original row
    cuts : sequence of d ascending float64 arrays, as in :func:`grid_count`
    k : int
        ``1 <= k < n``.
    max_work : float, default=inf
    n_threads : int, default=1
    by_row : bool, default=True
        Return the counts by original row; False returns them in an arbitrary fixed order
        (the distances always come by row).

    Returns
    -------
    (eps, counts) : ndarrays of shape (n,), float64 and intp, or None
    """
    cdef intp n = a.shape[0], p, probes = 0, work = 0, stride, tid
    cdef double budget
    cdef int nt = _threads(n_threads, n)
    if extra.shape[0] != n:
        raise ValueError(f"extra must have {n} entries, got {extra.shape[0]}")
    if not (1 <= k < n):
        raise ValueError(f"need 1 <= k < n, got k={k}, n={n}")
    cdef _Grid grid = _Grid(a, cuts, n_threads)
    cdef const double[::1] ext = grid.in_cell_order(np.asarray(extra))
    cdef double[:, ::1] bd = np.zeros((nt, _padded(k + 1)))
    cdef double[:, ::1] buf = np.empty((nt, GRID_CAP))
    eps_np = np.empty(n)
    cnt_np = np.empty(n, dtype=np.intp)
    cdef double[::1] eps = eps_np
    cdef intp[::1] cnt = cnt_np
    with nogil:
        stride = _probe_stride(n)
        budget = _probe_budget(n, max_work)
        p = 0
        while p < n and work <= budget:
            work += grid.knn_count_one(&ext[0], p, k, 0.0, &bd[0, 0], &buf[0, 0], &cnt[p])
            probes += 1
            p += stride
    if work > max_work * probes:
        return None
    bd[:, :] = 0.0
    with nogil:
        for p in prange(n, num_threads=nt, schedule="dynamic", chunksize=512):
            tid = threadid()
            grid.knn_count_one(&ext[0], p, k, GRID_GUESS * bd[tid, k], &bd[tid, 0], &buf[tid, 0], &cnt[p])
            eps[p] = bd[tid, k]
    return grid.by_row(eps_np), (grid.by_row(cnt_np) if by_row else cnt_np)


# --------------------------------------------------------------------------- exact sums
cdef enum:
    # the exact sums: 32-bit digits of a fixed-point accumulator covering every float64 bit
    # position (2098 bits: exponents 0..2046 plus 53 mantissa bits), the growth of 2**31
    # additions, and a spare digit
    SUM_DIGITS = 68
    SUM_NORMALISE_EVERY = 1 << 28

cdef unsigned long long MASK32 = 0xffffffffULL

cdef inline void _normalise(long long* acc) noexcept nogil:
    """Carry each digit's excess above 32 bits into the next (floor division, so every
    digit but the last ends in [0, 2**32))."""
    cdef intp i
    cdef long long c
    for i in range(SUM_DIGITS - 1):
        c = acc[i] >> 32
        acc[i] -= c << 32
        acc[i + 1] += c


cdef int _exact_sum(const double[:, ::1] a, intp col, bint square, double shift, long long* acc) noexcept nogil:
    """Accumulate a[:, col] (or the doubles fl((a[:, col] - shift)**2)) exactly into acc, in
    units of 2**-1074: a value's 53-bit mantissa, shifted to its exponent, is added to two or
    three 32-bit digits. Integer additions commute, so the result does not depend on the
    order of the rows. Returns 1 if a summand is inf or nan (the squares overflowed)."""
    cdef intp n = a.shape[0], r, i
    cdef double x
    cdef unsigned long long u, m
    cdef long long lo, hi, sign
    cdef int e, b
    for i in range(SUM_DIGITS):
        acc[i] = 0
    for r in range(n):
        x = a[r, col]
        if square:
            x = x - shift
            x = x * x
        u = (<unsigned long long*>&x)[0]
        e = <int>((u >> 52) & 0x7ff)
        if e == 0x7ff:
            return 1
        m = u & ((<unsigned long long>1 << 52) - 1)
        if e > 0:
            m |= <unsigned long long>1 << 52
        else:
            e = 1                       # subnormals: the weight of the smallest normal
        sign = -1 if (u >> 63) else 1
        b = e - 1                       # bit position of the mantissa's last bit
        i = b >> 5
        b &= 31
        lo = <long long>((m & MASK32) << b)       # < 2**63
        hi = <long long>((m >> 32) << b)          # < 2**53
        acc[i] += sign * (lo & <long long>MASK32)
        acc[i + 1] += sign * ((lo >> 32) + (hi & <long long>MASK32))
        acc[i + 2] += sign * (hi >> 32)
        if (r + 1) % SUM_NORMALISE_EVERY == 0:
            _normalise(acc)
    _normalise(acc)
    return 0


def exact_column_sums(const double[:, ::1] a, shift=None, int n_threads=1):
    """Correctly rounded column sums of ``a`` (n, d), or with ``shift`` (d,) the sums of
    squared deviations ``fl((a[:, j] - shift[j])**2)``; equal to ``math.fsum`` column by
    column (where no partial sum of fsum's overflows), so independent of the row order (and
    of ``n_threads``: one thread per column). OverflowError if a sum overflows float64.

    Each column is summed exactly in a fixed-point integer accumulator (``_exact_sum``); the
    exact integer is then divided by 2**1074 in Python, whose int division rounds correctly
    (half to even)."""
    cdef intp d = a.shape[1], j
    cdef bint square = shift is not None
    cdef double[::1] s = np.zeros(d) if shift is None else np.ascontiguousarray(shift, dtype=np.float64)
    if s.shape[0] != d:
        raise ValueError("shift must have one value per column")
    digits = np.zeros((d, SUM_DIGITS), dtype=np.int64)
    flags = np.zeros(d, dtype=np.uint8)
    cdef long long[:, ::1] acc = digits
    cdef unsigned char[::1] f = flags
    cdef int nt = max(1, min(n_threads, d))
    with nogil:
        for j in prange(d, num_threads=nt, schedule="static"):
            f[j] = _exact_sum(a, j, square, s[j], &acc[j, 0])
    if flags.any():
        raise OverflowError("a column sum overflows float64")
    out = np.empty(d)
    for j in range(d):
        total = 0
        for i, v in enumerate(digits[j].tolist()):
            total += v << (32 * i)
        try:
            out[j] = total / (1 << 1074)
        except OverflowError:
            raise OverflowError("a column sum overflows float64") from None
    return out
