"""`harp model pretrain`'s bytes under pinned CPU kernels and threads, the record of every run of a
build, and `--verify` (harp.models.reproducible, harp.recipes.verify)."""

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from harp.cli import main
from harp.models import grounded, reproducible
from harp.recipes import pretrain
from harp.recipes.verify import TOLERANCE, verify

ROOT = Path(__file__).resolve().parents[2]
OVERRIDES = [
    "training.max_steps=3",
    "training.per_device_train_batch_size=4",
    "training.save_steps=2",
    "training.warmup_steps=1",
    "training.report_to=[none]",
]
SMOKE = ["--num-scenes", "6", *[arg for override in OVERRIDES for arg in ("--set", override)]]


def fake_environment(**changes):
    return {"torch": "2.14.1", "torch_cpu_capability": "AVX2", "threads": 1, **changes}


def test_a_fresh_build_is_one_run_and_a_resumed_one_lists_each_run(tmp_path, monkeypatch):
    monkeypatch.setattr(reproducible, "environment", fake_environment)
    runs = reproducible.start_invocation(tmp_path, {})
    assert len(runs) == 1 and runs[0]["progress"] == {} and runs[0]["seconds"] is None
    started = time.time() - 100
    reproducible.finish_invocation(tmp_path, runs, started)
    assert json.loads((tmp_path / reproducible.LOG).read_text())["seconds"] == 100
    assert reproducible.total_seconds(runs) == 100 and reproducible.mixed_settings(runs) == []
    # Killed: the next run finds an unfinished entry and counts it up to the last file it wrote.
    runs = reproducible.start_invocation(tmp_path, {"lookup": 250})
    runs[-1]["started"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() - 60))
    reproducible.write_log(tmp_path, runs)
    (tmp_path / "lookup_6").mkdir()
    (tmp_path / "lookup_6" / "checkpoint-500").write_text("")
    os.utime(tmp_path / "lookup_6" / "checkpoint-500", (time.time() - 20, time.time() - 20))
    monkeypatch.setattr(reproducible, "environment", lambda: fake_environment(torch_cpu_capability="AVX512"))
    runs = reproducible.start_invocation(tmp_path, {"lookup": 500})
    assert [run["finished"] for run in runs] == [True, False, False]
    assert 39 <= runs[1]["seconds"] <= 41 and runs[2]["progress"] == {"lookup": 500}
    assert reproducible.mixed_settings(runs) == ["torch_cpu_capability AVX2 -> AVX512"]


def test_work_left_by_an_unrecorded_run_makes_the_build_time_and_settings_unknown(tmp_path, monkeypatch):
    monkeypatch.setattr(reproducible, "environment", fake_environment)
    runs = reproducible.start_invocation(tmp_path, {"base": 0, "lookup": 1500})
    assert runs[0]["environment"] is None and runs[0]["seconds"] is None
    assert reproducible.total_seconds(runs) is None
    assert reproducible.mixed_settings(runs) == ["unknown (an earlier run kept no record)"]


def test_a_spoilt_record_of_runs_is_one_line_naming_its_file_and_line(tmp_path):
    from harp.errors import DataError

    (tmp_path / reproducible.LOG).write_text('{"started": null}\n{"seconds": 1')
    with pytest.raises(DataError, match=f"{reproducible.LOG}, line 2: not a record of a run"):
        reproducible.start_invocation(tmp_path, {})


def test_the_pins_hold_while_the_build_runs_then_the_users_settings_come_back(monkeypatch):
    user = {name: value for name, value in os.environ.items() if name not in reproducible.PINNED}
    monkeypatch.setattr(os, "environ", {**user, "OMP_NUM_THREADS": "4"})
    monkeypatch.setattr(reproducible, "_cpuinfo", lambda field: "fma avx avx2")
    monkeypatch.delitem(
        sys.modules, "torch", raising=False
    )  # as in `harp model pretrain`, where nothing has loaded it yet
    with reproducible.pinned_numerics() as overridden:
        assert overridden == ["OMP_NUM_THREADS"]
        assert {name: os.environ[name] for name in reproducible.PINNED} == reproducible.PINNED
    assert os.environ == {**user, "OMP_NUM_THREADS": "4"}
    monkeypatch.setattr(reproducible, "_cpuinfo", lambda field: None)  # no AVX2 (or not Linux)
    with reproducible.pinned_numerics():
        assert "ATEN_CPU_CAPABILITY" not in os.environ and os.environ["OMP_NUM_THREADS"] == "1"


def test_with_torch_loaded_it_is_too_late_to_pin_and_nothing_is_set(monkeypatch):
    import torch  # noqa: F401

    monkeypatch.setattr(os, "environ", {})
    with reproducible.pinned_numerics() as overridden:
        assert overridden is None and os.environ == {}


def test_the_shipped_manifest_lists_each_run_of_its_build_and_says_what_was_not_recorded():
    manifest = json.loads((grounded.GROUNDED_DIR / pretrain.MANIFEST).read_text())
    runs = manifest["invocations"]
    assert manifest["seconds"] == reproducible.total_seconds(runs)  # all runs together, not the last one's
    assert all(run["environment"] or "not recorded" in run["note"] for run in runs)


def test_verify_flags_and_a_missing_model_are_one_line_errors(tmp_path, capsys):
    assert main(["model", "pretrain", "--demo"]) == 1
    assert "--demo and --against go with --verify" in capsys.readouterr().err
    assert main(["model", "pretrain", "--verify", "--out", str(tmp_path / "none"), "--workdir", str(tmp_path)]) == 1
    assert capsys.readouterr().err.strip().endswith(f"`harp model pretrain --out {tmp_path / 'none'}`")


def test_the_demo_can_start_from_a_rebuilt_grounded_model():
    from harp.recipes.demo import stages

    command = next(stage.command for stage in stages(grounded=Path("/rebuilt")) if stage.name == "model")
    assert command[command.index("--grounded") + 1] == "/rebuilt"
    command = next(stage.command for stage in stages() if stage.name == "model")
    assert command[command.index("--grounded") + 1] == "--out"


def cli_pretrain(out: Path, workdir: Path, env: dict) -> subprocess.CompletedProcess:
    base = {k: v for k, v in os.environ.items() if k not in reproducible.PINNED}
    return subprocess.run(
        [sys.executable, "-m", "harp.cli", "model", "pretrain", "--out", str(out), "--workdir", str(workdir), *SMOKE],
        cwd=ROOT,
        env={**base, **env},
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )


@pytest.mark.slow
@pytest.mark.skipif("avx2" not in (reproducible._cpuinfo("flags") or "").split(), reason="the pins need AVX2")
def test_the_bytes_do_not_follow_the_kernels_or_threads_the_user_asks_for(tmp_path):
    """Unpinned, ATen's default kernels change even the random initial weights, and two threads change
    the training (README); `harp model pretrain` pins both, so these give the bytes of a clean environment."""
    plain = cli_pretrain(tmp_path / "plain", tmp_path / "work_plain", {})
    other = cli_pretrain(
        tmp_path / "other",
        tmp_path / "work_other",
        {
            "ATEN_CPU_CAPABILITY": "default",
            "MKL_CBWR": "COMPATIBLE",
            "ONEDNN_MAX_CPU_ISA": "SSE41",
            "OMP_NUM_THREADS": "2",
        },
    )
    assert plain.returncode == other.returncode == 0, plain.stderr[-2000:] + other.stderr[-2000:]
    assert "note: ATEN_CPU_CAPABILITY, MKL_CBWR, ONEDNN_MAX_CPU_ISA, OMP_NUM_THREADS set to" in other.stderr
    assert pretrain.sha256(tmp_path / "plain" / "model.safetensors") == pretrain.sha256(
        tmp_path / "other" / "model.safetensors"
    )
    manifest = json.loads((tmp_path / "other" / pretrain.MANIFEST).read_text())
    [run] = manifest["invocations"]
    assert run["finished"] and run["progress"] == {} and manifest["seconds"] == run["seconds"]
    environment = run["environment"]
    assert environment["settings"] == reproducible.PINNED and environment["torch_cpu_capability"] == "AVX2"
    assert environment["threads"] == 1 and environment["device"] == "cpu"
    assert {"torch", "transformers", "python", "harp", "cpu", "cpu_flags"} <= environment.keys()


@pytest.mark.slow
def test_verify_passes_a_model_against_itself_and_fails_it_against_the_shipped_one(tmp_path, capsys):
    from harp.models.tiny import MICRO_SIZES

    model = pretrain.pretrain_grounded(
        tmp_path / "model", tmp_path / "work", num_scenes=6, sizes=MICRO_SIZES, overrides=OVERRIDES
    )
    assert verify(model, model, tmp_path / "verify", num_scenes=60)
    out = capsys.readouterr().out
    assert "PASS: the same weights, byte for byte" in out and "image-only, 2 objects, grey picture" in out
    assert not verify(model, grounded.GROUNDED_DIR, tmp_path / "verify", num_scenes=60)
    out = capsys.readouterr().out
    assert "FAIL:" in out and f"differ by more than {TOLERANCE}" in out
    assert "differs" in out.split("weights sha256")[1].splitlines()[0]


def test_the_demo_rows_are_the_demo_tables_task_completion_from_a_fresh_demo(tmp_path, monkeypatch):
    from harp.recipes import verify as verifying
    from harp.recipes.verify import demo_rates

    calls = []

    def fake_run_demo(force, workdir, grounded):
        calls.append((force, grounded))
        (workdir / "results").mkdir(parents=True)
        table = {"sft/final": {"task_completion": 0.86}, "grpo/final": {"task_completion": 0.98}}
        (workdir / "results" / "evaluation_side_by_side.json").write_text(json.dumps(table))
        return 0

    monkeypatch.setattr(verifying, "run_demo", fake_run_demo)
    rates = demo_rates(tmp_path / "model", tmp_path / "verify" / "demo_model")
    assert rates == {"demo, sft/final: task completion": 0.86, "demo, grpo/final: task completion": 0.98}
    assert calls == [(True, (tmp_path / "model").resolve())]  # forced: the model at this path may be new
