"""Two people acting on one case at once, in real concurrent PostgreSQL transactions.

Each thread has its own app context, so its own session and connection; a barrier makes both
load the same version before either writes. Exactly one wins; the other gets StaleCase.
"""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import func, select, text

from gridops.auth.models import User
from gridops.cases.models import Case, CaseEvent
from gridops.cases.services import file_case, take_action
from gridops.errors import StaleCase
from gridops.extensions import db
from tests.case_factories import GRID1_XY, T0, make_case, make_staff, make_world
from tests.conftest import TEST_DATABASE_URL

pytestmark = pytest.mark.skipif(
    not TEST_DATABASE_URL.startswith("postgresql"),
    reason="needs concurrent writers: SQLite serialises all writes (set GRIDOPS_TEST_DATABASE_URL)",
)

JOIN_TIMEOUT = 30


def _race(app, work, count=2):
    """Run ``work(index)`` in ``count`` threads, each in its own app context and transaction."""
    barrier = threading.Barrier(count, timeout=JOIN_TIMEOUT)
    results: list = [None] * count

    def run(index):
        with app.app_context():
            try:
                db.session.execute(text("SET LOCAL lock_timeout = '20s'"))
                results[index] = work(index, barrier)
                db.session.commit()
            except Exception as exc:  # the outcome under test, reported to the main thread
                db.session.rollback()
                results[index] = exc
            finally:
                db.session.remove()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(JOIN_TIMEOUT)
    assert not any(thread.is_alive() for thread in threads)
    return results


@pytest.mark.parametrize(("state", "action", "role"), [("registered", "dispatch", "dispatcher"),
                                                       ("dispatched", "sign", "unit_staff")])
def test_one_of_two_concurrent_actions_wins(app, state, action, role):
    """Two users take the same step at the same moment: one succeeds, the other is told to reload."""
    world = make_world()
    case = make_case(state, world=world)
    first = world.user(role)
    second = make_staff(f"second_{role}", role, area=first.area, department=first.department)
    actors = [first.id, second.id]
    case_id, unit_id, version = case.id, world.unit.id, case.version
    db.session.commit()

    def work(index, barrier):
        mine = db.session.get(Case, case_id)
        actor = db.session.get(User, actors[index])
        assert mine.version == version
        barrier.wait()
        event = take_action(mine, action, actor, unit_id=unit_id, now=T0)
        return event.id

    results = _race(app, work)
    stale = [r for r in results if isinstance(r, StaleCase)]
    won = [r for r in results if isinstance(r, int)]
    assert len(won) == 1 and len(stale) == 1, results
    db.session.expire_all()
    assert db.session.get(Case, case_id).version == version + 1
    events = db.session.scalar(
        select(func.count())
        .select_from(CaseEvent)
        .where(CaseEvent.case_id == case_id, CaseEvent.action == action)
    )
    assert events == 1


def test_concurrent_filings_share_no_number_and_one_key_makes_one_case(app):
    """Simultaneous reports get distinct numbers; the same idempotency key twice gives one case."""
    world = make_world()
    reporter_id = world.user("grid_worker").id
    db.session.commit()

    def filing(key):
        def work(index, barrier):
            reporter = db.session.get(User, reporter_id)
            barrier.wait()
            case = file_case(reporter, source="patrol", case_type="event", small_class_code="0102",
                             x=GRID1_XY[0], y=GRID1_XY[1], datum="gcj02", now=T0,
                             idempotency_key=key(index))
            return case.id, case.number
        return work

    distinct = _race(app, filing(lambda i: f"distinct-{i}"), count=4)
    assert all(isinstance(r, tuple) for r in distinct), distinct
    assert sorted(number for _, number in distinct) == [f"20260601{n:06d}" for n in range(1, 5)]
    same = _race(app, filing(lambda i: "same-key"))
    assert all(isinstance(r, tuple) for r in same), same
    assert same[0] == same[1]
    assert db.session.scalar(select(func.count()).select_from(Case)) == 5
