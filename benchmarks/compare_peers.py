"""fastmi against peer MI estimators on distributions with a known MI, through fastmi.bench.

Peers:

- upstream **gmm-mi 0.8.2** (GPL-3, non-commercial clause): it pins scikit-learn 1.5.2, so it
  runs as an external program in its own venv (``.venv-upstream``, built on demand by
  ``benchmarks/upstream/make_venv.sh``; driven by ``benchmarks/upstream/harness.py`` and
  ``run_upstream.py``; no upstream code is imported here). 1-D x and y only.
- **ennemi** (``estimate_mi``, KSG with k=3, its default preprocessing): main environment;
  ``pip install ennemi``. 1-D x (its columns are separate variables, not one joint x).
- **scikit-learn** ``mutual_info_regression`` / ``mutual_info_classif`` (KSG / Ross, k=3):
  main environment. Per-feature MI, so 1-D x only.

and fastmi's ``gmm`` and ``ksg`` (k=3). Every estimator gets the same samples (``fastmi.bench.run``)
and runs with one thread (``n_jobs=1`` / ``max_threads=1``; BLAS and OpenMP pinned to one
thread, here and in upstream's process). GMM-MI runs at both packages' defaults (50
bootstrap replicates, 1e5 MC samples, 3 initialisations, 2 folds; fastmi initialises with
k-means++, upstream with random responsibilities).

Timing: wall clock around each call, after an untimed warm-up call per estimator (Numba
compilation). For upstream it is the time its runner measures around ``fit`` + ``estimate``
inside its own process, i.e. without interpreter start-up, imports and data transfer.

Writes ``compare_peers.md`` (versions, settings, tables), ``compare_peers.csv`` (every run)
and ``compare_peers.png`` (RMSE against median time) to ``--out-dir``:

    python benchmarks/compare_peers.py              # n = 10000, 3 seeds, 8 distributions
    python benchmarks/compare_peers.py --quick      # n = 2000, 1 seed, 4 distributions

On 2 shared cores the full run takes about 30 min, nearly all of it upstream gmm-mi (about 8 min
per run on gaussian_exp_cube, 1 min on gamma_exp); ``--quick`` takes about 30 s.
"""
from __future__ import annotations

import os

for _v in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "BLIS_NUM_THREADS",
           "VECLIB_MAXIMUM_THREADS", "NUMEXPR_NUM_THREADS", "NUMBA_NUM_THREADS"):
    os.environ.setdefault(_v, "1")

import argparse  # noqa: E402
import platform  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from importlib.metadata import PackageNotFoundError, version  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import fastmi.bench as fb  # noqa: E402

FULL = {"n": [10_000], "seeds": [0, 1, 2],
        "distributions": ["gaussian", "gaussian_strong", "gamma_exp", "mixture3", "student_t", "uniform_noise",
                          "gaussian_exp_cube", "categorical"]}
QUICK = {"n": [2_000], "seeds": [0], "distributions": ["gaussian", "gamma_exp", "mixture3", "categorical"]}
PEERS = ("gmm-mi", "ennemi", "sklearn")


def _version(dist):
    try:
        return version(dist)
    except PackageNotFoundError:
        return None


def _one_d(a, what):
    a = np.asarray(a)
    if a.ndim == 2 and a.shape[1] != 1:
        raise fb.Unsupported(f"{what} is {a.shape[1]}-D; this peer handles 1-D only")
    return a.reshape(-1)


# ---------------------------------------------------------------------------------------------
# peers as fastmi.bench estimators
# ---------------------------------------------------------------------------------------------
def make_upstream(notes):
    """gmm-mi 0.8.2 in .venv-upstream, or None (with a note) when the venv cannot be built."""
    from benchmarks.upstream import harness

    try:
        t0 = time.perf_counter()
        harness.ensure_venv()
        notes.append(f"upstream venv ready ({harness.VENV}, {time.perf_counter() - t0:.0f} s)")
    except harness.UpstreamUnavailable as exc:
        notes.append(f"gmm-mi skipped: {str(exc).splitlines()[0]}")
        return None, {}
    info = {}

    def gmm_mi(x, y, *, y_type="continuous"):
        if y_type != "continuous":
            raise fb.Unsupported("run_upstream.py drives the continuous EstimateMI only")
        res = harness.run_upstream(_one_d(x, "x"), _one_d(y, "y"), {}, use_cache=False)
        info.update(res.get("versions", {}))
        return {"mi": res["mi"], "std": res["std"], "seconds": res["seconds"]}

    return gmm_mi, info


def make_ennemi(notes):
    try:
        from ennemi import estimate_mi
    except ImportError:
        notes.append("ennemi skipped: not installed (pip install ennemi)")
        return None

    def ennemi_ksg(x, y, *, y_type="continuous"):
        x = _one_d(x, "x")
        if y_type == "categorical":
            return float(np.asarray(estimate_mi(y, x, k=3, discrete_y=True, max_threads=1)).reshape(()))
        return float(np.asarray(estimate_mi(_one_d(y, "y"), x, k=3, max_threads=1)).reshape(()))

    return ennemi_ksg


def make_sklearn(notes):
    try:
        from sklearn.feature_selection import mutual_info_classif, mutual_info_regression
    except ImportError:
        notes.append("scikit-learn skipped: not installed")
        return None

    def sklearn_ksg(x, y, *, y_type="continuous"):
        x = _one_d(x, "x")[:, None]
        if y_type == "categorical":
            return float(mutual_info_classif(x, y, discrete_features=False, n_neighbors=3, random_state=0)[0])
        return float(mutual_info_regression(x, _one_d(y, "y"), discrete_features=False, n_neighbors=3,
                                            random_state=0)[0])

    return sklearn_ksg


# ---------------------------------------------------------------------------------------------
# report
# ---------------------------------------------------------------------------------------------
def _pivot(summary, estimators, distributions):
    cells = {(r["estimator"], r["distribution"]): r for r in summary}
    head = "| distribution | true MI | " + " | ".join(estimators) + " |"
    lines = [head, "|---|---|" + "---|" * len(estimators)]
    for d in distributions:
        row = [d, f"{next(r['true_mi'] for r in summary if r['distribution'] == d):.4f}"]
        for e in estimators:
            r = cells.get((e, d))
            if r is None or r["runs"] == 0:
                row.append("n/a")
                continue
            row.append(f"{r['mean_estimate']:.4f} ({r['bias']:+.4f}, {r['median_seconds']:.3g} s)")
        lines.append("| " + " | ".join(row) + " |")
    return "\n".join(lines) + "\n"


def _totals(summary, estimators):
    lines = ["| estimator | distributions run | mean RMSE [nat] | worst abs(bias) [nat] | total median seconds |",
             "|---|---|---|---|---|"]
    for e in estimators:
        rs = [r for r in summary if r["estimator"] == e and r["runs"] > 0]
        if not rs:
            lines.append(f"| {e} | 0 | – | – | – |")
            continue
        lines.append(f"| {e} | {len(rs)} | {np.mean([r['rmse'] for r in rs]):.4f} | "
                     f"{max(abs(r['bias']) for r in rs):.4f} | {sum(r['median_seconds'] for r in rs):.3g} |")
    return "\n".join(lines) + "\n"


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="n=2000, one seed, four distributions")
    p.add_argument("--n", nargs="+", type=int, help="sample size(s) (overrides the mode's)")
    p.add_argument("--seeds", nargs="+", type=int, help="data seeds (overrides the mode's)")
    p.add_argument("--distributions", nargs="+", help="fastmi.bench preset names or specs")
    p.add_argument("--peers", nargs="+", default=list(PEERS), choices=PEERS, help="peers to run (default: all)")
    p.add_argument("--out-dir", default=str(ROOT / "build" / "compare_peers"),
                   help="where to write compare_peers.{md,csv,png} (default: build/compare_peers)")
    args = p.parse_args(argv)
    mode = QUICK if args.quick else FULL
    ns, seeds = args.n or mode["n"], args.seeds or mode["seeds"]
    dist_names = args.distributions or mode["distributions"]
    out = Path(args.out_dir)
    out.mkdir(parents=True, exist_ok=True)

    notes = []
    estimators = fb.fastmi_estimators(["gmm", "ksg"], n_jobs=1)
    upstream_info = {}
    if "gmm-mi" in args.peers:
        fn, upstream_info = make_upstream(notes)
        if fn:
            estimators["gmm-mi 0.8.2"] = fn
    if "ennemi" in args.peers and (fn := make_ennemi(notes)):
        estimators["ennemi"] = fn
    if "sklearn" in args.peers and (fn := make_sklearn(notes)):
        estimators["sklearn"] = fn

    dists = [fb.get_distribution(d) for d in dist_names]
    t0 = time.perf_counter()
    table = fb.run(estimators, dists, n=ns, seeds=seeds, as_frame=False, progress=True)
    wall = time.perf_counter() - t0
    summary = fb.summarize(table, as_frame=False)

    fb.write_table(table, out / "compare_peers.csv")
    fig = fb.plot(summary, title=f"MI estimators: RMSE vs time (n={','.join(map(str, ns))}, "
                                 f"{len(seeds)} seed(s), one thread each)")
    fig.savefig(out / "compare_peers.png", dpi=130)

    ests = list(estimators)
    versions = [f"fastmi {_version('fastmi') or 'source tree'} (numpy {np.__version__}, "
                f"numba {_version('numba')}, Python {platform.python_version()})"]
    if upstream_info:
        versions.append(f"gmm-mi {upstream_info.get('gmm-mi')} in .venv-upstream (scikit-learn "
                        f"{upstream_info.get('scikit-learn')}, numpy {upstream_info.get('numpy')}, "
                        f"Python {upstream_info.get('python')})")
    if "ennemi" in estimators:
        versions.append(f"ennemi {_version('ennemi')} (main environment)")
    if "sklearn" in estimators:
        versions.append(f"scikit-learn {_version('scikit-learn')} (main environment)")
    failures = sorted({f"{r['estimator']} on {r['distribution']}: {r['status']}" for r in table
                       if r["status"].startswith("error")})
    cmd = "python benchmarks/compare_peers.py" + ("" if argv is None and len(sys.argv) == 1 else
                                                  " " + " ".join(argv if argv is not None else sys.argv[1:]))
    text = [
        "# fastmi vs peers on distributions with a known MI\n",
        f"Command: `{cmd}`  ",
        f"n = {ns}, seeds = {seeds}, {len(table)} runs in {wall:.0f} s on {platform.machine()} "
        f"({os.cpu_count()} logical CPUs, possibly shared), {time.strftime('%Y-%m-%d')}.\n",
        "Versions: " + "; ".join(versions) + ".\n",
        "Every estimator sees the same samples; one thread each. GMM-MI at both packages' defaults; "
        "KSG estimators with k = 3. Times are wall clock around each call after a warm-up call "
        "(upstream: its own timer around fit + estimate, without process start-up). "
        "MI in nats; true MI in closed form except mixture3 (reference MC, "
        f"± {fb.get_distribution('mixture3').mi_stderr:.1e}) and categorical (quadrature).\n",
        "## Mean estimate (bias, median seconds)\n",
        _pivot(summary, ests, [d.name for d in dists]),
        "## Totals over the distributions each estimator ran\n",
        _totals(summary, ests),
        "## All groups\n",
        fb.to_markdown(summary),
    ]
    if notes or failures:
        text += ["## Notes\n", "\n".join(f"- {s}" for s in notes + failures) + "\n"]
    (out / "compare_peers.md").write_text("\n".join(text))
    print("\n".join(text))
    print(f"wrote {out / 'compare_peers.md'}, {out / 'compare_peers.csv'}, {out / 'compare_peers.png'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
