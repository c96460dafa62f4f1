import numpy as np
import pytest

from abm.learning import load_task


@pytest.fixture(scope="session")
def breast_cancer():
    return load_task("breast_cancer", rng=np.random.default_rng(0))


@pytest.fixture(scope="session")
def digits():
    return load_task("digits", rng=np.random.default_rng(0))


@pytest.fixture(scope="session")
def ratings():
    return load_task("ratings", rng=np.random.default_rng(0), n_samples=20000)
