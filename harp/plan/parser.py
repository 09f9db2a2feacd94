"""The plan language: completion text -> steps with character spans and positioned format errors.

A plan is one line of comma-separated steps `Action(Argument)`. `parse_plan` never raises: it
returns the steps it could recover (so H-PRM can still score a repaired plan and FTCA can still
find each step's tokens) and one `FormatError` per problem, each with its character offset.

Two paths: a clean plan (the common case during GRPO) is matched by one compiled regex; anything
else goes through a small hand-written scanner that repairs what it can:

- `Navigate(Table) Pick(Apple)`      -> missing_comma (steps on new lines count as missing commas)
- `Navigate(Table, Pick(Apple)`      -> unbalanced_parenthesis, then `Pick(Apple)` is still read
- `Pick()` / `(Apple)`               -> empty_argument / empty_action (the step is kept)
- `Plan: Navigate(Table).`           -> stray_text before / after the steps
- `Navigate(Table) ?? Pick(Apple)`   -> unknown_token between steps
- `` / whitespace / no step at all   -> empty_plan

Results are cached per text: GRPO scores the same completions many times.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache


@dataclass(frozen=True, slots=True)
class Step:
    action: str  # as written, stripped ("Navigate")
    argument: str  # as written, stripped ("White Table")
    span: tuple[int, int]  # [start, end) of the whole step in the text
    action_span: tuple[int, int]
    argument_span: tuple[int, int]

    def __str__(self) -> str:
        return f"{self.action}({self.argument})"


@dataclass(frozen=True, slots=True)
class FormatError:
    kind: str  # missing_comma | unbalanced_parenthesis | empty_argument | empty_action | stray_text | unknown_token | empty_plan
    position: int  # character offset in the text
    message: str


@dataclass(frozen=True, slots=True)
class ParsedPlan:
    text: str
    steps: tuple[Step, ...]  # best-effort steps recovered, even when errors exist
    errors: tuple[FormatError, ...]

    @property
    def ok(self) -> bool:
        """Parses cleanly: no format error and at least one step."""
        return not self.errors and bool(self.steps)


_IDENT = r"[A-Za-z_][A-Za-z0-9_]*"
# A clean step: the argument is words separated by spaces or tabs, so the groups are already
# stripped and the pattern cannot backtrack quadratically on long runs of spaces.
_STEP = rf"({_IDENT})[ \t]*\([ \t]*([^(),\s]+(?:[ \t]+[^(),\s]+)*)[ \t]*\)"
_STEP_RE = re.compile(_STEP)
_CLEAN_RE = re.compile(rf"\s*{_STEP}(?:\s*,\s*{_STEP})*\s*")
# The repairing scanner's tokens, tried in this order at each position.
_TOKEN_RE = re.compile(
    rf"(?P<space>\s+)|(?P<comma>,)|(?P<close>\))|(?P<head>{_IDENT})[ \t]*\(|(?P<open>\()"
    rf"|(?P<junk>{_IDENT}|[^\s,()A-Za-z_]+)"
)
_ARG_RE = re.compile(r"[^(),\n]*")


def parse_plan(plan: str | Iterable[str]) -> ParsedPlan:
    """Parse completion text, or a record's list of step strings (joined with ", "). Never raises."""
    if isinstance(plan, str):
        return _parse_text(plan)
    try:
        text = ", ".join(str(step) for step in plan)
    except TypeError:  # not iterable: read it as text
        text = str(plan)
    return _parse_text(text)


def format_plan(steps: Iterable[Step | str | tuple[str, str]]) -> str:
    """Canonical text `Navigate(White Table), Pick(Apple)`; strings are parsed first."""
    parts = []
    for step in steps:
        if isinstance(step, Step):
            parts.append(f"{step.action}({step.argument})")
        elif isinstance(step, str):
            parts.extend(f"{s.action}({s.argument})" for s in _parse_text(step).steps)
        else:
            action, argument = step
            parts.append(f"{action}({argument})")
    return ", ".join(parts)


@lru_cache(maxsize=65536)
def _parse_text(text: str) -> ParsedPlan:
    if _CLEAN_RE.fullmatch(text):
        steps = tuple(Step(m[1], m[2], m.span(), m.span(1), m.span(2)) for m in _STEP_RE.finditer(text))
        return ParsedPlan(text, steps, ())
    return _scan(text)


def _make_step(text: str, a0: int, a1: int, g0: int, g1: int, end: int) -> Step:
    """A step from the raw action and argument ranges; the argument is stripped, spans follow."""
    raw = text[g0:g1]
    lead = len(raw) - len(raw.lstrip())
    argument = raw.strip()
    start = g0 + lead if argument else g0  # an empty argument sits right after '(', inside the step
    action = text[a0:a1]
    return Step(action, argument, (a0, end), (a0, a1), (start, start + len(argument)))


def _scan(text: str) -> ParsedPlan:
    """The repairing scanner: one left-to-right pass, linear in the text length."""
    n = len(text)
    steps: list[Step] = []
    errors: list[FormatError] = []
    junk: list[list[int]] = []  # [start, end, steps_before] of unrecognised text, merged across spaces
    after_step = False  # a step was read and no comma has followed it yet
    pending_comma = None  # a comma that still waits for its step
    i = 0
    while i < n:
        token = _TOKEN_RE.match(text, i)
        kind, end = token.lastgroup, token.end()
        if kind == "space":
            i = end
            continue
        if kind == "comma":
            if after_step:
                after_step, pending_comma = False, i
            else:
                _add_junk(junk, i, end, len(steps))  # leading or doubled comma
            i = end
            continue
        if kind == "close":
            errors.append(FormatError("unbalanced_parenthesis", i, f"')' at {i} closes nothing"))
            i = end
            continue
        if kind == "junk":
            _add_junk(junk, i, end, len(steps))
            i = end
            continue
        if after_step:
            errors.append(FormatError("missing_comma", i, f"missing comma before the step at {i}"))
        if kind == "head":
            a0, a1, paren = token.start("head"), token.end("head"), end - 1
        else:
            a0 = a1 = paren = i
            errors.append(FormatError("empty_action", i, f"step at {i} has no action name"))
        step, i = _scan_argument(text, a0, a1, paren, errors)
        if not step.argument:
            errors.append(
                FormatError("empty_argument", paren + 1, f"{step.action or 'step'}() at {a0} has no argument")
            )
        steps.append(step)
        after_step, pending_comma = True, None
    if pending_comma is not None:
        errors.append(FormatError("stray_text", pending_comma, f"trailing comma at {pending_comma}"))
    for start, end, before in junk:
        snippet = text[start:end] if end - start <= 30 else text[start : start + 27] + "..."
        if 0 < before < len(steps):
            errors.append(FormatError("unknown_token", start, f"unknown token {snippet!r} at {start}"))
        else:
            where = "before" if before == 0 and steps else "after" if steps else "instead of"
            errors.append(FormatError("stray_text", start, f"stray text {snippet!r} {where} the plan at {start}"))
    if not steps:
        errors.append(FormatError("empty_plan", 0, "no step Action(Argument) found"))
    errors.sort(key=lambda e: e.position)
    return ParsedPlan(text, tuple(steps), tuple(errors))


def _scan_argument(text: str, a0: int, a1: int, paren: int, errors: list[FormatError]) -> tuple[Step, int]:
    """Read the argument after the '(' at `paren`; return the step and where scanning resumes."""
    n = len(text)
    k = _ARG_RE.match(text, paren + 1).end()
    if k < n and text[k] == ")":
        return _make_step(text, a0, a1, paren + 1, k, k + 1), k + 1
    if k < n and text[k] == "(":
        # A nested parenthesis: report it; if the step still closes, its whole inside is the argument.
        errors.append(FormatError("unbalanced_parenthesis", k, f"nested '(' at {k} inside a step"))
        depth, j = 1, paren + 1
        while j < n and text[j] not in ",\n":
            depth += (text[j] == "(") - (text[j] == ")")
            if depth == 0:
                return _make_step(text, a0, a1, paren + 1, j, j + 1), j + 1
            j += 1
        # Never closed: the scanned region is part of this broken step. Resuming after it (not at
        # the nested '(') keeps the scanner linear on inputs like "((((((...".
        errors.append(FormatError("unbalanced_parenthesis", paren, f"'(' at {paren} is never closed"))
        step = _make_step(text, a0, a1, paren + 1, k, k)
        end = step.argument_span[1] if step.argument else paren + 1
        return Step(step.action, step.argument, (a0, end), step.action_span, step.argument_span), j
    errors.append(FormatError("unbalanced_parenthesis", paren, f"'(' at {paren} is never closed"))
    step = _make_step(text, a0, a1, paren + 1, k, k)
    end = step.argument_span[1] if step.argument else paren + 1
    return Step(step.action, step.argument, (a0, end), step.action_span, step.argument_span), k


def _add_junk(junk: list[list[int]], start: int, end: int, steps_before: int) -> None:
    if junk and junk[-1][2] == steps_before:
        junk[-1][1] = end  # same gap between steps: one region, one error
    else:
        junk.append([start, end, steps_before])
