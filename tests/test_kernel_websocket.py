"""Users' servers send kernel messages to the browser at once (benchmarks/json_viewer.py measures the effect), and
published servers end the kernel connections of whoever lost access (tests/security/test_access_ends.py shows it on
a real hub)."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from jupyter_server.services.kernels.connection.channels import ZMQChannelsWebsocketConnection
from tornado.web import HTTPError
from traitlets.config.loader import PyFileConfigLoader

from testing.support import REPO_ROOT
from user_server.kernel_websocket import ACCESS_ENDED, AccessWatch, PromptKernelWebsocketConnection


class RecordingHandler:
    def __init__(self):
        self.calls = []

    def set_nodelay(self, value):
        self.calls.append(("set_nodelay", value))


def test_the_connection_turns_nagle_off_before_the_kernel_connects(monkeypatch):
    handler = RecordingHandler()
    monkeypatch.setattr(ZMQChannelsWebsocketConnection, "connect", lambda self: handler.calls.append(("connect",)))
    connection = PromptKernelWebsocketConnection.__new__(PromptKernelWebsocketConnection)
    monkeypatch.setattr(PromptKernelWebsocketConnection, "websocket_handler", handler, raising=False)
    connection.connect()
    assert handler.calls == [("set_nodelay", True), ("connect",)]


def test_users_servers_are_configured_with_it():
    folder = REPO_ROOT / "user_server" / "jupyter_config"
    config = PyFileConfigLoader("jupyter_server_config.py", path=str(folder)).load_config()
    assert config.ServerApp.kernel_websocket_connection_class == (
        f"{PromptKernelWebsocketConnection.__module__}.{PromptKernelWebsocketConnection.__name__}"
    )


# --- AccessWatch: open kernel websockets end when their person loses access -------------------------------------
class FakeHubAuth:
    """HubOAuth as the watch uses it: a token per person, the hub's answers set by the test."""

    access_scopes = {"access:servers!server=alice/dash-x"}

    def __init__(self):
        self.granted: dict[str, bool] = {}  # token -> may use the server
        self.failing = False
        self.asked: list[str] = []

    def get_token(self, handler):
        return handler.token

    async def _answer(self, token):
        self.asked.append(token)
        if self.failing:
            raise HTTPError(502, "Failed to check authorization (upstream problem)")
        if token not in self.granted:
            return None  # the hub refuses an unknown token
        scopes = list(self.access_scopes) if self.granted[token] else ["read:users:name"]
        return {"name": token.split("-")[0], "scopes": scopes}

    def user_for_token(self, token, use_cache=True, sync=True):
        assert use_cache is False and sync is False, "the watch must ask the hub, not the cache, without blocking"
        return self._answer(token)

    def check_scopes(self, required, model):
        return set(required) & set(model["scopes"])


class FakeKernels:
    def __init__(self, *kernel_ids):
        self.running = set(kernel_ids)

    def __contains__(self, kernel_id):
        return kernel_id in self.running

    async def shutdown_kernel(self, kernel_id):
        self.running.remove(kernel_id)


class FakeHandler:
    def __init__(self, name, token):
        self.current_user = SimpleNamespace(username=name)
        self.token = token
        self.closed = None

    def close(self, code=None, reason=None):
        self.closed = code


def connection(name, token, kernel_id):
    made = PromptKernelWebsocketConnection.__new__(PromptKernelWebsocketConnection)
    made.__dict__["websocket_handler"] = FakeHandler(name, token)
    made.__dict__["kernel_id"] = kernel_id
    return made


@pytest.fixture
def watched(monkeypatch):
    # plain attributes instead of jupyter_server's traits and properties, for connections made without a kernel
    monkeypatch.setattr(PromptKernelWebsocketConnection, "websocket_handler", None, raising=False)
    monkeypatch.setattr(PromptKernelWebsocketConnection, "kernel_id", None, raising=False)
    auth, kernels = FakeHubAuth(), FakeKernels("k-bob", "k-bob-2", "k-carol", "k-shared")
    return auth, kernels, AccessWatch(auth, kernels, period=10)


async def test_a_revoked_persons_connections_close_and_their_kernels_shut_down(watched):
    auth, kernels, watch = watched
    auth.granted = {"bob-token": True, "carol-token": True}
    bob, bob_again, carol = (connection("bob", "bob-token", "k-bob"), connection("bob", "bob-token", "k-bob-2"),
                             connection("carol", "carol-token", "k-carol"))
    for each in (bob, bob_again, carol):
        watch.add(each)
    await watch.check()
    assert sorted(auth.asked) == ["bob-token", "carol-token"], "one question per person and pass"
    assert not any(c.websocket_handler.closed for c in (bob, bob_again, carol))

    auth.granted["bob-token"] = False  # the share is revoked: the token stays valid, its access scope goes
    await watch.check()
    assert bob.websocket_handler.closed == ACCESS_ENDED and bob_again.websocket_handler.closed == ACCESS_ENDED
    assert bob.access_ended and bob not in watch.open
    assert carol.websocket_handler.closed is None and carol in watch.open
    assert kernels.running == {"k-carol", "k-shared"}


async def test_a_kernel_someone_allowed_still_uses_is_not_shut_down(watched):
    auth, kernels, watch = watched
    auth.granted = {"bob-token": False, "carol-token": True}
    bob, carol = connection("bob", "bob-token", "k-shared"), connection("carol", "carol-token", "k-shared")
    watch.add(bob)
    watch.add(carol)
    await watch.check()
    assert bob.websocket_handler.closed == ACCESS_ENDED and carol.websocket_handler.closed is None
    assert "k-shared" in kernels.running


async def test_an_expired_token_or_none_at_all_ends_the_connection(watched):
    auth, kernels, watch = watched
    expired, anonymous = connection("bob", "bob-expired", "k-bob"), connection("", "", "k-carol")
    watch.add(expired)
    watch.add(anonymous)
    await watch.check()
    assert expired.websocket_handler.closed == ACCESS_ENDED and anonymous.websocket_handler.closed == ACCESS_ENDED
    assert auth.asked == ["bob-expired"], "no token: nothing to ask the hub"


async def test_a_hub_that_does_not_answer_cuts_nobody_off(watched):
    auth, kernels, watch = watched
    auth.granted = {"bob-token": False}
    auth.failing = True
    bob = connection("bob", "bob-token", "k-bob")
    watch.add(bob)
    await watch.check()
    assert bob.websocket_handler.closed is None and "k-bob" in kernels.running
    auth.failing = False  # the next pass, once the hub answers again
    await watch.check()
    assert bob.websocket_handler.closed == ACCESS_ENDED


def test_messages_arriving_after_the_close_never_reach_the_kernel(monkeypatch):
    sent = []
    monkeypatch.setattr(ZMQChannelsWebsocketConnection, "handle_incoming_message", lambda self, m: sent.append(m))
    made = PromptKernelWebsocketConnection.__new__(PromptKernelWebsocketConnection)
    made.handle_incoming_message("before")
    made.access_ended = True
    made.handle_incoming_message("after")
    assert sent == ["before"]
