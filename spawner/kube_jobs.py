"""The load test's Locust workers as a Kubernetes Job next to a user's pod: manifests only, built by pure functions
(in the manner of KubeSpawner's ``objects.py``), so they are checked without a cluster.

A run in scale-out mode (``profiler.loadtest.scaleout.LocustLoadTest`` with ``local_workers=0``) has its Locust
master in the user's server; :func:`worker_job` makes a Job of ``workers`` pods of the same image that run
``python -m locust ... --worker`` against it, with the run's job description in their environment, and
:func:`master_access_policy` the NetworkPolicy that lets those pods, and only them, reach the master's port (users'
pods otherwise accept connections from the hub and the proxy alone), and :func:`workers_isolation_policy` the one
that lets nothing reach the workers. The workers read the same credentials Secret
as the user's server (:mod:`spawner.kube`), mounted read-only: scoped to the user's playground and refreshed by the
hub, so a long run does not outlive its keys. Each worker sends HDR histograms, merged exactly by the master.

Pure: no I/O, no Kubernetes client. May import :mod:`spawner.kube` and :mod:`spawner.credentials` only.
"""

from __future__ import annotations

import copy
import hashlib
import json
import re
from pathlib import Path
from typing import Any

from spawner import credentials
from spawner.kube import LOCKED_DOWN, SECRET_VOLUME, TMP_VOLUME

# Read by profiler/loadtest/locustfile.py (the user side: tests/spawner/test_kube_jobs.py keeps the two equal).
JOB_VARIABLE = "PROFILER_LOADTEST_JOB"
RUN_LABEL = "workbench-loadtest-run"
OWNER_LABEL = "workbench-owner-pod"
# A Job's name is a label value on its pods: at most 63 characters.
_NAME_LIMIT = 63
_DNS_LABEL = re.compile(r"[^a-z0-9-]+")


def _name(*parts: str) -> str:
    """A DNS label made of ``parts``; a long one keeps a hash of the whole, so two runs never share a name."""
    whole = "-".join(parts)
    name = _DNS_LABEL.sub("-", whole.lower()).strip("-")
    if len(name) <= _NAME_LIMIT and name == whole:
        return name
    digest = hashlib.sha256(whole.encode()).hexdigest()[:10]
    return f"{name[:_NAME_LIMIT - len(digest) - 1].rstrip('-')}-{digest}"


def worker_job(*, namespace: str, owner_pod: str, run_id: str, image: str, master_host: str, master_port: int,
               workers: int, job: dict[str, Any], locustfile: str, credentials_secret: str, region: str,
               credentials_mount_path: str = "/run/workbench/aws", uid: int = 1000,
               memory: str = "1G", cpu: str = "1", deadline_seconds: int = 3600) -> dict[str, Any]:
    """The Job running ``workers`` Locust workers for run ``run_id`` of ``owner_pod``'s server, in the owner's pod's
    ``namespace`` (where its credentials Secret is).

    The image is named by the tag the users' pods use (the package's version, which a new version replaces, never
    rewrites), not a digest, which only the operator's registry knows, and pulled if not present: workers start in a
    burst, and a pull of an unchanged image for each would add a registry round trip to every one."""
    if workers < 1:
        raise ValueError(f"workers must be at least 1, got {workers}")
    if not 1 <= master_port <= 65535:
        raise ValueError(f"master_port must be a TCP port, got {master_port}")
    labels = {RUN_LABEL: _name(run_id), OWNER_LABEL: _name(owner_pod), "app.kubernetes.io/component":
              "loadtest-worker", "app.kubernetes.io/managed-by": "profiler-workbench"}
    mounted = credentials.CredentialFiles(Path(credentials_mount_path))
    env = [
        {"name": JOB_VARIABLE, "value": json.dumps(job, separators=(",", ":"))},
        {"name": "AWS_CONFIG_FILE", "value": str(mounted.config)},
        {"name": "AWS_SHARED_CREDENTIALS_FILE", "value": str(mounted.shared_credentials)},
        {"name": "AWS_DEFAULT_REGION", "value": region},
        {"name": "PYTHONUNBUFFERED", "value": "1"},
    ]
    container = {
        "name": "locust-worker",
        "image": image,
        "imagePullPolicy": "IfNotPresent",
        "command": ["python", "-m", "locust", "-f", locustfile, "--worker", "--headless", "--loglevel", "WARNING",
                    "--master-host", master_host, "--master-port", str(master_port)],
        "env": env,
        "resources": {"requests": {"memory": memory, "cpu": cpu}, "limits": {"memory": memory, "cpu": cpu}},
        "securityContext": {**copy.deepcopy(LOCKED_DOWN), "runAsUser": uid},
        "volumeMounts": [
            {"name": SECRET_VOLUME, "mountPath": credentials_mount_path, "readOnly": True},
            {"name": TMP_VOLUME, "mountPath": "/tmp"},
        ],
    }
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": _name(owner_pod, "loadtest", run_id), "namespace": namespace, "labels": labels},
        "spec": {
            "parallelism": workers,
            "completions": workers,
            "backoffLimit": 0,  # a worker that died is a failed run, not one to start again with half its data
            "activeDeadlineSeconds": deadline_seconds,
            "ttlSecondsAfterFinished": 600,
            "template": {
                "metadata": {"labels": labels},
                "spec": {
                    "restartPolicy": "Never",
                    "automountServiceAccountToken": False,
                    "securityContext": {"runAsNonRoot": True, "seccompProfile": {"type": "RuntimeDefault"}},
                    "containers": [container],
                    "volumes": [
                        {"name": SECRET_VOLUME, "secret": {"secretName": credentials_secret, "defaultMode": 0o444}},
                        {"name": TMP_VOLUME, "emptyDir": {}},
                    ],
                },
            },
        },
    }


def master_access_policy(*, namespace: str, owner_pod_labels: dict[str, str], owner_pod: str, run_id: str,
                         master_port: int) -> dict[str, Any]:
    """The NetworkPolicy letting the run's worker pods, and no other pod, reach the master's port on the owner's
    pod (selected by ``owner_pod_labels``, e.g. KubeSpawner's ``hub.jupyter.org/username`` label and its
    server name's)."""
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": {"name": _name(owner_pod, "loadtest", run_id), "namespace": namespace,
                     "labels": {RUN_LABEL: _name(run_id)}},
        "spec": {
            "podSelector": {"matchLabels": dict(owner_pod_labels)},
            "policyTypes": ["Ingress"],
            "ingress": [{
                "from": [{"podSelector": {"matchLabels": {RUN_LABEL: _name(run_id), OWNER_LABEL: _name(owner_pod)}}}],
                "ports": [{"port": master_port, "protocol": "TCP"}],
            }],
        },
    }


def workers_isolation_policy(*, namespace: str, owner_pod: str, run_id: str) -> dict[str, Any]:
    """The NetworkPolicy that lets nothing connect to the run's worker pods: they only connect out (to the master
    and to AWS), and no chart policy covers them (Zero to JupyterHub's select the hub's, the proxy's and users'
    server pods by component)."""
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": {"name": _name(owner_pod, "loadtest-workers", run_id), "namespace": namespace,
                     "labels": {RUN_LABEL: _name(run_id)}},
        "spec": {
            "podSelector": {"matchLabels": {RUN_LABEL: _name(run_id), OWNER_LABEL: _name(owner_pod)}},
            "policyTypes": ["Ingress"],
            "ingress": [],
        },
    }
