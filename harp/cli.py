"""The `harp` command: every stage is a subcommand (a `harp.entry.Command`), registered by its module.

Modules are imported only to register their parsers; they keep torch/transformers imports inside
their handlers, so light commands such as `harp score` start fast. A module that fails to import
stops `harp` with one line naming it (a stage is never silently missing from `harp --help`).
"""

from __future__ import annotations

import argparse
import importlib
import sys

from harp.entry import run_command

# Each module defines `register(subparsers)`.
COMMAND_MODULES = [
    "harp.rewards.cli",  # harp score
    "harp.data.cli",  # harp data build | split | contact-sheet
    "harp.models.cli",  # harp model init-tiny
    "harp.train.cli",  # harp train sft | grpo
    "harp.negatives.cli",  # harp negatives
    "harp.eval.cli",  # harp predict | evaluate | report
    "harp.recipes.demo",  # harp demo
]


class CommandImportError(Exception):
    """A command module could not be imported: HARP's installation is broken, not the user's input."""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="harp", description=__doc__.splitlines()[0])
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for module_name in COMMAND_MODULES:
        try:
            module = importlib.import_module(module_name)
        except ImportError as error:
            raise CommandImportError(f"cannot load the commands of {module_name}: {error}") from error
        module.register(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    try:
        parser = build_parser()
    except CommandImportError as error:
        print(f"harp: error: {error}", file=sys.stderr)
        return 1
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    sub = getattr(args, f"{args.command}_command", None)  # a group's command: `harp train sft`
    return run_command(f"harp {args.command}" + (f" {sub}" if sub else ""), args.func, args)


if __name__ == "__main__":
    sys.exit(main())
