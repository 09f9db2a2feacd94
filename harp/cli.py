"""The `harp` command. Each stage module registers its own subcommands.

Modules are imported only to register their parsers; they keep torch/transformers imports inside
their handlers, so light commands such as `harp score` start fast.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from harp.errors import HarpError

# Each module defines `register(subparsers)`; handlers are set with `parser.set_defaults(func=...)`.
COMMAND_MODULES = [
    "harp.rewards.cli",  # harp score
    "harp.data.cli",  # harp data build | split
    "harp.models.cli",  # harp model init-tiny
    "harp.eval.cli",  # harp predict | evaluate
    "harp.demo",  # harp demo
]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="harp", description=__doc__.splitlines()[0])
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for module_name in COMMAND_MODULES:
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as error:
            if error.name == module_name:  # stage not written yet
                continue
            raise
        module.register(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except HarpError as error:
        print(f"harp {args.command}: error: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # `harp score ... | head`: the reader left; not an error of ours
        sys.stderr.close()
        return 0


if __name__ == "__main__":
    sys.exit(main())
