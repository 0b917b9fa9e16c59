"""The deploy/ files read the way Docker and Kubernetes read them, and run the way they would run.

No container engine or cluster is available in CI, so a "container" here is the installed `sidecar`
console script started with the image's ENTRYPOINT + CMD (or the manifest's command/args), the
image's ENV plus the manifest's env and nothing else, and the mounted files written to a temp dir.
Two translations stand in for what a runtime does and are the only differences: container paths map
to that temp dir, and listen ports map to free host ports (as `docker run -p` would), with every
upstream pointed at a local test server because CI has no route to the providers.
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import socket
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from sidecar.config import DEFAULT_ROUTES, parse_host_port
from tests.process import SidecarProcess, start_process

REPO = Path(__file__).resolve().parents[1]
DEPLOY = REPO / "deploy"
DOCKERFILE = DEPLOY / "Dockerfile"
VENV_IN_IMAGE = "/opt/venv"


@dataclass
class Dockerfile:
    """Instructions per build stage, continuation lines joined and comments dropped."""

    stages: list[list[tuple[str, str]]] = field(default_factory=list)

    def final(self, instruction: str) -> list[str]:
        return [args for name, args in self.stages[-1] if name == instruction]

    def exec_form(self, instruction: str) -> list[str]:
        """The JSON (exec) form of the final stage's last ENTRYPOINT or CMD; a shell form fails."""
        args = self.final(instruction)[-1]
        value = json.loads(args)
        assert isinstance(value, list) and all(isinstance(v, str) for v in value), args
        return value

    @property
    def env(self) -> dict[str, str]:
        env: dict[str, str] = {}
        for args in self.final("ENV"):
            for item in shlex.split(args):
                key, _, value = item.partition("=")
                env[key] = value
        return env

    @property
    def copies(self) -> dict[str, str]:
        """Destination -> source of the final stage's COPY lines from the build context."""
        out = {}
        for args in self.final("COPY"):
            parts = args.split()
            if not parts[0].startswith("--"):
                out[parts[-1]] = parts[0]
        return out


def parse_dockerfile(path: Path = DOCKERFILE) -> Dockerfile:
    parsed = Dockerfile()
    logical = ""
    for raw in path.read_text().splitlines():
        line = raw.strip()
        if not logical and (not line or line.startswith("#")):
            continue
        if line.startswith("#"):
            continue  # a comment inside a continued instruction
        if line.endswith("\\"):
            logical += line[:-1] + " "
            continue
        logical += line
        name, _, args = logical.partition(" ")
        logical = ""
        if name.upper() == "FROM":
            parsed.stages.append([])
        elif parsed.stages:
            parsed.stages[-1].append((name.upper(), args.strip()))
    return parsed


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Staged:
    """A config rewritten for the test host, and its listen port -> host port map."""

    text: str
    ports: dict[int, int]


def stage_config(text: str, upstream_url: str) -> Staged:
    """`text` with its listen ports mapped to free host ports and every upstream to `upstream_url`."""
    data: dict[str, Any] = yaml.safe_load(text) or {}
    ports: dict[int, int] = {}
    listen = data.setdefault("listen", {})
    for key, default in (("proxy", "127.0.0.1:8080"), ("admin", "127.0.0.1:9090")):
        host, port = parse_host_port(listen.get(key, default))
        ports[port] = free_port()
        listen[key] = f"{host}:{ports[port]}"
    routes = data.get("routes") or [r.model_dump(mode="json") for r in DEFAULT_ROUTES]
    data["routes"] = [{**route, "upstream": upstream_url} for route in routes]
    return Staged(text=yaml.safe_dump(data, sort_keys=False), ports=ports)


def map_path(value: str, mounts: dict[str, Path]) -> str:
    """A container path -> where the test wrote it; other strings unchanged."""
    for inside, outside in mounts.items():
        if value == inside or value.startswith(inside.rstrip("/") + "/"):
            return str(outside) + value[len(inside.rstrip("/")) :]
    return value


def container_env(extra: dict[str, str]) -> dict[str, str]:
    """The image's ENV (its venv mapped to ours) plus the manifest's env: nothing from the host."""
    venv_bin = str(Path(sys.executable).parent)
    env = {}
    for key, value in parse_dockerfile().env.items():
        value = value.replace("${PATH}", os.defpath).replace(f"{VENV_IN_IMAGE}/bin", venv_bin)
        env[key] = value
    env.update(extra)
    return env


async def start_container(argv: list[str], env: dict[str, str], mounts: dict[str, Path]) -> SidecarProcess:
    """Start the command as the image would: argv[0] looked up on the container's PATH."""
    executable = shutil.which(argv[0], path=env["PATH"])
    assert executable is not None, f"{argv[0]!r} is not on the image's PATH {env['PATH']}"
    assert Path(executable).parent == Path(sys.executable).parent, executable
    argv = [executable, *(map_path(a, mounts) for a in argv[1:])]
    env = {k: map_path(v, mounts) for k, v in env.items()}
    return await start_process(argv, env)


# --- Kubernetes manifests -------------------------------------------------------------------------

K8S = DEPLOY / "kubernetes"
SIDECAR_CONTAINER = "llm-sidecar"
Resource = dict[str, Any]


def rendered() -> dict[str, list[Resource]]:
    """Every deployable unit under deploy/kubernetes, as the objects it creates."""
    from tests.kustomize import build, load_documents

    return {
        "examples/native-sidecar.yaml": load_documents(K8S / "examples" / "native-sidecar.yaml"),
        "examples/inject": build(K8S / "examples" / "inject"),
        "gateway": build(K8S / "gateway"),
    }


def find(resources: list[Resource], kind: str, name: str | None = None) -> Resource:
    [hit] = [r for r in resources if r["kind"] == kind and name in (None, r["metadata"]["name"])]
    return hit


@dataclass
class SidecarPod:
    """A pod template that runs the sidecar, and what the sidecar container needs from around it."""

    unit: str
    resources: list[Resource]
    deployment: Resource

    @property
    def spec(self) -> Resource:
        return self.deployment["spec"]["template"]["spec"]  # type: ignore[no-any-return]

    @property
    def container(self) -> Resource:
        everything = self.spec.get("initContainers", []) + self.spec["containers"]
        [container] = [c for c in everything if c["name"] == SIDECAR_CONTAINER]
        return container  # type: ignore[no-any-return]

    @property
    def native(self) -> bool:
        return any(c["name"] == SIDECAR_CONTAINER for c in self.spec.get("initContainers", []))

    @property
    def argv(self) -> list[str]:
        """What the runtime executes: `command` replaces ENTRYPOINT, `args` replaces CMD."""
        df = parse_dockerfile()
        if "command" in self.container:
            return [*self.container["command"], *self.container.get("args", [])]
        return df.exec_form("ENTRYPOINT") + self.container.get("args", df.exec_form("CMD"))

    @property
    def config_path(self) -> str:
        argv = self.argv
        return argv[argv.index("--config") + 1]

    def mount_of(self, path: str) -> tuple[Resource, Resource]:
        """The volumeMount holding container path `path`, and the volume it mounts."""
        [mount] = [
            m for m in self.container["volumeMounts"] if path.startswith(m["mountPath"].rstrip("/") + "/")
        ]
        [volume] = [v for v in self.spec["volumes"] if v["name"] == mount["name"]]
        return mount, volume

    @property
    def config_key(self) -> str:
        """The ConfigMap key the config path names (keys are flat: no directories below the mount)."""
        mount, _ = self.mount_of(self.config_path)
        return self.config_path[len(mount["mountPath"].rstrip("/")) + 1 :]

    def config_map_data(self) -> dict[str, str]:
        _, volume = self.mount_of(self.config_path)
        return find(self.resources, "ConfigMap", volume["configMap"]["name"])["data"]  # type: ignore[no-any-return]

    def container_port(self, port: int | str) -> int:
        if isinstance(port, int):
            return port
        [number] = [p["containerPort"] for p in self.container["ports"] if p["name"] == port]
        return int(number)

    @property
    def env(self) -> dict[str, str]:
        return {e["name"]: e["value"] for e in self.container.get("env", []) if "value" in e}


def sidecar_pods() -> list[SidecarPod]:
    pods = []
    for unit, resources in rendered().items():
        for deployment in (r for r in resources if r["kind"] == "Deployment"):
            pod = SidecarPod(unit, resources, deployment)
            try:
                pod.container  # noqa: B018 - only pods that run the sidecar
            except ValueError:
                continue
            pods.append(pod)
    return pods
