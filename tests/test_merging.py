"""并单: a duplicate's contacts, photos and order move to the master, both timelines say so, undo restores all."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from gridops.auth.tokens import issue_token
from gridops.cases.merging import active_merge, merge_case, merge_links, merges_into, undo_merge
from gridops.cases.models import Case, CaseEvent, CasePhoto, CaseReporter
from gridops.cases.queries import visible_cases
from gridops.cases.services import allowed_actions, file_case, in_scope
from gridops.cases.states import ACTIONS, Scope
from gridops.errors import InvalidTransition, NotAllowed, ValidationFailed
from gridops.db import utcnow
from gridops.extensions import db
from gridops.hotline.models import HotlineContact, HotlineOrder
from gridops.hotline.services import log_complaint
from tests.case_factories import GRID1_XY, GRID4_XY, T0, later, make_case, make_photos, make_staff, make_world
from tests.test_api_cases import FreshContextClient


@pytest.fixture
def world(app):
    """The small city with its staff, inside the app context."""
    return make_world()


@pytest.fixture
def client(app):
    """A client whose requests each get their own app context."""
    return FreshContextClient(app, app.response_class, use_cookies=True)


def complaint(world, content="垃圾没人清", phone="13812345678", xy=GRID1_XY, now=T0):
    return log_complaint(
        world.user("hotline_operator"), caller_name="张三", phone=phone, content=content,
        case_type="event", small_class_code="0102", x=xy[0], y=xy[1], datum="gcj02", now=now,
    )


def _count(model, case):
    return db.session.scalar(select(func.count()).select_from(model).where(model.case_id == case.id))


def _events(case):
    return list(db.session.scalars(select(CaseEvent).where(CaseEvent.case_id == case.id).order_by(CaseEvent.id)))


def test_merge_moves_contacts_photos_and_order_and_both_timelines_record_it(world):
    master = make_case("registered", world=world, photos=make_photos(2))
    dup = complaint(world)
    dup_events_before = [e.id for e in _events(dup.case)]
    merge_case(dup.case, master, world.user("hotline_operator"), now=later(1))

    assert dup.case.state == "merged" and dup.case.merged_into_id == master.id
    assert _count(HotlineContact, master) == 1 and _count(HotlineContact, dup.case) == 0
    # The master had no hotline order: the caller's reply obligations move with the contact.
    assert db.session.scalar(select(HotlineOrder.case_id).where(HotlineOrder.id == dup.order.id)) == master.id
    assert master.repeat_count == 1
    # The duplicate's own log is kept and gains the merge; the master's records it too.
    dup_events = _events(dup.case)
    assert [e.id for e in dup_events[:-1]] == dup_events_before
    assert (dup_events[-1].action, dup_events[-1].to_state) == ("merge", "merged")
    assert dup_events[-1].payload["master"] == master.number
    master_event = _events(master)[-1]
    assert master_event.action == "merge_in" and master_event.payload["duplicate"] == dup.case.number
    assert master_event.payload["contacts"] == 1 and master_event.payload["order"] is True


def test_photos_move_and_come_back_on_undo(world):
    master = make_case("reported", world=world)
    dup = make_case("reported", world=world, photos=make_photos(3))
    photo_ids = set(db.session.scalars(select(CasePhoto.id).where(CasePhoto.case_id == dup.id)))
    assert len(photo_ids) == 3
    record = merge_case(dup, master, world.user("intake_operator"), now=later(1))
    assert set(record.moved_photo_ids) == photo_ids
    assert set(db.session.scalars(select(CasePhoto.id).where(CasePhoto.case_id == master.id))) == photo_ids
    undo_merge(dup, world.user("intake_operator"), now=later(3))
    assert set(db.session.scalars(select(CasePhoto.id).where(CasePhoto.case_id == dup.id))) == photo_ids
    assert _count(CasePhoto, master) == 0


def test_undo_restores_everything_exactly(world):
    master = complaint(world, phone="13900001111")
    dup = complaint(world, phone="13812345678")
    master_before = (master.case.repeat_count, master.case.urgency)
    state_before = dup.case.state
    assert dup.case.assignee_id == world.user("grid_worker").id  # to verify on site
    record = merge_case(dup.case, master.case, world.user("hotline_operator"), now=later(1))
    assert dup.case.assignee_id is None
    # The master kept its own order; the duplicate's stays with the duplicate.
    assert record.moved_order_id is None and dup.order.case_id == dup.case.id
    assert _count(HotlineContact, master.case) == 2
    assert active_merge(dup.case) is record and merges_into(master.case) == [record]

    undo_merge(dup.case, world.user("hotline_operator"), now=later(5))
    assert dup.case.state == state_before and dup.case.merged_into_id is None
    assert dup.case.assignee_id == world.user("grid_worker").id
    assert _count(HotlineContact, master.case) == 1 and _count(HotlineContact, dup.case) == 1
    assert (master.case.repeat_count, master.case.urgency) == master_before
    assert active_merge(dup.case) is None and merges_into(master.case) == []
    assert [e.action for e in _events(dup.case)][-2:] == ["merge", "unmerge"]
    assert [e.action for e in _events(master.case)][-2:] == ["merge_in", "merge_undone"]
    # Undone, it can be merged again.
    merge_case(dup.case, master.case, world.user("hotline_operator"), now=later(6))
    assert dup.case.state == "merged"


def test_repeats_raise_the_masters_priority_and_undo_lowers_it_again(world):
    master = make_case("registered", world=world)
    first = make_case("reported", world=world)
    second = make_case("reported", world=world)
    operator = world.user("intake_operator")
    merge_case(first, master, operator, now=later(1))
    assert (master.repeat_count, master.urgency) == (1, "normal")
    record = merge_case(second, master, operator, now=later(2))
    assert (master.repeat_count, master.urgency) == (2, "urgent") and record.urgency_raised
    undo_merge(second, operator, now=later(3))
    assert (master.repeat_count, master.urgency) == (1, "normal")


def test_undo_only_on_the_same_local_day(world):
    master = make_case("reported", world=world)
    dup = make_case("reported", world=world)
    operator = world.user("intake_operator")
    merge_case(dup, master, operator, now=later(1))  # 11:00 in the city
    next_day = T0 + timedelta(hours=15)  # 01:00 the next day in the city, 17:00 UTC the same UTC day
    assert ACTIONS["unmerge"] not in allowed_actions(dup, operator, now=next_day)
    with pytest.raises(InvalidTransition):
        undo_merge(dup, operator, now=next_day)
    assert ACTIONS["unmerge"] in allowed_actions(dup, operator, now=later(12))


def test_undo_refused_while_the_master_is_merged_further(world):
    operator = world.user("intake_operator")
    first, second, third = (make_case("reported", world=world) for _ in range(3))
    merge_case(first, second, operator, now=later(1))
    merge_case(second, third, operator, now=later(2))
    with pytest.raises(InvalidTransition):
        undo_merge(first, operator, now=later(3))
    undo_merge(second, operator, now=later(3))
    undo_merge(first, operator, now=later(3))
    assert first.state == second.state == "reported"


def test_across_grids_or_classes_needs_confirmation(world):
    operator = world.user("intake_operator")
    master = make_case("reported", world=world)
    elsewhere = make_case("reported", world=world, xy=GRID4_XY)
    other_class = make_case("reported", world=world, small_class_code="0104")
    for dup in (elsewhere, other_class):
        with pytest.raises(ValidationFailed) as refused:
            merge_case(dup, master, operator, now=later(1))
        assert set(refused.value.fields) == {"confirm"}
        assert dup.state == "reported"
    record = merge_case(elsewhere, master, operator, confirm=True, now=later(1))
    assert record.cross_grid and not record.cross_class
    record = merge_case(other_class, master, operator, confirm=True, now=later(1))
    assert record.cross_class and not record.cross_grid


def test_bad_masters_are_refused(world):
    operator = world.user("intake_operator")
    dup = make_case("reported", world=world)
    closed = make_case("closed", world=world)
    for master, field in ((None, "master"), (dup, "master"), (closed, "master")):
        with pytest.raises(ValidationFailed) as refused:
            merge_case(dup, master, operator, now=later(1))
        assert set(refused.value.fields) == {field}
    with pytest.raises(InvalidTransition):
        merge_case(closed, make_case("reported", world=world), operator, now=later(1))


def test_scope_and_roles(world):
    master = make_case("reported", world=world)
    dup = make_case("reported", world=world)
    for outsider in ("intake_operator", "hotline_operator", "dispatcher"):
        with pytest.raises(NotAllowed):
            merge_case(dup, master, world.outsiders[outsider], now=later(1))
    for role in ("grid_worker", "unit_staff", "shift_leader", "leader"):
        with pytest.raises(NotAllowed):
            merge_case(dup, master, world.user(role), now=later(1))
    assert dup.state == "reported" and master.repeat_count == 0


def test_merge_and_undo_through_the_api(client, world):
    master = make_case("reported", world=world)
    dup = make_case("reported", world=world, xy=GRID4_XY)
    headers = {"Authorization": f"Bearer {issue_token(world.user('intake_operator'), 'desk')[1]}"}
    db.session.commit()
    url = f"/api/v1/cases/{dup.number}/actions"
    response = client.post(f"{url}/merge", json={"master": master.number}, headers=headers)
    assert response.status_code == 422 and set(response.get_json()["fields"]) == {"confirm"}
    response = client.post(f"{url}/merge", json={"master": "20000101-9"}, headers=headers)
    assert response.status_code == 422 and set(response.get_json()["fields"]) == {"master"}
    response = client.post(f"{url}/merge", json={"master": master.number, "confirm": True}, headers=headers)
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert body["state"] == "merged" and body["merged_into"] == master.number
    assert [a["name"] for a in body["allowed_actions"]] == ["unmerge"]
    master_body = client.get(f"/api/v1/cases/{master.number}", headers=headers).get_json()
    assert [m["number"] for m in master_body["merged_cases"]] == [dup.number]
    response = client.post(f"{url}/unmerge", json={}, headers=headers)
    assert response.status_code == 200 and response.get_json()["state"] == "reported"


def test_merge_form_on_the_case_page_offers_the_likely_duplicates(client, auth, world):
    now = utcnow()
    master = make_case("registered", world=world, now=now - timedelta(hours=2))
    dup = make_case("reported", world=world, now=now)
    elsewhere = make_case("reported", world=world, xy=GRID4_XY, now=now)
    db.session.commit()
    auth.login("intake_operator")
    html = client.get(f"/cases/{dup.number}").get_data(as_text=True)
    assert f'action="/cases/{dup.number}/actions/merge"' in html
    assert f'<option value="{master.number}">' in html and f'<option value="{elsewhere.number}">' not in html

    response = client.post(f"/cases/{dup.number}/actions/merge",
                           data={"merge-expected_version": dup.version, "merge-master": master.number})
    assert response.status_code == 303
    db.session.expire_all()
    assert db.session.get(type(dup), dup.id).merged_into_id == master.id
    html = client.get(f"/cases/{master.number}").get_data(as_text=True)
    assert f'href="/cases/{dup.number}"' in html

    # Across grids the page asks for the confirmation box.
    response = client.post(f"/cases/{elsewhere.number}/actions/merge",
                           data={"merge-expected_version": elsewhere.version, "merge-master": master.number},
                           follow_redirects=True)
    assert "confirm" in response.get_data(as_text=True).lower()
    db.session.expire_all()
    assert db.session.get(type(dup), elsewhere.id).state == "reported"
    response = client.post(f"/cases/{elsewhere.number}/actions/merge",
                           data={"merge-expected_version": elsewhere.version, "merge-master": master.number,
                                 "merge-confirm": "y"})
    db.session.expire_all()
    assert db.session.get(type(dup), elsewhere.id).state == "merged"

    html = client.get(f"/cases/{dup.number}").get_data(as_text=True)
    assert f'action="/cases/{dup.number}/actions/unmerge"' in html
    client.post(f"/cases/{dup.number}/actions/unmerge", data={"unmerge-expected_version": dup.version})
    db.session.expire_all()
    assert db.session.get(type(dup), dup.id).state == "reported"


def _second_worker(world):
    """A grid worker with no area and no responsibility grid: they see only what they reported."""
    return make_staff("worker_two", "grid_worker")


def _patrol(reporter, xy=GRID1_XY, now=T0):
    return file_case(reporter, source="patrol", x=xy[0], y=xy[1], datum="gcj02", now=now,
                     case_type="event", small_class_code="0102", description="路边垃圾堆放")


def _co_reporter_rows(case):
    return set(db.session.execute(
        select(CaseReporter.user_id, CaseReporter.merge_id).where(CaseReporter.case_id == case.id)
    ).all())


def test_the_duplicates_reporter_becomes_a_co_reporter_and_undo_takes_it_back(world):
    worker = _second_worker(world)
    master = make_case("registered", world=world)
    dup = _patrol(worker, now=later(1))
    visible = lambda user: set(db.session.scalars(visible_cases(user).with_only_columns(Case.id)))  # noqa: E731
    assert master.id not in visible(worker) and dup.id in visible(worker)
    assert not in_scope(master, worker, Scope.REPORTER)

    record = merge_case(dup, master, world.user("intake_operator"), now=later(2))
    assert _co_reporter_rows(master) == {(worker.id, record.id)}
    assert {master.id, dup.id} <= visible(worker)
    assert not in_scope(master, worker, Scope.REPORTER)  # sees the master, does not act as its reporter
    assert merge_links(master)["co_reporters"] == [{"id": worker.id, "name": worker.full_name}]

    undo_merge(dup, world.user("intake_operator"), now=later(3))
    assert _co_reporter_rows(master) == set()
    assert master.id not in visible(worker) and dup.id in visible(worker)
    assert not in_scope(master, worker, Scope.REPORTER)
    assert merge_links(master)["co_reporters"] == []


def test_co_reporters_follow_a_further_merge_without_the_masters_reporter_or_repeats(world):
    worker = _second_worker(world)
    third = make_staff("worker_three", "grid_worker")
    operator = world.user("intake_operator")
    master = make_case("registered", world=world)  # filed by the world's grid worker
    middle = _patrol(third, now=later(1))
    first = _patrol(worker, now=later(1))
    own = _patrol(world.user("grid_worker"), now=later(1))
    twice = _patrol(worker, now=later(1))

    first_merge = merge_case(first, middle, operator, now=later(2))
    assert _co_reporter_rows(middle) == {(worker.id, first_merge.id)}
    # The middle case's reporter and its co-reporter both come along to the master.
    middle_merge = merge_case(middle, master, operator, now=later(3))
    assert _co_reporter_rows(master) == {(third.id, middle_merge.id), (worker.id, middle_merge.id)}
    # The master's own reporter is never its co-reporter, and nobody is listed twice.
    merge_case(own, master, operator, now=later(4))
    merge_case(twice, master, operator, now=later(4))
    assert _co_reporter_rows(master) == {(third.id, middle_merge.id), (worker.id, middle_merge.id)}
    assert [p["id"] for p in merge_links(master)["co_reporters"]] == sorted([worker.id, third.id])

    # Undoing the middle merge takes back exactly what it added; the middle case keeps its own.
    undo_merge(middle, operator, now=later(5))
    assert _co_reporter_rows(master) == set()
    assert _co_reporter_rows(middle) == {(worker.id, first_merge.id)}


def test_a_co_reporter_sees_the_master_through_the_api_until_the_merge_is_undone(client, world):
    worker = _second_worker(world)
    master = make_case("registered", world=world)
    dup = _patrol(worker, now=later(1))
    desk = {"Authorization": f"Bearer {issue_token(world.user('intake_operator'), 'desk')[1]}"}
    mine = {"Authorization": f"Bearer {issue_token(worker, 'tablet')[1]}"}
    db.session.commit()

    def listed():
        response = client.get("/api/v1/cases", headers=mine)
        assert response.status_code == 200
        return {item["number"] for item in response.get_json()["items"]}

    assert listed() == {dup.number}
    assert client.get(f"/api/v1/cases/{master.number}", headers=mine).status_code == 404

    response = client.post(f"/api/v1/cases/{dup.number}/actions/merge", json={"master": master.number},
                           headers=desk)
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["co_reporters"] == []
    assert listed() == {dup.number, master.number}
    response = client.get(f"/api/v1/cases/{master.number}", headers=mine)
    assert response.status_code == 200
    assert response.get_json()["co_reporters"] == [{"id": worker.id, "name": worker.full_name}]
    body = client.get(f"/api/v1/cases/{master.number}", headers=desk).get_json()
    assert body["co_reporters"] == [{"id": worker.id, "name": worker.full_name}]

    response = client.post(f"/api/v1/cases/{dup.number}/actions/unmerge", json={}, headers=desk)
    assert response.status_code == 200
    assert listed() == {dup.number}
    assert client.get(f"/api/v1/cases/{master.number}", headers=mine).status_code == 404
    assert client.get(f"/api/v1/cases/{master.number}", headers=desk).get_json()["co_reporters"] == []


def test_the_case_page_lists_the_co_reporters(client, auth, world):
    worker = _second_worker(world)
    master = make_case("registered", world=world)
    dup = _patrol(worker, now=later(1))
    merge_case(dup, master, world.user("intake_operator"), now=later(2))
    db.session.commit()
    auth.login("intake_operator")
    html = client.get(f"/cases/{master.number}").get_data(as_text=True)
    assert "<dt>共同上报人</dt>" in html and f"<dd>{worker.full_name}</dd>" in html
    html = client.get(f"/cases/{dup.number}").get_data(as_text=True)
    assert "共同上报人" not in html
