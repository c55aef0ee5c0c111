"""FLINT concept alignment over seeds on the synthetic-concepts setup of tests/test_flint.py.

For each data seed and each FLINT rng: fidelity, the Hungarian-matched |corr| of concepts 0-2,
the unused concept's class relevance (G3: max over classes of |global relevance| of the attribute
matched to concept 3, matching all four concepts), its max |corr| with any class logit of g, and
CNS(5), CNS(10) with and without the conciseness term. A run passes with fidelity >= 0.95, every
|corr| >= 0.9, G3 < 0.05 and (unless --no-plain) CNS lowered by the term. Usage:

    PYTHONPATH=. python benchmarks/bench_flint_seeds.py --seeds 0 1 2 3 4 --data 0 1 [--kw key=value ...]
"""
import argparse
import sys
import time
from pathlib import Path

import numpy as np
import torch  # needs torch: fail here, clearly, rather than inside the tests module
from scipy.optimize import linear_sum_assignment

from fastmi.interpret import FLINT, conciseness

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.append(str(ROOT))


def concepts(seed):
    """The tests' synthetic-concepts data and frozen predictor for data seed ``seed``."""
    from tests.test_flint import _make_concepts

    return _make_concepts(seed)


def scores(C, fl):
    a = fl.attributes()
    with np.errstate(invalid="ignore", divide="ignore"):
        corr = np.nan_to_num(np.corrcoef(np.column_stack([C, a]).T)[:4, 4:])
    rows, cols = linear_sum_assignment(-np.abs(corr[:3]))
    g = fl.predict_logits()
    unused = max(abs(np.corrcoef(C[:, 3], g[:, k])[0, 1]) for k in range(g.shape[1]))
    r4, c4 = linear_sum_assignment(-np.abs(corr))  # all four concepts: which attribute is concept 3
    grel = float(np.abs(fl.global_relevance()[:, c4[3]]).max())
    return np.abs(corr[rows, cols]), unused, grel


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    ap.add_argument("--data", type=int, nargs="+", default=[0])
    ap.add_argument("--kw", nargs="*", default=[])
    ap.add_argument("--cd", type=float, default=None, help="conciseness_weight (default: FLINT's)")
    ap.add_argument("--no-plain", action="store_true")
    args = ap.parse_args()
    kw = {k: eval(v) for k, v in (s.split("=", 1) for s in args.kw)}
    torch.set_num_threads(1)  # the data's predictor trains with torch's threads; FLINT uses n_jobs (1)
    npass = 0
    for d in args.data:
        C, X, hidden, logits = concepts(d)
        for s in args.seeds:
            t = time.perf_counter()
            cd = {} if args.cd is None else {"conciseness_weight": args.cd}
            fl = FLINT(6, rng=s, **cd, **kw).fit(hidden, X, logits)
            dt = time.perf_counter() - t
            m, unused, grel = scores(C, fl)
            cns = conciseness(fl.local_relevance(), [5, 10])
            line = (f"data {d} rng {s}: fid {fl.fidelity_:.3f} |corr| {np.round(m, 3)} G3 {grel:.3f} "
                    f"logit-corr3 {unused:.3f} CNS(5,10) {np.round(cns, 2)}")
            ok = fl.fidelity_ >= 0.95 and m.min() >= 0.9 and grel < 0.05
            if not args.no_plain:
                pl = FLINT(6, conciseness_weight=0.0, rng=s, **kw).fit(hidden, X, logits)
                cp = conciseness(pl.local_relevance(), [5, 10])
                line += f" plain {np.round(cp, 2)} fid {pl.fidelity_:.3f}"
                ok = ok and np.all(cns < cp) and pl.fidelity_ >= 0.95
            npass += ok
            print(line + f" [{dt:.1f}s] {'PASS' if ok else 'FAIL'}", flush=True)
    print(f"passed {npass}/{len(args.data) * len(args.seeds)}")


if __name__ == "__main__":
    main()
