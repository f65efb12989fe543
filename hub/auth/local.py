"""Logging in: local accounts with a sign-up page by default, OAuth (GitHub or generic OIDC) in production.

Local accounts are NativeAuthenticator's (bcrypt-hashed passwords in the hub database, a sign-up page at
/hub/signup, optional admin approval at /hub/authorize). What we add is the username policy and sign-up
messages that say exactly what is wrong instead of NativeAuthenticator's one generic "Something went wrong".

Username policy. A local username becomes a URL path, a folder name and, through ``spawner/names.py``, part of
AWS and PostgreSQL names. Sign-up therefore accepts only names that are already safe and readable there:
lowercase letters, digits, ``.``, ``_`` and ``-``, starting with a letter or digit, at most 64 characters
(JupyterHub lowercases what people type, so ``Alice`` signs up as ``alice``). Anything else is refused with a
message naming the characters at fault. Names that come from an OAuth provider are not ours to refuse: they are
accepted as the provider spells them and ``spawner/names.py`` maps them to valid, injective resource names.
"""

from __future__ import annotations

import asyncio
import re

import bcrypt
from nativeauthenticator import NativeAuthenticator
from nativeauthenticator.handlers import SignUpHandler
from nativeauthenticator.orm import UserInfo
from tornado import web
from traitlets import Unicode

USERNAME_RULE = (
    "lowercase letters, digits, '.', '_' and '-', starting with a letter or digit, at most 64 characters"
)
USERNAME_PATTERN = r"^[a-z0-9][a-z0-9._-]{0,63}$"
_ALLOWED_CHARACTER = re.compile(r"[a-z0-9._-]")


def username_problem(username: str, pattern: str = USERNAME_PATTERN) -> str | None:
    """Why ``username`` (already normalised) cannot be a local account name, or None when it can."""
    if re.fullmatch(pattern, username):
        return None
    if not username:
        return "Choose a username."
    if pattern == USERNAME_PATTERN:
        odd = sorted({c for c in username if not _ALLOWED_CHARACTER.fullmatch(c)})
        if odd:
            shown = ", ".join("a space" if c == " " else f"“{c}”" for c in odd)
            return f"The username “{username}” contains {shown}. Usernames may use {USERNAME_RULE}."
        if len(username) > 64:
            return f"The username has {len(username)} characters. Usernames may use {USERNAME_RULE}."
        return f"The username “{username}” must start with a letter or digit. Usernames may use {USERNAME_RULE}."
    return f"The username “{username}” does not match the pattern {pattern} this hub requires."


class WorkbenchSignUpHandler(SignUpHandler):
    """NativeAuthenticator's sign-up page: a refused sign-up gets the precise reason, and the password is
    hashed off the hub's event loop."""

    async def post(self):
        if not self.authenticator.enable_signup:
            return await super().post()
        username = self.authenticator.normalize_username(self.get_body_argument("username", "", strip=False))
        password = self.get_body_argument("signup_password", "", strip=False)
        confirmation = self.get_body_argument("signup_password_confirmation", "", strip=False)
        problem = self.authenticator.signup_problem(username, password, confirmation)
        if problem is not None:
            return await self._answer(problem, "alert-danger", 400)
        user = await self.authenticator.create_local_account(username, password)
        alert, message = self.get_result_message(user, True, False, True, username in self.authenticator.admin_users)
        await self._answer(message, alert, 200 if user else 400)

    async def _answer(self, message: str, alert: str, status: int) -> None:
        self.set_status(status)
        html = await self.render_template(
            "signup.html",
            ask_email=self.authenticator.ask_email_on_signup,
            result_message=message,
            alert=alert,
            two_factor_auth=self.authenticator.allow_2fa,
            two_factor_auth_user=False,
            two_factor_auth_value="",
            recaptcha_key=self.authenticator.recaptcha_key,
            tos=self.authenticator.tos,
        )
        self.finish(html)


class WorkbenchAuthenticator(NativeAuthenticator):
    """Local accounts with a sign-up page, the workbench's username policy and precise sign-up messages."""

    username_pattern = Unicode(
        USERNAME_PATTERN,
        config=True,
        help=f"""Regular expression every local username must match. The default allows {USERNAME_RULE},
        which keeps names safe and readable in URLs, folders, AWS and PostgreSQL names.""",
    )

    def signup_problem(self, username: str, password: str, confirmation: str) -> str | None:
        """The first reason this sign-up cannot succeed, worded for the person signing up; None when it can."""
        problem = username_problem(username, self.username_pattern)
        if problem:
            return problem
        if username in self.admin_users:
            # Otherwise whoever signs up first under an admin's name becomes an admin.
            return (f"The username “{username}” is reserved for an administrator of this hub; its account is made "
                    "by the hub's operator (`workbench password NAME`).")
        if self.user_exists(username):
            return f"The username “{username}” is taken. Choose another one, or log in if it is yours."
        if len(password) < self.minimum_password_length:
            return f"Passwords need at least {self.minimum_password_length} characters."
        if self.check_common_password and self.is_password_common(password):
            return "That password is on the list of the most common passwords. Choose another one."
        if password != confirmation:
            return "The password and its confirmation differ. Type the same password twice."
        return None

    async def create_local_account(self, username: str, password: str) -> UserInfo | None:
        """NativeAuthenticator's create_user, with bcrypt's ~0.25 s of hashing in a worker thread, not on the
        hub's event loop (twenty people signing up at once would otherwise stall every other request)."""
        if self.signup_problem(username, password, password) is not None:
            return None
        hashed = await asyncio.to_thread(bcrypt.hashpw, password.encode(), bcrypt.gensalt())
        if self.user_exists(username):  # someone took the name while we hashed
            return None
        authorized = self.open_signup or username in self.get_authed_users()
        user = UserInfo(username=username, password=hashed, is_authorized=authorized)
        self.db.add(user)
        self.db.commit()
        return user

    async def authenticate(self, handler, data):
        """NativeAuthenticator's login check with the bcrypt comparison in a worker thread, and a page that says
        when an account is locked after too many failed logins (NativeAuthenticator only refuses silently)."""
        username = self.normalize_username(data["username"])
        user = self.get_user(username)
        if not user:
            return None
        if self.allowed_failed_logins and self.is_blocked(username):
            minutes = max(1, round(self.seconds_before_next_try / 60))
            raise web.HTTPError(
                429, f"Too many failed logins for {username}: logging in is locked for {minutes} minute"
                f"{'s' if minutes > 1 else ''} after the last failed attempt. Try again later."
            )
        password_ok = await asyncio.to_thread(user.is_valid_password, data["password"])
        checks = [user.is_authorized, password_ok]
        if user.has_2fa:
            checks.append(user.is_valid_token(data.get("2fa")))
        if all(checks):
            self.successful_login(username)
            return username
        self.add_login_attempt(username)
        return None

    def validate_username(self, username: str) -> bool:
        return username_problem(username, self.username_pattern) is None and super().validate_username(username)

    def get_handlers(self, app):
        # JupyterHub's own /login page is kept: NativeAuthenticator 1.3's login handler fails on JupyterHub 6
        # (it uses the removed `statsd`); hub/templates/login.html adds the sign-up link to it instead.
        return [
            (path, WorkbenchSignUpHandler if handler is SignUpHandler else handler)
            for path, handler in super().get_handlers(app)
            if path != r"/login"
        ]


def account_problem(username: str, password: str, minimum_length: int = 8) -> str | None:
    """Why an operator cannot make this local account, or None."""
    if len(password) < minimum_length:
        return f"Passwords need at least {minimum_length} characters."
    return username_problem(username)


def set_local_password(db_url: str, username: str, password: str, *, minimum_length: int = 8) -> bool:
    """Create or reset the local account ``username`` (approved) in the hub database at ``db_url``, as the
    operator does for administrators, whose names sign-up refuses. True when the account was made."""
    import sqlalchemy
    from nativeauthenticator.orm import UserInfo
    from sqlalchemy.orm import Session

    problem = account_problem(username, password, minimum_length)
    if problem:
        raise ValueError(problem)
    hashed = bcrypt.hashpw(password.encode(), bcrypt.gensalt())
    engine = sqlalchemy.create_engine(db_url)
    try:
        # A hub database without JupyterHub's tables yet is taken as new by JupyterHub, which then adds its own.
        UserInfo.__table__.create(engine, checkfirst=True)
        with Session(engine) as session, session.begin():
            account = session.query(UserInfo).filter_by(username=username).one_or_none()
            if account is None:
                session.add(UserInfo(username=username, password=hashed, is_authorized=True))
                return True
            account.password, account.is_authorized = hashed, True
            return False
    finally:
        engine.dispose()
