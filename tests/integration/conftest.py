"""Fixtures for the integration tests (the tiny model is tests/conftest.py's `tiny_model_dir`)."""

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))  # the tests' shared helpers: `from launching import ...`


@pytest.fixture(autouse=True, scope="module")
def one_torch_thread():
    """The tiny model runs fastest on one thread (a second one only adds contention); restored after."""
    import torch

    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


@pytest.fixture(scope="session")
def world(tmp_path_factory):
    """The multi-process tests' world (launching.build_world), built once for all of them."""
    from launching import build_world

    return build_world(tmp_path_factory.mktemp("multiprocess"))
