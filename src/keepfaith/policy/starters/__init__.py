"""Example policies shipped with the package (the files are links to the repository's examples/)."""

from __future__ import annotations

from pathlib import Path

HERE = Path(__file__).resolve().parent
STARTERS = {"marketplace": "marketplace.yaml", "shop": "karaoke-shop.yaml"}


def starter_path(name: str) -> Path:
    return HERE / STARTERS[name]


def starter_text(name: str) -> str:
    return starter_path(name).read_text()
