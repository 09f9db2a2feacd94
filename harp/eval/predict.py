"""Planning for robot code: `Planner.from_pretrained(path).plan(image, task)`.

A `Planner` holds a loaded model and answers one (image, task) at a time (or a batch) with a
`PlanResult`: the plan text, its steps, whether it is valid under the domain and its H-PRM
breakdown. `harp predict` prints the same.

Validity needs a scene. Given one (`scene=` a scene dict, or `reference=` a reference plan to infer
it from, as for teacher-labelled records), the plan is simulated from it and task completion is
exact; with a scene, a refusal (`Infeasible(Apple)`, harp/plan/refusal.py) is judged too: right
where the scene lacks what the task asks for, wrong where the task can be done. Without one, the
plan is checked against the scene inferred from the plan itself (docs/internals.md §1): format,
domain actions and preconditions are still checked (a `Place` with nothing held is invalid), but
nothing is known of the picture, so completion is not claimed (`completed` None) and a refusal is
not judged.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from harp.data.images import open_image
from harp.data.records import text_problem
from harp.errors import DataError
from harp.eval.constrained import plan_logits_processor
from harp.eval.metrics import failure_reason, passes
from harp.models.generate import generate_plans
from harp.models.load import load_model_and_processor
from harp.plan.loader import load_domain
from harp.plan.parser import parse_plan
from harp.rewards.hprm import HPRM, RewardWeights


@dataclass
class PlanResult:
    text: str  # the model's answer, one line
    steps: list[str]  # the parsed steps, as written ("Navigate(White Table)")
    valid: bool  # parses, uses domain actions, and every step's preconditions hold
    completed: bool | None  # valid and reaches the goal of the given scene; None without a scene
    failure: str | None  # one line saying why not, None for a complete optimal plan
    breakdown: object  # harp.rewards.hprm.RewardBreakdown
    scene_source: str  # "scene", "reference" or "plan itself"

    def to_dict(self) -> dict:
        return {
            "plan": self.text,
            "steps": self.steps,
            "valid": self.valid,
            "completed": self.completed,
            "failure": self.failure,
            "scene_source": self.scene_source,
            "hprm": self.breakdown.to_dict(),
        }


class Planner:
    """A loaded planner model with its domain and H-PRM scorer."""

    def __init__(
        self,
        model,
        processor,
        domain="navigate_pick_place",
        *,
        weights=None,
        constrained: bool = False,
        max_new_tokens: int = 128,
    ):

        self.model = model
        self.processor = processor
        self.domain = load_domain(domain)
        self.hprm = HPRM(self.domain, weights or RewardWeights())
        self.max_new_tokens = max_new_tokens
        self.logits_processor = None
        if constrained:
            self.logits_processor = plan_logits_processor(processor, self.domain, max_new_tokens)

    @classmethod
    def from_pretrained(
        cls,
        path: str | Path,
        domain="navigate_pick_place",
        *,
        constrained: bool = False,
        max_new_tokens: int = 128,
        weights=None,
        device: str | None = None,
    ) -> Planner:
        """Load a model directory (or hub id) as `harp.models.load` does; see the class for options."""
        model, processor = load_model_and_processor(path, device=device)
        return cls(model, processor, domain, weights=weights, constrained=constrained, max_new_tokens=max_new_tokens)

    def plan(self, image, task: str, *, scene: dict | None = None, reference=None) -> PlanResult:
        """Plan one task for one image (a PIL image or a path); greedy, deterministic."""
        return self.plan_batch([image], [task], scenes=[scene], references=[reference])[0]

    def plan_batch(
        self, images: list, tasks: list[str], *, scenes=None, references=None, batch_size: int = 4
    ) -> list[PlanResult]:
        """Plans for several (image, task) pairs, generated in batches."""
        for task in tasks:
            check_task(task)
        images = [open_image(image) for image in images]
        outputs = generate_plans(
            self.model,
            self.processor,
            images,
            list(tasks),
            self.domain,
            max_new_tokens=self.max_new_tokens,
            do_sample=False,
            temperature=1.0,
            top_p=1.0,
            num_return_sequences=1,
            logits_processor=self.logits_processor,
            batch_size=batch_size,
        )
        scenes = scenes or [None] * len(tasks)
        references = references or [None] * len(tasks)
        return [
            self.check(out[0], task, scene=scene, reference=reference)
            for out, task, scene, reference in zip(outputs, tasks, scenes, references)
        ]

    def check(self, text: str, task: str, *, scene: dict | None = None, reference=None) -> PlanResult:
        """Score a plan text (the model's or anyone's) under the domain; see the module docstring."""

        parsed = parse_plan(text)
        if scene is not None:
            example, source = {"task": task, "plan": reference or [], "scene": scene}, "scene"
        elif reference is not None:
            example, source = {"task": task, "plan": reference}, "reference"
        else:
            example, source = {"task": task, "plan": [str(s) for s in parsed.steps]}, "plan itself"
        breakdown = self.hprm.score(text, example)
        return PlanResult(
            text=text,
            steps=[str(s) for s in parsed.steps],
            valid=passes(breakdown.error_type, "state_transition"),
            completed=passes(breakdown.error_type, "task") if source != "plan itself" else None,
            failure=failure_reason(breakdown, parsed),
            breakdown=breakdown,
            scene_source=source,
        )


def check_task(task: str) -> None:
    """A task the processor can take, else a one-line DataError: a megabyte of task would take minutes
    to tokenise, a lone surrogate cannot be encoded, `<|image_pad|>` would count as another image."""
    problem = text_problem(task, None)
    if problem:
        raise DataError(f"task: {problem.split(' ', 1)[1]}")


def format_result(result: PlanResult) -> str:
    """What `harp predict` prints: the plan, validity, the H-PRM breakdown."""
    b = result.breakdown
    if result.completed is None:  # no scene: nothing is known of the picture
        what = "a refusal, not checked" if b.refused else "only form and consistency with itself checked"
        completed = f"not checked  ({what}; give --scene to check the plan against the scene)"
    else:
        completed = f"{'yes' if result.completed else 'no'}  (goal from the {result.scene_source})"
    lines = [
        f"plan:       {result.text}",
        f"valid:      {'yes' if result.valid else 'no'}" + (f"  ({result.failure})" if not result.valid else ""),
        f"completed:  {completed}",
        f"H-PRM:      total={b.total:+.3f}  format={b.format:+.3f}  action={b.action:+.3f}  "
        f"transition={b.transition:+.3f}  task={b.task:+.3f}  efficiency={b.efficiency:+.3f}",
    ]
    if result.failure and result.valid and result.completed is not None:
        lines.append(f"note:       {result.failure}")
    for index, (step, score) in enumerate(zip(b.steps, b.step_scores), start=1):
        reason = b.step_reasons[index - 1] if index - 1 < len(b.step_reasons) else None
        lines.append(f"  step {index}: {str(step):<28} {score:+.2f}" + (f"  {reason}" if reason else ""))
    return "\n".join(lines)
