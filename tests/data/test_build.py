"""The teacher build loop against the scripted fake server: what is accepted, what is rejected and why."""

import hashlib
import io
import json
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from harp.data.build import TeacherOptions, build_from_teacher, check_plan
from harp.data.teacher import TeacherClient
from harp.plan import load_domain

REPO = Path(__file__).resolve().parents[2]
DOMAIN = load_domain("navigate_pick_place")


def options(tmp_path, **kwargs):
    return TeacherOptions(
        images_dir=str(tmp_path / "bdv2"),
        output_dir=str(tmp_path / "out"),
        task_model="fake/proposer",
        plan_model="fake/planner",
        concurrency=1,
        prompts_dir=str(REPO / "prompts"),
        **kwargs,
    )


def client(server, fakes, sleeps=None, **kwargs):
    kwargs.setdefault("max_retries", 3)
    kwargs.setdefault("timeout", 5.0)
    return TeacherClient(
        server.url, fakes.SECRET_KEY, backoff=0.01, sleep=(sleeps if sleeps is not None else []).append, **kwargs
    )


def jsonl(path):
    return [json.loads(line) for line in Path(path).read_text().splitlines()] if Path(path).exists() else []


def tree_digest(folder):
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(Path(folder).rglob("*")) if p.is_file()}


def test_scripted_answers_are_accepted_or_rejected_with_reasons(tmp_path, fake_teacher, fakes):
    bdv2 = tmp_path / "bdv2"
    for i in range(6):
        fakes.write_test_image(bdv2 / f"img_{i}_0.png", i)
    (bdv2 / "img_6_0.png").write_bytes(b"")  # zero bytes
    fakes.write_truncated_png(bdv2 / "img_7_0.png")
    fakes.write_bomb_png(bdv2 / "img_8_0.png")
    fakes.write_test_image(bdv2 / "sub" / "deep_9_0.jpg", 9)  # sub-folders and JPEG count too
    fakes.write_test_image(bdv2 / "img_10_1.png", 10)  # not *_0: ignored
    fakes.write_test_image(bdv2 / "synthetic" / "scene_00000_0.png", 11)  # our own renders: ignored
    before = tree_digest(bdv2)

    server = fake_teacher(
        fakes.scripted(
            [
                # img_0: a clean answer, the plan inside a markdown fence -> accepted
                fakes.task_answer(),
                fakes.plan_answer(fenced=True),
                # img_1: plan answer is not JSON -> malformed_answer
                fakes.task_answer(),
                fakes.answer("Sure! Navigate(White Table), Pick(Apple"),
                # img_2: Place before Pick -> invalid_transition
                fakes.task_answer(),
                fakes.plan_answer(["Navigate(White Table)", "Pick(Apple)", "Place(Basket)"]),
                # img_3: 429 with Retry-After, then a 500, then fine -> accepted after 2 retries
                fakes.Reply(429, {"error": {"message": "rate"}}, {"Retry-After": "3"}),
                fakes.task_answer(),
                fakes.Reply(500, "oops"),
                fakes.plan_answer(),
                # img_4: a time-out, then an action outside the domain -> unknown_action
                fakes.Reply(body={}, delay=1.2),
                fakes.task_answer(),
                fakes.plan_answer(["Navigate(Table)", "Grab(Apple)"]),
                # img_5: task proposal without a "task" -> malformed_answer, no plan request
                fakes.answer('{"description": "a table"}'),
                # sub/deep_9 (sorted after bdv2/img_*): a plan that does not parse -> plan_format
                fakes.task_answer(),
                fakes.answer('{"plan": "Navigate(Table Pick(Apple)"}'),
            ]
        )
    )

    sleeps = []
    with client(server, fakes, sleeps, timeout=0.4) as teacher:
        summary = build_from_teacher(options(tmp_path), client=teacher, progress=False)

    out = tmp_path / "out"
    accepted = jsonl(out / "actions.jsonl")
    rejected = {Path(r["image"]).name: r for r in jsonl(out / "rejected.jsonl")}
    assert [Path(r["image"]).name for r in accepted] == ["img_0_0.png", "img_3_0.png"]
    assert accepted[0]["plan"] == fakes.GOOD_PLAN and accepted[0]["task"] == "Put the apple into the basket"
    assert accepted[0]["meta"]["num_objects"] == 1 and accepted[0]["meta"]["source_named"] is False
    assert "reasoning" in accepted[0]["meta"] and accepted[0]["id"] == "img_0"
    assert {name: r["reason"] for name, r in rejected.items()} == {
        "img_1_0.png": "malformed_answer",
        "img_2_0.png": "invalid_transition",
        "img_4_0.png": "unknown_action",
        "img_5_0.png": "malformed_answer",
        "img_6_0.png": "bad_image",
        "img_7_0.png": "bad_image",
        "img_8_0.png": "bad_image",
        "deep_9_0.jpg": "plan_format",
    }
    assert "0 bytes" in rejected["img_6_0.png"]["detail"]
    assert "decompression bomb" in rejected["img_8_0.png"]["detail"] or "too large" in rejected["img_8_0.png"]["detail"]
    assert "Grab" in rejected["img_4_0.png"]["detail"]
    assert summary.accepted == 2 and sum(summary.rejected.values()) == 8
    assert summary.rejected == Counter(
        {"bad_image": 3, "malformed_answer": 2, "invalid_transition": 1, "unknown_action": 1, "plan_format": 1}
    )
    assert summary.retried == 3 and 3.0 in sleeps  # the 429's Retry-After was honoured
    assert summary.tokens_reported and summary.prompt_tokens > 0
    processed = (out / "processed" / "processed_images.txt").read_text().splitlines()
    assert len(processed) == len(set(processed)) == 10
    # The user's images are untouched, and the key is nowhere on disk.
    assert tree_digest(bdv2) == before
    for path in out.rglob("*"):
        if path.is_file():
            assert fakes.SECRET_KEY not in path.read_text()

    # A second run finds everything done: no request, no new line.
    requests = len(server.requests)
    with client(server, fakes) as teacher:
        again = build_from_teacher(options(tmp_path), client=teacher, progress=False)
    assert (again.found, again.already_done, again.accepted) == (10, 10, 0)
    assert len(server.requests) == requests and len(jsonl(out / "actions.jsonl")) == 2


def test_unreachable_teacher_is_retried_on_the_next_run(tmp_path, fake_teacher, fakes):
    for i in range(2):
        fakes.write_test_image(tmp_path / "bdv2" / f"img_{i}_0.png", i)
    down = fake_teacher(lambda payload, n: fakes.Reply(503, "down"))
    with client(down, fakes, max_retries=1) as teacher:
        summary = build_from_teacher(options(tmp_path), client=teacher, progress=False)
    assert summary.rejected == Counter({"gave_up": 2})
    assert not (tmp_path / "out" / "processed" / "processed_images.txt").read_text()

    up = fake_teacher(fakes.smart_handler())
    with client(up, fakes) as teacher:
        summary = build_from_teacher(options(tmp_path), client=teacher, progress=False)
    assert summary.accepted == 2
    assert jsonl(tmp_path / "out" / "rejected.jsonl") == []  # the stale give-ups are gone


def test_a_proposed_task_is_kept_when_planning_fails(tmp_path, fake_teacher, fakes):
    fakes.write_test_image(tmp_path / "bdv2" / "img_0_0.png", 0)
    server = fake_teacher(fakes.scripted([fakes.task_answer("Put the cup into the box")] + [fakes.Reply(503, "")] * 5))
    with client(server, fakes, max_retries=1) as teacher:
        build_from_teacher(options(tmp_path), client=teacher, progress=False)
    server2 = fake_teacher(
        fakes.scripted([fakes.plan_answer(["Navigate(Table)", "Pick(Cup)", "Navigate(Box)", "Place(Box)"])])
    )
    with client(server2, fakes) as teacher:
        build_from_teacher(options(tmp_path), client=teacher, progress=False)
    # the resumed run asked only for the plan, of the task proposed before
    assert [r["payload"]["model"] for r in server2.requests] == ["fake/planner"]
    content = server2.requests[0]["payload"]["messages"][0]["content"]
    assert content[0]["image_url"]["url"].startswith("data:image/png;base64,")
    assert "Put the cup into the box" in content[1]["text"] and "Navigate(location)" in content[1]["text"]
    assert [r["task"] for r in jsonl(tmp_path / "out" / "actions.jsonl")] == ["Put the cup into the box"]
    assert len(jsonl(tmp_path / "out" / "tasks.jsonl")) == 1


def test_refused_key_stops_the_run(tmp_path, fake_teacher, fakes):
    for i in range(3):
        fakes.write_test_image(tmp_path / "bdv2" / f"img_{i}_0.png", i)
    server = fake_teacher(lambda payload, n: fakes.Reply(401, {"error": {"message": "no"}}))
    from harp.data.teacher import TeacherAuthError

    with client(server, fakes) as teacher, pytest.raises(TeacherAuthError):
        build_from_teacher(options(tmp_path), client=teacher, progress=False)
    assert len(server.requests) == 1  # no request for the other images


@pytest.mark.parametrize(
    "plan, reason",
    [
        (["Navigate(Table)", "Pick(Apple)", "Navigate(Basket)", "Place(Basket)"], None),
        ("navigate(the table), pick(apple), navigate(basket), place(basket)", None),  # one line, any case
        (["Navigate(Table)", "Pick(Apple)"], None),  # a pick-up task: its goal is the apple in the hand
        (["Navigate(Table)"], None),  # a search task: its goal is to be at the table
        (["Navigate(Table)", "Pick(Apple)", "Pick(Cup)", "Place(Basket)"], "invalid_transition"),  # hand full
        (["Navigate(Table)", "Fly(Apple)"], "unknown_action"),
        ("Navigate(Table), Pick(Apple", "plan_format"),
    ],
)
def test_check_plan(plan, reason):
    check = check_plan(plan, DOMAIN)
    assert check.reason == reason, check.detail
    if reason is None:  # stored in the canonical form, whatever the teacher's spelling
        expected = (
            plan if isinstance(plan, list) else ["Navigate(Table)", "Pick(Apple)", "Navigate(Basket)", "Place(Basket)"]
        )
        assert check.plan == expected

    else:
        assert check.plan is None and check.detail


def test_check_plan_rejects_a_plan_whose_optimum_is_past_the_search_budget():
    plan = []
    for i in range(6):  # six objects among ten tables: ~10^8 states, the teacher's plan cannot be certified
        plan += [f"Navigate(Table {i})", f"Pick(Thing {i})", f"Navigate(Table {i + 4})", f"Place(Table {i + 4})"]
    assert check_plan(plan, DOMAIN).reason == "too_complex"


def test_without_key_one_line_says_what_to_do(tmp_path):
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)}
    result = subprocess.run(
        [sys.executable, str(REPO / "data_build.py")], cwd=tmp_path, env=env, capture_output=True, text=True
    )
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "OPENROUTER_API_KEY" in lines[0] and "--source synthetic" in lines[0]


def test_unreachable_base_url_is_one_line_at_once_and_never_shows_the_key(tmp_path, fakes):
    import socket
    import time

    with socket.socket() as sock:  # a port nothing listens on
        sock.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{sock.getsockname()[1]}/v1"
    for i in range(3):
        fakes.write_test_image(tmp_path / "bdv2" / f"img_{i}_0.png", i)
    (tmp_path / ".env").write_text(f"OPENROUTER_API_KEY={fakes.SECRET_KEY}\n")
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)}
    start = time.monotonic()
    result = subprocess.run(
        [
            sys.executable,
            str(REPO / "data_build.py"),
            "--base-url",
            url,
            "--quiet",
            "--prompts-dir",
            str(REPO / "prompts"),
        ],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert time.monotonic() - start < 20  # not 6 backed-off attempts per image
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "cannot connect" in lines[0] and "--base-url" in lines[0], result.stderr
    assert fakes.SECRET_KEY not in result.stdout + result.stderr
    assert jsonl(tmp_path / "rejected.jsonl") == []  # nothing recorded as given up: a rerun tries every image


def test_big_images_are_sent_downscaled_and_left_alone_on_disk(tmp_path):
    from PIL import Image

    from harp.data.images import check_image
    from harp.data.teacher import encode_image

    path = tmp_path / "big_0.jpg"
    Image.new("RGB", (3000, 1500), (10, 200, 30)).save(path, format="JPEG")
    before = path.read_bytes()
    checked = check_image(path)
    data, mime = encode_image(checked.image, checked.data, checked.format, max_side=1024)
    with Image.open(io.BytesIO(data)) as sent:
        assert sent.size == (1024, 512) and mime == "image/png"
    small, small_mime = encode_image(checked.image, checked.data, checked.format, max_side=4096)
    assert small == before and small_mime == "image/jpeg"  # small enough: the file as it is
    assert path.read_bytes() == before
