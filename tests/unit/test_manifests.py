"""deploy/kubernetes: schema-valid, rendered the way kustomize renders it, and consistent with the
image and the sidecar's config (ports, probes, mounts, drain time, security settings)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml
from kubernetes_validate.utils import latest_version
from yarl import URL

from sidecar import __version__
from sidecar.config import load_config, parse_host_port
from sidecar.routing import Router
from tests.deploy import K8S, SidecarPod, find, parse_dockerfile, rendered, sidecar_pods
from tests.kustomize import build, load_documents

# The oldest Kubernetes each unit supports: native sidecars (restartPolicy on an init container) are
# on by default from 1.29; the gateway's preStop `sleep` action from 1.30.
MIN_VERSION = {"examples/native-sidecar.yaml": "1.29", "examples/inject": "1.29", "gateway": "1.30"}
# Custom resources have no schema in kubernetes-validate; their fields are checked below.
CRDS = {"PodMonitor"}
APP_BASE_URL = "OPENAI_BASE_URL"


PODS = sidecar_pods()


def _ids(pods: list[SidecarPod]) -> list[str]:
    return [p.unit for p in pods]


@pytest.mark.parametrize("unit", sorted(MIN_VERSION))
@pytest.mark.parametrize("which", ["minimum", "latest"])
def test_rendered_objects_validate_against_kubernetes_schemas(unit, which):
    version = MIN_VERSION[unit] if which == "minimum" else latest_version()
    resources = rendered()[unit]
    assert resources
    for resource in resources:
        kubernetes_validate.validate(resource, version, strict=True)


def test_every_yaml_file_under_deploy_kubernetes_is_checked():
    """Each file is a kustomization, a patch or generated config a kustomization uses, or a resource
    one of the rendered units (or the PodMonitor component) contains: none escapes validation."""
    covered: set[Path] = set()
    for kust_path in K8S.rglob("kustomization.yaml"):
        covered.add(kust_path)
        kust = yaml.safe_load(kust_path.read_text())
        for patch in kust.get("patches", []):
            covered.add((kust_path.parent / patch["path"]).resolve())
        for generator in kust.get("configMapGenerator", []):
            for entry in generator["files"]:
                covered.add((kust_path.parent / entry.rpartition("=")[2]).resolve())
        for entry in kust.get("resources", []):
            covered.add((kust_path.parent / entry).resolve())
    covered.add((K8S / "examples" / "native-sidecar.yaml").resolve())
    every = {p.resolve() for p in K8S.rglob("*.yaml")}
    assert every - {p.resolve() for p in covered} == set()
    # ...and every kustomization is rendered by a test: directly, or as a component of one.
    kinds = {
        p.parent.relative_to(K8S).as_posix(): yaml.safe_load(p.read_text())["kind"]
        for p in K8S.rglob("kustomization.yaml")
    }
    assert {u for u, k in kinds.items() if k == "Kustomization"} == {"examples/inject", "gateway"}
    assert {u for u, k in kinds.items() if k == "Component"} == {
        "components/llm-sidecar",
        "components/scrape-annotations",
        "components/podmonitor",
    }


def test_schema_validation_is_strict_enough_to_catch_a_typo():
    deployment = find(rendered()["gateway"], "Deployment")
    deployment["spec"]["template"]["spec"]["containers"][0]["readinessProbe"]["httpget"] = {}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(deployment, "1.30", strict=True)


def test_the_component_renders_exactly_the_native_sidecar_example():
    def key(r: dict[str, Any]) -> tuple[str, str]:
        return r["kind"], r["metadata"]["name"]

    example = load_documents(K8S / "examples" / "native-sidecar.yaml")
    assert sorted(build(K8S / "examples" / "inject"), key=key) == sorted(example, key=key)
    [app] = load_documents(K8S / "examples" / "inject" / "app.yaml")
    [container] = app["spec"]["template"]["spec"]["containers"]
    assert APP_BASE_URL not in [e["name"] for e in container["env"]], "the app's own manifest is untouched"


def test_podmonitor_selects_every_sidecar_pod_by_label_and_admin_port_name():
    [monitor] = load_documents(K8S / "components" / "podmonitor" / "podmonitor.yaml")
    assert monitor["apiVersion"] == "monitoring.coreos.com/v1" and monitor["kind"] in CRDS
    selector = monitor["spec"]["selector"]["matchLabels"]
    [endpoint] = monitor["spec"]["podMetricsEndpoints"]
    assert endpoint["path"] == "/metrics"
    for pod in PODS:
        labels = pod.deployment["spec"]["template"]["metadata"]["labels"]
        assert selector.items() <= labels.items(), pod.unit
        assert pod.container_port(endpoint["port"]) == _admin_port(pod)


def _config(pod: SidecarPod, tmp_path: Path) -> Any:
    """The sidecar config the pod mounts, validated exactly as the sidecar loads it."""
    key = pod.config_key
    path = tmp_path / key
    path.write_text(pod.config_map_data()[key])
    return load_config(path, env=pod.env)


def _admin_port(pod: SidecarPod) -> int:
    data = yaml.safe_load(pod.config_map_data()[pod.config_key])
    return parse_host_port(data["listen"]["admin"])[1]


@pytest.mark.parametrize("pod", PODS, ids=_ids(PODS))
def test_sidecar_container_matches_the_image_and_its_config(pod, tmp_path):
    container, spec = pod.container, pod.spec
    df = parse_dockerfile()
    uid, _, gid = df.final("USER")[0].partition(":")
    assert container["image"] == f"llm-sidecar:{__version__}"
    assert f"VERSION={__version__}" in df.final("ARG")

    security = container["securityContext"]
    assert security["runAsNonRoot"] is True
    assert (security["runAsUser"], security["runAsGroup"]) == (int(uid), int(gid))
    assert security["readOnlyRootFilesystem"] is True
    assert security["allowPrivilegeEscalation"] is False
    assert security["capabilities"] == {"drop": ["ALL"]}
    assert security["seccompProfile"] == {"type": "RuntimeDefault"}
    assert "cpu" in container["resources"]["requests"] and "memory" in container["resources"]["limits"]

    # The config: mounted as a whole directory (a subPath mount is never updated: no hot reload).
    mount, volume = pod.mount_of(pod.config_path)
    assert "subPath" not in mount and mount.get("readOnly") is True
    assert "configMap" in volume
    config = _config(pod, tmp_path)
    tmp_mount, tmp_volume = pod.mount_of(df.env["TMPDIR"] + "/x")
    assert "emptyDir" in tmp_volume and not tmp_mount.get("readOnly"), "the one writable place"

    # Ports and probes: the admin listener is on all interfaces (the kubelet probes the pod IP).
    admin_host, admin_port = parse_host_port(config.listen.admin)
    assert admin_host in ("0.0.0.0", "::")
    probes = {
        name: container[name]["httpGet"] for name in ("startupProbe", "readinessProbe", "livenessProbe")
    }
    assert {name: get["path"] for name, get in probes.items()} == {
        "startupProbe": "/readyz",
        "readinessProbe": "/readyz",
        "livenessProbe": "/healthz",
    }
    for get in probes.values():
        assert pod.container_port(get["port"]) == admin_port
    annotations = pod.deployment["spec"]["template"]["metadata"].get("annotations", {})
    if "prometheus.io/port" in annotations:
        assert int(annotations["prometheus.io/port"]) == admin_port

    # Termination: the grace period covers preStop, the drain, and a margin.
    pre_stop = container.get("lifecycle", {}).get("preStop", {}).get("sleep", {}).get("seconds", 0)
    grace = spec.get("terminationGracePeriodSeconds", 30)
    assert grace >= pre_stop + config.shutdown.drain_seconds + 5


@pytest.mark.parametrize("pod", [p for p in PODS if p.native], ids=_ids([p for p in PODS if p.native]))
def test_native_sidecar_serves_the_app_on_loopback(pod, tmp_path):
    assert pod.container["restartPolicy"] == "Always"
    config = _config(pod, tmp_path)
    assert parse_host_port(config.listen.proxy)[0] == "127.0.0.1", "only the pod's own app may use it"
    [app] = pod.spec["containers"]
    base = URL(next(e["value"] for e in app["env"] if e["name"] == APP_BASE_URL))
    assert (base.host, base.port) == parse_host_port(config.listen.proxy)
    assert Router(config.routes).match(base.path + "/chat/completions") is not None


def test_gateway_service_hpa_and_pdb_point_at_the_gateway(tmp_path):
    [pod] = [p for p in PODS if p.unit == "gateway"]
    labels = pod.deployment["spec"]["template"]["metadata"]["labels"]
    config = _config(pod, tmp_path)
    service = find(pod.resources, "Service")
    [port] = service["spec"]["ports"]
    assert pod.container_port(port["targetPort"]) == parse_host_port(config.listen.proxy)[1]
    assert service["spec"]["selector"].items() <= labels.items()
    pdb = find(pod.resources, "PodDisruptionBudget")
    assert pdb["spec"]["selector"]["matchLabels"].items() <= labels.items()
    hpa = find(pod.resources, "HorizontalPodAutoscaler")
    assert hpa["spec"]["scaleTargetRef"]["name"] == pod.deployment["metadata"]["name"]
    assert hpa["spec"]["minReplicas"] >= 2 and hpa["spec"]["maxReplicas"] > hpa["spec"]["minReplicas"]
    assert pod.deployment["spec"]["strategy"]["rollingUpdate"]["maxUnavailable"] == 0
