"""Workspace services: dispatching a batch of cases, each on its own, so one refusal undoes nothing else."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from flask_babel import gettext as _

from gridops.auth.models import User
from gridops.cases.models import Case
from gridops.cases.queries import visible_cases
from gridops.cases.services import take_action
from gridops.errors import DomainError, NotFound
from gridops.extensions import db

#: Most cases one batch dispatches (a page of the command centre's queue).
MAX_BATCH = 50


@dataclass(frozen=True)
class DispatchItem:
    """One case of a batch: the unit chosen for it and the version the dispatcher saw."""

    case: Case
    unit_id: int | None
    expected_version: int | None = None


@dataclass(frozen=True)
class DispatchRequest:
    """One case of a batch by its number: the unit chosen for it and the version the dispatcher saw."""

    number: str
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


def dispatch_numbers(
    requests: list[DispatchRequest], actor: User, *, now: datetime | None = None
) -> list[DispatchOutcome]:
    """``dispatch_batch`` for cases given by number, outcomes in the order asked.

    A case the actor may not see (or that does not exist) is refused with ``NotFound``, like
    every other refusal: alone, without touching the rest.
    """
    numbers = [request.number for request in requests]
    found = {case.number: case for case in db.session.scalars(visible_cases(actor).where(Case.number.in_(numbers)))}
    outcomes: dict[str, DispatchOutcome] = {}
    items = []
    for request in requests:
        case = found.get(request.number)
        if case is None:
            error = NotFound(_("There is no case %(number)s that you may see.", number=request.number),
                             {"number": _("unknown")})
            outcomes[request.number] = DispatchOutcome(request.number, error)
        else:
            items.append(DispatchItem(case, request.unit_id, request.expected_version))
    outcomes.update((outcome.number, outcome) for outcome in dispatch_batch(items, actor, now=now))
    return [outcomes[number] for number in numbers]
