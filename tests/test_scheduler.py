"""The scheduler: stable job ids, the lease, each fire time once, catch-up, failures retried."""

from __future__ import annotations

import threading
import time
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select

from gridops.extensions import db
from gridops.jobs.runner import CRON_LOOKBACK, JobRunner, latest_fire, make_trigger
from gridops.jobs.schedule import JOBS, Job
from gridops.supervision.models import JobState, SupervisionOrder
from gridops.supervision.services import sweep_escalations
from tests.case_factories import T0, make_case, make_world

CITY = ZoneInfo("Asia/Shanghai")


def local(*args) -> datetime:
    return datetime(*args, tzinfo=CITY).astimezone(timezone.utc)


class Counter:
    """A job body that counts its runs (and can fail on demand)."""

    def __init__(self, fail_times: int = 0):
        self.runs: list[datetime] = []
        self.fail_times = fail_times

    def __call__(self, now: datetime) -> dict:
        if self.fail_times:
            self.fail_times -= 1
            raise RuntimeError("gateway down")
        self.runs.append(now)
        return {"runs": len(self.runs)}


def weekly(counter: Counter) -> Job:
    return Job("test_weekly", counter, {"day_of_week": "mon", "hour": 8, "minute": 0}, "test")


def _state(job_id: str) -> JobState:
    db.session.expire_all()
    return db.session.get(JobState, job_id)


def test_job_ids_are_unique_and_the_escalation_jobs_are_declared():
    ids = [job.id for job in JOBS]
    assert len(ids) == len(set(ids))
    assert {"escalation_sweep", "deliver_notifications", "weekly_supervision", "monthly_notice",
            "quarterly_review"} <= set(ids)


def test_cron_fire_times_are_in_the_city_zone():
    trigger = make_trigger(weekly(Counter()), CITY)
    # Wednesday 10 June: the latest Monday 08:00 (city time) is 8 June, 00:00 UTC.
    assert latest_fire(trigger, None, local(2026, 6, 10, 12), CRON_LOOKBACK) == local(2026, 6, 8, 8)
    assert latest_fire(trigger, local(2026, 6, 8, 8), local(2026, 6, 10, 12), CRON_LOOKBACK) is None
    # 07:59 on Monday the 8th: still the week before.
    assert latest_fire(trigger, None, local(2026, 6, 8, 7, 59), CRON_LOOKBACK) == local(2026, 6, 1, 8)


def test_configured_times_override_the_defaults():
    trigger = make_trigger(weekly(Counter()), CITY, {"test_weekly": {"day_of_week": "tue", "hour": 9}})
    assert latest_fire(trigger, None, local(2026, 6, 10, 12), CRON_LOOKBACK) == local(2026, 6, 9, 9)


def test_a_fire_time_runs_once_however_often_the_runner_ticks(app):
    counter = Counter()
    runner = JobRunner(app, [weekly(counter)], holder="a")
    assert runner.run(runner.jobs[0], local(2026, 6, 8, 8)).status == "ran"
    for minute in range(1, 4):
        assert runner.run(runner.jobs[0], local(2026, 6, 8, 8, minute)).status == "nothing_due"
    assert len(counter.runs) == 1
    assert _state("test_weekly").last_fire_at == local(2026, 6, 8, 8)
    assert runner.run(runner.jobs[0], local(2026, 6, 15, 8)).status == "ran"
    assert len(counter.runs) == 2


def test_a_second_scheduler_stands_by_until_the_lease_lapses(app):
    counter = Counter()
    first = JobRunner(app, [weekly(counter)], holder="first", lease_seconds=90)
    second = JobRunner(app, [weekly(counter)], holder="second", lease_seconds=90)
    assert first.run(first.jobs[0], local(2026, 6, 8, 8)).status == "ran"
    assert second.run(second.jobs[0], local(2026, 6, 8, 8, 1)).status == "standby"
    # The first scheduler stops without releasing; 90 s later the second takes over …
    assert second.run(second.jobs[0], local(2026, 6, 8, 8, 3)).status == "nothing_due"
    # … and runs the next fire time; the first, back again, now stands by.
    assert second.run(second.jobs[0], local(2026, 6, 15, 8)).status == "ran"
    assert first.run(first.jobs[0], local(2026, 6, 15, 8, 0, 30)).status == "standby"
    assert len(counter.runs) == 2


def test_released_lease_is_taken_over_at_once(app):
    first = JobRunner(app, [weekly(Counter())], holder="first")
    second = JobRunner(app, [weekly(Counter())], holder="second")
    with app.app_context():
        assert first.acquire_lease(local(2026, 6, 8, 8))
    first.release_lease()
    with app.app_context():
        assert second.acquire_lease(local(2026, 6, 8, 8, 0, 10))


def test_catch_up_after_downtime_runs_a_missed_job_once(app):
    counter = Counter()
    runner = JobRunner(app, [weekly(counter)], holder="a")
    runner.run(runner.jobs[0], local(2026, 6, 1, 8))
    # Down from Tuesday 2 June to Thursday 18 June: two Mondays missed, one catch-up run.
    outcomes = runner.catch_up(local(2026, 6, 18, 9))
    assert [(o.status, o.fire_at) for o in outcomes] == [("ran", local(2026, 6, 15, 8))]
    assert counter.runs == [local(2026, 6, 1, 8), local(2026, 6, 18, 9)]
    assert runner.catch_up(local(2026, 6, 18, 9, 1))[0].status == "nothing_due"


def test_a_failed_run_is_recorded_and_retried(app):
    counter = Counter(fail_times=1)
    runner = JobRunner(app, [weekly(counter)], holder="a")
    outcome = runner.run(runner.jobs[0], local(2026, 6, 8, 8))
    assert outcome.status == "failed"
    state = _state("test_weekly")
    assert state.last_fire_at is None and "gateway down" in state.last_error
    assert runner.run(runner.jobs[0], local(2026, 6, 8, 8, 1)).status == "ran"
    state = _state("test_weekly")
    assert state.last_fire_at == local(2026, 6, 8, 8) and state.last_error == "" and state.last_result == {"runs": 1}


def test_the_escalation_job_commits_its_orders(app):
    make_case("handling", now=T0)
    db.session.commit()
    runner = JobRunner(app, [job for job in JOBS if job.id == "escalation_sweep"], holder="a")
    outcome = runner.run(runner.jobs[0], local(2026, 6, 1, 16, 0, 30))
    assert outcome.status == "ran" and outcome.result["created"] == 2
    db.session.expire_all()
    assert db.session.scalar(select(func.count()).select_from(SupervisionOrder)) == 2
    # The same minute again: its fire time has run.
    assert runner.run(runner.jobs[0], local(2026, 6, 1, 16, 0, 50)).status == "nothing_due"


def test_scheduler_command_once_runs_the_due_jobs(app, runner):
    result = runner.invoke(args=["scheduler", "--once"])
    assert result.exit_code == 0, result.output
    assert "escalation_sweep" in result.output and "ran" in result.output


# ---------------------------------------------------------------------------------------------
# PostgreSQL: real concurrency


def _needs_postgres(app):
    if db.engine.dialect.name != "postgresql":
        pytest.skip("needs concurrent writers: SQLite serialises all writes (set GRIDOPS_TEST_DATABASE_URL)")


def _in_threads(app, count: int, body) -> list:
    barrier = threading.Barrier(count)
    results: list = [None] * count

    def work(index: int) -> None:
        with app.app_context():
            try:
                barrier.wait()
                results[index] = body(index)
                db.session.commit()
            except Exception as exc:  # reported to the test below
                db.session.rollback()
                results[index] = exc
            finally:
                db.session.remove()

    threads = [threading.Thread(target=work, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


def test_two_concurrent_sweeps_write_each_order_once(app):
    _needs_postgres(app)
    world = make_world()
    for _ in range(40):
        make_case("handling", world=world, now=T0)
    db.session.commit()
    now = local(2026, 6, 1, 16)
    results = _in_threads(app, 2, lambda i: sweep_escalations(now, batch_size=5).created)
    assert not [r for r in results if isinstance(r, Exception)], results
    assert sum(results) == 80
    db.session.expire_all()
    assert db.session.scalar(select(func.count()).select_from(SupervisionOrder)) == 80


def test_two_schedulers_claiming_the_same_fire_time_run_it_once(app):
    """Even two processes that both believe they hold the lease run a fire time once."""
    _needs_postgres(app)
    counter = Counter()
    lock = threading.Lock()

    def slow_body(now):
        with lock:
            counter.runs.append(now)
        time.sleep(0.5)  # the other claim arrives while this run's transaction is open
        return {}

    job = Job("test_weekly", slow_body, {"day_of_week": "mon", "hour": 8, "minute": 0})
    runners = [JobRunner(app, [job], holder="same-holder") for _ in range(2)]
    with app.app_context():
        assert runners[0].acquire_lease(local(2026, 6, 8, 8))
    results = _in_threads(app, 2, lambda i: runners[i].run(job, local(2026, 6, 8, 8, 0, 5)).status)
    assert sorted(results) == ["claimed_elsewhere", "ran"] or sorted(results) == ["nothing_due", "ran"]
    assert len(counter.runs) == 1


def test_policy_command_shows_and_changes_the_policy(app, runner):
    result = runner.invoke(args=["supervision", "policy", "--set", "level3_working_days=4",
                                 "--set", 'reply_hours={"timeout1": 2}'])
    assert result.exit_code == 0, result.output
    assert '"level3_working_days": 4' in result.output and '"timeout1": 2' in result.output
    refused = runner.invoke(args=["supervision", "policy", "--set", "level2_share=-1"])
    assert refused.exit_code != 0 and "level2_share" in refused.output
