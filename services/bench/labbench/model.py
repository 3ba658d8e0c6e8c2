"""The base of every part of a results file: strict types, no unknown keys (labbench.results)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError


class Model(BaseModel):
    """What every part of a results file shares: strict types, no unknown keys."""

    model_config = ConfigDict(strict=True, extra="forbid", validate_default=False)

    def to_dict(self) -> dict[str, Any]:
        return self.model_dump(mode="json")


def describe(error: ValidationError, most: int = 5) -> str:
    """The first few problems, each as ``where: what`` (``cells[3].rps: Input should be a valid number``)."""
    problems = []
    for item in error.errors()[:most]:
        where = "".join(f"[{part}]" if isinstance(part, int) else f".{part}" for part in item["loc"]).lstrip(".")
        problems.append(f"{where or 'the file'}: {item['msg']}")
    more = error.error_count() - len(problems)
    return "; ".join(problems) + (f" (and {more} more)" if more > 0 else "")
