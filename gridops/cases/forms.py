"""Case page forms: the list filter (GET), the filing form and the one form behind every action."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    DateField,
    DateTimeLocalField,
    FloatField,
    HiddenField,
    IntegerField,
    MultipleFileField,
    SelectField,
    StringField,
    TextAreaField,
)
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange, Optional

from gridops.cases.models import SOURCES, URGENCIES
from gridops.cases.states import State
from gridops.dates import WithinYears

SOURCE_LABELS = {
    "patrol": _l("Grid worker patrol"),
    "hotline": _l("12345 hotline"),
    "public": _l("Public report"),
    "leader": _l("Leader assignment"),
    "media": _l("Media exposure"),
    "video": _l("Video detection"),
}

STATE_LABELS = {
    State.VERIFYING: _l("Verifying on site"),
    State.REPORTED: _l("Reported"),
    State.REGISTERED: _l("Registered"),
    State.DISPATCHED: _l("Dispatched"),
    State.HANDLING: _l("Handling"),
    State.SUSPENDED: _l("Suspended"),
    State.HANDLED: _l("Handled, awaiting check"),
    State.CLOSED: _l("Closed"),
    State.CANCELLED: _l("Cancelled"),
    State.MERGED: _l("Merged"),
}

URGENCY_LABELS = {"normal": _l("Normal"), "urgent": _l("Urgent")}

DATUM_LABELS = {
    "wgs84": _l("WGS-84 (GPS)"),
    "gcj02": _l("GCJ-02 (Chinese web maps)"),
    "bd09": _l("BD-09 (Baidu maps)"),
}

SORTS = {"newest": _l("Newest first"), "time_left": _l("Least time left first")}


def choices(pairs) -> list[SelectChoice]:
    """(value, label) pairs as a select's options."""
    return [SelectChoice(value, label) for value, label in pairs]


class CaseFilterForm(FlaskForm):
    """The case list's filters, read from the query string (no CSRF: it changes nothing)."""

    class Meta:
        csrf = False

    state = SelectField(_l("State"), choices=[], validate_choice=False)
    small_class = SelectField(_l("Class"), choices=[], validate_choice=False)
    source = SelectField(
        _l("Source"), choices=choices([("", _l("Any source"))] + [(s, SOURCE_LABELS[s]) for s in SOURCES]), validate_choice=False
    )
    overdue = BooleanField(_l("Overdue only"))
    supervised = BooleanField(_l("Supervised only"))
    date_from = DateField(_l("Reported from"), validators=[Optional(), WithinYears()])
    date_to = DateField(_l("Reported until"), validators=[Optional(), WithinYears()])
    text = StringField(_l("Number, address or description"), validators=[Optional(), Length(max=100)])
    sort = SelectField(_l("Order"), choices=choices(SORTS.items()), default="newest", validate_choice=False)
    page = IntegerField(_l("Page"), default=1, validators=[Optional(), NumberRange(min=1)])


class FileCaseForm(FlaskForm):
    """A desktop filing form: class, position, what and where, photos."""

    small_class = SelectField(_l("Class"), choices=[], validators=[DataRequired()], validate_choice=False)
    standard = SelectField(_l("Filing standard"), choices=[], validate_choice=False)
    source = SelectField(_l("Source"), choices=choices((s, SOURCE_LABELS[s]) for s in SOURCES), validators=[DataRequired()])
    x = FloatField(_l("Longitude (x)"), validators=[InputRequired()])
    y = FloatField(_l("Latitude (y)"), validators=[InputRequired()])
    datum = SelectField(_l("Datum of the position"), choices=choices(DATUM_LABELS.items()), default="wgs84")
    address = StringField(_l("Address"), validators=[Optional(), Length(max=255)])
    description = TextAreaField(_l("Description"), validators=[Optional(), Length(max=4000)])
    urgency = SelectField(_l("Urgency"), choices=choices((u, URGENCY_LABELS[u]) for u in URGENCIES), default="normal")
    photos = MultipleFileField(_l("Photos"))
    idempotency_key = HiddenField(validators=[DataRequired(), Length(max=64)])


class ActionForm(FlaskForm):
    """Every input an action may need; each action's form shows only those it requires."""

    expected_version = IntegerField(validators=[InputRequired()])
    reason = TextAreaField(_l("Reason"), validators=[Optional(), Length(max=2000)])
    note = TextAreaField(_l("Note"), validators=[Optional(), Length(max=2000)])
    unit = SelectField(_l("Handling unit"), choices=[], coerce=str, validate_choice=False)
    due_at = DateTimeLocalField(_l("New due time"), format="%Y-%m-%dT%H:%M", validators=[Optional(), WithinYears()])
    instruction = TextAreaField(_l("Instruction"), validators=[Optional(), Length(max=2000)])
    photos = MultipleFileField(_l("Photos"))
    master = StringField(_l("Merge into case number"), validators=[Optional(), Length(max=20)])
    confirm = BooleanField(_l("Merge even though the grid or small class differs"))

