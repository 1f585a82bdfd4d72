"""The List-Unsubscribe mailto: a message to unsubscribe+TOKEN@domain, piped by the mail server
to `keepfaith mail inbound`, unsubscribes the person the token names."""

from __future__ import annotations

import pytest

from keepfaith.runtime import Runtime
from keepfaith.unsubscribe.inbound import Inbound, handle_inbound
from mail.conftest import People
from support.cli import cli_for
from unsubscribe.conftest import entries, events, token_for


def message(to: str, **headers: str) -> bytes:
    lines = [
        "From: Jane <jane.canary@example.com>",
        f"To: {to}",
        "Subject: unsubscribe",
        *(f"{name.replace('_', '-')}: {value}" for name, value in headers.items()),
        "",
        "Please stop.",
    ]
    return "\r\n".join(lines).encode()


def test_a_message_to_the_unsubscribe_address_unsubscribes(
    runtime: Runtime, people: People
) -> None:
    jane = people.add(consents=("newsletter",))
    address = f"unsubscribe+{token_for(runtime, jane)}@gigpros.example.com"
    assert handle_inbound(runtime, message(f"<{address}>")) is Inbound.UNSUBSCRIBED
    assert events(runtime, jane)[-1] == ("newsletter", "withdrawn", "mailto")
    assert entries(runtime) == {("email", "newsletter", "unsubscribed", "mailto")}
    assert handle_inbound(runtime, message(address)) is Inbound.ALREADY  # once is enough


@pytest.mark.parametrize("where", ["recipient", "Delivered-To", "Cc", "upper case"])
def test_the_address_is_found_where_the_mail_server_puts_it(
    runtime: Runtime, people: People, where: str
) -> None:
    jane = people.add(consents=("newsletter",))
    address = f"unsubscribe+{token_for(runtime, jane)}@lists.gigpros.example.com"
    if where == "recipient":
        outcome = handle_inbound(runtime, message("undisclosed-recipients:;"), address)
    elif where == "upper case":
        outcome = handle_inbound(runtime, message(address.upper()))
    else:
        raw = message("someone@example.com", **{where.replace("-", "_"): address})
        outcome = handle_inbound(runtime, raw)
    assert outcome is Inbound.UNSUBSCRIBED


def test_a_message_without_a_valid_address_changes_nothing(
    runtime: Runtime, people: People
) -> None:
    jane = people.add(consents=("newsletter",))
    token = token_for(runtime, jane)
    forged = token[:-1] + ("a" if token[-1] != "a" else "b")
    assert handle_inbound(runtime, message("sales@gigpros.example.com")) is Inbound.NOT_FOR_US
    assert (
        handle_inbound(runtime, message(f"unsubscribe+{forged}@gigpros.example.com"))
        is Inbound.INVALID
    )
    assert handle_inbound(runtime, b"\xff\xfe not a message") is Inbound.NOT_FOR_US
    assert events(runtime, jane)[-1][1] == "given" and entries(runtime) == set()


def test_the_command_reads_standard_input_and_exits_as_a_mail_server_expects(
    runtime: Runtime, people: People
) -> None:
    jane = people.add(consents=("newsletter",))
    cli = cli_for(runtime.settings)
    address = f"unsubscribe+{token_for(runtime, jane)}@gigpros.example.com"
    done = cli("mail", "inbound", "--recipient", address, input=message("x@example.com").decode())
    assert done.exit_code == 0, done.output
    assert done.output == "unsubscribed\n"
    assert "jane" not in done.output.lower()
    bounced = cli("mail", "inbound", input=message("sales@gigpros.example.com").decode())
    assert bounced.exit_code == 67  # EX_NOUSER: the server bounces it
    assert "not to an unsubscribe+TOKEN address" in bounced.output
