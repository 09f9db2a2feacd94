"""Fixtures for the integration tests (the tiny model is tests/conftest.py's `tiny_model_dir`)."""

import pytest


@pytest.fixture(autouse=True, scope="module")
def one_torch_thread():
    """The tiny model runs fastest on one thread (a second one only adds contention); restored after."""
    import torch

    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)
