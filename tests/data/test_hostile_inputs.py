"""Inputs the model's processor refuses, bad output paths and build flags that did nothing (issue 23,
items 6, 9, 10, 15, 16 and 18): each is one line naming the record, file or flag, before any work,
and leaves no debris."""

import json
from pathlib import Path

import pytest
from PIL import Image

from harp.data.images import BadImage, check_image, image_size, open_image
from harp.data.records import load_image, read_records
from harp.errors import DataError

PLAN = ["Navigate(Table)", "Pick(Apple)", "Navigate(Basket)", "Place(Basket)"]


def record(**extra):
    return {"image": "a_0.png", "task": "Put the apple into the basket", "plan": PLAN, **extra}


def write(path, *rows):
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))
    return path


def run(command, argv, capsys):
    """(exit code, stderr lines) of a command's `main`, as `harp ...` runs it."""
    code = command.main("harp", argv)
    return code, capsys.readouterr().err.strip().splitlines()


# ------------------------------------------------------------------ item 6: what the processor refuses


@pytest.mark.parametrize(
    "key, token",
    [("task", "<|image_pad|>"), ("task", "<|vision_start|>"), ("task", "<|im_end|>"), ("plan", "<|video_pad|>")],
    ids=["task-image_pad", "task-vision_start", "task-im_end", "plan-video_pad"],
)
def test_a_processor_token_in_a_task_or_plan_is_one_line_naming_the_record(tmp_path, key, token):
    bad = record(task=f"Put the {token} away") if key == "task" else record(plan=["Navigate(Table)", f"Pick({token})"])
    path = write(tmp_path / "r.jsonl", record(), bad)
    with pytest.raises(DataError) as caught:
        read_records(path)
    assert str(caught.value) == f"{path}:2: '{key}' holds {token}, a special token of the model's processor"


def test_the_refused_tokens_are_the_tiny_tokenizer_s_special_tokens():
    from harp.data.records import PROCESSOR_TOKENS
    from harp.models.tiny import SPECIAL_TOKENS

    assert SPECIAL_TOKENS == list(PROCESSOR_TOKENS)  # one list: the reader refuses what the processor reads


def test_an_image_over_200_to_1_is_one_line_naming_the_record(tmp_path):
    Image.new("RGB", (5000, 1)).save(tmp_path / "strip_0.png")
    Image.new("RGB", (200, 1)).save(tmp_path / "edge_0.png")  # 200:1 is what the processor still takes
    path = write(tmp_path / "r.jsonl", record(image="edge_0.png"), record(image="strip_0.png"))
    edge, strip = read_records(path)
    assert load_image(edge).size == (200, 1)
    expected = "an aspect ratio over 200:1 (the model's processor refuses it)"
    with pytest.raises(DataError) as caught:  # evaluate, GRPO and negatives open images so
        load_image(strip)
    message = str(caught.value)
    assert message.startswith(f"{path}:2: image ") and "5000x1 pixels" in message and expected in message
    with pytest.raises(DataError, match=r"r\.jsonl:2: image .*5000x1 pixels, an aspect ratio over 200:1"):
        image_size(strip.image_path, f"{path}:2")  # SFT reads the size only, to count tokens
    with pytest.raises(DataError, match="image: 1x5000 pixels"):
        open_image(Image.new("RGB", (1, 5000)))  # Planner.plan(a PIL image, ...)
    with pytest.raises(BadImage, match="5000x1 pixels, an aspect ratio over 200:1"):
        check_image(tmp_path / "strip_0.png")  # the teacher build rejects it as bad_image


def test_evaluate_refuses_such_an_image_before_any_model_loads(tmp_path):
    from harp.eval.evaluate import load_test_records
    from harp.plan import load_domain

    Image.new("RGB", (1, 5000)).save(tmp_path / "tall_0.png")
    path = write(tmp_path / "test.jsonl", record(image="tall_0.png"))
    with pytest.raises(DataError, match=r"test\.jsonl:1: image .*1x5000 pixels"):
        load_test_records(path, load_domain("navigate_pick_place"))


def test_the_teacher_check_refuses_processor_tokens():
    from harp.data.build import check_plan, parse_task_answer
    from harp.plan import load_domain

    with pytest.raises(ValueError, match=r"'task' holds <\|image_pad\|>"):
        parse_task_answer(json.dumps({"task": "Put the <|image_pad|> into the basket"}))
    check = check_plan(
        ["Navigate(Table)", "Pick(<|vision_start|>)", "Navigate(Basket)", "Place(Basket)"],
        load_domain("navigate_pick_place"),
    )
    assert check.reason == "plan_format" and "<|vision_start|>" in check.detail


@pytest.mark.parametrize(
    "task, message",
    [
        ("Put the <|image_pad|> away", "task: holds <|image_pad|>, a special token of the model's processor"),
        ("Put the \udc80 away", "task: is not valid Unicode (a lone surrogate)"),  # item 10: bytes of no encoding
    ],
    ids=["token", "surrogate"],
)
def test_predict_refuses_the_task_before_the_model_loads(tmp_path, capsys, task, message):
    from harp.eval.cli import PREDICT

    Image.new("RGB", (32, 32)).save(tmp_path / "a_0.png")
    code, err = run(
        PREDICT,
        ["--model_path", str(tmp_path / "no-model"), "--image", str(tmp_path / "a_0.png"), "--task", task],
        capsys,
    )
    assert code == 1 and err == [f"harp: error: {message}"]


def test_planner_refuses_such_a_task_and_image_in_one_line():
    from harp.eval.predict import Planner

    planner = object.__new__(Planner)  # no model needed: task and image are checked first
    with pytest.raises(DataError, match=r"task: holds <\|vision_start\|>"):
        planner.plan_batch([Image.new("RGB", (32, 32))], ["<|vision_start|>"])
    with pytest.raises(DataError, match="5000x1 pixels"):
        planner.plan_batch([Image.new("RGB", (5000, 1))], ["Put the apple into the basket"])


# --------------------------------------------------------------- item 9: output paths, before any work


@pytest.mark.parametrize("bad", ["empty", "below-a-file", "actions-is-a-folder", "processed-is-a-file"])
def test_build_refuses_an_output_dir_it_cannot_write_before_rendering(tmp_path, monkeypatch, capsys, bad):
    from harp.data.cli import BUILD

    monkeypatch.chdir(tmp_path)
    Path("afile").write_text("keep")
    out = {"empty": "", "below-a-file": "afile/out", "actions-is-a-folder": "out", "processed-is-a-file": "out"}[bad]
    if bad == "actions-is-a-folder":
        Path("out/actions.jsonl").mkdir(parents=True)
    if bad == "processed-is-a-file":
        Path("out").mkdir()
        Path("out/processed").write_text("")
    code, err = run(BUILD, ["--source", "synthetic", "--num-scenes", "2", "--quiet", "--output-dir", out], capsys)
    assert code == 1 and len(err) == 1 and err[0].startswith("harp: error: --output-dir: ")
    assert not Path("bdv2").exists() and sorted(p.name for p in tmp_path.rglob("*") if p.is_file()) in (
        ["afile"],
        ["afile", "processed"],
    )  # nothing written, nothing left beside
    assert Path("afile").read_text() == "keep"


def test_build_refuses_an_images_dir_that_is_a_file(tmp_path, monkeypatch, capsys):
    from harp.data.cli import BUILD

    monkeypatch.chdir(tmp_path)
    Path("bdv2").write_text("")
    code, err = run(BUILD, ["--source", "synthetic", "--num-scenes", "2", "--quiet", "--images-dir", "bdv2"], capsys)
    assert code == 1 and err == ["harp: error: --images-dir: bdv2 is a file, not a folder"]
    assert not Path("actions.jsonl").exists()


def test_the_teacher_build_checks_its_output_dir_before_the_key(tmp_path, monkeypatch, capsys):
    from harp.data.cli import BUILD

    monkeypatch.chdir(tmp_path)
    (tmp_path / "bdv2").mkdir()
    Path("afile").write_text("")
    code, err = run(BUILD, ["--output-dir", "afile/out", "--base-url", "http://127.0.0.1:9/v1"], capsys)
    assert code == 1 and len(err) == 1 and "--output-dir: " in err[0] and "afile is a file" in err[0]


def test_a_failed_write_leaves_no_temporary_file(tmp_path):
    from harp.data.records import write_records

    def records():
        yield record()
        raise DataError("stop")  # a failure mid-write, as a full disk or Ctrl-C

    (tmp_path / "out.jsonl").write_text("old\n")
    with pytest.raises(DataError):
        write_records(tmp_path / "out.jsonl", records())
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.jsonl"]
    assert (tmp_path / "out.jsonl").read_text() == "old\n"


# -------------------------------------------------------------------- items 15, 16, 18: build flags


def test_synthetic_build_for_a_domain_it_cannot_render_is_one_line(tmp_path, monkeypatch, capsys):
    from harp.data.cli import BUILD

    monkeypatch.chdir(tmp_path)
    code, err = run(BUILD, ["--source", "synthetic", "--domain", "alfred", "--num-scenes", "1", "--quiet"], capsys)
    assert code == 1 and err == [
        "harp: error: --domain alfred: the synthetic source renders tabletop scenes for "
        "drawers, navigate_pick_place only (for ALFRED plans: harp data import-alfred)"
    ]
    assert not list(tmp_path.iterdir())
    assert run(BUILD, ["--source", "synthetic", "--domain", "drawers", "--num-scenes", "1", "--quiet"], capsys)[0] == 0


def test_image_size_has_an_upper_bound(tmp_path, monkeypatch, capsys):
    from harp.data import synthetic, world
    from harp.data.cli import BUILD

    def no_render(*args):
        raise AssertionError("rendered a 100000-pixel image")

    monkeypatch.setattr(world, "render", no_render)
    with pytest.raises(SystemExit) as caught:
        BUILD.main("data_build.py", ["--source", "synthetic", "--image-size", "100000"])
    assert (
        caught.value.code == 2 and "argument --image-size: must be at most 6324, got 100000" in capsys.readouterr().err
    )
    with pytest.raises(DataError, match="--image-size must be between 32 and 6324, got 100000"):
        synthetic.build_synthetic(
            1, images_dir=tmp_path / "img", output_dir=tmp_path, image_size=100_000, progress=False
        )


def test_label_noise_kinds_without_label_noise_is_refused(tmp_path, monkeypatch, capsys):
    from harp.data.cli import BUILD

    monkeypatch.chdir(tmp_path)
    code, err = run(
        BUILD, ["--source", "synthetic", "--num-scenes", "1", "--quiet", "--label-noise-kinds", "wrong_table"], capsys
    )
    assert code == 1 and err == [
        "harp: error: --label-noise-kinds: give --label-noise P too (the share of plans given a mistake)"
    ]
    assert not Path("actions.jsonl").exists()


# ------------------------------------------------------ a teacher's lone surrogate (item 10, writers)


@pytest.mark.parametrize(
    "replies, kept",
    [
        (
            lambda f: [f.task_answer(), f.answer(json.dumps({"reasoning": "think \ud800", "plan": f.GOOD_PLAN}))],
            "actions",
        ),
        (lambda f: [f.answer("no task here \ud800")], "rejected"),  # the raw answer is kept for inspection
    ],
    ids=["escaped-in-the-reasoning", "raw-in-the-answer"],
)
def test_a_teacher_answer_with_a_lone_surrogate_is_kept_readable(tmp_path, fake_teacher, fakes, replies, kept):
    from harp.data.build import TeacherOptions, build_from_teacher
    from harp.data.teacher import TeacherClient

    fakes.write_test_image(tmp_path / "bdv2" / "a_0.png", 0)
    server = fake_teacher(fakes.scripted(replies(fakes)))
    options = TeacherOptions(
        images_dir=str(tmp_path / "bdv2"),
        output_dir=str(tmp_path / "out"),
        prompts_dir=str(Path(__file__).resolve().parents[2] / "prompts"),
        concurrency=1,
    )
    with TeacherClient(server.url, fakes.SECRET_KEY, timeout=5.0, max_retries=0) as client:
        summary = build_from_teacher(options, client=client, progress=False)
    assert summary.accepted == (kept == "actions")
    [line] = read_records(tmp_path / "out" / f"{kept}.jsonl", required=())
    assert "\ufffd" in json.dumps(line, ensure_ascii=False)
