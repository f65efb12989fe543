"""The KubeSpawner composition: the playground's env and pod metadata reach the pod (no cluster needed)."""

from __future__ import annotations

import importlib.util

import pytest

from spawner import environment
from spawner.playground import KubePlaygroundMixin, kube_playground_spawner_class
from tests.spawner.conftest import HUB_KEY_ID
from tests.spawner.mocking import StandInKubeSpawner, make_spawner

HAS_KUBESPAWNER = importlib.util.find_spec("kubespawner") is not None


def kube_class():
    # The real KubeSpawner when installed; otherwise a stand-in with the surface the composition uses.
    return kube_playground_spawner_class() if HAS_KUBESPAWNER else kube_playground_spawner_class(StandInKubeSpawner)


async def test_the_pod_gets_the_playground_and_scoped_keys_in_its_environment(tmp_path, moto_endpoint):
    spawner = make_spawner(kube_class(), "kate", tmp_path, aws_endpoint_url=moto_endpoint,
                           env_keep=["AWS_ACCESS_KEY_ID"])
    assert spawner.credentials_delivery == "environment"  # a pod cannot read the hub's files
    if HAS_KUBESPAWNER:
        pytest.skip("starting the real KubeSpawner needs a cluster")
    await spawner.start()
    env = spawner.pod_env
    assert env[environment.LOADTEST_TABLE] == "profiler-kate-loadtest"
    assert env[environment.AWS_ACCESS_KEY_ID] not in ("", HUB_KEY_ID)
    assert env[environment.AWS_SESSION_TOKEN]
    assert spawner.pod_annotations["workbench/playground-stack"] == "profiler-kate"
    assert spawner.extra_labels["workbench-playground"] == "profiler-kate"
    await spawner.stop()


def test_the_composition_puts_the_playground_before_the_base():
    cls = kube_playground_spawner_class(StandInKubeSpawner)
    assert cls.__mro__.index(KubePlaygroundMixin) < cls.__mro__.index(StandInKubeSpawner)


@pytest.mark.skipif(HAS_KUBESPAWNER, reason="kubespawner is installed")
def test_asking_for_kubernetes_without_kubespawner_says_what_to_install():
    import spawner.workbench as module

    with pytest.raises(ImportError, match="pip install jupyterhub-kubespawner"):
        module.KubeWorkbenchSpawner  # noqa: B018 - the lazy attribute the entry point names


def test_the_hubs_kubernetes_spawner_has_every_layer_before_the_base():
    from spawner.userdata import UserDataSpawnerMixin
    from spawner.workbench import WorkbenchSpawnerMixin, kube_workbench_spawner_class

    cls = kube_workbench_spawner_class(StandInKubeSpawner)
    order = [cls.__mro__.index(layer) for layer in
             (WorkbenchSpawnerMixin, UserDataSpawnerMixin, KubePlaygroundMixin, StandInKubeSpawner)]
    assert order == sorted(order)
    assert cls().install_dashboards is False, "the server's image holds the dashboards"
