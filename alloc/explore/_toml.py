"""A small TOML writer for scenario dictionaries (``tomllib`` only reads).

Scenarios hold text, numbers, booleans, year-keyed tables (``{"2026/27" = 0.03}``), nested tables
(``[policy]``, ``[ensemble.uncertain]``) and lists; that is all this writes. ``tomllib.loads``
of the text gives the dictionary back.
"""

from __future__ import annotations

import json
import math
import re

_BARE_KEY = re.compile(r"^[A-Za-z0-9_-]+$")


def _key(key: str) -> str:
    return key if _BARE_KEY.match(key) else _string(key)


def _string(text: str) -> str:
    # JSON's escapes are TOML's (\" \\ \n \t \uXXXX); TOML also forbids a raw DEL.
    return json.dumps(text).replace("\x7f", "\\u007f")


def _value(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        return repr(value)
    if isinstance(value, str):
        return _string(value)
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_value(v) for v in value) + "]"
    if isinstance(value, dict):
        items = ", ".join(f"{_key(k)} = {_value(v)}" for k, v in value.items() if v is not None)
        return "{ " + items + " }" if items else "{}"
    raise TypeError(f"cannot write {type(value).__name__} as TOML")


def _is_table(value) -> bool:
    """A nested table written as ``[section]``: a dict holding at least one dict or
    non-year key (year-keyed parameters stay inline, as in the shipped scenarios)."""
    return isinstance(value, dict) and any(
        isinstance(v, dict) or not re.match(r"^\d{4}/\d{2}$", str(k)) for k, v in value.items()
    )


def dumps(data: dict, header: str = "") -> str:
    """``data`` as TOML text: plain keys first, then one ``[table]`` per nested table."""
    lines = [f"# {line}" if line else "#" for line in header.splitlines()]

    def table(node: dict, path: list[str]) -> None:
        plain = {k: v for k, v in node.items() if v is not None and not _is_table(v)}
        nested = {k: v for k, v in node.items() if _is_table(v)}
        if path and (plain or not nested):
            lines.append("")
            lines.append("[" + ".".join(_key(p) for p in path) + "]")
        for k, v in plain.items():
            lines.append(f"{_key(k)} = {_value(v)}")
        for k, v in nested.items():
            table(v, [*path, k])

    table(data, [])
    return "\n".join(lines).lstrip("\n") + "\n"
