"""Finding and checking the user's scene images (read only: nothing here moves or deletes a file).

The guide's convention: images live under `./bdv2/` (any depth) and their stem ends in `_0`
(`scene_001_0.png`). An image is usable when it is non-empty, decodes completely, is not a
decompression bomb and has a shape the model's processor takes (`shape_problem`); otherwise
`check_image` says why in a few words, for rejected.jsonl. `open_image` and `image_size`, which
every stage reads images with, refuse such a shape too, naming the record.
"""

from __future__ import annotations

import io
import math
import os
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from harp.errors import DataError

if TYPE_CHECKING:  # PIL is imported where an image is opened, so the pure-Python paths stay light
    import PIL.Image

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg")
MAX_PIXELS = 40_000_000  # larger than any camera frame a planner needs; bombs claim far more
MAX_ASPECT_RATIO = 200  # Qwen2.5-VL's processor refuses an image whose long side is over 200 times its short one


SYNTHETIC_SUBDIR = "synthetic"  # where `--source synthetic` renders; the teacher leaves it alone
KITCHEN_SUBDIR = "kitchen"  # where `--source synthetic --world kitchen` renders; left alone too
# Its `--image-size` (pixels per side): at most the largest square check_image takes (100,000 asked for 30 GB).
SYNTHETIC_SIZES = (32, math.isqrt(MAX_PIXELS))


def find_images(images_dir: str | Path, warn=None) -> list[Path]:
    """Every `*_0.{png,jpg,jpeg}` under `images_dir` (case-insensitive suffix), sorted, each file once.

    Our own synthetic renders in `images_dir/synthetic/` and `images_dir/kitchen/` are left out: they
    have ground truth already, and labelling them would spend teacher calls for nothing. Point
    `--images-dir` at such a folder to label them anyway.

    A file reached twice (a symlink to an image, a linked folder) is listed once, under its first
    path that is not a link. `warn(line)` is told about what is skipped: a folder that cannot be
    read, and a file name holding a line break (the processed list has one name per line).
    """
    images_dir = Path(images_dir)
    rendered = [(images_dir / name).resolve() for name in (SYNTHETIC_SUBDIR, KITCHEN_SUBDIR)]
    warn = warn or (lambda line: None)
    by_target: dict[Path, Path] = {}
    visited: set[Path] = set()

    def unreadable(error: OSError) -> None:
        warn(f"{error.filename}: folder skipped, cannot be read ({error.strerror})")

    for folder, subfolders, files in os.walk(images_dir, onerror=unreadable, followlinks=True):
        real = Path(folder).resolve()
        if real in visited or any(real == skip or skip in real.parents for skip in rendered):
            subfolders[:] = []  # a link loop, a folder seen through another link, or our renders
            continue
        visited.add(real)
        subfolders.sort()
        for name in sorted(files):
            path = Path(folder) / name
            if path.suffix.lower() not in IMAGE_SUFFIXES or not path.stem.endswith("_0") or not path.is_file():
                continue
            if "\n" in name or "\r" in name:
                warn(f"{str(path)!r}: skipped, its file name holds a line break (rename it)")
                continue
            target = path.resolve()
            kept = by_target.get(target)
            if kept is None or (kept.is_symlink() and not path.is_symlink()):
                by_target[target] = path
    return sorted(by_target.values())


def open_image(image, where: str = "") -> PIL.Image.Image:
    """The one image opener: a path (or a PIL image) as an RGB PIL image.

    A missing or unreadable file is a one-line DataError: `data/sft_test.jsonl:7: image not found:
    ./bdv2/x_0.png` for a record (`where` = its file:line), `x.png: image not found` for a path alone."""
    if not isinstance(image, (str, Path)):
        _check_shape(image.size, "image", where)
        return image.convert("RGB") if getattr(image, "mode", "RGB") != "RGB" else image
    from PIL import Image  # lazy: keeps the pure-Python paths free of imaging imports

    try:
        with Image.open(image) as opened:
            _check_shape(opened.size, image, where)
            return opened.convert("RGB")
    except (OSError, Image.DecompressionBombError, ValueError) as error:
        raise _image_error(image, where, error) from None


def image_size(path: str | Path, where: str = "") -> tuple[int, int]:
    """(width, height) from the file's header, without decoding pixels; errors as `open_image`'s."""
    from PIL import Image

    try:
        with Image.open(path) as image:
            _check_shape(image.size, path, where)
            return image.size
    except (OSError, Image.DecompressionBombError, ValueError) as error:
        raise _image_error(path, where, error) from None


def shape_problem(width: int, height: int) -> str | None:
    """Why the model's processor would refuse an image of this size (None when it would not)."""
    if max(width, height) > MAX_ASPECT_RATIO * min(width, height):
        return f"{width}x{height} pixels, an aspect ratio over {MAX_ASPECT_RATIO}:1 (the model's processor refuses it)"
    return None


def _check_shape(size: tuple[int, int], path, where: str) -> None:
    problem = shape_problem(*size)
    if problem:
        raise DataError(f"{where}: image {path} is {problem}" if where else f"{path}: {problem}")


def _image_error(path, where: str, error: Exception) -> DataError:
    missing = isinstance(error, FileNotFoundError)
    if where:
        return DataError(
            f"{where}: image not found: {path}" if missing else f"{where}: cannot read image {path}: {error}"
        )
    return DataError(f"{path}: image not found" if missing else f"{path}: cannot read image: {error}")


def record_path(path: Path) -> str:
    """The path as records store it: `./bdv2/x_0.png` under the working directory, else absolute."""
    try:
        return "./" + path.resolve().relative_to(Path.cwd().resolve()).as_posix()
    except ValueError:
        return str(path.resolve())


@dataclass
class CheckedImage:
    data: bytes  # the file's bytes
    format: str  # "PNG", "JPEG", ...
    image: object  # the decoded PIL image


class BadImage(Exception):
    """Why an image cannot be used (a short sentence)."""


def check_image(path: Path, max_pixels: int = MAX_PIXELS) -> CheckedImage:
    """Read and fully decode an image; raise BadImage with the reason when it is unusable."""
    from PIL import Image

    try:
        data = path.read_bytes()
    except OSError as error:
        raise BadImage(f"cannot read file ({error.strerror or error})") from None
    if not data:
        raise BadImage("empty file (0 bytes)")
    try:
        with warnings.catch_warnings():
            # Pillow only warns between MAX_IMAGE_PIXELS and twice that; we want a hard limit.
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data))
            width, height = image.size
            if width * height > max_pixels:
                raise BadImage(f"too large: {width}x{height} pixels (limit {max_pixels:,})")
            if problem := shape_problem(width, height):
                raise BadImage(problem)
            image.load()  # decodes everything: a truncated file fails here
    except BadImage:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise BadImage(f"too large (decompression bomb, limit {max_pixels:,} pixels)") from None
    except (OSError, ValueError, SyntaxError) as error:
        raise BadImage(f"not a readable image ({error})") from None
    return CheckedImage(data, image.format or "", image)
