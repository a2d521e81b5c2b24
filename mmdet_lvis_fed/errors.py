"""The one error type of bad input, and how its messages name things (no dependencies)."""


class LVISFormatError(ValueError):
    """Bad LVIS-format input. The message names the file, the record and the field:
    ``FILE: annotations[3]: field "bbox": has 8 numbers, not 4``."""


def where(source):
    """The `FILE: ` prefix of a message (empty when the data did not come from a file)."""
    return f'{source}: ' if source else ''


def field_error(source, record, field, problem):
    return LVISFormatError(f'{where(source)}{record}: field "{field}": {problem}')


def describe(value, limit=40):
    """A JSON-ish rendering of a bad value for a message, cut to `limit` characters."""
    import json
    try:
        text = json.dumps(value)
    except (TypeError, ValueError):
        text = repr(value)
    return text if len(text) <= limit else text[:limit - 3] + '...'


class CheckpointError(ValueError):
    """A checkpoint file that cannot be loaded, or not safely. The message is one line that names
    the file: ``FILE: not a PyTorch checkpoint (...)``."""


class CommandError(Exception):
    """A request that a command cannot carry out (a run that failed, a lock another process holds,
    an output that is an input). Raised by the package's experiment and benchmark code; the
    command-line tools print its message as their one line, ``error: ...``, exit status 2."""
