"""Local AWS for the embedded defaults: a moto server run by the hub as a managed service, IAM enforced.

The hub starts ``python -m hub.services.local_aws --port N`` with its other services and stops it at shutdown.
Before a playground's first AWS call the spawner waits until the endpoint answers
(:func:`spawner.stacks.wait_until_answering`), so no spawn runs against an AWS that is not there yet.

Every user's server is a process on this machine and can connect to this port, so the service is not the open
moto it would be in a test:

- **IAM is enforced** on every request (moto's ``INITIAL_NO_AUTH_ACTION_COUNT`` is 0): a request must be signed
  with keys the service knows, and the caller's policies must allow it. The hub's own identity is the IAM user
  ``workbench-hub`` with an administrator's policy, whose keys the hub chooses: ``workbench hub`` reads them from
  the state folder (:func:`hub_credentials`, made there 0600 the first time) into the hub's environment, and
  :func:`service_definition` hands them to this service in its environment, which registers them before it
  serves. Users' servers hold only STS credentials of their playground role (``spawner/credentials.py``).
- **Only the AWS APIs are reachable** (:class:`AwsApiOnly`): moto's own routes (``/moto-api/...``: reset,
  data.json, the dashboard, seed, recorder...; the instance metadata under ``/latest/``) answer 404, and a request
  that is not SigV4-signed for one of :data:`SIGNING_NAMES` is refused before moto sees it.

moto 5.2 does not evaluate IAM the way AWS does; :mod:`hub.services.moto_iam` makes it (in this process only).
"""

from __future__ import annotations

import argparse
import io
import json
import logging
import os
import re
import secrets
import signal
import stat
import sys
import tempfile
import threading
from pathlib import Path

from hub.services import aws_state, moto_iam

SERVICE_NAME = "local-aws"
log = logging.getLogger("workbench.local_aws")

WARM_SERVICES = ("cloudformation", "dynamodb", "ec2", "elbv2", "iam", "sts")
# The SigV4 signing names of the services the hub and users' servers call (WARM_SERVICES as clients sign them;
# ELBv2 signs as "elasticloadbalancing"). A request signed for anything else never reaches moto.
SIGNING_NAMES = frozenset({"cloudformation", "dynamodb", "ec2", "elasticloadbalancing", "iam", "sts"})

# The hub's identity in the local AWS, and how its keys travel (environment variables, never a command line).
HUB_USER = "workbench-hub"
HUB_KEY_FILE = "local-aws-hub-key.json"
KEY_ID_VARIABLE = "AWS_ACCESS_KEY_ID"
SECRET_VARIABLE = "AWS_SECRET_ACCESS_KEY"
ADMINISTRATOR_POLICY = {
    "Version": "2012-10-17",
    "Statement": [{"Sid": "TheHubRunsThisAws", "Effect": "Allow", "Action": "*", "Resource": "*"}],
}
_KEY_ID_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"


# --- the hub's keys: chosen by the hub, kept in its state folder ------------------------------------------------
def new_hub_credentials() -> dict[str, str]:
    """Fresh keys shaped like an IAM user's (``AKIA`` + 16, 40-character secret)."""
    key_id = "AKIA" + "".join(secrets.choice(_KEY_ID_ALPHABET) for _ in range(16))
    return {KEY_ID_VARIABLE: key_id, SECRET_VARIABLE: secrets.token_urlsafe(30)}


def write_hub_credentials(path: Path, keys: dict[str, str]) -> None:
    """Create ``path`` (mode 0600) holding ``keys``; FileExistsError if it is there (a planted link included).

    Written to a private draft, then hard-linked into place: a reader sees the whole file or none.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    handle, draft = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")  # mkstemp makes it 0600
    try:
        with os.fdopen(handle, "w") as stream:
            json.dump({"AccessKeyId": keys[KEY_ID_VARIABLE], "SecretAccessKey": keys[SECRET_VARIABLE]}, stream)
        os.link(draft, path)  # never follows nor replaces what is at `path`
    finally:
        os.unlink(draft)


def read_hub_credentials(path: Path) -> dict[str, str]:
    """The keys in ``path``; refuses a link, another owner's file, or one that others may read."""
    descriptor = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
    with os.fdopen(descriptor) as stream:
        status = os.fstat(stream.fileno())
        if not stat.S_ISREG(status.st_mode) or status.st_uid != os.geteuid() or status.st_mode & 0o077:
            raise PermissionError(
                f"{path} must be a regular file of this account that only it can read (chmod 600 it, or delete it "
                "and the hub makes a new one)")
        data = json.load(stream)
    keys = {KEY_ID_VARIABLE: data.get("AccessKeyId"), SECRET_VARIABLE: data.get("SecretAccessKey")}
    if not all(isinstance(value, str) and value for value in keys.values()):
        raise ValueError(f"{path} does not hold an AccessKeyId and a SecretAccessKey")
    return keys


def hub_credentials(state_dir: Path) -> dict[str, str]:
    """The hub's keys for the local AWS, as environment variables: kept in the (owner-only) state folder, made
    there the first time, so a restarted hub keeps its identity."""
    path = Path(state_dir) / HUB_KEY_FILE
    try:
        return read_hub_credentials(path)
    except FileNotFoundError:
        pass
    try:
        write_hub_credentials(path, new_hub_credentials())
    except FileExistsError:
        pass  # another process made it between our read and write: theirs it is
    return read_hub_credentials(path)


def service_definition(port: int, state_dir: Path) -> dict:
    """The JupyterHub managed-service entry that runs the local AWS on 127.0.0.1:``port``, its state kept in
    ``state_dir`` (the hub's state folder)."""
    return {
        "name": SERVICE_NAME,
        "command": [sys.executable, "-m", "hub.services.local_aws", "--port", str(port),
                    "--state-file", str(Path(state_dir) / aws_state.SNAPSHOT_FILE)],
        # A managed service starts with an almost empty environment: hand it the hub's own keys (the runner put
        # them in the hub's environment, see hub.cli), which it registers as the administrator's.
        "environment": {name: os.environ[name] for name in (KEY_ID_VARIABLE, SECRET_VARIABLE) if name in os.environ},
        "display": False,
    }


# --- only the AWS APIs: a WSGI layer in front of moto -----------------------------------------------------------
# What botocore's SigV4 signer writes (botocore.auth.SigV4Auth). moto's dispatcher and its IAM check each parse
# this header their own way; a header of exactly this shape reads the same to both.
SIGV4 = re.compile(
    r"AWS4-HMAC-SHA256 Credential=[A-Za-z0-9_.-]+/\d{8}/(?P<region>[a-z0-9-]+)/(?P<service>[a-z0-9-]+)/aws4_request,"
    r" ?SignedHeaders=[a-z0-9;_.-]+, ?Signature=[0-9a-f]{64}"
)


class AwsApiOnly:
    """WSGI middleware: passes to moto only SigV4-signed requests to ``/`` for :data:`SIGNING_NAMES`.

    The AWS APIs the workbench uses (query, EC2 and JSON protocols) all post to ``/``; moto's own routes
    (``/moto-api/...``, ``/latest/...`` instance metadata, ``/favicon.ico``) and everything else answer 404, a
    request without a signature 403 (``MissingAuthenticationToken``), as does one carrying moto's ``x-moto-*``
    headers (``x-moto-account-id`` would pick another account). Answers it gives never reach moto.
    """

    def __init__(self, app, snapshots: aws_state.Snapshots | None = None):
        self.app = app
        self.snapshots = snapshots
        # moto's in-memory backends are not thread-safe, and werkzeug serves each request in a thread of its own:
        # 20 logins at once (20 CreateStack, each making an IAM role) failed one with "RuntimeError: dictionary
        # changed size during iteration" in moto.iam.models.create_role (CI run, 2026-12-07). One request at a
        # time; moto holds the GIL for nearly all of a request anyway (measured ~150-210 requests/s whatever
        # the clients' concurrency).
        self.one_at_a_time = threading.Lock()

    @staticmethod
    def _body(environ: dict) -> bytes:
        """The request's body, read once and put back for moto to read."""
        stream = environ["wsgi.input"]
        length = environ.get("CONTENT_LENGTH") or ""
        if length.isdigit():
            body = stream.read(int(length))
        elif environ.get("wsgi.input_terminated"):
            body = stream.read()
        else:
            return b""
        environ["wsgi.input"] = io.BytesIO(body)
        return body

    @staticmethod
    def refusal(environ: dict) -> tuple[str, str, str] | None:
        """(HTTP status, AWS error code, message) for a request moto must not see, None for an AWS API call."""
        if environ.get("PATH_INFO", "") != "/":
            return "404 Not Found", "NotFound", "This local AWS serves its AWS APIs only, at /."
        if any(key.startswith("HTTP_X_MOTO") for key in environ):
            return "403 Forbidden", "AccessDenied", "x-moto-* headers are not accepted here."
        signed = SIGV4.fullmatch(environ.get("HTTP_AUTHORIZATION", ""))
        if signed is None:
            return "403 Forbidden", "MissingAuthenticationToken", "Request is missing Authentication Token"
        if signed["service"] not in SIGNING_NAMES:
            return "403 Forbidden", "AccessDenied", f"This local AWS does not serve {signed['service']}."
        return None

    def __call__(self, environ, start_response):
        refused = self.refusal(environ)
        if refused is None:
            action = aws_state.action_of(environ, self._body(environ)) if self.snapshots else ""
            with self.one_at_a_time:
                answer = list(self.app(environ, start_response))
            if self.snapshots and aws_state.may_change(action):
                self.snapshots.changed()
            return answer
        status, code, message = refused
        body = moto_iam.xml_error(code, message)
        start_response(status, [("Content-Type", "text/xml"), ("Content-Length", str(len(body))),
                                ("x-amzn-ErrorType", code)])
        return [body]


def register_hub(key_id: str, secret: str) -> str:
    """Make the hub's IAM user, with an administrator's policy and exactly these keys; returns its ARN.

    Done on moto's backend directly, before serving: with IAM enforced from the first request, nobody could
    make it over HTTP. The user is made in every partition, so a hub in any region finds it. On a restored state
    the user is there already: its policy is set again and its keys replaced by these (the hub may have new ones).
    """
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.iam.models import iam_backends
    from moto.utilities.utils import PARTITION_NAMES

    arn = ""
    for partition in PARTITION_NAMES:
        iam = iam_backends[DEFAULT_ACCOUNT_ID][partition]
        user = iam.users.get(HUB_USER) or iam.create_user(region_name="us-east-1", user_name=HUB_USER)
        iam.put_user_policy(HUB_USER, "administrator", json.dumps(ADMINISTRATOR_POLICY))
        for old_key in [key.access_key_id for key in iam.list_access_keys(HUB_USER)]:
            iam.delete_access_key(old_key, HUB_USER)
        key = iam.create_access_key(HUB_USER)  # moto draws its own id and secret: replace them with the hub's
        del iam.access_keys[key.physical_resource_id]
        key.access_key_id, key.secret_access_key = key_id, secret
        iam.access_keys[key.physical_resource_id] = key
        if partition == "aws":
            arn = user.arn
    return arn


def make_app(state_file: Path | None = None) -> AwsApiOnly:
    """moto's server application (as ``moto.server.main`` builds it) behind :class:`AwsApiOnly`; with
    ``state_file``, the state is kept there (:mod:`hub.services.aws_state`), the caller restoring and starting it."""
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app

    app = AwsApiOnly(DomainDispatcherApplication(create_backend_app))
    if state_file is not None:
        app.snapshots = aws_state.Snapshots(state_file, app.one_at_a_time)
    return app


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Run moto, IAM enforced, as the workbench's local AWS.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=5000)
    parser.add_argument("--state-file", type=Path, default=None,
                        help="keep the state in this file across restarts and crashes (hub.services.aws_state); "
                             "without it, the state lives in memory only")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="[%(levelname)s %(asctime)s %(name)s] %(message)s")
    key_id, secret = os.environ.pop(KEY_ID_VARIABLE, ""), os.environ.pop(SECRET_VARIABLE, "")
    if not (key_id and secret):
        parser.error(f"the hub's keys are missing: {KEY_ID_VARIABLE} and {SECRET_VARIABLE} must be in the "
                     "environment (`workbench hub` hands them over)")
    os.umask(0o077)  # the snapshot and its drafts: this account's only
    if args.state_file is not None:
        predecessor = aws_state.still_serving(args.state_file, args.port)
        if predecessor is not None:
            sys.exit(aws_state.stand_in_for(predecessor))
    from moto.backends import get_backend
    from moto.moto_server.werkzeug_app import MotoRequestHandler
    from werkzeug.serving import make_server

    # moto loads a service's models on its first request, ~10 s for CloudFormation: do it before serving, so
    # the first login does not wait for it (the hub holds spawns until this server answers).
    for service in WARM_SERVICES:
        get_backend(service)
    app = make_app(args.state_file)
    if app.snapshots is not None:
        app.snapshots.restore()
    arn = register_hub(key_id, secret)
    moto_iam.enforce_iam()

    os.environ.setdefault("MOTO_PORT", str(args.port))  # as moto's own main: some URLs moto makes carry it
    # moto's own main, minus its admin routes: werkzeug's threaded server with moto's request handler.
    server = make_server(args.host, args.port, app, threaded=True, request_handler=MotoRequestHandler)
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: sys.exit(0))
    log.info("Local AWS on http://%s:%s: IAM enforced (the hub is %s), moto's admin routes closed, state %s",
             args.host, server.server_port, arn, args.state_file or "in memory only")
    if app.snapshots is not None:
        app.snapshots.start()
        aws_state.record_serving(args.state_file, server.server_port)
    try:
        server.serve_forever()
    finally:
        if app.snapshots is not None:
            app.snapshots.final()
            aws_state.forget_serving(args.state_file)


if __name__ == "__main__":
    main()
