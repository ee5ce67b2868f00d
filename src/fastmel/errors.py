"""fastmel's exceptions.

Each subclasses the built-in a caller would catch anyway, so
``except ValueError`` keeps working, and each message names the offending
value and what was expected.
"""

from __future__ import annotations

__all__ = [
    "FastmelError",
    "ParameterError",
    "AudioError",
    "AudioFileNotFound",
    "BackendUnavailable",
    "ModelError",
]


class FastmelError(Exception):
    """Base class of every exception fastmel raises on purpose."""


class ParameterError(FastmelError, ValueError):
    """A configuration value or function argument is outside what is allowed."""


class AudioError(FastmelError, ValueError):
    """Audio that cannot be turned into features: empty, non-finite, too short,
    wrong rank or dtype, undecodable, or at the wrong sample rate."""


class AudioFileNotFound(AudioError, FileNotFoundError):
    """An audio path that does not exist."""


class BackendUnavailable(FastmelError, ImportError):
    """A backend whose package is not installed or whose device is absent."""


class ModelError(FastmelError, ValueError):
    """Model weights or a model configuration that cannot be used."""
