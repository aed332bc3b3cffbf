"""Forms of the administration pages (Flask-WTF: every POST carries its CSRF token)."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from wtforms import (
    BooleanField,
    DateField,
    DecimalField,
    FloatField,
    IntegerField,
    PasswordField,
    SelectField,
    StringField,
    TextAreaField,
)
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, EqualTo, InputRequired, Length, NumberRange, Optional

from gridops.auth.roles import Role
from gridops.catalogue.defaults import NINE_WORDS
from gridops.dates import WithinYears
from gridops.hotline.settings import MAX_RETENTION_DAYS, MIN_RETENTION_DAYS
from gridops.supervision.policy import REPLY_KINDS
from gridops.worktime.clocks import ClockType
from gridops.worktime.store import REGISTRATION_MAX_HOURS

CLOCK_LABELS = {
    ClockType.URGENT_HOURS.value: _l("urgent hours"),
    ClockType.WORKING_HOURS.value: _l("working hours"),
    ClockType.WORKING_DAYS.value: _l("working days"),
    ClockType.NATURAL_DAYS.value: _l("natural days"),
}
LOCALE_LABELS = {"": _l("Site default"), "zh": "中文", "en": "English"}
DATUM_LABELS = {
    "": _l("As declared in the file"),
    "gcj02": _l("GCJ-02 (Chinese web maps)"),
    "wgs84": _l("WGS-84 (GPS)"),
}
BASIS_LABELS = {"owner": _l("Owner (components first)"), "territory": _l("Territory (events first)")}
CASE_TYPE_LABELS = {"event": _l("Event"), "component": _l("Component")}


def choices(pairs) -> list[SelectChoice]:
    """(value, label) pairs as a select's options."""
    return [SelectChoice(value, label) for value, label in pairs]


def role_choices(locale: str) -> list[SelectChoice]:
    return choices((role.value, role.label(locale)) for role in Role)


class ActionForm(FlaskForm):
    """A button that changes something: only the CSRF token travels."""


class UserSearchForm(FlaskForm):
    """The user list's filters (GET, no token)."""

    class Meta:
        csrf = False

    q = StringField(_l("Username or name"), validators=[Optional(), Length(max=64)])
    role = SelectField(_l("Role"), validators=[Optional()])
    status = SelectField(
        _l("Status"),
        choices=choices([("", _l("All")), ("active", _l("Active")), ("inactive", _l("Deactivated"))]),
        validators=[Optional()],
    )


class UserForm(FlaskForm):
    """An account's name, role and scope (and, when created, its username and first password)."""

    username = StringField(_l("Username"), validators=[DataRequired(), Length(max=64)])
    full_name = StringField(_l("Full name"), validators=[DataRequired(), Length(max=128)])
    password = PasswordField(_l("First password"), validators=[DataRequired(), Length(max=256)])
    role = SelectField(_l("Role"), validators=[DataRequired()])
    area = StringField(_l("Area code"), validators=[Optional(), Length(max=32)])
    department = SelectField(_l("Handling unit"), validators=[Optional()])
    locale = SelectField(_l("Language"), choices=choices(LOCALE_LABELS.items()), validators=[Optional()])


class PasswordForm(FlaskForm):
    """A new password typed twice."""

    password = PasswordField(_l("New password"), validators=[DataRequired(), Length(max=256)])
    confirm = PasswordField(
        _l("Repeat the new password"),
        validators=[DataRequired(), EqualTo("password", message=_l("The two passwords differ."))],
    )


class LayerImportForm(FlaskForm):
    """A GeoJSON layer file and its datum."""

    layer = FileField(_l("GeoJSON file"), validators=[FileRequired(_l("Choose a file."))])
    datum = SelectField(_l("Datum"), choices=choices(DATUM_LABELS.items()), validators=[Optional()])


class FringeForm(FlaskForm):
    """Mark an area as urban-rural fringe, or not."""

    area = StringField(_l("Area code"), validators=[DataRequired(), Length(max=32)])
    fringe = SelectField(
        _l("Urban-rural fringe"),
        choices=choices([("yes", _l("Yes: the fringe registration limit")), ("no", _l("No"))]),
        validators=[DataRequired()],
    )


class BigClassForm(FlaskForm):
    """A big class's type, 2-digit code, names and active flag (type and code are fixed once made)."""

    case_type = SelectField(_l("Type"), choices=choices(CASE_TYPE_LABELS.items()))
    code = StringField(_l("Code (2 digits)"), validators=[DataRequired(), Length(min=2, max=2)])
    name = StringField(_l("Name (Chinese)"), validators=[DataRequired(), Length(max=64)])
    name_en = StringField(_l("Name (English)"), validators=[Optional(), Length(max=128)])
    active = BooleanField(_l("Active: its small classes can be chosen"), default=True)


class SmallClassForm(FlaskForm):
    """A small class's names, nine-word tag, default unit kind and active flag."""

    case_type = SelectField(_l("Type"), choices=choices(CASE_TYPE_LABELS.items()))
    code = StringField(_l("Code (4 digits)"), validators=[DataRequired(), Length(min=4, max=4)])
    name = StringField(_l("Name (Chinese)"), validators=[DataRequired(), Length(max=64)])
    name_en = StringField(_l("Name (English)"), validators=[Optional(), Length(max=128)])
    nine_word = SelectField(
        _l("Nine-word dimension"), choices=choices([("", "—")] + [(w, w) for w in NINE_WORDS]), validators=[Optional()]
    )
    default_unit_kind = StringField(_l("Default unit kind"), validators=[Optional(), Length(max=32)])
    active = BooleanField(_l("Active: can be chosen for new cases"), default=True)


class StandardForm(FlaskForm):
    """A filing standard: its condition, time limit (value and clock type) and closing condition."""

    name = StringField(_l("Filing condition"), validators=[Optional(), Length(max=128)])
    name_en = StringField(_l("Filing condition (English)"), validators=[Optional(), Length(max=128)])
    limit_value = IntegerField(
        _l("Time limit"), validators=[InputRequired(), NumberRange(min=1, max=9999)]
    )
    limit_clock = SelectField(_l("Counted in"), choices=choices(CLOCK_LABELS.items()), validators=[DataRequired()])
    closing_condition = TextAreaField(_l("Closing condition"), validators=[Optional(), Length(max=2000)])
    sort = IntegerField(_l("Order"), validators=[Optional(), NumberRange(min=0, max=1000)])
    active = BooleanField(_l("Active"), default=True)


class RoutingRuleForm(FlaskForm):
    """(small class, area subtree) → handling unit, with basis and priority."""

    small_class = SelectField(_l("Small class"), validators=[Optional()])
    area = StringField(_l("Area code"), validators=[DataRequired(), Length(max=32)])
    department = SelectField(_l("Handling unit"), validators=[DataRequired()])
    basis = SelectField(_l("Basis"), choices=choices(BASIS_LABELS.items()), validators=[DataRequired()])
    priority = IntegerField(_l("Priority (lower wins)"), default=100, validators=[InputRequired(), NumberRange(min=0, max=10000)])
    active = BooleanField(_l("Active"), default=True)


class DayForm(FlaskForm):
    """An override of one date: working day or not, and why."""

    day = DateField(_l("Date"), validators=[InputRequired(), WithinYears()])
    working = SelectField(
        _l("The day is"),
        choices=choices([("no", _l("a day off (holiday)")), ("yes", _l("a working day (adjusted weekend)"))]),
        validators=[DataRequired()],
    )
    note = StringField(_l("Note"), validators=[Optional(), Length(max=128)])


class ClearDayForm(FlaskForm):
    """Remove the override of one date."""

    day = DateField(_l("Date"), validators=[InputRequired(), WithinYears()])


class YearForm(FlaskForm):
    """Declare a year's holidays entered."""

    year = IntegerField(_l("Year"), validators=[InputRequired(), NumberRange(min=1900, max=2200)])


class ScheduleForm(FlaskForm):
    """Office hours: the default intervals, and seasons with their own."""

    hours = StringField(_l("Office hours"), validators=[DataRequired(), Length(max=200)])
    seasons = TextAreaField(_l("Seasons"), validators=[Optional(), Length(max=2000)])


class ThresholdsForm(FlaskForm):
    """Warning thresholds per clock type, as percentages of the limit."""

    urgent_hours_yellow = DecimalField(validators=[InputRequired(), NumberRange(min=1, max=1000)])
    urgent_hours_red = DecimalField(validators=[InputRequired(), NumberRange(min=1, max=1000)])
    working_hours_yellow = DecimalField(validators=[InputRequired(), NumberRange(min=1, max=1000)])
    working_hours_red = DecimalField(validators=[InputRequired(), NumberRange(min=1, max=1000)])
    working_days_yellow = DecimalField(validators=[InputRequired(), NumberRange(min=1, max=1000)])
    working_days_red = DecimalField(validators=[InputRequired(), NumberRange(min=1, max=1000)])
    natural_days_yellow = DecimalField(validators=[InputRequired(), NumberRange(min=1, max=1000)])
    natural_days_red = DecimalField(validators=[InputRequired(), NumberRange(min=1, max=1000)])


class RegistrationForm(FlaskForm):
    """Registration limits in working hours: ordinary areas and the urban-rural fringe."""

    normal = DecimalField(
        _l("Ordinary areas"), validators=[InputRequired(), NumberRange(min=0.1, max=REGISTRATION_MAX_HOURS)]
    )
    fringe = DecimalField(
        _l("Urban-rural fringe"), validators=[InputRequired(), NumberRange(min=0.1, max=REGISTRATION_MAX_HOURS)]
    )


class EscalationPolicyForm(FlaskForm):
    """The escalation policy as people read it: level 2's share of the limit in percent, working days,
    and a reply limit in working hours per order kind (``reply_<kind>``, empty: no reply asked).

    Only the types are checked here; the ranges are the policy's own (``parse_policy``).
    """

    level2_share = FloatField(_l("Level 2: after the due time, a further share of the time limit"),
                              validators=[InputRequired()])
    level2_min_working_days = IntegerField(_l("Level 2: at least this long after the due time"),
                                           validators=[InputRequired()])
    level3_working_days = IntegerField(_l("Level 3: after level 2"), validators=[InputRequired()])
    hotline_notice_working_days = IntegerField(_l("Reminder notice: on this working day after the missed reply"),
                                               validators=[InputRequired()])
    hotline_criticism_working_days = IntegerField(_l("Written criticism: after the reminder notice"),
                                                  validators=[InputRequired()])


for _kind in REPLY_KINDS:
    setattr(EscalationPolicyForm, f"reply_{_kind}", IntegerField(validators=[Optional()]))
del _kind


class DuplicateRulesForm(FlaskForm):
    """How near in place and time an open case must be to be offered as a likely duplicate.

    Only the types are checked here; the ranges are the service's (``set_duplicate_rules``).
    """

    radius_m = FloatField(_l("Distance"), validators=[InputRequired()])
    window_hours = FloatField(_l("Time either side"), validators=[InputRequired()])


class RetentionForm(FlaskForm):
    """How long callers' personal data is kept after their last case is finished."""

    days = IntegerField(
        _l("Days kept after the caller's last case is finished"),
        validators=[InputRequired(), NumberRange(min=MIN_RETENTION_DAYS, max=MAX_RETENTION_DAYS)],
    )
