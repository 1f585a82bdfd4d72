"""The console's consent section: per purpose, how many people are in each state; counts
only, for the roles that may read the policy."""

from __future__ import annotations

import re
import uuid

from starlette.testclient import TestClient

from keepfaith.runtime import Runtime
from preferences.test_renewal import give
from support.personas import Persona


def _row(page: str, title: str) -> list[str]:
    """The cells of the purpose's row, in column order."""
    row = page[page.index(title) :]
    row = row[: row.index("</tr>")]
    return re.findall(r"<td>([^<]*)</td>", row)


def test_the_overview_counts_states_per_purpose_and_names_nobody(
    client: TestClient,
    runtime: Runtime,
    jane: uuid.UUID,
    ralph: uuid.UUID,
    staffroom: object,
    alice: Persona,
    dave: Persona,
    bob: Persona,
) -> None:
    staff = staffroom.client(alice)  # type: ignore[attr-defined]
    before = staff.get("/console/consent")
    assert before.status_code == 200
    # Basis, then one column per state (given first), then GPC: nobody anywhere yet.
    assert _row(before.text, "The GigPros Newsletter")[1:] == ["0"] * 8
    give(client, runtime, jane, "newsletter")
    give(client, runtime, ralph, "newsletter")
    give(client, runtime, jane, "promotions")
    page = staff.get("/console/consent").text
    newsletter = _row(page, "The GigPros Newsletter")
    assert newsletter[0] == "your consent"
    assert newsletter[1] == "2"  # given
    assert sum(int(n) for n in newsletter[1:]) == 2
    assert "Jane" not in page and "jane.canary" not in page
    assert re.search(r"(\d+) events recorded", page).group(1) == "3"  # type: ignore[union-attr]
    assert 'href="/console/consent/renewals"' in page
    # The nav shows the section; marketing may read the counts; customer service may not.
    assert 'href="/console/consent"' in page
    assert staffroom.client(dave).get("/console/consent").status_code == 200  # type: ignore[attr-defined]
    assert staffroom.client(bob).get("/console/consent").status_code == 403  # type: ignore[attr-defined]
