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
