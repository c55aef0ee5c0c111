"""The estimator contract: one registry, one result contract, named random streams, and a
layout without import cycles."""
from __future__ import annotations

import ast
import json
import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import fastmi
from fastmi import _registry
from fastmi._streams import Stream, Streams

PACKAGE = Path(fastmi.__file__).resolve().parent
EXPECTED = {"gmm", "ksg", "ksg2", "mixed", "discrete", "gaussian"}
FAST = {"gmm": {"n_bootstrap": 4, "mc_samples": 5000, "max_components": 3}}


def _sources():
    return sorted(p for p in PACKAGE.rglob("*.py") if "__pycache__" not in p.parts)


def _module_name(path):
    rel = path.relative_to(PACKAGE.parent).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


# --------------------------------------------------------------------------- registry
def test_list_methods_lists_every_estimator_with_its_capabilities():
    table = fastmi.list_methods()
    by_name = {m["name"]: m for m in table}
    assert EXPECTED <= set(by_name)
    assert by_name["gmm"]["categorical_y"] and by_name["gmm"]["conditional"]
    assert by_name["gmm"]["error_bars"] == "bootstrap" and by_name["gmm"]["point"] == "bootstrap mean"
    assert by_name["ksg"]["categorical_y"] and by_name["ksg"]["conditional"]
    assert not by_name["ksg2"]["conditional"] and not by_name["gaussian"]["categorical_y"]
    assert {by_name[m]["error_bars"] for m in ("ksg", "ksg2", "mixed", "knn")} == {"partition"}
    assert {by_name[m]["error_bars"] for m in ("discrete", "gaussian", "gcmi")} == {"subsample"}
    assert by_name["discrete"]["data"] == "discrete" and by_name["mixed"]["data"] == "mixed"
    assert all(m["available"] for m in table if m["install"] is None)  # only optional extras may be missing
    text = repr(table)
    assert all(name in text for name in EXPECTED) and "error_bars" in text.splitlines()[0]


def test_unavailable_method_is_listed_with_its_install_command(monkeypatch):
    ghost = _registry.Method("ghost", "fastmi._plugin", "gaussian_mutual_info", extra="ghost",
                             requires=("no_such_module_fastmi_test",))
    monkeypatch.setitem(_registry._METHODS, "ghost", ghost)
    row = {m["name"]: m for m in fastmi.list_methods()}["ghost"]
    assert row["available"] is False and row["install"] == 'pip install "fastmi[ghost]"'
    assert 'pip install "fastmi[ghost]"' in repr(fastmi.list_methods())
    with pytest.raises(ImportError, match=r'fastmi\[ghost\]'):
        fastmi.mutual_info([1.0, 2.0, 3.0], [1.0, 3.0, 2.0], method="ghost")


@pytest.mark.parametrize("method", sorted(EXPECTED))
def test_every_method_runs_through_mutual_info_and_mi_matrix(method, rng):
    n = 600
    x = rng.standard_normal(n)
    y = 0.7 * x + 0.7 * rng.standard_normal(n)
    if method == "discrete":
        x, y = np.round(x), np.round(y)
    kw = FAST.get(method, {})
    r = fastmi.mutual_info(x, y, method=method, rng=0, **kw)
    assert math.isfinite(r.mi) and math.isfinite(r.std) and r.std > 0
    m = fastmi.mi_matrix(np.c_[x, y], method=method, rng=0, **kw)
    assert m.values.shape == (2, 2) and math.isfinite(m.values[0, 1])


@pytest.mark.parametrize("method", sorted(EXPECTED))
def test_every_method_runs_through_the_command_line(method, rng, tmp_path):
    n = 500
    x = rng.standard_normal(n)
    y = 0.7 * x + 0.7 * rng.standard_normal(n)
    if method == "discrete":
        x, y = np.round(x), np.round(y)
    path = tmp_path / "data.csv"
    np.savetxt(path, np.c_[x, y], delimiter=",", header="a,b", comments="")
    extra = ["--n-bootstrap", "4", "--mc-samples", "5000", "--set", "max_components=3"] if method == "gmm" else []
    proc = subprocess.run([sys.executable, "-m", "fastmi._cli", "estimate", str(path), "--x", "a", "--y", "b",
                           "--method", method, "--json", *extra], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert math.isfinite(out["mi"]) and out["diagnostics"]["resampling"]["scheme"] in ("bootstrap", "subsample", "partition")


def test_cli_option_that_the_method_does_not_take_names_the_methods_that_do(rng, tmp_path):
    path = tmp_path / "data.csv"
    np.savetxt(path, rng.standard_normal((100, 2)), delimiter=",", header="a,b", comments="")
    proc = subprocess.run([sys.executable, "-m", "fastmi._cli", "estimate", str(path), "--x", "a", "--y", "b",
                           "--method", "gaussian", "--k", "4"], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2
    assert "--k applies to the methods ksg, ksg2, mixed, not 'gaussian'" in proc.stderr


def test_method_names_are_listed_only_in_the_registry():
    """A list, tuple, set or dict literal naming two or more methods outside ``_registry.py``
    is a second list of methods that would go stale."""
    names = set(_registry.names())
    offenders = []
    for path in _sources():
        if path.name == "_registry.py":
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, (ast.List, ast.Tuple, ast.Set)):
                elts = node.elts
            elif isinstance(node, ast.Dict):
                elts = [k for k in node.keys if k is not None]
            else:
                continue
            named = {e.value for e in elts if isinstance(e, ast.Constant) and e.value in names}
            if len(named) >= 2:
                offenders.append(f"{path.relative_to(PACKAGE)}:{node.lineno} {sorted(named)}")
    assert not offenders, "method lists outside the registry:\n" + "\n".join(offenders)


def test_the_method_list_check_catches_a_list(tmp_path):
    """The check above must be able to fail: the same walk finds a planted list."""
    tree = ast.parse('_FAST = ("ksg", "gaussian")\nchoice = {"gmm": 1, "mixed": 2}\n')
    names = set(_registry.names())
    found = [n for n in ast.walk(tree) if isinstance(n, (ast.Tuple, ast.Dict))
             and len({e.value for e in (n.elts if isinstance(n, ast.Tuple) else n.keys)
                      if isinstance(e, ast.Constant) and e.value in names}) >= 2]
    assert len(found) == 2


def test_registry_rejects_a_duplicate_and_unknown_names():
    with pytest.raises(ValueError, match="already registered"):
        _registry.register(_registry.Method("ksg", "fastmi.knn", "ksg_mutual_info"))
    with pytest.raises(ValueError, match="method must be one of"):
        fastmi.mutual_info([1.0, 2.0, 3.0], [1.0, 2.0, 4.0], method="nope")
    with pytest.raises(ValueError, match=r"conditional MI is supported by methods \['discrete', 'gcmi', 'gmm', 'ksg'\], not 'gaussian'"):
        fastmi.conditional_mutual_info([1.0, 2.0, 3.0], [1.0, 2.0, 4.0], [0.0, 1.0, 0.5], method="gaussian")
    with pytest.raises(ValueError, match="method='ksg2' fixes variant=2"):
        fastmi.mutual_info(np.arange(10.0), np.arange(10.0) ** 2, method="ksg2", variant=1)


# --------------------------------------------------------------------------- result contract
@pytest.mark.parametrize("method", sorted(EXPECTED))
def test_result_says_what_it_holds(method, rng):
    x = rng.standard_normal(600)  # >= 2 pieces of PARTITION_MIN_ROWS for the k-NN default
    y = x + rng.standard_normal(600)
    if method == "discrete":
        x, y = np.round(x), np.round(y)
    row = {m["name"]: m for m in fastmi.list_methods()}[method]
    r = fastmi.mutual_info(x, y, method=method, rng=1, **FAST.get(method, {}))
    info = r.diagnostics["resampling"]
    assert info["scheme"] == row["error_bars"] and info["point"] == row["point"]
    assert info["n_replicates"] == r.samples.size > 1 and r.quantity == "mi"
    if info["point"] == "bootstrap mean":
        assert r.mi == pytest.approx(r.samples.mean(), rel=1e-12)
    else:  # the full-sample estimate: the same call without replicates
        r0 = fastmi.mutual_info(x, y, method=method, rng=1, n_bootstrap=0, **{k: v for k, v in FAST.get(
            method, {}).items() if k != "n_bootstrap"})
        assert r0.mi == r.mi
    none = fastmi.mutual_info(x, y, method=method, rng=1, **{**FAST.get(method, {}), "n_bootstrap": 0})
    assert none.diagnostics["resampling"]["scheme"] == "none" and math.isnan(none.std)
    assert "no error bar" in repr(none)
    assert json.loads(none.to_json())["quantity"] == "mi"


def test_entropy_kl_and_cmi_results_say_what_they_hold(rng):
    x = rng.standard_normal(1500)
    y = 0.5 * x + rng.standard_normal(1500)
    est = fastmi.GMMMI(n_bootstrap=4, mc_samples=5000, rng=0, max_components=2).fit(x, y)
    est.estimate()
    h = est.entropy()
    assert {r.quantity for r in h.values()} == {"entropy"}
    assert h["x"].mi == pytest.approx(0.5 * math.log(2 * math.pi * math.e), abs=0.1)
    kl = est.kl_divergence()
    assert kl.quantity == "kl" and kl.diagnostics["resampling"]["scheme"] == "bootstrap"
    z = x + rng.standard_normal(1500)
    assert fastmi.conditional_mutual_info(x, y, z, method="ksg").quantity == "cmi"
    assert fastmi.conditional_mutual_info(x, y, z, n_bootstrap=3, mc_samples=5000, max_components=2).quantity == "cmi"
    assert kl.to("bit").quantity == "kl"


# --------------------------------------------------------------------------- random streams
class _Recording(Streams):
    used: list = []

    def __call__(self, stream, *index):
        seq = super().__call__(stream, *index)
        type(self).used.append((Stream(stream).name, index, seq))
        return seq


def _assert_distinct(used):
    assert used
    states = {}
    for name, index, seq in used:
        key = tuple(seq.generate_state(4).tolist())
        states.setdefault(key, set()).add((name, index))
    clashes = {k: v for k, v in states.items() if len(v) > 1}
    assert not clashes, f"streams shared by different uses: {list(clashes.values())}"


def test_every_stream_of_a_fit_and_estimate_is_distinct(monkeypatch, rng):
    import fastmi.gmm._estimator as est_module

    monkeypatch.setattr(est_module, "Streams", _Recording)
    n = 1200
    x = rng.standard_normal(n)
    y = 0.6 * x + rng.standard_normal(n)
    z = x + rng.standard_normal(n)
    labels = rng.integers(0, 5, n)  # five classes: class c's streams must not meet replicate c's
    xc = x + labels
    for fit in (lambda: fastmi.GMMMI(n_bootstrap=6, mc_samples=2000, max_components=3, rng=0).fit(x, y),
                lambda: fastmi.GMMMI(n_bootstrap=6, mc_samples=2000, max_components=3, rng=0,
                                     y_type="categorical").fit(xc, labels),
                lambda: fastmi.GMMMI(n_bootstrap=6, mc_samples=2000, max_components=2, rng=0).fit(x, y, z)):
        _Recording.used = []
        est = fit()
        est.estimate()
        if est.y_type == "continuous" and "z" not in est.dims_:
            est.entropy()
            est.kl_divergence()
            est.kl_divergence("reverse")
        kinds = {name for name, _, _ in _Recording.used}
        assert {"CV_FOLDS", "INIT", "BOOTSTRAP"} <= kinds
        _assert_distinct(_Recording.used)


def test_the_distinctness_check_catches_the_old_collision():
    """The old addresses: class 2's fold stream (2, 0) was bootstrap replicate 0's (2, b=0)."""
    root = np.random.SeedSequence(7)

    def old(*key):
        return np.random.SeedSequence(root.entropy, spawn_key=tuple(key))

    with pytest.raises(AssertionError, match="streams shared"):
        _assert_distinct([("CV_FOLDS", (2,), old(2, 0)), ("BOOTSTRAP", (0,), old(2, 0))])


# --------------------------------------------------------------------------- layout
def _import_graph():
    """Module-level (import-time) imports between fastmi's modules."""
    modules = {_module_name(p): p for p in _sources()}
    extensions = {"fastmi." + p.name.split(".")[0] for p in PACKAGE.iterdir() if p.suffix in (".so", ".pyd")}
    graph = {m: set() for m in modules}
    for mod, path in modules.items():
        package = mod if path.name == "__init__.py" else mod.rpartition(".")[0]
        for node in ast.parse(path.read_text()).body:  # top level only: lazy imports are deliberate
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = package
                for _ in range(node.level - 1):
                    base = base.rpartition(".")[0]
                base = (base + "." + node.module if node.module else base) if node.level else node.module
                targets = [base + "." + a.name if base + "." + a.name in modules.keys() | extensions else base
                           for a in node.names]
            else:
                continue
            graph[mod] |= {t for t in targets if t in modules and t != mod}
    return graph


def _cycle(graph):
    state = {}

    def visit(m, path):
        state[m] = 1
        for n in sorted(graph[m]):
            if n == "fastmi":  # the package root re-exports; submodules never import it
                continue
            if state.get(n) == 1:
                return path + [m, n]
            if n not in state:
                found = visit(n, path + [m])
                if found:
                    return found
        state[m] = 2
        return None

    for m in sorted(graph):
        if m not in state:
            found = visit(m, [])
            if found:
                return found
    return None


def test_no_import_cycle_among_fastmi_modules():
    graph = _import_graph()
    assert "fastmi.gmm._xp" in graph and graph["fastmi.gmm._xp"] >= {"fastmi.gmm._bootstrap"}
    assert not any("fastmi" == t for m, ts in graph.items() for t in ts if m != "fastmi"), \
        "a submodule imports the package root"
    assert _cycle(graph) is None, f"import cycle: {' -> '.join(_cycle(graph))}"
    # the CPU path does not depend on the array-namespace (GPU) module
    reach, todo = set(), ["fastmi.gmm._estimator"]
    while todo:
        m = todo.pop()
        for n in graph[m] - reach:
            reach.add(n)
            todo.append(n)
    assert "fastmi.gmm._xp" not in reach


def test_the_cycle_check_finds_a_cycle():
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert _cycle({"a": {"b"}, "b": set()}) is None
