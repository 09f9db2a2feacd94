"""The grounded tiny model that ships in the package, and its checked copy (`harp model init-tiny --grounded`).

Its folder holds the model's files and a MANIFEST naming every file's sha256, so a Git LFS
pointer, a partial copy or a missing tokenizer is refused before the copy. `harp model pretrain`
(harp/recipes/pretrain.py) rebuilds it.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

from harp.errors import DataError, HarpError
from harp.models.folder import MANIFEST, MODEL_FILES, SAVED_FILES, check_model_out, write_model_dir

GROUNDED_DIR = Path(__file__).resolve().parent / "checkpoints" / "tiny-qwen2.5-vl-grounded"
# GROUNDED_DIR's model after `harp model pretrain --world kitchen`: it sees the kitchen world (64 image tokens)
KITCHEN_DIR = GROUNDED_DIR.with_name("tiny-qwen2.5-vl-kitchen")


def copy_grounded(out: str | Path, source: Path = GROUNDED_DIR, key: str = "--out") -> Path:
    """Copy the shipped grounded model to `out`, after checking every file of it against its manifest."""
    out = check_model_out(out, key)
    digests = read_manifest(source)
    for name, digest in digests.items():
        if not (source / name).is_file() or sha256(source / name) != digest:
            raise HarpError(
                f"{source / name}: missing or not the file its {MANIFEST} names (a Git LFS pointer? "
                f"a partial copy?); rebuild with `harp model pretrain --out {source}`"
            )
    return write_model_dir(out, lambda folder: copy_files(source, folder, [*digests, MANIFEST]), key)


def read_manifest(source: Path) -> dict[str, str]:
    """The sha256 of each file of the model in `source`, from its MANIFEST: every file the model
    needs to load is named, so a checkpoint without its tokenizer is refused, not copied."""
    path, rebuild = source / MANIFEST, f"; rebuild it with `harp model pretrain --out {source}`"
    if not path.is_file():
        raise HarpError(f"{source}: no grounded model here{rebuild}")
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, RecursionError) as error:
        raise DataError(f"{path}: not a readable JSON manifest ({str(error).splitlines()[0]}){rebuild}") from None
    digests = manifest.get("sha256") if isinstance(manifest, dict) else None
    if not isinstance(digests, dict) or not all(
        name in MODEL_FILES and isinstance(digest, str) for name, digest in digests.items()
    ):
        raise DataError(f"{path}: sha256 is not a map from model file names to digests{rebuild}")
    missing = [name for name in SAVED_FILES if name not in digests]
    if missing:
        raise DataError(f"{path}: names no sha256 for {', '.join(missing)}{rebuild}")
    return digests


def copy_files(source: Path, folder: Path, names: list[str]) -> None:
    """Copy the named files of a model, those its manifest vouches for, from `source` into `folder`."""
    for name in names:
        shutil.copy2(source / name, folder / name)


def sha256(path: Path) -> str:
    with path.open("rb") as handle:  # streamed: a weights file may be gigabytes
        return hashlib.file_digest(handle, "sha256").hexdigest()
