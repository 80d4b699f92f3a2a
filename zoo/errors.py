"""Project errors: every expected failure is a ZooError that the CLI prints as one line.

Anything that is not a ZooError is a bug and keeps its traceback.
"""

from __future__ import annotations

import unicodedata


class ZooError(Exception):
    """Base class: the message must be one self-contained line for the user."""

    exit_code = 2


class RegistryError(ZooError):
    """A name is unknown, duplicated, or an entry is malformed."""


class ConfigError(ZooError):
    """registry.toml (or a grid file) is malformed, has an unknown key or a wrong type."""


class PluginError(ZooError):
    """A plugin failed to load or register (raised only in strict mode)."""


class DataError(ZooError):
    """A data file is missing, malformed, or could not be downloaded."""


class CheckpointError(ZooError):
    """A checkpoint is missing, corrupt, or untrusted."""


class DeviceError(ZooError):
    """The requested device does not exist in this Paddle build or on this machine."""


class ExportError(ZooError):
    """An export cannot be written, or an export folder is missing, corrupt or incomplete."""


class TrainingError(ZooError):
    """Training could not start or continue."""


class ReportError(ZooError):
    """A report cannot be made: nothing to report, an unwritable output, no matplotlib."""


def one_line(value: object, with_type: bool = False) -> str:
    """A message folded onto one line (library messages may span several).

    ``with_type`` prefixes an exception's class (``ValueError: ...``): for errors from
    someone else's code, where the class is half the message.
    """
    text = " ".join(str(value).split())
    if with_type:
        return f"{type(value).__name__}: {text or '(no message)'}"
    return text or type(value).__name__


def printable(text: str) -> str:
    """``text`` safe to print on one terminal line: control and format characters (newlines,
    escape sequences, bidirectional overrides, line separators) become ``\\n``, ``\\x1b``,
    ``\\u202e``..., and undecodable bytes of a file name (surrogate escapes) ``\\xNN``.
    Letters of every script stay as they are."""
    out = []
    for char in text:
        code = ord(char)
        if 0xDC80 <= code <= 0xDCFF:  # os.fsdecode's stand-in for a byte that is no UTF-8
            out.append(f"\\x{code - 0xDC00:02x}")
        elif unicodedata.category(char) in ("Cc", "Cf", "Cs", "Zl", "Zp"):
            out.append(char.encode("unicode_escape").decode("ascii") if code > 0xFF or char in "\n\r\t"
                       else f"\\x{code:02x}")
        else:
            out.append(char)
    return "".join(out)
