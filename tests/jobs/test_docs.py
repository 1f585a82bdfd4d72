"""docs/jobs.md is tested against the code: a command, option or parameter it does not mention
fails here first (Datasette's habit)."""

from __future__ import annotations

import inspect
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click
import pytest

from keepfaith.jobs.cli import jobs_group, worker_command
from keepfaith.jobs.queue import enqueue
from keepfaith.jobs.registry import MODULES_ENV, job
from keepfaith.jobs.schedules import every

DOCS = (Path(__file__).resolve().parents[2] / "docs" / "jobs.md").read_text()


@pytest.mark.parametrize("command", sorted(jobs_group.commands))
def test_every_jobs_command_is_documented(command: str) -> None:
    assert f"keepfaith jobs {command}" in DOCS


@pytest.mark.parametrize(
    "option", [o for p in worker_command.params if isinstance(p, click.Option) for o in p.opts]
)
def test_every_worker_option_is_documented(option: str) -> None:
    if option == "-p":
        return  # the short form of --processes
    assert re.search(rf"keepfaith worker .*{option}\b", DOCS), option


def test_the_handler_modules_variable_is_documented() -> None:
    assert f"`{MODULES_ENV}=" in DOCS


@pytest.mark.parametrize("function", [enqueue, job, every])
def test_public_signatures_are_documented(function: Callable[..., Any]) -> None:
    documented = re.search(rf"`{function.__name__}\(([^`]*)\)", DOCS)
    assert documented, f"{function.__name__}(...) is not in docs/jobs.md"
    text = re.sub(r"\s*=\s*", "=", documented.group(1))
    for name, parameter in inspect.signature(function).parameters.items():
        default = "" if parameter.default is inspect.Parameter.empty else f"={parameter.default}"
        assert re.search(rf"\b{name}(: [^=,]+)?{re.escape(default)}", text), (
            f"{function.__name__}: {name}{default} is not documented"
        )
