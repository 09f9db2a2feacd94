"""The teacher VLM client: OpenAI-compatible chat completions over httpx.

OpenRouter by default; any OpenAI-compatible server (a local vLLM, `--base-url
http://localhost:8000/v1`) works the same way. The client retries what is worth retrying (429,
5xx, time-outs, dropped connections) with exponential backoff, honouring `Retry-After`, and gives
up with a `TeacherError` saying why. Some failures stop the whole run instead (`TeacherStop`),
because every later request would fail the same way and no image should be marked done for them:
a refused key (401/403), a server that cannot be connected to before any request of the run has
reached it (a wrong `--base-url`, no network), and any other 4xx whose message is not about the
image or the prompt's length (a `--base-url` without `/v1` answers 404; an unknown model 400).
`stop()` (Ctrl-C) makes every request give up at its next attempt or backoff.

The key lives only in the `Authorization` header of requests: it is never logged, written or put
into an exception message. Every answer and error text is passed through `Redactor`
(harp.data.secrets) before anything reads it, so a server echoing the key cannot put it into a file.
"""

from __future__ import annotations

import base64
import email.utils
import io
import json
import random
import re
import threading
import time
from dataclasses import dataclass

from harp.data.secrets import KEY_VARIABLE, Redactor, load_api_key  # noqa: F401 (re-exported)
from harp.errors import HarpError

DEFAULT_BASE_URL = "https://openrouter.ai/api/v1"
DEFAULT_MODEL = "qwen/qwen2.5-vl-72b-instruct"
RETRY_STATUSES = {408, 409, 425, 429, 500, 502, 503, 504, 520, 522, 524, 529}


class TeacherError(Exception):
    """One request failed for good: `reason` is a short tag for rejected.jsonl, `retryable` says
    whether a later run should try this image again (the server was down, not the image bad)."""

    def __init__(self, reason: str, detail: str, retryable: bool):
        super().__init__(f"{reason}: {detail}")
        self.reason, self.detail, self.retryable = reason, detail, retryable


class TeacherStop(HarpError):
    """A failure that every later request would meet too: the run stops, no image is marked done."""


class TeacherAuthError(TeacherStop):
    """The server refused the key; no request will succeed, so the run stops."""


class TeacherUnreachable(TeacherStop):
    """No connection to the server before any request of the run reached it: the run stops."""


class TeacherRequestRefused(TeacherStop):
    """A 4xx not about the image (wrong URL, unknown model, bad parameter): the run stops."""


class TeacherInterrupted(Exception):
    """The run is stopping (Ctrl-C or another image's TeacherStop): this request gave up unrecorded."""


# A 400 whose message says one of these is about this request's image or prompt, so only this
# image is rejected (http_error); any other 4xx stops the run.
IMAGE_RELATED = re.compile(
    r"image|picture|media|pixel|too (large|big|long)|context (length|window)|"
    r"maximum .*tokens|payload",
    re.IGNORECASE,
)
MAX_ERROR_TEXT = 300  # characters of a server's error message kept (after redaction)
SURROGATES = re.compile("[\ud800-\udfff]")  # lone ones: a JSON escape makes one, no UTF-8 file holds one
SAME_REFUSALS = 3  # the same image refusal this often before any answer: the server refuses all images


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
        except (json.JSONDecodeError, RecursionError):  # RecursionError: a hostile, deeply nested answer
            continue
        if isinstance(value, dict):
            return value
    raise ValueError("no JSON object in the answer")


@dataclass
class Usage:
    """Counters over all requests of a run (updated from several threads under a lock)."""

    requests: int = 0
    answers: int = 0  # requests answered with a readable 200
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
        sleep=None,
    ):
        import httpx  # lazy: keeps `harp --help` fast

        self._httpx = httpx
        self.url = check_base_url(base_url).rstrip("/") + "/chat/completions"
        self.max_retries = max_retries
        self.backoff = backoff
        self.max_backoff = max_backoff
        self._stopping = threading.Event()
        self.sleep = sleep or self._stopping.wait  # a backoff wakes up at once on stop()
        self.usage = Usage()
        self._lock = threading.Lock()
        self._refusals: dict[str, int] = {}  # image refusals by message, before any answer
        redact = Redactor(api_key)
        # A server's text may hold a lone surrogate (its JSON can escape \ud800), which no UTF-8 file
        # can hold: an answer kept in rejected.jsonl crashed the build.
        self._redact = lambda text: SURROGATES.sub("\ufffd", redact(text))
        headers = {"Content-Type": "application/json", "X-Title": "HARP data build"}
        if api_key:
            headers["Authorization"] = f"Bearer {api_key}"
        self._http = httpx.Client(headers=headers, timeout=httpx.Timeout(timeout))

    def stop(self) -> None:
        """Make every request give up (TeacherInterrupted) at its next attempt or backoff."""
        self._stopping.set()

    def close(self) -> None:
        self._http.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def chat(self, model: str, messages: list[dict], temperature: float = 0.2, max_tokens: int = 1024) -> str:
        """The text of the first choice, redacted; raises TeacherError, TeacherStop or TeacherInterrupted."""
        payload = {"model": model, "messages": messages, "temperature": temperature, "max_tokens": max_tokens}
        reason = "no attempt"
        for attempt in range(self.max_retries + 1):
            if self._stopping.is_set():
                raise TeacherInterrupted("stopping")
            delay = self.backoff * (2**attempt) * (1 + 0.25 * random.random())  # jitter spreads retries
            try:
                response = self._http.post(self.url, json=payload)
            except self._httpx.TransportError as error:  # time-outs included
                if not self.usage.requests and isinstance(
                    error, (self._httpx.ConnectError, self._httpx.ConnectTimeout)
                ):
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
                        self._count(answers=1)
                        return self._redact(text)
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
                    message = _one_line(self._redact(_error_text(response)))[:MAX_ERROR_TEXT]
                    if status == 413 or (status == 400 and IMAGE_RELATED.search(message)):
                        self._image_refusal(status, message)
                        # Until an answer got through, the server may be refusing every image alike:
                        # the image is left for the next run (retryable), not marked done.
                        raise TeacherError("http_error", f"HTTP {status}: {message}", not self.usage.answers)
                    raise TeacherRequestRefused(
                        f"the teacher at {self.url} answered HTTP {status} ({message}), which is not about "
                        "an image: check --base-url (an OpenAI-compatible URL usually ends in /v1) and the "
                        "model name; no image was marked done"
                    )
            if attempt == self.max_retries:
                break
            self._count(retries=1)
            self.sleep(min(delay, self.max_backoff))
        if self._stopping.is_set():
            raise TeacherInterrupted("stopping")
        raise TeacherError("gave_up", f"{self.max_retries + 1} attempts, last: {reason}", True)

    def _image_refusal(self, status: int, message: str) -> None:
        """Stop the run when the same 'image' refusal met SAME_REFUSALS images before any answer got
        through: a model without image input says "image" too, and is not about one image."""
        with self._lock:
            if self.usage.answers:
                return
            self._refusals[message] = self._refusals.get(message, 0) + 1
            repeated = self._refusals[message] >= SAME_REFUSALS
        if repeated:
            raise TeacherRequestRefused(
                f"the teacher at {self.url} answered HTTP {status} ({message}) to {SAME_REFUSALS} requests "
                "and no request got an answer: check the model (does it take images?) and --base-url; "
                "no image was marked done"
            )

    def _content(self, response) -> str | None:
        try:
            body = response.json()
            message = body["choices"][0]["message"]
        except (ValueError, KeyError, IndexError, TypeError, RecursionError):
            return None
        usage = body.get("usage")
        if isinstance(usage, dict):
            prompt, completion = _token_count(usage.get("prompt_tokens")), _token_count(usage.get("completion_tokens"))
            if prompt is not None:  # a count a server cannot state ("many", -3, 1e300) is left out
                self._count(prompt_tokens=prompt, completion_tokens=completion or 0, reported_usage=True)
        content = message.get("content") if isinstance(message, dict) else None
        if isinstance(content, list):  # some servers return content parts
            content = "".join(
                part.get("text", "")
                for part in content
                if isinstance(part, dict) and isinstance(part.get("text", ""), str)
            )
        return content if isinstance(content, str) else None

    def _count(self, reported_usage: bool = False, **deltas: int) -> None:
        with self._lock:
            for name, value in deltas.items():
                setattr(self.usage, name, getattr(self.usage, name) + value)
            self.usage.reported_usage |= reported_usage


def check_base_url(base_url: str) -> str:
    """The URL when it is an http(s) URL with a host; else a one-line HarpError naming --base-url."""
    import httpx

    hint = "give an http:// or https:// URL with a host, e.g. http://localhost:8000/v1"
    try:
        url = httpx.URL(base_url)
    except (httpx.InvalidURL, TypeError, ValueError) as error:
        raise HarpError(f"--base-url {base_url!r}: not a URL ({error}); {hint}") from None
    if url.scheme not in ("http", "https") or not url.host:
        raise HarpError(f"--base-url {base_url!r}: not an http(s) URL with a host; {hint}")
    return base_url


def _token_count(value) -> int | None:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < 10**12:
        return None
    return value


def _one_line(text: str) -> str:
    return " ".join(text.split())


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
            return str(message)
    except (ValueError, AttributeError, RecursionError):
        pass
    return response.text.strip() or "(empty body)"  # cut by the caller after redaction, never before


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
