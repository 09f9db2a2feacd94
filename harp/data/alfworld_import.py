"""`harp data import-alfworld PATH... --out FILE`: ALFWorld games -> HARP records for the `alfworld` domain.

    harp data import-alfworld tests/data/alfworld --out data/alfworld.jsonl

ALFWorld (Shridhar et al., ICLR 2021; MIT) writes each game as `game.tw-pddl`, JSON holding the PDDL
domain, the PDDL problem (every object, receptacle and location of an AI2-THOR room, the initial
facts, the goal), TextWorld's grammar (which states the task sentence) and the expert's walkthrough
as text commands. A PATH is such a file, a folder (searched for `game.tw-pddl` and `games.jsonl.xz`),
or a `games.jsonl[.xz]` file: the compact form tests/data/alfworld ships, one game a line
(`game`, `task`, `pddl_problem`, `walkthrough`; the domain and grammar, the same in every game,
stored once beside it).

One record per game:
`{"id", "image": "", "task", "plan", "domain": "alfworld", "scene", "meta"}`.

- `task`: the sentence ALFWorld states ("put two newspaper in drawer.").
- `scene`: the problem as written: `entities` (name -> PDDL type, every declared object; ALFWorld's
  type `object` is `thing`, as in HARP's reading of the domain, harp/plan/domains/alfworld.pddl), `init`
  (every initial fact, `["inReceptacle", "newspaper 2", "sofa 1"]`) and `goal`, the goal formula as
  the problem writes it, as nested lists (`["exists", ["?r", "-", "receptacle"], [...]]`): ALFWorld's
  goals are existential over types ("some newspaper in some drawer"), so no list of facts states them.
  Nothing is inferred. Names are ALFWorld's (`alfworld_names`): the engine renames the problem's
  `Newspaper_bar__plus_00_dot_49...` to `newspaper 2`, and its commands use those names; `meta.names`
  maps each back to the problem's name.
- `plan`: the walkthrough in the plan language, instance names written as in the problem
  (`Navigate(Dresser 1), Pick(Newspaper 2), Navigate(Drawer 4), Place(Drawer 4)`), one step per
  command (`COMMANDS`); `meta.walkthrough` keeps the commands.

`to_alfworld_commands(plan, record)` is the reverse: a HARP plan as the commands ALFWorld's engine
takes, so the engine can judge any HARP plan (benchmarks/alfworld_engine.py). The plan language
leaves out what the command spells out, so it is taken from the scene and the steps before: where
a picked object lies, what the hand holds, which appliance the robot went to.

Import is all or nothing, one line per mistake naming the file (and the line of the problem, or the
walkthrough step): a file that is not JSON, a game without its problem or walkthrough, a problem
that does not read, a command the plan language has no step for, a command naming an object the
problem does not have, two games with one id. Every record written reads back with the record
readers. The PDDL problem is read by `read_sexpr`, not a PDDL library: `pddl` 0.5.1 cannot read
quantified goals (AI-Planning/pddl#139), and the record keeps the problem's own structure anyway.
"""

from __future__ import annotations

import argparse
import json
import lzma
import os
import re
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

from harp.data.records import json_error, record_problem, write_records
from harp.entry import Command
from harp.errors import DataError, HarpError
from harp.paths import check_output_file
from harp.plan.names import normalize_entity
from harp.plan.parser import parse_plan

GAME_FILE = "game.tw-pddl"
PACKED_FILE = "games.jsonl.xz"
DOMAIN = "alfworld"
MAX_GAME_BYTES = 16 << 20  # a game is 60-100 KB; a bigger file is a mistake
MAX_PACKED_BYTES = 1 << 30  # 99 games unpack to 5.4 MB; the 3,553 of ALFWorld's train split would be 200 MB
TASK_PREFIX = "Your task is to: "
# ALFWorld's type `object` is `thing` in HARP's reading of its domain: the pddl package refuses a
# type named `object` (PDDL's root type), so the domain renames it, and a scene must say the same.
TYPES = {"object": "thing"}

# ALFWorld's commands (its grammar's templates), the plan word each is, and which name is the step's
# argument. `put O in/on R` is how older ALFWorld releases wrote `move O to R`.
COMMANDS = [
    (re.compile(r"go to (?P<r>.+)"), "Navigate", "r"),
    (re.compile(r"take (?P<o>.+?) from (?P<r>.+)"), "Pick", "o"),
    (re.compile(r"move (?P<o>.+?) to (?P<r>.+)"), "Place", "r"),
    (re.compile(r"put (?P<o>.+?) in/on (?P<r>.+)"), "Place", "r"),
    (re.compile(r"open (?P<r>.+)"), "Open", "r"),
    (re.compile(r"close (?P<r>.+)"), "Close", "r"),
    (re.compile(r"heat (?P<o>.+?) with (?P<r>.+)"), "Heat", "o"),
    (re.compile(r"cool (?P<o>.+?) with (?P<r>.+)"), "Cool", "o"),
    (re.compile(r"clean (?P<o>.+?) with (?P<r>.+)"), "Clean", "o"),
    (re.compile(r"slice (?P<o>.+?) with (?P<k>.+)"), "Slice", "o"),
    (re.compile(r"use (?P<o>.+)"), "Toggle", "o"),
]
# Commands that only look: the plan language has no step for them, and a walkthrough never needs one.
LOOKING = ("look", "inventory", "examine", "help")
# The receptacle types each appliance step needs, as ALFWorld's domain states them (HeatObject's,
# CoolObject's and CleanObject's preconditions): the command names the appliance, the step does not.
APPLIANCES = {"heat": ("microwavetype",), "cool": ("fridgetype",), "clean": ("sinktype", "sinkbasintype")}


# ------------------------------------------------------------------------------ reading games


def iter_games(paths) -> Iterator[tuple[str, dict]]:
    """(where, game) for every game under `paths`, in order: files as given, folders sorted.

    `game` holds `id`, `task`, `pddl_problem`, `walkthrough`; `where` names its file (and line)."""
    for path in map(Path, paths):
        if path.is_dir():
            found = sorted(p for p in path.rglob("*") if p.name in (GAME_FILE, PACKED_FILE) and p.is_file())
            if not found:
                raise DataError(f"{path}: no {GAME_FILE} or {PACKED_FILE} in this folder")
            for file in found:
                yield from _games_in_file(file)
        elif path.is_file():
            yield from _games_in_file(path)
        else:
            raise DataError(f"{path}: no such file or folder")


def _games_in_file(path: Path) -> Iterator[tuple[str, dict]]:
    if path.name.endswith((".jsonl", ".jsonl.xz")):
        yield from _packed_games(path)
        return
    data = _json(_read_bytes(path), str(path))
    if not isinstance(data, dict):
        raise DataError(f"{path}: expected a JSON object (an ALFWorld game), got {type(data).__name__}")
    grammar = data.get("grammar")
    task = _task_from_grammar(grammar) if isinstance(grammar, str) else None
    if task is None:
        raise DataError(f"{path}: 'grammar' states no task (\"{TASK_PREFIX}...\"), so the game has no task sentence")
    game_id = "/".join(path.absolute().parts[-3:-1])  # <task type>-<object>-...-<floor plan>/<trial>
    yield str(path), {**data, "id": game_id, "task": task}


def _packed_games(path: Path) -> Iterator[tuple[str, dict]]:
    try:
        raw = path.read_bytes()
        if path.name.endswith(".xz"):
            unpacker = lzma.LZMADecompressor()
            raw = unpacker.decompress(raw, max_length=MAX_PACKED_BYTES)
            if not unpacker.eof:
                raise DataError(f"{path}: over {MAX_PACKED_BYTES >> 30} GiB unpacked, or cut short")
    except OSError as error:
        raise DataError(f"{path}: cannot be read ({error.strerror or error})") from None
    except lzma.LZMAError as error:
        raise DataError(f"{path}: not an xz file ({error})") from None
    for number, line in enumerate(raw.split(b"\n"), start=1):
        if line.strip():
            where = f"{path}:{number}"
            row = _json(line, where)
            if not isinstance(row, dict) or not isinstance(row.get("game"), str) or not row["game"].strip():
                raise DataError(f"{where}: expected a game with a 'game' name")
            if not isinstance(row.get("task"), str) or not row["task"].strip():
                raise DataError(f"{where}: expected a 'task' sentence")
            yield where, {**row, "id": row["game"]}


def _read_bytes(path: Path) -> bytes:
    try:
        with path.open("rb") as handle:
            data = handle.read(MAX_GAME_BYTES + 1)
    except OSError as error:
        raise DataError(f"{path}: cannot be read ({error.strerror or error})") from None
    if len(data) > MAX_GAME_BYTES and not path.name.endswith(".xz"):
        raise DataError(f"{path}: over {MAX_GAME_BYTES >> 20} MiB; an ALFWorld game is about 100 KB")
    return data


def _json(data: bytes, where: str):
    try:
        return json.loads(data.decode("utf-8").removeprefix("\ufeff"))
    except UnicodeDecodeError as error:
        raise DataError(f"{where}: not UTF-8 text (byte {error.start + 1})") from None
    except json.JSONDecodeError as error:
        raise DataError(f"{where}: not valid JSON (line {error.lineno}, {json_error(error)})") from None
    except RecursionError:
        raise DataError(f"{where}: JSON nested too deeply") from None


def _task_from_grammar(grammar: str) -> str | None:
    """The task sentence of TextWorld's grammar: the rule `"task": [{"rhs": "Your task is to: ..."}]`."""
    found = re.search(r'"task"\s*:\s*\[\s*\{\s*"rhs"\s*:\s*("(?:[^"\\]|\\.)*")', grammar)
    try:
        sentence = json.loads(found.group(1)) if found else ""
    except json.JSONDecodeError:  # a bad escape inside the rule
        return None
    return sentence.removeprefix(TASK_PREFIX).strip() or None


# ---------------------------------------------------------------------- the PDDL problem


class ProblemError(ValueError):
    """A mistake in a PDDL problem, at a line of it."""

    def __init__(self, line: int, message: str):
        super().__init__(f"line {line}: {message}")


def read_sexpr(text: str) -> list:
    """The one s-expression of `text` as nested lists of symbols (comments dropped, case kept)."""
    stack, opened, line = [[]], [], 1  # opened: the line of each '(' not yet closed
    for match in re.finditer(r";[^\n]*|\n|[()]|[^\s();]+", text):
        token = match.group()
        if token == "\n":
            line += 1
        elif token.startswith(";"):
            continue
        elif token == "(":
            stack.append([])
            opened.append(line)
            if len(stack) > 64:
                raise ProblemError(line, "nested deeper than 64")
        elif token == ")":
            if len(stack) == 1:
                raise ProblemError(line, "this ')' closes nothing")
            done = stack.pop()
            opened.pop()
            stack[-1].append(done)
        else:
            stack[-1].append(token)
    if opened:
        raise ProblemError(opened[-1], f"this '(' is never closed ({len(opened)} unclosed in all)")
    if len(stack[0]) != 1 or not isinstance(stack[0][0], list):
        raise ProblemError(1, "expected one (define (problem ...) ...) and nothing else")
    return stack[0][0]


def read_problem(text: str) -> dict:
    """A PDDL problem's parts: `objects` ({name: type}, in order), `init` (atoms) and `goal` (formula)."""
    tree = read_sexpr(text)
    if tree[:1] != ["define"] or len(tree) < 2 or not isinstance(tree[1], list) or tree[1][:1] != ["problem"]:
        raise ProblemError(1, "expected (define (problem NAME) ...)")
    sections = {}
    for part in tree[2:]:
        if not isinstance(part, list) or not part or not isinstance(part[0], str) or not part[0].startswith(":"):
            raise ProblemError(1, f"expected a section such as (:init ...), got {_show(part)}")
        sections[part[0].lower()] = part[1:]
    for key in (":objects", ":init", ":goal"):
        if key not in sections:
            raise ProblemError(1, f"no ({key} ...) section")
    objects = _typed(sections[":objects"], "(:objects ...)")
    init = []
    for atom in sections[":init"]:
        if (
            not isinstance(atom, list)
            or not atom
            or not all(isinstance(x, str) for x in atom)
            or atom[0] in ("not", "=")
        ):
            raise ProblemError(
                _line(text, ":init"), f"(:init ...) holds {_show(atom)}, not a fact such as (inReceptacle o r)"
            )
        for name in atom[1:]:
            if name not in objects:
                raise ProblemError(
                    _line(text, name), f"the fact {_show(atom)} names {name}, which (:objects ...) does not declare"
                )
        init.append(atom)
    if len(sections[":goal"]) != 1 or not isinstance(sections[":goal"][0], list):
        raise ProblemError(_line(text, ":goal"), "(:goal ...) must hold one formula")
    goal = sections[":goal"][0]
    _check_formula(goal, objects, set(), text)
    return {"name": tree[1][1] if len(tree[1]) > 1 else "", "objects": objects, "init": init, "goal": goal}


def _typed(items: list, where: str) -> dict:
    """`a b - t c - u` -> {a: t, b: t, c: u}; a name without a type is `object`, as PDDL has it."""
    names, result, index = [], {}, 0
    while index < len(items):
        item = items[index]
        if not isinstance(item, str):
            raise ProblemError(1, f"{where} holds {_show(item)}, not a name")
        if item == "-":
            if index + 1 >= len(items) or not isinstance(items[index + 1], str) or not names:
                raise ProblemError(1, f"{where}: a '-' without names before it and a type after it")
            result.update((name, items[index + 1]) for name in names)
            names, index = [], index + 2
            continue
        if item in result or item in names:
            raise ProblemError(1, f"{where} declares {item} twice")
        names.append(item)
        index += 1
    result.update((name, "object") for name in names)
    return result


KEYWORDS = {"and": None, "or": None, "not": 1, "imply": 2, "exists": 2, "forall": 2}


def _check_formula(formula, objects: dict, variables: set, text: str) -> None:
    if not isinstance(formula, list) or not formula or not isinstance(formula[0], str):
        raise ProblemError(_line(text, ":goal"), f"(:goal ...) holds {_show(formula)}, not a formula")
    head, rest = formula[0], formula[1:]
    if head in ("exists", "forall"):
        if len(rest) != 2 or not isinstance(rest[0], list):
            raise ProblemError(_line(text, ":goal"), f"({head} (?v - type) formula) expected, got {_show(formula)}")
        bound = _typed(rest[0], f"({head} ...)")
        if not all(v.startswith("?") for v in bound):
            raise ProblemError(_line(text, ":goal"), f"({head} ...) binds {_show(rest[0])}: variables start with ?")
        _check_formula(rest[1], objects, variables | set(bound), text)
    elif head in KEYWORDS:
        if KEYWORDS[head] is not None and len(rest) != KEYWORDS[head]:
            raise ProblemError(
                _line(text, ":goal"), f"({head} ...) takes {KEYWORDS[head]} formula(s): {_show(formula)}"
            )
        for part in rest:
            _check_formula(part, objects, variables, text)
    else:
        for term in rest:
            if not isinstance(term, str) or not (term in objects or term in variables):
                raise ProblemError(
                    _line(text, str(term)),
                    f"the goal's {_show(formula)} names {_show(term)}, neither an object nor a bound variable",
                )


def _line(text: str, token: str) -> int:
    found = re.search(rf"(?<![^\s()]){re.escape(token)}(?![^\s()])", text)
    return text.count("\n", 0, found.start()) + 1 if found else 1


def _show(value) -> str:
    text = value if isinstance(value, str) else "(" + " ".join(_show(v) for v in value) + ")"
    return text if len(text) <= 80 else text[:77] + "..."


# ------------------------------------------------------------------------------- names


def alfworld_names(init: list) -> dict[str, str]:
    """ALFWorld's name for each entity of the initial facts: `Newspaper_bar__plus_00_dot_49...` ->
    `newspaper 2`, as its engine shows them (alfworld.agents.utils.misc.Demangler, which the engine's
    AlfredDemangler wrapper applies): the engine reads names lower-cased, sorts them, and numbers the
    instances of a kind (the part before `_bar_`, `basin` added when the name has it) from the last:
    the first in sorted order gets the highest number. A name without `_bar_` (`agent1`,
    `newspapertype`) stays as it is."""
    ids = sorted({name.lower() for atom in init for name in atom[1:]})
    counts = Counter(_kind(i) for i in ids if "_bar_" in i)
    taken: dict[str, int] = {}
    names = {}
    for entity in ids:
        if "_bar_" in entity:
            kind = _kind(entity)
            names[entity] = f"{kind} {counts[kind] - taken.get(kind, 0)}"
            taken[kind] = taken.get(kind, 0) + 1
        else:
            names[entity] = entity
    return names


def _kind(entity: str) -> str:
    return entity.split("_bar_", 1)[0] + ("basin" if "basin" in entity else "")


def scene_names(objects: dict, init: list) -> dict[str, str]:
    """Every declared object's name in the record: ALFWorld's for those in the initial facts; the few
    with no fact at all (a faucet, a shower head: nothing can act on them, and the engine names none)
    are numbered after ALFWorld's instances of their kind."""
    known = alfworld_names(init)
    names, counts = {}, Counter(n.rsplit(" ", 1)[0] for n in known.values() if re.search(r" \d+$", n))
    for entity in sorted(objects, key=str.lower):
        lower = entity.lower()
        if lower in known:
            names[entity] = known[lower]
        elif "_bar_" in lower:
            counts[_kind(lower)] += 1
            names[entity] = f"{_kind(lower)} {counts[_kind(lower)]}"
        else:
            names[entity] = lower
    return names


def display(entity: str, name: str) -> str:
    """How a plan writes an ALFWorld instance: the problem's CamelCase kind and ALFWorld's number
    (`SideTable_bar_...` named `sidetable 1` -> `SideTable 1`, `Sink_bar_..._bar_SinkBasin` -> `SinkBasin 1`)."""
    kind = entity.split("_bar_", 1)[0] + ("Basin" if "basin" in entity.lower() else "")
    number = name.rsplit(" ", 1)[1] if " " in name else ""
    return f"{kind} {number}".strip() if kind.lower() == name.rsplit(" ", 1)[0] else name


# --------------------------------------------------------------------------- the record


def convert(game: dict, where: str) -> dict:
    """One game (`iter_games`) as a HARP record (see the module docstring); a DataError names `where`."""
    for key, kind in (("pddl_problem", str), ("walkthrough", list)):
        if not isinstance(game.get(key), kind):
            raise DataError(f"{where}: no '{key}' ({'the PDDL problem text' if kind is str else 'a list of commands'})")
    try:
        problem = read_problem(game["pddl_problem"])
    except ProblemError as error:
        raise DataError(f"{where}: pddl_problem: {error}") from None
    names = scene_names(problem["objects"], problem["init"])
    twice = [n for n, count in Counter(names.values()).items() if count > 1]
    if twice:  # `Book` and `book`: one name in the plan language
        raise DataError(f"{where}: pddl_problem: two objects are both named {twice[0]!r}")
    shown = {names[e]: display(e, names[e]) for e in names}
    plan = [_step(command, index, shown, where) for index, command in enumerate(game["walkthrough"])]
    if not plan:
        raise DataError(f"{where}: the walkthrough is empty")
    rename = _renamer(names)
    folder = game["id"].split("/", 1)[0]
    return {
        "id": game["id"],
        "image": "",
        "task": game["task"],
        "plan": plan,
        "domain": DOMAIN,
        "scene": {
            "entities": {names[e]: TYPES.get(t, t) for e, t in problem["objects"].items()},
            "init": [[atom[0], *map(rename, atom[1:])] for atom in problem["init"]],
            "goal": rename(problem["goal"]),
        },
        "meta": {
            "source": "alfworld",
            "task_type": folder.split("-", 1)[0] if "-" in folder else None,
            "problem": problem["name"],
            "walkthrough": list(game["walkthrough"]),
            "names": {names[e]: e for e in problem["objects"] if names[e] != e},
        },
    }


def _renamer(names: dict):
    """Names to ALFWorld's; in a typed list (`?o - object`), the type to HARP's (TYPES)."""

    def rename(value):
        if isinstance(value, list):
            return [TYPES.get(v, v) if i and value[i - 1] == "-" else rename(v) for i, v in enumerate(value)]
        return names.get(value, value)

    return rename


def _step(command, index: int, shown: dict, where: str) -> str:
    """One walkthrough command as a plan step; a command the plan language has no step for, or one
    naming what the problem lacks, is a DataError naming the step."""
    at = f"{where}: walkthrough step {index}"
    if not isinstance(command, str):
        raise DataError(f"{at}: expected a command string, got {type(command).__name__}")
    text = " ".join(command.split())
    for pattern, word, group in COMMANDS:
        match = pattern.fullmatch(text)
        if match:
            for name in match.groupdict().values():
                if name not in shown:
                    raise DataError(f"{at}: {command!r} names {name!r}, which is not in the game's problem")
            return f"{word}({shown[match.group(group)]})"
    verb = text.split(" ", 1)[0] if text else ""
    if verb in LOOKING:
        raise DataError(f"{at}: {command!r} only looks; a HARP plan has no step for it")
    raise DataError(
        f"{at}: unknown ALFWorld command {command!r} (known: go to, take, move, open, close, heat, "
        f"cool, clean, slice, use)"
    )


# --------------------------------------------------------------------------- the reverse


def to_alfworld_commands(plan, record: dict) -> list[str]:
    """A HARP plan (text or list of steps) as ALFWorld commands for the record's game, one per step.

    What a command names and the step does not is read from the scene and the steps before, as if
    each had succeeded (the engine stops judging at the first it rejects, so only steps before that
    matter): `take O from R` names the receptacle holding O, preferring one where the robot stands;
    `move O to R` the held object; `heat O with R` (cool, clean) an appliance of the step's kind
    where the robot stands, preferring the receptacle it went to (a drawer may stand at the sink);
    `slice O with K` the held knife. A step the plan language has no command for is written as
    it is, lower-cased, and the engine rejects it, as it would a word it does not know."""
    scene = record["scene"]
    where: dict[str, list[str]] = {}
    location: dict[str, str] = {}
    kind: dict[str, str] = {}
    for atom in scene["init"]:
        if atom[0] == "inReceptacle":
            where.setdefault(atom[1], []).append(atom[2])
        elif atom[0] == "receptacleAtLocation":
            location[atom[1]] = atom[2]
        elif atom[0] == "receptacleType":
            kind[atom[1]] = atom[2]

    def here(receptacles):  # those where the robot stands, the one it went to first
        found = [r for r in receptacles if r == at or (at in location and location.get(r) == location[at])]
        return sorted(found, key=lambda r: (r != at, r))

    at, held, commands = None, None, []
    for step in parse_plan(plan).steps:
        word, name = step.action.strip().lower(), normalize_entity(step.argument)
        if word == "navigate":
            commands.append(f"go to {name}")
            at = name
        elif word == "pick":
            source = (here(where.get(name, [])) or where.get(name) or [at or "nothing"])[0]
            commands.append(f"take {name} from {source}")
            held, where[name] = name, []
        elif word == "place":
            commands.append(f"move {held or 'nothing'} to {name}")
            if held:
                where[held] = [name]
            held = None
        elif word in ("open", "close"):
            commands.append(f"{word} {name}")
        elif word in APPLIANCES:
            appliance = (here(r for r, t in kind.items() if t in APPLIANCES[word]) or [at or "nothing"])[0]
            commands.append(f"{word} {name} with {appliance}")
        elif word == "slice":
            commands.append(f"slice {name} with {held or 'nothing'}")
        elif word == "toggle":
            commands.append(f"use {name}")
        else:
            commands.append(f"{word} {name}".strip())
    return commands


# ----------------------------------------------------------------------------- the command


def import_alfworld(paths, output_path) -> int:
    """Convert every game under `paths`; returns the number of records written.

    All or nothing: a game that cannot be imported is a DataError naming it, and nothing is
    written. `output_path` must not be one of the inputs (nor inside a folder given as input)."""
    output = check_output_file(output_path, "--out")
    for path in map(Path, paths):
        inside = (
            path.is_dir()
            and output.absolute().is_relative_to(path.absolute())
            and output.name in (GAME_FILE, PACKED_FILE)
        )
        if inside or (output.exists() and path.exists() and os.path.samefile(path, output)):
            raise HarpError(f"--out {output_path}: is an input ({path}); write the records elsewhere")
    records = alfworld_records(paths)
    write_records(output, records)
    return len(records)


def alfworld_records(paths) -> list[dict]:
    """Every game under `paths` as a HARP record, checked as `import_alfworld` writes them: a game that
    cannot be imported is a DataError naming it."""
    records, seen = [], {}
    for where, game in iter_games(paths):
        record = convert(game, where)
        if record["id"] in seen:  # `harp score` matches records by id
            raise DataError(f"{where}: game {record['id']!r} is also {seen[record['id']]}; each must be unique")
        seen[record["id"]] = where
        problem = record_problem(record)
        if problem:
            raise DataError(f"{where}: {problem}")
        records.append(record)
    if not records:
        raise DataError(f"{', '.join(map(str, paths))}: no ALFWorld games")
    return records


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "paths",
        nargs="+",
        metavar="PATH",
        help=f"a {GAME_FILE} file, a folder (searched for {GAME_FILE} and {PACKED_FILE}) or a games.jsonl[.xz]",
    )
    parser.add_argument("--out", required=True, help="records to write (jsonl)")


def run(args: argparse.Namespace) -> int:
    count = import_alfworld(args.paths, args.out)
    print(f"wrote {args.out} ({count} records for --domain {DOMAIN})")
    return 0


IMPORT_ALFWORLD = Command(
    "import-alfworld", "ALFWorld games (game.tw-pddl) -> records for --domain alfworld", add_arguments, run
)
