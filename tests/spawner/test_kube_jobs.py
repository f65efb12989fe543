"""The load test's workers as a Kubernetes Job (spawner/kube_jobs.py): manifests checked offline against
Kubernetes' schema, for the oldest version the pinned chart supports and the newest the validator knows."""

from __future__ import annotations

import json
import re

import kubernetes_validate
import pytest

from spawner import environment
from spawner.kube import LOCKED_DOWN
from spawner.kube_jobs import (
    JOB_VARIABLE,
    OWNER_LABEL,
    RUN_LABEL,
    master_access_policy,
    worker_job,
    workers_isolation_policy,
)
from testing.support import REPO_ROOT
from tests.scanners import kubernetes_findings

KUBERNETES_VERSIONS = ("1.32.0", kubernetes_validate.utils.latest_version())
LOCUSTFILE = "/opt/workbench/lib/python3.11/site-packages/profiler/loadtest/locustfile.py"
RUN_JOB = {"spec": {"concurrency": 8}, "run_id": "run-42", "workers": 3, "users": 8, "region": "eu-west-1"}


def job_for(run_id: str = "run-42", owner_pod: str = "jupyter-kate", **changes):
    arguments = dict(namespace="workbench", owner_pod=owner_pod, run_id=run_id, image="profiler-workbench-user:0.1.0",
                     master_host="10.1.2.3", master_port=5557, workers=3, job=RUN_JOB, locustfile=LOCUSTFILE,
                     credentials_secret=f"{owner_pod}-aws", region="eu-west-1")
    return worker_job(**{**arguments, **changes})


def validated(manifest: dict) -> dict:
    for version in KUBERNETES_VERSIONS:
        kubernetes_validate.validate(manifest, version, strict=True)
    return manifest


def test_the_workers_job_runs_locust_workers_of_the_users_image_against_the_master():
    job = validated(job_for())
    assert job["spec"]["parallelism"] == job["spec"]["completions"] == 3
    pod = job["spec"]["template"]["spec"]
    [container] = pod["containers"]
    assert container["image"] == "profiler-workbench-user:0.1.0"
    command = container["command"]
    assert command[:5] == ["python", "-m", "locust", "-f", LOCUSTFILE] and "--worker" in command
    assert command[command.index("--master-host") + 1:][:3] == ["10.1.2.3", "--master-port", "5557"]
    env = {item["name"]: item["value"] for item in container["env"]}
    assert json.loads(env[JOB_VARIABLE]) == RUN_JOB


def test_the_workers_use_the_servers_refreshed_secret_and_no_keys_of_their_own():
    job = validated(job_for())
    pod = job["spec"]["template"]["spec"]
    [container] = pod["containers"]
    env = {item["name"]: item["value"] for item in container["env"]}
    assert environment.AWS_ACCESS_KEY_ID not in env and environment.AWS_SESSION_TOKEN not in env
    mounts = {mount["mountPath"]: mount for mount in container["volumeMounts"]}
    credentials = mounts[env[environment.AWS_CONFIG_FILE].rsplit("/", 1)[0]]
    assert credentials["readOnly"] is True
    [secret_volume] = [volume for volume in pod["volumes"] if volume["name"] == credentials["name"]]
    assert secret_volume["secret"]["secretName"] == "jupyter-kate-aws"
    assert pod["automountServiceAccountToken"] is False
    assert {key: container["securityContext"][key] for key in LOCKED_DOWN} == LOCKED_DOWN


def test_only_this_runs_workers_may_reach_the_master():
    job = job_for()
    policy = validated(master_access_policy(namespace="workbench",
                                            owner_pod_labels={"hub.jupyter.org/username": "kate"},
                                            owner_pod="jupyter-kate", run_id="run-42", master_port=5557))
    [rule] = policy["spec"]["ingress"]
    [peer] = rule["from"]
    worker_labels = job["spec"]["template"]["metadata"]["labels"]
    assert peer["podSelector"]["matchLabels"].items() <= worker_labels.items()
    assert set(peer["podSelector"]["matchLabels"]) == {RUN_LABEL, OWNER_LABEL}, "not every pod of another run"
    other_run = job_for(run_id="run-43")["spec"]["template"]["metadata"]["labels"]
    assert not peer["podSelector"]["matchLabels"].items() <= other_run.items()
    assert rule["ports"] == [{"port": 5557, "protocol": "TCP"}]


def test_long_names_still_make_valid_and_distinct_names_and_labels():
    job = validated(job_for(run_id="R" * 80 + "_with spaces", owner_pod="jupyter-" + "x" * 70))
    assert len(job["metadata"]["name"]) <= 63
    other = job_for(run_id="R" * 80 + "_with spaces2", owner_pod="jupyter-" + "x" * 70)
    assert other["metadata"]["name"] != job["metadata"]["name"]
    assert job_for(run_id="Run-42")["metadata"]["name"] != job_for(run_id="run-42")["metadata"]["name"]
    assert all(len(value) <= 63 and re.fullmatch(r"[a-z0-9]([a-z0-9-]*[a-z0-9])?", value)
               for value in job["spec"]["template"]["metadata"]["labels"].values() if "/" not in value)


@pytest.mark.parametrize("changes", [{"workers": 0}, {"master_port": 0}])
def test_a_job_that_cannot_run_is_refused(changes):
    with pytest.raises(ValueError):
        job_for(**changes)


def test_the_locustfile_reads_the_variable_the_job_sets():
    source = (REPO_ROOT / "profiler" / "loadtest" / "locustfile.py").read_text()
    assert re.search(r'^JOB_VARIABLE = "([^"]+)"', source, re.M).group(1) == JOB_VARIABLE


# What checkov still finds in a run's manifests, each with why it stays (the rest are fixed).
JUSTIFIED_CHECKOV_RESULTS = {
    "CKV_K8S_43": {"Job"},  # image by digest: the operator's registry alone knows it; the tag is the version
    "CKV_K8S_15": {"Job"},  # imagePullPolicy Always: IfNotPresent, a burst of workers would each pull (kube_jobs)
    "CKV_K8S_40": {"Job"},  # uid above 10000: uid 1000 is the image's user, whose files the home volume holds
}


@pytest.mark.slow  # checkov, in a venv of its own, made on first use
def test_a_runs_manifests_pass_checkov_but_for_the_justified_findings(tmp_path):
    manifests = [
        job_for(),
        master_access_policy(namespace="workbench", owner_pod_labels={"hub.jupyter.org/username": "kate"},
                             owner_pod="jupyter-kate", run_id="run-42", master_port=5557),
        validated(workers_isolation_policy(namespace="workbench", owner_pod="jupyter-kate", run_id="run-42")),
    ]
    assert kubernetes_findings(manifests, tmp_path) == JUSTIFIED_CHECKOV_RESULTS
    # without the workers' own policy, checkov finds pods that no NetworkPolicy covers
    assert "CKV2_K8S_6" in kubernetes_findings(manifests[:2], tmp_path / "without")
