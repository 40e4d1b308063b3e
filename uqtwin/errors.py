"""Exceptions that carry a message a user can act on.

Every problem with the user's input (a file, a config, a volume) raises
:class:`UqtwinInputError` or a subclass, whose message names the problem. The CLI
prints that message and exits non-zero without a traceback; a library user can
catch it as a :class:`ValueError`.
"""


class UqtwinInputError(ValueError):
    """Bad input: the message names the file, key or array and what is wrong with it."""


class VolumeError(UqtwinInputError):
    """A volume that cannot be used: wrong shape, NaN values, truncated file, bad spacing."""


class ConfigError(UqtwinInputError):
    """A configuration that cannot be used: unknown key, wrong type, missing value."""


class PhaseError(UqtwinInputError):
    """A phase that is absent, unknown, or empty where a quantity needs it."""
