"""Build the two images, ``profiler-workbench-user`` and ``profiler-workbench-hub``, tagged with the package's
version, with podman: ``python deploy/images/build_images.py`` (``make images`` runs it).

1. The base. With ``--base IMAGE`` (e.g. ``docker.io/library/python:3.11-slim-bookworm`` where a registry is
   reachable) that image is used as it is. Without it, a Debian bookworm ``minbase`` with python3, venv and CA
   certificates is made with ``debootstrap`` from the Debian mirror apt already uses, because no image registry
   can be reached on the machines this project is built on; the root filesystem's tarball is kept in
   ``/var/cache/profiler-workbench/`` and the imported image in podman's store, so only the first run pays for it.
2. The wheel, built from a copy of the checkout (``build/`` leftovers of earlier builds cannot slip in) with a fixed
   SOURCE_DATE_EPOCH: unchanged code gives a byte-identical wheel, so podman's layer cache holds.
3. A build context of its own: the wheel, the requirements read from its metadata (a layer of their own, so a code
   change reinstalls only the wheel), the proxy's package.json and lock, the entrypoint.
4. ``podman build`` of each Containerfile with ``--build-arg BASE_IMAGE``.

Standard library only: it runs with any Python 3.11+, the project's venv giving it ``build`` when present.
Needs root (debootstrap; podman's rootful store) and the commands podman, runc and debootstrap.
"""

from __future__ import annotations

import argparse
import email.parser
import importlib.util
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO_ROOT = HERE.parent.parent
CACHE_DIR = Path(os.environ.get("WORKBENCH_IMAGE_CACHE", "/var/cache/profiler-workbench"))
SUITE = "bookworm"
BASE_TAG = f"localhost/profiler-workbench-base:{SUITE}"
BASE_TARBALL = CACHE_DIR / f"debian-{SUITE}-minbase-python3.tar"
# What the official python images hold and the Containerfiles count on: python3 with venv, and CA certificates.
BASE_PACKAGES = ("python3", "python3-venv", "ca-certificates")
USER_IMAGE = "profiler-workbench-user"  # the names spawner/kube.py and deploy/kubernetes/values.yaml use
HUB_IMAGE = "profiler-workbench-hub"
# The installed wheel's version tags both images; the same date gives the same wheel bytes (see module docstring).
SOURCE_DATE_EPOCH = "1700000000"
NOT_COPIED = shutil.ignore_patterns(".git", ".venv", "node_modules", "build", "dist", "*.egg-info", "__pycache__",
                                    "test-artifacts", ".pytest_cache", ".hypothesis", ".state")
FONTS = "user_server/jupyter_data/voila/templates/workbench/static/fontawesome/css/all.min.css"
# Measured on this project's machines: podman's default runtime, crun, fails here ("cgroups in hybrid mode not
# supported") while runc works; and the container's default open-files and processes limits are refused, so they
# are given explicitly. Both are harmless where the defaults work.
PODMAN_GLOBAL = ("--runtime", "runc")
ULIMITS = ("--ulimit", "nofile=1024:1024", "--ulimit", "nproc=1024:1024")
HOST_CA = Path("/etc/ssl/certs/ca-certificates.crt")
CONTAINER_CA = "/run/host-ca.crt"


def log(message: str) -> None:
    print(f"[images] {message}", flush=True)


def run(*command: str | Path, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run([str(part) for part in command], check=True, **kwargs)


def podman(*args: str | Path, **kwargs) -> subprocess.CompletedProcess:
    return run("podman", *PODMAN_GLOBAL, *args, **kwargs)


def image_exists(tag: str) -> bool:
    return subprocess.run(["podman", *PODMAN_GLOBAL, "image", "exists", tag]).returncode == 0


def debian_mirror() -> str:
    """The Debian mirror apt already uses here (a deb822 or one-line source), else Debian's own redirector."""
    sources = [Path("/etc/apt/sources.list"), *sorted(Path("/etc/apt/sources.list.d").glob("*"))]
    for path in sources:
        try:
            text = path.read_text()
        except OSError:
            continue
        for match in re.finditer(r"(?m)^(?:URIs:\s*|deb\s+(?:\[[^\]]*\]\s+)?)(\S+/debian)/?\s", text):
            return match.group(1)
    return "http://deb.debian.org/debian"


def make_base() -> str:
    """The debootstrap-made base: imported from the cached tarball, which is made first when missing."""
    if image_exists(BASE_TAG):
        log(f"base {BASE_TAG}: in podman's store")
        return BASE_TAG
    if not BASE_TARBALL.is_file():
        mirror = debian_mirror()
        log(f"base: debootstrap {SUITE} from {mirror} (once; cached in {BASE_TARBALL})")
        CACHE_DIR.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(dir=CACHE_DIR, prefix="rootfs-") as work:
            rootfs = Path(work) / "rootfs"
            run("debootstrap", "--variant=minbase", f"--include={','.join(BASE_PACKAGES)}", SUITE, rootfs, mirror)
            # The official images follow security and point updates; so does this base (apt upgrade in builds).
            (rootfs / "etc/apt/sources.list").write_text(
                f"deb {mirror} {SUITE} main\n"
                f"deb {mirror} {SUITE}-updates main\n"
                f"deb {mirror.removesuffix('/debian')}/debian-security {SUITE}-security main\n")
            shutil.rmtree(rootfs / "var/lib/apt/lists", ignore_errors=True)
            (rootfs / "var/lib/apt/lists/partial").mkdir(parents=True)
            for deb in (rootfs / "var/cache/apt/archives").glob("*.deb"):
                deb.unlink()
            partial = BASE_TARBALL.with_suffix(".partial")
            run("tar", "--numeric-owner", "-C", rootfs, "-cf", partial, ".")
            partial.rename(BASE_TARBALL)  # whole or absent: an interrupted run starts over
    log(f"base: podman import {BASE_TARBALL}")
    podman("import", "--change", "CMD=/bin/bash", BASE_TARBALL, BASE_TAG, stdout=subprocess.DEVNULL)
    return BASE_TAG


def build_wheel(out: Path) -> Path:
    if not (REPO_ROOT / FONTS).is_file():
        raise SystemExit(f"{FONTS} is missing: `make install` copies Font Awesome there from npm first")
    with tempfile.TemporaryDirectory(prefix="workbench-wheel-") as work:
        source = Path(work) / "source"
        shutil.copytree(REPO_ROOT, source, ignore=NOT_COPIED)
        env = {**os.environ, "SOURCE_DATE_EPOCH": SOURCE_DATE_EPOCH}
        if importlib.util.find_spec("build") and importlib.util.find_spec("setuptools"):  # the project's venv
            command = [sys.executable, "-m", "build", "--wheel", "--no-isolation", "--outdir", str(out), str(source)]
        else:
            command = [sys.executable, "-m", "pip", "wheel", "--no-deps", "--wheel-dir", str(out), str(source)]
        built = subprocess.run(command, env=env, cwd=work, capture_output=True, text=True)
        if built.returncode != 0:
            raise SystemExit(f"building the wheel failed:\n{built.stdout[-3000:]}{built.stderr[-3000:]}")
    (wheel,) = out.glob("profiler_workbench-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        if FONTS not in archive.namelist():
            raise SystemExit(f"{wheel.name} lacks {FONTS}: the Voila template would load its icons from nowhere")
    return wheel


def requirements(wheel: Path, extra: str | None) -> list[str]:
    """The wheel's Requires-Dist: its main dependencies (extra=None) or one extra's own. Environment markers are
    kept for pip in the image to judge (its Python is not necessarily this one)."""
    with zipfile.ZipFile(wheel) as archive:
        (name,) = [n for n in archive.namelist() if n.endswith(".dist-info/METADATA")]
        metadata = email.parser.Parser().parsestr(archive.read(name).decode())
    found = []
    for line in metadata.get_all("Requires-Dist") or []:
        spec, _, marker = (part.strip() for part in line.partition(";"))
        wanted = re.fullmatch(r'extra\s*==\s*"([^"]+)"', marker)
        if "extra" in marker and not wanted:
            raise SystemExit(f"cannot place {line!r} (an extra combined with other markers)")
        if (wanted.group(1) if wanted else None) != extra:
            continue
        found.append(spec if wanted else line)
    return found


def make_context(folder: Path) -> str:
    """The build context both Containerfiles use; returns the version (the images' tag)."""
    wheel = build_wheel(folder / "wheel")
    version = wheel.name.split("-")[1]
    (folder / "requirements.txt").write_text("\n".join(requirements(wheel, None)) + "\n")
    (folder / "requirements-kubernetes.txt").write_text("\n".join(requirements(wheel, "kubernetes")) + "\n")
    for name in ("package.json", "package-lock.json"):
        shutil.copy2(REPO_ROOT / name, folder / name)
    shutil.copy2(HERE / "user-entrypoint.py", folder / "user-entrypoint.py")
    return version


def image_id(tag: str) -> str | None:
    found = subprocess.run(["podman", *PODMAN_GLOBAL, "image", "inspect", "--format", "{{.Id}}", tag],
                           capture_output=True, text=True)
    return found.stdout.strip() if found.returncode == 0 else None


def build_image(containerfile: Path, tag: str, base: str, context: Path, no_cache: bool) -> None:
    """Each named stage under a tag of its own (``<image>-<stage>:cache``), then the image. Tagged, the stages'
    layers stay podman's cache; what an earlier build tagged and this one replaced is removed, so repeated builds
    do not pile up gigabytes of untagged images."""
    args = ["build", "--network", "host", *ULIMITS, "--build-arg", f"BASE_IMAGE={base}", "--file", containerfile,
            "--layers"]
    if HOST_CA.is_file():
        # pip inside a build fails TLS verification here without the host's CA bundle. Mounted beside, never over,
        # /etc/ssl/certs: the base's ca-certificates package owns that folder.
        args += ["--volume", f"{HOST_CA}:{CONTAINER_CA}:ro", "--build-arg", f"CA_BUNDLE={CONTAINER_CA}"]
    if no_cache:
        args.append("--no-cache")
    name = tag.rpartition(":")[0]
    stages = re.findall(r"(?im)^FROM\s+\S+\s+AS\s+(\S+)\s*$", containerfile.read_text())
    targets = [(stage, f"{name}-{stage}:cache") for stage in stages] + [(None, tag)]
    replaced = {image_id(target) for _, target in targets} - {None}
    for stage, target in targets:
        podman(*args, *(("--target", stage) if stage else ()), "--tag", target, context)
    for old in replaced - {image_id(target) for _, target in targets}:
        # refused while a container still uses it: then it stays, harmlessly
        subprocess.run(["podman", *PODMAN_GLOBAL, "rmi", old], capture_output=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Build the users' server and hub images with podman.")
    parser.add_argument("--base", help="base image to build FROM (default: the debootstrap-made Debian base)")
    parser.add_argument("--only", choices=["user", "hub"], help="build one image only")
    parser.add_argument("--no-cache", action="store_true", help="rebuild every layer (the base is still reused)")
    args = parser.parse_args(argv)
    if os.geteuid() != 0:
        raise SystemExit("Building the images needs root: debootstrap, and podman's rootful store.")
    missing = [tool for tool in ("podman", "runc") + (() if args.base else ("debootstrap",)) if not shutil.which(tool)]
    if missing:
        raise SystemExit(f"Missing: {' '.join(missing)} (apt-get install -y podman runc debootstrap)")
    started = time.monotonic()
    base = args.base or make_base()
    log(f"base ready in {time.monotonic() - started:.0f} s")
    with tempfile.TemporaryDirectory(prefix="workbench-images-") as work:
        context = Path(work)
        version = make_context(context)
        for kind, image in (("user", USER_IMAGE), ("hub", HUB_IMAGE)):
            if args.only in (None, kind):
                began = time.monotonic()
                build_image(HERE / f"{kind.replace('user', 'user-server')}.Containerfile", f"{image}:{version}",
                            base, context, args.no_cache)
                log(f"{image}:{version} built in {time.monotonic() - began:.0f} s")
    log(f"done in {time.monotonic() - started:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
