"""Errors a user can act on: the CLI prints them on one line and exits with code 2."""

from __future__ import annotations


class RaytpError(Exception):
    """Bad input or a run directory in the wrong state; the message names the file/field at fault."""

    exit_code = 2


class DataError(RaytpError):
    """A data file is missing, empty or malformed."""


class ConfigError(RaytpError):
    """An experiment config is invalid."""


class RunDirError(RaytpError):
    """A run directory is missing an artifact, or one failed its checksum."""


class ProfilingError(RaytpError):
    """Signatures are missing, malformed, or were computed on a different probe set."""


class PredictorError(RaytpError):
    """A transfer predictor, its inputs or a pruning request is invalid."""


class Interrupted(RaytpError):
    """The user interrupted a long stage (Ctrl-C); what it saved can be resumed. The CLI exits with 130."""

    exit_code = 130
