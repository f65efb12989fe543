"""OAuth login end to end against a fake provider: authorize -> token -> userinfo -> callback -> logged in."""

from __future__ import annotations

import pytest
import requests

from hub.auth.oauth import configure_oauth
from hub.settings import SettingsError, load
from tests.hub.fake_oauth import FakeOAuthProvider

pytestmark = [pytest.mark.hub]


@pytest.fixture
def provider():
    provider = FakeOAuthProvider()
    yield provider
    provider.stop()


def oauth_settings(provider: FakeOAuthProvider, **more: str) -> dict[str, str]:
    return {
        "WORKBENCH_OAUTH_CLIENT_ID": provider.CLIENT_ID,
        "WORKBENCH_OAUTH_CLIENT_SECRET": provider.CLIENT_SECRET,
        **more,
    }


def log_in_through_provider(hub):
    """What a browser does after clicking 'Sign in with ...': follow the redirects, keep the cookies."""
    browser = requests.Session()
    response = browser.get(f"{hub.url}/hub/oauth_login?next=/hub/home", timeout=30)
    return browser, response


def test_oidc_login_with_allowed_group_and_refusal_of_others(start_hub, provider):
    hub = start_hub(
        WORKBENCH_AUTH="oidc",
        **oauth_settings(
            provider,
            WORKBENCH_OIDC_AUTHORIZE_URL=f"{provider.url}/authorize",
            WORKBENCH_OIDC_TOKEN_URL=f"{provider.url}/token",
            WORKBENCH_OIDC_USERDATA_URL=f"{provider.url}/userinfo",
            WORKBENCH_OIDC_ALLOWED_GROUPS="profilers",
            WORKBENCH_OIDC_ADMIN_GROUPS="platform",
        ),
    )
    login_page = requests.get(f"{hub.url}/hub/login", timeout=10).text
    assert "oauth_login" in login_page

    provider.person = {"preferred_username": "Zoë.OBrien", "sub": "u-1", "groups": ["profilers"]}
    browser, response = log_in_through_provider(hub)
    assert response.status_code == 200 and response.url.endswith("/hub/home"), (response.status_code, response.url)
    me = hub.hub_api(browser, "GET", "/user").json()
    assert me["name"] == "zoë.obrien" and me["admin"] is False
    assert provider.requests[:3] == ["GET /authorize", "POST /token", "GET /userinfo"]

    provider.person = {"preferred_username": "mallory", "sub": "u-2", "groups": ["visitors"]}
    browser, response = log_in_through_provider(hub)
    assert response.status_code == 403
    assert hub.hub_api(browser, "GET", "/user").status_code in (401, 403)

    provider.person = {"preferred_username": "root-admin", "sub": "u-3", "groups": ["platform"]}
    browser, response = log_in_through_provider(hub)
    assert response.status_code == 200
    assert hub.hub_api(browser, "GET", "/user").json()["admin"] is True


def test_github_login_with_allowed_users(start_hub, provider):
    hub = start_hub(
        WORKBENCH_AUTH="github",
        **oauth_settings(provider, WORKBENCH_GITHUB_URL=provider.url, WORKBENCH_OAUTH_ALLOWED_USERS="octocat"),
    )
    provider.person = {"login": "octocat", "id": 1, "email": None}
    browser, response = log_in_through_provider(hub)
    assert response.status_code == 200, response.text[:300]
    assert hub.hub_api(browser, "GET", "/user").json()["name"] == "octocat"
    assert "GET /login/oauth/authorize" in provider.requests and "GET /api/v3/user" in provider.requests

    provider.person = {"login": "stranger", "id": 2, "email": None}
    _, response = log_in_through_provider(hub)
    assert response.status_code == 403


def test_a_provider_name_that_changed_hands_does_not_take_over_the_hub_account(start_hub, provider):
    """octocat renames their GitHub login; someone else takes "octocat": the hub name stays with the first."""
    hub = start_hub(WORKBENCH_AUTH="github", **oauth_settings(provider, WORKBENCH_GITHUB_URL=provider.url,
                                                               WORKBENCH_OAUTH_ALLOW_ALL="true"))
    provider.person = {"login": "octocat", "id": 1, "email": None}
    browser, response = log_in_through_provider(hub)
    assert response.status_code == 200 and hub.hub_api(browser, "GET", "/user").json()["name"] == "octocat"

    provider.person = {"login": "octocat", "id": 666, "email": None}  # another GitHub account, same login now
    impostor, response = log_in_through_provider(hub)
    assert response.status_code == 403 and "already belongs to another account" in response.text
    assert hub.hub_api(impostor, "GET", "/user").status_code in (401, 403)

    provider.person = {"login": "octocat", "id": 1, "email": None}  # the first account still gets in
    _, response = log_in_through_provider(hub)
    assert response.status_code == 200
    assert oct((hub.state_dir / "oauth-identities.json").stat().st_mode & 0o777) == "0o600"


def test_oauth_settings_that_cannot_work_are_named():
    with pytest.raises(SettingsError, match="WORKBENCH_OAUTH_CLIENT_ID and WORKBENCH_OAUTH_CLIENT_SECRET"):
        configure_oauth(object(), load({"WORKBENCH_AUTH": "oidc"}))
    with pytest.raises(SettingsError, match="WORKBENCH_OIDC_AUTHORIZE_URL, WORKBENCH_OIDC_TOKEN_URL"):
        configure_oauth(
            object(),
            load({"WORKBENCH_AUTH": "oidc", "WORKBENCH_OAUTH_CLIENT_ID": "x", "WORKBENCH_OAUTH_CLIENT_SECRET": "y"}),
        )
