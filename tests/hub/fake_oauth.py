"""A small OAuth2 / OpenID Connect provider for tests: it approves every authorization request for the
person the test says is at the keyboard, and serves both GitHub's and generic OIDC endpoint layouts."""

from __future__ import annotations

import json
import secrets
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlencode, urlparse


class FakeOAuthProvider:
    CLIENT_ID = "workbench-test-client"
    CLIENT_SECRET = "workbench-test-secret"

    def __init__(self):
        self.person: dict = {}
        self.codes: dict[str, dict] = {}
        self.tokens: dict[str, dict] = {}
        self.requests: list[str] = []
        provider = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # keep test output quiet
                pass

            def _json(self, status: int, body: dict):
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self):
                url = urlparse(self.path)
                provider.requests.append(f"GET {url.path}")
                if url.path in ("/authorize", "/login/oauth/authorize"):
                    query = {key: values[0] for key, values in parse_qs(url.query).items()}
                    if query.get("client_id") != provider.CLIENT_ID:
                        return self._json(400, {"error": "unauthorized_client"})
                    code = secrets.token_urlsafe(8)
                    provider.codes[code] = dict(provider.person)
                    target = query["redirect_uri"] + "?" + urlencode({"code": code, "state": query.get("state", "")})
                    self.send_response(302)
                    self.send_header("Location", target)
                    self.end_headers()
                elif url.path in ("/userinfo", "/api/v3/user"):
                    token = self.headers.get("Authorization", "").split(" ")[-1]
                    if token not in provider.tokens:
                        return self._json(401, {"error": "invalid_token"})
                    self._json(200, provider.tokens[token])
                else:
                    self._json(404, {"error": "not_found"})

            def do_POST(self):
                url = urlparse(self.path)
                provider.requests.append(f"POST {url.path}")
                length = int(self.headers.get("Content-Length") or 0)
                form = {key: values[0] for key, values in parse_qs(self.rfile.read(length).decode()).items()}
                if url.path not in ("/token", "/login/oauth/access_token"):
                    return self._json(404, {"error": "not_found"})
                person = provider.codes.pop(form.get("code", ""), None)
                if person is None:
                    return self._json(400, {"error": "invalid_grant"})
                token = secrets.token_urlsafe(16)
                provider.tokens[token] = person
                self._json(200, {"access_token": token, "token_type": "Bearer", "scope": "openid"})

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def stop(self):
        self.server.shutdown()
        self.server.server_close()
