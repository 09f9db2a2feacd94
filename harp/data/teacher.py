"""The teacher VLM client: OpenAI-compatible chat completions over httpx.

OpenRouter by default; any OpenAI-compatible server (a local vLLM, `--base-url
http://localhost:8000/v1`) works the same way. The client retries what is worth retrying (429,
5xx, time-outs, dropped connections) with exponential backoff, honouring `Retry-After`, and gives
up with a `TeacherError` saying why. A refused key (401/403) stops the whole run instead, because
every later request would fail the same way; so does a server that cannot be connected to before
any request of the run has reached it (a wrong `--base-url`, no network): `TeacherUnreachable`.

The key lives only in the `Authorization` header of requests: it is never logged, written or put
into an exception message (`_redact` scrubs anything echoed back by the server, to be sure).
"""

from __future__ import annotations

import base64
import email.utils
import io
import json
import os
import random
import re
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from harp.errors import HarpError

DEFAULT_BASE_URL = "https://openrouter.ai/api/v1"
DEFAULT_MODEL = "qwen/qwen2.5-vl-72b-instruct"
KEY_VARIABLE = "OPENROUTER_API_KEY"
RETRY_STATUSES = {408, 409, 425, 429, 500, 502, 503, 504, 520, 522, 524, 529}


class TeacherError(Exception):
    """One request failed for good: `reason` is a short tag for rejected.jsonl, `retryable` says
    whether a later run should try this image again (the server was down, not the image bad)."""

    def __init__(self, reason: str, detail: str, retryable: bool):
        super().__init__(f"{reason}: {detail}")
        self.reason, self.detail, self.retryable = reason, detail, retryable


class TeacherAuthError(HarpError):
    """The server refused the key; no request will succeed, so the run stops."""


class TeacherUnreachable(HarpError):
    """No connection to the server before any request of the run reached it: the run stops."""


def load_api_key(env_file: str | Path = ".env") -> str | None:
    """OPENROUTER_API_KEY from the environment, else from a `.env` file (KEY=VALUE lines)."""
    key = os.environ.get(KEY_VARIABLE, "").strip()
    if key:
        return key
    env_file = Path(env_file)
    if not env_file.is_file():
        return None
    for line in env_file.read_text(encoding="utf-8", errors="replace").splitlines():
        line = line.strip()
        if line.startswith("export "):
            line = line[len("export ") :].strip()
        name, sep, value = line.partition("=")
        if sep and name.strip() == KEY_VARIABLE:
            value = value.strip().strip("'\"").strip()
            return value or None
    return None


def image_data_url(data: bytes, mime: str) -> str:
    return f"data:{mime};base64,{base64.b64encode(data).decode('ascii')}"


def extract_json(text: str) -> dict:
    """The JSON object in a model answer: plain, inside a ```json fence, or amid prose.

    Raises ValueError when there is none.
    """
    text = text.strip()
    fenced = re.search(r"```(?:json|JSON)?\s*(.*?)```", text, re.DOTALL)
    candidates = [fenced.group(1).strip()] if fenced else []
    candidates.append(text)
    start, end = text.find("{"), text.rfind("}")
    if 0 <= start < end:
        candidates.append(text[start : end + 1])
    for candidate in candidates:
        try:
            value = json.loads(candidate)
        except json.JSONDecodeError:
            continue
        if isinstance(value, dict):
            return value
    raise ValueError("no JSON object in the answer")


@dataclass
class Usage:
    """Counters over all requests of a run (updated from several threads under a lock)."""

    requests: int = 0
    retries: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    reported_usage: bool = False  # whether the server reported token counts at all


class TeacherClient:
    """Chat completions with retries. Thread-safe: one client serves all worker threads."""

    def __init__(
        self,
        base_url: str = DEFAULT_BASE_URL,
        api_key: str | None = None,
        timeout: float = 120.0,
        max_retries: int = 5,
        backoff: float = 2.0,
        max_backoff: float = 60.0,
        sleep=time.sleep,
    ):
        import httpx  # lazy: keeps `harp --help` fast

        self._httpx = httpx
        self.url = base_url.rstrip("/") + "/chat/completions"
        self.max_retries = max_retries
        self.backoff = backoff
        self.max_backoff = max_backoff
        self.sleep = sleep
        self.usage = Usage()
        self._lock = threading.Lock()
        self._api_key = api_key
        headers = {"Content-Type": "application/json", "X-Title": "HARP data build"}
        if api_key:
            headers["Authorization"] = f"Bearer {api_key}"
        self._http = httpx.Client(headers=headers, timeout=httpx.Timeout(timeout))

    def close(self) -> None:
        self._http.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def chat(self, model: str, messages: list[dict], temperature: float = 0.2, max_tokens: int = 1024) -> str:
        """The text of the first choice; raises TeacherError / TeacherAuthError."""
        payload = {"model": model, "messages": messages, "temperature": temperature, "max_tokens": max_tokens}
        reason = "no attempt"
        for attempt in range(self.max_retries + 1):
            delay = self.backoff * (2**attempt) * (1 + 0.25 * random.random())  # jitter spreads retries
            try:
                response = self._http.post(self.url, json=payload)
            except self._httpx.TransportError as error:  # time-outs included
                if not self.usage.requests and isinstance(error, (self._httpx.ConnectError, self._httpx.ConnectTimeout)):
                    # nothing of this run ever got through: a wrong URL or no network, not a blip
                    raise TeacherUnreachable(
                        f"cannot connect to the teacher at {self.url} ({type(error).__name__}: "
                        f"{self._redact(str(error)) or 'no answer'}): check --base-url and the network"
                    ) from None
                timed_out = isinstance(error, self._httpx.TimeoutException)
                reason = "time-out" if timed_out else f"connection error ({type(error).__name__})"
            else:
                self._count(requests=1)
                status = response.status_code
                if status == 200:
                    text = self._content(response)
                    if text is not None:
                        return text
                    reason = "HTTP 200 with an unreadable body"
                elif status in (401, 403):
                    raise TeacherAuthError(
                        f"the teacher at {self.url} refused the API key (HTTP {status}): "
                        f"check {KEY_VARIABLE} in the environment or .env"
                    )
                elif status in RETRY_STATUSES:
                    reason = f"HTTP {status}"
                    delay = _retry_after(response.headers.get("retry-after"), delay)
                else:
                    raise TeacherError("http_error", f"HTTP {status}: {self._redact(_error_text(response))}", False)
            if attempt == self.max_retries:
                break
            self._count(retries=1)
            self.sleep(min(delay, self.max_backoff))
        raise TeacherError("gave_up", f"{self.max_retries + 1} attempts, last: {reason}", True)

    def _content(self, response) -> str | None:
        try:
            body = response.json()
            message = body["choices"][0]["message"]
        except (ValueError, KeyError, IndexError, TypeError):
            return None
        usage = body.get("usage") or {}
        if isinstance(usage, dict) and "prompt_tokens" in usage:
            self._count(
                prompt_tokens=int(usage.get("prompt_tokens") or 0),
                completion_tokens=int(usage.get("completion_tokens") or 0),
                reported_usage=True,
            )
        content = message.get("content") if isinstance(message, dict) else None
        if isinstance(content, list):  # some servers return content parts
            content = "".join(part.get("text", "") for part in content if isinstance(part, dict))
        return content if isinstance(content, str) else None

    def _count(self, reported_usage: bool = False, **deltas: int) -> None:
        with self._lock:
            for name, value in deltas.items():
                setattr(self.usage, name, getattr(self.usage, name) + value)
            self.usage.reported_usage |= reported_usage

    def _redact(self, text: str) -> str:
        return text.replace(self._api_key, "***") if self._api_key else text


def _retry_after(value: str | None, default: float) -> float:
    """Seconds to wait from a Retry-After header (seconds or an HTTP date); `default` if absent."""
    if not value:
        return default
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return default
    return max(0.0, when.timestamp() - time.time())


def _error_text(response) -> str:
    """A short error message from an error response body (OpenAI style or plain text)."""
    try:
        body = response.json()
        message = body.get("error", {}).get("message") if isinstance(body.get("error"), dict) else body.get("error")
        if message:
            return str(message)[:300]
    except (ValueError, AttributeError):
        pass
    return response.text[:300].strip() or "(empty body)"


def encode_image(image, original: bytes, fmt: str, max_side: int) -> tuple[bytes, str]:
    """Bytes and MIME type to send: the file as it is, or a downscaled PNG copy in memory when a
    side exceeds `max_side` (saves tokens; the user's file is never touched)."""
    if max(image.size) <= max_side and fmt in ("PNG", "JPEG"):
        return original, "image/png" if fmt == "PNG" else "image/jpeg"
    scale = max_side / max(image.size)
    copy = image.convert("RGB")
    if scale < 1:
        copy = copy.resize((max(1, round(image.size[0] * scale)), max(1, round(image.size[1] * scale))))
    buffer = io.BytesIO()
    copy.save(buffer, format="PNG")
    return buffer.getvalue(), "image/png"
