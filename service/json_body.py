"""JSON from a request: parsed only when it nests at most MAX_DEPTH levels.

Python's parser recurses once per level, so a body of a few thousand `[` raises RecursionError, and
the code that walks a parsed document recurses too. The depth is counted on the raw text first,
without recursion and without parsing: strings are skipped whole by one regular expression, so a
10 MB bundle of SQL strings costs one match per string.
"""

from __future__ import annotations

import json
import re
from typing import Any

MAX_DEPTH = 64

# A JSON string (escapes included) or one bracket. An unterminated string matches nothing, so its
# brackets are counted: such a body is not JSON anyway.
_TOKENS = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"|[\[\]{}]', re.DOTALL)
_OPENING = frozenset(b"[{")


# A `\uD800`-`\uDFFF` escape: the only way JSON text can carry half of a surrogate pair, which
# Python parses into a str that no UTF-8 encoder (psycopg's included) takes.
_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F]")


class UnusableJson(Exception):
    """JSON that is well formed but refused: nested deeper than MAX_DEPTH, or holding text that is
    not Unicode. Not a ValueError: callers that take a ValueError for "not JSON" would hide it
    behind a vaguer answer."""


def too_deep() -> UnusableJson:
    return UnusableJson(f"the JSON body nests arrays and objects deeper than {MAX_DEPTH} levels")


def check_depth(text: str | bytes) -> None:
    """Raise UnusableJson when `text` opens more than MAX_DEPTH arrays or objects at once."""
    if isinstance(text, str):
        raw = text.encode("utf-8", "surrogatepass")
    elif json.detect_encoding(text) not in ("utf-8", "utf-8-sig"):
        raw = text.decode(json.detect_encoding(text), "surrogatepass").encode("utf-8", "surrogatepass")  # UTF-16 or 32, as json.loads reads it
    else:
        raw = text
    depth = 0
    for match in _TOKENS.finditer(raw):
        token = match.group()
        if len(token) != 1:
            continue  # a string
        if token[0] in _OPENING:
            depth += 1
            if depth > MAX_DEPTH:
                raise too_deep()
        else:
            depth -= 1


def loads(text: str | bytes, **kwargs: Any) -> Any:
    """`json.loads`, once the document is found to nest at most MAX_DEPTH levels; UnusableJson
    also for a string holding half of a surrogate pair."""
    check_depth(text)
    document = json.loads(text, **kwargs)
    raw = text.encode("utf-8", "surrogatepass") if isinstance(text, str) else text
    if _SURROGATE_ESCAPE.search(raw):  # rare: only then is the whole document re-encoded to look
        try:
            json.dumps(document, ensure_ascii=False).encode("utf-8")
        except UnicodeEncodeError:
            raise UnusableJson("the JSON body holds a string with half of a UTF-16 surrogate pair (a lone \\uD800-\\uDFFF escape)") from None
    return document
