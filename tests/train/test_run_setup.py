"""harp.train.run_setup's logger and precision fallbacks: W&B without a login goes offline with one warning; no bf16 on a CPU."""

import importlib.util
import os

import pytest

from harp.train import run_setup


@pytest.fixture
def no_wandb_env(monkeypatch, tmp_path):
    for key in ("WANDB_API_KEY", "WANDB_MODE"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("NETRC", str(tmp_path / "netrc"))  # no `wandb login` on record


def _wandb_installed(monkeypatch, installed: bool):
    real = importlib.util.find_spec
    monkeypatch.setattr(
        run_setup.importlib.util,
        "find_spec",
        lambda name, *a: (object() if installed else None) if name == "wandb" else real(name, *a),
    )


def test_wandb_without_login_goes_offline_with_one_warning(no_wandb_env, monkeypatch, capsys):
    _wandb_installed(monkeypatch, True)
    assert run_setup.resolve_report_to(["tensorboard", "wandb"]) == ["tensorboard", "wandb"]
    assert os.environ["WANDB_MODE"] == "offline"
    err = capsys.readouterr().err
    assert err.count("warning") == 1 and "offline" in err


def test_wandb_with_a_key_or_netrc_login_stays_online(no_wandb_env, monkeypatch, tmp_path, capsys):
    _wandb_installed(monkeypatch, True)
    (tmp_path / "netrc").write_text("machine api.wandb.ai\n  login user\n  password abc\n")
    assert run_setup.resolve_report_to(["wandb"]) == ["wandb"]
    assert "WANDB_MODE" not in os.environ and capsys.readouterr().err == ""
    monkeypatch.setenv("NETRC", str(tmp_path / "none"))
    monkeypatch.setenv("WANDB_API_KEY", "k")
    assert run_setup.resolve_report_to(["wandb"]) == ["wandb"] and "WANDB_MODE" not in os.environ


def test_wandb_not_installed_is_dropped_with_one_warning(no_wandb_env, monkeypatch, capsys):
    _wandb_installed(monkeypatch, False)
    assert run_setup.resolve_report_to(["tensorboard", "wandb"]) == ["tensorboard"]
    assert run_setup.resolve_report_to(["wandb"]) == ["none"]
    assert capsys.readouterr().err.count("wandb is not installed") == 2  # once per call


def test_bf16_falls_back_to_fp32_without_a_bf16_gpu(monkeypatch, capsys):
    import harp.models.load as load

    monkeypatch.setattr(load, "bf16_available", lambda: False)
    assert run_setup.use_bf16(True) is False and "fp32" in capsys.readouterr().err
    assert run_setup.use_bf16(False) is False and capsys.readouterr().err == ""
    monkeypatch.setattr(load, "bf16_available", lambda: True)
    assert run_setup.use_bf16(True) is True


def test_peft_s_deprecated_checkpointing_alias_warns_nothing_during_a_run_only():
    """peft/TRL read `model.is_gradient_checkpointing`; transformers 5 warns on it, every run."""
    import warnings

    alias = "`is_gradient_checkpointing` is deprecated and will be removed in v6."
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with run_setup.quiet_library_deprecations():
            warnings.warn(alias, FutureWarning)
            warnings.warn("some other deprecation", FutureWarning)
        warnings.warn(alias, FutureWarning)  # outside a run, importing HARP changed no filter
    assert [str(w.message) for w in caught] == ["some other deprecation", alias]
