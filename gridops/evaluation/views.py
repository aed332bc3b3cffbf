"""Pages of the evaluation package: notices, early warnings and interviews, special campaigns."""

from __future__ import annotations

from datetime import datetime, timezone

from flask import Blueprint, Response, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required
from flask_wtf import FlaskForm
from sqlalchemy import select
from wtforms import DateField, IntegerField, SelectField, SelectMultipleField, StringField, TextAreaField
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange, Optional

from gridops.admin.history import history
from gridops.admin.views import ACTION_LABELS
from gridops.auth import permissions
from gridops.cases.forms import choices
from gridops.catalogue.models import SmallClass
from gridops.dates import WithinYears
from gridops.errors import DomainError
from gridops.evaluation import campaigns as campaign_service
from gridops.evaluation import warnings as warning_service
from gridops.evaluation.exports import (
    GROUP_LABELS,
    KIND_LABELS,
    NINE_WORD_LABELS,
    STATUS_LABELS,
    notice_csv,
    notice_tables,
    notice_title,
    notice_xlsx,
    percent,
)
from gridops.evaluation.models import NOTICE_KINDS, Campaign, EarlyWarning, Notice
from gridops.evaluation.scores import GRADE_LABELS
from gridops.evaluation.notices import (
    PERIOD_KIND,
    content_for,
    generate_notice,
    publish_notice,
    refresh_notice,
    visible_notices,
)
from gridops.evaluation.periods import Period
from gridops.extensions import db
from gridops.territory.models import Area

bp = Blueprint("evaluation", __name__, url_prefix="/evaluation")

XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _now() -> datetime:
    return datetime.now(timezone.utc)


class GenerateNoticeForm(FlaskForm):
    kind = SelectField(_l("Kind"), choices=choices((k, KIND_LABELS[k]) for k in NOTICE_KINDS))
    period = StringField(
        _l("Period"), validators=[DataRequired(), Length(max=32)],
        description=_l("e.g. 2026-W47 (week), 2026-11 (month), 2026-Q4 (quarter)"),
    )
    scope = SelectField(_l("Scope"), choices=[], validate_choice=True)


class ConfirmForm(FlaskForm):
    """A button-only form: the CSRF token is its content."""


def _scope_choices() -> list[tuple[str, str]]:
    districts = db.session.scalars(select(Area).where(Area.level_rank == 1, Area.active.is_(True)).order_by(Area.code))
    return [("city", _("Whole city"))] + [(str(a.id), f"{a.name} {a.code}") for a in districts]


def _load_notice(notice_id: int) -> Notice:
    notice = db.get_or_404(Notice, notice_id)
    if not permissions.can_view_notice(current_user, notice):
        abort(403)
    return notice


@bp.route("/")
@login_required
def index():
    """The evaluation workspace starts at the notices."""
    if not permissions.can_view_notices(current_user) and not permissions.can_view_campaigns(current_user):
        abort(403)
    if permissions.can_view_notices(current_user):
        return redirect(url_for(".notice_list"))
    return redirect(url_for(".campaign_list"))


@bp.route("/notices", methods=["GET", "POST"])
@login_required
def notice_list():
    """Notices per period, newest first; evaluators make one for any period here."""
    if not permissions.can_view_notices(current_user):
        abort(403)
    form = GenerateNoticeForm()
    form.scope.choices = choices(_scope_choices())
    if request.method == "POST":
        if not permissions.can_manage_notices(current_user):
            abort(403)
        if form.validate_on_submit():
            try:
                period = Period.parse(form.period.data)
                scope = None if form.scope.data == "city" else db.session.get(Area, int(form.scope.data))
                notice = generate_notice(form.kind.data, period, now=_now(), scope_area=scope, actor=current_user)
                db.session.commit()
            except DomainError as exc:
                db.session.rollback()
                reasons = " ".join(exc.fields.values())
                flash(f"{exc.message} {reasons}".strip() if reasons and reasons not in exc.message else exc.message,
                      "error")
            else:
                return redirect(url_for(".notice_page", notice_id=notice.id), 303)
    kind = request.args.get("kind")
    notices = [n for n in visible_notices(current_user) if kind not in NOTICE_KINDS or n.kind == kind]
    periods: dict[str, list[Notice]] = {}
    for notice in notices:
        periods.setdefault(notice.period_key, []).append(notice)
    return render_template(
        "evaluation/notices.html", form=form, periods=periods, kind=kind, kinds=NOTICE_KINDS,
        kind_labels=KIND_LABELS, status_labels=STATUS_LABELS, notice_title=notice_title,
    )


def notice_charts(notice: Notice, content: dict) -> list[dict]:
    """The charts of a notice page, as the data the SVG macros draw."""
    rows = [(f"{r['word']} {NINE_WORD_LABELS[r['word']]}", [r["reports"], r["closed"]]) for r in content["nine_words"]]
    charts = [{
        "kind": "bars", "id": "chart-nine", "title": _("Nine-word dimensions: reports and closures"),
        "rows": rows, "series": [_("Reports"), _("Closed")],
        "peak": max([1] + [v for _label, values in rows for v in values]),
    }]
    if notice.kind in ("monthly", "quarterly"):
        trend = content["trend"]
        rates = [(t["period"], percent(t["on_time_closure_rate"])) for t in trend]
        charts.append({
            "kind": "columns", "id": "chart-trend", "title": _("On-time closure rate by month (%)"),
            "points": rates, "peak": 100, "unit": "",
        })
        reports = [(t["period"], t["reports"]) for t in trend]
        charts.append({
            "kind": "columns", "id": "chart-months", "title": _("Reports per month"), "points": reports,
            "peak": max([1] + [v for _label, v in reports]), "unit": "",
        })
    if notice.kind == "monthly" and content["groups"]:
        group = content["groups"][0]
        scored = [(r["label"], [r["score"]]) for r in group["rows"] if r["score"] is not None]
        if scored:
            charts.append({
                "kind": "bars", "id": "chart-scores",
                "title": _("Scores of %(group)s", group=GROUP_LABELS.get(group["group_by"], group["group_by"])),
                "rows": scored, "series": [_("Score")], "peak": max([100] + [v[0] for _label, v in scored]),
            })
    return charts


def _render_notice(notice: Notice, *, printing: bool):
    content = content_for(notice, current_user)
    return render_template(
        "evaluation/notice.html",
        notice=notice,
        content=content,
        tables=notice_tables(notice, content),
        charts=notice_charts(notice, content),
        title=notice_title(notice),
        printing=printing,
        confirm=ConfirmForm(),
        kind_labels=KIND_LABELS,
        status_labels=STATUS_LABELS,
        nine_word_labels=NINE_WORD_LABELS,
        period_kind=PERIOD_KIND[notice.kind],
    )


@bp.route("/notices/<id:notice_id>")
@login_required
def notice_page(notice_id: int):
    """One notice, ready for the review meeting."""
    return _render_notice(_load_notice(notice_id), printing=False)


@bp.route("/notices/<id:notice_id>/print")
@login_required
def notice_print(notice_id: int):
    """The notice laid out for A4 paper (no navigation, no buttons)."""
    return _render_notice(_load_notice(notice_id), printing=True)


def _notice_action(notice_id: int, service, done: str):
    notice = _load_notice(notice_id)
    if not permissions.can_manage_notices(current_user):
        abort(403)
    if not ConfirmForm().validate_on_submit():
        abort(400)
    try:
        service(notice, current_user, now=_now())
        db.session.commit()
    except DomainError as exc:
        db.session.rollback()
        flash(exc.message, "error")
    else:
        flash(done, "success")
    return redirect(url_for(".notice_page", notice_id=notice_id), 303)


@bp.route("/notices/<id:notice_id>/publish", methods=["POST"])
@login_required
def notice_publish(notice_id: int):
    """Publish a draft: its figures are frozen from now on."""
    return _notice_action(notice_id, publish_notice, _("The notice is published."))


@bp.route("/notices/<id:notice_id>/refresh", methods=["POST"])
@login_required
def notice_refresh(notice_id: int):
    """Recompute a draft's figures."""
    return _notice_action(notice_id, refresh_notice, _("The figures are recomputed."))


def _download_name(notice: Notice, extension: str) -> str:
    scope = "city" if notice.scope_area_id is None else f"area{notice.scope_area_id}"
    return f"notice-{notice.kind}-{notice.period_key}-{scope}.{extension}"


@bp.route("/notices/<id:notice_id>/export.xlsx")
@login_required
def notice_export_xlsx(notice_id: int):
    """The notice's tables as a workbook."""
    notice = _load_notice(notice_id)
    body = notice_xlsx(notice, notice_tables(notice, content_for(notice, current_user)))
    return Response(body, mimetype=XLSX_TYPE,
                    headers={"Content-Disposition": f'attachment; filename="{_download_name(notice, "xlsx")}"'})


@bp.route("/notices/<id:notice_id>/export.csv")
@login_required
def notice_export_csv(notice_id: int):
    """The notice's tables as CSV."""
    notice = _load_notice(notice_id)
    body = notice_csv(notice, notice_tables(notice, content_for(notice, current_user)))
    return Response(body, mimetype="text/csv; charset=utf-8",
                    headers={"Content-Disposition": f'attachment; filename="{_download_name(notice, "csv")}"'})


# ---- special campaigns ---------------------------------------------------------------------


class CampaignForm(FlaskForm):
    name = StringField(_l("Name"), validators=[DataRequired(), Length(max=campaign_service.MAX_NAME)])
    description = TextAreaField(_l("Description"), validators=[Optional(), Length(max=campaign_service.MAX_TEXT)])
    starts_on = DateField(_l("First day"), validators=[InputRequired(), WithinYears()])
    ends_on = DateField(_l("Last day"), validators=[InputRequired(), WithinYears()])
    target_count = IntegerField(_l("Target (cases closed)"), validators=[InputRequired(), NumberRange(1, 10_000_000)])
    small_classes = SelectMultipleField(_l("Small classes (none: every class)"), coerce=int, choices=[])
    areas = SelectMultipleField(_l("Areas (none: the whole city)"), coerce=int, choices=[])


def _campaign_form() -> CampaignForm:
    form = CampaignForm()
    classes = db.session.scalars(
        select(SmallClass).where(SmallClass.active.is_(True)).order_by(SmallClass.case_type, SmallClass.code)
    )
    form.small_classes.choices = choices((c.id, f"{c.full_code} {c.name}") for c in classes)
    areas = db.session.scalars(
        select(Area).where(Area.level_rank.in_((1, 2)), Area.active.is_(True)).order_by(Area.path)
    )
    # Subdistricts indented under their district by an ideographic space.
    form.areas.choices = choices((a.id, ("\u3000" if a.level_rank == 2 else "") + f"{a.name} {a.code}") for a in areas)
    return form


class CloseCampaignForm(FlaskForm):
    reason = TextAreaField(_l("Why it ends early"), validators=[DataRequired(), Length(max=campaign_service.MAX_TEXT)])


def _campaign_fields(form: CampaignForm) -> dict:
    return dict(
        name=form.name.data,
        description=form.description.data or "",
        starts_on=form.starts_on.data,
        ends_on=form.ends_on.data,
        target_count=form.target_count.data,
        small_class_ids=form.small_classes.data or (),
        area_ids=form.areas.data or (),
    )


def _refused(form: FlaskForm, exc: DomainError) -> None:
    """Put the service's refusal beside its fields (or on top when no field matches)."""
    db.session.rollback()
    for name, reason in exc.fields.items():
        if name in form:
            form[name].errors = list(form[name].errors) + [reason]
    flash(exc.message, "error")


@bp.route("/campaigns", methods=["GET", "POST"])
@login_required
def campaign_list():
    """Special campaigns with their live progress; evaluators and admins open new ones here."""
    if not permissions.can_view_campaigns(current_user):
        abort(403)
    form = _campaign_form() if permissions.can_manage_campaigns(current_user) else None
    status = 200
    if request.method == "POST":
        if form is None:
            abort(403)
        if form.validate_on_submit():
            try:
                campaign = campaign_service.create_campaign(current_user, **_campaign_fields(form))
                db.session.commit()
            except DomainError as exc:
                _refused(form, exc)
            else:
                flash(_("The campaign is open."), "success")
                return redirect(url_for(".campaign_page", campaign_id=campaign.id), 303)
        status = 422
    now = _now()
    campaigns = [
        (c, campaign_service.campaign_progress(c, now=now))
        for c in db.session.scalars(campaign_service.visible_campaigns(current_user))
    ]
    return render_template("evaluation/campaigns.html", form=form, campaigns=campaigns), status


def _render_campaign(campaign: Campaign, edit_form=None, close_form=None, status: int = 200):
    manage = permissions.can_manage_campaigns(current_user)
    if manage and edit_form is None:
        edit_form = _campaign_form()
        edit_form.process(obj=campaign, small_classes=[c.id for c in campaign.small_classes],
                          areas=[a.id for a in campaign.areas])
    return render_template(
        "evaluation/campaign.html",
        campaign=campaign,
        progress=campaign_service.campaign_progress(campaign, now=_now()),
        edit_form=edit_form if manage else None,
        close_form=(close_form or CloseCampaignForm()) if manage else None,
        today=_now().astimezone(campaign_service.city_zone()).date(),
        changes=history(["campaign"], campaign.id),
        entity_labels={"campaign": _("Special campaign")},
        action_labels={**ACTION_LABELS, "close": _("ended early")},
    ), status


def _managed_campaign(campaign_id: int) -> Campaign:
    if not permissions.can_manage_campaigns(current_user):
        abort(403)
    return db.get_or_404(Campaign, campaign_id)


@bp.route("/campaigns/<id:campaign_id>")
@login_required
def campaign_page(campaign_id: int):
    """One campaign: scope, target and progress now; evaluators and admins change or end it here."""
    if not permissions.can_view_campaigns(current_user):
        abort(403)
    return _render_campaign(db.get_or_404(Campaign, campaign_id))


def _campaign_step(campaign_id: int, make_form, step, done: str, form_name: str):
    """Take ``step(campaign, form)`` from a posted form: back to the page, or the form with its errors (422)."""
    campaign = _managed_campaign(campaign_id)
    form = make_form()
    if form.validate_on_submit():
        try:
            step(campaign, form)
            db.session.commit()
        except DomainError as exc:
            _refused(form, exc)
        else:
            flash(done, "success")
            return redirect(url_for(".campaign_page", campaign_id=campaign.id), 303)
    db.session.refresh(campaign)
    return _render_campaign(campaign, status=422, **{form_name: form})


@bp.route("/campaigns/<id:campaign_id>/edit", methods=["POST"])
@login_required
def campaign_edit(campaign_id: int):
    """Change the campaign's name, period, target or scope."""
    return _campaign_step(
        campaign_id, _campaign_form,
        lambda campaign, form: campaign_service.update_campaign(current_user, campaign, **_campaign_fields(form)),
        _("The campaign is saved."), "edit_form",
    )


@bp.route("/campaigns/<id:campaign_id>/close", methods=["POST"])
@login_required
def campaign_close(campaign_id: int):
    """End a running campaign today, with the reason."""
    return _campaign_step(
        campaign_id, CloseCampaignForm,
        lambda campaign, form: campaign_service.close_campaign(
            current_user, campaign, today=_now().astimezone(campaign_service.city_zone()).date(),
            reason=form.reason.data,
        ),
        _("The campaign ends today."), "close_form",
    )


# ---- early warnings, interviews, assistance plans ----------------------------------------


REASON_LABELS = {"bottom": _l("bottom of its group"), "below_threshold": _l("score under the threshold")}


class InterviewForm(FlaskForm):
    held_on = DateField(_l("Date held"), validators=[InputRequired(), WithinYears()])
    attendees = TextAreaField(_l("Attendees"), validators=[DataRequired(), Length(max=warning_service.MAX_TEXT)])
    findings = TextAreaField(_l("Findings"), validators=[DataRequired(), Length(max=warning_service.MAX_TEXT)])
    measures = TextAreaField(_l("Agreed measures"), validators=[DataRequired(), Length(max=warning_service.MAX_TEXT)])


class PlanForm(FlaskForm):
    target_on_time_rate = IntegerField(_l("Target on-time closure rate (%)"), default=70,
                                       validators=[InputRequired(), NumberRange(0, 100)])
    tracked_periods = IntegerField(_l("Periods to track"), default=3, validators=[InputRequired(), NumberRange(1, 12)])
    measures = TextAreaField(_l("Assistance measures"), validators=[Optional(), Length(max=warning_service.MAX_TEXT)])


def _load_warning(warning_id: int) -> EarlyWarning:
    warning = db.get_or_404(EarlyWarning, warning_id)
    if not permissions.can_view_warning(current_user, warning):
        abort(403)
    return warning


@bp.route("/warnings")
@login_required
def warning_list():
    """Flagged units and areas, newest period first."""
    if not permissions.can_view_warnings(current_user):
        abort(403)
    return render_template(
        "evaluation/warnings.html", warnings=warning_service.visible_warnings(current_user), confirm=ConfirmForm(),
        settings=warning_service.warning_settings(), group_labels=GROUP_LABELS,
    )


@bp.route("/warnings/evaluate", methods=["POST"])
@login_required
def warning_evaluate():
    """Run the early-warning rule now over the last closed periods (the scheduler does it too)."""
    if not permissions.can_manage_notices(current_user):
        abort(403)
    if not ConfirmForm().validate_on_submit():
        abort(400)
    made = warning_service.evaluate_early_warnings(_now())
    db.session.commit()
    flash(_("New early warnings: %(n)d.", n=len(made)), "success")
    return redirect(url_for(".warning_list"), 303)


def _render_warning(warning: EarlyWarning, interview_form=None, plan_form=None):
    manage = permissions.can_manage_notices(current_user)
    return render_template(
        "evaluation/warning.html",
        warning=warning,
        interview_form=interview_form or (InterviewForm(prefix="iv") if manage else None),
        plan_form=plan_form or (PlanForm(prefix="plan") if manage and warning.plan is None else None),
        checks=warning_service.plan_progress(warning.plan, now=_now()) if warning.plan else [],
        reason_labels=REASON_LABELS, group_labels=GROUP_LABELS, grade_labels=GRADE_LABELS, percent=percent,
        rate_label=_("On-time closure rate (%)"),
    )


@bp.route("/warnings/<id:warning_id>")
@login_required
def warning_page(warning_id: int):
    """One warning: why it was raised, its interviews and its assistance plan with progress."""
    return _render_warning(_load_warning(warning_id))


def _save(form, action):
    """Validate ``form`` and run ``action``; a refusal is flashed and marked on the form's fields."""
    if not form.validate_on_submit():
        flash(_("Check the highlighted fields."), "error")
        return False
    try:
        action()
        db.session.commit()
    except DomainError as exc:
        db.session.rollback()
        for name, reason in exc.fields.items():
            if name in form:
                form[name].errors = list(form[name].errors) + [reason]
        flash(exc.message, "error")
        return False
    return True


@bp.route("/warnings/<id:warning_id>/interviews", methods=["POST"])
@login_required
def warning_interview(warning_id: int):
    """Record an interview held about the warning."""
    warning = _load_warning(warning_id)
    if not permissions.can_manage_notices(current_user):
        abort(403)
    form = InterviewForm(prefix="iv")
    if _save(form, lambda: warning_service.record_interview(
        warning, current_user, held_on=form.held_on.data, attendees=form.attendees.data,
        findings=form.findings.data, measures=form.measures.data,
    )):
        flash(_("The interview is recorded."), "success")
        return redirect(url_for(".warning_page", warning_id=warning_id), 303)
    return _render_warning(warning, interview_form=form), 422


@bp.route("/warnings/<id:warning_id>/plan", methods=["POST"])
@login_required
def warning_plan(warning_id: int):
    """Set up the assistance plan of the warning."""
    warning = _load_warning(warning_id)
    if not permissions.can_manage_notices(current_user):
        abort(403)
    form = PlanForm(prefix="plan")
    if _save(form, lambda: warning_service.create_assistance_plan(
        warning, current_user, target_on_time_rate=form.target_on_time_rate.data,
        tracked_periods=form.tracked_periods.data, measures=form.measures.data or "",
    )):
        flash(_("The assistance plan is set up."), "success")
        return redirect(url_for(".warning_page", warning_id=warning_id), 303)
    return _render_warning(warning, plan_form=form), 422
