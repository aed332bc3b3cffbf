"""The grid worker's tablet: home, one-screen report, on-site tasks, and the installable shell.

Reports are filed by the page's script through the cases API (kept on the device first,
so they survive a lost network); answers to tasks are plain form posts.
"""

from __future__ import annotations

import hashlib
from functools import cache
from pathlib import Path

from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    flash,
    jsonify,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf.csrf import generate_csrf

from gridops.auth.permissions import can_use_tablet
from gridops.cases.clocks import case_colour, current_stage
from gridops.cases.forms import URGENCY_LABELS, ActionForm
from gridops.cases.services import allowed_actions
from gridops.cases.states import Input, action_for
from gridops.cases.views import (
    action_label,
    class_label,
    explain,
    load_case,
    photo_url,
    state_label,
    take_action_from_form,
    time_left,
    unit_name,
)
from gridops.config import PROJECT_ROOT
from gridops.db import utcnow
from gridops.errors import DomainError
from gridops.i18n import current_locale
from gridops.tablet.queries import (
    TASK_STATES,
    Task,
    active_classes,
    my_grids_geojson,
    open_tasks,
    recent_class_ids,
    todays_reports,
)
from gridops.tablet.tiles import catalogue_tiles
from gridops.territory.views import current_layer

bp = Blueprint("tablet", __name__, url_prefix="/tablet")

#: The answers a grid worker gives on site, per task kind, in the order they are offered.
TASK_ACTIONS = {"verify": ("verify", "verify_not_found"), "check": ("check_pass", "check_fail")}
#: Static files the service worker keeps for offline use (the app shell's assets).
SHELL_ASSETS = (
    "css/gridops.css",
    "js/gridops.js",
    "js/tablet.js",
    "js/tablet-outbox.js",
    "vendor/leaflet/leaflet.css",
    "vendor/leaflet/leaflet.js",
    "vendor/gcoord/gcoord.global.prod.js",
    "img/favicon.svg",
    "tablet/icon-192.png",
    "tablet/icon-512.png",
)
#: Endpoints any browser may fetch: they hold no personal data (a manifest is fetched without cookies).
PUBLIC_ENDPOINTS = frozenset({"tablet.service_worker", "tablet.manifest"})
TASK_LABELS = {"verify": _l("Verify on site"), "check": _l("Check on site")}
PHOTO_KIND_LABELS = {"near": _l("near view"), "far": _l("far view"), "after": _l("after handling"), "other": _l("other")}


def task_points(tasks: list[Task]) -> list[dict]:
    """The tasks as map markers (positions in the layer's datum)."""
    return [
        {
            "number": task.case.number,
            "x": task.case.layer_x,
            "y": task.case.layer_y,
            "colour": task.colour,
            "label": f"{TASK_LABELS[task.kind]} · {class_label(task.case.small_class)}",
            "url": url_for(".task", number=task.case.number),
        }
        for task in tasks
        if task.case.layer_x is not None
    ]


@bp.context_processor
def tablet_helpers() -> dict:
    """Labels and helpers for the tablet templates."""
    return {
        "task_labels": TASK_LABELS,
        "photo_kinds": PHOTO_KIND_LABELS,
        "urgency_labels": URGENCY_LABELS,
        "class_label": class_label,
        "state_label": state_label,
        "action_label": action_label,
        "time_left": time_left,
        "unit_name": unit_name,
        "photo_url": photo_url,
        "task_points": task_points,
    }


@bp.before_request
def only_grid_workers():
    """Every tablet page is the grid worker's; the installable shell's files are public."""
    if request.endpoint in PUBLIC_ENDPOINTS:
        return None
    if not current_user.is_authenticated:
        if request.endpoint == "tablet.session":
            return jsonify({"error": "not_authenticated", "message": _("Sign in again.")}), 401
        return current_app.login_manager.unauthorized()
    if not can_use_tablet(current_user):
        abort(403)
    return None


def _map_config() -> dict:
    layer = current_layer()
    return {
        "datum": layer.datum if layer else None,
        "tileUrl": current_app.config["GRIDOPS_TILE_URL"],
        "tileAttribution": current_app.config["GRIDOPS_TILE_ATTRIBUTION"],
        "locale": current_locale(),
    }


@bp.route("/")
def home():
    """My grids and position on the map, my on-site tasks by time left, today's reports."""
    now = utcnow()
    return render_template(
        "tablet/home.html",
        tasks=open_tasks(current_user, now),
        reports=todays_reports(current_user, now),
        grids=my_grids_geojson(current_user),
        map_config=_map_config(),
        now=now,
    )


@bp.route("/report")
def report():
    """The one-screen report: position, class, photos, text, urgency, fixed on the spot."""
    classes = active_classes()
    return render_template(
        "tablet/report.html",
        tiles=catalogue_tiles(classes, recent_class_ids(current_user), current_locale()),
        grids=my_grids_geojson(current_user),
        map_config=_map_config(),
    )


@bp.route("/tasks/<number>")
def task(number: str):
    """A case waiting for me on site: what, where, its photos, and my possible answers."""
    case = load_case(number)
    now = utcnow()
    kind = TASK_STATES.get(case.state_enum)
    names = TASK_ACTIONS.get(kind, ())
    actions = [action for action in allowed_actions(case, current_user, now) if action.name in names]
    forms = [(action, ActionForm(formdata=None, expected_version=case.version, prefix=action.name)) for action in actions]
    stage = current_stage(case)
    return render_template(
        "tablet/task.html",
        case=case,
        kind=kind,
        due=stage[1] if stage else None,
        colour=case_colour(case, now),
        now=now,
        photos=[photo for event in case.events for photo in event.photos],
        forms=forms,
        Input=Input,
        grids=my_grids_geojson(current_user),
        map_config=_map_config(),
    )


@bp.route("/tasks/<number>/<action_name>", methods=["POST"])
def answer_task(number: str, action_name: str):
    """Answer an on-site task (verify, not found, check passed, check failed) with photos."""
    case = load_case(number)
    action = action_for(action_name)
    if action is None or action.name not in {name for names in TASK_ACTIONS.values() for name in names}:
        abort(404)
    form = ActionForm(prefix=action.name)
    back = redirect(url_for(".task", number=number), 303)
    if not form.validate():
        for name, errors in form.errors.items():
            flash(_("%(field)s: %(reason)s", field=getattr(form, name).label.text, reason=" ".join(errors)), "error")
        return back
    labels = {name: str(field.label.text) for name, field in form._fields.items()}
    try:
        take_action_from_form(case, action.name, form)
    except DomainError as exc:
        flash(explain(exc, labels), "error")
        return back
    flash(_("Case %(number)s: %(action)s.", number=number, action=action_label(action.name)), "success")
    return redirect(url_for(".home"), 303)


@bp.route("/session")
def session():
    """Who is signed in and a fresh CSRF token: the outbox asks before it sends what it kept."""
    response = jsonify({"username": current_user.username, "csrf_token": generate_csrf()})
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.route("/manifest.webmanifest")
def manifest():
    """The web app manifest: the tablet pages install as an app of their own."""
    data = {
        "name": _("gridops for grid workers"),
        "short_name": _("Grid patrol"),
        "lang": "zh-CN" if current_locale() == "zh" else "en",
        "start_url": url_for(".home"),
        "scope": url_for(".home"),
        "display": "standalone",
        "orientation": "any",
        "background_color": "#eef1f4",
        "theme_color": "#0a3d6b",
        "icons": [
            {"src": url_for("static", filename="tablet/icon-192.png"), "sizes": "192x192", "type": "image/png"},
            {"src": url_for("static", filename="tablet/icon-512.png"), "sizes": "512x512", "type": "image/png"},
            {"src": url_for("static", filename="tablet/icon-512.png"), "sizes": "512x512", "type": "image/png",
             "purpose": "maskable"},
        ],
    }
    response = jsonify(data)
    response.mimetype = "application/manifest+json"
    return response


@cache
def _shell_version(static_folder: str) -> str:
    """A digest of the shell's files: a new deployment installs a new service worker and cache."""
    digest = hashlib.sha256()
    for name in SHELL_ASSETS:
        digest.update((Path(static_folder) / name).read_bytes())
    digest.update((PROJECT_ROOT / "templates" / "tablet" / "sw.js").read_bytes())
    return digest.hexdigest()[:12]


@bp.route("/sw.js")
def service_worker():
    """The service worker (scope /tablet/): keeps the app shell; never keeps API answers."""
    body = render_template(
        "tablet/sw.js",
        version=_shell_version(current_app.static_folder),
        assets=[url_for("static", filename=name) for name in SHELL_ASSETS],
        pages=[url_for(".home"), url_for(".report")],
        scope=url_for(".home"),
        static=url_for("static", filename=""),
    )
    response = Response(body, mimetype="text/javascript")
    response.headers["Cache-Control"] = "no-cache"
    response.headers["Service-Worker-Allowed"] = url_for(".home")
    return response
