"""Workspace services: dispatching a batch of cases, each on its own, so one refusal undoes nothing else."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from gridops.auth.models import User
from gridops.cases.models import Case
from gridops.cases.services import take_action
from gridops.errors import DomainError
from gridops.extensions import db


@dataclass(frozen=True)
class DispatchItem:
    """One case of a batch: the unit chosen for it and the version the dispatcher saw."""

    case: Case
    unit_id: int | None
    expected_version: int | None = None


@dataclass(frozen=True)
class DispatchOutcome:
    """What became of one case of a batch: dispatched, or refused with the domain error."""

    number: str
    error: DomainError | None = None

    @property
    def ok(self) -> bool:
        return self.error is None


def dispatch_batch(items: list[DispatchItem], actor: User, *, now: datetime | None = None) -> list[DispatchOutcome]:
    """派遣 each case of the batch through the dispatch service inside its own savepoint.

    A refused case (changed meanwhile, already dispatched, no unit, out of scope) is rolled
    back alone and reported with its error; the others stay dispatched. Flushes, never commits.
    """
    outcomes = []
    for item in items:
        number = item.case.number
        try:
            with db.session.begin_nested():
                take_action(
                    item.case, "dispatch", actor,
                    expected_version=item.expected_version, unit_id=item.unit_id, now=now,
                )
        except DomainError as exc:
            outcomes.append(DispatchOutcome(number, exc))
        else:
            outcomes.append(DispatchOutcome(number))
    return outcomes
