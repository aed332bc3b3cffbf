"""`gridops users …` and `gridops tokens …`."""

from __future__ import annotations

import click
from flask.cli import AppGroup
from sqlalchemy import select

from gridops.auth.models import ApiToken, User
from gridops.auth.roles import ROLE_VALUES
from gridops.auth.services import create_user
from gridops.auth.tokens import issue_token, revoke_token
from gridops.errors import DomainError
from gridops.extensions import db

users_cli = AppGroup("users", help="Manage users.")
tokens_cli = AppGroup("tokens", help="Manage API bearer tokens.")


def _fail(exc: DomainError) -> None:
    db.session.rollback()
    details = "".join(f"\n  {field}: {reason}" for field, reason in exc.fields.items())
    raise click.ClickException(exc.message + details)


@users_cli.command("create")
@click.argument("username")
@click.option("--role", required=True, type=click.Choice(ROLE_VALUES))
@click.option("--name", "full_name", required=True, help="Full name shown in the app.")
@click.option("--area", "area_code", help="Area code the user is scoped to (default: whole city).")
@click.option("--department", "department_code", help="Department code (handling unit staff).")
@click.option("--locale", type=click.Choice(["zh", "en"]))
@click.password_option(help="Password (asked for when not given).")
def create_user_command(username, role, full_name, area_code, department_code, locale, password):
    """Create a user."""
    try:
        user = create_user(username, password, role, full_name, area_code, department_code, locale)
    except DomainError as exc:
        _fail(exc)
    db.session.commit()
    click.echo(f"created user {user.username} ({user.role})")


@users_cli.command("list")
def list_users_command():
    """List users."""
    for user in db.session.scalars(select(User).order_by(User.username)):
        scope = user.area.code if user.area else "city"
        state = "" if user.active else " (inactive)"
        click.echo(f"{user.username:<20} {user.role:<18} {scope:<16} {user.full_name}{state}")


@tokens_cli.command("create")
@click.argument("username")
@click.option("--name", required=True, help="What the token is for, e.g. 'tablet 07'.")
def create_token_command(username, name):
    """Issue an API token for USERNAME; the secret is printed once."""
    user = db.session.scalar(select(User).where(User.username == username))
    if user is None:
        raise click.ClickException(f"no user named {username}")
    try:
        token, secret = issue_token(user, name)
    except DomainError as exc:
        _fail(exc)
    db.session.commit()
    click.echo(f"token {token.id} for {user.username}: {secret}")
    click.echo("Store it now: it is not shown again.")


@tokens_cli.command("list")
def list_tokens_command():
    """List API tokens (never their secrets)."""
    for token in db.session.scalars(select(ApiToken).order_by(ApiToken.id)):
        state = "revoked" if token.revoked_at else "active"
        click.echo(f"{token.id:>5} {token.prefix}… {token.user.username:<20} {token.name:<24} {state}")


@tokens_cli.command("revoke")
@click.argument("token_id", type=int)
def revoke_token_command(token_id):
    """Revoke an API token by id."""
    try:
        revoke_token(token_id)
    except DomainError as exc:
        _fail(exc)
    db.session.commit()
    click.echo(f"token {token_id} revoked")
