"""Errors a user can fix. The `harp` command and the scripts print them as one line."""


class HarpError(Exception):
    """An error a user can fix; printed as one line, without a traceback."""


class ConfigError(HarpError):
    """A config file is malformed: names the file and the key."""


class DataError(HarpError):
    """A data file is malformed: names the file and the line."""
