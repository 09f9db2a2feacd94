"""ALFWorld's own engine as the judge of HARP plans (issue 25, item 2): walkthroughs and mutated plans.

ALFWorld (`alfworld` + `textworld`) is not a HARP dependency: it builds its Fast Downward fork from
source (about 4 minutes, the machine's cmake and g++). Install it into a venv of its own, once:

    python3 -m venv /tmp/alfworld-venv && /tmp/alfworld-venv/bin/pip install alfworld==0.4.2 textworld==1.7.0

then, from HARP's venv (this script runs the engine in that venv as a subprocess):

    .venv/bin/python benchmarks/alfworld_engine.py [--engine-python /tmp/alfworld-venv/bin/python] [--minutes 30]
    .venv/bin/python benchmarks/alfworld_engine.py --compare     # HARP against the verdicts (no engine needed)

For every game (default: the 99 of tests/data/alfworld) it writes the walkthrough and its mutations
(`mutations`: dropped, swapped, repeated and inserted steps, another instance of the same kind, a
wrong receptacle, a missing Open; deterministic for a `--seed`) as HARP plans, turns each into
ALFWorld commands (harp.data.alfworld_import.to_alfworld_commands), and runs them through the
engine, stopping at the first command it rejects ("Nothing happens."): the engine ignores a
rejected command and goes on, so a plan with a bogus step could still win. One JSONL row per plan
in `--out` (default benchmarks/data/alfworld_verdicts.jsonl):

    {"game", "kind", "plan": [HARP steps], "commands": [ALFWorld commands],
     "rejected": index of the first rejected command or null,
     "won": the goal holds where the engine stopped (after the last accepted command),
     "won_at": how many commands had run when the goal first held (ALFWorld ends its episode there), or null}

A plan is complete for the engine when `rejected` is null and `won` is true. Rows are appended one
by one (fsync'd); a rerun skips the plans already judged (by game and plan), so a killed or
`--minutes`-limited run resumes. A progress line per game and a summary at the end.

Speed: the engine as shipped re-translates the PDDL on every reset (about 1.8 s) and writes out every
admissible command after each step (0.2 s or more). The worker keeps the translation of a game and
writes out a command only for the actions whose template could produce it, caching the text (the
templates read only names and static facts); `--exact` runs the engine unchanged instead, to check
that both give the same verdicts. Measured here (2 shared cores): the 2,228 plans of the committed
file in 5 min (3 min of CPU); `--exact` takes about 2 s a plan.

`--compare` scores every judged plan with H-PRM (`completed` and the first invalid step against the
engine's: the goal is the problem's own existential formula, read by the fact core), lists every
disagreement, and counts the walkthroughs H-PRM finds valid, complete and optimal.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
GAMES = ROOT / "tests" / "data" / "alfworld"
VERDICTS = ROOT / "benchmarks" / "data" / "alfworld_verdicts.jsonl"
REJECTED = "Nothing happens."
KINDS = (
    "walkthrough",
    "dropped",
    "swapped",
    "repeated",
    "inserted",
    "other_instance",
    "wrong_receptacle",
    "missing_open",
)


# ------------------------------------------------------------------ the engine (ALFWorld's venv)


def worker(exact: bool) -> None:
    """Judge plans read from stdin, one game a line ({"game", "data", "plans": [[key, commands]]});
    write one line per plan ({"key", "rejected", "won", "won_at"}). Imports only ALFWorld's packages."""
    import functools

    import fast_downward
    import textworld
    from alfworld.agents.environment.alfred_tw_env import AlfredDemangler
    from textworld.envs.pddl import PddlEnv, logic

    if not exact:  # translate each game once: the translation depends only on the domain and problem
        logic.fast_downward.pddl2sas = functools.lru_cache(maxsize=2)(fast_downward.pddl2sas)
    for line in sys.stdin:
        request = json.loads(line)
        pddl = PddlEnv(textworld.EnvInfos(won=True))
        env = AlfredDemangler(pddl)  # ALFWorld's names (`newspaper 2`), as its own environment uses
        env.load(request["data"])
        judge = (lambda commands: _judge_exact(env, commands)) if exact else _Lazy(pddl, logic).judge
        for key, commands in request["plans"]:
            print(json.dumps({"key": key, **judge(commands)}), flush=True)


def _judge_exact(env, commands: list) -> dict:
    state, won_at, rejected = env.reset(), None, None
    for index, command in enumerate(commands):
        state, _, _ = env.step(command)
        if state.feedback.strip() == REJECTED:
            rejected = index
            break
        if state["won"] and won_at is None:
            won_at = index + 1
    return {"rejected": rejected, "won": bool(env.state["won"]), "won_at": won_at}


class _Lazy:
    """The steps of textworld's PddlEnv.step, without writing out every admissible command: a command
    is matched against the applicable actions in the engine's order, as PddlEnv matches it against
    the list it writes out, each action's text derived by the engine's own grammar, once."""

    def __init__(self, pddl, logic):
        self.pddl, self.logic, self.texts = pddl, logic, {}
        self.names = {k: info.name for k, info in pddl._entity_infos.items()}

    def judge(self, commands: list) -> dict:
        pddl = self.pddl
        state = self.logic.PddlState(pddl.downward_lib, pddl._game_data["pddl_problem"], pddl._logic)
        won_at, rejected = None, None
        for index, command in enumerate(commands):
            action = self._find(state, command.strip())
            if action is None:
                rejected = index
                break
            state.apply(action)
            if won_at is None and state.check_goal():
                won_at = index + 1
        return {"rejected": rejected, "won": bool(state.check_goal()), "won_at": won_at}

    def _find(self, state, command: str):
        for action in state.all_applicable_actions():
            template = action.command_template
            if not command.startswith(re.split(r"[\[{#]", template, maxsplit=1)[0]):
                continue  # the derived text starts with the template's literal words
            key = (action.name, tuple(sorted((p.name, v.name) for p, v in action.mapping.items())))
            if key not in self.texts:
                context = {
                    "state": state,
                    "facts": list(state.facts),
                    "mapping": action.mapping,
                    "variables": {p.name: self.pddl._entity_infos[v.name] for p, v in action.mapping.items()},
                    "entity_infos": self.pddl._entity_infos,
                }
                action.command_template = self.pddl._logic.grammar.derive(template, context)
                self.texts[key] = action.format_command(self.names)
            if self.texts[key] == command:
                return action
        return None


# --------------------------------------------------------------------- the plans (HARP's venv)


def mutations(record: dict, seed: int) -> list[tuple[str, list[str]]]:
    """(kind, plan) for the walkthrough and its mutations, each plan once, deterministic per seed and game."""
    from harp.data.alfworld_import import TYPES, display

    rng = random.Random(f"{seed}:{record['id']}")
    plan, scene, names = record["plan"], record["scene"], record["meta"]["names"]
    shown = {name: display(entity, name) for name, entity in names.items()}
    typed = lambda kind: sorted(shown[n] for n, t in scene["entities"].items() if t == kind and re.search(r" \d+$", n))
    receptacles, objects = typed("receptacle"), typed(TYPES["object"])
    out = [("walkthrough", plan)]  # a plan made twice keeps its first kind: the Open dropped is missing_open
    out += [("missing_open", plan[:i] + plan[i + 1 :]) for i, s in enumerate(plan) if s.startswith("Open(")]
    out += [("dropped", plan[:i] + plan[i + 1 :]) for i in range(len(plan))]
    out += [("swapped", plan[:i] + [plan[i + 1], plan[i]] + plan[i + 2 :]) for i in range(len(plan) - 1)]
    out += [("repeated", plan[: i + 1] + plan[i:]) for i in range(len(plan))]
    for _ in range(3):  # a detour to a random receptacle, or a step of the plan done again elsewhere
        step = rng.choice([f"Navigate({rng.choice(receptacles)})", rng.choice(plan)])
        at = rng.randrange(len(plan) + 1)
        out.append(("inserted", plan[:at] + [step] + plan[at:]))
    arguments = sorted({re.fullmatch(r"\w+\((.*)\)", s).group(1) for s in plan})
    rng.shuffle(arguments)
    others = 0
    for argument in arguments:  # every mention of one instance replaced by another of its kind
        kind = argument.rsplit(" ", 1)[0]
        siblings = [n for n in receptacles + objects if n.rsplit(" ", 1)[0] == kind and n != argument]
        if siblings and others < 3:
            other = rng.choice(siblings)
            out.append(("other_instance", [s.replace(f"({argument})", f"({other})") for s in plan]))
            others += 1
    places = [i for i, s in enumerate(plan) if s.startswith("Place(")]
    if places:  # the last Place and the Navigate before it go to another receptacle: of the same kind, and any
        last = places[-1]
        target = plan[last][len("Place(") : -1]
        same = [r for r in receptacles if r.rsplit(" ", 1)[0] == target.rsplit(" ", 1)[0] and r != target]
        for other in ([rng.choice(same)] if same else []) + [rng.choice([r for r in receptacles if r != target])]:
            out.append(
                (
                    "wrong_receptacle",
                    [s.replace(f"({target})", f"({other})") if i >= last - 1 else s for i, s in enumerate(plan)],
                )
            )
    seen, unique = set(), []
    for kind, steps in out:
        if steps and tuple(steps) not in seen:
            seen.add(tuple(steps))
            unique.append((kind, steps))
    return unique


def game_data(where: str, game: dict) -> dict:
    """The game as ALFWorld's engine loads it (`game.tw-pddl`); a packed game gets the domain and
    grammar stored beside its file (the grammar's task placeholder filled as ALFWorld fills it)."""
    if "pddl_domain" in game and "grammar" in game:
        return {k: game[k] for k in ("pddl_domain", "grammar", "pddl_problem", "walkthrough", "solvable") if k in game}
    folder = Path(where.rsplit(":", 1)[0]).parent
    grammar = (folder / "grammar.twl2").read_text(encoding="utf-8").replace("UNKNOWN GOAL", game["task"])
    return {
        "pddl_domain": (folder / "domain.pddl").read_text(encoding="utf-8"),
        "grammar": grammar,
        "pddl_problem": game["pddl_problem"],
        "walkthrough": game["walkthrough"],
        "solvable": game.get("solvable", True),
    }


def load_games(paths) -> list[tuple[dict, dict]]:
    """(record, engine data) for every game under `paths`."""
    from harp.data.alfworld_import import convert, iter_games

    return [(convert(game, where), game_data(where, game)) for where, game in iter_games(paths)]


def read_verdicts(path: Path) -> list[dict]:
    """The rows written so far; a torn last line (a kill mid-write) is dropped and rewritten."""
    if not path.exists():
        return []
    rows, lines = [], path.read_text(encoding="utf-8").splitlines()
    for number, line in enumerate(lines, start=1):
        try:
            rows.append(json.loads(line))
        except json.JSONDecodeError:
            if number != len(lines):
                raise SystemExit(f"{path}:{number}: not JSON; move the file aside to start again") from None
            path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    return rows


def run(args) -> int:
    from harp.data.alfworld_import import to_alfworld_commands
    from harp.data.records import append_record

    games = load_games(args.games)[: args.limit_games]
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    done = {(r["game"], tuple(r["plan"])) for r in read_verdicts(out)}
    engine = [args.engine_python, str(Path(__file__).resolve()), "--worker"] + (["--exact"] if args.exact else [])
    try:
        process = subprocess.Popen(engine, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, bufsize=1)
    except OSError as error:
        raise SystemExit(
            f"--engine-python {args.engine_python}: cannot run it ({error.strerror}); install ALFWorld "
            f"as this file's docstring says"
        ) from None
    start, judged, deadline = time.monotonic(), 0, time.monotonic() + args.minutes * 60
    with out.open("a", encoding="utf-8") as handle:
        for number, (record, data) in enumerate(games, start=1):
            pending = [
                (kind, plan) for kind, plan in mutations(record, args.seed) if (record["id"], tuple(plan)) not in done
            ]
            if not pending:
                continue
            if time.monotonic() > deadline:
                print(f"--minutes {args.minutes} reached: stopping; rerun to go on")
                break
            began = time.monotonic()
            plans = [[i, to_alfworld_commands(plan, record)] for i, (_, plan) in enumerate(pending)]
            process.stdin.write(json.dumps({"game": record["id"], "data": data, "plans": plans}) + "\n")
            process.stdin.flush()
            for (kind, plan), (_, commands) in zip(pending, plans):
                line = process.stdout.readline()
                if not line:
                    raise SystemExit(f"the engine stopped (exit {process.wait()}) during {record['id']}")
                verdict = json.loads(line)
                append_record(
                    handle,
                    {
                        "game": record["id"],
                        "kind": kind,
                        "plan": plan,
                        "commands": commands,
                        "rejected": verdict["rejected"],
                        "won": verdict["won"],
                        "won_at": verdict["won_at"],
                    },
                )
            judged += len(pending)
            seconds = time.monotonic() - began
            print(
                f"[{number}/{len(games)}] {record['id']}: {len(pending)} plans in {seconds:.1f} s "
                f"({len(pending) / seconds:.1f}/s)",
                flush=True,
            )
    process.stdin.close()
    process.wait()
    elapsed = time.monotonic() - start
    print(f"judged {judged} plans in {elapsed:.0f} s ({judged / elapsed if elapsed else 0:.1f} plans/s)")
    summary(read_verdicts(out), out)
    return 0


def summary(rows: list[dict], path: Path) -> None:
    games = {r["game"] for r in rows}
    print(f"{path}: {len(rows)} plans of {len(games)} games")
    for kind in KINDS:
        of_kind = [r for r in rows if r["kind"] == kind]
        if of_kind:
            complete = sum(r["rejected"] is None and r["won"] for r in of_kind)
            rejected = sum(r["rejected"] is not None for r in of_kind)
            print(
                f"  {kind:17s} {len(of_kind):5d} plans: {complete:5d} complete, {rejected:5d} with a rejected command"
            )


# ------------------------------------------------------------------------ H-PRM against the engine


def engine_verdict(row: dict) -> tuple[bool, int | None]:
    """(complete, first rejected command) as the engine judged the row's plan."""
    return row["rejected"] is None and bool(row["won"]), row["rejected"]


def hprm_verdict(hprm, plan: list[str], record: dict) -> tuple[bool, int | None]:
    """(completed, first invalid step) as H-PRM scores the plan against the record's scene."""
    breakdown = hprm.score(plan, record)
    invalid = next((i for i, reason in enumerate(breakdown.step_reasons) if reason is not None), None)
    return bool(breakdown.completed), invalid


def compare(args) -> int:
    """H-PRM's verdict on every judged plan against the engine's; every disagreement listed."""
    from harp.errors import HarpError
    from harp.rewards.hprm import HPRM

    rows = read_verdicts(Path(args.out))
    records = {record["id"]: record for record, _ in load_games(args.games)}
    try:
        hprm = HPRM(args.domain)
    except HarpError as error:
        print(f"H-PRM cannot read --domain {args.domain}: {error}")
        return 2
    started, verdicts, walkthroughs = time.perf_counter(), [], Counter()
    for row in rows:
        record = records[row["game"]]
        verdicts.append((row, engine_verdict(row), hprm_verdict(hprm, row["plan"], record)))
        if row["kind"] == "walkthrough":
            b = hprm.score(row["plan"], record)
            walkthroughs["optimal" if b.error_type is None and b.exact else b.error_type or "not certified"] += 1
    disagreements = [(row, engine, ours) for row, engine, ours in verdicts if engine != ours]
    agree = len(verdicts) - len(disagreements)
    print(
        f"H-PRM (completed, first invalid step) agrees with ALFWorld's engine on {agree} of {len(rows)} plans "
        f"({agree / max(len(rows), 1):.1%}); {time.perf_counter() - started:.0f} s"
    )
    print("walkthroughs: " + ", ".join(f"{kind} {n}" for kind, n in walkthroughs.most_common()))
    for row, engine, ours in disagreements:
        print(f"  {row['game']} {row['kind']}: engine {engine}, HARP {ours}: {', '.join(row['plan'])}")
    return 0


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--games", nargs="+", default=[str(GAMES)], help="game files or folders (default: %(default)s)")
    parser.add_argument("--out", default=str(VERDICTS), help="verdicts to append to (default: %(default)s)")
    parser.add_argument(
        "--engine-python",
        default=os.environ.get("ALFWORLD_PYTHON", "/tmp/alfworld-venv/bin/python"),
        help="a python with alfworld and textworld (default: $ALFWORLD_PYTHON or %(default)s)",
    )
    parser.add_argument("--seed", type=int, default=0, help="mutation seed (default: %(default)s)")
    parser.add_argument("--minutes", type=float, default=float("inf"), help="stop starting games after this long")
    parser.add_argument("--limit-games", type=int, default=None, help="only the first N games")
    parser.add_argument("--exact", action="store_true", help="run ALFWorld's engine unchanged (slow)")
    parser.add_argument("--compare", action="store_true", help="score the verdicts' plans with H-PRM and compare")
    parser.add_argument(
        "--domain",
        default="alfworld",
        help="with --compare: HARP's domain for ALFWorld (default: %(default)s)",
    )
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        worker(args.exact)
        return 0
    sys.path.insert(0, str(ROOT))
    return compare(args) if args.compare else run(args)


if __name__ == "__main__":
    sys.exit(main())
