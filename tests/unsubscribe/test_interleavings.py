"""TS-2 / SP-14: no marketing message is sent after its recipient's unsubscribe committed.

A property test drives random interleavings of queueing, dispatch, unsubscribes (link, one-click,
mailto; one list or everything) and re-subscribing, against a model of who may be mailed; a
second test races a sending thread against unsubscribes and compares commit times."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from itertools import count

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from keepfaith.consent.models import ConsentEvent, ConsentSource
from keepfaith.mail.dispatch import Outcome, deliver
from keepfaith.mail.models import Message, MessageState
from keepfaith.policy.service import policy_in_force
from keepfaith.runtime import Runtime
from keepfaith.unsubscribe.service import unsubscribe
from keepfaith.unsubscribe.tokens import read_token
from mail.conftest import Outgoing, People
from unsubscribe.conftest import token_for

PEOPLE = 3
_names = count()

queue = st.tuples(st.just("queue"), st.integers(0, PEOPLE - 1))
dispatch = st.tuples(st.just("dispatch"), st.integers(0, PEOPLE - 1))
leave = st.tuples(
    st.just("unsubscribe"),
    st.integers(0, PEOPLE - 1),
    st.sampled_from([ConsentSource.ONE_CLICK, ConsentSource.EMAIL_LINK, ConsentSource.MAILTO]),
    st.booleans(),  # everything, or the newsletter only
)
come_back = st.tuples(st.just("resubscribe"), st.integers(0, PEOPLE - 1))
steps = st.lists(st.one_of(queue, dispatch, leave, come_back), min_size=1, max_size=30)


@dataclass
class World:
    runtime: Runtime
    people: People
    outgoing: Outgoing
    ids: list[uuid.UUID] = field(default_factory=list)
    waiting: dict[int, list[uuid.UUID]] = field(default_factory=dict)
    may_mail: dict[int, bool] = field(default_factory=dict)  # the model

    def populate(self) -> None:
        run = next(_names)
        self.ids = [
            self.people.add(f"p{run}.{i}@example.com", consents=("newsletter",))
            for i in range(PEOPLE)
        ]
        self.waiting = {i: [] for i in range(PEOPLE)}
        self.may_mail = dict.fromkeys(range(PEOPLE), True)

    def unsubscribe(self, who: int, via: ConsentSource, everything: bool) -> None:
        with self.runtime.db.transaction() as session:
            policy = policy_in_force(session)
            found = read_token(self.runtime.keyring, token_for(self.runtime, self.ids[who]), policy)
            unsubscribe(session, policy, found, via=via, everything=everything)
        self.may_mail[who] = False

    def resubscribe(self, who: int) -> None:
        self.people.choose(self.ids[who], "newsletter", "given")  # herself, later
        self.may_mail[who] = True

    def dispatch(self, who: int) -> None:
        sent = deliver(self.runtime, self.waiting[who])
        expected = Outcome.SENT if self.may_mail[who] else Outcome.SUPPRESSED
        assert sent == [expected] * len(self.waiting[who]), (who, self.may_mail[who])
        self.waiting[who] = []


@pytest.fixture
def world(runtime: Runtime, people: People, outgoing: Outgoing) -> World:
    return World(runtime, people, outgoing)


@settings(
    max_examples=20,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(plan=steps)
def test_no_marketing_goes_out_after_an_unsubscribe(world: World, plan: list[tuple]) -> None:  # type: ignore[type-arg]
    world.populate()
    for step in plan:
        who = step[1]
        if step[0] == "queue":
            message = world.outgoing.queue(kind="newsletter", subject_id=world.ids[who])
            world.waiting[who].append(message)
        elif step[0] == "dispatch":
            world.dispatch(who)
        elif step[0] == "unsubscribe":
            world.unsubscribe(who, step[2], step[3])
        else:
            world.resubscribe(who)
    for who in range(PEOPLE):
        world.dispatch(who)


def _unsubscribed_at(runtime: Runtime, subject_id: uuid.UUID) -> Iterator[object]:
    with runtime.db.reader() as session:
        yield from session.scalars(
            select(ConsentEvent.at).where(
                ConsentEvent.subject_id == subject_id, ConsentEvent.source == "one_click"
            )
        )


def test_a_sender_racing_unsubscribes_never_sends_after_one_committed(
    world: World, runtime: Runtime
) -> None:
    """Messages go out one by one in a thread while people unsubscribe: every message sent
    entered `sending` before its person's unsubscribe was recorded (PostgreSQL: the gate waits
    for that person's consent writers; SQLite: one writer at a time)."""
    world.populate()
    queued = [
        world.outgoing.queue(kind="newsletter", subject_id=world.ids[i % PEOPLE]) for i in range(60)
    ]
    failures: list[BaseException] = []

    def send() -> None:
        try:
            for message_id in queued:
                deliver(runtime, [message_id])
        except BaseException as exc:  # reported by the test below
            failures.append(exc)

    sender = threading.Thread(target=send)
    sender.start()
    for who in range(PEOPLE):  # one unsubscribe after each fifth of the campaign
        _wait_until_done(runtime, queued, len(queued) * (who + 1) // 5)
        world.unsubscribe(who, ConsentSource.ONE_CLICK, everything=who == 0)
    sender.join(timeout=120)
    assert not sender.is_alive() and failures == []
    with runtime.db.reader() as session:
        messages = session.scalars(select(Message).where(Message.id.in_(queued))).all()
        assert all(m.state in (MessageState.SENT, MessageState.SUPPRESSED) for m in messages)
    for who, subject_id in enumerate(world.ids):
        left = min(_unsubscribed_at(runtime, subject_id))  # type: ignore[type-var]
        for message in messages:
            if message.subject_id == subject_id and message.state is MessageState.SENT:
                assert message.sending_at is not None and message.sending_at < left, who
    states = {m.state for m in messages}
    assert states == {MessageState.SENT, MessageState.SUPPRESSED}  # the race really happened


def _wait_until_done(runtime: Runtime, ids: list[uuid.UUID], at_least: int) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        with runtime.db.reader() as session:
            done = session.scalar(
                select(func.count()).where(
                    Message.id.in_(ids), Message.state != MessageState.QUEUED
                )
            )
        if (done or 0) >= at_least:
            return
        time.sleep(0.005)
    raise AssertionError("the sender made no progress")
