"""One entry-point pattern for every stage: a `Command` is a stage's flags and its handler.

The same `Command` is a `harp` subcommand (`harp train sft`, registered by `harp.cli`) and one of
the guide's scripts (`python scripts/train_sft.py`, which calls `Command.main`), so both take the
same flags and fail the same way. `run_command` is the one wrapper that turns a user-fixable error
(`HarpError`) into one line on stderr under the program's name, as argparse does for bad flags.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from dataclasses import dataclass

from harp import processes
from harp.errors import HarpError


@dataclass(frozen=True)
class Command:
    name: str  # the subcommand's name under `harp` (or under its group: `harp train <name>`)
    help: str  # one line, shown by `harp --help` and as the script's description
    add_arguments: Callable[[argparse.ArgumentParser], None]  # the stage's flags
    run: Callable[[argparse.Namespace], int | None]  # the handler; None means success
    description: str | None = None  # a longer --help text, printed as written (default: `help`)

    def _parser_options(self) -> dict:
        if self.description is None:
            return {"description": self.help}
        return {"description": self.description, "formatter_class": argparse.RawDescriptionHelpFormatter}

    def register(self, subparsers) -> argparse.ArgumentParser:
        """Add this command to a `harp` subparser group."""
        parser = subparsers.add_parser(self.name, help=self.help, **self._parser_options())
        self.add_arguments(parser)
        parser.set_defaults(func=self.run)
        return parser

    def main(self, prog: str, argv: list[str] | None = None) -> int:
        """Run as a stand-alone script named `prog` (the guide's `python scripts/...py`): the same flags."""
        parser = argparse.ArgumentParser(prog=prog, **self._parser_options())
        self.add_arguments(parser)
        return run_command(prog, self.run, parser.parse_args(argv))


def add_group(subparsers, name: str, help: str, commands: list[Command]) -> None:
    """`harp <name> <command>`: a group of commands (`harp train sft|grpo`); bare `harp <name>` prints its help."""
    group = subparsers.add_parser(name, help=help, description=help)
    names = ",".join(command.name for command in commands)
    inner = group.add_subparsers(dest=f"{name}_command", metavar=f"{{{names}}}")
    group.set_defaults(func=lambda args: group.print_help() or 2)
    for command in commands:
        command.register(inner)


def run_command(prog: str, handler: Callable[[argparse.Namespace], int | None], args: argparse.Namespace) -> int:
    """Run a handler; its exit code. A HarpError is one line `PROG: error: ...` on stderr, not a traceback."""
    try:
        code = int(handler(args) or 0)
    except HarpError as error:
        print(f"{prog}: error: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"{prog}: interrupted; run the same command again to resume", file=sys.stderr)
        return 130
    except BrokenPipeError:  # `harp score ... | head`: the reader left; not an error of ours
        sys.stderr.close()
        return 0
    if code == 0:
        processes.leave_at_exit()  # a launch's process group is left before the interpreter shuts down
    return code
