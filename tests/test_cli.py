"""The ``fastmi`` command line, run as a subprocess on files written here."""
import json
import math
import os
import re
import shutil
import subprocess
import sys

import numpy as np
import pytest

import fastmi

GMM_FAST = dict(n_bootstrap=5, mc_samples=20_000)
GMM_ARGS = ["--n-bootstrap", "5", "--mc-samples", "20000"]


def run(*args, check=True):
    """Run ``python -m fastmi._cli ARGS``; returns the CompletedProcess."""
    env = dict(os.environ, PYTHONWARNINGS="ignore", COLUMNS="120")
    proc = subprocess.run([sys.executable, "-m", "fastmi._cli", *map(str, args)], capture_output=True, text=True,
                          env=env, timeout=300)
    if check and proc.returncode != 0:
        raise AssertionError(f"exit {proc.returncode}\nstdout: {proc.stdout}\nstderr: {proc.stderr}")
    return proc


@pytest.fixture(scope="module")
def table(tmp_path_factory):
    """A CSV of latents z0..z2 and parameters p0, p1 (floats written at full precision)."""
    rng = np.random.default_rng(17)
    n = 500
    p = rng.standard_normal((n, 2))
    z = np.column_stack([p[:, 0] + 0.5 * rng.standard_normal(n), np.tanh(p[:, 1]) + 0.3 * rng.standard_normal(n),
                         rng.standard_normal(n)])
    data = np.column_stack([z, p])
    path = tmp_path_factory.mktemp("cli") / "rep.csv"
    with open(path, "w") as f:
        f.write("z0,z1,z2,p0,p1\n")
        for row in data:
            f.write(",".join(repr(float(v)) for v in row) + "\n")
    return path, z, p


def test_estimate_prints_the_api_number_and_valid_json(table):
    path, z, p = table
    ref = fastmi.mutual_info(z[:, 0], p[:, 0], rng=0, **GMM_FAST)
    out = run("estimate", path, "--x", "z0", "--y", "p0", *GMM_ARGS).stdout
    m = re.match(r"I\(z0; p0\) = (\S+) ± (\S+) nat", out)
    assert m, out
    assert float(m.group(1)) == pytest.approx(ref.mi, rel=1e-5)
    assert float(m.group(2)) == pytest.approx(ref.std, rel=1e-2)
    assert "95% interval" in out and "K = " in out

    res = json.loads(run("estimate", path, "--x", "z0", "--y", "p0", *GMM_ARGS, "--json").stdout)
    assert res["mi"] == ref.mi and res["std"] == ref.std and res["samples"] == ref.samples.tolist()
    assert res["x"] == ["z0"] and res["y"] == ["p0"] and res["n_samples"] == 500 and res["unit"] == "nat"
    assert res["n_components"] == ref.n_components


def test_estimate_other_methods_units_and_indices(table):
    path, z, p = table
    ref = fastmi.mutual_info(z[:, 1], p[:, 1], method="ksg", k=5, n_bootstrap=4, rng=3, unit="bit")
    res = json.loads(run("estimate", path, "--x", "1", "--y", "-1", "--method", "ksg", "--k", "5",
                         "--n-bootstrap", "4", "--seed", "3", "--unit", "bit", "--json").stdout)
    assert res["mi"] == ref.mi and res["samples"] == ref.samples.tolist() and res["unit"] == "bit"
    assert res["x"] == ["z1"] and res["y"] == ["p1"]
    # several columns on each side
    ref2 = fastmi.mutual_info(z[:, :2], p, method="gaussian")
    res2 = json.loads(run("estimate", path, "--x", "0:2", "--y", "p*", "--method", "gaussian", "--json").stdout)
    assert res2["mi"] == ref2.mi and res2["y"] == ["p0", "p1"]


def test_matrix_json_csv_and_plot_match_the_api(table, tmp_path):
    path, z, p = table
    ref = fastmi.mi_matrix(z, p, rng=0, a_names=["z0", "z1", "z2"], b_names=["p0", "p1"], **GMM_FAST)
    out_csv, png = tmp_path / "table.csv", tmp_path / "heat.png"
    res = json.loads(run("matrix", path, "--a", "z*", "--b", "p0,p1", *GMM_ARGS, "--json", "--out", out_csv,
                         "--plot", png).stdout)
    assert res["rows"] == ["z0", "z1", "z2"] and res["cols"] == ["p0", "p1"]
    np.testing.assert_array_equal(np.array(res["values"]), ref.values)
    np.testing.assert_array_equal(np.array(res["stds"]), ref.stds)
    assert res["mig"]["mig"] == fastmi.mig(ref, p).mig
    assert [d["col"] for d in res["most_informative"]][:2] == ["p0", "p1"]
    lines = out_csv.read_text().splitlines()
    assert lines[0] == "a,b,mi,std,ci_low,ci_high,n_replicates" and len(lines) == 7
    first = lines[1].split(",")
    assert first[:2] == ["z0", "p0"] and float(first[2]) == ref.values[0, 0] and first[6] == "5"
    from matplotlib.image import imread

    img = imread(png)
    assert img.shape[:2] == (round(100 * (1.4 + 0.6 * 3)), round(100 * (2.0 + 0.9 * 2)))
    assert (img[..., :3] < 0.95).any(axis=-1).mean() > 0.05

    text = run("matrix", path, "--a", "z0:z2", *GMM_ARGS).stdout
    assert "MI matrix (gmm, nat), 3 x 3" in text and "MIG" not in text
    sym = fastmi.mi_matrix(z, rng=0, **GMM_FAST)
    row = next(ln for ln in text.splitlines() if ln.startswith("z0 "))
    assert f"{sym.values[0, 1]:.3f}±{sym.stds[0, 1]:.3f}" in row


def test_matrix_on_a_dask_local_cluster(table):
    pytest.importorskip("distributed")
    path, z, p = table
    res = json.loads(run("matrix", path, "--a", "z0,z1,z2", "--b", "p0,p1", "--method", "ksg", "--n-bootstrap",
                         "3", "--scheduler", "local:2", "--json").stdout)
    ref = fastmi.mi_matrix(z, p, method="ksg", n_bootstrap=3, rng=0)
    assert res["diagnostics"]["scheduler"] == "dask"
    np.testing.assert_array_equal(np.array(res["values"]), ref.values)


def test_npy_npz_and_parquet_inputs(table, tmp_path):
    path, z, p = table
    data = np.column_stack([z, p])
    ref = fastmi.mutual_info(z[:, 0], p[:, 0], method="gaussian")
    np.save(tmp_path / "d.npy", data)
    r = json.loads(run("estimate", tmp_path / "d.npy", "--x", "0", "--y", "3", "--method", "gaussian", "--json").stdout)
    assert r["mi"] == ref.mi
    np.savez(tmp_path / "d.npz", z=z, p0=p[:, 0], p1=p[:, 1])
    r = json.loads(run("estimate", tmp_path / "d.npz", "--x", "z[0]", "--y", "p0", "--method", "gaussian",
                       "--json").stdout)
    assert r["mi"] == ref.mi
    m = json.loads(run("matrix", tmp_path / "d.npz", "--a", "z", "--b", "p0,p1", "--method", "gaussian",
                       "--json").stdout)
    assert m["rows"] == ["z[0]", "z[1]", "z[2]"]
    ref_m = fastmi.mi_matrix(z, p, method="gaussian", a_names=m["rows"], b_names=["p0", "p1"])
    np.testing.assert_array_equal(np.array(m["values"]), ref_m.values)
    text = run("matrix", tmp_path / "d.npz", "--a", "z", "--b", "p0,p1", "--method", "gaussian").stdout
    assert f"z[0] -> p0: {ref_m.values[0, 0]:.4g}" in text
    assert f"MIG = {fastmi.mig(ref_m, p).mig:.4f}" in text
    pa = pytest.importorskip("pyarrow")
    import pyarrow.parquet as pq

    pq.write_table(pa.table({"z0": z[:, 0], "p0": p[:, 0]}), tmp_path / "d.parquet")
    r = json.loads(run("estimate", tmp_path / "d.parquet", "--x", "z0", "--y", "p0", "--method", "gaussian",
                       "--json").stdout)
    assert r["mi"] == ref.mi


def test_estimate_plots(table, tmp_path):
    pytest.importorskip("matplotlib")
    from matplotlib.image import imread

    path, _, _ = table
    files = {k: tmp_path / f"{k}.png" for k in ("fit", "boot", "cv")}
    run("estimate", path, "--x", "z0", "--y", "p0", *GMM_ARGS, "--plot-fit", files["fit"], "--plot-bootstrap",
        files["boot"], "--plot-cv", files["cv"])
    sizes = {"fit": (500, 600), "boot": (400, 600), "cv": (400, 600)}
    for k, f in files.items():
        img = imread(f)
        assert img.shape[:2] == sizes[k]
        assert (img[..., :3] < 0.95).any(axis=-1).mean() > 0.02


def bad_files(tmp_path):
    ok = tmp_path / "ok.csv"
    ok.write_text("a,b\n1,2\n2,1\n3,5\n4,3\n")
    text = tmp_path / "text.csv"
    text.write_text("a,b\n1,2\n2,x\n3,5\n4,3\n")
    nan = tmp_path / "nan.csv"
    nan.write_text("a,b\n1,2\n2,\n3,nan\n4,3\n")
    npy = tmp_path / "nan.npy"
    np.save(npy, np.array([[1.0, 2.0], [2.0, np.nan], [3.0, 5.0], [4.0, 3.0]]))
    return ok, text, nan, npy


@pytest.mark.parametrize("command", ["estimate", "matrix"])
def test_bad_inputs_give_one_line_and_exit_2(tmp_path, command):
    ok, text, nan, npy = bad_files(tmp_path)
    cols = ["--x", "a", "--y", "b"] if command == "estimate" else ["--a", "a", "--b", "b"]
    bad_col = ["--x", "a", "--y", "c"] if command == "estimate" else ["--a", "a", "--b", "c"]
    cases = [
        ([tmp_path / "missing.csv", *cols], r"no such file: .*missing\.csv"),
        ([ok, *bad_col], r"unknown column 'c' \((--y|--b)\) in ok\.csv; columns are: a, b"),
        ([text, *cols], r"column 'b' of text\.csv is not numeric \('x' on line 3\)"),
        ([nan, *cols], r"column 'b' of nan\.csv has 2 missing or NaN value\(s\) \(first on line 3\)"),
        ([npy, *(["--x", "0", "--y", "1"] if command == "estimate" else ["--a", "0", "--b", "1"])],
         r"column '1' of nan\.npy has 1 missing or NaN value\(s\) \(first on row 1\)"),
    ]
    (tmp_path / "odd.xyz").write_text("a,b\n1,2\n")
    cases.append(([tmp_path / "odd.xyz", *cols], r"unsupported file type '\.xyz'"))
    for args, message in cases:
        proc = run(command, *args, "--method", "gaussian", check=False)
        assert proc.returncode == 2, (args, proc.stderr)
        assert proc.stdout == ""
        lines = proc.stderr.strip().splitlines()
        assert len(lines) == 1 and "Traceback" not in proc.stderr, proc.stderr
        assert re.fullmatch(r"fastmi: error: " + message + r".*", lines[0]), lines[0]


def test_option_errors_are_one_line():
    proc = run("estimate", "x.csv", "--x", "a", "--y", "b", "--method", "ksg", "--mc-samples", "10", check=False)
    assert proc.returncode == 2 and proc.stderr.strip() == "fastmi: error: --mc-samples applies to --method gmm " \
                                                           "only, not 'ksg'"
    proc = run("matrix", "x.csv", "--a", "a", "--set", "nonsense", check=False)
    assert proc.returncode == 2 and proc.stderr.strip() == "fastmi: error: --set expects KEY=VALUE, got 'nonsense'"


def test_help_lists_everything():
    top = run("--help").stdout
    for word in ("estimate", "matrix", "demo"):
        assert word in top
    est = run("estimate", "--help").stdout
    for opt in ("--x", "--y", "--method", "--n-bootstrap", "--unit", "--json", "--plot-fit", "--plot-bootstrap",
                "--plot-cv", "--seed", "CSV", "NPZ", "Parquet"):
        assert opt in est, opt
    mat = run("matrix", "--help").stdout
    for opt in ("--a", "--b", "--out", "--plot", "--scheduler", "--scheduler-file", "--progress", "--n-jobs",
                "--bins"):
        assert opt in mat, opt


def test_installed_entry_point_and_demo():
    exe = shutil.which("fastmi")
    if exe is None:
        pytest.skip("the fastmi entry point is not installed (pip install -e .)")
    proc = subprocess.run([exe, "demo", "--n", "400", "--json"], capture_output=True, text=True, timeout=300,
                          env=dict(os.environ, PYTHONWARNINGS="ignore"))
    assert proc.returncode == 0, proc.stderr
    d = json.loads(proc.stdout)
    assert set(d) == {"mi", "std", "truth", "n_components", "seconds", "unit"}
    assert math.isfinite(d["mi"]) and d["truth"] == pytest.approx(0.4227843351)


def test_bench_command(tmp_path):
    assert "bench" in run("--help").stdout
    out = tmp_path / "bench.csv"
    run("bench", "--estimators", "gaussian", "--distributions", "gaussian:rho=0.6", "--n", "2000", "--seeds", "0", "1",
        "--out", out, "--quiet")
    import csv

    with open(out) as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 2 and {r["estimator"] for r in rows} == {"fastmi-gaussian"}
    assert {r["seed"] for r in rows} == {"0", "1"} and all(r["status"] == "ok" for r in rows)
    truth = -0.5 * math.log(1 - 0.36)
    for r in rows:
        assert float(r["true_mi"]) == pytest.approx(truth, rel=1e-12)
        assert abs(float(r["estimate"]) - truth) < 0.05
    bad = run("bench", "--distributions", "no_such_distribution", check=False)
    assert bad.returncode == 2 and bad.stderr.count("\n") == 1 and "fastmi: error:" in bad.stderr


def test_ci_runs_the_readme_commands_verbatim_and_in_order():
    import pathlib

    root = pathlib.Path(__file__).resolve().parents[1]
    readme = (root / "README.md").read_text()
    block = re.search(r"```bash\n(.*?)```", readme, re.S).group(1).strip().splitlines()
    assert len(block) == 2 and block[0].startswith("pip install . ") and "pytest tests" in block[1]
    ci = (root / ".ci" / "run").read_text().splitlines()
    positions = [ci.index(line) for line in block]  # ValueError if a command is not there verbatim
    assert positions == sorted(positions)


def test_estimate_says_when_the_fit_fails_its_check(tmp_path):
    """A two-component mixture cannot follow y = sin 6x: the command says MISFIT (and --json
    carries the flag)."""
    rng = np.random.default_rng(0)
    x = rng.uniform(-2, 2, 2000)
    path = tmp_path / "wiggle.csv"
    np.savetxt(path, np.column_stack([x, np.sin(6 * x) + 0.05 * rng.standard_normal(2000)]), delimiter=",",
               header="x,y", comments="")
    out = run("estimate", path, "--x", "x", "--y", "y", "--n-components", "2", *GMM_ARGS).stdout
    assert "MISFIT" in out
    d = json.loads(run("estimate", path, "--x", "x", "--y", "y", "--n-components", "2", "--json", *GMM_ARGS).stdout)
    assert d["diagnostics"]["misfit"] is True


def test_permutations_in_estimate_and_matrix(table):
    path, z, p = table
    res = json.loads(run("estimate", path, "--x", "z0", "--y", "p0", "--method", "ksg", "--permutations", "19",
                         "--json").stdout)
    ref = fastmi.permutation_test(z[:, 0], p[:, 0], method="ksg", n_permutations=19, rng=0)
    assert res["permutation_test"]["pvalue"] == ref.pvalue == pytest.approx(1 / 20)
    assert res["permutation_test"]["observed"] == ref.observed
    about = {k: v for k, v in ref.diagnostics["test_statistic"].items() if k != "null_mi"}  # KSG at two k
    assert res["permutation_test"]["test_statistic"] == about
    out = run("estimate", path, "--x", "z2", "--y", "p0", "--method", "ksg", "--permutations", "19").stdout
    assert re.search(r"permutation test of independence: p = \S+ \(19 permutations", out), out
    mat = json.loads(run("matrix", path, "--a", "z0,z1,z2", "--b", "p0,p1", "--method", "ksg", "--n-bootstrap", "0",
                         "--permutations", "99", "--json").stdout)
    m = fastmi.mi_matrix(z, p, method="ksg", n_bootstrap=0, n_permutations=99, rng=0)
    assert mat["pvalues"] == m.pvalues.tolist()
    assert mat["significant"] == m.significant(0.05).tolist()
    assert mat["significant"][0][0] and mat["significant"][1][1] and not any(mat["significant"][2])
    text = run("matrix", path, "--a", "z0,z1,z2", "--b", "p0,p1", "--method", "ksg", "--n-bootstrap", "0",
               "--permutations", "99").stdout
    assert "Benjamini-Hochberg" in text and "z0-p0" in text and "z1-p1" in text
    for bad, message in ((["--permutations", "-1"], "--permutations must be >= 0"),
                         (["--permutations", "9", "--alpha", "1.5"], "--alpha must lie in")):
        cmd = "matrix" if "--alpha" in bad else "estimate"
        cols = ["--a", "z0", "--b", "p0"] if cmd == "matrix" else ["--x", "z0", "--y", "p0"]
        proc = run(cmd, path, *cols, "--method", "ksg", *bad, check=False)
        assert proc.returncode == 2 and message in proc.stderr, proc.stderr
