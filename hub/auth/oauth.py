"""Production login: OAuth through oauthenticator, GitHub or any OpenID Connect provider, from settings.

A provider's display name can change hands: someone renames their GitHub login, someone else takes it. So a hub
name is pinned, at its first login, to the provider's stable id for that account (GitHub's numeric ``id``, OIDC's
``sub``), and a later login under that name by another provider account is refused (:class:`PinnedIdentity`).

May import :mod:`hub.settings`, oauthenticator, jupyterhub and tornado.
"""

from __future__ import annotations

import asyncio
import json
import os
import tempfile
import threading
from pathlib import Path

from oauthenticator.generic import GenericOAuthenticator
from oauthenticator.github import GitHubOAuthenticator
from oauthenticator.oauth2 import OAuthenticator
from tornado.web import HTTPError
from traitlets import Unicode, default

from hub.settings import SettingsError, WorkbenchSettings

_pinning = threading.Lock()


def pin_identity(identities: Path, name: str, identity: str) -> bool:
    """Record that ``name`` belongs to the provider account ``identity``; False when it belongs to another.
    Kept in a hub-only file (0600), replaced whole, never through a link."""
    with _pinning:
        try:
            known = json.loads(identities.read_text()) if identities.exists() else {}
        except (OSError, ValueError):
            known = {}
        pinned = known.get(name)
        if pinned is not None:
            return pinned == identity
        known[name] = identity
        identities.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        handle, draft = tempfile.mkstemp(dir=identities.parent, prefix=f".{identities.name}.")
        with os.fdopen(handle, "w") as stream:
            json.dump(known, stream, indent=1, sort_keys=True)
        os.replace(draft, identities)
        return True


class PinnedIdentity(OAuthenticator):
    """For an OAuthenticator: each hub name stays with the provider account that first logged in with it."""

    identity_claim = Unicode(
        help="The user-info field that identifies a provider account for good (never reassigned)."
    ).tag(config=True)
    identities_file = Unicode(
        help="The hub's own file (0600) of which provider account each hub name belongs to."
    ).tag(config=True)

    async def authenticate(self, handler, data=None, **kwargs):
        user = await super().authenticate(handler, data, **kwargs)
        if not user:
            return user
        info = (user.get("auth_state") or {}).get(self.user_auth_state_key) or {}
        identity = info.get(self.identity_claim)
        if identity in (None, ""):
            self.log.warning("Refused %s: the provider gave no %r for the account", user["name"], self.identity_claim)
            raise HTTPError(403, f"The sign-in provider did not say who this account is ({self.identity_claim}).")
        if not await asyncio.to_thread(pin_identity, Path(self.identities_file), user["name"], str(identity)):
            self.log.warning("Refused %s: the name belongs to another account at the provider", user["name"])
            raise HTTPError(403, f"The name {user['name']} already belongs to another account at "
                                 f"{self.login_service}. Ask an administrator.")
        return user


class WorkbenchGitHubOAuthenticator(PinnedIdentity, GitHubOAuthenticator):
    """GitHub login; a hub name stays with the GitHub account (numeric id) that first used it."""

    @default("identity_claim")
    def _github_account_id(self):
        return "id"


class WorkbenchGenericOAuthenticator(PinnedIdentity, GenericOAuthenticator):
    """OpenID Connect login; a hub name stays with the account (``sub``) that first used it."""

    @default("identity_claim")
    def _oidc_subject(self):
        return "sub"


def configure_oauth(c, settings: WorkbenchSettings) -> None:
    """Point JupyterHub's config ``c`` at the OAuth provider the settings name."""
    if not settings.oauth_client_id or not settings.oauth_client_secret:
        raise SettingsError(
            f"WORKBENCH_AUTH={settings.auth} needs WORKBENCH_OAUTH_CLIENT_ID and WORKBENCH_OAUTH_CLIENT_SECRET"
        )
    if settings.auth == "github":
        c.JupyterHub.authenticator_class = "hub.auth.oauth.WorkbenchGitHubOAuthenticator"
        c.GitHubOAuthenticator.github_url = settings.github_url
        c.GitHubOAuthenticator.allowed_organizations = set(settings.github_allowed_organizations)
    else:
        missing = [
            variable
            for variable, value in (
                ("WORKBENCH_OIDC_AUTHORIZE_URL", settings.oidc_authorize_url),
                ("WORKBENCH_OIDC_TOKEN_URL", settings.oidc_token_url),
                ("WORKBENCH_OIDC_USERDATA_URL", settings.oidc_userdata_url),
            )
            if not value
        ]
        if missing:
            raise SettingsError("WORKBENCH_AUTH=oidc needs " + ", ".join(missing))
        c.JupyterHub.authenticator_class = "hub.auth.oauth.WorkbenchGenericOAuthenticator"
        c.GenericOAuthenticator.login_service = "your organisation's sign-in"
        c.GenericOAuthenticator.authorize_url = settings.oidc_authorize_url
        c.GenericOAuthenticator.token_url = settings.oidc_token_url
        c.GenericOAuthenticator.userdata_url = settings.oidc_userdata_url
        c.GenericOAuthenticator.scope = sorted(set(settings.oidc_scopes))
        c.GenericOAuthenticator.username_claim = settings.oidc_username_claim
        groups = set(settings.oidc_allowed_groups)
        admin_groups = set(settings.oidc_admin_groups)
        if groups or admin_groups:
            c.GenericOAuthenticator.manage_groups = True
            c.GenericOAuthenticator.auth_state_groups_key = f"oauth_user.{settings.oidc_groups_claim}"
            c.GenericOAuthenticator.allowed_groups = groups
            c.GenericOAuthenticator.admin_groups = admin_groups
    c.OAuthenticator.client_id = settings.oauth_client_id
    c.OAuthenticator.client_secret = settings.oauth_client_secret
    c.OAuthenticator.oauth_callback_url = settings.effective_oauth_callback_url
    c.OAuthenticator.allowed_users = set(settings.oauth_allowed_users)
    c.OAuthenticator.allow_all = settings.oauth_allow_all
    c.PinnedIdentity.identities_file = str(settings.state_path / "oauth-identities.json")
    if settings.oauth_identity_claim:
        c.PinnedIdentity.identity_claim = settings.oauth_identity_claim
