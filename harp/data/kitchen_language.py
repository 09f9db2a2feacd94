"""Task sentences for the kitchen world (harp/data/kitchen.py): several templates per task type, with
synonyms, and a held-out set.

A sentence is built from clauses, one per object ("heat the apple and put it on the blue counter"),
joined ("..., then ..."), or from a frame of its own for the task types that are not a list of
moves (look at an object under the lamp; an object carried in a bowl; two of a kind to one place).
Each part comes in two sets, as in harp/data/language.py for the tabletop: a model trains on the
`seen` set; `held_out` clauses, frames and joiners are other sentence shapes made of the same words,
for a test of phrasing the model was never trained on. The two sets share no template
(tests/data/test_kitchen.py). A record's `meta.phrasing` names the parts ("join:1/plain:3/modified:0",
"look:held_out:1").

Objects are named in the plan's order (kitchen.py reorders the sentence when another order of the
objects is the optimal one), so the plan's order follows from the sentence. Places are named so that
they are never ambiguous: with two counter tops, by number ("counter 2", "the second counter") or
colour ("the blue counter"), never plain "the counter".
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

# What an item or a place may be called (ALFRED object type -> words).
ITEM_WORDS = {
    "apple": ("apple", "red apple"),
    "potato": ("potato",),
    "tomato": ("tomato",),
    "bread": ("bread", "loaf of bread"),
    "lettuce": ("lettuce", "head of lettuce"),
    "egg": ("egg",),
    "mug": ("mug", "coffee mug"),
    "cup": ("cup",),
    "plate": ("plate", "dish"),
    "bowl": ("bowl",),
    "pan": ("pan", "frying pan"),
    "book": ("book",),
    "dishsponge": ("sponge", "dish sponge"),
    "knife": ("knife",),
}
PLURALS = {
    "apple": "apples",
    "potato": "potatoes",
    "tomato": "tomatoes",
    "egg": "eggs",
    "mug": "mugs",
    "cup": "cups",
    "plate": "plates",
    "bowl": "bowls",
    "book": "books",
}
MASS = ("bread", "lettuce")  # "some warm bread", not "a warm bread"
PLACE_WORDS = {
    "countertop": ("counter", "countertop", "kitchen counter"),
    "diningtable": ("dining table", "table", "kitchen table"),
    "cabinet": ("cabinet", "cupboard"),
    "drawer": ("drawer",),
    "fridge": ("fridge", "refrigerator"),
    "microwave": ("microwave",),
    "stoveburner": ("stove", "stove burner", "burner"),
    "sinkbasin": ("sink", "sink basin"),
    "desklamp": ("desk lamp", "lamp"),
}
ORDINALS = {1: "first", 2: "second", 3: "third"}
INSIDE = ("cabinet", "drawer", "fridge", "microwave", "sinkbasin", "bowl", "pan", "mug", "cup")  # "into"; else "onto"
# Modifier -> (verbs, adjectives): "heat the apple", "a hot apple".
MODIFIER_WORDS = {
    "heat": (("heat", "warm up", "heat up"), ("hot", "warm", "heated")),
    "cool": (("cool", "chill", "cool down"), ("cold", "chilled", "cool")),
    "clean": (("clean", "rinse", "wash"), ("clean", "rinsed", "washed")),
    "slice": (("slice", "cut up"), ("sliced",)),
}

# Clauses: {O} the object ("the apple"), {A} it with the modifier's adjective ("a hot apple"), {M}
# the modifier's verb, {D} the destination with a preposition of movement ("onto the blue counter"),
# {L} with one of place ("on the blue counter"), {T} with "to", {S} where the object starts, {X} out
# of there ("out of the cabinet", "off the blue counter").
CLAUSES = {
    "plain": {
        "seen": (
            "put {O} {D}",
            "place {O} {D}",
            "move {O} {T}",
            "take {O} and put it {D}",
            "pick up {O} and set it {D}",
            "bring {O} {T}",
        ),
        "held_out": ("leave {O} {L}", "get {O} over {T}", "carry {O} across {T}"),
    },
    "from": {  # names where the object starts
        "seen": ("take {O} {X} and put it {D}", "get {O} from {S} and place it {D}"),
        "held_out": ("fetch {O} from {S} and leave it {L}",),
    },
    "modified_there": {  # sliced where it goes
        "seen": ("put {O} {D} and {M} it there", "move {O} {T}, then {M} it"),
        "held_out": ("once {O} is {L}, {M} it",),
    },
    "modified": {
        "seen": (
            "{M} {O} and put it {D}",
            "{M} {O}, then place it {D}",
            "put {A} {D}",
            "{M} {O} and move it {T}",
        ),
        "held_out": ("make {O} {a} and leave it {L}", "{O} should end up {a} and {L}", "get {A} over {T}"),
    },
}
# Frames of whole sentences. {P} the plural ("apples"); {C} the carrier ("the bowl"), {Dc} into it.
FRAMES = {
    "look": {
        "seen": (
            "examine {O} under the {lamp}",
            "look at {O} in the light of the {lamp}",
            "pick up {O} and turn on the {lamp}",
            "hold {O} under the {lamp} and switch it on",
        ),
        "held_out": ("check {O} by the light of the {lamp}", "turn the {lamp} on while holding {O}"),
    },
    "carried": {
        "seen": (
            "put {O} {Dc} and put {C} {D}",
            "put {O} {Dc}, then move {C} {T}",
            "place {O} {Dc} and take {C} {T}",
        ),
        "held_out": ("carry {O} {T} in {C}", "{O} goes {Dc}, and {C} goes {L}"),
    },
    "pair": {
        "seen": ("put two {P} {D}", "put both {P} {D}", "move the two {P} {T}", "place two {P} {D}"),
        "held_out": ("both {P} belong {L}", "gather the two {P} {L}"),
    },
    "together": {  # several objects, no modifier, one destination
        "seen": ("put {O1} and {O2} {D}", "move {O1} and {O2} {T}"),
        "held_out": ("{O1} and {O2} both belong {L}",),
    },
    "together3": {
        "seen": ("put {O1}, {O2} and {O3} {D}", "move {O1}, {O2} and {O3} {T}"),
        "held_out": ("{O1}, {O2} and {O3} all belong {L}",),
    },
}
JOINERS = {
    2: {
        "seen": ("{0} and {1}", "{0}, then {1}", "{0}. Then {1}", "first {0}, then {1}"),
        "held_out": ("{0}; after that, {1}", "{0}, and once that is done, {1}"),
    },
    3: {
        "seen": ("{0}, {1} and {2}", "{0}, then {1}, then {2}", "{0}. Then {1} and {2}"),
        "held_out": ("{0}; {1}; finally {2}", "{0}, next {1}, and last {2}"),
    },
}


@dataclass
class Words:
    """What each entity of a scene is (name -> (kind, number tag or None, colour or None)) and what
    one sentence has called it: an entity keeps its word within a sentence ("the dish ... the dish")."""

    entities: dict
    said: dict = field(default_factory=dict)

    def noun(self, name: str, rng: random.Random) -> str:
        if name not in self.said:
            self.said[name] = rng.choice(ITEM_WORDS[self.entities[name][0]])
        return self.said[name]

    def item(self, name: str, rng: random.Random) -> str:
        return "the " + self.noun(name, rng)

    def with_adjective(self, name: str, adjective: str, rng: random.Random) -> str:
        return f"{'some' if self.entities[name][0] in MASS else 'a'} {adjective} {self.noun(name, rng)}"

    def place(self, name: str, rng: random.Random) -> str:
        """`the blue counter`, `counter 2`, `the fridge`, `the plate`: never ambiguous in its scene."""
        kind, number, colour = self.entities[name]
        if kind in ITEM_WORDS:  # a bowl, a plate, a pan (one of its kind in a scene)
            return self.item(name, rng)
        if name not in self.said:
            words = PLACE_WORDS[kind]
            forms = [f"the {w}" for w in words] if number is None else []
            if number is not None:
                forms += [f"{words[0]} {number}", f"the {ORDINALS[number]} {words[0]}"]
            if colour:
                forms += [f"the {colour} {w}" for w in words[:2]]
            self.said[name] = rng.choice(forms)
        return self.said[name]

    def out_of(self, name: str, rng: random.Random) -> str:
        return f"{'out of' if self.entities[name][0] in INSIDE else 'off'} {self.place(name, rng)}"

    def into(self, name: str, rng: random.Random, moving: bool = True) -> str:
        inside = self.entities[name][0] in INSIDE
        preposition = rng.choice(("into", "in") if inside else ("onto", "on")) if moving else ("in" if inside else "on")
        return f"{preposition} {self.place(name, rng)}"


def _pick(table: dict, held_out: bool, rng: random.Random, name: str) -> tuple[str, str]:
    """(template, its name for meta.phrasing) drawn from the seen or held-out set of `table`."""
    key = "held_out" if held_out else "seen"
    index = rng.randrange(len(table[key]))
    return table[key][index], f"{name}:{'held_out:' if held_out else ''}{index}"


def _clause(job, source: str, words: Words, rng: random.Random, held_out: bool) -> tuple[str, str, bool]:
    """(clause, its phrasing name, whether it names where the object starts) for one object."""
    modifier = job.modifiers[0] if job.modifiers else None
    if modifier:
        kind = "modified_there" if job.slice_there else "modified"
    else:
        kind = "from" if rng.random() < 0.3 else "plain"
    template, name = _pick(CLAUSES[kind], held_out, rng, kind)
    slots = {
        "O": words.item(job.obj, rng),
        "D": words.into(job.destination, rng),
        "L": words.into(job.destination, rng, moving=False),
        "T": "to " + words.place(job.destination, rng),
        "S": words.place(source, rng),
        "X": words.out_of(source, rng),
    }
    if modifier:
        verbs, adjectives = MODIFIER_WORDS[modifier]
        adjective = rng.choice(adjectives)
        slots |= {"M": rng.choice(verbs), "a": adjective, "A": words.with_adjective(job.obj, adjective, rng)}
    return template.format(**slots), name, kind == "from"


def say(task_type: str, jobs: list, sources: dict, words: Words, rng: random.Random, held_out: bool):
    """(sentence, meta.phrasing, whether it names where an object starts) asking for the jobs (kitchen.Job)."""
    first = jobs[0]
    if task_type == "look_at_obj_in_light":
        template, name = _pick(FRAMES["look"], held_out, rng, "look")
        lamp = rng.choice(PLACE_WORDS["desklamp"])
        return _sentence(template.format(O=words.item(first.obj, rng), lamp=lamp)), name, False
    if first.carrier:
        template, name = _pick(FRAMES["carried"], held_out, rng, "carried")
        slots = {
            "O": words.item(first.obj, rng),
            "C": words.item(first.carrier, rng),
            "Dc": words.into(first.carrier, rng),
            "D": words.into(first.destination, rng),
            "L": words.into(first.destination, rng, moving=False),
            "T": "to " + words.place(first.destination, rng),
        }
        return _sentence(template.format(**slots)), name, False
    destinations = {job.destination for job in jobs}
    plain = not any(job.modifiers for job in jobs)
    if plain and len(jobs) > 1 and len(destinations) == 1:
        kinds = {words.entities[job.obj][0] for job in jobs}
        frame = "pair" if len(kinds) == 1 else ("together" if len(jobs) == 2 else "together3")
        template, name = _pick(FRAMES[frame], held_out, rng, frame)
        slots = {
            "D": words.into(first.destination, rng),
            "L": words.into(first.destination, rng, moving=False),
            "T": "to " + words.place(first.destination, rng),
            "P": PLURALS.get(next(iter(kinds)), ""),
        }
        slots |= {f"O{n}": words.item(job.obj, rng) for n, job in enumerate(jobs, 1)}
        return _sentence(template.format(**slots)), name, False
    clauses = [_clause(job, sources[job.obj], words, rng, held_out) for job in jobs]
    if len(clauses) == 1:
        text, name, named = clauses[0]
        return _sentence(text), name, named
    joiner, join_name = _pick(JOINERS[len(clauses)], held_out, rng, "join")
    text = joiner.format(*(c[0] for c in clauses))
    return _sentence(text), "/".join([join_name, *(c[1] for c in clauses)]), any(c[2] for c in clauses)


def _sentence(text: str) -> str:
    return text[:1].upper() + text[1:]
