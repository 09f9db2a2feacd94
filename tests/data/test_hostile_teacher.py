"""A careless user and a hostile server (issue 11): wrong URLs, 4xx answers, echoed keys, junk
usage fields, Ctrl-C mid-retry. Each stops in one line or is contained, and loses nothing."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import quote

import pytest

from harp.data.build import TeacherOptions, build_from_teacher
from harp.data.teacher import TeacherClient, TeacherError, TeacherStop
from harp.errors import HarpError

REPO = Path(__file__).resolve().parents[2]


def options(tmp_path, **kwargs):
    return TeacherOptions(
        images_dir=str(tmp_path / "bdv2"),
        output_dir=str(tmp_path / "out"),
        task_model="fake/proposer",
        plan_model="fake/planner",
        concurrency=2,
        prompts_dir=str(REPO / "prompts"),
        **kwargs,
    )


def jsonl(path):
    return [json.loads(line) for line in Path(path).read_text().splitlines()] if Path(path).exists() else []


def images(tmp_path, fakes, count=3):
    for i in range(count):
        fakes.write_test_image(tmp_path / "bdv2" / f"img_{i}_0.png", i)


def build(tmp_path, server, fakes, **client_kwargs):
    client_kwargs.setdefault("max_retries", 2)
    with TeacherClient(
        server.url, fakes.SECRET_KEY, timeout=5.0, backoff=0.01, sleep=lambda s: None, **client_kwargs
    ) as client:
        return build_from_teacher(options(tmp_path), client=client, progress=False)


@pytest.mark.parametrize(
    "status, message",
    [
        (404, "Not Found"),  # --base-url without /v1
        (400, "The model `fake/proposer` does not exist"),  # a 400 not about the image
        (422, "field required: messages"),
        (402, "insufficient credits"),
    ],
)
def test_a_4xx_not_about_the_image_stops_the_run_and_leaves_every_image(tmp_path, fake_teacher, fakes, status, message):
    images(tmp_path, fakes)
    wrong = fake_teacher(lambda payload, n: fakes.Reply(status, {"error": {"message": message}}))
    with pytest.raises(TeacherStop) as caught:
        build(tmp_path, wrong, fakes)
    assert f"HTTP {status}" in str(caught.value) and "\n" not in str(caught.value)
    out = tmp_path / "out"
    assert jsonl(out / "rejected.jsonl") == [] and jsonl(out / "actions.jsonl") == []
    assert (out / "processed" / "processed_images.txt").read_text() == ""
    # the rerun against the right server labels every image
    summary = build(tmp_path, fake_teacher(fakes.smart_handler()), fakes)
    assert summary.accepted == 3 and summary.already_done == 0


def test_a_400_about_the_image_rejects_that_image_only(tmp_path, fake_teacher, fakes):
    images(tmp_path, fakes)

    def handler(payload, n):
        if fakes.image_index(payload) == 1:
            return fakes.Reply(400, {"error": {"message": "Image exceeds the maximum size"}})
        return fakes.smart_handler()(payload, n)

    summary = build(tmp_path, fake_teacher(handler), fakes)
    assert summary.accepted == 2 and dict(summary.rejected) == {"http_error": 1}


def test_wrong_base_url_path_exits_1_with_one_line(tmp_path, fake_teacher, fakes):
    images(tmp_path, fakes)
    server = fake_teacher(lambda payload, n: fakes.Reply(404, '{"detail": "Not Found"}'))
    env = dict(os.environ, OPENROUTER_API_KEY=fakes.SECRET_KEY)
    result = subprocess.run(
        [
            sys.executable,
            str(REPO / "data_build.py"),
            "--base-url",
            server.url.removesuffix("/v1"),
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
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "HTTP 404" in lines[0] and "/v1" in lines[0], result.stderr
    assert fakes.SECRET_KEY not in result.stdout + result.stderr


def _echoes(key):
    return [key, key.lower(), key.upper(), quote(key, safe=""), key[:20], key[-12:], key[5:30]]


def test_an_echoed_key_reaches_no_output_in_any_form(tmp_path, fake_teacher, fakes):
    images(tmp_path, fakes, count=4)
    key = fakes.SECRET_KEY
    echoes = " | ".join(_echoes(key))

    def handler(payload, n):
        index = fakes.image_index(payload)
        if payload["model"] == "fake/proposer":
            return fakes.task_answer(f"Put the apple into the basket {echoes}")
        if index == 0:  # accepted: the key in the reasoning
            return fakes.answer(json.dumps({"reasoning": echoes, "plan": fakes.GOOD_PLAN}))
        if index == 1:  # rejected with the answer kept
            return fakes.answer(f"no plan, but {echoes}")
        if index == 2:  # an error text whose 300-character cut falls inside the key
            return fakes.Reply(413, {"error": {"message": "x" * 290 + key}})
        return fakes.Reply(500, {"error": {"message": echoes}})  # given up, detail kept

    build(tmp_path, fake_teacher(handler), fakes)
    written = "".join(p.read_text() for p in (tmp_path / "out").rglob("*") if p.is_file())
    assert "***" in written
    lowered = written.lower()
    for start in range(len(key) - 7):  # no 8-character piece of the key, in any case or encoding
        for form in {key, quote(key, safe="")}:
            assert form[start : start + 8].lower() not in lowered


def test_a_malformed_usage_field_is_ignored_not_a_crash(tmp_path, fake_teacher, fakes):
    images(tmp_path, fakes)

    def handler(payload, n):
        reply = fakes.smart_handler()(payload, n)
        reply.body["usage"] = {"prompt_tokens": "many", "completion_tokens": [1]}
        return reply

    summary = build(tmp_path, fake_teacher(handler), fakes)
    assert summary.accepted == 3 and not summary.tokens_reported


@pytest.mark.parametrize("url", ["localhost:8000/v1", "ftp://example.com/v1", "", "http://[::1", "http:///v1"])
def test_a_malformed_base_url_stops_at_once_in_one_line(tmp_path, fakes, monkeypatch, url):
    images(tmp_path, fakes)
    monkeypatch.setenv("OPENROUTER_API_KEY", fakes.SECRET_KEY)
    start = time.monotonic()
    with pytest.raises(HarpError) as caught:
        build_from_teacher(options(tmp_path, base_url=url, max_retries=5, backoff=2.0), progress=False)
    assert time.monotonic() - start < 5
    assert "--base-url" in str(caught.value) and "\n" not in str(caught.value)
    assert fakes.SECRET_KEY not in str(caught.value)


def test_ctrl_c_stops_within_seconds_and_keeps_what_is_done(tmp_path, fake_teacher, fakes):
    images(tmp_path, fakes, count=6)

    def handler(payload, n):  # image 0 labels at once; every other request is a 503 (a minute of retries)
        if fakes.image_index(payload) == 0:
            return fakes.smart_handler()(payload, n)
        return fakes.Reply(503, "busy")

    server = fake_teacher(handler)
    env = dict(os.environ, OPENROUTER_API_KEY=fakes.SECRET_KEY)
    process = subprocess.Popen(
        [
            sys.executable,
            str(REPO / "data_build.py"),
            "--base-url",
            server.url,
            "--quiet",
            "--prompts-dir",
            str(REPO / "prompts"),
            "--concurrency",
            "3",
            "--backoff",
            "2",
            "--task-model",
            "fake/proposer",
            "--plan-model",
            "fake/planner",
        ],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        # a suite started as a background job of a non-interactive shell (`nohup make
        # test &`) ignores SIGINT, and a child inherits that: give it Ctrl-C back
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    deadline = time.monotonic() + 30
    while not jsonl(tmp_path / "actions.jsonl") or len(server.requests) < 5:
        assert time.monotonic() < deadline and process.poll() is None, process.stderr.read()
        time.sleep(0.05)
    interrupted = time.monotonic()
    process.send_signal(signal.SIGINT)
    stdout, stderr = process.communicate(timeout=60)
    assert time.monotonic() - interrupted < 6, "Ctrl-C waited for the retry cycles"
    assert process.returncode == 130 and "run the same command again" in stderr
    assert [Path(r["image"]).name for r in jsonl(tmp_path / "actions.jsonl")] == ["img_0_0.png"]
    assert jsonl(tmp_path / "rejected.jsonl") == []  # the interrupted images are left for the next run
    assert (tmp_path / "processed" / "processed_images.txt").read_text().splitlines() == ["./bdv2/img_0_0.png"]


def test_a_refused_request_in_the_plan_call_keeps_the_proposed_task(tmp_path, fake_teacher, fakes):
    images(tmp_path, fakes, count=1)
    server = fake_teacher(
        fakes.scripted([fakes.task_answer("Put the cup into the box"), fakes.Reply(404, "no such model")])
    )
    with pytest.raises(TeacherStop):
        build(tmp_path, server, fakes)
    assert [r["task"] for r in jsonl(tmp_path / "out" / "tasks.jsonl")] == ["Put the cup into the box"]


def test_a_400_about_the_image_is_final_for_that_image(fake_teacher, fakes):
    server = fake_teacher(
        fakes.scripted([fakes.answer("ok"), fakes.Reply(400, {"error": {"message": "image too big"}})])
    )
    with (
        TeacherClient(server.url, fakes.SECRET_KEY, sleep=lambda s: None) as client,
        pytest.raises(TeacherError) as caught,
    ):
        client.chat("m", [])
        client.chat("m", [])
    assert caught.value.reason == "http_error" and not caught.value.retryable


@pytest.mark.parametrize(
    "text",
    [
        "OPENROUTER_API_KEY=abc # my key\n",  # an inline comment is not part of the value
        "\ufeffOPENROUTER_API_KEY=abc\n",  # a byte-order mark (Windows editors)
        "export\tOPENROUTER_API_KEY=abc\n",  # export and a tab
        "OPENROUTER_API_KEY=old\nOPENROUTER_API_KEY=abc\n",  # the last line wins, as in a shell
    ],
)
def test_dotenv_is_read_with_a_shell_s_rules(tmp_path, monkeypatch, text):
    from harp.data.teacher import load_api_key

    monkeypatch.delenv("OPENROUTER_API_KEY", raising=False)
    (tmp_path / ".env").write_text(text, encoding="utf-8")
    assert load_api_key(tmp_path / ".env") == "abc"


@pytest.mark.parametrize("key", ["abc\ndef", "clé-secrète", "two words"])
def test_a_key_that_cannot_go_into_a_header_is_one_line_without_the_key(tmp_path, monkeypatch, key):
    from harp.data.teacher import load_api_key

    monkeypatch.setenv("OPENROUTER_API_KEY", key)
    with pytest.raises(HarpError) as caught:
        load_api_key(tmp_path / ".env")
    assert "OPENROUTER_API_KEY" in str(caught.value) and key not in str(caught.value)
    assert "\n" not in str(caught.value)


def test_an_unreadable_dotenv_is_one_line(tmp_path, monkeypatch):
    from harp.data.teacher import load_api_key

    monkeypatch.delenv("OPENROUTER_API_KEY", raising=False)
    env = tmp_path / ".env"
    env.write_text("OPENROUTER_API_KEY=abc\n")
    real_read_text = Path.read_text

    def refuse(self, *args, **kwargs):  # chmod 000 does not stop root, who runs CI here
        if self == env:
            raise PermissionError(13, "Permission denied")
        return real_read_text(self, *args, **kwargs)

    monkeypatch.setattr(Path, "read_text", refuse)
    with pytest.raises(HarpError, match=r"\.env: cannot be read \(permission denied\)"):
        load_api_key(env)
    env.write_bytes(b"OPENROUTER_API_KEY=\xff\xfe\n")
    monkeypatch.setattr(Path, "read_text", real_read_text)
    with pytest.raises(HarpError, match=r"\.env: not UTF-8"):
        load_api_key(env)


def test_the_same_image_refusal_for_every_image_stops_the_run_and_loses_nothing(tmp_path, fake_teacher, fakes):
    images(tmp_path, fakes, count=5)
    text_only = fake_teacher(
        lambda payload, n: fakes.Reply(400, {"error": {"message": "this model does not support image input"}})
    )
    with pytest.raises(TeacherStop, match="to 3 requests and no request got an answer"):
        build(tmp_path, text_only, fakes)
    summary = build(tmp_path, fake_teacher(fakes.smart_handler(invalid_every=100)), fakes)  # the right model
    assert summary.accepted == 5 and summary.already_done == 0  # every image labelled
