"""Evaluation metrics, defined over H-PRM breakdowns so evaluation and the GRPO reward agree.

Each test sample is scored once by `HPRM.score` (the same code GRPO rewards with); the guide's six
metrics are then shares and means over those per-sample rows:

- format_accuracy: share of samples whose generated plan parses with no format error.
- action_accuracy: share of samples whose plan also uses only domain actions, each with an argument
  of the right kind that exists in the scene.
- transition_accuracy: share of samples whose plan also respects every step's preconditions when
  simulated from the scene's initial state.
- task_completion: share of samples whose plan also ends in a state that satisfies the task's goal.
- avg_steps: mean number of steps in the generated plans (steps the parser recovers; 0 when none).
- avg_reward: mean H-PRM total reward, in [-1, 1].

The four accuracies are nested on purpose (H-PRM's hierarchy, docs/internals.md §3): a sample counts at a
level only when every level below it holds, so they read as a funnel and are read off
`RewardBreakdown.error_type`, the first level that failed. The guide's own example lists a
transition accuracy above the action accuracy; independent per-level shares would allow that, but a
plan whose actions are invalid has no meaningful transitions, so we do not report them that way.

Refusals (harp/plan/refusal.py), where the test set holds tasks that cannot be done or the model
refused one: `refusal_precision` (share of the model's refusals whose task cannot be done),
`refusal_recall` (share of such tasks it refused), their `refusal_f1`, and
`feasible_task_completion` (task completion over the tasks that can be done). A refusal counts
whatever it names; naming the wrong thing still fails task completion. With no refusal, precision is
0 (as with scikit-learn's zero_division=0).

Beyond the guide: exact match (a clean parse whose steps equal the reference's) and step-level F1
against the reference plan (steps compared after normalising action and entity names; repaired
steps of a malformed plan still earn F1), and the same metrics broken down by error type, by task
kind (one or two objects; whether the task names where the object is), by the reference plan's length
(`by_plan_length`: long plans are where a process reward is expected to matter) and, where records
carry one, by task type (`by_task_type`: ALFRED's types in the kitchen world and ALFRED data).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable

from harp.plan.names import normalize_entity, task_names_sources
from harp.plan.parser import parse_plan
from harp.rewards.vocabulary import ALL_ERROR_TYPES, ERROR_TYPES, error_level

GUIDE_KEYS = ("format_accuracy", "action_accuracy", "transition_accuracy", "task_completion", "avg_steps", "avg_reward")

_LEVEL_OF_METRIC = {
    "format_accuracy": "format",
    "action_accuracy": "action",
    "transition_accuracy": "state_transition",
    "task_completion": "task",
}


def passes(error_type: str | None, level: str) -> bool:
    """Whether a sample whose first failed H-PRM level is `error_type` holds at `level`."""
    if error_type is None:
        return True
    return error_level(error_type) > ERROR_TYPES.index(level)


def normalized_steps(plan, domain) -> list[tuple[str, str]]:
    """(action, entity) pairs of a plan (text or list of steps), in the domain's canonical spelling."""
    return [
        (domain.canonical_action(step.action) or step.action, normalize_entity(step.argument))
        for step in parse_plan(plan).steps
    ]


def step_f1(predicted: list, reference: list) -> float:
    """F1 of the multiset of predicted steps against the reference steps (order ignored).

    Two empty plans agree (1.0); one empty plan against a non-empty one scores 0.
    """
    if not predicted and not reference:
        return 1.0
    overlap = sum((Counter(predicted) & Counter(reference)).values())
    if overlap == 0:
        return 0.0
    precision, recall = overlap / len(predicted), overlap / len(reference)
    return 2 * precision * recall / (precision + recall)


def failure_reason(breakdown, parsed=None) -> str | None:
    """One line saying why a plan fell short, or None for an optimal, complete plan."""
    kind = breakdown.error_type
    if kind is None:
        return None
    if kind == "format":
        errors = parsed.errors if parsed is not None else ()
        detail = errors[0].message if errors else "plan does not parse"
        return f"format: {detail}"
    if kind == "refusal":
        return f"refusal: the task can be done ({breakdown.known_length} steps)"
    if kind in ("action", "hallucination", "state_transition"):
        for index, reason in enumerate(breakdown.step_reasons):
            if reason:
                step = breakdown.steps[index] if index < len(breakdown.steps) else None
                written = f" {step}" if step is not None else ""
                return f"{kind}: step {index + 1}{written}: {reason}"
        return f"{kind}: a step is invalid"
    if kind == "task":
        reason = next((r for r in breakdown.step_reasons if r), None)  # a refusal naming what is there
        return f"task: {reason}" if reason else "task: the plan ends before the goal is reached"
    return f"inefficient: {breakdown.plan_length} steps where {breakdown.known_length} suffice"


def task_kind(record: dict, scene=None) -> tuple[int | None, bool | None]:
    """(number of objects to move, whether the task names where they start) for the by-kind tables.

    Synthetic records carry both in `meta`; for others the count comes from the scene's goal and
    "source named" from whether the task sentence mentions an object's starting location.
    """
    meta = record.get("meta") or {}
    num_objects = meta.get("num_objects")
    source_named = meta.get("source_named")
    if scene is not None:
        if num_objects is None:
            num_objects = len(scene.goal)
        if source_named is None:
            source_named = task_names_sources(record["task"], scene)
    return num_objects, source_named


def tables_of(scene) -> list[str]:
    """The places objects can start on: locations named "... table" and wherever an object lies."""
    named = [place for place in scene.locations if place == "table" or place.endswith(" table")]
    return list(dict.fromkeys(named + list(scene.objects.values())))


def shortcut_baselines(scene, source_named: bool | None) -> dict[str, float | None]:
    """Chance that a planner right about everything but *where the objects are* completes the task.

    - `uniform`: it guesses each moved object's table uniformly among the scene's tables;
    - `most_loaded`: it goes to the table holding the most objects (ties shared evenly), the
      shortcut a model can learn without knowing which object lies where.
    A task that names the source needs no guess (1.0); None without a scene. These put image-only
    accuracy in context: a model at these figures has not looked the objects up in the picture.
    """
    if scene is None:
        return {"uniform": None, "most_loaded": None}
    if source_named:
        return {"uniform": 1.0, "most_loaded": 1.0}
    tables = tables_of(scene)
    load = Counter(scene.objects.values())
    top = max((load[t] for t in tables), default=0)
    busiest = [t for t in tables if load[t] == top]
    uniform = most_loaded = 1.0
    for obj in scene.goal:
        start = scene.objects.get(obj)
        uniform *= 1.0 / len(tables) if start in tables else 0.0
        most_loaded *= (1.0 / len(busiest)) if start in busiest else 0.0
    return {"uniform": uniform, "most_loaded": most_loaded}


def sample_row(record: dict, prediction: str, breakdown, domain, scene=None) -> dict:
    """The per-sample predictions-file row: task, reference, prediction, H-PRM breakdown, failure."""
    parsed = parse_plan(prediction)
    reference = record["plan"] if isinstance(record["plan"], list) else [record["plan"]]
    predicted_steps = normalized_steps(prediction, domain)
    reference_steps = normalized_steps(reference, domain)
    num_objects, source_named = task_kind(record, scene)
    return {
        "id": record.get("id"),
        "image": record["image"],
        "task": record["task"],
        "reference": reference,
        "prediction": prediction,
        "error_type": breakdown.error_type,
        "failure": failure_reason(breakdown, parsed),
        "completed": passes(breakdown.error_type, "task"),
        "infeasible": breakdown.infeasible,
        "refused": breakdown.refused,
        "plan_length": breakdown.plan_length,
        "total": breakdown.total,
        "exact_match": parsed.ok and predicted_steps == reference_steps,
        "step_f1": step_f1(predicted_steps, reference_steps),
        "num_objects": num_objects,
        "source_named": source_named,
        "task_type": (record.get("meta") or {}).get("task_type"),
        "baselines": shortcut_baselines(scene, source_named),
        "hprm": breakdown.to_dict(),
    }


def _mean(values: Iterable[float]) -> float:
    values = list(values)
    return sum(values) / len(values) if values else 0.0


def summarize(rows: list[dict]) -> dict:
    """The guide's six metrics over per-sample rows, in the guide's order, rounded to 4 places."""
    metrics = {
        key: _mean(1.0 if passes(row["error_type"], level) else 0.0 for row in rows)
        for key, level in _LEVEL_OF_METRIC.items()
    }
    metrics["avg_steps"] = _mean(row["plan_length"] for row in rows)
    metrics["avg_reward"] = _mean(row["total"] for row in rows)
    return {key: round(metrics[key], 4) for key in GUIDE_KEYS}


REFUSAL_KEYS = ("refusal_precision", "refusal_recall", "refusal_f1", "feasible_task_completion", "infeasible_tasks")


def refusal_summary(rows: list[dict]) -> dict:
    """The refusal metrics (module docstring); {} when no task is infeasible and no plan refuses."""
    infeasible = [bool(row.get("infeasible")) for row in rows]
    refused = [bool(row.get("refused")) for row in rows]
    if not any(infeasible) and not any(refused):
        return {}
    hits = sum(i and r for i, r in zip(infeasible, refused))
    precision = hits / sum(refused) if any(refused) else 0.0
    recall = hits / sum(infeasible) if any(infeasible) else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    feasible = [row for row, i in zip(rows, infeasible) if not i]
    completion = _mean(1.0 if passes(row["error_type"], "task") else 0.0 for row in feasible)
    values = (precision, recall, f1, completion, sum(infeasible))
    return {key: round(value, 4) if key != "infeasible_tasks" else value for key, value in zip(REFUSAL_KEYS, values)}


def kind_label(num_objects, source_named) -> str:
    """'1 object, source named' / '2 objects, source not named' / '... unknown'."""
    objects = "? objects" if num_objects is None else f"{num_objects} object{'s' if num_objects != 1 else ''}"
    named = {True: "source named", False: "source not named", None: "source unknown"}[source_named]
    return f"{objects}, {named}"


SHORTCUT_WRONG = "image only, most-loaded table wrong"
LONG_PLAN = 10  # steps: from here a plan counts as long (the reward ablation's "plans of >= 10 steps")
PLAN_LENGTHS = ((1, 4), (5, LONG_PLAN - 1), (LONG_PLAN, None))  # by_plan_length's bins of the reference's length


def plan_length_label(steps: int) -> str:
    """'1-4 steps', '5-9 steps' or '10+ steps': the bin of a reference plan's length."""
    for low, high in PLAN_LENGTHS:
        if steps >= low and (high is None or steps <= high):
            return f"{low}+ steps" if high is None else f"{low}-{high} steps"
    return "0 steps"


def kind_summary(group: list[dict]) -> dict:
    """A task kind's metrics, with the two shortcut baselines' mean beside them (None without scenes)."""
    result = {"num_samples": len(group), **summarize(group)}
    for name in ("uniform", "most_loaded"):
        values = [(row.get("baselines") or {}).get(name) for row in group]
        known = [v for v in values if v is not None]
        result[f"baseline_{name}"] = round(_mean(known), 4) if known and len(known) == len(values) else None
    return result


def details(rows: list[dict]) -> dict:
    """Everything beyond the guide's keys: exact match, step F1, by error type, by task kind.

    Task kinds come with the shortcut baselines (`shortcut_baselines`), plus one extra group: the
    image-only tasks where the most-loaded-table shortcut certainly fails, where only looking the
    object up in the picture succeeds.
    """
    errors = Counter(row["error_type"] or "none" for row in rows)
    by_kind: dict[str, list[dict]] = {}
    for row in sorted(rows, key=lambda r: (r["num_objects"] or 0, r["source_named"] is not True)):
        by_kind.setdefault(kind_label(row["num_objects"], row["source_named"]), []).append(row)
    shortcut_wrong = [
        row for row in rows if row["source_named"] is False and (row.get("baselines") or {}).get("most_loaded") == 0.0
    ]
    if shortcut_wrong:
        by_kind[SHORTCUT_WRONG] = shortcut_wrong
    by_length: dict[str, list[dict]] = {}
    for row in sorted((row for row in rows if "reference" in row), key=lambda r: len(r["reference"])):
        by_length.setdefault(plan_length_label(len(row["reference"])), []).append(row)
    by_type: dict[str, list[dict]] = {}
    for row in sorted(rows, key=lambda r: r.get("task_type") or ""):
        if row.get("task_type"):
            by_type.setdefault(row["task_type"], []).append(row)
    return {
        "num_samples": len(rows),
        "exact_match": round(_mean(1.0 if row["exact_match"] else 0.0 for row in rows), 4),
        "step_f1": round(_mean(row["step_f1"] for row in rows), 4),
        "by_error_type": {
            kind: {"count": errors[kind], "share": round(errors[kind] / len(rows), 4)}
            for kind in ("none", *ALL_ERROR_TYPES)
            if errors[kind]
        },
        "by_task_kind": {label: kind_summary(group) for label, group in by_kind.items()},
        "by_plan_length": {
            label: {"num_samples": len(group), **summarize(group)} for label, group in by_length.items()
        },
        "by_task_type": {label: {"num_samples": len(group), **summarize(group)} for label, group in by_type.items()},
    }
