"""Sign-up and login on the local default, against a real hub: the messages a person sees."""

from __future__ import annotations

import html

import pytest
import requests

pytestmark = [pytest.mark.hub]

PASSWORD = "correct horse battery"


def test_sign_up_then_log_in_lands_on_the_users_home(shared_hub):
    response = shared_hub.signup("ada", PASSWORD)
    assert response.status_code == 200
    assert "signup was successful" in response.text

    browser, response = shared_hub.login("ada", PASSWORD)
    assert response.status_code == 302
    assert "jupyterhub-session-id" in browser.cookies or "jupyterhub-hub-login" in browser.cookies
    home = browser.get(f"{shared_hub.url}/hub/home", timeout=10)
    assert home.status_code == 200 and "ada" in home.text


def test_usernames_are_lowercased_at_sign_up_and_login(shared_hub):
    assert "signup was successful" in shared_hub.signup("Grace", PASSWORD).text
    _, response = shared_hub.login("grace", PASSWORD)
    assert response.status_code == 302
    _, response = shared_hub.login("GRACE", PASSWORD)
    assert response.status_code == 302


def test_wrong_password_shows_the_login_page_with_an_error_and_no_server(shared_hub):
    shared_hub.signup("linus", PASSWORD)
    browser, response = shared_hub.login("linus", "not the password")
    assert response.status_code == 403
    assert "Invalid username or password" in response.text
    assert browser.get(f"{shared_hub.url}/hub/home", timeout=10, allow_redirects=False).status_code == 302
    assert not shared_hub.home_of("linus").exists()


def test_nobody_can_claim_an_administrators_name_by_signing_up_first(start_hub):
    hub = start_hub(WORKBENCH_ADMIN_USERS="boss")
    squatter = hub.signup("boss", PASSWORD)
    assert "reserved for an administrator" in squatter.text
    _, login = hub.login("boss", PASSWORD)
    assert login.status_code == 403, "no account was made"
    admin = hub.admin_login("boss", "the operator's choice")
    assert admin.get(f"{hub.url}/hub/admin", timeout=10).status_code == 200


def test_failed_logins_lock_the_account_with_a_message_even_for_the_right_password(shared_hub):
    from hub.settings import load

    allowed = load({}).failed_logins_before_lockout
    shared_hub.signup("mallory-target", PASSWORD)
    shared_hub.signup("bystander", PASSWORD)
    for _ in range(allowed):
        _, response = shared_hub.login("mallory-target", "guess guess guess")
        assert response.status_code == 403
    _, response = shared_hub.login("mallory-target", PASSWORD)
    assert response.status_code == 429
    assert "Too many failed logins for mallory-target" in response.text and "Try again later" in response.text
    _, other = shared_hub.login("bystander", PASSWORD)  # nobody else's account is affected
    assert other.status_code == 302


def test_duplicate_sign_up_is_refused_with_a_clear_message(shared_hub):
    shared_hub.signup("margaret", PASSWORD)
    response = shared_hub.signup("margaret", "another long password")
    assert response.status_code == 400
    assert "The username “margaret” is taken" in html.unescape(response.text)
    # the first account's password still works
    _, login = shared_hub.login("margaret", PASSWORD)
    assert login.status_code == 302


@pytest.mark.parametrize(
    "password, confirmation, message",
    [
        ("short", None, "Passwords need at least 8 characters."),
        ("password", None, "most common passwords"),
        ("a long enough one", "a different one!!", "The password and its confirmation differ."),
    ],
)
def test_bad_passwords_are_refused_with_the_reason(shared_hub, password, confirmation, message):
    response = shared_hub.signup("barbara", password, confirmation)
    assert response.status_code == 400
    assert message in html.unescape(response.text)
    _, login = shared_hub.login("barbara", password)
    assert login.status_code == 403


def test_odd_characters_in_a_username_are_refused_and_named(shared_hub):
    response = shared_hub.signup("Zoë O'Brien+test", PASSWORD)
    assert response.status_code == 400
    text = html.unescape(response.text)
    assert "“zoë o'brien+test” contains a space, “'”, “+”, “ë”." in text
    assert "lowercase letters, digits" in text
    _, login = shared_hub.login("Zoë O'Brien+test", PASSWORD)
    assert login.status_code == 403


def test_admin_approval_setting_holds_new_accounts_until_approved(start_hub):
    hub = start_hub(WORKBENCH_OPEN_SIGNUP="false", WORKBENCH_ADMIN_USERS="boss")
    response = hub.signup("newcomer", PASSWORD)
    assert "sent to the admin" in response.text
    _, login = hub.login("newcomer", PASSWORD)
    assert login.status_code == 403

    # the admin (whose account the operator made: sign-up refuses their name) approves at /hub/authorize
    squatter = hub.signup("boss", PASSWORD)
    assert "reserved for an administrator" in squatter.text and "signup was successful" not in squatter.text
    admin = hub.admin_login("boss", PASSWORD)
    area = admin.get(f"{hub.url}/hub/authorize", timeout=10)
    assert "newcomer" in area.text
    assert admin.get(f"{hub.url}/hub/authorize/newcomer", timeout=10).status_code == 200
    _, login = hub.login("newcomer", PASSWORD)
    assert login.status_code == 302


def test_many_sign_ups_at_once_do_not_stall_the_hub(shared_hub):
    """Password hashing (bcrypt, ~0.25 s each) runs in worker threads: the hub keeps answering meanwhile."""
    import threading
    import time


    results: list[int] = []
    workers = [
        threading.Thread(target=lambda n=n: results.append(shared_hub.signup(f"crowd{n}", PASSWORD).status_code))
        for n in range(12)
    ]
    for worker in workers:
        worker.start()
    slowest = 0.0
    while any(worker.is_alive() for worker in workers):
        began = time.monotonic()
        requests.get(f"{shared_hub.url}/hub/health", timeout=30)
        slowest = max(slowest, time.monotonic() - began)
    for worker in workers:
        worker.join()
    assert results == [200] * 12
    assert slowest < 1.5, f"the hub stalled for {slowest:.2f} s while people signed up"
