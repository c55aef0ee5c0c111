"""Crafted, forged and corrupt model files (issue 22): every one refused with a ValueError naming
the field, in a fresh interpreter (a crash fails the case, not the suite); a zip bomb refused
without decompressing it; save -> load identical over random valid models; random single-field
corruptions refused or harmless."""
from __future__ import annotations

import json
import os
import struct
import subprocess
import sys
import zlib
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import fastmi
from fastmi.gmm._persist import arrays_sha256

ROOT = Path(__file__).resolve().parents[1]
FAST = dict(n_bootstrap=0, mc_samples=2000, check_fit=False, uncertainty="bootstrap")


def _arrays(path):
    with np.load(path, allow_pickle=False) as f:
        return {k: f[k] for k in f.files}


def _forge(arrays, header, out, sign=True):
    """Write a model file with the given arrays and header; ``sign`` recomputes the SHA-256
    (what a forger does), so that the edit reaches the validation."""
    arrays = {k: v for k, v in arrays.items() if k != "header"}
    header = dict(header)
    if sign:
        header["arrays_sha256"] = arrays_sha256(arrays)
    np.savez(out, header=np.array(json.dumps(header)), **arrays)
    return out


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    d = tmp_path_factory.mktemp("models")
    rng = np.random.default_rng(7)
    x = rng.standard_normal(600)
    y = np.where(rng.random(600) < 0.5, x, -x) + 0.3 * rng.standard_normal(600)
    cont = fastmi.GMMMI(n_components=2, rng=1, **FAST).fit(x, y)
    cont.save(d / "cont.npz")
    labels = rng.choice(np.array(["a", "b", "c"]), size=600)
    xc = rng.standard_normal(600) + 1.5 * (labels == "b")
    cat = fastmi.GMMMI(y_type="categorical", n_components=1, rng=2, **FAST).fit(xc, labels)
    cat.save(d / "cat.npz")
    return {"dir": d, "cont": d / "cont.npz", "cat": d / "cat.npz"}


# --------------------------------------------------------------------------- the crafted table
def _edit(base, fn):
    def make(models, out):
        arrays, = [_arrays(models[base])]
        header = json.loads(str(arrays.pop("header")))
        fn(arrays, header)
        return _forge(arrays, header, out)
    return make


def _set(name, value):
    def fn(a, h):
        a[name] = np.asarray(value, dtype=np.float64)
    return fn


def _cov(value):
    return _set("final_0_covariances", np.array([value, [[1.0, 0.0], [0.0, 1.0]]]))


def _hdr(**kv):
    def fn(a, h):
        for k, v in kv.items():
            target = h
            *path, last = k.split("__")
            for p in path:
                target = target[p]
            target[last] = v
    return fn


def _relabel_categorical(a, h):
    h["params"]["y_type"] = "categorical"
    h["classes"] = ["p"]


def _fewer_classes(a, h):
    h["classes"] = h["classes"][:2]


def _more_classes(a, h):
    h["classes"] = h["classes"] + ["d"]


def _many_components(a, h):
    K, d = 200_000, 2
    for stage in ("final", "warm"):
        a[f"{stage}_0_weights"] = np.full(K, 1.0 / K)
        a[f"{stage}_0_means"] = np.zeros((K, d))
        a[f"{stage}_0_covariances"] = np.broadcast_to(np.eye(d), (K, d, d)).copy()


def _high_dimensional(a, h):
    d = 200
    h["dims"] = {"x": 100, "y": 100}
    a["loc"], a["scale"] = np.zeros(d), np.ones(d)
    for stage in ("final", "warm"):
        a[f"{stage}_0_weights"] = np.ones(1)
        a[f"{stage}_0_means"] = np.zeros((1, d))
        a[f"{stage}_0_covariances"] = np.eye(d)[None]


def _deep_header(models, out):
    arrays = _arrays(models["cont"])
    text = str(arrays.pop("header"))
    text = text[:-1] + ', "cv_extra": ' + "[" * 100_000 + "]" * 100_000 + "}"
    arrays["header"] = np.array(text)
    np.savez(out, **arrays)
    return out


def _nan_header(models, out):
    arrays = _arrays(models["cont"])
    arrays["header"] = np.array(str(arrays["header"]).replace('"tol": ', '"tol": NaN, "x_tol": '))
    np.savez(out, **arrays)
    return out


def _float32(a, h):
    a["loc"] = a["loc"].astype(np.float32)


def _extra_member(a, h):
    a["final_1_weights"] = np.ones(1)


def _missing_member(a, h):
    del a["warm_0_means"]


CASES = [
    # (id, base model, edit, regex the message must match: the field)
    ("dims_1_2", "cont", _hdr(dims={"x": 1, "y": 2}), r"loc: shape \(2,\) does not match dims"),
    ("dims_y_0", "cont", _hdr(dims={"x": 2, "y": 0}), r"dims\.y: 0 is not a positive int"),
    ("dims_keys", "cont", _hdr(dims={"x": 1, "w": 1}), r"dims: keys"),
    ("dims_bool", "cont", _hdr(dims={"x": True, "y": 1}), r"dims\.x"),
    ("weights_sum_2", "cont", _set("final_0_weights", [1.0, 1.0]), r"final_0_weights: sums to 2"),
    ("weight_negative", "cont", _set("final_0_weights", [1.5, -0.5]), r"final_0_weights: .*not positive"),
    ("weights_zero", "cont", _set("warm_0_weights", [0.0, 0.0]), r"warm_0_weights: .*not positive"),
    ("cov_indefinite", "cont", _cov([[1.0, 2.0], [2.0, 1.0]]), r"final_0_covariances: not positive definite"),
    ("cov_zero", "cont", _cov([[0.0, 0.0], [0.0, 0.0]]), r"final_0_covariances: variances"),
    ("cov_negative", "cont", _cov([[-1.0, 0.0], [0.0, -1.0]]), r"final_0_covariances: variances"),
    ("cov_asymmetric", "cont", _cov([[1.0, 0.5], [0.1, 1.0]]), r"final_0_covariances: not symmetric"),
    ("cov_rank_1", "cont", _cov([[1.0, 0.3], [0.3, 0.09]]), r"final_0_covariances: .*(singular|positive definite)"),
    ("mean_huge", "cont", _set("final_0_means", [[1e200, 0.0], [0.0, 0.0]]), r"final_0_means"),
    ("scale_0", "cont", _set("scale", [0.0, 1.0]), r"scale: .*not positive"),
    ("scale_negative", "cont", _set("scale", [-1.0, 1.0]), r"scale: .*not positive"),
    ("relabelled_categorical", "cont", _relabel_categorical, r"dims: keys \['x', 'y'\] are not those of a categorical"),
    ("mc_samples_1e12", "cont", _hdr(params__mc_samples=10**12), r"params\.mc_samples: 1000000000000 exceeds"),
    ("mc_samples_str", "cont", _hdr(params__mc_samples="many"), r"params: mc_samples"),
    ("n_jobs_huge", "cont", _hdr(params__n_jobs=10**9), r"params\.n_jobs"),
    ("unknown_param", "cont", _hdr(params__bogus=1), r"params\.bogus: no such parameter"),
    ("tol_negative", "cont", _hdr(params__tol=-1.0), r"params: tol"),
    ("K_200000", "cont", _many_components, r"final_0_weights: K=200000 components exceed the limit"),
    ("d_200", "cont", _high_dimensional, r"dims: total dimension 200 exceeds the limit 100"),
    ("seed_entropy", "cont", _hdr(seed_entropy=[-1]), r"seed_entropy"),
    ("conditional_str", "cont", _hdr(conditional="yes"), r"conditional"),
    ("classes_on_continuous", "cont", _hdr(classes=["a", "b"]), r"classes: given for a continuous"),
    ("cv_not_object", "cont", _hdr(cv=[1, 2]), r"cv: not a JSON object"),
    ("float32_array", "cont", _float32, r"array 'loc' is not finite floating point \(dtype float32\)"),
    ("extra_member", "cont", _extra_member, r"final_1_weights: not an array of this model"),
    ("missing_member", "cont", _missing_member, r"warm_0_means: missing"),
    ("deep_json", "cont", _deep_header, r"header.*(nested|not valid JSON)"),
    ("nan_in_header", "cont", _nan_header, r"header.*not valid JSON"),
    ("class_prior_negative", "cat", _set("class_prior", [1.2, -0.1, -0.1]), r"class_prior: .*not positive"),
    ("class_prior_sum", "cat", _set("class_prior", [0.5, 0.5, 0.5]), r"class_prior: sums to"),
    ("fewer_classes", "cat", _fewer_classes, r"final_2_weights: not an array of this model \(its classes list has fewer"),
    ("more_classes", "cat", _more_classes, r"final_3_weights: missing \(its classes list has more"),
    ("classes_repeat", "cat", _hdr(classes=["a", "a", "b"]), r"classes: labels repeat"),
    ("classes_mixed", "cat", _hdr(classes=["a", 1, "b"]), r"classes: labels are not all"),
    ("classes_not_list", "cat", _hdr(classes="abc"), r"classes: not a list"),
]

_RUNNER = r"""
import json, sys
import fastmi
for case, path in json.loads(sys.argv[1]):
    print(json.dumps({"start": case}), flush=True)
    try:
        est = fastmi.load_model(path)
        est.estimate()
        if est.y_type == "continuous":
            est.entropy()
        out = {"case": case, "outcome": "loaded"}
    except ValueError as exc:
        out = {"case": case, "outcome": "ValueError", "message": str(exc)}
    except BaseException as exc:
        out = {"case": case, "outcome": type(exc).__name__, "message": str(exc)}
    print(json.dumps(out), flush=True)
"""


def _subprocess_env():
    env = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    env.setdefault("NUMBA_NUM_THREADS", "1")
    env.setdefault("OMP_NUM_THREADS", "1")
    return env


@pytest.fixture(scope="module")
def crafted_outcomes(models):
    """Every crafted file loaded (then estimated) in one fresh interpreter; a crash there is
    recorded against the case it happened in."""
    jobs = []
    for case, base, make, _ in CASES:
        out = models["dir"] / f"crafted_{case}.npz"
        (make if make in (_deep_header, _nan_header) else _edit(base, make))(models, out)
        jobs.append((case, str(out)))
    proc = subprocess.run([sys.executable, "-c", _RUNNER, json.dumps(jobs)], capture_output=True, text=True,
                          env=_subprocess_env(), timeout=300)
    outcomes, started = {}, None
    for line in proc.stdout.splitlines():
        rec = json.loads(line)
        if "start" in rec:
            started = rec["start"]
        else:
            outcomes[rec["case"]] = rec
    if proc.returncode != 0 and started not in outcomes:
        outcomes[started] = {"case": started, "outcome": f"crash (exit {proc.returncode})",
                             "message": proc.stderr[-2000:]}
    return outcomes


@pytest.mark.parametrize("case, match", [(c[0], c[3]) for c in CASES], ids=[c[0] for c in CASES])
def test_crafted_file_is_refused_naming_the_field(crafted_outcomes, case, match):
    rec = crafted_outcomes.get(case, {"outcome": "not run (an earlier case crashed the interpreter)"})
    assert rec["outcome"] == "ValueError", rec
    assert "is not a valid fastmi model" in rec["message"] or "damaged" in rec["message"], rec["message"]
    import re

    assert re.search(match, rec["message"]), rec["message"]


def test_unforged_edit_is_caught_by_the_checksum(models, tmp_path):
    arrays = _arrays(models["cont"])
    header = json.loads(str(arrays.pop("header")))
    arrays["final_0_weights"] = arrays["final_0_weights"][::-1].copy()  # still valid numbers
    _forge(arrays, header, tmp_path / "m.npz", sign=False)
    with pytest.raises(ValueError, match="do not match the SHA-256"):
        fastmi.load_model(tmp_path / "m.npz")


def test_limits_can_be_raised_explicitly(models, tmp_path):
    arrays = _arrays(models["cont"])
    header = json.loads(str(arrays.pop("header")))
    header["params"]["mc_samples"] = 20_000_000
    _forge(arrays, header, tmp_path / "m.npz")
    with pytest.raises(ValueError, match="params.mc_samples.*max_mc_samples"):
        fastmi.load_model(tmp_path / "m.npz")
    est = fastmi.load_model(tmp_path / "m.npz", max_mc_samples=20_000_000)
    assert est.mc_samples == 20_000_000
    with pytest.raises(ValueError, match="max_components"):
        fastmi.load_model(models["cont"], max_components=1)
    with pytest.raises(TypeError, match="unknown load limit"):
        fastmi.load_model(models["cont"], max_bogus=3)
    with pytest.raises(ValueError, match="max_json_depth must be >= 1"):
        fastmi.load_model(models["cont"], max_json_depth=0)


def test_truncated_files_leak_no_file_handle(models, tmp_path):
    """A file handle left open is reported as a ResourceWarning when it is collected."""
    import gc
    import warnings

    raw = models["cont"].read_bytes()
    for cut in (len(raw) // 3, len(raw) // 2, len(raw) - 30, len(raw) - 200):
        (tmp_path / "t.npz").write_bytes(raw[:cut])
        with warnings.catch_warnings(record=True) as seen:
            warnings.simplefilter("always")
            try:
                fastmi.load_model(tmp_path / "t.npz")
            except ValueError:
                pass
            else:
                raise AssertionError(f"a file cut at {cut} bytes loaded")
            gc.collect()
        assert not [w for w in seen if issubclass(w.category, ResourceWarning)], cut


# --------------------------------------------------------------------------- zip bombs
def _zip(path, members):
    """Write a zip by hand: ``members`` are (name, deflated stream, crc, uncompressed size);
    the directory may state a size other than the stream's (``stated``)."""
    with open(path, "wb") as f:
        central = b""
        for name, stream, crc, usize, stated in members:
            offset = f.tell()
            nb = name.encode()
            f.write(struct.pack("<4s5H3L2H", b"PK\x03\x04", 20, 0, 8, 0, 0x21, crc, len(stream), stated,
                                len(nb), 0) + nb)
            f.write(stream)
            central += struct.pack("<4s6H3L5H2L", b"PK\x01\x02", 20, 20, 0, 8, 0, 0x21, crc, len(stream),
                                   stated, len(nb), 0, 0, 0, 0, 0, offset) + nb
        cd_offset = f.tell()
        f.write(central)
        f.write(struct.pack("<4s4H2LH", b"PK\x05\x06", 0, 0, len(members), len(members), len(central),
                            cd_offset, 0))


def _deflated(prefix, n_zero_mib):
    """A raw deflate stream of ``prefix`` then ``n_zero_mib`` MiB of zeros, built from one
    compressed MiB repeated (full flushes make the blocks independent): (stream, crc, size)."""
    chunk = bytes(2**20)
    c = zlib.compressobj(9, zlib.DEFLATED, -15)
    head = c.compress(prefix) + c.flush(zlib.Z_FULL_FLUSH)
    block = c.compress(chunk) + c.flush(zlib.Z_FULL_FLUSH)
    assert c.compress(chunk) + c.flush(zlib.Z_FULL_FLUSH) == block
    crc = zlib.crc32(prefix)
    for _ in range(n_zero_mib):
        crc = zlib.crc32(chunk, crc)
    return head + block * n_zero_mib + c.flush(), crc, len(prefix) + n_zero_mib * 2**20


def _member(name, data):
    c = zlib.compressobj(9, zlib.DEFLATED, -15)
    stream = c.compress(data) + c.flush()
    return (name, stream, zlib.crc32(data), len(data), len(data))


def _npy_bytes(a):
    import io

    buf = io.BytesIO()
    np.lib.format.write_array(buf, np.asarray(a), allow_pickle=False)
    return buf.getvalue()


def _npy_prefix(shape):
    import io

    buf = io.BytesIO()
    np.lib.format.write_array_header_1_0(buf, {"descr": "<f8", "fortran_order": False, "shape": shape})
    return buf.getvalue()


def _bombs(models, d):
    arrays = _arrays(models["cont"])
    base = [_member(f"{k}.npy", _npy_bytes(v)) for k, v in arrays.items() if k != "loc"]
    out = {}
    # 1 GiB of zeros after the .npy header of 'loc' (a ~1 MB file), its size stated truthfully in
    # the zip directory
    stream, crc, size = _deflated(_npy_prefix((2,)), 1024)
    _zip(d / "bomb_honest.npz", base + [("loc.npy", stream, crc, size, size)])
    out["honest"] = (d / "bomb_honest.npz", "uncompressed, above the limit")
    # the same stream, the directory lying that 'loc' holds 144 bytes (an .npy of shape (2,))
    _zip(d / "bomb_lying.npz", base + [("loc.npy", stream, crc, size, len(_npy_prefix((2,))) + 16)])
    out["lying"] = (d / "bomb_lying.npz", "damaged")
    # 48 MiB, under the size limit, declared as an .npy of 6M values where 2 belong
    stream, crc, size = _deflated(_npy_prefix((6 * 2**20,)), 48)
    _zip(d / "bomb_small.npz", base + [("loc.npy", stream, crc, size, size)])
    out["small"] = (d / "bomb_small.npz", r"loc: shape \(6291456,\) does not match dims")
    return out


_BOMB_RUNNER = r"""
import json, resource, sys
import fastmi
good, bombs = json.loads(sys.argv[1])
fastmi.load_model(good)  # warm: what loading itself needs is in the baseline
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
out = {}
for name, path in bombs.items():
    try:
        fastmi.load_model(path)
        out[name] = "loaded"
    except ValueError as exc:
        out[name] = "ValueError: " + str(exc)
    except BaseException as exc:
        out[name] = type(exc).__name__ + ": " + str(exc)
out["rss_growth_mib"] = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024
print(json.dumps(out))
"""


def test_zip_bombs_are_refused_without_being_decompressed(models, tmp_path):
    import re

    bombs = _bombs(models, tmp_path)
    assert max(p.stat().st_size for p, _ in bombs.values()) < 2 * 2**20  # small files, 1 GiB inside
    proc = subprocess.run([sys.executable, "-c", _BOMB_RUNNER,
                           json.dumps([str(models["cont"]), {k: str(p) for k, (p, _) in bombs.items()}])],
                          capture_output=True, text=True, env=_subprocess_env(), timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    out = json.loads(proc.stdout.splitlines()[-1])
    for name, (_, match) in bombs.items():
        assert out[name].startswith("ValueError") and re.search(match, out[name]), (name, out[name])
    assert out["rss_growth_mib"] < 200, out


# --------------------------------------------------------------------------- properties
def _random_model(draw):
    """A valid fitted GMMMI built from random parameters (no fit), in standardised space."""
    from fastmi._streams import Streams
    from fastmi.gmm._mixture import Mixture

    categorical = draw(st.booleans())
    dx = draw(st.integers(1, 2))
    dy = 0 if categorical else draw(st.integers(1, 2))
    dz = draw(st.sampled_from([0, 0, 1]))
    dims = ({"z": dz, "x": dx} if dz else {"x": dx}) if categorical else \
        ({"x": dx, "y": dy, "z": dz} if dz else {"x": dx, "y": dy})
    d = sum(dims.values())
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    n_mix = draw(st.integers(2, 3)) if categorical else 1

    def mixture():
        K = int(rng.integers(1, 4))
        w = rng.dirichlet(np.ones(K)) * 0.9 + 0.1 / K
        A = rng.standard_normal((K, d, d))
        S = A @ np.swapaxes(A, 1, 2) + 0.2 * np.eye(d)
        return Mixture(w / w.sum(), rng.standard_normal((K, d)), S)

    est = fastmi.GMMMI(y_type="categorical" if categorical else "continuous",
                       **{**FAST, "mc_samples": 500})
    est.dims_, est.conditional_, est.cv_ = dims, dz > 0, {"k": [1]}
    est.loc_, est.scale_ = rng.standard_normal(d) * 10, rng.uniform(0.1, 10, d)
    est._streams = Streams(np.random.SeedSequence([seed]))
    est._warnings = []
    # the fit's space and sample size (the one-Gaussian bias correction reads it)
    est.space_ = draw(st.sampled_from(["data", "copula"]))
    est.n_samples_ = draw(st.sampled_from([None, 500]))
    final, warm = [mixture() for _ in range(n_mix)], [mixture() for _ in range(n_mix)]
    if categorical:
        est._final, est._warm = final, warm
        labels = draw(st.sampled_from([["a", "b", "c"], [3, 1, 2], [0.5, 1.5, 2.5]]))[:n_mix]
        est.classes_ = np.array(labels)
        est.class_prior_ = rng.dirichlet(np.ones(n_mix)) * 0.9 + 0.1 / n_mix
        est.class_prior_ /= est.class_prior_.sum()
        est.n_components_ = {c: m.n_components for c, m in zip(labels, warm)}
    else:
        est._final, est._warm = final[0], warm[0]
        est.n_components_ = warm[0].n_components
    est._set_public_params()
    est.bootstrap_params_ = None
    return est


@st.composite
def random_models(draw):
    return _random_model(draw)


def _same(a, b):
    ra, rb = a.estimate(), b.estimate()
    assert ra.mi == rb.mi
    if a.y_type != "continuous":
        return
    if a.space_ == "copula":  # entropies need the data's space, which a model without data lacks
        for m in (a, b):
            with pytest.raises(ValueError, match="copula space"):
                m.entropy()
        return
    ea, eb = a.entropy(), b.entropy()
    assert {k: v.mi for k, v in ea.items()} == {k: v.mi for k, v in eb.items()}


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(est=random_models())
def test_save_load_gives_identical_results(tmp_path, est):
    est.save(tmp_path / "m.npz")
    loaded = fastmi.load_model(tmp_path / "m.npz")
    assert loaded.get_params() | {"rng": None} == est.get_params() | {"rng": None}
    assert loaded.dims_ == est.dims_ and loaded.n_components_ == est.n_components_
    np.testing.assert_array_equal(loaded.loc_, est.loc_)
    _same(est, loaded)


_JSON = st.recursive(st.none() | st.booleans() | st.integers(-10**20, 10**20) | st.floats(allow_nan=False)
                     | st.text(max_size=5),
                     lambda c: st.lists(c, max_size=3) | st.dictionaries(st.text(max_size=3), c, max_size=3),
                     max_leaves=8)
_FLOATS = st.floats(allow_nan=True, allow_infinity=True) | st.sampled_from([0.0, -1.0, 1e308, -1e-308, 2.0])


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_single_field_corruptions_are_refused_or_harmless(models, tmp_path, data):
    """One header field (top level or in params) replaced by random JSON, or one array entry by a
    random float, or one array reshaped or dropped; re-signed. Loading (or estimating) then raises
    ValueError, or the model loads and estimates to a finite number, the same on every call (and, for fields
    that do not enter the integral, the same number as the original)."""
    base = data.draw(st.sampled_from(["cont", "cat"]))
    arrays = _arrays(models[base])
    header = json.loads(str(arrays.pop("header")))
    kind = data.draw(st.sampled_from(["header", "param", "entry", "shape", "drop"]))
    harmless = False
    if kind == "header":
        key = data.draw(st.sampled_from(sorted(set(header) - {"arrays_sha256"})))
        header[key] = data.draw(_JSON)
        harmless = key == "cv"
    elif kind == "param":
        key = data.draw(st.sampled_from(sorted(header["params"])))
        header["params"][key] = data.draw(_JSON)
        harmless = key in ("n_components", "n_init", "n_folds", "max_components", "tol", "reg_covar", "max_iter",
                           "threshold_components", "patience", "metric", "init", "search", "search_tol",
                           "bootstrap_tol", "bootstrap_start", "min_class_size")
    elif kind == "entry":
        name = data.draw(st.sampled_from(sorted(arrays)))
        a = arrays[name].copy()
        a.flat[data.draw(st.integers(0, a.size - 1))] = data.draw(_FLOATS)
        arrays[name] = a
    elif kind == "shape":
        name = data.draw(st.sampled_from(sorted(arrays)))
        arrays[name] = np.concatenate([arrays[name].ravel(), [1.0]]).reshape(-1)
    else:
        del arrays[data.draw(st.sampled_from(sorted(arrays)))]
    out = _forge(arrays, header, tmp_path / "c.npz")
    try:
        est = fastmi.load_model(out)
        r1 = est.estimate().mi
    except ValueError:  # refused, on loading or (e.g. params now ask for a bootstrap) on use
        return
    assert np.isfinite(r1) and est.estimate().mi == r1
    if harmless:
        assert r1 == fastmi.load_model(models[base]).estimate().mi
