"""The one entry-point pattern: every stage is a `harp` subcommand, the guide's scripts run the same
Command, errors are one line under the program's name, and a broken command module is not skipped."""

import pytest

from harp import cli
from harp.entry import run_command
from harp.errors import ConfigError


def test_every_stage_is_a_harp_subcommand(capsys):
    for argv in (
        ["train", "sft", "--help"],
        ["train", "grpo", "--help"],
        ["negatives", "--help"],
        ["data", "build", "--help"],
        ["evaluate", "--help"],
        ["score", "--help"],
    ):
        with pytest.raises(SystemExit) as done:
            cli.main(argv)
        assert done.value.code == 0, argv
        assert capsys.readouterr().out.startswith(f"usage: harp {' '.join(argv[:-1])} "), argv


def test_a_command_module_that_fails_to_import_stops_harp_with_one_line(monkeypatch, capsys):
    monkeypatch.setattr(cli, "COMMAND_MODULES", [*cli.COMMAND_MODULES, "harp.no_such_stage"])
    assert cli.main(["score", "--help"]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("harp: error: cannot load the commands of harp.no_such_stage")


def test_a_harp_error_is_one_line_under_the_full_command_name(tmp_path, capsys):
    assert cli.main(["train", "grpo", "--config", str(tmp_path / "missing.yaml")]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("harp train grpo: error: ") and "config file not found" in err


def test_run_command_turns_errors_and_interrupts_into_exit_codes(capsys):
    def fail(args):
        raise ConfigError("x.yaml: training.lr: unknown key")

    def interrupt(args):
        raise KeyboardInterrupt

    assert run_command("prog", fail, None) == 1
    assert capsys.readouterr().err == "prog: error: x.yaml: training.lr: unknown key\n"
    assert run_command("prog", interrupt, None) == 130
    assert "interrupted" in capsys.readouterr().err
    assert run_command("prog", lambda args: None, None) == 0


def test_a_command_that_succeeded_leaves_the_launch_s_process_group_at_exit_and_one_that_failed_does_not(monkeypatch):
    import atexit

    import harp.processes

    registered = []
    monkeypatch.setattr(atexit, "register", registered.append)
    monkeypatch.setattr(atexit, "unregister", lambda f: registered.remove(f) if f in registered else None)

    def fail(args):
        raise ConfigError("x.yaml: training.lr: unknown key")

    monkeypatch.setattr(harp.processes, "world_size", lambda: 2)  # as under a launcher
    assert run_command("prog", fail, None) == 1 and registered == []  # others may be inside a collective
    assert run_command("prog", lambda args: 2, None) == 2 and registered == []
    assert run_command("prog", lambda args: None, None) == 0 and registered == [harp.processes.finish]
    assert run_command("prog", lambda args: None, None) == 0 and len(registered) == 1  # once per process
    registered.clear()
    monkeypatch.setattr(harp.processes, "world_size", lambda: 1)
    assert run_command("prog", lambda args: None, None) == 0 and registered == []  # no launch, no group


def test_finish_destroys_the_process_group_this_process_joined():
    import torch.distributed as dist

    import harp.processes

    dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{harp.processes.free_port()}", rank=0, world_size=1)
    harp.processes.finish()
    assert not dist.is_initialized()
    harp.processes.finish()  # nothing left to leave: no error
