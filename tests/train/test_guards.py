"""harp.train.guards.FiniteGuard without a training run: ZeRO-3's sharded weights, and one message for all processes.
(Runs that turn NaN: tests/train/test_hardening.py; under ZeRO-3 on two processes: tests/integration/test_deepspeed.py.)"""

from types import SimpleNamespace

import pytest
import torch

from harp.train.guards import FiniteGuard, NonFiniteTraining


def zero3_parameter(shard: torch.Tensor) -> torch.nn.Parameter:
    """A weight as ZeRO-3 leaves it: an empty placeholder, this process's part in `ds_tensor`."""
    param = torch.nn.Parameter(torch.empty(0))
    param.ds_tensor = shard
    return param


def check(params, step=3):
    guard = FiniteGuard()
    guard.on_train_begin(None, None, None, model=SimpleNamespace(parameters=lambda: params))
    guard.on_step_end(SimpleNamespace(device=torch.device("cpu")), SimpleNamespace(global_step=step), None)


def test_a_nan_in_a_zero3_shard_stops_the_run():
    check([zero3_parameter(torch.ones(4))])  # finite: goes on
    with pytest.raises(NonFiniteTraining, match="weights became NaN or infinite at step 3"):
        check([zero3_parameter(torch.ones(4)), zero3_parameter(torch.tensor([1.0, float("nan")]))])


def test_processes_other_than_the_main_one_stop_without_repeating_the_message(monkeypatch, capsys):
    monkeypatch.setenv("RANK", "1")
    monkeypatch.setenv("WORLD_SIZE", "2")
    with pytest.raises(SystemExit) as stop:
        check([torch.nn.Parameter(torch.tensor([float("inf")]))])
    assert stop.value.code == 1 and capsys.readouterr().err == ""
