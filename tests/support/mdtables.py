"""Markdown tables as data, for tests that compare docs and reports."""

from __future__ import annotations

import re


def md_tables(text: str) -> dict[str, list[dict[str, str]]]:
    """Every Markdown table under a heading of any level, as rows keyed by column."""
    tables: dict[str, list[dict[str, str]]] = {}
    heading, header = "", None
    for line in without_fences(text).splitlines():
        if line.startswith("#"):
            heading, header = line.lstrip("#").strip(), None
        elif line.startswith("|"):
            cells = [cell.strip().replace("\\|", "|") for cell in re.split(r"(?<!\\)\|", line)[1:-1]]
            if header is None:
                header = cells
            elif not set(line) <= set("|-: "):
                tables.setdefault(heading, []).append(dict(zip(header, cells, strict=True)))
        else:
            header = None
    return tables


def without_fences(text: str) -> str:
    return re.sub(r"^ *```.*?^ *```$", "", text, flags=re.M | re.S)


def sections_naming(text: str, name: str, level: int) -> str:
    """The sections of ``text`` (from one heading of ``level`` or above to the
    next) that mention ``name``: where a doc shows one committed run."""
    parts = re.split(rf"^(?=#{{1,{level}}} )", text, flags=re.M)
    return "".join(part for part in parts if name in part)
