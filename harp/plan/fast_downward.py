"""Fast Downward as the optimal planner where HARP's own search cannot certify a fact scene's optimum.

HARP's search (harp/plan/planner.py) is exact within counted budgets; ALFWorld's rooms (hundreds of
objects, thirty places to go) pass them, and the optimum from the start is then only estimated. Fast
Downward (Helmert, JAIR 2006; GPL-3.0; the `up-fast-downward` wheel ships it compiled, so nothing is
built or downloaded) finds it with A* and the admissible LM-cut heuristic, in well under a second
for an ALFWorld game. It runs as a separate process on PDDL written from the scene:

- the domain: the fact domain's own PDDL file with only the actions its plan words use (so one
  action is one step, as HARP counts), and one more action, `harp-reach-goal`, whose precondition is
  the scene's goal (existential formulas included; Fast Downward would turn a quantified goal into
  an axiom, which LM-cut does not support); the names the goal uses become constants;
- the problem: the scene's entities, its initial and static facts, and the goal `(harp-goal-reached)`.

The optimum is the plan's length minus that last action. Domains with derived predicates or
conditional effects are left out (LM-cut supports neither). `optimal_length` says None when Fast Downward is not installed,
fails or runs out of time: the caller keeps its estimate. tests/plan/test_fast_downward.py checks its
answer against HARP's on the ALFWorld games HARP's search certifies.
"""

from __future__ import annotations

import importlib.util
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

from harp.files import read_text
from harp.plan.facts import formula_as_lists

SEARCH = "astar(lmcut())"
TIMEOUT_S = 60.0
GOAL_ACTION, GOAL_FACT = "harp-reach-goal", "harp-goal-reached"
_UNSOLVABLE = (11, 12)  # Fast Downward's exit codes: the task is provably unsolvable
_NAME = re.compile(r"[^a-z0-9_-]")


def driver() -> Path | None:
    """The `fast-downward.py` driver of the installed `up-fast-downward` wheel (not imported), or None."""
    spec = importlib.util.find_spec("up_fast_downward")
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(next(iter(spec.submodule_search_locations))) / "downward" / "fast-downward.py"
    return path if path.is_file() else None


def can_read(spec) -> bool:
    """Whether Fast Downward is installed and its LM-cut search takes the domain (no derived
    predicates, no conditional effects)."""
    conditional = any(schema.conditional for word in spec.words.values() for schema in word.schemas)
    return driver() is not None and not spec.derived and not conditional


def optimal_length(scene, spec, timeout: float = TIMEOUT_S) -> tuple[bool, int | None]:
    """(certified, the optimal number of steps from the scene's start; None when no plan exists).
    (False, None) when Fast Downward cannot answer: not installed, a domain with derived predicates
    or conditional effects, a name PDDL cannot hold, a failure or the time limit."""
    if not can_read(spec):
        return False, None
    program = driver()
    task = pddl_task(scene, spec)
    if task is None:
        return False, None
    with tempfile.TemporaryDirectory(prefix="harp-fd-") as folder:
        work = Path(folder)
        (work / "domain.pddl").write_text(task[0], encoding="utf-8")
        (work / "problem.pddl").write_text(task[1], encoding="utf-8")
        command = [sys.executable, str(program), "--plan-file", "plan", "domain.pddl", "problem.pddl"]
        try:
            done = subprocess.run(
                [*command, "--search", SEARCH],
                cwd=work,
                capture_output=True,
                timeout=timeout,
                env={**os.environ, "PYTHONPATH": ""},
            )
        except (OSError, subprocess.TimeoutExpired):
            return False, None
        if done.returncode in _UNSOLVABLE:
            return True, None
        plan = work / "plan"
        if done.returncode != 0 or not plan.is_file():
            return False, None
        steps = [line for line in plan.read_text(encoding="utf-8").splitlines() if line.strip()[:1] == "("]
    return True, len(steps) - 1  # less the goal action


def pddl_task(scene, spec) -> tuple[str, str] | None:
    """(domain text, problem text) for a fact scene; None when a name cannot be written in PDDL."""
    names = {name: _pddl_name(name) for name in scene.entities}
    if len(set(names.values())) != len(names) or not all(names.values()):
        return None
    constants = set(spec.constants)
    goal_lists = _goal_lists(scene)
    goal = _sexpr(goal_lists, names)
    in_goal = sorted({names[n] for n in _leaves(goal_lists) & set(scene.entities)} - constants)
    types = {names[n]: t for n, t in scene.entities.items()}
    domain = _domain_text(spec, " ".join(f"{n} - {types[n]}" for n in in_goal), goal)
    objects = " ".join(f"{n} - {t}" for n, t in types.items() if n not in constants and n not in in_goal)
    facts = " ".join(_sexpr(list(f), names) for f in sorted(scene.statics | scene.initial))
    problem = (
        f"(define (problem harp) (:domain {_domain_name(spec)})\n (:objects {objects})\n (:init {facts})\n"
        f" (:goal ({GOAL_FACT})))\n"
    )
    return domain, problem


def _pddl_name(name: str) -> str:
    text = _NAME.sub("_", name.lower().replace(" ", "_"))
    return text if text[:1].isalpha() else f"e_{text}"


def _sexpr(item, names: dict) -> str:
    """Nested lists as PDDL text, entity names written as PDDL names."""
    if isinstance(item, list):
        return "(" + " ".join(_sexpr(x, names) for x in item) + ")"
    return names.get(item, item)


def _goal_lists(scene) -> list:
    """The scene's goal as the nested lists its scene JSON writes, one conjunction."""
    parts = [list(f) for f in scene.goal_true] + [["not", list(f)] for f in scene.goal_false]
    if scene.goal_formula is not None:
        parts.append(formula_as_lists(scene.goal_formula))
    return ["and", *parts]


def _leaves(item) -> set:
    return set().union(*map(_leaves, item)) if isinstance(item, list) else {item}


def _domain_name(spec) -> str:
    match = re.search(r"\(\s*domain\s+([^\s()]+)", _code(spec), re.IGNORECASE)
    return match[1] if match else spec.name


def _code(spec) -> str:
    return re.sub(r";[^\n]*", "", read_text(spec.path, "PDDL domain"))


def _domain_text(spec, goal_constants: str, goal: str) -> str:
    """The domain file with only the plan words' actions, the goal's names as constants and the goal action."""
    used = {schema.name.lower() for word in spec.words.values() for schema in word.schemas}
    code, kept, at = _code(spec), [], 0
    for match in re.finditer(r"\(\s*:action\s+([^\s()]+)", code, re.IGNORECASE):
        if match.start() < at:
            continue
        end = _closing(code, match.start())
        kept.append(code[at : match.start()])
        if match[1].lower() in used:
            kept.append(code[match.start() : end])
        at = end
    kept.append(code[at:])
    text = "".join(kept).rstrip()
    if not text.endswith(")"):
        raise ValueError(f"{spec.path}: the domain does not end with ')'")
    if re.search(r"\(:constants", text, re.IGNORECASE):
        text = re.sub(r"\(:constants", f"(:constants {goal_constants}", text, count=1, flags=re.IGNORECASE)
    else:
        text = re.sub(r"\(:predicates", f"(:constants {goal_constants})\n (:predicates", text, count=1, flags=re.I)
    text = re.sub(r"\(:predicates", f"(:predicates ({GOAL_FACT})", text, count=1, flags=re.IGNORECASE)
    action = f" (:action {GOAL_ACTION} :parameters () :precondition {goal} :effect ({GOAL_FACT}))\n"
    return text[:-1] + action + ")\n"


def _closing(text: str, start: int) -> int:
    """The index after the parenthesis that closes the one at `start`."""
    depth = 0
    for index in range(start, len(text)):
        if text[index] == "(":
            depth += 1
        elif text[index] == ")":
            depth -= 1
            if depth == 0:
                return index + 1
    raise ValueError("unbalanced parentheses")
