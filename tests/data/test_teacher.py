"""The teacher HTTP client against the fake OpenAI-compatible server: retries, time-outs, keys."""

import pytest

from harp.data.teacher import TeacherAuthError, TeacherClient, TeacherError, extract_json, load_api_key

MESSAGES = [{"role": "user", "content": [{"type": "text", "text": "hi"}]}]


SECRET_KEY = "sk-or-v1-THIS-KEY-MUST-NEVER-LEAK-0123456789"


def client_for(server, sleeps, **kwargs):
    kwargs.setdefault("max_retries", 3)
    kwargs.setdefault("timeout", 5.0)
    return TeacherClient(server.url, SECRET_KEY, backoff=0.5, sleep=sleeps.append, **kwargs)


def test_answer_text_usage_and_auth_header(fake_teacher, fakes):
    server = fake_teacher(fakes.scripted([fakes.answer("hello")]))
    with client_for(server, []) as client:
        assert client.chat("m", MESSAGES) == "hello"
        assert (client.usage.requests, client.usage.prompt_tokens, client.usage.completion_tokens) == (1, 100, 20)
    request = server.requests[0]
    assert request["path"] == "/v1/chat/completions"
    assert request["headers"]["Authorization"] == f"Bearer {SECRET_KEY}"
    assert request["payload"]["model"] == "m"


def test_429_honours_retry_after_then_succeeds(fake_teacher, fakes):
    rate_limited = fakes.Reply(429, {"error": {"message": "slow down"}}, {"Retry-After": "7"})
    server = fake_teacher(fakes.scripted([rate_limited, fakes.answer("ok")]))
    sleeps = []
    with client_for(server, sleeps) as client:
        assert client.chat("m", MESSAGES) == "ok"
        assert client.usage.retries == 1
    assert sleeps == [7.0]  # the server's Retry-After, not our own backoff


def test_500s_back_off_exponentially_then_give_up(fake_teacher, fakes):
    server = fake_teacher(fakes.scripted([fakes.Reply(500, "boom")] * 10))
    sleeps = []
    with client_for(server, sleeps, max_retries=3) as client, pytest.raises(TeacherError) as caught:
        client.chat("m", MESSAGES)
    assert caught.value.reason == "gave_up" and caught.value.retryable
    assert "HTTP 500" in caught.value.detail
    assert len(server.requests) == 4 and len(sleeps) == 3
    # 0.5, 1, 2 seconds, each with up to 25% jitter
    for attempt, delay in enumerate(sleeps):
        assert 0.5 * 2**attempt <= delay <= 0.5 * 2**attempt * 1.25


def test_time_out_is_retried(fake_teacher, fakes):
    server = fake_teacher(fakes.scripted([fakes.Reply(body={}, delay=1.5), fakes.answer("late but fine")]))
    sleeps = []
    with client_for(server, sleeps, timeout=0.3) as client:
        assert client.chat("m", MESSAGES) == "late but fine"
        assert client.usage.retries == 1


def test_refused_key_stops_without_showing_the_key(fake_teacher, fakes):
    server = fake_teacher(fakes.scripted([fakes.Reply(401, {"error": {"message": f"bad key {SECRET_KEY}"}})]))
    with client_for(server, []) as client, pytest.raises(TeacherAuthError) as caught:
        client.chat("m", MESSAGES)
    assert "OPENROUTER_API_KEY" in str(caught.value) and SECRET_KEY not in str(caught.value)


def test_client_error_is_final_and_redacted(fake_teacher, fakes):
    refusal = fakes.Reply(400, {"error": {"message": f"image too big for {SECRET_KEY}"}})
    server = fake_teacher(fakes.scripted([refusal, fakes.answer("ok"), refusal]))
    with client_for(server, []) as client:
        with pytest.raises(TeacherError) as caught:
            client.chat("m", MESSAGES)
        assert caught.value.reason == "http_error" and caught.value.retryable  # nothing answered yet: kept for later
        assert client.chat("m", MESSAGES) == "ok"
        with pytest.raises(TeacherError) as caught:
            client.chat("m", MESSAGES)
    assert caught.value.reason == "http_error" and not caught.value.retryable  # the server answers: this image is bad
    assert "image too big" in caught.value.detail and SECRET_KEY not in caught.value.detail
    assert len(server.requests) == 3  # a 400 is not retried


def test_unreadable_200_body_is_retried(fake_teacher, fakes):
    server = fake_teacher(fakes.scripted([fakes.Reply(200, "<html>gateway</html>"), fakes.answer("ok")]))
    with client_for(server, []) as client:
        assert client.chat("m", MESSAGES) == "ok"


@pytest.mark.parametrize(
    "text",
    [
        '{"task": "Put the cup in the box"}',  # plain
        '```json\n{"task": "Put the cup in the box"}\n```',  # markdown fence
        'Sure! Here it is: {"task": "Put the cup in the box"} Hope this helps.',  # prose around it
    ],
)
def test_extract_json_finds_the_object(text):
    assert extract_json(text) == {"task": "Put the cup in the box"}


@pytest.mark.parametrize("text", ["", "no json here", '{"task": ', '["a list"]'])
def test_extract_json_rejects_non_objects(text):
    with pytest.raises(ValueError):
        extract_json(text)


def test_key_from_environment_wins_over_dotenv(tmp_path, monkeypatch):
    (tmp_path / ".env").write_text("OPENROUTER_API_KEY=from-file\n")
    monkeypatch.setenv("OPENROUTER_API_KEY", "from-env")
    assert load_api_key(tmp_path / ".env") == "from-env"


@pytest.mark.parametrize(
    "line", ["OPENROUTER_API_KEY=abc", 'export OPENROUTER_API_KEY="abc"', "OPENROUTER_API_KEY = 'abc' "]
)
def test_key_from_dotenv(tmp_path, monkeypatch, line):
    monkeypatch.delenv("OPENROUTER_API_KEY", raising=False)
    (tmp_path / ".env").write_text(f"# comment\nOTHER=1\n{line}\n")
    assert load_api_key(tmp_path / ".env") == "abc"


def test_no_key_anywhere(tmp_path, monkeypatch):
    monkeypatch.delenv("OPENROUTER_API_KEY", raising=False)
    assert load_api_key(tmp_path / ".env") is None


def test_retry_after_forms():
    import email.utils
    import time

    from harp.data.teacher import _retry_after

    assert _retry_after("12", 1.0) == 12.0  # seconds
    assert _retry_after(None, 1.5) == 1.5  # absent: our own backoff
    assert _retry_after("soon", 1.5) == 1.5  # unreadable: our own backoff
    in_a_minute = email.utils.formatdate(time.time() + 60, usegmt=True)  # an HTTP date
    assert 50 <= _retry_after(in_a_minute, 1.0) <= 61


def _closed_port_url():
    import socket

    with socket.socket() as sock:  # bound and closed again: nothing listens there
        sock.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{sock.getsockname()[1]}/v1"


def test_unreachable_server_stops_at_once_without_the_key():
    from harp.data.teacher import TeacherUnreachable

    sleeps = []
    with TeacherClient(_closed_port_url(), SECRET_KEY, backoff=0.5, sleep=sleeps.append) as client:
        with pytest.raises(TeacherUnreachable) as caught:
            client.chat("m", MESSAGES)
    message = str(caught.value)
    assert sleeps == [] and "--base-url" in message and "/chat/completions" in message
    assert SECRET_KEY not in message and "\n" not in message


def test_lost_connection_after_a_success_is_retried(fake_teacher, fakes):
    server = fake_teacher(fakes.scripted([fakes.answer("first")]))
    sleeps = []
    with client_for(server, sleeps, max_retries=2) as client:
        assert client.chat("m", MESSAGES) == "first"
        server.stop()  # the server goes away mid-run: a blip to retry, not a wrong URL
        with pytest.raises(TeacherError) as caught:
            client.chat("m", MESSAGES)
    assert caught.value.reason == "gave_up" and caught.value.retryable and len(sleeps) == 2
