"""Bad input on every public entry point: one table of cases.

Each row is ``(id, call, exception, message regex)``: ``call()`` must raise ``exception``
(ValueError or TypeError) with a message that matches the regex, which names the argument and
the problem. The rows for ``mutual_info`` are generated over the registry (``_registry.names``)
so that a newly registered method is covered by every data row, and by every parameter row
whose parameter it accepts. The command line is checked with the same kind of table
(``CLI_CASES``): exit status 2 and the message on stderr.
"""
import numpy as np
import pytest

import fastmi
from fastmi import _registry
from fastmi.knn import ksg_conditional_mutual_info, ksg_mutual_info, mixed_mutual_info

N = 40
_r = np.random.default_rng(7)
X = _r.standard_normal(N)
Y = X + _r.standard_normal(N)
Z = _r.standard_normal(N)
A = _r.standard_normal((N, 3))
LABELS = np.repeat([0, 1], N // 2)
# GMM settings that keep the few rows that get as far as a fit cheap
FAST = {"gmm": {"n_bootstrap": 2, "mc_samples": 500, "n_init": 1, "max_components": 2}}


def _with(a, i, v):
    a = np.array(a, dtype=float)
    a[i] = v
    return a


# ------------------------------------------------------------- mutual_info, over the registry
#: (id, x, y, regex) for the continuous-data methods
DATA = [
    ("3d", np.zeros((N, 2, 2)), Y, r"x must be 1-D or 2-D \(samples x features\), got 3-D"),
    ("str", np.array(["a"] * N), Y, r"x must be numeric, got dtype <U1"),
    ("object-none", np.array([1.0] * (N - 1) + [None], dtype=object), Y, r"x must be numeric, got dtype object"),
    ("object-numbers", np.array(list(X), dtype=object), Y, r"x must be numeric, got dtype object"),
    ("complex", X + 1j, Y, r"x must be numeric, got dtype complex128"),
    ("nan-x", _with(X, 3, np.nan), Y, r"x contains 1 NaN or infinite value"),
    ("inf-y", X, _with(Y, 0, np.inf), r"y contains 1 NaN or infinite value"),
    ("-inf-y", X, _with(Y, 0, -np.inf), r"y contains 1 NaN or infinite value"),
    ("lengths", X, Y[:30], r"same number of samples: x has 40, y has 30"),
    ("one-sample", X[:1], Y[:1], r"x has 1 samples; at least 2 are needed"),
    ("empty", X[:0], Y[:0], r"x is empty \(shape \(0, 1\)\)"),
    ("empty-columns", np.zeros((N, 0)), Y, r"x is empty \(shape \(40, 0\)\)"),
    ("scalar", 1.0, 2.0, r"x must be 1-D or 2-D, got a scalar"),
    ("ragged", [[1.0, 2.0], [3.0]] * (N // 2), Y, r"x could not be converted to an array"),
    ("none", None, Y, r"x must be numeric, got dtype object"),
    ("constant", np.ones(N), Y, r"x (has constant column\(s\) \[0\]|: all 40 points .* identical)|"
                                r"all 40 points of x are identical"),
    ("string-arg", "abc", "def", r"x must be numeric, got dtype <U3"),
]
#: the discrete plug-in estimator takes symbols of any type, so its data rows differ
DATA_DISCRETE = [
    ("3d", np.zeros((N, 2, 2)), Y, r"categorical x must be 1-D, got shape \(40, 2, 2\)"),
    ("nan-x", _with(X, 3, np.nan), Y, r"categorical x contains NaN or infinite labels"),
    ("none-label", np.array(list(LABELS[:-1]) + [None], dtype=object), Y, r"categorical x contains missing labels"),
    ("lengths", X, Y[:30], r"same number of samples: x has 40, y has 30"),
    ("single-symbol", np.ones(N), Y, r"categorical x has a single class \[1\.0\]"),
    ("empty-y", X, Y[:0], r"y is empty"),
    ("scalar", 1.0, 2.0, r"categorical x must be 1-D, got shape \(\)"),
]
#: (parameter, value, exception, regex): applied to every method whose 'mi' function takes it
PARAMS = [
    ("k", 0, ValueError, r"k must be >= 1, got 0"),
    ("k", N, ValueError, r"k=40 must be smaller than the number of samples n=40"),
    ("k", 2.5, ValueError, r"k must be an int, got 2\.5"),
    ("k", True, ValueError, r"k must be an int, got True"),
    ("unit", "bits", ValueError, r"unit must be one of \['bit', 'nat'\], got 'bits'"),
    ("n_jobs", 0, ValueError, r"n_jobs must be a positive int, -1 or None, got 0"),
    ("n_jobs", 1.5, ValueError, r"n_jobs must be a positive int, -1 or None, got 1\.5"),
    ("rng", "seed", ValueError, r"rng must be None, an int, a SeedSequence or a Generator"),
    ("n_bootstrap", -1, ValueError, r"n_bootstrap must be >= 0, got -1"),
    ("n_bootstrap", 2.0, ValueError, r"n_bootstrap must be an int, got 2\.0"),
    ("subsample", 2.0, ValueError, r"a fractional subsample must lie in \(0, 1\), got 2\.0"),
    ("subsample", N, ValueError, r"subsample size must satisfy .* < n=40"),
    ("subsample", "half", ValueError, r"subsample must be None, an int or a fraction in \(0, 1\)"),
    ("standardize", "no", ValueError, r"standardize must be True or False, got 'no'"),
    ("jitter", -1.0, ValueError, r"jitter must be >= 0\.0, got -1\.0"),
    ("jitter", "yes", ValueError, r"jitter must be a finite real number, got 'yes'"),
    ("miller_madow", "yes", ValueError, r"miller_madow must be True or False, got 'yes'"),
    ("n_components", 0, ValueError, r"n_components must be >= 1, got 0"),
    ("n_components", "many", ValueError, r"n_components must be 'auto' or a positive int, got 'many'"),
    ("n_init", 0, ValueError, r"n_init must be >= 1, got 0"),
    ("n_folds", 1, ValueError, r"n_folds must be >= 2, got 1"),
    ("n_folds", 100, ValueError, r"n_folds=100 exceeds the 40 samples of data"),
    ("max_components", 0, ValueError, r"max_components must be >= 1, got 0"),
    ("tol", float("nan"), ValueError, r"tol must be a finite real number, got nan"),
    ("tol", -1, ValueError, r"tol must be >= 0\.0, got -1\.0"),
    ("reg_covar", -1e-6, ValueError, r"reg_covar must be >= 0\.0"),
    ("max_iter", 0, ValueError, r"max_iter must be >= 1, got 0"),
    ("threshold_components", -1, ValueError, r"threshold_components must be >= 0\.0"),
    ("patience", 0, ValueError, r"patience must be >= 1, got 0"),
    ("metric", "loglik", ValueError, r"metric must be one of \['aic', 'bic', 'cv'\], got 'loglik'"),
    ("mc_samples", 1, ValueError, r"mc_samples must be >= 2, got 1"),
    ("init", "zeros", ValueError, r"init must be one of \[.*'kmeans\+\+'.*\], got 'zeros'"),
    ("backend", "torch", ValueError, r"backend must be one of \['auto', 'cupy', 'numba', 'numpy'\], got 'torch'"),
    ("min_class_size", 3, ValueError, r"min_class_size applies to y_type='categorical' only"),
]


def _mi_rows():
    rows = []
    for m in _registry.names("mi"):
        if not _registry.get(m).available:  # an optional extra (torch) is missing
            continue
        fast = FAST.get(m, {})
        data = DATA_DISCRETE if _registry.get(m).data == "discrete" else DATA
        for cid, x, y, rx in data:
            rows.append((f"mutual_info[{m}]-{cid}",
                         lambda x=x, y=y, m=m, fast=fast: fastmi.mutual_info(x, y, method=m, **fast), ValueError, rx))
        accepted = _registry.get(m).parameters("mi")
        for p, v, exc, rx in PARAMS:
            if p in accepted:
                kw = {**fast, p: v}
                rows.append((f"mutual_info[{m}]-{p}={v!r}",
                             lambda kw=kw, m=m: fastmi.mutual_info(X, Y, method=m, **kw), exc, rx))
        # an unknown option names itself
        rows.append((f"mutual_info[{m}]-unknown-option",
                     lambda m=m, fast=fast: fastmi.mutual_info(X, Y, method=m, n_neighbours=3, **fast),
                     TypeError, r"unexpected keyword argument 'n_neighbours'"))
        if _registry.get(m).defaults:  # ksg / ksg2 fix the variant
            rows.append((f"mutual_info[{m}]-variant", lambda m=m: fastmi.mutual_info(X, Y, method=m, variant=3),
                         ValueError, rf"method='{m}' fixes variant="))
    return rows


def _categorical_rows():
    bad = [
        ("single-class", np.zeros(N), r"categorical (y|labels) has a single class \[0\.0\]"),
        ("2d-labels", np.zeros((N, 2)), r"categorical (y|labels) must be 1-D, got shape \(40, 2\)"),
        ("nan-label", _with(LABELS, 0, np.nan), r"categorical (y|labels) contains NaN or infinite labels"),
        ("none-label", np.array(list(LABELS[:-1]) + [None], dtype=object),
         r"categorical (y|labels) contains missing labels \(None or NaN\)"),
        ("lengths", LABELS[:30], r"same number of samples: .*(y|labels) has 30"),
        ("class-of-one", np.r_[LABELS[:-1], 7], r"class\(es\) \[7\] have fewer than 2 samples"),
        ("empty", LABELS[:0], r"(y|labels) is empty|same number of samples"),
        ("uncomparable", np.array([1, "a"] * (N // 2), dtype=object), r"labels that cannot be compared"),
    ]
    rows = []
    for m in _registry.names("categorical"):
        fast = FAST.get(m, {})
        for cid, lab, rx in bad:
            rows.append((f"categorical[{m}]-{cid}",
                         lambda lab=lab, m=m, fast=fast: fastmi.mutual_info(X, lab, method=m, y_type="categorical",
                                                                            **fast), ValueError, rx))
        rows.append((f"categorical[{m}]-min_class_size",
                     lambda m=m, fast=fast: fastmi.mutual_info(X, LABELS, method=m, y_type="categorical",
                                                               min_class_size=1, **fast),
                     ValueError, r"min_class_size must be >= 2, got 1"))
    if "ksg" in _registry.names("categorical"):
        rows.append(("categorical[ksg]-k-vs-class-size",
                     lambda: fastmi.mutual_info(X, LABELS, method="ksg", y_type="categorical", k=20),
                     ValueError, r"k=20 must be smaller than the size of the largest class \(20\)"))
    return rows


def _conditional_rows():
    bad = [
        ("z-lengths", Z[:30], r"same number of samples: .*z has 30"),
        ("z-nan", _with(Z, 1, np.nan), r"z contains (1 NaN or infinite value|NaN or infinite labels)"),
        ("z-3d", np.zeros((N, 1, 1)), r"z must be 1-D( or 2-D)?.*"),
        ("z-no-columns", np.zeros((N, 0)), r"z (is empty|must be 1-D, got shape \(40, 0\))"),
    ]
    rows = []
    for kind in ("conditional", "categorical_conditional"):
        for m in _registry.names(kind):
            fast = FAST.get(m, {})
            y_type = "categorical" if kind == "categorical_conditional" else "continuous"
            y = LABELS if y_type == "categorical" else Y
            for cid, z, rx in bad:
                rows.append((f"{kind}[{m}]-{cid}",
                             lambda z=z, y=y, m=m, t=y_type, fast=fast:
                             fastmi.conditional_mutual_info(X, y, z, method=m, y_type=t, **fast), ValueError, rx))
            if m != "discrete":
                rows.append((f"{kind}[{m}]-z-str",
                             lambda y=y, m=m, t=y_type, fast=fast:
                             fastmi.conditional_mutual_info(X, y, np.array(["a"] * N), method=m, y_type=t, **fast),
                             ValueError, r"z must be numeric, got dtype <U1"))
    rows.append(("conditional-unsupported-method", lambda: fastmi.conditional_mutual_info(X, Y, Z, method="gaussian"),
                 ValueError, r"conditional MI is supported by methods \[.*\], not 'gaussian'"))
    return rows


def _other_rows():
    ksg_fns = {"ksg_mutual_info": lambda x, y, **kw: ksg_mutual_info(x, y, **kw),
               "mixed_mutual_info": lambda x, y, **kw: mixed_mutual_info(x, y, **kw),
               "ksg_conditional_mutual_info": lambda x, y, **kw: ksg_conditional_mutual_info(x, y, Z, **kw)}
    rows = []
    for name, fn in ksg_fns.items():
        rows += [
            (f"{name}-k-0", lambda fn=fn: fn(X, Y, k=0), ValueError, r"k must be >= 1, got 0"),
            (f"{name}-k-n", lambda fn=fn: fn(X, Y, k=N), ValueError, r"k=40 must be smaller than the number of samples"),
            (f"{name}-nan", lambda fn=fn: fn(_with(X, 0, np.nan), Y), ValueError, r"x contains 1 NaN"),
            (f"{name}-float32-inf", lambda fn=fn: fn(X.astype(np.float32), _with(Y, 2, np.inf).astype(np.float32)),
             ValueError, r"y contains 1 NaN"),
            (f"{name}-lengths", lambda fn=fn: fn(X, Y[:-1]), ValueError, r"same number of samples"),
            (f"{name}-object", lambda fn=fn: fn(np.array(list(X), dtype=object), Y), ValueError,
             r"x must be numeric, got dtype object"),
        ]
    rows += [
        ("ksg_mutual_info-variant", lambda: ksg_mutual_info(X, Y, variant=3), ValueError,
         r"variant must be 1 or 2, got 3"),
        ("ksg_mutual_info-variant-bool", lambda: ksg_mutual_info(X, Y, variant=True), ValueError,
         r"variant must be 1 or 2, got True"),
        # the top-level dispatch
        ("mutual_info-unknown-method", lambda: fastmi.mutual_info(X, Y, method="kde"), ValueError,
         r"method must be one of \[.*'gmm'.*\], got 'kde'"),
        ("mutual_info-method-none", lambda: fastmi.mutual_info(X, Y, method=None), ValueError,
         r"method must be one of .*, got None"),
        ("mutual_info-method-list", lambda: fastmi.mutual_info(X, Y, method=["ksg"]), (ValueError, TypeError),
         r"method must be one of|unhashable"),
        ("mutual_info-y_type", lambda: fastmi.mutual_info(X, Y, y_type="discrete"), ValueError,
         r"y_type must be one of \['categorical', 'continuous'\], got 'discrete'"),
        ("mutual_info-clip", lambda: fastmi.mutual_info(X, Y, method="ksg", clip="yes"), ValueError,
         r"clip must be True or False, got 'yes'"),
        ("mutual_info-categorical-unsupported", lambda: fastmi.mutual_info(X, LABELS, method="gaussian",
                                                                            y_type="categorical"),
         ValueError, r"y_type='categorical' is supported by methods \[.*\], not 'gaussian'"),
        ("mutual_info-entropy-only-method", lambda: fastmi.mutual_info(X, Y, method="knn"), ValueError,
         r"mutual information is supported by methods \[.*\], not 'knn'"),
        # entropy
        ("entropy-nan", lambda: fastmi.entropy(_with(X, 0, np.nan)), ValueError, r"x contains 1 NaN"),
        ("entropy-one-sample", lambda: fastmi.entropy(X[:1]), ValueError, r"x has 1 samples; at least 2"),
        ("entropy-3d", lambda: fastmi.entropy(np.zeros((4, 2, 2))), ValueError, r"x must be 1-D or 2-D"),
        ("entropy-constant", lambda: fastmi.entropy(np.ones(N)), ValueError, r"all 40 points of x are identical"),
        ("entropy-str", lambda: fastmi.entropy(np.array(["a"] * N)), ValueError, r"x must be numeric"),
        ("entropy-empty", lambda: fastmi.entropy(X[:0]), ValueError, r"x is empty"),
        ("entropy-k", lambda: fastmi.entropy(X, k=N), ValueError, r"k=40 must be smaller than the number of samples"),
        ("entropy-metric", lambda: fastmi.entropy(X, metric="l3"), ValueError,
         r"metric must be one of \['euclidean', 'max'\], got 'l3'"),
        ("entropy-method", lambda: fastmi.entropy(X, method="ksg"), ValueError,
         r"entropy is supported by methods \['knn'\], not 'ksg'"),
        ("entropy-unknown-option", lambda: fastmi.entropy(X, n_neighbors=3), TypeError,
         r"unexpected keyword argument 'n_neighbors'"),
        # KL divergence
        ("kl-dims", lambda: fastmi.kl_divergence(np.c_[X, Y], X), ValueError,
         r"p_samples and q_samples must have the same number of columns"),
        ("kl-nan", lambda: fastmi.kl_divergence(X, _with(X, 0, np.nan)), ValueError, r"q_samples contains 1 NaN"),
        ("kl-k", lambda: fastmi.kl_divergence(X, X[:3], k=5), ValueError,
         r"k=5 must not exceed the number of q_samples m=3"),
        ("kl-empty", lambda: fastmi.kl_divergence(X, X[:0]), ValueError, r"q_samples is empty"),
        ("kl-method", lambda: fastmi.kl_divergence(X, Y, method="gmm"), ValueError,
         r"KL divergence is supported by methods \['knn'\], not 'gmm'"),
        # GMMMI, the class
        ("GMMMI-estimate-unfitted", lambda: fastmi.GMMMI().estimate(), ValueError, r"not fitted yet: call fit"),
        ("GMMMI-n_folds-vs-n", lambda: fastmi.GMMMI(n_folds=30, **FAST["gmm"]).fit(X[:10], Y[:10]), ValueError,
         r"n_folds=30 exceeds the 10 samples of data"),
        ("GMMMI-too-few", lambda: fastmi.GMMMI(**FAST["gmm"]).fit(X[:3], Y[:3]), ValueError,
         r"data has 3 samples: too few for a 2-D Gaussian fit"),
        ("GMMMI-collinear", lambda: fastmi.GMMMI(**FAST["gmm"]).fit(np.c_[X, 2 * X], Y), ValueError,
         r"columns of \(x, y\) are linearly dependent"),
        ("GMMMI-n_components-too-many", lambda: fastmi.GMMMI(10, n_init=1).fit(X, Y), ValueError,
         r"too few for 10 components"),
        ("GMMMI-nan", lambda: fastmi.GMMMI(**FAST["gmm"]).fit(X, _with(Y, 0, np.nan)), ValueError, r"y contains 1 NaN"),
        ("GMMMI-unknown-option", lambda: fastmi.GMMMI(n_neighbours=3), TypeError,
         r"unexpected keyword argument 'n_neighbours'"),
        # mi_matrix
        ("mi_matrix-3d", lambda: fastmi.mi_matrix(np.zeros((4, 2, 2)), method="ksg"), ValueError,
         r"a must be 1-D or 2-D"),
        ("mi_matrix-nan", lambda: fastmi.mi_matrix(_with(A, (0, 0), np.nan), method="ksg"), ValueError,
         r"a contains 1 NaN or infinite"),
        ("mi_matrix-str", lambda: fastmi.mi_matrix(np.array([["a"] * 3] * N), method="ksg"), ValueError,
         r"a must be numeric, got dtype <U1"),
        ("mi_matrix-object", lambda: fastmi.mi_matrix(np.array(A, dtype=object), method="ksg"), ValueError,
         r"a must be numeric, got dtype object"),
        ("mi_matrix-method", lambda: fastmi.mi_matrix(A, method="kde"), ValueError, r"method must be one of"),
        ("mi_matrix-lengths", lambda: fastmi.mi_matrix(A, A[:30], method="ksg"), ValueError,
         r"same number of samples: a has 40, b has 30"),
        ("mi_matrix-one-column", lambda: fastmi.mi_matrix(A[:, :1], method="ksg"), ValueError,
         r"a has 1 column; the all-pairs matrix \(b=None\) needs at least 2"),
        ("mi_matrix-names", lambda: fastmi.mi_matrix(A, method="ksg", a_names=["a"]), ValueError,
         r"a has 1 names for 3 columns"),
        ("mi_matrix-on_error", lambda: fastmi.mi_matrix(A, method="ksg", on_error="skip"), ValueError,
         r"on_error must be one of \['nan', 'raise'\], got 'skip'"),
        ("mi_matrix-executor", lambda: fastmi.mi_matrix(A, method="ksg", executor="mpi"), ValueError,
         r"executor must be one of \['processes', 'threads'\], got 'mpi'"),
        ("mi_matrix-pairs_per_task", lambda: fastmi.mi_matrix(A, method="ksg", pairs_per_task=0), ValueError,
         r"pairs_per_task must be >= 1, got 0"),
        ("mi_matrix-k", lambda: fastmi.mi_matrix(A, method="ksg", k=100), ValueError,
         r"k=100 must be smaller than the number of samples n=40"),
        ("mi_matrix-categorical-without-b", lambda: fastmi.mi_matrix(A, method="ksg", y_type="categorical"),
         ValueError, r"y_type='categorical' needs b"),
    ]
    return rows


CASES = _mi_rows() + _categorical_rows() + _conditional_rows() + _other_rows()


def test_case_ids_are_unique():
    ids = [c[0] for c in CASES]
    assert len(ids) == len(set(ids))


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
@pytest.mark.parametrize("call, exc, match", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_bad_input(call, exc, match):
    with pytest.raises(exc, match=match):
        call()


# ------------------------------------------------------------- the command line
CLI_CASES = [
    ("unknown-column", ["estimate", "{good}", "--x", "a", "--y", "zz", "--method", "ksg"],
     r"unknown column 'zz' \(--y\)"),
    ("unknown-method", ["estimate", "{good}", "--x", "a", "--y", "b", "--method", "kde"],
     r"argument --method: invalid choice: 'kde'"),
    ("not-numeric", ["estimate", "{bad}", "--x", "a", "--y", "c", "--method", "ksg"],
     r"column 'c' of .*bad\.csv is not numeric"),
    ("missing-file", ["estimate", "{dir}/missing.csv", "--x", "a", "--y", "b"], r"no such file"),
    ("k-out-of-range", ["estimate", "{good}", "--x", "a", "--y", "b", "--method", "ksg", "--k", "0"],
     r"k must be >= 1, got 0"),
    ("k-too-large", ["estimate", "{good}", "--x", "a", "--y", "b", "--method", "ksg", "--k", "50"],
     r"k=50 must be smaller than the number of samples n=50"),
    ("unknown-option", ["estimate", "{good}", "--x", "a", "--y", "b", "--bogus", "3"],
     r"unrecognized arguments: --bogus 3"),
    ("matrix-missing-a", ["matrix", "{good}", "--method", "ksg"], r"the following arguments are required: --a"),
]


@pytest.fixture
def files(tmp_path):
    good = tmp_path / "good.csv"
    np.savetxt(good, np.random.default_rng(0).standard_normal((50, 3)), delimiter=",", header="a,b,c", comments="")
    bad = tmp_path / "bad.csv"
    bad.write_text("a,b,c\n1,2,x\n3,4,5\n")
    return {"good": str(good), "bad": str(bad), "dir": str(tmp_path)}


@pytest.mark.parametrize("argv, match", [c[1:] for c in CLI_CASES], ids=[c[0] for c in CLI_CASES])
def test_cli_bad_input(files, capsys, argv, match):
    from fastmi._cli import main

    argv = [a.format(**files) for a in argv]
    try:
        code = main(argv)
    except SystemExit as exc:  # argparse's own errors
        code = exc.code
    assert code == 2
    assert __import__("re").search(match, capsys.readouterr().err)


def test_table_counts_every_registered_method():
    """Every method that offers MI has data rows and an unknown-option row."""
    for m in _registry.names("mi"):
        if not _registry.get(m).available:
            continue
        assert any(c[0].startswith(f"mutual_info[{m}]-") and c[0].endswith("unknown-option") for c in CASES)
