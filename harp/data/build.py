"""Teacher-labelled data: the resumable build loop over the user's images (the guide's data_build.py).

For each `bdv2/**/*_0.{png,jpg,jpeg}` not finished by an earlier run: check the image, ask the
teacher to propose one task from the image, then ask it to plan that task with reasoning (two
calls, prompts in `prompts/*.txt`), and check the plan with the planning core: it must parse,
use only the domain's actions, and simulate without a violation to the goal of the scene inferred
from the plan itself (docs/internals.md §1). Accepted records go to actions.jsonl, the rest to
rejected.jsonl with a reason; see `harp.data.ledger` for how a killed run resumes.

Images are read, never moved or deleted. Requests for several images run at once in threads.
"""

from __future__ import annotations

import logging
import queue
import sys
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from harp.data.images import BadImage, check_image, find_images, record_path
from harp.data.ledger import Ledger, check_outputs
from harp.data.records import text_problem
from harp.data.teacher import (
    DEFAULT_BASE_URL,
    DEFAULT_MODEL,
    KEY_VARIABLE,
    SURROGATES,
    TeacherClient,
    TeacherError,
    TeacherInterrupted,
    TeacherStop,
    check_base_url,
    encode_image,
    extract_json,
    image_data_url,
    load_api_key,
)
from harp.errors import HarpError
from harp.plan import display_name, load_domain, parse_plan, simulate
from harp.plan.names import task_names_sources
from harp.plan.planner import STATE_BUDGET, search

logger = logging.getLogger(__name__)

NO_KEY_MESSAGE = (
    f"no teacher API key: export {KEY_VARIABLE}=... (or put {KEY_VARIABLE}=... in .env), "
    "or build synthetic scenes with --source synthetic"
)
ANSWER_KEEP = 2000  # characters of a rejected teacher answer kept for inspection
STOP_GRACE = 2.0  # seconds in-flight requests get to finish and be recorded after Ctrl-C or a stop


@dataclass
class TeacherOptions:
    images_dir: str = "bdv2"  # where the scene images are (searched recursively for *_0.png/jpg/jpeg)
    output_dir: str = "."  # tasks.jsonl, actions.jsonl, rejected.jsonl, processed/ go here
    base_url: str = DEFAULT_BASE_URL  # any OpenAI-compatible endpoint, e.g. http://localhost:8000/v1
    task_model: str = DEFAULT_MODEL  # model that proposes a task from the image (call 1)
    plan_model: str = DEFAULT_MODEL  # model that plans the task with reasoning (call 2)
    concurrency: int = 4  # images labelled at once
    max_retries: int = 5  # retries per request on 429/5xx/time-outs
    timeout: float = 120.0  # seconds per request
    backoff: float = 2.0  # first retry delay in seconds, doubled each retry (Retry-After wins)
    prompts_dir: str = "prompts"  # propose_task.txt and plan_task.txt
    domain: str = "navigate_pick_place"  # planning domain used to check plans
    limit: int | None = None  # label at most this many new images (None = all)
    max_side: int = 1024  # longer images are sent downscaled (in memory)
    env_file: str = ".env"  # where the key is looked up when the variable is unset


@dataclass
class BuildSummary:
    found: int = 0  # images matching *_0.{png,jpg,jpeg}
    already_done: int = 0  # finished by an earlier run
    accepted: int = 0
    rejected: Counter = field(default_factory=Counter)  # reason -> count
    retried: int = 0  # requests retried
    requests: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    tokens_reported: bool = False

    def lines(self) -> list[str]:
        rejected = sum(self.rejected.values())
        reasons = ", ".join(f"{reason} {count}" for reason, count in sorted(self.rejected.items()))
        tokens = (
            f"{self.prompt_tokens:,} prompt + {self.completion_tokens:,} completion"
            if self.tokens_reported
            else "not reported by the server"
        )
        return [
            f"images seen: {self.found} ({self.already_done} already done in an earlier run)",
            f"accepted: {self.accepted}",
            f"rejected: {rejected}" + (f" ({reasons})" if reasons else ""),
            f"requests: {self.requests}, retried: {self.retried}",
            f"tokens: {tokens}",
        ]


# ------------------------------------------------------------------------------------ prompts


def load_prompts(prompts_dir: str | Path) -> dict[str, str]:
    """The editable prompt texts; a missing file is a one-line error naming it."""
    prompts = {}
    for name in ("propose_task", "plan_task"):
        path = Path(prompts_dir) / f"{name}.txt"
        if not path.is_file():
            raise HarpError(f"{path}: prompt file not found (--prompts-dir points at the folder holding it)")
        prompts[name] = path.read_text(encoding="utf-8")
    if "{task}" not in prompts["plan_task"]:
        raise HarpError(f"{Path(prompts_dir) / 'plan_task.txt'}: must contain {{task}} where the task goes")
    return prompts


def propose_messages(prompts: dict, image_url: str) -> list[dict]:
    content = [
        {"type": "image_url", "image_url": {"url": image_url}},
        {"type": "text", "text": prompts["propose_task"]},
    ]
    return [{"role": "user", "content": content}]


def plan_messages(prompts: dict, image_url: str, task: str, domain) -> list[dict]:
    actions = "\n".join(
        f"- {name}({spec.argument_kind}): {spec.description}".rstrip(": ") for name, spec in domain.actions.items()
    )
    # str.replace, not format: the prompt's JSON example has braces of its own.
    text = prompts["plan_task"].replace("{task}", task).replace("{actions}", actions)
    content = [{"type": "image_url", "image_url": {"url": image_url}}, {"type": "text", "text": text}]
    return [{"role": "user", "content": content}]


def parse_task_answer(answer: str) -> str:
    """The task sentence from call 1's answer; ValueError if there is none."""
    value = extract_json(answer).get("task")
    if not isinstance(value, str) or not value.strip():
        raise ValueError('no "task" string in the answer')
    task = " ".join(value.split())
    problem = text_problem(task, None)
    if problem:  # every later stage would refuse the record; say so here, once
        raise ValueError(problem)
    return task


def parse_plan_answer(answer: str) -> tuple[list[str] | str, str]:
    """(plan, reasoning) from call 2's answer; the plan as a list of steps or one line of text."""
    value = extract_json(answer)
    plan = value.get("plan")
    if isinstance(plan, list) and plan and all(isinstance(step, str) for step in plan):
        pass
    elif not (isinstance(plan, str) and plan.strip()):
        raise ValueError('no "plan" (a list of step strings) in the answer')
    reasoning = value.get("reasoning")  # kept in meta, where a lone surrogate (a \ud800 escape) could not be written
    return plan, SURROGATES.sub("\ufffd", reasoning) if isinstance(reasoning, str) else ""


# ---------------------------------------------------------------------------------- checking


@dataclass
class PlanCheck:
    plan: list[str] | None  # the plan's steps, action names as the domain writes them
    reason: str | None  # None when accepted, else a tag for rejected.jsonl
    detail: str = ""
    scene: object = None  # the inferred Scene when the plan was accepted


def check_plan(plan: list[str] | str, domain) -> PlanCheck:
    """Accept a teacher plan only if it parses, uses domain actions and reaches its own goal.

    The accepted plan is rewritten in the canonical form the synthetic data uses (domain action
    names, Title Case arguments without articles), so both sources train the same way.
    """

    problem = text_problem(None, plan)
    if problem:  # checked before parsing and planning it, which would take minutes
        return PlanCheck(None, "plan_format", problem)
    parsed = parse_plan(plan)
    if not parsed.ok:
        first = parsed.errors[0] if parsed.errors else None
        return PlanCheck(None, "plan_format", first.message if first else "no steps")
    steps = []
    for step in parsed.steps:
        action = domain.canonical_action(step.action)
        if action is None:
            allowed = ", ".join(domain.action_names)
            return PlanCheck(None, "unknown_action", f"{step.action}({step.argument}) is not one of {allowed}")
        steps.append(f"{action}({display_name(step.argument)})")  # "navigate(the table)" -> "Navigate(Table)"
    scene = domain.infer_scene(steps)  # never raises
    trace = simulate(steps, scene, domain)
    if trace.first_invalid is not None:
        index = trace.first_invalid
        return PlanCheck(None, "invalid_transition", f"step {index + 1} {steps[index]}: {trace.steps[index].reason}")
    if not scene.goal_size():
        return PlanCheck(None, "no_goal", "the plan changes nothing")
    if not trace.completed:
        return PlanCheck(None, "incomplete", "the plan does not reach its goal")
    if not search(scene, domain).exact:
        # Later stages would score it against an estimate, not the optimum: keep it out of the data.
        return PlanCheck(None, "too_complex", f"more than {STATE_BUDGET} states: its optimum cannot be certified")
    return PlanCheck(steps, None, scene=scene)


def teacher_meta(task: str, scene) -> dict:
    """num_objects / source_named / phrasing for a teacher record (evaluation breaks down by them)."""
    return {"num_objects": len(scene.goal), "source_named": task_names_sources(task, scene), "phrasing": "teacher"}


# ------------------------------------------------------------------------------------- build


def build_from_teacher(options: TeacherOptions, client=None, progress: bool = True) -> BuildSummary:
    """Label every new image with the teacher; print and return the summary."""
    from tqdm import tqdm

    check_outputs(options.output_dir)
    own_client = client is None
    if own_client:
        check_base_url(options.base_url)
        key = load_api_key(options.env_file)
        if not key and options.base_url.rstrip("/") == DEFAULT_BASE_URL:
            raise HarpError(NO_KEY_MESSAGE)
    prompts = load_prompts(options.prompts_dir)
    domain = load_domain(options.domain)
    images_dir = Path(options.images_dir)
    if not images_dir.is_dir():
        raise HarpError(
            f"{images_dir}: no such folder (put scene images named *_0.png there, or use --source synthetic)"
        )
    images = find_images(images_dir, warn=logger.warning)
    if not images:
        raise HarpError(
            f"{images_dir}: no images named *_0.png/.jpg/.jpeg (the guide's naming), or use --source synthetic"
        )
    if own_client:
        client = TeacherClient(options.base_url, key, options.timeout, options.max_retries, options.backoff)

    ledger = Ledger(options.output_dir)
    summary = BuildSummary(found=len(images))
    todo = []
    for path in images:
        name = record_path(path)
        if name in ledger.done:
            summary.already_done += 1
        else:
            todo.append((path, name))
    if options.limit is not None:
        todo = todo[: options.limit]

    labeller = _Labeller(options, client, ledger, prompts, domain, images_dir)
    bar = tqdm(total=len(todo), desc="labelling", unit="image", disable=not progress, file=sys.stderr)
    workers = _run_workers(labeller.label, todo, options.concurrency, client)
    try:
        for outcome in workers:
            if outcome is None:
                summary.accepted += 1
            else:
                summary.rejected[outcome] += 1
            bar.update(1)
    finally:
        workers.close()  # stops the workers (see _run_workers) whatever ended the loop
        bar.close()
        ledger.close()  # a request still running in an abandoned thread can no longer write
        usage = client.usage
        summary.requests, summary.retried = usage.requests, usage.retries
        summary.prompt_tokens, summary.completion_tokens = usage.prompt_tokens, usage.completion_tokens
        summary.tokens_reported = usage.reported_usage
        if own_client:
            client.close()
    return summary


def _run_workers(label, todo: list, concurrency: int, client):
    """Yield label(path, name) for every item, `concurrency` at a time, in finishing order.

    Workers are daemon threads, so an error or Ctrl-C in the caller does not wait for requests
    that may take minutes (a time-out, a retry cycle): the client is told to stop, in-flight
    images get STOP_GRACE seconds to finish and be recorded, and the rest are left for the next
    run (each record is durable on its own, see harp.data.ledger). The first worker error
    (a TeacherStop) is raised here.
    """
    items: queue.SimpleQueue = queue.SimpleQueue()
    for item in todo:
        items.put(item)
    results: queue.SimpleQueue = queue.SimpleQueue()
    stopping = threading.Event()

    def work():
        while not stopping.is_set():
            try:
                item = items.get_nowait()
            except queue.Empty:
                return
            try:
                results.put((True, label(*item)))
            except BaseException as error:  # handed to the caller, never printed from the thread
                results.put((False, error))

    threads = [
        threading.Thread(target=work, daemon=True, name=f"harp-teacher-{i}")
        for i in range(max(1, min(concurrency, len(todo))))
    ]
    for thread in threads:
        thread.start()
    try:
        for _ in range(len(todo)):
            while True:
                try:
                    ok, value = results.get(timeout=0.2)  # a timed wait, so Ctrl-C is seen at once
                    break
                except queue.Empty:
                    continue
            if not ok:
                if isinstance(value, TeacherInterrupted):
                    continue
                raise value
            yield value
    finally:
        stopping.set()
        client.stop()
        deadline = time.monotonic() + STOP_GRACE
        for thread in threads:
            thread.join(max(0.0, deadline - time.monotonic()))


class _Labeller:
    """Labels one image (called from worker threads); returns None or the rejection reason."""

    def __init__(self, options, client, ledger, prompts, domain, images_dir):
        self.options, self.client, self.ledger = options, client, ledger
        self.prompts, self.domain, self.images_dir = prompts, domain, images_dir
        self.refused = None  # the TeacherStop that stops the run, once one happened

    def label(self, path: Path, name: str) -> str | None:
        if self.refused is not None:  # the run is stopping: images still queued are not tried
            raise self.refused
        try:
            return self._label(path, name)
        except TeacherStop as error:
            self.refused = error
            raise

    def _label(self, path: Path, name: str) -> str | None:
        try:
            checked = check_image(path)
        except BadImage as error:
            return self._reject(name, "bad_image", str(error))
        data, mime = encode_image(checked.image, checked.data, checked.format, self.options.max_side)
        url = image_data_url(data, mime)
        task = self.ledger.tasks.get(name)
        try:
            if task is None:
                answer = self.client.chat(self.options.task_model, propose_messages(self.prompts, url), temperature=0.7)
                try:
                    task = parse_task_answer(answer)
                except ValueError as error:
                    return self._reject(name, "malformed_answer", f"task proposal: {error}", answer=answer)
                self.ledger.add_task({"image": name, "task": task, "id": self._id(path)})
            messages = plan_messages(self.prompts, url, task, self.domain)
            answer = self.client.chat(self.options.plan_model, messages, temperature=0.2)
        except TeacherError as error:
            return self._reject(name, error.reason, error.detail, task=task, retryable=error.retryable)
        try:
            plan, reasoning = parse_plan_answer(answer)
        except ValueError as error:
            return self._reject(name, "malformed_answer", f"plan: {error}", task=task, answer=answer)
        check = check_plan(plan, self.domain)
        if check.reason is not None:
            return self._reject(name, check.reason, check.detail, task=task, answer=answer)
        meta = teacher_meta(task, check.scene)
        meta.update(task_model=self.options.task_model, plan_model=self.options.plan_model, reasoning=reasoning)
        self.ledger.accept({"image": name, "task": task, "plan": check.plan, "id": self._id(path), "meta": meta})
        return None

    def _id(self, path: Path) -> str:
        """`bdv2/kitchen/scene_001_0.png` -> `kitchen/scene_001` (unique, like the synthetic ids)."""
        try:
            stem = path.relative_to(self.images_dir).with_suffix("").as_posix()
        except ValueError:
            stem = path.stem
        return stem[: -len("_0")] if stem.endswith("_0") else stem

    def _reject(self, name, reason, detail, task=None, answer=None, retryable=False) -> str:
        record = {"image": name, "reason": reason, "detail": detail}
        if task is not None:
            record["task"] = task
        if answer is not None:
            record["answer"] = answer[:ANSWER_KEEP]
        if retryable:
            record["retryable"] = True
        self.ledger.reject(record)
        return reason
