"""Long runs lose nothing (mi_matrix checkpoints: kill, Ctrl-C, Dask worker loss), and files
from elsewhere (checkpoints, saved models) execute nothing and fail cleanly when damaged."""
import io
import json
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import numpy as np
import pytest

import fastmi
from fastmi.matrix import _compute
from fastmi.matrix._checkpoint import _canonical, encode, encode_result

ROOT = Path(__file__).resolve().parents[1]
KSG = dict(method="ksg", n_bootstrap=4, progress=False)


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(11)
    n = 400
    v = rng.standard_normal((n, 4))
    z = np.column_stack([v[:, 0] + 0.3 * rng.standard_normal(n), v[:, 1] ** 2 + 0.3 * rng.standard_normal(n),
                         rng.standard_normal(n), v[:, 3] + v[:, 2]])
    return z, v


def exact(r):
    return None if r is None else _canonical(encode_result(r))


def assert_bit_identical(m, ref):
    np.testing.assert_array_equal(m.values, ref.values)
    np.testing.assert_array_equal(m.stds, ref.stds)
    np.testing.assert_array_equal(m.samples, ref.samples)
    assert m.row_names == ref.row_names and m.col_names == ref.col_names
    changed = [ij for ij, r in np.ndenumerate(m.results) if exact(r) != exact(ref.results[ij])]
    assert changed == [], f"entries changed: {changed}"


@pytest.fixture
def count_calls(monkeypatch):
    """Counts the pair estimates a run makes (threads and serial runs call this module global)."""
    calls = []
    real = _compute.mutual_info

    def counting(x, y, **kw):
        calls.append(1)
        return real(x, y, **kw)

    monkeypatch.setattr(_compute, "mutual_info", counting)
    return calls


def keep_records(path, n, torn=b""):
    """Cut a checkpoint down to its header and first n records (plus a torn tail)."""
    lines = Path(path).read_bytes().split(b"\n")
    Path(path).write_bytes(b"\n".join(lines[:1 + n]) + b"\n" + torn)


# --------------------------------------------------------------------------- resume
def test_resume_computes_only_the_missing_entries_bit_for_bit(tmp_path, data, count_calls):
    z, v = data
    ref = fastmi.mi_matrix(z, v, rng=7, n_jobs=2, **KSG)
    count_calls.clear()
    ck = tmp_path / "run.ckpt"
    first = fastmi.mi_matrix(z, v, rng=7, n_jobs=2, checkpoint=ck, **KSG)
    assert len(count_calls) == 16 and first.diagnostics["checkpoint"]["computed"] == 16
    assert_bit_identical(first, ref)
    # a run killed after 5 entries, the 6th torn mid-write
    keep_records(ck, 5, torn=b'{"error":null,"i":1,"j":2,"resu')
    count_calls.clear()
    m = fastmi.mi_matrix(z, v, rng=7, n_jobs=3, checkpoint=ck, **KSG)
    assert len(count_calls) == 11
    assert m.diagnostics["checkpoint"] == {"path": str(ck), "resumed": 5, "computed": 11, "n_pairs": 16}
    assert_bit_identical(m, ref)
    assert not Path(ck).read_bytes().endswith(b"resu")  # the torn record was cut off, not extended
    count_calls.clear()
    again = fastmi.mi_matrix(z, v, rng=7, checkpoint=ck, **KSG)  # complete: nothing to compute
    assert count_calls == [] and again.diagnostics["checkpoint"]["resumed"] == 16
    assert_bit_identical(again, ref)
    # the per-entry diagnostics come back exactly, types included
    for (i, j), r in np.ndenumerate(ref.results):
        assert _canonical(encode(again.results[i, j].diagnostics)) == _canonical(encode(r.diagnostics))


@pytest.mark.filterwarnings("ignore::fastmi.exceptions.ConvergenceWarning")
def test_symmetric_gmm_resume_and_rng_none(tmp_path, data, count_calls):
    z, _ = data
    kw = dict(n_bootstrap=3, mc_samples=2000, progress=False)
    ck = tmp_path / "sym.ckpt"
    full = fastmi.mi_matrix(z, checkpoint=ck, **kw)  # rng=None: the fresh root is recorded
    keep_records(ck, 2)
    count_calls.clear()
    m = fastmi.mi_matrix(z, checkpoint=ck, **kw)
    assert len(count_calls) == 4 and m.seed_entropy == full.seed_entropy
    assert_bit_identical(m, full)
    assert m.results[1, 0] is m.results[0, 1]


def test_failed_pairs_are_recorded_and_not_retried_under_nan(tmp_path, data, monkeypatch):
    z, v = data
    real = _compute.mutual_info
    calls = []

    def failing(x, y, **kw):
        calls.append(1)
        if np.array_equal(x, z[:, 1]) and np.array_equal(y, v[:, 2]):
            raise RuntimeError("boom")
        return real(x, y, **kw)

    monkeypatch.setattr(_compute, "mutual_info", failing)
    ck = tmp_path / "err.ckpt"
    m = fastmi.mi_matrix(z, v, rng=1, on_error="nan", checkpoint=ck, **KSG)
    assert np.isnan(m.values[1, 2]) and "boom" in m.diagnostics["errors"]["a1|b2"]
    calls.clear()
    m2 = fastmi.mi_matrix(z, v, rng=1, on_error="nan", checkpoint=ck, **KSG)
    assert calls == [] and m2.diagnostics["errors"] == m.diagnostics["errors"]
    assert_bit_identical(m2, m)
    with pytest.raises(RuntimeError, match="boom"):  # under 'raise' the failed pair is recomputed, and raises
        fastmi.mi_matrix(z, v, rng=1, on_error="raise", checkpoint=ck, **KSG)
    assert len(calls) == 1


@pytest.mark.parametrize("change, what", [
    (dict(shift=1e-9), "the data a"),
    (dict(b_shift=1.0), "the data b"),
    (dict(rng=8), "the root seed"),
    (dict(k=4), "the estimator keyword arguments"),
    (dict(n_bootstrap=5), "the estimator keyword arguments"),
    (dict(unit="bit"), "unit"),
    (dict(method="ksg2"), "method"),
    (dict(a_names=["p", "q", "r", "s"]), "the row names"),
])
def test_checkpoint_of_another_run_is_refused(tmp_path, data, change, what, count_calls):
    z, v = data
    ck = tmp_path / "run.ckpt"
    fastmi.mi_matrix(z, v, rng=7, checkpoint=ck, **KSG)
    before = Path(ck).read_bytes()
    kw = {**KSG, "rng": 7, **change}
    a = z + kw.pop("shift", 0.0)
    b = v + kw.pop("b_shift", 0.0)
    count_calls.clear()
    with pytest.raises(ValueError, match=f"another run; what differs: {what}"):
        fastmi.mi_matrix(a, b, checkpoint=ck, **kw)
    assert count_calls == [] and Path(ck).read_bytes() == before


def _write_checkpoint(tmp_path, data):
    z, v = data
    ck = tmp_path / "run.ckpt"
    fastmi.mi_matrix(z[:, :2], v[:, :2], rng=7, checkpoint=ck, **KSG)
    return ck, (z[:, :2], v[:, :2])


_DEEP = b'{"a":' + b"[" * 100_000 + b"]" * 100_000 + b"}"


def _flip(raw, at):
    return raw[:at] + bytes([raw[at] ^ 0x04]) + raw[at + 1:]


@pytest.mark.parametrize("damage, match", [
    (lambda raw: raw[:40], "no complete header line"),
    (lambda raw: b"", "no complete header line"),
    (lambda raw: b"\x80\x04K\x01." + raw, "not a fastmi checkpoint"),  # a pickle in front
    (lambda raw: raw.replace(b'"version":1', b'"version":2', 1), "checkpoint version 2"),
    (lambda raw: raw.replace(b'"format":"fastmi.checkpoint"', b'"format":"other"', 1), "not a fastmi checkpoint"),
    (lambda raw: raw.replace(b'"method":"ksg"', b'"method":"ksq"', 1), "does not match its checksum"),
    (lambda raw: _flip(raw, raw.index(b"\n") + 60), "line 2 is corrupted"),
    (lambda raw: _flip(raw, raw.rindex(b"\n") - 30), "line 5 is corrupted"),  # a complete last line: tampered
    # nested deeper than the parser's recursion (a RecursionError before), or than the depth limit
    (lambda raw: _DEEP + b"\n" + raw, "not a fastmi checkpoint"),
    (lambda raw: raw[:raw.index(b"\n") + 1] + _DEEP + b"\n" + raw[raw.index(b"\n") + 1:], "line 2 is corrupted"),
    (lambda raw: raw[:raw.index(b"\n") + 1] + b'{"a":' + b"[" * 200 + b"]" * 200 + b"}\n"
     + raw[raw.index(b"\n") + 1:], "line 2 is corrupted .*nested 201 deep"),
])
def test_damaged_checkpoint_is_refused(tmp_path, data, damage, match):
    ck, (a, b) = _write_checkpoint(tmp_path, data)
    Path(ck).write_bytes(damage(Path(ck).read_bytes()))
    with pytest.raises(ValueError, match=match):
        fastmi.mi_matrix(a, b, rng=7, checkpoint=ck, **KSG)


def _rewrite_record(ck, edit):
    """Edit the first record and give it a valid checksum (a forger who knows the format)."""
    from fastmi.matrix._checkpoint import _sha

    lines = Path(ck).read_bytes().split(b"\n")
    rec = json.loads(lines[1])
    rec.pop("sha256")
    edit(rec)
    rec["sha256"] = _sha(rec)
    lines[1] = _canonical(rec).encode()
    Path(ck).write_bytes(b"\n".join(lines))


@pytest.mark.parametrize("edit, match", [
    (lambda rec: rec["result"]["d"][2][1].update(a=["|O", [1], "AAAAAAAAAAA="]), "dtype '|O' is not allowed"),
    (lambda rec: rec.update(i=7), "bad entry index"),
    (lambda rec: rec.update(run="0" * 16), "record of another run"),
    (lambda rec: rec["result"]["d"].append([{"f": "nan"}, {"x": 1}]), "unknown tag"),
    (lambda rec: rec["result"]["d"].append([{"f": "0x1p+99999"}, None]), "bad float '0x1p\\+99999'"),  # OverflowError before
    (lambda rec: rec["result"]["d"].append([{"f": 12}, None]), "bad float"),
])
def test_forged_records_are_refused(tmp_path, data, edit, match):
    ck, (a, b) = _write_checkpoint(tmp_path, data)
    _rewrite_record(ck, edit)
    with pytest.raises(ValueError, match=match):
        fastmi.mi_matrix(a, b, rng=7, checkpoint=ck, **KSG)


# --------------------------------------------------------------------------- kill, Ctrl-C
_CHILD = textwrap.dedent("""
    import json, signal, sys, threading, time
    # Ctrl-C as in a terminal: a parent that ignores SIGINT (a pytest-xdist worker does) passes the
    # ignored disposition on to its children, and Python then installs no handler of its own
    signal.signal(signal.SIGINT, signal.default_int_handler)
    import numpy as np
    import fastmi
    from fastmi.matrix import _compute

    real = _compute.mutual_info
    def slow(x, y, **kw):  # a deterministic slow-down: the numbers are those of the real estimator
        time.sleep(0.15)
        return real(x, y, **kw)
    _compute.mutual_info = slow
    z, v = (np.load(sys.argv[1])[k] for k in ("z", "v"))
    try:
        fastmi.mi_matrix(z, v, rng=7, n_jobs=2, checkpoint=sys.argv[2], method="ksg", n_bootstrap=4,
                         progress=False)
    except KeyboardInterrupt:
        time.sleep(0.3)
        left = [t.name for t in threading.enumerate() if t.name.startswith("fastmi")]
        print(json.dumps({"interrupted": True, "threads_left": left}), flush=True)
        sys.exit(130)
    print(json.dumps({"interrupted": False}), flush=True)
""")


def _records(ck):
    try:
        return Path(ck).read_bytes().count(b"\n") - 1
    except FileNotFoundError:
        return 0


def _run_child_until(tmp_path, data, ck, n_records, sig):
    z, v = data
    npz = tmp_path / "data.npz"
    np.savez(npz, z=z, v=v)
    script = tmp_path / "child.py"
    script.write_text(_CHILD)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen([sys.executable, str(script), str(npz), str(ck)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, env=env)
    deadline = time.monotonic() + 60
    while _records(ck) < n_records and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.01)
    assert proc.poll() is None, f"the child finished before it could be stopped: {proc.stderr.read()}"
    t_sig = time.monotonic()
    proc.send_signal(sig)
    out, err = proc.communicate(timeout=20)
    return proc.returncode, time.monotonic() - t_sig, out.decode(), err.decode()


@pytest.mark.parametrize("after", [2, 7])
def test_sigkill_then_resume_loses_nothing(tmp_path, data, count_calls, after):
    z, v = data
    ref = fastmi.mi_matrix(z, v, rng=7, n_jobs=2, **KSG)
    ck = tmp_path / "killed.ckpt"
    rc, _, _, err = _run_child_until(tmp_path, data, ck, after, signal.SIGKILL)
    assert rc == -signal.SIGKILL, err
    done = _records(ck)
    assert after <= done < 16
    count_calls.clear()
    m = fastmi.mi_matrix(z, v, rng=7, checkpoint=ck, **KSG)
    assert m.diagnostics["checkpoint"]["resumed"] == done and len(count_calls) == 16 - done
    assert_bit_identical(m, ref)


def test_ctrl_c_stops_promptly_and_leaves_a_consistent_checkpoint(tmp_path, data, count_calls):
    z, v = data
    ref = fastmi.mi_matrix(z, v, rng=7, n_jobs=2, **KSG)
    ck = tmp_path / "interrupted.ckpt"
    rc, seconds, out, err = _run_child_until(tmp_path, data, ck, 3, signal.SIGINT)
    report = json.loads(out.strip().splitlines()[-1])
    assert rc == 130 and report == {"interrupted": True, "threads_left": []}, (out, err)
    assert seconds < 3.0  # the pairs in flight (one per worker) finish; the queued ones never start
    raw = Path(ck).read_bytes()
    assert raw.endswith(b"\n")
    done = _records(ck)
    assert 3 <= done < 16
    count_calls.clear()
    m = fastmi.mi_matrix(z, v, rng=7, checkpoint=ck, **KSG)
    assert len(count_calls) == 16 - done
    assert_bit_identical(m, ref)


def test_keyboard_interrupt_in_process_joins_the_workers(data, monkeypatch):
    """The interrupt reaches the consuming thread; the pool is cancelled and joined before it propagates."""
    z, v = data
    real = _compute.mutual_info
    started = []

    def slow(x, y, **kw):
        started.append(1)
        time.sleep(0.1)
        return real(x, y, **kw)

    monkeypatch.setattr(_compute, "mutual_info", slow)
    stream = _compute._run_local(_compute._Data(z, v), [[(i, j)] for i in range(4) for j in range(4)],
                                 _compute._Spec("ksg", "continuous", "nat", 1, {"n_bootstrap": 0}, 7, (), list("abcd"),
                                                list("efgh"), "raise"), 2, "threads")
    next(stream)
    t0 = time.monotonic()
    with pytest.raises(KeyboardInterrupt):
        stream.throw(KeyboardInterrupt)
    assert time.monotonic() - t0 < 1.0 and len(started) < 8
    assert not [t for t in threading.enumerate() if t.name.startswith("fastmi-matrix")]


# --------------------------------------------------------------------------- Dask worker loss
def test_dask_worker_loss_loses_and_duplicates_nothing(tmp_path, data):
    distributed = pytest.importorskip("distributed")
    z, v = data
    kw = dict(method="gmm", n_bootstrap=10, mc_samples=20_000, rng=3, progress=False)
    ref = fastmi.mi_matrix(z, v, n_jobs=2, **kw)
    cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None,
                                       silence_logs=50)
    client = distributed.Client(cluster)
    try:
        before = client.run(os.getpid)
        ck = tmp_path / "dask.ckpt"
        killed = []

        def kill_one():
            while _records(ck) < 2:
                time.sleep(0.005)
            addr, pid = sorted(before.items())[0]
            os.kill(pid, signal.SIGKILL)
            killed.append(_records(ck))

        th = threading.Thread(target=kill_one, daemon=True)
        th.start()
        m = fastmi.mi_matrix(z, v, client=client, checkpoint=ck, **kw)
        th.join(5)
        assert killed and killed[0] < 16, "the worker was not killed mid-run"
        recorded = [(json.loads(line)["i"], json.loads(line)["j"]) for line in Path(ck).read_text().splitlines()[1:]]
        assert sorted(recorded) == [(i, j) for i in range(4) for j in range(4)]  # each entry once
        assert_bit_identical(m, ref)
        client.wait_for_workers(2, timeout=10)
        assert set(client.run(os.getpid).values()) != set(before.values())  # the nanny restarted the killed one
    finally:
        client.close()
        cluster.close()


# --------------------------------------------------------------------------- model files
@pytest.fixture(scope="module")
def model_file(tmp_path_factory, data):
    z, v = data
    est = fastmi.GMMMI(n_bootstrap=0, mc_samples=2000, rng=0).fit(z[:, 0], v[:, 0])
    path = tmp_path_factory.mktemp("model") / "model.npz"
    est.save(path)
    return path


def _npz_bytes(arrays):
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    return buf.getvalue()


def _arrays(path):
    with np.load(path, allow_pickle=False) as f:
        return {k: f[k] for k in f.files}


def test_saved_model_carries_a_hash_and_v1_files_still_load(model_file):
    header = json.loads(str(_arrays(model_file)["header"]))
    assert header["version"] == 1 and len(header["arrays_sha256"]) == 64
    fastmi.load_model(model_file)
    old = fastmi.load_model(ROOT / "tests" / "data" / "gmm_model_v1.npz")  # written before the hash
    assert old.n_components_ == 1


def _tamper_array(path, out):
    arrays = _arrays(path)
    arrays["final_0_means"] = arrays["final_0_means"] + 0.5  # a consistent zip (valid CRCs), other numbers
    out.write_bytes(_npz_bytes(arrays))


def _object_array(path, out):
    arrays = _arrays(path)
    arrays["loc"] = np.array([{"x": 1}, None], dtype=object)  # np.savez pickles it
    out.write_bytes(_npz_bytes(arrays))


def _header(path, out, edit):
    arrays = _arrays(path)
    header = json.loads(str(arrays["header"]))
    edit(header)
    arrays["header"] = np.array(json.dumps(header))
    out.write_bytes(_npz_bytes(arrays))


def test_every_flipped_byte_of_a_model_file_is_refused_or_harmless(tmp_path, model_file):
    """Flip each byte in turn: loading raises ValueError (never another exception), or, where the
    byte does not matter (zip bookkeeping numpy does not read), gives the same model."""
    raw = model_file.read_bytes()
    good = fastmi.load_model(model_file)
    out = tmp_path / "flipped.npz"
    refused = harmless = 0
    for at in range(0, len(raw), 3):
        out.write_bytes(_flip(raw, at))
        try:
            est = fastmi.load_model(out)
        except ValueError:
            refused += 1
            continue
        assert est.get_params() == good.get_params() and est.n_components_ == good.n_components_
        np.testing.assert_array_equal(est.means_, good.means_)
        np.testing.assert_array_equal(est.covariances_, good.covariances_)
        np.testing.assert_array_equal(est.loc_, good.loc_)
        harmless += 1
    assert refused > harmless > 0


class _Boom:
    def __reduce__(self):
        return (os.system, ("echo pwned > /dev/null",))


@pytest.mark.parametrize("damage, match", [
    ("truncate_half", "truncated or damaged|not an .npz"),
    ("truncate_end", "truncated or damaged|not an .npz"),
    ("tamper", "do not match the SHA-256"),
    ("object", "pickled data"),
    ("pickle", "pickled data"),
    ("npy", "bare array"),
    ("version", "model version 9"),
    ("format", "not a fastmi GMMMI model"),
    ("header_json", "not valid JSON"),
    ("params", "not a valid fastmi model"),
])
def test_damaged_model_files_give_a_clear_value_error(tmp_path, model_file, damage, match):
    raw = model_file.read_bytes()
    out = tmp_path / "bad.npz"
    if damage == "truncate_half":
        out.write_bytes(raw[:len(raw) // 2])
    elif damage == "truncate_end":
        out.write_bytes(raw[:-30])
    elif damage == "tamper":
        _tamper_array(model_file, out)
    elif damage == "object":
        _object_array(model_file, out)
    elif damage == "pickle":
        import pickle

        out.write_bytes(pickle.dumps(_Boom()))
    elif damage == "npy":
        np.save(out.with_suffix(".npy"), np.zeros(3))
        out = out.with_suffix(".npy")
    elif damage == "version":
        _header(model_file, out, lambda h: h.update(version=9))
    elif damage == "format":
        _header(model_file, out, lambda h: h.update(format="other"))
    elif damage == "header_json":
        arrays = _arrays(model_file)
        arrays["header"] = np.array("{not json")
        out.write_bytes(_npz_bytes(arrays))
    elif damage == "params":
        _header(model_file, out, lambda h: h.update(params={"no_such_param": 1}))
    with pytest.raises(ValueError, match=match):
        fastmi.load_model(out)


# --------------------------------------------------------------------------- command line
def test_cli_checkpoint_resumes_and_refuses_other_options(tmp_path, data):
    z, v = data
    csv = tmp_path / "t.csv"
    with open(csv, "w") as f:
        f.write("z0,z1,z2,z3,v0,v1,v2,v3\n")
        for row in np.column_stack([z, v]):
            f.write(",".join(repr(float(x)) for x in row) + "\n")
    ck = tmp_path / "cli.ckpt"
    ref = fastmi.mi_matrix(z, v, rng=0, a_names=[f"z{k}" for k in range(4)], b_names=[f"v{k}" for k in range(4)],
                           **KSG)

    def cli(*extra):
        env = dict(os.environ, PYTHONWARNINGS="ignore")
        return subprocess.run([sys.executable, "-m", "fastmi._cli", "matrix", str(csv), "--a", "z*", "--b", "v*",
                               "--method", "ksg", "--n-bootstrap", "4", "--json", "--checkpoint", str(ck), *extra],
                              capture_output=True, text=True, env=env, timeout=120)

    assert cli().returncode == 0
    keep_records(ck, 3)
    proc = cli()
    res = json.loads(proc.stdout)
    np.testing.assert_array_equal(np.array(res["values"]), ref.values)
    np.testing.assert_array_equal(np.array(res["stds"]), ref.stds)
    assert res["diagnostics"]["checkpoint"]["resumed"] == 3
    bad = cli("--k", "5")
    assert bad.returncode == 2 and "another run; what differs: the estimator keyword arguments" in bad.stderr
