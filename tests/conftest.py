import numpy as np
import pytest


@pytest.fixture
def rng():
    """A fresh, seeded generator per test (never global state)."""
    return np.random.default_rng(20231025)
