"""The base of every part of a results file: strict types, no unknown keys (labbench.results)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict


class Model(BaseModel):
    """What every part of a results file shares: strict types, no unknown keys."""

    model_config = ConfigDict(strict=True, extra="forbid", validate_default=False)

    def to_dict(self) -> dict[str, Any]:
        return self.model_dump(mode="json")
