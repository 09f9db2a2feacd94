"""Teacher-like label noise for synthetic records (`harp data build --source synthetic --label-noise P`).

A teacher VLM's plans are not all right, and the build cannot catch the mistakes that stay
self-consistent: its check simulates a plan against the scene *inferred from that plan*, so a plan
that goes to the wrong table, takes a detour or puts an object in the wrong receptacle passes. With
`--label-noise P` a share P of the synthetic plans carries one such mistake, of one of four kinds:

- `wrong_table`: an object is fetched from another table (only for tasks that do not name the
  table: a teacher misreads the picture, not the sentence);
- `redundant_step`: a detour, a `Navigate` to a place the plan has no business at;
- `wrong_order`: the two objects of a two-object task moved in the other order than the task names;
- `wrong_receptacle`: an object placed somewhere other than the task's destination;
- `never_refuses`: a task that cannot be done (`harp data build --infeasible`) gets a confident
  plan, as if what the picture lacks were there (`confident_plan`), instead of its refusal.

Each noisy record keeps its true `scene` (H-PRM's reward and evaluation use it), so GRPO can see
what SFT was taught wrong; `meta.label_noise` names the kind. `--label-noise-kinds` restricts the
mistakes to some kinds: a teacher with one blind spot (e.g. `wrong_table`: it misreads which table
holds an object) errs on a share P of the records where that mistake can happen, and the rest stay
clean. Such a mistake is systematic: above P = 0.5 it is what SFT learns to do. Every noisy plan
passes the teacher build's own check (it completes the scene inferred from it), so the noise is exactly what
that check misses. Deterministic: the same (seed, scene index) gives the same noise.
"""

from __future__ import annotations

import random

from harp.data.build import check_plan
from harp.plan.names import display_name, normalize_entity

KINDS = ("wrong_table", "redundant_step", "wrong_order", "wrong_receptacle", "never_refuses")


def _blocks(plan: list[str]) -> list[list[str]]:
    """The plan cut into its per-object blocks: Navigate(source), Pick, Navigate(destination), Place."""
    return [plan[i : i + 4] for i in range(0, len(plan), 4)]


def _argument(step: str) -> str:
    return step[step.index("(") + 1 : -1]


def _applicable(record: dict, plan: list[str]) -> list[str]:
    meta = record.get("meta") or {}
    scene = record["scene"]
    if scene.get("missing"):  # a refusal: the only mistake is not to refuse
        return ["never_refuses"]
    tables = [p for p in scene["locations"] if p.endswith("table")]
    kinds = ["redundant_step"]
    if not meta.get("source_named") and len(tables) > 1:
        kinds.append("wrong_table")
    if len(plan) == 8 and len(scene["goal"]) == 2:
        kinds.append("wrong_order")
    if len(scene["locations"]) > 2:
        kinds.append("wrong_receptacle")
    return [kind for kind in KINDS if kind in kinds]


def noisy_plan(record: dict, kind: str, rng: random.Random) -> list[str]:
    """The record's plan with one mistake of `kind` (see the module docstring)."""
    check_kinds(kind)
    plan = list(record["plan"])
    scene = record["scene"]
    if kind == "never_refuses":
        return confident_plan(scene, rng)
    blocks = _blocks(plan)
    if kind == "wrong_order":
        return blocks[1] + blocks[0]
    block = rng.randrange(len(blocks))
    navigate_source, pick, navigate_destination, place = blocks[block]
    if kind == "wrong_table":
        source = normalize_entity(_argument(navigate_source))
        others = [p for p in scene["locations"] if p.endswith("table") and p != source]
        blocks[block][0] = f"Navigate({display_name(rng.choice(sorted(others)))})"
    elif kind == "wrong_receptacle":
        destination = normalize_entity(_argument(place))
        source = normalize_entity(_argument(navigate_source))
        others = [p for p in scene["locations"] if p not in (destination, source)]
        wrong = display_name(rng.choice(sorted(others)))
        blocks[block][2], blocks[block][3] = f"Navigate({wrong})", f"Place({wrong})"
    else:  # redundant_step
        # a detour before one of the block's two Navigate steps, to a place neither here nor there
        at = rng.choice((0, 2))
        before = (
            "start"
            if block == 0 and at == 0
            else normalize_entity(_argument(blocks[block][at - 1] if at else blocks[block - 1][3]))
        )
        target = normalize_entity(_argument(blocks[block][at]))
        others = [p for p in scene["locations"] if p not in (before, target)]
        blocks[block].insert(at, f"Navigate({display_name(rng.choice(sorted(others)))})")
    return [step for b in blocks for step in b]


def confident_plan(scene: dict, rng: random.Random) -> list[str]:
    """The plan a teacher that never refuses writes for a task that cannot be done: each object the
    task asks for fetched from where it lies (a table, guessed, when it is missing) and put where
    the task says, whatever the picture lacks."""
    tables = sorted(p for p in scene["locations"] if p.endswith("table"))
    plan = []
    for obj, destination in scene["goal"].items():
        source = scene["objects"].get(obj) or rng.choice(tables)
        plan += [
            f"Navigate({display_name(source)})",
            f"Pick({display_name(obj)})",
            f"Navigate({display_name(destination)})",
            f"Place({display_name(destination)})",
        ]
    return plan


def check_kinds(kinds) -> tuple[str, ...]:
    """`kinds` (one name or several) as a tuple, or a ValueError naming the unknown kind."""
    kinds = (kinds,) if isinstance(kinds, str) else tuple(kinds)
    for kind in kinds:
        if kind not in KINDS:
            raise ValueError(f"unknown label-noise kind {kind!r}; expected one of {', '.join(KINDS)}")
    if not kinds:
        raise ValueError(f"label-noise kinds: name at least one of {', '.join(KINDS)}")
    return kinds


def add_label_noise(record: dict, share: float, rng: random.Random, domain, kinds: tuple[str, ...] = KINDS) -> dict:
    """The record, with a noisy plan and `meta.label_noise` for a share `share` of records (drawn by `rng`).

    Only mistakes of `kinds` are made; a record where none of them applies stays clean. (With every
    kind, one always applies: `redundant_step`.)

    A noisy plan that the teacher build's check (`harp.data.build.check_plan`) would reject is not
    used: the record stays clean. That does not happen with the
    synthetic world's plans, but the check keeps the promise above true for any domain.
    """
    if share <= 0 or rng.random() >= share:
        return record
    applicable = [kind for kind in _applicable(record, record["plan"]) if kind in kinds]
    if not applicable:
        return record
    kind = rng.choice(applicable)
    plan = noisy_plan(record, kind, rng)

    if check_plan(plan, domain).reason is not None:
        return record
    meta = dict(record.get("meta") or {}, label_noise=kind)
    return {**record, "plan": plan, "meta": meta}
