"""Task sentences that vary: how a person might ask for the same goal, and a held-out share of it.

`harp data build` has two ways of saying a task. `templates` is the world's handful of fixed
sentences (harp.data.world.PHRASINGS_*), the demo's. `varied` composes a sentence from parts: a
frame (the sentence's shape: a request, a question, a statement of where things belong, two
clauses joined by "and", ", then", a second sentence, an elliptical second clause...), verbs,
synonyms and colour words for the objects and receptacles ("the mug", "the blue cup", "the trash
bin"), and several ways of naming where an object lies ("the banana on the red table", "... lying
on ...", "... from ...").

Frames come in two sets. A model trains on `seen` frames only; `held_out` frames are new sentence
shapes made of the same words, so a test phrased with them asks whether the model learnt what a
sentence asks for or memorised its shapes. `harp data build --language held_out` writes the same
scenes, plans and pictures with held-out sentences (drawn from their own random stream, so the
scenes do not change with the language).

Every sentence names the objects in the order the goal lists them, so the plan's order (the task's
mention order, harp.data.synthetic.mention_order_plan) follows from the sentence.
"""

from __future__ import annotations

import random

LANGUAGES = ("templates", "varied", "held_out")  # `harp data build --language`

# What an object may be called beside its own name; the colour is the one it is drawn in.
OBJECT_WORDS = {
    "apple": ("apple", "red apple"),
    "banana": ("banana", "yellow banana"),
    "cup": ("cup", "mug", "blue cup", "blue mug"),
    "bottle": ("bottle", "green bottle"),
    "book": ("book", "purple book"),
    "carrot": ("carrot", "orange carrot"),
    "ball": ("ball", "beach ball"),
    "sponge": ("sponge", "yellow sponge"),
    "spoon": ("spoon", "grey spoon", "metal spoon"),
}
PLACE_WORDS = {
    "basket": ("basket", "wicker basket"),
    "box": ("box", "cardboard box"),
    "bin": ("bin", "trash bin", "waste bin"),
    "bowl": ("bowl", "blue bowl"),
    "shelf": ("shelf", "wooden shelf"),
}
CONTAINERS = ("basket", "box", "bin", "bowl")  # one goes *into* these; onto the rest (shelf, tables)
# Where an object lies, said after its name ("the apple on the red table").
SOURCE_WORDS = ("on the {s}", "from the {s}", "lying on the {s}", "that is on the {s}", "sitting on the {s}")
VERBS = ("put", "place", "move", "set", "drop", "bring", "take", "carry")
TO_VERBS = ("bring", "move", "take", "carry")  # the verbs said with "to the bin" ({T} frames)
# Movement towards a destination: "into the bin"; a state: "in the bin".
INTO = ("into the {d}", "in the {d}", "inside the {d}")
ONTO = ("onto the {d}", "on the {d}")
IN = ("in the {d}", "inside the {d}")
ON = ("on the {d}",)

# Frames: {V}/{v} a verb (capitalised or not; {Vt}/{vt} one of TO_VERBS), {O}/{O1}/{O2} an object
# with its source when the task names it ({Oc}: capitalised), {D}/{D1}/{D2} a destination with a
# movement preposition, {T} with "to", {L} with a state preposition ("in the bin"). The first word is
# capitalised when the frame starts with a slot.
ONE = {
    "seen": (
        "{V} {O} {D}",
        "{Vt} {O} {T}",
        "Please {v} {O} {D}",
        "{V} {O} {D}, please",
        "Could you {v} {O} {D}?",
        "Can you {v} {O} {D}?",
        "{Oc} goes {D}",
        "Pick up {O} and put it {D}",
        "Grab {O} and drop it {D}",
        "Take {O} and place it {D}",
        "I want {O} {L}",
        "The task: {v} {O} {D}",
    ),
    "held_out": (
        "{Oc} should end up {L}",
        "Would you {v} {O} {D}?",
        "Make sure {O} is {L}",
        "I'd like {O} {L}",
        "Time to {v} {O} {D}",
    ),
}
SAME_DESTINATION = {
    "seen": (
        "{V} {O1} and {O2} {D1}",
        "{Vt} {O1} and {O2} {T1}",
        "{V} both {O1} and {O2} {D1}",
        "{V} {O1} {D1}, and {O2} too",
        "{V} {O1} {D1}. {V} {O2} there as well",
        "{Oc1} and {O2} both go {D1}",
        "Please {v} {O1} and {O2} {D1}",
    ),
    "held_out": (
        "{V} {O1} {D1}, then {O2} as well",
        "Could you {v} {O1} and {O2} {D1}?",
        "{V} {O1} {D1}; {O2} goes there too",
    ),
}
EACH_DESTINATION = {
    "seen": (
        "{V} {O1} {D1} and {O2} {D2}",
        "{Vt} {O1} {T1} and {O2} {T2}",
        "{V} {O1} {D1}, then {v} {O2} {D2}",
        "{V} {O1} {D1}. Then {v} {O2} {D2}",
        "{V} {O1} {D1}, and {v} {O2} {D2}",
        "First {v} {O1} {D1}, after that {v} {O2} {D2}",
        "{Oc1} goes {D1} and {O2} goes {D2}",
        "Please {v} {O1} {D1} and {O2} {D2}",
    ),
    "held_out": (
        "{V} {O1} {D1}, then {O2} {D2}",
        "{V} {O1} {D1}. Also, {v} {O2} {D2}",
        "{V} {O1} {D1}; {O2} should go {D2}",
        "Could you {v} {O1} {D1} and {O2} {D2}?",
        "{Vt} {O1} {T1}, then {vt} {O2} {T2} too",
    ),
}


THREE_SAME_DESTINATION = {
    "seen": (
        "{V} {O1}, {O2} and {O3} {D1}",
        "{Oc1}, {O2} and {O3} all go {D1}",
        "{V} {O1} {D1}, then {O2} and {O3} too",
    ),
    "held_out": ("Could you {v} {O1}, {O2} and {O3} {D1}?", "{V} {O1} {D1}. {O2} and {O3} go there as well"),
}
THREE_EACH_DESTINATION = {
    "seen": (
        "{V} {O1} {D1}, {O2} {D2} and {O3} {D3}",
        "{V} {O1} {D1}, then {v} {O2} {D2}, then {v} {O3} {D3}",
        "{V} {O1} {D1}. Then {v} {O2} {D2} and {O3} {D3}",
    ),
    "held_out": ("First {v} {O1} {D1}; {O2} goes {D2} and {O3} goes {D3}", "{V} {O1} {D1}, {O2} {D2}, then {O3} {D3}"),
}
SHAPES = {  # (objects, one destination for all) -> the frames' name and table
    (1, True): ("one", ONE),
    (2, True): ("same", SAME_DESTINATION),
    (2, False): ("each", EACH_DESTINATION),
    (3, True): ("three_same", THREE_SAME_DESTINATION),
    (3, False): ("three_each", THREE_EACH_DESTINATION),
}


def frames(num_objects: int, same_destination: bool, held_out: bool) -> tuple[str, ...]:
    """The frames a task of this shape may be said with (seen or held-out)."""
    return SHAPES[num_objects, same_destination][1]["held_out" if held_out else "seen"]


def frame_name(num_objects: int, same_destination: bool, held_out: bool, index: int) -> str:
    """A frame's name in a record's `meta.phrasing`: "one:3", "same:held_out:0"."""
    return f"{SHAPES[num_objects, same_destination][0]}:{'held_out:' if held_out else ''}{index}"


def say(goal: dict[str, str], sources: dict[str, str], source_named: bool, rng: random.Random, held_out: bool) -> tuple:
    """(sentence, frame name) asking for `goal` (object -> destination, in mention order).

    `sources` gives where each object lies (named in the sentence when `source_named`); a name this
    world never draws (an infeasible task's "laptop", "fridge") is said as it is."""
    objects = list(goal)
    same = len(set(goal.values())) == 1  # one destination for all (a one-object task too)
    choices = frames(len(objects), same, held_out)
    index = rng.randrange(len(choices))
    verb, to_verb = rng.choice(VERBS), rng.choice(TO_VERBS)
    values = {"V": verb.capitalize(), "v": verb, "Vt": to_verb.capitalize(), "vt": to_verb}
    for number, obj in enumerate(objects, 1):
        said = _object(obj, sources.get(obj) if source_named else None, rng)
        suffix = "" if len(objects) == 1 else str(number)
        values["O" + suffix] = said
        values["Oc" + suffix] = said[:1].upper() + said[1:]
        destination = goal[obj]
        values["D" + suffix] = _place(destination, rng, moving=True)
        values["L" + suffix] = _place(destination, rng, moving=False)
        values["T" + suffix] = "to the " + rng.choice(PLACE_WORDS.get(destination, (destination,)))
    text = choices[index].format(**values)
    return text[:1].upper() + text[1:], frame_name(len(objects), same, held_out, index)


def _object(name: str, source: str | None, rng: random.Random) -> str:
    said = "the " + rng.choice(OBJECT_WORDS.get(name, (name,)))
    return f"{said} {rng.choice(SOURCE_WORDS).format(s=source)}" if source else said


def _place(name: str, rng: random.Random, moving: bool) -> str:
    container = name in CONTAINERS or name not in PLACE_WORDS and not name.endswith("table")
    forms = (INTO if container else ONTO) if moving else (IN if container else ON)
    return rng.choice(forms).format(d=rng.choice(PLACE_WORDS.get(name, (name,))))
