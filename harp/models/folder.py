"""Writing a model folder (`--out` of `harp model init-tiny | pretrain`) without losing anything of the user's.

The rule (`foreign_entry`): HARP replaces a folder only when everything in it is a file that a
model folder of HARP's holds (MODEL_FILES): a model `init-tiny` or `pretrain` wrote before, or a
copy of one cut short. Anything else in it (a file of another name, a subfolder: `--out ..`, a
home folder, a sharded hub download) is the user's, and the command stops in one line before any
work. The current folder and those above it are refused too, whatever they hold.

The new model is written into `<out>.partial` beside `out`, then swapped in by two renames through
`<out>.old`, so a kill leaves the old model or the new one. Killed between the two renames, the old
one waits in `<out>.old`, and the next run puts it back before it starts.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

from harp.config import RUN_CONFIG_FILE
from harp.errors import HarpError
from harp.paths import check_output_dir

MANIFEST = "pretraining.json"  # `harp model pretrain`'s record of a model: its recipe and every file's sha256
WEIGHTS = "model.safetensors"
# What `save_pretrained` writes for a Qwen2.5-VL model and its processor: all of them, or it does not load.
SAVED_FILES = (
    "config.json",
    "generation_config.json",
    WEIGHTS,
    "processor_config.json",
    "tokenizer.json",
    "tokenizer_config.json",
    "chat_template.jinja",
)
NOT_SHIPPED = ("training_args.bin",)  # the Trainer's pickled arguments: a model to share needs no pickle
MODEL_FILES = frozenset(
    {
        *SAVED_FILES,
        RUN_CONFIG_FILE,
        MANIFEST,
        *NOT_SHIPPED,
        # the processor and tokenizer files of older transformers, which split them up
        "preprocessor_config.json",
        "video_preprocessor_config.json",
        "chat_template.json",
        "special_tokens_map.json",
        "added_tokens.json",
        "vocab.json",
        "merges.txt",
    }
)


def foreign_entry(folder: Path) -> str | None:
    """The first entry of `folder` that is not a model file of HARP's (`notes.txt`, `data/`); None if
    there is none, or no folder."""
    if folder.is_symlink():
        return f"{folder.name} (a link)"
    if not folder.is_dir():
        return None
    try:
        entries = sorted(folder.iterdir())
    except OSError as error:
        raise HarpError(f"{folder}: cannot be listed ({error.strerror or error})") from None
    for entry in entries:
        if entry.name not in MODEL_FILES or entry.is_symlink() or not entry.is_file():
            return entry.name + ("/" if entry.is_dir() else "")
    return None


def check_model_out(out: str | Path, key: str = "--out") -> Path:
    """`out` as a Path if a model may be written there (see the module's docstring), else one-line HarpError."""
    out = check_output_dir(out, key)
    if Path.cwd().is_relative_to(out.resolve()):
        raise HarpError(f"{key}: {out} is the current folder or holds it; name a folder for the model")
    check_output_dir(out.resolve().parent, key)  # the swap renames `out` in its parent
    for folder in (out, *_siblings(out)):
        entry = foreign_entry(folder)
        if entry:
            raise HarpError(
                f"{key}: {folder} holds {entry}, not a file of a model HARP writes, so HARP "
                f"will not replace it; name a new or empty folder, or one HARP wrote a model in"
            )
    return out


def write_model_dir(out: str | Path, write: Callable[[Path], object], key: str = "--out") -> Path:
    """Call `write(folder)` on a new empty folder, then put that folder at `out` in place of what was there."""
    out = check_model_out(out, key)
    partial, old = _siblings(out)
    if old.exists():  # killed during an earlier swap
        if out.exists():
            shutil.rmtree(old)
        else:
            old.rename(out)
    if partial.exists():  # killed during an earlier write
        shutil.rmtree(partial)
    partial.mkdir(parents=True)
    try:
        write(partial)
    except BaseException:
        shutil.rmtree(partial, ignore_errors=True)
        raise
    if out.exists():
        out.rename(old)
        partial.rename(out)
        shutil.rmtree(old)
    else:
        partial.rename(out)
    return out


def _siblings(out: Path) -> tuple[Path, Path]:
    """`<out>.partial` (a model being written) and `<out>.old` (the one being replaced)."""
    out = out.resolve()
    return out.with_name(out.name + ".partial"), out.with_name(out.name + ".old")
