"""Simulated worlds shared by the test modules (built once per module that asks for them)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from crmlab.simulate import simulate

# test helper modules (worlds.py, analyses/churn_worlds.py) import by name
sys.path.insert(0, str(Path(__file__).parent))


@pytest.fixture(scope="session", autouse=True)
def dataset_cache(tmp_path_factory):
    """The loader's cache (crmlab.io.cache) in a fresh directory, not the user's."""
    import os

    saved = os.environ.get("CRMLAB_CACHE")
    os.environ["CRMLAB_CACHE"] = str(tmp_path_factory.mktemp("crmlab-cache"))
    yield Path(os.environ["CRMLAB_CACHE"])
    if saved is None:
        os.environ.pop("CRMLAB_CACHE", None)
    else:
        os.environ["CRMLAB_CACHE"] = saved


@pytest.fixture(scope="module")
def sample_world():
    """The committed sample's world (sample scale, seed 7)."""
    return simulate("sample", seed=7)


@pytest.fixture(scope="module", params=[1, 2])
def demo_world(request):
    """Demo-scale worlds of seeds 1 and 2 (modules needing one other seed override this)."""
    return simulate("demo", seed=request.param)


@pytest.fixture(scope="session", autouse=True)
def no_shared_results():
    """No results shared between analyses (crmlab.analyses.shared) unless a test asks for it."""
    import os

    saved = os.environ.pop("CRMLAB_SHARED", None)
    yield
    if saved is not None:
        os.environ["CRMLAB_SHARED"] = saved
