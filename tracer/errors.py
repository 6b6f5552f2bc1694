"""User-facing errors.

Every failure caused by what a user gave us (a description, a parameter, a model name, a
trace folder) raises a subclass of `UserInputError`. The CLI prints its message alone and
exits with code 2; nothing else should catch it.
"""


class UserInputError(Exception):
    """Bad user input. The message names the input and says what to do."""

    exit_code = 2


class DescriptionError(UserInputError):
    """An accelerator description file is malformed or a parameter override is invalid."""


class WorkloadError(UserInputError):
    """A model name is unknown or a layer shape is impossible."""


class MappingError(UserInputError):
    """A layer cannot be mapped onto the accelerator as configured."""


class TraceError(UserInputError):
    """A trace folder is missing, truncated, foreign or of another schema version."""
