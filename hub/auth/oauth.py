"""Production login: OAuth through oauthenticator, GitHub or any OpenID Connect provider, from settings.

May import :mod:`hub.settings` only.
"""

from __future__ import annotations

from hub.settings import SettingsError, WorkbenchSettings


def configure_oauth(c, settings: WorkbenchSettings) -> None:
    """Point JupyterHub's config ``c`` at the OAuth provider the settings name."""
    if not settings.oauth_client_id or not settings.oauth_client_secret:
        raise SettingsError(
            f"WORKBENCH_AUTH={settings.auth} needs WORKBENCH_OAUTH_CLIENT_ID and WORKBENCH_OAUTH_CLIENT_SECRET"
        )
    if settings.auth == "github":
        c.JupyterHub.authenticator_class = "oauthenticator.github.GitHubOAuthenticator"
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
        c.JupyterHub.authenticator_class = "oauthenticator.generic.GenericOAuthenticator"
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
