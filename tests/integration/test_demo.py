"""`harp demo`'s orchestration: one line per stage, finished stages skipped, --force redoes them.

The real stages train models (that is `make demo`, ~minutes); here they are replaced by tiny
commands that write their outputs, so the skipping logic is tested in a second.
"""

import sys

from harp.recipes import demo
from harp.recipes.demo import Stage


def fake_stages(fail=None, model_file=None):
    def stage(name, outputs, inputs=()):
        code = "import pathlib, sys\n" + "".join(
            f"pathlib.Path({out!r}).parent.mkdir(parents=True, exist_ok=True); pathlib.Path({out!r}).write_text('x')\n"
            for out in outputs
        )
        if name == fail:
            code = "import sys; print('boom: something broke'); sys.exit(3)"
        return Stage(name, f"the {name} stage", [sys.executable, "-c", code], outputs, inputs)

    return [
        stage("data", ["actions.jsonl"]),
        stage("sft", ["outputs/sft/final/x"], (model_file,) if model_file else ()),
        stage("report", ["results/report.md"]),
    ]


def run(tmp_path, capsys, monkeypatch, force=False, fail=None, model_file=None):
    monkeypatch.setattr(demo, "stages", lambda *args: fake_stages(fail, model_file))
    code = demo.run_demo(force=force, workdir=tmp_path / "demo")
    out = capsys.readouterr()
    return code, out.out.splitlines(), out.err


def stage_lines(lines):
    return [line for line in lines if line.startswith("[")]


def test_first_run_runs_every_stage_then_skips_them(tmp_path, capsys, monkeypatch):
    code, lines, _ = run(tmp_path, capsys, monkeypatch)
    assert code == 0
    assert [line.split()[1] for line in stage_lines(lines)] == ["data", "sft", "report"]
    assert all("skipped" not in line and line.split()[2].endswith("s") for line in stage_lines(lines))
    assert lines[1].startswith("regime: a teacher with a blind spot")  # the demo names its regime
    assert (
        any(line.startswith("total ") for line in lines)
        and lines[-1] == f"report: {tmp_path / 'demo' / 'results' / 'report.md'}"
    )

    code, lines, _ = run(tmp_path, capsys, monkeypatch)
    assert code == 0 and all("skipped" in line for line in stage_lines(lines))


def test_a_missing_output_reruns_that_stage_and_every_later_one(tmp_path, capsys, monkeypatch):
    run(tmp_path, capsys, monkeypatch)
    (tmp_path / "demo" / "outputs" / "sft" / "final" / "x").unlink()
    _, lines, _ = run(tmp_path, capsys, monkeypatch)
    skipped = ["skipped" in line for line in stage_lines(lines)]
    assert skipped == [True, False, False]


def test_another_input_file_reruns_its_stage_and_every_later_one(tmp_path, capsys, monkeypatch):
    """A newly shipped grounded model (a file outside the work dir) is not the one the stamp saw."""
    weights = tmp_path / "shipped" / "model.safetensors"
    weights.parent.mkdir()
    weights.write_bytes(b"model one")
    run(tmp_path, capsys, monkeypatch, model_file=weights)
    _, lines, _ = run(tmp_path, capsys, monkeypatch, model_file=weights)
    assert all("skipped" in line for line in stage_lines(lines))
    weights.write_bytes(b"model two")
    _, lines, _ = run(tmp_path, capsys, monkeypatch, model_file=weights)
    assert ["skipped" in line for line in stage_lines(lines)] == [True, False, False]


def test_other_code_reruns_every_stage(tmp_path, capsys, monkeypatch):
    """A stamp made by other HARP code is not reused: results would come from code no longer there."""
    run(tmp_path, capsys, monkeypatch)
    monkeypatch.setattr(demo, "code_fingerprint", lambda: "other code")
    _, lines, _ = run(tmp_path, capsys, monkeypatch)
    assert not any("skipped" in line for line in stage_lines(lines))
    _, lines, _ = run(tmp_path, capsys, monkeypatch)
    assert all("skipped" in line for line in stage_lines(lines))


def test_the_code_fingerprint_reads_every_file_of_the_folders(tmp_path, monkeypatch):
    monkeypatch.setattr(demo, "ROOT", tmp_path)
    package = tmp_path / "harp"
    (package / "__pycache__").mkdir(parents=True)
    (package / "a.py").write_text("x = 1\n")
    first = demo.code_fingerprint((package,))
    (package / "__pycache__" / "a.cpython-312.pyc").write_bytes(b"cache")
    assert demo.code_fingerprint((package,)) == first  # caches are not code
    (package / "domain.pddl").write_text("(define)")
    second = demo.code_fingerprint((package,))
    (package / "a.py").write_text("x = 2\n")
    assert len({first, second, demo.code_fingerprint((package,))}) == 3


def test_the_training_stages_read_their_config_files():
    """An edited configs/demo/sft.yaml or grpo.yaml reruns its stage (the command names only the path)."""
    by_name = {stage.name: stage for stage in demo.stages()}
    assert by_name["sft"].inputs == (demo.ROOT / "configs" / "demo" / "sft.yaml",)
    assert by_name["grpo"].inputs == (demo.ROOT / "configs" / "demo" / "grpo.yaml",)


def test_the_model_stage_reads_the_shipped_weights_or_the_rebuilt_ones(tmp_path):
    from harp.models.grounded import GROUNDED_DIR

    (model,) = [stage for stage in demo.stages() if stage.name == "model"]
    assert model.inputs == (GROUNDED_DIR / "model.safetensors",)
    (rebuilt,) = [stage for stage in demo.stages(grounded=tmp_path) if stage.name == "model"]
    assert rebuilt.inputs == (tmp_path / "model.safetensors",)


def test_force_redoes_everything(tmp_path, capsys, monkeypatch):
    run(tmp_path, capsys, monkeypatch)
    (tmp_path / "demo" / "stale.txt").write_text("old")
    _, lines, _ = run(tmp_path, capsys, monkeypatch, force=True)
    assert not any("skipped" in line for line in stage_lines(lines))
    assert not (tmp_path / "demo" / "stale.txt").exists()


def test_a_failing_stage_stops_the_demo_and_shows_its_log(tmp_path, capsys, monkeypatch):
    code, lines, err = run(tmp_path, capsys, monkeypatch, fail="sft")
    assert code == 1
    assert "FAILED" in stage_lines(lines)[-1] and "sft" in stage_lines(lines)[-1]
    assert len(stage_lines(lines)) == 2  # report never started
    assert "boom: something broke" in err and "logs/sft.log" in err


def test_real_stages_use_the_guides_commands():
    names = [stage.name for stage in demo.stages()]
    assert names == ["data", "split", "model", "sft", "negatives", "grpo", "evaluate", "report"]
    commands = {stage.name: " ".join(stage.command) for stage in demo.stages()}
    assert "--num-scenes 500" in commands["data"]
    assert (
        "--label-noise 0.6 --label-noise-kinds wrong_table" in commands["data"] and "--label-noise 0.6" in demo.REGIME
    )
    assert "scripts/train_sft.py --config" in commands["sft"] and "configs/demo/sft.yaml" in commands["sft"]
    assert "--model_path outputs/sft/final outputs/grpo/final" in commands["evaluate"]


def test_kind_lines_put_each_models_completion_per_task_kind_side_by_side():
    def model(label, completions):
        return {
            "label": label,
            "by_task_kind": {kind: {"num_samples": n, "task_completion": c} for kind, (n, c) in completions.items()},
        }

    details = {
        "models": [
            model("sft/final", {"1 object, source not named": (21, 0.619), "2 objects, source named": (23, 1.0)}),
            model("grpo/final", {"1 object, source not named": (21, 0.952)}),
        ]
    }
    lines = demo.kind_lines(details)
    assert lines[0].split() == ["task", "completion", "by", "task", "kind", "sft/final", "grpo/final"]
    assert lines[1].split()[-2:] == ["0.6190", "0.9520"] and "(n = 21)" in lines[1]
    assert lines[2].split()[-2:] == ["1.0000", "-"]  # a kind one model never met
