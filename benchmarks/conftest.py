"""Shared options for the benchmark suite.

``pytest benchmarks/ --benchmark-only`` runs everything; ``--quick`` keeps only the cases
marked ``quick`` (a subset that finishes in under two minutes on two cores).
"""
import pytest


def pytest_addoption(parser):
    parser.addoption("--quick", action="store_true", default=False,
                     help="run only the quick subset of the benchmarks")


def pytest_configure(config):
    config.addinivalue_line("markers", "quick: part of the --quick benchmark subset")


def pytest_collection_modifyitems(config, items):
    if not config.getoption("--quick"):
        return
    skip = pytest.mark.skip(reason="not in the --quick subset")
    for item in items:
        if "quick" not in item.keywords:
            item.add_marker(skip)


def pytest_collect_file(file_path, parent):
    """Collect ``bench_*.py`` here too (pytest's default ``python_files`` is ``test_*.py``), so
    that ``pytest benchmarks/`` finds the benchmark modules. Files named on the command line
    are already collected by pytest itself and are left alone (no duplicates)."""
    if (file_path.suffix == ".py" and file_path.name.startswith("bench_")
            and not parent.session.isinitpath(file_path)):
        return pytest.Module.from_parent(parent, path=file_path)
    return None


# ``speed_table``: a session-wide ``{group: {implementation: best seconds}}`` that benchmark
# modules may fill (bench_ksg.py does); at the end of the run every group holding a ``fastmi``
# entry is printed with each other implementation's time divided by fastmi's (> 1: fastmi is
# faster). Ratios from one run are comparable; absolute times on a shared machine are not.
_SPEED_TABLE = {}


@pytest.fixture(scope="session")
def speed_table():
    return _SPEED_TABLE


def pytest_terminal_summary(terminalreporter):
    groups = {g: t for g, t in _SPEED_TABLE.items() if "fastmi" in t}
    if not groups:
        return
    terminalreporter.section("speed relative to fastmi (best times)")
    for group, times in groups.items():
        ref = times["fastmi"]
        others = ", ".join(f"{impl} {sec:.4g} s ({sec / ref:.1f}x)"
                           for impl, sec in times.items() if impl != "fastmi")
        terminalreporter.write_line(f"{group}: fastmi {ref:.4g} s; {others}")
