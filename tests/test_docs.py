"""Documentation is tested against the code (as Datasette does): a command, option or
document that exists in one place but not the other fails here."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import click

from keepfaith.cli import main

ROOT = Path(__file__).resolve().parent.parent
CLI_DOC = (ROOT / "docs" / "cli.md").read_text()


def commands(command: click.Command, path: tuple[str, ...]) -> Iterator[tuple[str, click.Command]]:
    if isinstance(command, click.Group):
        for name, sub in sorted(command.commands.items()):
            yield from commands(sub, (*path, name))
    else:
        yield " ".join(path), command


def test_every_command_and_option_is_documented() -> None:
    missing = []
    for path, command in commands(main, ("keepfaith",)):
        section = re.search(rf"### `{re.escape(path)}[ `].*?(?=\n### |\n## |\Z)", CLI_DOC, re.S)
        if section is None:
            missing.append(path)
            continue
        for param in command.params:
            if isinstance(param, click.Option) and f"`{param.opts[0]}" not in section.group():
                missing.append(f"{path} {param.opts[0]}")
    assert missing == []


def test_documented_commands_exist() -> None:
    real = {path for path, _ in commands(main, ("keepfaith",))}
    documented = set(re.findall(r"^### `(keepfaith [a-z0-9 -]+?)(?: [A-Z_ ]+)?`", CLI_DOC, re.M))
    assert documented - real == set()


def test_the_readme_links_only_to_documents_that_exist() -> None:
    readme = (ROOT / "README.md").read_text()
    links = re.findall(r"\]\(((?:docs|bench)/[^)]+)\)", readme)
    assert links
    assert [link for link in links if not (ROOT / link).exists()] == []


def test_the_readme_gives_the_two_commands() -> None:
    readme = (ROOT / "README.md").read_text()
    assert "python3 -m venv .venv && .venv/bin/pip install . && .venv/bin/keepfaith demo" in readme
    assert "./scripts/test" in readme
    assert "./scripts/test" in (ROOT / ".ci" / "run").read_text()


def test_the_cli_reference_is_current() -> None:
    """docs/cli.md is generated from the commands' help: run scripts/gen-cli-docs after a change."""
    import runpy

    generator = runpy.run_path(str(ROOT / "scripts" / "gen-cli-docs"))
    assert generator["render"]() == CLI_DOC
