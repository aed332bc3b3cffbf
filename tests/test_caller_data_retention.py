"""Retention of callers' personal data: the setting, the purge (dry run, who is erased, repeat callers,
batches, idempotence, two at once), the daily job, the command, and pages that still render."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from gridops.cases.models import Case, CaseEvent
from gridops.catalogue.models import CatalogueChange
from gridops.db import utcnow
from gridops.errors import NotAllowed, ValidationFailed
from gridops.extensions import db
from gridops.hotline.models import CallerDataPurge, CallerDataView, HotlineContact, HotlineOrder
from gridops.hotline.privacy import record_caller_view
from gridops.hotline.retention import purge_caller_data
from gridops.hotline.services import log_complaint, record_follow_up, reply_to_caller
from gridops.hotline.settings import DEFAULT_RETENTION_DAYS, retention_days, set_retention_days
from gridops.jobs.runner import JobRunner
from gridops.jobs.schedule import JOBS, job_by_id
from gridops.supervision.models import JobState
from tests.case_factories import GRID1_XY, T0, act, make_state, make_world
from tests.test_scheduler import _in_threads, _needs_postgres, local

A, B, C, D = "13800000001", "13800000002", "13800000003", "0377-63123456"
E164 = {A: "+8613800000001", B: "+8613800000002", C: "+8613800000003", D: "+8637763123456"}
#: Past a year after T0: callers whose cases were all finished at T0 are due.
LATER = T0 + timedelta(days=DEFAULT_RETENTION_DAYS + 35)


@pytest.fixture
def world(app):
    world = make_world()
    db.session.commit()
    return world


def complaint(world, phone, *, now=T0, name="张三", content="小区门口垃圾没人清，我的电话是{phone}"):
    result = log_complaint(world.user("hotline_operator"), caller_name=name, phone=phone,
                           content=content.format(phone=phone), case_type="event", small_class_code="0102",
                           x=GRID1_XY[0], y=GRID1_XY[1], datum="gcj02", now=now)
    db.session.commit()
    return result


def cancelled(world, phone, *, now=T0, **kwargs):
    """A complaint the intake operator cancelled at ``now`` (finished, the cheap way)."""
    result = complaint(world, phone, now=now, **kwargs)
    act(world, result.case, "cancel", "intake_operator", reason="重复来电", now=now)
    db.session.commit()
    return result


def closed(world, phone, *, now=T0, **kwargs):
    """A complaint whose case went the whole loop and was closed at ``now``."""
    result = complaint(world, phone, now=now, **kwargs)
    make_state(world, result.case, "closed", now)
    db.session.commit()
    return result


def contacts() -> list[HotlineContact]:
    db.session.expire_all()
    return list(db.session.scalars(select(HotlineContact).order_by(HotlineContact.id)))


def count(model) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


def erased_phones() -> set[str]:
    return {phone for phone, stored in E164.items()
            if not db.session.scalar(select(func.count()).where(HotlineContact.phone == stored))}


def purge(now=LATER, **kwargs):
    result = purge_caller_data(now, **kwargs)
    db.session.commit()
    return result


# -- the setting ----------------------------------------------------------------------------------


def test_the_retention_period_is_a_city_setting_kept_in_history(world):
    assert retention_days() == DEFAULT_RETENTION_DAYS == 365
    assert set_retention_days(world.user("admin"), 90) == 90
    db.session.commit()
    assert retention_days() == 90
    change = db.session.scalar(select(CatalogueChange).where(CatalogueChange.entity == "hotline_retention"))
    assert change.before == {"days": 365} and change.after == {"days": 90}
    for bad in (29, 3651, "90", 90.0, True, None):
        with pytest.raises(ValidationFailed) as info:
            set_retention_days(world.user("admin"), bad)
        assert "days" in info.value.fields
    with pytest.raises(NotAllowed):
        set_retention_days(world.user("shift_leader"), 90)
    assert retention_days() == 90


def test_the_retention_command_shows_and_changes_the_period(world, runner):
    assert "365 days" in runner.invoke(args=["caller-data", "retention"]).output
    result = runner.invoke(args=["caller-data", "retention", "--days", "180"])
    assert result.exit_code == 0 and "180 days" in result.output
    result = runner.invoke(args=["caller-data", "retention", "--days", "7"])
    assert result.exit_code != 0 and "days" in result.output
    assert retention_days() == 180


# -- who is erased ------------------------------------------------------------------------------------


def test_only_callers_whose_cases_were_all_finished_long_enough_ago_are_erased(world):
    closed(world, A)  # closed at T0: due
    cancelled(world, B)  # cancelled at T0: due
    closed(world, C, now=T0 + timedelta(days=100))  # closed within the period before LATER: kept
    complaint(world, D)  # still open: kept, however old
    result = purge()
    assert (result.callers, result.contacts) == (2, 2)
    assert erased_phones() == {A, B}
    erased = [contact for contact in contacts() if contact.erased]
    assert all(c.caller_name == "" and c.phone == "" and c.content == "" and c.erased_at == LATER for c in erased)
    kept = [contact for contact in contacts() if not contact.erased]
    assert {c.phone for c in kept} == {E164[C], E164[D]} and all(c.caller_name == "张三" for c in kept)


def test_the_period_counts_from_the_last_step_on_the_case_not_its_closing(world):
    result = closed(world, A)
    order = db.session.get(HotlineOrder, result.order.id)
    reply_to_caller(order, world.user("hotline_operator"), note="已清运", now=T0)
    record_follow_up(order, world.user("hotline_operator"), satisfaction="satisfied", now=T0 + timedelta(days=100))
    db.session.commit()
    assert purge().contacts == 0  # the follow-up call 100 days after closing keeps the caller
    assert purge(T0 + timedelta(days=100 + DEFAULT_RETENTION_DAYS + 1)).contacts == 1


def test_a_repeat_caller_with_an_open_case_keeps_every_contact_until_it_is_finished(world):
    old = closed(world, A)
    recent = complaint(world, A, now=T0 + timedelta(days=300))
    operator = world.user("hotline_operator")
    record_caller_view(operator, context="api:caller", phone=E164[A], now=T0)
    db.session.commit()
    result = purge()
    assert (result.callers, result.contacts, result.views) == (0, 0, 0)
    assert {c.phone for c in contacts()} == {E164[A]}
    assert db.session.scalar(select(CallerDataView.phone)) == E164[A]
    # Once the new case is finished too, the period runs from it.
    act(world, db.session.get(Case, recent.case.id), "cancel", "intake_operator", reason="已解决",
        now=T0 + timedelta(days=310))
    db.session.commit()
    assert purge(T0 + timedelta(days=310 + DEFAULT_RETENTION_DAYS - 1)).contacts == 0
    result = purge(T0 + timedelta(days=310 + DEFAULT_RETENTION_DAYS + 1))
    assert (result.callers, result.contacts, result.views) == (1, 2, 1)
    assert all(contact.erased for contact in contacts())
    assert db.session.scalar(select(CallerDataView.phone)) is None
    assert db.session.get(Case, old.case.id).description  # the case keeps its record


def test_the_view_log_loses_erased_numbers_and_old_lookups_that_found_nobody(world):
    closed(world, A)
    operator, shift = world.user("hotline_operator"), world.user("shift_leader")
    record_caller_view(operator, context="api:caller", phone=E164[A], now=LATER - timedelta(days=1))
    record_caller_view(shift, context="api:caller", phone=E164[C], now=T0)  # found nobody, long ago
    record_caller_view(shift, context="api:caller", phone=E164[C], now=LATER - timedelta(days=1))  # recent
    record_caller_view(shift, context="order_page", case_ids=[1], now=T0)
    db.session.commit()
    result = purge()
    assert (result.callers, result.contacts, result.views) == (1, 1, 2)
    db.session.expire_all()
    rows = db.session.execute(select(CallerDataView.phone, CallerDataView.case_id).order_by(CallerDataView.id)).all()
    assert rows == [(None, None), (None, None), (E164[C], None), (None, 1)]
    assert count(CallerDataView) == 4  # who saw what, and when, stays


def test_erasing_keeps_every_figure(world):
    result = closed(world, A, name="李四")
    order = db.session.get(HotlineOrder, result.order.id)
    reply_to_caller(order, world.user("hotline_operator"), note="已清运", now=T0)
    record_follow_up(order, world.user("hotline_operator"), satisfaction="satisfied", now=T0)
    db.session.commit()
    before = contacts()[0]
    shape = (before.case_id, before.channel, before.contacted_at, before.operator_id, before.repeat,
             before.consent_callback)
    purge()
    after = contacts()[0]
    assert after.erased
    assert (after.case_id, after.channel, after.contacted_at, after.operator_id, after.repeat,
            after.consent_callback) == shape
    case = db.session.get(Case, result.case.id)
    order = db.session.get(HotlineOrder, result.order.id)
    assert case.state == "closed" and case.closed_on_time is not None and case.description
    assert order.satisfaction == "satisfied" and order.reply_note == "已清运"


def test_the_callers_name_and_number_leave_the_texts_of_their_cases(world):
    result = closed(world, D, name="赵六", content="赵六反映垃圾没人清，回电 0377 6312 3456")
    order = db.session.get(HotlineOrder, result.order.id)
    reply_to_caller(order, world.user("hotline_operator"), note="已电话告知赵六（63123456）", now=T0)
    other = complaint(world, B, name="钱七", content="钱七说 13800000002 也反映过")  # still open: kept
    db.session.commit()
    purge()
    db.session.expire_all()
    case = db.session.get(Case, result.case.id)
    order = db.session.get(HotlineOrder, result.order.id)
    assert case.description == "***反映垃圾没人清，回电 ***"
    assert order.reply_note == "已电话告知***（***）"
    notes = [event.note for event in case.events]
    assert "已电话告知***（***）" in notes and not any("赵六" in note or "6312" in note for note in notes)
    assert db.session.get(Case, other.case.id).description == "钱七说 13800000002 也反映过"


# -- dry run, idempotence, batches, records --------------------------------------------------------


def test_a_dry_run_changes_nothing_and_counts_what_the_purge_then_erases(world):
    closed(world, A)
    cancelled(world, A)
    cancelled(world, B)
    cancelled(world, D, now=T0 + timedelta(days=200))
    record_caller_view(world.user("hotline_operator"), context="api:caller", phone=E164[B], now=T0)
    record_caller_view(world.user("hotline_operator"), context="api:caller", phone=E164[C], now=T0)
    db.session.commit()
    before = [(c.id, c.caller_name, c.phone, c.content, c.erased_at) for c in contacts()]
    dry = purge(dry_run=True, batch_size=1)
    assert dry.dry_run and dry.run_id is None
    assert (dry.callers, dry.contacts, dry.views) == (2, 3, 2)
    assert [(c.id, c.caller_name, c.phone, c.content, c.erased_at) for c in contacts()] == before
    assert count(CallerDataPurge) == 0 and db.session.scalar(select(func.count()).where(CallerDataView.phone.is_not(None))) == 2
    real = purge(batch_size=1)
    assert (real.callers, real.contacts, real.views) == (dry.callers, dry.contacts, dry.views)


def test_the_purge_is_idempotent_and_records_every_run(world):
    cancelled(world, A)
    cancelled(world, B)
    first = purge()
    second = purge(LATER + timedelta(hours=1))
    assert (first.callers, first.contacts) == (2, 2) and (second.callers, second.contacts, second.views) == (0, 0, 0)
    runs = db.session.scalars(select(CallerDataPurge).order_by(CallerDataPurge.id)).all()
    assert [(r.origin, r.callers, r.contacts, r.retention_days) for r in runs] == [
        ("command", 2, 2, 365), ("command", 0, 0, 365)]
    assert runs[0].cutoff_at == LATER - timedelta(days=365)
    assert all(r.finished_at is not None and r.finished_at >= r.started_at for r in runs)


def test_small_batches_commit_one_by_one_and_erase_the_same(world):
    for phone in (A, B, C):
        cancelled(world, phone)
    cancelled(world, A, now=T0 + timedelta(hours=1))
    commits = []
    result = purge(batch_size=2, after_batch=lambda: commits.append(db.session.commit()))
    assert (result.callers, result.contacts) == (3, 4)
    assert len(commits) == result.batches >= 2
    run = db.session.get(CallerDataPurge, result.run_id)
    assert (run.callers, run.contacts, run.batches) == (3, 4, result.batches)


def test_a_shorter_period_erases_sooner(world):
    cancelled(world, A)
    set_retention_days(None, 30)
    db.session.commit()
    assert purge(T0 + timedelta(days=29)).contacts == 0
    assert purge(T0 + timedelta(days=31)).contacts == 1


def test_two_purges_at_once_erase_each_contact_once(app, world):
    _needs_postgres(app)
    phones = [f"1390000{n:04d}" for n in range(24)]
    operator = world.user("hotline_operator")
    for n, phone in enumerate(phones):
        cancelled(world, phone)
        cancelled(world, phone, now=T0 + timedelta(minutes=1))
        record_caller_view(operator, context="api:caller", phone=f"+86{phone}", now=T0)
        record_caller_view(operator, context="api:caller", phone=f"+86137000{n:05d}", now=T0)  # found nobody
    db.session.commit()
    results = _in_threads(app, 2, lambda i: purge_caller_data(LATER, batch_size=5, after_batch=db.session.commit))
    assert not [r for r in results if isinstance(r, Exception)], results
    assert sum(r.contacts for r in results) == 48 and sum(r.callers for r in results) == 24
    assert sum(r.views for r in results) == 48
    assert all(contact.erased for contact in contacts())
    assert db.session.scalar(select(func.count()).where(CallerDataView.phone.is_not(None))) == 0


# -- the daily job and the command -----------------------------------------------------------------


def test_the_daily_job_is_registered_and_runs_once_a_day(app, world):
    job = job_by_id("purge_caller_data")
    assert job in JOBS and job.trigger == {"hour": 3, "minute": 15} and not job.is_interval
    cancelled(world, A)
    runner = JobRunner(app, [job], holder="a")
    fire = local(2027, 7, 6, 3, 15)
    outcome = runner.run(job, fire + timedelta(seconds=20))
    assert outcome.status == "ran" and outcome.fire_at == fire
    assert outcome.result["contacts"] == 1 and outcome.result["callers"] == 1
    assert runner.run(job, fire + timedelta(hours=5)).status == "nothing_due"
    db.session.expire_all()
    run = db.session.scalar(select(CallerDataPurge))
    assert run.origin == "scheduler" and run.finished_at is not None
    assert db.session.get(JobState, "purge_caller_data").last_result["run_id"] == run.id
    assert all(contact.erased for contact in contacts())
    assert runner.run(job, local(2027, 7, 7, 3, 15, 20)).status == "ran"
    assert count(CallerDataPurge) == 2


def test_the_purge_command_with_and_without_dry_run(world, runner):
    cancelled(world, A)
    result = runner.invoke(args=["caller-data", "purge", "--dry-run"])
    assert result.exit_code == 0, result.output
    assert "Dry run" in result.output and "0 callers" in result.output  # T0 is not a year ago yet
    assert count(CallerDataPurge) == 0
    set_retention_days(None, 30)
    case = db.session.scalar(select(Case))
    db.session.commit()
    # Move the case's history back far enough for today's clock.
    for event in db.session.scalars(select(CaseEvent).where(CaseEvent.case_id == case.id)):
        event.at = utcnow() - timedelta(days=40)
    for contact in db.session.scalars(select(HotlineContact)):
        contact.contacted_at = utcnow() - timedelta(days=40)
    db.session.commit()
    result = runner.invoke(args=["caller-data", "purge", "--dry-run"])
    assert "Would erase 1 callers, 1 contacts" in result.output and count(CallerDataPurge) == 0
    assert not any(contact.erased for contact in contacts())
    result = runner.invoke(args=["caller-data", "purge", "--batch-size", "10"])
    assert result.exit_code == 0 and "Erased 1 callers, 1 contacts" in result.output
    assert all(contact.erased for contact in contacts())
    assert db.session.scalar(select(CallerDataPurge.origin)) == "command"


# -- pages and API for erased callers ---------------------------------------------------------------


@pytest.mark.parametrize("role", ["hotline_operator", "shift_leader", "admin", "leader"])
def test_order_pages_still_render_for_erased_callers_and_log_nothing(client, auth, world, role):
    result = closed(world, A, name="王五")
    purge()
    auth.login(role)
    views = count(CallerDataView)
    response = client.get(f"/hotline/cases/{result.case.number}")
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "王五" not in page and "13800000001" not in page and "我的电话" not in page
    assert 'class="muted erased"' in page
    assert count(CallerDataView) == views  # nothing unmasked was shown
    api = client.get(f"/api/v1/hotline/cases/{result.case.number}").get_json()
    contact = api["contacts"][0]
    assert contact["erased_at"] and contact["caller_name"] == contact["phone"] == contact["content"] == ""
    case_page = client.get(f"/cases/{result.case.number}")
    assert case_page.status_code == 200 and "13800000001" not in case_page.get_data(as_text=True)
    assert count(CallerDataView) == views
