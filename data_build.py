"""The guide's `python data_build.py`: label ./bdv2/*_0.png with the teacher VLM (OPENROUTER_API_KEY),
or render synthetic scenes with `--source synthetic`. Flags: `python data_build.py --help`."""

import sys

from harp.data.cli import BUILD

if __name__ == "__main__":
    sys.exit(BUILD.main("data_build.py"))
