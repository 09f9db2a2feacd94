"""Drawing the kitchen world (harp/data/kitchen.py): a 3x3 grid of furniture seen from above, items on
and in it.

As in the tabletop (world.py), what a task needs from the picture is made obvious on purpose, for a
tiny vision model: each kind of furniture and item has its own colour *and* silhouette, drawn large
with a dark outline; the two counter tops of a scene differ in colour; where a scene holds two of a
kind each carries a tag, 1 or 2 (the `countertop` and `countertop 2` of the plan). What is inside a
container is always drawn: a closed cabinet, drawer or fridge has a see-through door (a tinted,
hatched panel with a handle over its contents), an open one its door swung to the side and nothing
over its contents. The microwave shows what is in it through its window; a bowl, plate or pan shows
what is in it, smaller, at its centre.

Pure Pillow, no fonts (the tags' digits are drawn with lines), no randomness: the same sample gives
the same pixels.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from PIL import Image, ImageDraw

from harp.data.world import OUTLINE, _at, _points, draw_apple, draw_book, draw_bowl, draw_cup, draw_sponge

if TYPE_CHECKING:
    from harp.data.kitchen import KitchenSample

IMAGE_SIZE = 448  # 16x16 merged 28-pixel patches for Qwen2.5-VL
GRID = 3  # the kitchen is GRID x GRID cells, one piece of furniture each
FLOOR = (196, 186, 170)
GUTTER = 7  # pixels between cells
CELL = (IMAGE_SIZE - (GRID + 1) * GUTTER) // GRID
INSET = 4  # furniture inside its cell
ITEM = 0.38  # an item's side, as a share of its furniture's side (a pan on the stove: larger)
COUNTER_RGB = {
    "white": (240, 240, 234),
    "grey": (150, 152, 158),
    "blue": (96, 146, 214),
    "green": (112, 186, 112),
    "pink": (236, 162, 188),
}
WOOD, DARK_WOOD = (168, 112, 60), (96, 60, 32)
# Where the items of a piece of furniture stand: its slots' centres, as shares of its box. How many
# items a piece holds (kitchen.SLOTS) is how many it has room for here; the lamp's table holds none.
FOUR = ((0.3, 0.34), (0.72, 0.34), (0.3, 0.74), (0.72, 0.74))
SLOT_CENTRES = {
    "countertop": FOUR,
    "diningtable": FOUR,
    "cabinet": FOUR,
    "fridge": ((0.3, 0.42), (0.72, 0.42), (0.3, 0.77), (0.72, 0.77)),
    "drawer": ((0.3, 0.54), (0.72, 0.54)),
    "microwave": ((0.37, 0.52),),
    "stoveburner": ((0.45, 0.45),),
    "sinkbasin": ((0.3, 0.6), (0.7, 0.6)),
}
HANDLES = {  # a closed door's handle, on the frame beside its panel (never over the contents)
    "cabinet": (0.915, 0.3, 0.975, 0.7),
    "drawer": (0.35, 0.87, 0.65, 0.93),
    "fridge": (0.93, 0.35, 0.985, 0.8),
}
INTERIOR = {  # the part of a container that shows its contents (cabinet, drawer, fridge, microwave)
    "cabinet": (0.1, 0.1, 0.9, 0.92),
    "drawer": (0.08, 0.22, 0.92, 0.86),
    "fridge": (0.08, 0.24, 0.92, 0.94),
    "microwave": (0.08, 0.18, 0.66, 0.86),
}


def cell_box(cell: int) -> tuple[int, int, int, int]:
    row, column = divmod(cell, GRID)
    x = GUTTER + column * (CELL + GUTTER)
    y = GUTTER + row * (CELL + GUTTER)
    return (x + INSET, y + INSET, x + CELL - INSET, y + CELL - INSET)


def slot_box(furniture_kind: str, box, slot: int) -> tuple[float, float, float, float]:
    cx, cy = SLOT_CENTRES[furniture_kind][slot]
    half = (0.62 if furniture_kind == "stoveburner" else ITEM) / 2
    return _at(box, cx - half, cy - half, cx + half, cy + half)


def render(sample: KitchenSample, size: int = IMAGE_SIZE) -> Image.Image:
    """Draw the kitchen: furniture, the items in it (carriers' contents at their centre), the
    closed containers' see-through doors, then the number tags."""
    image = Image.new("RGB", (IMAGE_SIZE, IMAGE_SIZE), FLOOR)
    draw = ImageDraw.Draw(image)
    boxes = {piece.name: cell_box(piece.cell) for piece in sample.furniture}
    kinds = {piece.name: piece.kind for piece in sample.furniture}
    for piece in sample.furniture:
        FURNITURE_DRAWERS[piece.kind](draw, boxes[piece.name], piece)
    items = {item.name: item for item in sample.items}
    for item in sample.items:  # furniture first, so a carrier is drawn before what it holds
        inside = items.get(item.inside)
        if inside is None:
            boxes[item.name] = slot_box(kinds[item.inside], boxes[item.inside], item.slot)
        else:
            boxes[item.name] = _at(boxes[inside.name], 0.2, 0.2, 0.8, 0.8)
    for item in sorted(sample.items, key=lambda i: i.inside in items):
        ITEM_DRAWERS[item.kind](draw, boxes[item.name])
    closed = [piece for piece in sample.furniture if piece.closed]
    if closed:
        image = _see_through_doors(image, closed, boxes)
        draw = ImageDraw.Draw(image)
    for entity in [*sample.furniture, *sample.items]:
        if entity.number is not None:
            _tag(draw, boxes[entity.name], entity.number, small=entity in sample.items)
    if size != IMAGE_SIZE:
        image = image.resize((size, size), Image.Resampling.LANCZOS)
    return image


def _see_through_doors(image: Image.Image, closed: list, boxes: dict) -> Image.Image:
    """Tinted, hatched panels over the closed containers' insides, then their handles."""
    overlay = Image.new("RGBA", image.size, (0, 0, 0, 0))
    glass = ImageDraw.Draw(overlay)
    for piece in closed:
        inner = _at(boxes[piece.name], *INTERIOR[piece.kind])
        tint = (190, 225, 255, 90) if piece.kind == "fridge" else (230, 180, 110, 90)
        glass.rectangle(inner, fill=tint)
        x0, y0, x1, y1 = inner
        step = 14
        for offset in range(-int(y1 - y0), int(x1 - x0), step):  # diagonal hatching, clipped to the panel
            start = (x0 + max(offset, 0), y0 + max(-offset, 0))
            length = min(x1 - start[0], y1 - start[1])
            glass.line([start, (start[0] + length, start[1] + length)], fill=(255, 255, 255, 110), width=2)
    image = Image.alpha_composite(image.convert("RGBA"), overlay).convert("RGB")
    draw = ImageDraw.Draw(image)
    for piece in closed:
        inner = _at(boxes[piece.name], *INTERIOR[piece.kind])
        draw.rectangle(inner, outline=OUTLINE, width=4)
        draw.rounded_rectangle(
            _at(boxes[piece.name], *HANDLES[piece.kind]), radius=3, fill=(60, 60, 64), outline=OUTLINE
        )
    return image


def _tag(draw: ImageDraw.ImageDraw, box, number: int, small: bool) -> None:
    """A white disc with the digit, at the box's top-left corner."""
    size = 18 if small else 26
    x0, y0 = box[0] + (0 if small else 4), box[1] + (0 if small else 4)
    disc = (x0, y0, x0 + size, y0 + size)
    draw.ellipse(disc, fill=(255, 255, 255), outline=OUTLINE, width=2)
    strokes = DIGITS[number]
    for stroke in strokes:
        draw.line(_points(_at(disc, 0.22, 0.18, 0.78, 0.82), stroke), fill=OUTLINE, width=3 if not small else 2)


DIGITS = {  # strokes in a unit box
    1: ([(0.3, 0.25), (0.55, 0.05), (0.55, 0.95)], [(0.3, 0.95), (0.8, 0.95)]),
    2: ([(0.15, 0.25), (0.35, 0.05), (0.7, 0.05), (0.85, 0.25), (0.8, 0.45), (0.15, 0.95), (0.88, 0.95)],),
    3: ([(0.15, 0.1), (0.85, 0.1), (0.45, 0.45), (0.85, 0.65), (0.7, 0.95), (0.15, 0.9)],),
}


# ------------------------------------------------------------------------------------ furniture


def draw_countertop(draw, box, piece):  # a slab in the counter's colour with a darker edge
    colour = COUNTER_RGB[piece.colour]
    draw.rounded_rectangle(box, radius=6, fill=tuple(int(c * 0.75) for c in colour), outline=OUTLINE, width=3)
    draw.rounded_rectangle(_at(box, 0.05, 0.05, 0.95, 0.95), radius=5, fill=colour)


def draw_diningtable(draw, box, piece):  # a round wooden table with planks
    draw.ellipse(box, fill=WOOD, outline=OUTLINE, width=3)
    for fx in (0.35, 0.65):
        draw.line(_points(box, [(fx, 0.05), (fx, 0.95)]), fill=DARK_WOOD, width=2)


def draw_cabinet(draw, box, piece):  # a wooden carcass, dark inside; open: the door swung to the left
    draw.rectangle(box, fill=WOOD, outline=OUTLINE, width=3)
    draw.rectangle(_at(box, *INTERIOR["cabinet"]), fill=DARK_WOOD)
    if not piece.closed:
        _open_door(draw, box, (0.0, 0.06, 0.09, 0.96), WOOD)


def draw_drawer(draw, box, piece):  # a shallow box with its front panel below; open: the front pulled out
    draw.rectangle(_at(box, 0.0, 0.12, 1.0, 0.9), fill=WOOD, outline=OUTLINE, width=3)
    draw.rectangle(_at(box, *INTERIOR["drawer"]), fill=(214, 190, 150))
    front = (0.0, 0.88, 1.0, 1.0) if not piece.closed else (0.0, 0.84, 1.0, 0.96)
    draw.rectangle(_at(box, *front), fill=DARK_WOOD, outline=OUTLINE, width=2)


def draw_fridge(draw, box, piece):  # white, a grey freezer band on top, shelves inside
    draw.rounded_rectangle(box, radius=8, fill=(222, 228, 234), outline=OUTLINE, width=3)
    draw.rectangle(_at(box, 0.06, 0.05, 0.94, 0.19), fill=(170, 178, 186), outline=OUTLINE, width=2)
    draw.rectangle(_at(box, *INTERIOR["fridge"]), fill=(246, 250, 252))
    draw.line(_points(box, [(0.08, 0.59), (0.92, 0.59)]), fill=(150, 160, 170), width=2)
    if not piece.closed:
        _open_door(draw, box, (0.92, 0.22, 1.0, 0.98), (222, 228, 234))


def draw_microwave(draw, box, piece):  # a dark box: a window on the left, buttons on the right
    draw.rounded_rectangle(_at(box, 0.0, 0.1, 1.0, 0.94), radius=6, fill=(74, 74, 80), outline=OUTLINE, width=3)
    draw.rectangle(_at(box, *INTERIOR["microwave"]), fill=(30, 34, 40), outline=(150, 150, 150), width=2)
    for fy in (0.3, 0.46, 0.62):
        draw.ellipse(_at(box, 0.77, fy - 0.05, 0.87, fy + 0.05), fill=(200, 200, 200), outline=OUTLINE)
    draw.rectangle(_at(box, 0.72, 0.74, 0.92, 0.82), fill=(120, 220, 120))


def draw_stoveburner(draw, box, piece):  # black, glowing rings, two knobs
    draw.rounded_rectangle(box, radius=6, fill=(40, 40, 42), outline=OUTLINE, width=3)
    for radius, colour in ((0.38, (200, 70, 30)), (0.32, (40, 40, 42)), (0.24, (230, 110, 40)), (0.18, (40, 40, 42))):
        draw.ellipse(_at(box, 0.45 - radius, 0.45 - radius, 0.45 + radius, 0.45 + radius), fill=colour)
    for fx in (0.82, 0.92):
        draw.ellipse(_at(box, fx - 0.05, 0.84, fx + 0.05, 0.94), fill=(180, 180, 180), outline=OUTLINE)


def draw_sinkbasin(draw, box, piece):  # steel: a deep basin, a faucet on top
    draw.rounded_rectangle(box, radius=6, fill=(186, 192, 198), outline=OUTLINE, width=3)
    draw.rounded_rectangle(_at(box, 0.08, 0.26, 0.92, 0.92), radius=12, fill=(118, 130, 142), outline=OUTLINE, width=2)
    draw.rectangle(_at(box, 0.44, 0.04, 0.56, 0.2), fill=(150, 156, 162), outline=OUTLINE, width=2)
    draw.line(_points(box, [(0.5, 0.16), (0.5, 0.3)]), fill=OUTLINE, width=5)
    draw.ellipse(_at(box, 0.3, 0.06, 0.4, 0.16), fill=(210, 60, 60), outline=OUTLINE)
    draw.ellipse(_at(box, 0.6, 0.06, 0.7, 0.16), fill=(60, 110, 220), outline=OUTLINE)


def draw_desklamp(draw, box, piece):  # a small side table, a lamp on it (its shade grey: off)
    draw.rectangle(_at(box, 0.15, 0.15, 0.85, 0.85), fill=WOOD, outline=OUTLINE, width=3)
    draw.ellipse(_at(box, 0.36, 0.56, 0.64, 0.76), fill=(60, 60, 60), outline=OUTLINE, width=2)
    draw.line(_points(box, [(0.5, 0.62), (0.5, 0.42)]), fill=OUTLINE, width=5)
    draw.polygon(
        _points(box, [(0.3, 0.46), (0.7, 0.46), (0.6, 0.22), (0.4, 0.22)]),
        fill=(170, 170, 160),
        outline=OUTLINE,
        width=2,
    )


def _open_door(draw, box, where, colour):
    """An open door: a narrow panel at the side, its hinge edge dark."""
    draw.rectangle(_at(box, *where), fill=colour, outline=OUTLINE, width=3)


FURNITURE_DRAWERS = {
    "countertop": draw_countertop,
    "diningtable": draw_diningtable,
    "cabinet": draw_cabinet,
    "drawer": draw_drawer,
    "fridge": draw_fridge,
    "microwave": draw_microwave,
    "stoveburner": draw_stoveburner,
    "sinkbasin": draw_sinkbasin,
    "desklamp": draw_desklamp,
}


# ---------------------------------------------------------------------------------------- items


def draw_potato(draw, box):  # a brown lumpy oval with eyes
    draw.ellipse(_at(box, 0.05, 0.22, 0.95, 0.82), fill=(176, 124, 70), outline=OUTLINE, width=2)
    for fx, fy in ((0.3, 0.42), (0.55, 0.6), (0.72, 0.4)):
        draw.ellipse(_at(box, fx - 0.04, fy - 0.04, fx + 0.04, fy + 0.04), fill=(110, 74, 40))


def draw_tomato(draw, box):  # an orange-red disc with a green star on top
    draw.ellipse(_at(box, 0.06, 0.14, 0.94, 0.94), fill=(244, 84, 44), outline=OUTLINE, width=2)
    star = [(0.5, 0.2), (0.58, 0.4), (0.8, 0.42), (0.62, 0.52), (0.66, 0.72), (0.5, 0.58)]
    star += [(0.34, 0.72), (0.38, 0.52), (0.2, 0.42), (0.42, 0.4)]
    draw.polygon(_points(box, star), fill=(40, 150, 50), outline=OUTLINE)


def draw_bread(draw, box):  # a golden loaf with scores
    draw.rounded_rectangle(_at(box, 0.04, 0.2, 0.96, 0.8), radius=10, fill=(214, 154, 82), outline=OUTLINE, width=2)
    for fx in (0.3, 0.5, 0.7):
        draw.line(_points(box, [(fx - 0.08, 0.32), (fx + 0.08, 0.68)]), fill=(246, 214, 160), width=3)


def draw_lettuce(draw, box):  # ruffled green leaves
    for fx, fy in ((0.35, 0.4), (0.65, 0.4), (0.35, 0.65), (0.65, 0.65), (0.5, 0.52)):
        draw.ellipse(_at(box, fx - 0.3, fy - 0.3, fx + 0.3, fy + 0.3), fill=(124, 204, 92), outline=OUTLINE, width=2)
    draw.line(_points(box, [(0.5, 0.3), (0.5, 0.8)]), fill=(60, 130, 50), width=2)


def draw_egg(draw, box):  # an upright cream oval
    draw.ellipse(_at(box, 0.24, 0.08, 0.76, 0.92), fill=(252, 246, 226), outline=OUTLINE, width=2)


def draw_paper_cup(draw, box):  # a tapered beige cup with a red band
    draw.polygon(
        _points(box, [(0.18, 0.1), (0.82, 0.1), (0.68, 0.95), (0.32, 0.95)]),
        fill=(238, 222, 180),
        outline=OUTLINE,
        width=2,
    )
    draw.polygon(_points(box, [(0.23, 0.36), (0.77, 0.36), (0.74, 0.52), (0.26, 0.52)]), fill=(210, 50, 50))


def draw_plate(draw, box):  # a white disc with a grey rim
    draw.ellipse(_at(box, 0.02, 0.02, 0.98, 0.98), fill=(250, 250, 250), outline=OUTLINE, width=2)
    draw.ellipse(_at(box, 0.16, 0.16, 0.84, 0.84), outline=(170, 170, 170), width=2)


def draw_pan(draw, box):  # a black disc with a long brown handle
    draw.line(_points(box, [(0.7, 0.7), (1.0, 1.0)]), fill=OUTLINE, width=9)
    draw.line(_points(box, [(0.7, 0.7), (0.98, 0.98)]), fill=(130, 80, 40), width=5)
    draw.ellipse(_at(box, 0.0, 0.0, 0.82, 0.82), fill=(52, 52, 58), outline=OUTLINE, width=2)
    draw.ellipse(_at(box, 0.12, 0.12, 0.7, 0.7), fill=(76, 76, 84))


def draw_knife(draw, box):  # a silver blade on a black handle, diagonal
    draw.polygon(
        _points(box, [(0.08, 0.08), (0.62, 0.5), (0.54, 0.6), (0.04, 0.2)]),
        fill=(214, 218, 224),
        outline=OUTLINE,
        width=2,
    )
    draw.line(_points(box, [(0.58, 0.56), (0.94, 0.9)]), fill=OUTLINE, width=9)
    draw.line(_points(box, [(0.6, 0.58), (0.92, 0.88)]), fill=(30, 30, 30), width=6)


ITEM_DRAWERS = {
    "apple": draw_apple,
    "potato": draw_potato,
    "tomato": draw_tomato,
    "bread": draw_bread,
    "lettuce": draw_lettuce,
    "egg": draw_egg,
    "mug": draw_cup,
    "cup": draw_paper_cup,
    "plate": draw_plate,
    "bowl": draw_bowl,
    "pan": draw_pan,
    "book": draw_book,
    "dishsponge": draw_sponge,
    "knife": draw_knife,
}
