"""deploy/Dockerfile: its shape, and its exact ENTRYPOINT + CMD run against its built-in config.

hadolint lints the file in `make lint`; no Docker engine is available, so these tests prove what can
be proved without one: the command line the image runs is valid and serves the probes.
"""

from __future__ import annotations

import asyncio
import signal
import tomllib
from fnmatch import fnmatch

import aiohttp

from tests.deploy import DEPLOY, REPO, container_env, parse_dockerfile, stage_config, start_container

OCI_LABELS = ("title", "description", "version", "licenses", "source")


def test_image_is_multi_stage_non_root_and_read_only_friendly():
    df = parse_dockerfile()
    assert len(df.stages) >= 2, "build tools stay in a build stage"
    [user] = df.final("USER")
    uid, _, gid = user.partition(":")
    assert uid.isdigit() and int(uid) != 0, "a numeric non-root UID, so runAsNonRoot can verify it"
    assert gid.isdigit() and int(gid) != 0
    assert df.final("HEALTHCHECK") == [], "probes belong to Kubernetes"
    assert df.final("RUN") == [], "the runtime stage only copies: no package manager, no shell steps"
    env = df.env
    assert env["PYTHONDONTWRITEBYTECODE"] == "1", "no .pyc writes on a read-only root filesystem"
    assert env["HOME"] == env["TMPDIR"] == "/tmp", "the only writable place is the tmp volume"
    labels = " ".join(df.final("LABEL"))
    for name in OCI_LABELS:
        assert f"org.opencontainers.image.{name}=" in labels


def test_entrypoint_is_the_console_script_and_cmd_names_a_shipped_config():
    df = parse_dockerfile()
    assert df.exec_form("ENTRYPOINT") == ["sidecar"]
    scripts = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["scripts"]
    assert scripts["sidecar"] == "sidecar.cli:main"
    cmd = df.exec_form("CMD")
    assert cmd[0] == "serve"
    config_path = cmd[cmd.index("--config") + 1]
    source = df.copies[config_path]
    assert (REPO / source).is_file()
    ignore = (DEPLOY / "Dockerfile.dockerignore").read_text().splitlines()
    assert f"!{source}" in ignore, "the build context must include the config the image copies"


def test_every_data_file_of_the_package_reaches_the_image():
    """The image installs the package non-editable (tests run editable and would not notice): every
    non-Python file under sidecar/ must sit in a package and match its package-data globs."""
    package_data = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"]
    for path in (REPO / "sidecar").rglob("*"):
        if not path.is_file() or path.suffix in (".py", ".pyc") or "__pycache__" in path.parts:
            continue
        assert (path.parent / "__init__.py").is_file(), f"{path}: its directory is not a package"
        package = ".".join(path.parent.relative_to(REPO).parts)
        globs = [*package_data.get(package, []), *package_data.get("*", [])]
        assert any(fnmatch(path.name, g) for g in globs), f"{path}: not in [tool.setuptools.package-data]"


async def test_exact_entrypoint_and_cmd_start_and_pass_the_probes(tmp_path, upstream):
    df = parse_dockerfile()
    argv = df.exec_form("ENTRYPOINT") + df.exec_form("CMD")
    config_path = argv[argv.index("--config") + 1]
    mount = config_path.rsplit("/", 1)[0]
    staged = stage_config((REPO / df.copies[config_path]).read_text(), upstream.url)
    assert set(staged.ports) == {8080, 9090}, "the built-in config serves the ports the image EXPOSEs"
    assert df.final("EXPOSE") == ["8080 9090"]
    (tmp_path / "config.yaml").write_text(staged.text)
    sp = await start_container(argv, container_env({}), {mount: tmp_path})
    try:
        admin = f"http://127.0.0.1:{staged.ports[9090]}"
        proxy = f"http://127.0.0.1:{staged.ports[8080]}"
        async with aiohttp.ClientSession() as s:
            for probe in ("/readyz", "/healthz"):
                async with s.get(admin + probe) as r:
                    assert r.status == 200, probe
            async with s.post(proxy + "/v1/chat/completions", data=b"{}") as r:
                assert r.status == 200
        assert [r.raw_path for r in upstream.received] == ["/v1/chat/completions"]
    finally:
        sp.proc.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(sp.proc.wait(), 10) == 0
