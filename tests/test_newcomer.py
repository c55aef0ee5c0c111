"""What a newcomer meets first: importing from the source folder, the command line's exit codes
and up-front checks, closed pipes, plots that show significance and stay readable, and
diagnostics that agree with the docs; and a package whose imports point one way."""
import ast
import os
import pathlib
import shutil
import subprocess
import sys
import types

import numpy as np
import pytest

import fastmi
from fastmi import _cli

ROOT = pathlib.Path(__file__).resolve().parents[1]


# --------------------------------------------------------------------------- the package
def test_import_from_an_unbuilt_source_folder_says_what_to_do(tmp_path):
    """`pip install .` then `python -c "import fastmi"` in the clone imports the source folder,
    which has no compiled extension: the message must say so, not blame a circular import."""
    shutil.copytree(ROOT / "fastmi", tmp_path / "fastmi",
                    ignore=shutil.ignore_patterns("*.so", "*.pyd", "_prebuilt", "__pycache__"))
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    # an editable install (as in CI) adds a finder that would still resolve fastmi's submodules
    # to the built checkout; a plain `pip install .` has none, so drop it to see what that user sees
    code = ("import sys; sys.meta_path[:] = [f for f in sys.meta_path "
            "if '__editable__' not in getattr(f, '__module__', '')]; import fastmi")
    proc = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=env, capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 1
    last = proc.stderr.strip().splitlines()[-1]
    assert last.startswith("ImportError: fastmi's compiled extension fastmi._ksg_cy is not built in")
    assert "source folder" in last and "pip install -e ." in last and "another folder" in last
    assert "circular" not in proc.stderr


def _import_graph():
    """Module -> the fastmi modules it imports (anywhere in its body, functions included)."""
    pkg_root = ROOT / "fastmi"
    files = {}
    for p in pkg_root.rglob("*.py"):
        parts = list(p.relative_to(ROOT).with_suffix("").parts)
        is_pkg = parts[-1] == "__init__"
        files[".".join(parts[:-1] if is_pkg else parts)] = (p, is_pkg)
    extensions = {"fastmi." + p.stem for p in (ROOT / "csrc").glob("*.pyx")}
    graph = {}
    for name, (path, is_pkg) in files.items():
        pkg = name.split(".") if is_pkg else name.split(".")[:-1]
        deps = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom):
                base = pkg[:len(pkg) - node.level + 1] if node.level else []
                mod = ".".join(base + ([node.module] if node.module else []))
                for alias in node.names:
                    full = f"{mod}.{alias.name}"
                    deps.add(full if full in files or full in extensions else mod)
            elif isinstance(node, ast.Import):
                deps.update(alias.name for alias in node.names)
        graph[name] = {d for d in deps if d in files and d != name}
    return graph


def _cycles(graph):
    """Strongly connected components of more than one module (Tarjan)."""
    index, low, stack, on, out = {}, {}, [], set(), []

    def visit(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


def test_imports_point_one_way():
    graph = _import_graph()
    assert "fastmi.bench._distributions" in graph["fastmi.bench._hard"]  # the graph sees real imports
    assert "fastmi.interpret._mig" in graph["fastmi.matrix._container"]
    assert _cycles(graph) == []


def test_cycle_finder_finds_a_cycle():
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


# --------------------------------------------------------------------------- diagnostics
@pytest.mark.parametrize("K", [1, 2])
def test_warm_started_bootstrap_refits_are_not_suspicious(K):
    rng = np.random.default_rng(3)
    x = rng.standard_normal(600)
    y = 0.6 * x + 0.8 * rng.standard_normal(600)
    r = fastmi.GMMMI(n_components=K, n_bootstrap=20, mc_samples=2000, check_fit=False, rng=0).fit(x, y).estimate()
    boot = r.diagnostics["bootstrap"]
    suspicious, n_iter = np.array(boot["suspicious"]), np.array(boot["n_iter"])
    assert suspicious.shape == n_iter.shape and n_iter.shape[0] == 20 and not suspicious.any()
    if K == 1:
        assert n_iter.max() <= 2  # they do stop that fast: the flag must not follow n_iter


# --------------------------------------------------------------------------- command line
@pytest.fixture
def csv(tmp_path):
    rng = np.random.default_rng(0)
    a = rng.standard_normal(200)
    data = np.column_stack([a, a + rng.standard_normal(200)])
    path = tmp_path / "d.csv"
    np.savetxt(path, data, delimiter=",", header="a,b", comments="")
    return str(path)


def test_unknown_set_option_is_bad_input(csv, capsys):
    assert _cli.main(["estimate", csv, "--x", "a", "--y", "b", "--method", "ksg", "--set", "foo=1"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("fastmi: error: --set foo=...: --method ksg has no parameter 'foo'; its parameters:")
    assert "jitter" in err and "unexpected" not in err


def test_traceback_after_the_subcommand(csv):
    assert _cli.build_parser().parse_args(["demo", "--traceback"]).traceback is True
    assert _cli.build_parser().parse_args(["--traceback", "demo"]).traceback is True
    assert _cli.build_parser().parse_args(["demo"]).traceback is False
    with pytest.raises(ValueError, match="nope"):
        _cli.main(["estimate", csv, "--x", "a", "--y", "nope", "--traceback"])


def test_closed_pipe_is_quiet():
    """`fastmi bench --list | head -1`: the reader goes away; no traceback, SIGPIPE's status."""
    proc = subprocess.Popen([sys.executable, "-c", "import sys, time; time.sleep(0.5); from fastmi._cli import main; "
                             "sys.exit(main(['bench', '--list']))"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            env=dict(os.environ, PYTHONPATH=str(ROOT)))
    proc.stdout.close()  # before the child writes anything
    err = proc.stderr.read().decode()
    assert proc.wait(timeout=120) == 141
    assert err == ""


@pytest.fixture
def no_work(monkeypatch):
    """Make any real work fail loudly: the checks must come first."""
    def boom(*a, **k):
        raise AssertionError("did the work before checking the outputs")

    monkeypatch.setattr(_cli, "_read_columns", boom)
    from fastmi.bench import _runner

    monkeypatch.setattr(_runner, "run", boom)
    monkeypatch.setattr(_runner, "fastmi_estimators", boom)


@pytest.mark.parametrize("argv, message", [
    (["estimate", "{csv}", "--x", "a", "--y", "b", "--plot-fit", "/nonexistent/dir/f.png"],
     "--plot-fit /nonexistent/dir/f.png: the folder /nonexistent/dir does not exist"),
    (["estimate", "{csv}", "--x", "a", "--y", "b", "--plot-bootstrap", "{tmp}/f.xyz"], "unknown image format 'xyz'"),
    (["matrix", "{csv}", "--a", "a,b", "--out", "/nonexistent/t.csv"], "the folder /nonexistent does not exist"),
    (["matrix", "{csv}", "--a", "a,b", "--checkpoint", "/nonexistent/r.ckpt"], "the folder /nonexistent does not"),
    (["bench", "--estimators", "gaussian", "--plot", "/nonexistent/p.png"], "the folder /nonexistent does not"),
    (["bench", "--estimators", "gaussian", "--out", "{tmp}"], "is a folder; give a file name"),
])
def test_output_paths_are_checked_before_the_work(argv, message, csv, tmp_path, no_work, capsys):
    argv = [a.format(csv=csv, tmp=tmp_path) for a in argv]
    assert _cli.main(argv) == 2
    assert message.format(tmp=tmp_path) in capsys.readouterr().err


@pytest.mark.parametrize("argv", [["bench", "--estimators", "gaussian", "--plot", "p.png"],
                                  ["estimate", "{csv}", "--x", "a", "--y", "b", "--plot-cv", "cv.png"]])
def test_missing_matplotlib_is_reported_before_the_work(argv, csv, no_work, monkeypatch, capsys):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "matplotlib" else real(name, *a))
    assert _cli.main([a.format(csv=csv) for a in argv]) == 2
    assert "plots need matplotlib: pip install 'fastmi[plot]'" in capsys.readouterr().err


def test_missing_dask_is_reported_before_the_work(csv, no_work, monkeypatch, capsys):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "distributed" else real(name, *a))
    assert _cli.main(["matrix", csv, "--a", "a,b", "--scheduler", "local:1"]) == 2
    assert "--scheduler needs dask.distributed: pip install 'fastmi[dask]'" in capsys.readouterr().err


def test_progress_without_tqdm_warns(monkeypatch):
    from fastmi._progress import progress_bar

    monkeypatch.setitem(sys.modules, "tqdm", None)
    monkeypatch.setitem(sys.modules, "tqdm.auto", None)
    with pytest.warns(UserWarning, match="needs tqdm"):
        bar = progress_bar(3, True)
    bar.update()
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        progress_bar(3, None)  # not asked for: silent
        progress_bar(3, False)


def test_empty_header_name_is_an_error(tmp_path, capsys):
    path = tmp_path / "e.csv"
    path.write_text("a,,c\n1,2,3\n2,3,5\n3,5,1\n")
    from fastmi._io import read_table

    with pytest.raises(ValueError, match="empty name for column 1"):
        read_table(str(path))
    assert _cli.main(["estimate", str(path), "--x", "a", "--y", "1", "--method", "ksg"]) == 2
    assert "empty name for column 1" in capsys.readouterr().err


# --------------------------------------------------------------------------- plots
mpl = pytest.importorskip("matplotlib")
mpl.use("Agg")


def _matrix(p, q, values, stds):
    return types.SimpleNamespace(values=values, stds=stds, row_names=[f"z{i}" for i in range(p)],
                                 col_names=[f"theta{j}" for j in range(q)], unit="nat", method="gmm")


def test_plot_mi_matrix_shows_insignificant_entries():
    values = np.array([[0.4123, 0.0011], [0.0030, 0.2500]])
    stds = np.array([[0.0132, 0.0042], [0.0010, 0.0200]])
    ax = fastmi.plot_mi_matrix(_matrix(2, 2, values, stds))
    texts = {tuple(np.round(t.get_position()).astype(int)): t for t in ax.texts}
    assert texts[(1, 0)].get_text() == "0.0011\n±0.0042"  # not "0.00\n±0.00"
    assert texts[(0, 0)].get_text() == "0.412\n±0.013"
    hatched = {(round(p.get_x() + 0.5), round(p.get_y() + 0.5)) for p in ax.patches if p.get_hatch()}
    assert hatched == {(1, 0)}  # |0.0011| <= 2 * 0.0042; 0.0030 is 3 std from 0
    assert texts[(1, 0)].get_fontstyle() == "italic" and texts[(0, 1)].get_fontstyle() == "normal"
    assert "within 2 std of 0" in ax.get_title()
    ax = fastmi.plot_mi_matrix(_matrix(2, 2, values, stds), significance=None)
    assert not any(p.get_hatch() for p in ax.patches)
    with pytest.raises(ValueError, match="significance"):
        fastmi.plot_mi_matrix(_matrix(2, 2, values, stds), significance=-1)
    mpl.pyplot.close("all")


@pytest.mark.parametrize("p, q", [(20, 20), (10, 6)])
def test_plot_mi_matrix_is_readable(p, q):
    """Every annotation at least 8 pt (the old heatmap wrote 6 pt at 10 x 6, 5 pt at 20 x 20) and
    inside its own cell, at the default figure size."""
    rng = np.random.default_rng(1)
    ax = fastmi.plot_mi_matrix(_matrix(p, q, rng.uniform(0, 2, (p, q)), rng.uniform(0.001, 0.05, (p, q))))
    fig = ax.figure
    fig.get_layout_engine().execute(fig)  # where a draw would place the axes, without drawing
    renderer = fig.canvas.get_renderer()
    assert len(ax.texts) == p * q
    for t in ax.texts:
        assert t.get_fontsize() >= 8.0
        assert "±" in t.get_text()
        x, y = t.get_position()
        (x0, y0), (x1, y1) = ax.transData.transform([(x - 0.5, y + 0.5), (x + 0.5, y - 0.5)])
        bb = t.get_window_extent(renderer)
        assert x0 <= bb.x0 and bb.x1 <= x1 and y0 <= bb.y0 and bb.y1 <= y1, t.get_text()
    mpl.pyplot.close("all")


def test_plot_fit_at_large_k_shows_the_density():
    from matplotlib.patches import Ellipse

    rng = np.random.default_rng(2)
    K = 13
    cov = np.array([[0.3, 0.1], [0.1, 0.2]])
    est = types.SimpleNamespace(weights_=np.full(K, 1 / K), means_=rng.normal(0, 3, (K, 2)),
                                covariances_=np.repeat(cov[None], K, axis=0), dims_={"x": 1, "y": 1})
    x, y = rng.normal(0, 3, (2, 500))
    ax = fastmi.plot_fit(est, x, y)
    assert not [pa for pa in ax.patches if isinstance(pa, Ellipse)]
    assert len(ax.collections) >= 2 and "density contours" in ax.get_title()
    ax = fastmi.plot_fit(est, x, y, components=True, n_sigma=(1, 2))
    assert len([pa for pa in ax.patches if isinstance(pa, Ellipse)]) == 2 * K
    small = types.SimpleNamespace(weights_=np.full(3, 1 / 3), means_=est.means_[:3], covariances_=est.covariances_[:3],
                                  dims_={"x": 1, "y": 1})
    ax = fastmi.plot_fit(small, x, y, n_sigma=(1,))
    assert len([pa for pa in ax.patches if isinstance(pa, Ellipse)]) == 3  # few components: drawn by default
    with pytest.raises(ValueError, match="components"):
        fastmi.plot_fit(est, x, y, components="some")
    mpl.pyplot.close("all")


def test_plot_bootstrap_names_subsample_replicates():
    rng = np.random.default_rng(4)
    x = rng.standard_normal(400)
    y = x + rng.standard_normal(400)
    r = fastmi.mutual_info(x, y, method="ksg", n_bootstrap=10, rng=0)
    assert r.diagnostics["resampling"]["scheme"] == "subsample"
    assert fastmi.plot_bootstrap(r).get_title().startswith("Subsample replicates")
    g = fastmi.mutual_info(x, y, n_components=1, n_bootstrap=5, mc_samples=2000, check_fit=False, rng=0)
    assert fastmi.plot_bootstrap(g).get_title().startswith("Bootstrap distribution")
    mpl.pyplot.close("all")
