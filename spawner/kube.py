"""Users' servers as Kubernetes pods (KubeSpawner, as Zero to JupyterHub runs it): what a pod needs that a local
process does not.

- **Credentials, the Kubernetes way.** The playground's scoped credentials go into a Secret of the server's own
  (``<pod name>-aws``), mounted read-only into the pod as the same three files ``file`` delivery writes
  (:mod:`spawner.credentials`): an AWS config whose ``credential_process`` reads ``credentials.json``. The hub
  re-assumes the role ``credentials_refresh_margin`` (20 min) before expiry and replaces the Secret; the kubelet
  then replaces the mounted files (Kubernetes documents that a Secret mounted as a volume, without ``subPath``,
  is updated in place after its kubelet's sync period and cache, typically within a minute or two; variables
  taken from a Secret are read once, when the container starts, and could never be refreshed), and botocore
  re-runs the credential process by itself once fewer than 15 minutes remain. No cluster could be run here, so
  the kubelet's part is the documented behaviour, not a measured one. The keys never appear in the
  pod's spec, and the hub's own AWS identity (its service account, IRSA) never reaches the pod: its ``AWS_*``
  variables are dropped (:class:`spawner.playground.PlaygroundSpawnerMixin`) and the pod gets no service-account
  token.
- **A locked-down container.** Non-root, no privilege escalation, every capability dropped, the runtime's seccomp
  profile, a read-only root filesystem with a writable ``/tmp`` (an ``emptyDir``).
- **The image holds the server.** :data:`USER_IMAGE`, tagged with this package's version, holds the dashboards
  and the user-server configuration, so the hub neither copies dashboards nor hands the pod its own install paths.

May import jupyterhub, traitlets, the other :mod:`spawner` modules, and kubespawner / kubernetes_asyncio (only
once a Kubernetes spawner is asked for: the hub's other spawners do not need them); never ``hub`` nor the user side.
"""

from __future__ import annotations

import asyncio
import copy
import importlib.metadata
from pathlib import Path
from typing import Any

from jupyterhub.spawner import Spawner
from traitlets import Dict, Enum, Unicode, default

from spawner import credentials
from spawner.playground import PlaygroundSpawnerMixin
from spawner.stacks import PlaygroundError
from spawner.user_server_files import jupyter_environment

# The users' server image (deploy/images builds it); Zero to JupyterHub's singleuser.image names the same
# (deploy/kubernetes/values.yaml: a test keeps the two equal).
USER_IMAGE = "profiler-workbench-user"
HUB_IMAGE = "profiler-workbench-hub"
SECRET_VOLUME = "workbench-aws"
TMP_VOLUME = "workbench-tmp"
SERVER_COMMAND = ("jupyterhub-singleuser",)  # on the image's PATH
STACK_ANNOTATION = "workbench/playground-stack"
STACK_LABEL = "workbench-playground"
# Kept in the hub's state, so a restarted hub knows when the Secret it wrote last must be refreshed.
EXPIRY_STATE_KEY = "playground_secret_expires"
# The read-only container every user's server runs in (Kubernetes' own names).
LOCKED_DOWN = {
    "runAsNonRoot": True,
    "allowPrivilegeEscalation": False,
    "readOnlyRootFilesystem": True,
    "capabilities": {"drop": ["ALL"]},
    "seccompProfile": {"type": "RuntimeDefault"},
}


def image_tag() -> str:
    """The tag of both images: this package's version (deploy/images tags what it builds so)."""
    return importlib.metadata.version("profiler-workbench")


class KubePlaygroundMixin(PlaygroundSpawnerMixin):
    """The playground for a pod: credentials in a Secret the hub keeps fresh, the stack's name on the pod."""

    credentials_delivery = Enum(
        ["secret", "environment"],
        "secret",
        help="How scoped credentials reach the pod: `secret` (a Secret of the server's own, mounted read-only as "
        "an AWS config whose credential_process reads it; the hub replaces it before the credentials expire and "
        "the kubelet updates the mounted files) or `environment` (AWS_ACCESS_KEY_ID etc. in the pod's spec, "
        "never refreshed: the server must restart before they expire).",
    ).tag(config=True)

    credentials_mount_path = Unicode(
        "/run/workbench/aws",
        help="`secret` delivery: where the pod sees its credentials Secret (read-only).",
    ).tag(config=True)

    secret_labels = Dict(
        help="Labels of the credentials Secret, beside KubeSpawner's common labels.",
    ).tag(config=True)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._secret_expires: str | None = None  # ISO 8601, of the credentials in the Secret written last
        self._pending_credentials: credentials.ScopedCredentials | None = None  # to write once the stack is ready

    @property
    def credentials_secret_name(self) -> str:
        return f"{self.pod_name}-aws"

    # ---- state -------------------------------------------------------------------------------------------

    def load_state(self, state):
        super().load_state(state)
        self._secret_expires = state.get(EXPIRY_STATE_KEY) or None

    def get_state(self):
        state = super().get_state()
        if self._secret_expires:
            state[EXPIRY_STATE_KEY] = self._secret_expires
        return state

    # ---- start -------------------------------------------------------------------------------------------

    async def start(self):
        if self.uses_playground:
            stack = self.playground_names.stack
            self.extra_annotations = {**self.extra_annotations, STACK_ANNOTATION: stack}
            self.extra_labels = {**self.extra_labels, STACK_LABEL: stack}
        return await super().start()

    def _environment_for(self, outputs: dict[str, str], scoped: credentials.ScopedCredentials) -> dict[str, str]:
        env = super()._environment_for(outputs, scoped)
        if self.credentials_delivery == "secret":
            # the base put the keys themselves in: the pod gets the paths of the mounted Secret instead
            for name in credentials.environment_delivery(scoped):
                env.pop(name, None)
            env.update(self.mounted_credentials.environment(scoped))
            self._pending_credentials = scoped
        return env

    async def _start_playground(self) -> None:
        from kubernetes_asyncio.client.rest import ApiException

        await super()._start_playground()
        scoped, self._pending_credentials = self._pending_credentials, None
        if self.credentials_delivery == "secret" and scoped is not None:
            try:
                await self.write_credentials_secret(scoped)
            except (ApiException, asyncio.TimeoutError) as error:
                why = f"{error.status} {error.reason}" if isinstance(error, ApiException) else "no answer in time"
                raise PlaygroundError(f"The hub cannot hand credentials to your server: Kubernetes did not take the "
                                      f"Secret {self.credentials_secret_name} ({why})", reason="credentials") from error
            self._start_refresh()

    # ---- the credentials Secret --------------------------------------------------------------------------

    @property
    def mounted_credentials(self) -> credentials.CredentialFiles:
        """The credential files as the pod sees them (the Secret's keys are their names)."""
        return credentials.CredentialFiles(Path(self.credentials_mount_path))

    def credentials_secret_manifest(self, scoped: credentials.ScopedCredentials) -> Any:
        from kubernetes_asyncio.client import V1ObjectMeta, V1Secret

        files = credentials.delivery_files(scoped, self.aws_region, Path(self.credentials_mount_path))
        labels = {**self._build_common_labels(self._expand_all(self.secret_labels)), STACK_LABEL:
                  self.playground_names.stack}
        return V1Secret(
            api_version="v1",
            kind="Secret",
            type="Opaque",
            metadata=V1ObjectMeta(name=self.credentials_secret_name, labels=labels,
                                  annotations={"workbench/credentials-expire": scoped.expiration_iso}),
            string_data=files,
        )

    async def write_credentials_secret(self, scoped: credentials.ScopedCredentials, replace: bool = False) -> None:
        """Create the Secret, or ``replace`` it (a refresh: the kubelet updates the pod's files). Either falls back
        on the other when the Secret is (not) there already."""
        from kubernetes_asyncio.client.rest import ApiException

        manifest = self.credentials_secret_manifest(scoped)
        name, namespace, timeout = self.credentials_secret_name, self.namespace, self.k8s_api_request_timeout
        attempts = [("replace", 404), ("create", None)] if replace else [("create", 409), ("replace", None)]
        for verb, fall_back_on in attempts:
            try:
                if verb == "create":
                    await asyncio.wait_for(self.api.create_namespaced_secret(namespace, manifest), timeout)
                else:
                    await asyncio.wait_for(self.api.replace_namespaced_secret(name, namespace, manifest), timeout)
                break
            except ApiException as error:
                if error.status != fall_back_on:
                    raise
        self._secret_expires = scoped.expiration_iso

    async def delete_credentials_secret(self) -> None:
        from kubernetes_asyncio.client.rest import ApiException

        try:
            await asyncio.wait_for(
                self.api.delete_namespaced_secret(self.credentials_secret_name, self.namespace),
                self.k8s_api_request_timeout,
            )
        except ApiException as error:
            if error.status != 404:
                raise
        self._secret_expires = None

    def _start_refresh(self) -> None:
        if self.credentials_delivery != "secret":
            return super()._start_refresh()
        if self._refresh_task is None or self._refresh_task.done():
            self._refresh_task = asyncio.ensure_future(self._refresh_secret_forever())

    async def _refresh_secret_forever(self) -> None:
        while self._playground:
            expires = self._secret_expires
            if expires:
                current = credentials.ScopedCredentials("", "", "", credentials.parse_expiration(expires))
                await asyncio.sleep(credentials.seconds_until_refresh(current, self.credentials_refresh_margin))
            try:
                scoped = await self._assume_role(self._playground["outputs"])
                await self.write_credentials_secret(scoped, replace=True)
                self.log.info("Refreshed the credentials Secret of %s's server (valid until %s)", self.user.name,
                              scoped.expiration_iso)
            except Exception as error:  # noqa: BLE001 - keep refreshing whatever went wrong once
                self.log.error("Refreshing %s's credentials Secret failed, retrying in a minute: %s",
                               self.user.name, error)
                await asyncio.sleep(60)

    # ---- poll / stop -------------------------------------------------------------------------------------

    async def poll(self):
        status = await super().poll()
        if status is None and self._playground and self.credentials_delivery == "secret" and not \
                self._playground_starting:
            self._start_refresh()  # after a hub restart, keep the running server's Secret fresh
        return status

    async def run_post_stop_hook(self):
        self._stop_refresh()
        if self.credentials_delivery == "secret":
            try:
                await self.delete_credentials_secret()
            except Exception as error:  # noqa: BLE001 - the stop goes on; the Secret is only useless keys
                self.log.error("Could not delete %s (%s's credentials): %s", self.credentials_secret_name,
                               self.user.name, error)
        return await super().run_post_stop_hook()


class KubeServerMixin(Spawner):
    """The pod itself: the image, the locked-down container, the Secret and /tmp mounted. Put it first."""

    @default("image")
    def _workbench_image(self) -> str:
        return f"{USER_IMAGE}:{image_tag()}"

    @default("cmd")
    def _image_command(self) -> list[str]:
        return list(SERVER_COMMAND)  # the image's, never the hub's own interpreter

    @default("uid")
    def _unprivileged_uid(self) -> int:
        return 1000

    @default("container_security_context")
    def _locked_down(self) -> dict:
        return copy.deepcopy(LOCKED_DOWN)

    @default("pod_security_context")
    def _non_root_pod(self) -> dict:
        # the pod's own, beside the container's: a container added later (a sidecar, an init container the
        # operator configures) is refused unless it runs as non-root too, under the runtime's seccomp profile
        return {"runAsNonRoot": True, "seccompProfile": {"type": "RuntimeDefault"}}

    @default("install_dashboards")
    def _image_holds_dashboards(self) -> bool:
        return False

    # JupyterHub requires every Spawner subclass to define all three; this layer changes none of them.
    async def start(self):
        return await super().start()

    async def stop(self, now=False):
        return await super().stop(now=now)

    async def poll(self):
        return await super().poll()

    def get_env(self):
        env = super().get_env()
        # Paths of the hub's own installation: the image sets its own.
        for name in jupyter_environment():
            env.pop(name, None)
        return env

    async def get_pod_manifest(self):
        from kubernetes_asyncio.client import V1EmptyDirVolumeSource, V1SecretVolumeSource, V1Volume, V1VolumeMount

        pod = await super().get_pod_manifest()
        volumes = list(pod.spec.volumes or [])
        container = pod.spec.containers[0]
        mounts = list(container.volume_mounts or [])
        volumes.append(V1Volume(name=TMP_VOLUME, empty_dir=V1EmptyDirVolumeSource()))
        mounts.append(V1VolumeMount(name=TMP_VOLUME, mount_path="/tmp"))
        if getattr(self, "credentials_delivery", None) == "secret" and self.uses_playground:
            volumes.append(V1Volume(name=SECRET_VOLUME, secret=V1SecretVolumeSource(
                secret_name=self.credentials_secret_name, default_mode=0o444)))
            mounts.append(V1VolumeMount(name=SECRET_VOLUME, mount_path=self.credentials_mount_path, read_only=True))
        pod.spec.volumes = volumes
        container.volume_mounts = mounts
        return pod


def kubespawner_class() -> type:
    try:
        from kubespawner import KubeSpawner  # optional: only Kubernetes deployments install it
    except ImportError as error:
        raise ImportError("The Kubernetes spawner needs `pip install 'profiler-workbench[kubernetes]'` "
                          "(jupyterhub-kubespawner)") from error
    return KubeSpawner
