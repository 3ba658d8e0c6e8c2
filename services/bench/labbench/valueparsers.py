"""The value parsers of labbench's options (labbench.options): each turns a flag's
text into its value, or raises ArgumentTypeError, which argparse shows after
the flag's name (and --config files go through the same ones).
"""

from __future__ import annotations

import argparse
import urllib.parse
from collections.abc import Callable, Iterable
from typing import Any

from labbench import faults
from labcore import matrix, userscenarios


def names(known: Callable[[], Iterable[str]]) -> Callable[[str], list[str]]:
    """A comma-separated list of names from ``known()`` (asked only when parsing)."""

    def parse(text: str) -> list[str]:
        choices = list(known())
        chosen = [name.strip() for name in text.split(",") if name.strip()]
        unknown = [name for name in chosen if name not in choices]
        if unknown or not chosen:
            raise argparse.ArgumentTypeError(
                f"unknown {', '.join(unknown) or 'empty list'}; choose from {', '.join(choices)}"
            )
        return chosen

    return parse


def fault_names(text: str) -> list[str]:
    named = names(lambda: [*faults.FAULTS, "all"])(text)
    # "all" stands for every fault but the soak, in their own order.
    return list(dict.fromkeys(name for item in named for name in (faults.ALL if item == "all" else [item])))


def number(minimum: float, kind: type = float, maximum: float | None = None) -> Callable[[str], Any]:
    def parse(text: str) -> Any:
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a number, not {text!r}") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"must be at least {minimum:g}, not {text!r}")
        if maximum is not None and value > maximum:
            raise argparse.ArgumentTypeError(f"must be at most {maximum:g}, not {text!r}")
        return value

    return parse


def positive_ints(text: str) -> list[int]:
    try:
        values = [int(part) for part in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected whole numbers separated by commas, not {text!r}") from None
    if not values or min(values) < 1:
        raise argparse.ArgumentTypeError(f"every value must be at least 1, not {text!r}")
    return values


def choice(choices: Iterable[str]) -> Callable[[str], str]:
    """One of ``choices``."""
    allowed = list(choices)

    def parse(text: str) -> str:
        if text not in allowed:
            raise argparse.ArgumentTypeError(f"unknown {text!r}; choose from {', '.join(allowed)}")
        return text

    return parse


def target_pair(text: str) -> tuple[str, str]:
    """``NAME=URL``: a server outside this Compose project, by the name its cells carry."""
    name, equals, url = text.partition("=")
    name, url = name.strip(), url.strip().rstrip("/")
    if not equals or not userscenarios.NAME.fullmatch(name):
        raise argparse.ArgumentTypeError(f"expected NAME=URL with a lower-case NAME like staging, not {text!r}")
    parts = urllib.parse.urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.query or parts.fragment:
        raise argparse.ArgumentTypeError(f"expected an http:// or https:// URL after {name}=, not {url!r}")
    if name in matrix.addressable():
        raise argparse.ArgumentTypeError(f"{name} is a server of compose.yaml; give the target another name")
    return name, url


def whole_number(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, not {text!r}") from None
