"""``keepfaith mail test-send``: an operator checks that outbound mail works."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from click.testing import CliRunner, Result

from keepfaith.cli import main
from keepfaith.policy.schema import Policy
from keepfaith.runtime import Runtime
from support.mailbox import Mailbox

Cli = Callable[..., Result]


@pytest.fixture
def cli(runtime: Runtime) -> Cli:
    settings = runtime.settings
    base = {
        "KEEPFAITH_DATABASE_URL": settings.resolved_database_url,
        "KEEPFAITH_KEYRING_PATH": str(settings.resolved_keyring_path),
        "KEEPFAITH_DATA_DIR": str(settings.data_dir),
    }

    def run(*args: str, **env: str) -> Result:
        return CliRunner().invoke(main, list(args), env=base | env, catch_exceptions=False)

    return run


def smtp_env(mailbox: Mailbox) -> dict[str, str]:
    return {
        "KEEPFAITH_MAIL_TRANSPORT": "smtp",
        "KEEPFAITH_SMTP_HOST": "127.0.0.1",
        "KEEPFAITH_SMTP_PORT": str(mailbox.port),
        "KEEPFAITH_SMTP_SECURITY": "none",
    }


def test_it_sends_a_test_message_through_smtp(
    cli: Cli, marketplace: Policy, mailbox: Mailbox
) -> None:
    result = cli("mail", "test-send", "ops@example.com", **smtp_env(mailbox))
    assert result.exit_code == 0, result.output
    assert result.output.endswith("sent via smtp\n")
    assert "ops@example.com" not in result.output
    [received] = mailbox.wait_for(1)
    assert received.rcpt_tos == ["ops@example.com"]
    assert received.message()["Subject"] == "keepfaith test message"


def test_it_says_why_a_message_was_not_sent(
    cli: Cli, marketplace: Policy, mailbox: Mailbox
) -> None:
    mailbox.refuse["ops@example.com"] = "550 5.1.1 unknown user"
    result = cli("mail", "test-send", "ops@example.com", **smtp_env(mailbox))
    assert result.exit_code == 2
    assert "bounced via smtp: SMTP 550: the server refused the recipient" in result.output


def test_queue_only_leaves_it_to_a_worker(cli: Cli, marketplace: Policy) -> None:
    result = cli("mail", "test-send", "ops@example.com", "--queue")
    assert result.exit_code == 0
    assert result.output.endswith("is queued for a worker\n")


@pytest.mark.parametrize(
    ("address", "published", "message"),
    [
        ("not-an-address", True, "error: to: is not a valid e-mail address"),
        ("ops@example.com", False, "error: no policy is published"),
    ],
)
def test_bad_requests_change_nothing(
    cli: Cli, runtime: Runtime, address: str, published: bool, message: str
) -> None:
    if published:
        from keepfaith.policy.service import publish
        from keepfaith.policy.starters import starter_text

        with runtime.db.transaction() as session:
            publish(session, starter_text("marketplace"), source_name="m.yaml", published_by="t")
    result = cli("mail", "test-send", address)
    assert result.exit_code == 2
    assert message in result.output
