"""Run upstream gmm-mi 0.8.2 on one data set and write its result as JSON.

Runs INSIDE .venv-upstream (see make_venv.sh); fastmi never imports upstream code. Usage:

    .venv-upstream/bin/python benchmarks/upstream/run_upstream.py IN.npz OUT.json
    .venv-upstream/bin/python benchmarks/upstream/run_upstream.py --case gamma_exp --n 10000 --seed 0 OUT.json

IN.npz holds ``x`` and ``y`` (shape (n,)) and optionally ``options``: a JSON string with any
of the keys below (upstream's defaults otherwise, i.e. ``EstimateMI()`` as in its README):

    n_inits, n_folds, metric_method, threshold_components, patience, max_components,
    fixed_components_number                        -> SelectComponentsParamHolder
    init_type, scale, threshold_fit, reg_covar, max_iter   -> GMMFitParamHolder
    n_bootstrap, integral_method, MC_samples       -> MIDistParamHolder

Upstream's default initialisation is ``init_type='random_sklearn'``: random responsibilities
followed by an M-step (fastmi's ``init="random_resp"``).

Timing: ``time.perf_counter`` around ``fit`` and around ``estimate``; one BLAS/OpenMP thread
is forced before numpy is imported ("upstream at its fastest": on 2-D data extra BLAS
threads only add overhead).
"""
import os

for _v in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS",
           "BLIS_NUM_THREADS", "VECLIB_MAXIMUM_THREADS", "NUMEXPR_NUM_THREADS"):
    os.environ[_v] = "1"
os.environ.setdefault("TQDM_DISABLE", "1")  # upstream wraps its bootstrap loop in tqdm

import argparse  # noqa: E402
import json  # noqa: E402
import platform  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
import warnings  # noqa: E402

import numpy as np  # noqa: E402

_SELECT = ("n_inits", "n_folds", "metric_method", "threshold_components", "patience",
           "max_components", "fixed_components_number")
_FIT = ("init_type", "scale", "threshold_fit", "reg_covar", "max_iter")
_DIST = ("n_bootstrap", "integral_method", "MC_samples")


def _load(args):
    if args.case:
        sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
        import cases
        x, y = cases.make(args.case, args.n, args.seed)
        return x, y, json.loads(args.options or "{}")
    with np.load(args.input, allow_pickle=False) as f:
        x, y = np.asarray(f["x"], dtype=float), np.asarray(f["y"], dtype=float)
        opts = json.loads(str(f["options"])) if "options" in f.files else {}
    if args.options:
        opts.update(json.loads(args.options))
    return x, y, opts


def run(x, y, opts):
    from importlib.metadata import version

    import sklearn
    from gmm_mi.mi import EstimateMI
    from gmm_mi.param_holders import GMMFitParamHolder, MIDistParamHolder, SelectComponentsParamHolder

    unknown = set(opts) - set(_SELECT + _FIT + _DIST)
    if unknown:
        raise SystemExit(f"run_upstream.py: unknown options {sorted(unknown)}")
    est = EstimateMI(
        gmm_fit_params=GMMFitParamHolder(**{k: opts[k] for k in _FIT if k in opts}),
        select_components_params=SelectComponentsParamHolder(**{k: opts[k] for k in _SELECT if k in opts}),
    )
    dist = MIDistParamHolder(**{k: opts[k] for k in _DIST if k in opts})
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        t0 = time.perf_counter()
        est.fit(x, y)
        t1 = time.perf_counter()
        mi, std = est.estimate(mi_dist_params=dist)
        t2 = time.perf_counter()

    try:
        from threadpoolctl import threadpool_info
        threads = sorted({(d.get("internal_api"), d.get("num_threads")) for d in threadpool_info()})
    except Exception:  # pragma: no cover - threadpoolctl ships with sklearn
        threads = []
    return {
        "mi": float(mi),
        "std": None if std is None else float(std),
        "n_components": int(est.best_components),
        "seconds": t2 - t0,
        "fit_seconds": t1 - t0,
        "estimate_seconds": t2 - t1,
        "n": int(x.shape[0]),
        "options": opts,
        "warnings": sorted({f"{w.category.__name__}: {str(w.message)[:120]}" for w in caught}),
        "threadpools": [f"{api}={n}" for api, n in threads],
        "versions": {
            "gmm-mi": version("gmm-mi"),
            "scikit-learn": sklearn.__version__,
            "numpy": np.__version__,
            "python": platform.python_version(),
        },
    }


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("input", nargs="?", help="npz with x, y[, options]")
    p.add_argument("output", help="JSON file to write ('-' for stdout)")
    p.add_argument("--case", help="generate the data with cases.make(CASE, N, SEED) instead")
    p.add_argument("--n", type=int, default=10_000)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--options", help="JSON dict of upstream options (overrides the npz's)")
    args = p.parse_args(argv)
    if (args.input is None) == (args.case is None):
        p.error("give either IN.npz or --case")
    res = run(*_load(args))
    text = json.dumps(res, indent=1)
    if args.output == "-":
        print(text)
    else:
        tmp = args.output + ".tmp"
        with open(tmp, "w") as f:
            f.write(text)
        os.replace(tmp, args.output)


if __name__ == "__main__":
    main()
