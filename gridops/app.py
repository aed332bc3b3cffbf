"""The application factory."""

from __future__ import annotations

import os
from pathlib import Path

from flask import Flask
from werkzeug.middleware.proxy_fix import ProxyFix

from gridops.config import PROJECT_ROOT, check_config, load_config


def create_app(config: dict | None = None) -> Flask:
    """Create a gridops app; ``config`` overrides what the environment says."""
    app = Flask(
        "gridops",
        instance_path=os.environ.get("GRIDOPS_INSTANCE_PATH") or str(PROJECT_ROOT / "instance"),
        template_folder=str(PROJECT_ROOT / "templates"),
        static_folder=str(PROJECT_ROOT / "static"),
    )
    app.config.update(load_config(instance_path=app.instance_path))
    if config:
        app.config.update(config)
    check_config(app.config)
    Path(app.instance_path).mkdir(parents=True, exist_ok=True)
    if hops := app.config.get("GRIDOPS_PROXY_HOPS"):
        # Behind nginx the client's address (sign-in throttling) and scheme come from headers.
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops)

    register_extensions(app)
    register_blueprints(app)
    register_error_handlers(app)
    register_template_helpers(app)
    register_commands(app)
    return app


def register_extensions(app: Flask) -> None:
    from gridops import models  # noqa: F401  (complete metadata before anything binds)
    from gridops import versions  # noqa: F401  (its flush listener keeps the cache tokens true)
    from gridops.auth.sessions import init_login
    from gridops.extensions import babel, csrf, db, limiter, migrate
    from gridops.i18n import select_locale

    db.init_app(app)
    migrate.init_app(app, db, directory=str(PROJECT_ROOT / "migrations"))
    csrf.init_app(app)
    babel.init_app(
        app,
        locale_selector=select_locale,
        default_translation_directories=str(PROJECT_ROOT / "gridops" / "translations"),
    )
    limiter.init_app(app)
    init_login(app)


def register_blueprints(app: Flask) -> None:
    from gridops.db import RowIdConverter

    app.url_map.converters["id"] = RowIdConverter
    from gridops.api import bp as api_bp
    from gridops.auth.views import bp as auth_bp
    from gridops.cases.views import bp as cases_bp
    from gridops.territory.views import bp as territory_bp
    from gridops.web.views import bp as web_bp

    from gridops.admin.views import bp as admin_bp
    from gridops.evaluation.views import bp as evaluation_bp
    from gridops.hotline.views import bp as hotline_bp
    from gridops.open311.views import bp as open311_bp
    from gridops.supervision.views import bp as supervision_bp
    from gridops.tablet.views import bp as tablet_bp
    from gridops.workspaces.views import bp as workspaces_bp

    app.register_blueprint(web_bp)
    app.register_blueprint(auth_bp)
    app.register_blueprint(territory_bp)
    app.register_blueprint(cases_bp)
    app.register_blueprint(api_bp)
    for blueprint in (
        admin_bp,
        evaluation_bp,
        hotline_bp,
        open311_bp,
        supervision_bp,
        tablet_bp,
        workspaces_bp,
    ):
        app.register_blueprint(blueprint)


def register_error_handlers(app: Flask) -> None:
    from gridops.errors import register_error_handlers as register

    register(app)


def register_template_helpers(app: Flask) -> None:
    from gridops.web.templating import init_templating

    init_templating(app)


def register_commands(app: Flask) -> None:
    from gridops.cli import register_cli

    register_cli(app)
