"""Concurrent changes to one person take turns: none is lost, on SQLite and PostgreSQL."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from keepfaith.subjects.errors import StaleVersion
from subjects.conftest import Vault

CATEGORIES = [
    "user.account.username",
    "user.commercial.purchases",
    "user.content.profile",
    "user.content.messages",
    "user.preferences.interests",
    "user.behavior.browsing",
    "user.feedback.survey",
    "user.device.cookie_id",
]


def test_parallel_changes_to_different_categories_all_land(vault: Vault) -> None:
    jane = vault.create({"user.name": "Jane Canary"})
    with ThreadPoolExecutor(len(CATEGORIES)) as pool:
        list(pool.map(lambda c: vault.update(jane, {c: f"set by {c}"}), CATEGORIES))
    view = vault.read(jane)
    assert view.version == 1 + len(CATEGORIES)
    for category in CATEGORIES:
        assert view.value(category) == f"set by {category}"
    assert len([e for e in vault.trail(jane) if e.action == "subject.updated"]) == len(CATEGORIES)


def test_read_modify_write_with_expected_versions_loses_nothing(vault: Vault) -> None:
    jane = vault.create({"user.preferences.interests": "start"})
    workers, rounds = 4, 5

    def append_tokens(worker: int) -> int:
        retries = 0
        for n in range(rounds):
            while True:
                seen = vault.read(jane, categories=["user.preferences.interests"])
                current = seen.value("user.preferences.interests")
                try:
                    vault.update(
                        jane,
                        {"user.preferences.interests": f"{current} w{worker}r{n}"},
                        expected_version=seen.version,
                    )
                    break
                except StaleVersion:
                    retries += 1
        return retries

    with ThreadPoolExecutor(workers) as pool:
        list(pool.map(append_tokens, range(workers)))
    final = vault.read(jane).value("user.preferences.interests").split()
    assert sorted(final[1:]) == sorted(f"w{w}r{n}" for w in range(workers) for n in range(rounds))
    assert vault.read(jane).version == 1 + workers * rounds
