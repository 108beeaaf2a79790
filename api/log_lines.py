"""The app's log holds lines, not request bodies.

Gradio prints some failures with the values a caller sent: a call with too few inputs raises a
`ValueError` that lists every received value, and its queue prints it with
`traceback.print_exc()` straight to stderr (gradio/blocks.py `validate_inputs`, gradio/queueing.py),
past the logging module and any filter on it. A 50 MB anonymous call grew the log by 50 MB.
Request bodies are bounded (api/bodies.py), but even a bounded one is no log line.

So the process's stdout and stderr cut what one write may put in the log: every line to
`MAX_LINE` characters, every write to `MAX_WRITE` (its start and its end kept, the middle
replaced by a note of how much was cut). A write is one print, one traceback line, or one
logging record with its traceback: those stay whole.
"""

from __future__ import annotations

import sys
from typing import Any, TextIO

MAX_LINE = 2000  # characters of one line
MAX_WRITE = 16_000  # characters of one write (a logging record with a long traceback fits)


def cap_text(text: str, max_line: int = MAX_LINE, max_write: int = MAX_WRITE) -> str:
    """`text` with each line cut to `max_line` and the whole cut to about `max_write` characters."""
    if len(text) <= max_line:
        return text
    lines = text.split("\n")
    for index, line in enumerate(lines):
        if len(line) > max_line:
            lines[index] = f"{line[:max_line]}… [{len(line) - max_line} characters cut]"
    text = "\n".join(lines)
    if len(text) > max_write:
        head, tail = max_write * 3 // 4, max_write // 4
        text = f"{text[:head]}\n… [{len(text) - head - tail} characters cut] …\n{text[-tail:]}"
    return text


class CappedStream:
    """A text stream whose writes pass `cap_text`; everything else goes to the stream it wraps."""

    def __init__(self, stream: TextIO):
        self._stream = stream

    def write(self, text: str) -> int:
        self._stream.write(cap_text(text))
        return len(text)  # what the caller asked to write: print and logging expect that

    def writelines(self, lines) -> None:
        for line in lines:
            self.write(line)

    def __getattr__(self, name: str) -> Any:  # flush, fileno, isatty, encoding, buffer, ...
        return getattr(self._stream, name)


def cap_output() -> None:
    """Cap sys.stdout and sys.stderr of this process (once; before logging takes its stream)."""
    if not isinstance(sys.stdout, CappedStream) and sys.stdout is not None:
        sys.stdout = CappedStream(sys.stdout)
    if not isinstance(sys.stderr, CappedStream) and sys.stderr is not None:
        sys.stderr = CappedStream(sys.stderr)
