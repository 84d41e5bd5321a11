"""Text a client sends that can't be text: half of a UTF-16 surrogate pair, which JSON can spell (`"\\ud800"`)
and Python reads into a string no response, log or database driver can encode as UTF-8."""

from __future__ import annotations

from typing import Any

INVALID_TEXT = "Text in the request holds half of a UTF-16 surrogate pair (\\ud800–\\udfff alone)"


def holds_lone_surrogate(document: Any) -> bool:
    """Whether parsed JSON holds a string (a key or a value) with half a UTF-16 pair."""
    pending: list[Any] = [document]
    while pending:
        value = pending.pop()
        if isinstance(value, dict):
            pending.extend(value.keys())
            pending.extend(value.values())
        elif isinstance(value, list):
            pending.extend(value)
        elif isinstance(value, str):
            try:
                value.encode("utf-8")
            except UnicodeEncodeError:
                return True
    return False
