"""`gridops users …` and `gridops tokens …`: the administrator's commands for people and API access."""

from __future__ import annotations

from datetime import timedelta
from typing import NoReturn

import click
from flask.cli import AppGroup
from sqlalchemy import select

from gridops.auth.models import User
from gridops.auth.roles import ROLE_VALUES
from gridops.auth.services import activate_user, create_user, deactivate_user, find_user, set_password
from gridops.auth.tokens import issue_token, list_tokens, revoke_token
from gridops.db import utcnow
from gridops.errors import DomainError
from gridops.extensions import db

users_cli = AppGroup("users", help="Manage users.")
tokens_cli = AppGroup("tokens", help="Manage API bearer tokens.")

#: How service field names are spelled on the command line.
OPTION_NAMES = {
    "username": "USERNAME",
    "password": "--password",
    "role": "--role",
    "full_name": "--name",
    "area": "--area",
    "department": "--department",
    "locale": "--locale",
    "name": "--name",
    "expires_at": "--expires-in-days",
    "user": "USERNAME",
}


def _fail(exc: DomainError) -> NoReturn:
    """Undo everything and exit non-zero, naming each bad field as the command line spells it."""
    db.session.rollback()
    details = "".join(
        f"\n  {OPTION_NAMES.get(field, field)}: {reason}" for field, reason in exc.fields.items()
    )
    raise click.ClickException(exc.message + details)


def _when(value) -> str:
    return value.strftime("%Y-%m-%d %H:%M UTC") if value else "-"


@users_cli.command("create")
@click.argument("username")
@click.option("--role", required=True, type=click.Choice(ROLE_VALUES), help="The user's role.")
@click.option("--name", "full_name", required=True, help="Full name shown in the app.")
@click.option("--area", "area_code", help="Area code the user is scoped to (default: whole city).")
@click.option("--department", "department_code", help="Department code (handling unit staff).")
@click.option("--locale", type=click.Choice(["zh", "en"]), help="Interface language.")
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
    """List users with role, area scope, department and state."""
    for user in db.session.scalars(select(User).order_by(User.username)):
        scope = user.area.code if user.area else "city"
        department = user.department.code if user.department else "-"
        state = "active" if user.active else "inactive"
        click.echo(
            f"{user.username:<20} {user.role:<17} {scope:<16} {department:<10} {state:<8} {user.full_name}"
        )


@users_cli.command("set-password")
@click.argument("username")
@click.password_option(help="New password (asked for when not given).")
def set_password_command(username, password):
    """Give USERNAME a new password; their open sessions end."""
    try:
        set_password(find_user(username), password)
    except DomainError as exc:
        _fail(exc)
    db.session.commit()
    click.echo(f"password of {username} changed")


@users_cli.command("deactivate")
@click.argument("username")
def deactivate_user_command(username):
    """Stop USERNAME from signing in or using API tokens (the account and its history stay)."""
    try:
        deactivate_user(find_user(username))
    except DomainError as exc:
        _fail(exc)
    db.session.commit()
    click.echo(f"{username} deactivated")


@users_cli.command("activate")
@click.argument("username")
def activate_user_command(username):
    """Let a deactivated USERNAME sign in again."""
    try:
        activate_user(find_user(username))
    except DomainError as exc:
        _fail(exc)
    db.session.commit()
    click.echo(f"{username} activated")


@tokens_cli.command("create")
@click.argument("username")
@click.option("--name", required=True, help="What the token is for, e.g. 'tablet 07'.")
@click.option(
    "--expires-in-days", type=click.IntRange(min=1), help="Let the token expire after this many days."
)
def create_token_command(username, name, expires_in_days):
    """Issue an API token for USERNAME; the secret is printed once."""
    try:
        user = find_user(username)
        expires_at = utcnow() + timedelta(days=expires_in_days) if expires_in_days else None
        token, secret = issue_token(user, name, expires_at)
    except DomainError as exc:
        _fail(exc)
    db.session.commit()
    click.echo(f"token {token.id} for {user.username} ({token.name}), expires {_when(token.expires_at)}")
    click.echo(secret)
    click.echo("Store it now: it is not shown again.", err=True)


@tokens_cli.command("list")
@click.option("--user", "username", help="Only this user's tokens.")
def list_tokens_command(username):
    """List API tokens with their state and last use (never their secrets)."""
    try:
        tokens = list_tokens(find_user(username) if username else None)
    except DomainError as exc:
        _fail(exc)
    now = utcnow()
    for token in tokens:
        click.echo(
            f"{token.id:>5} {token.prefix}… {token.user.username:<20} {token.name:<24} "
            f"{token.state(now):<8} last used {_when(token.last_used_at)}, "
            f"expires {_when(token.expires_at)}"
        )


@tokens_cli.command("revoke")
@click.argument("token_id", type=int)
def revoke_token_command(token_id):
    """Revoke an API token by id; it stops working at once."""
    try:
        revoke_token(token_id)
    except DomainError as exc:
        _fail(exc)
    db.session.commit()
    click.echo(f"token {token_id} revoked")
