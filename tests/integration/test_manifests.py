"""Each pod that runs the sidecar, started the way the kubelet would start it: the container's
command line and env, its ConfigMap written to the mount path in the kubelet's own layout. Then every
probe the manifest names is hit on the port it names, and the app's base URL reaches the upstream.
"""

from __future__ import annotations

import asyncio
import signal

import aiohttp
import pytest
from yarl import URL

from tests.configmap import ConfigMapVolume
from tests.deploy import SidecarPod, container_env, find, sidecar_pods, stage_config, start_container

PODS = sidecar_pods()
PROBES = ("startupProbe", "readinessProbe", "livenessProbe")


def app_base_url(pod: SidecarPod) -> URL:
    """Where the app sends its requests: its env in the native sidecar, the Service for the gateway."""
    if pod.native:
        [app] = pod.spec["containers"]
        return URL(next(e["value"] for e in app["env"] if e["name"] == "OPENAI_BASE_URL"))
    service = find(pod.resources, "Service")
    [port] = service["spec"]["ports"]
    return URL.build(scheme="http", host="127.0.0.1", port=pod.container_port(port["targetPort"]), path="/v1")


@pytest.mark.parametrize("pod", PODS, ids=[p.unit for p in PODS])
async def test_pod_serves_its_probes_and_the_app_as_the_manifest_says(pod, tmp_path, upstream):
    mount, _ = pod.mount_of(pod.config_path)
    key = pod.config_key
    staged = stage_config(pod.config_map_data()[key], upstream.url)
    ConfigMapVolume(tmp_path / "mount").publish({**pod.config_map_data(), key: staged.text})
    argv = pod.argv
    sp = await start_container(argv, container_env(pod.env), {mount["mountPath"]: tmp_path / "mount"})
    try:
        async with aiohttp.ClientSession() as s:
            for probe in PROBES:
                get = pod.container[probe]["httpGet"]
                port = staged.ports[pod.container_port(get["port"])]
                async with s.get(f"http://127.0.0.1:{port}{get['path']}") as r:
                    assert r.status == 200, (probe, get)
            base = app_base_url(pod)
            base = base.with_port(staged.ports[base.port])
            async with s.post(f"{base}/chat/completions", data=b'{"model": "gpt-4o"}') as r:
                assert r.status == 200
        assert [r.raw_path for r in upstream.received] == [base.path + "/chat/completions"]
    finally:
        sp.proc.send_signal(signal.SIGTERM)
        grace = pod.spec.get("terminationGracePeriodSeconds", 30)
        assert await asyncio.wait_for(sp.proc.wait(), grace) == 0


async def test_a_configmap_update_reaches_the_running_sidecar(tmp_path, upstream):
    """The deployed command line watches the mounted file: a kubelet-style swap is reloaded at the
    manifest's own poll interval, with no signal and no restart."""
    [pod] = [p for p in PODS if p.unit == "examples/native-sidecar.yaml"]
    mount, _ = pod.mount_of(pod.config_path)
    staged = stage_config(pod.config_map_data()[pod.config_key], upstream.url)
    volume = ConfigMapVolume(tmp_path / "mount")
    volume.publish({pod.config_key: staged.text})
    sp = await start_container(pod.argv, container_env(pod.env), {mount["mountPath"]: volume.root})
    try:
        volume.publish({pod.config_key: staged.text.replace("name: openai", "name: openai-v2")})
        reloaded = await sp.wait_for_event("config_reloaded", timeout=15)
        assert reloaded["trigger"] == "file_changed"
        assert reloaded["changed"] == ["routes"]
    finally:
        sp.proc.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(sp.proc.wait(), 10) == 0
