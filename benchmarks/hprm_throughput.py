"""H-PRM throughput: score a mix of 10,000 plans on one core and print plans/s.

    .venv/bin/python benchmarks/hprm_throughput.py [--plans 10000] [--scenes 200] [--seed 0]

The mix, over random tabletop scenes (half with a ground-truth `scene`, half teacher-style with
only a reference plan): optimal plans, redundant ones, broken transitions (steps swapped or
dropped), invalid actions or entities, format errors (a comma or parenthesis removed) and garbage
text. Three figures:

- cold:   fresh caches; every scene is planned the first time it is seen (evaluation's regime);
- steady: scenes already planned, every completion parsed afresh (GRPO's regime: each prompt's
          scene is scored num_candidates times per step, the completions differ);
- cached: the same completions again (parse cache warm).

Rates are plans per CPU second of this (single-threaded, one-core) process, which is what
wall time gives on an idle core; on a busy shared machine wall time would also count other jobs.
The aim is >= 30,000 plans/s on the guide's world in the steady regime. Then ALFWorld's real games
(`--alfworld-games N`, default 10): the cold time a problem (its search) and the steady rate over the
walkthroughs and mutated plans of those games; the aim there is >= 10,000 plans/s and <= 2 s cold.
Not a test: nothing is asserted.
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from harp.plan import (  # noqa: E402
    Domain,
    GuideScene,
    load_domain,
    optimal_plan,
    planner,  # noqa: E402
)
from harp.plan import parser as plan_parser  # noqa: E402
from harp.rewards.hprm import HPRM  # noqa: E402

TABLES = ["white table", "red table", "wooden table", "blue table", "counter", "shelf"]
RECEPTACLES = ["basket", "box", "bowl", "tray", "bin"]
OBJECTS = ["apple", "cup", "banana", "sponge", "pear", "spoon", "ball", "block"]


def make_record(rng: random.Random, domain: Domain) -> dict:
    tables = rng.sample(TABLES, rng.randint(2, 4))
    receptacles = rng.sample(RECEPTACLES, rng.randint(1, 2))
    objects = {obj: rng.choice(tables) for obj in rng.sample(OBJECTS, rng.randint(1, 3))}
    goal = {obj: rng.choice(receptacles) for obj in rng.sample(list(objects), rng.randint(1, min(2, len(objects))))}
    scene = {"robot": "start", "locations": tables + receptacles, "objects": objects, "goal": goal}
    plan = optimal_plan(GuideScene.from_dict(scene), domain)
    record = {"image": "x.png", "task": "t", "plan": plan}
    if rng.random() < 0.5:
        record["scene"] = scene
    return record


def make_plan(rng: random.Random, record: dict) -> str:
    steps = list(record["plan"])
    kind = rng.random()
    if kind < 0.25:  # optimal, with varied spacing and case
        return rng.choice([", ", ",", " , "]).join(s if rng.random() < 0.8 else s.lower() for s in steps)
    if kind < 0.45:  # redundant: a repeated or detour step
        i = rng.randrange(len(steps))
        steps.insert(i, rng.choice([steps[i], f"Navigate({rng.choice(TABLES).title()})"]))
    elif kind < 0.65:  # broken transition: swap two steps or drop one
        if len(steps) > 1 and rng.random() < 0.5:
            i, j = rng.sample(range(len(steps)), 2)
            steps[i], steps[j] = steps[j], steps[i]
        else:
            steps.pop(rng.randrange(len(steps)))
    elif kind < 0.80:  # invalid action or entity
        i = rng.randrange(len(steps))
        steps[i] = rng.choice(
            [
                f"Grab({rng.choice(OBJECTS).title()})",
                f"Pick({rng.choice(RECEPTACLES).title()})",
                f"Navigate({rng.choice(OBJECTS).title()})",
            ]
        )
    elif kind < 0.90:  # format: a comma or a parenthesis missing
        text = ", ".join(steps)
        cut = rng.choice([i for i, c in enumerate(text) if c in ",)"])
        return text[:cut] + text[cut + 1 :]
    else:  # garbage
        alphabet = "abcdefghijklmnopqrstuvwxyz ABCDEFG(),.:\n"
        return "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 80)))
    return ", ".join(steps) + ("" if rng.random() < 0.9 else f"  #{rng.randint(0, 10**6)}")


def run(hprm: HPRM, pairs: list[tuple[str, dict]]) -> float:
    """Plans per CPU second of this process (on a shared machine wall time also counts other jobs)."""
    start = time.process_time()
    for text, record in pairs:
        hprm.score(text, record)
    return len(pairs) / (time.process_time() - start)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--plans", type=int, default=10_000)
    parser.add_argument("--scenes", type=int, default=200)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--alfworld-games", type=int, default=10, help="ALFWorld games to score too (0: none)")
    args = parser.parse_args(argv)
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})  # one core
    domain = load_domain("navigate_pick_place")
    rng = random.Random(args.seed)
    records = [make_record(rng, domain) for _ in range(args.scenes)]
    pairs = [(make_plan(rng, record), record) for record in (rng.choice(records) for _ in range(args.plans))]
    distinct = len({text for text, _ in pairs})

    planner.search.cache_clear()
    plan_parser._parse_text.cache_clear()
    cold = run(HPRM(domain), pairs)
    hprm = HPRM(domain)
    run(hprm, pairs)  # warm the scene caches
    plan_parser._parse_text.cache_clear()
    steady = run(hprm, pairs)
    cached = run(hprm, pairs)
    errors = {}
    for text, record in pairs:
        kind = hprm.score(text, record).error_type or "optimal"
        errors[kind] = errors.get(kind, 0) + 1
    print(f"{args.plans} plans ({distinct} distinct texts) over {args.scenes} scenes, one core")
    print("mix: " + ", ".join(f"{k} {v}" for k, v in sorted(errors.items())))
    print(f"cold   (scenes planned on first sight): {cold:10,.0f} plans/s")
    print(f"steady (scenes cached, parse uncached): {steady:10,.0f} plans/s   aim >= 30,000 (the guide's world)")
    print(f"cached (same completions again):        {cached:10,.0f} plans/s")
    if args.alfworld_games:
        alfworld(args.alfworld_games)


def alfworld(games: int) -> None:
    """ALFWorld's real games: the walkthroughs and mutated plans of benchmarks/data/alfworld_verdicts.jsonl
    for the first `games` games, scored against the imported scenes (existential goals, 237-357 objects)."""
    import json

    from harp.data.alfworld_import import alfworld_records

    root = Path(__file__).resolve().parents[1]
    records = {r["id"]: r for r in alfworld_records([root / "tests" / "data" / "alfworld"])}
    rows = [json.loads(line) for line in (root / "benchmarks" / "data" / "alfworld_verdicts.jsonl").open()]
    chosen = list(dict.fromkeys(row["game"] for row in rows))[:games]
    pairs = [(", ".join(row["plan"]), records[row["game"]]) for row in rows if row["game"] in chosen]
    hprm = HPRM("alfworld")
    colds, exact = [], 0
    for game in chosen:
        start = cpu_seconds()
        exact += hprm.score(records[game]["plan"], records[game]).exact
        colds.append(cpu_seconds() - start)
    run(hprm, pairs)
    plan_parser._parse_text.cache_clear()
    steady = run(hprm, pairs)
    print(
        f"ALFWorld, {len(chosen)} games, {len(pairs)} plans: cold {sum(colds) / len(colds):.1f} s a problem "
        f"(worst {max(colds):.1f} s; optimum certified for {exact}); steady {steady:10,.0f} plans/s   "
        f"aim >= 10,000, cold <= 2 s"
    )


def cpu_seconds() -> float:
    """CPU time of this process and of its finished children (Fast Downward runs as one)."""
    times = os.times()
    return times.user + times.system + times.children_user + times.children_system


if __name__ == "__main__":
    main()
