"""The benchmark harness runs end to end and every stream it relays is byte-identical.

Never a timing assertion: figures on a shared machine are noise for a test. nginx and wrk are
used when installed (the JSON upstream, the reference proxy, the wrk pass) and skipped otherwise.
"""

from __future__ import annotations

import shutil

import pytest

from benchmarks.report import render
from benchmarks.suite import DIRECT, NGINX, SIDECAR, Options, run


@pytest.mark.timeout(120)
def test_benchmark_smoke_runs_and_streams_are_byte_identical():
    lines: list[str] = []
    opts = Options.smoke_test()
    opts.log = lines.append
    results = run(opts)

    expected = [DIRECT, NGINX, SIDECAR] if shutil.which("nginx") else [DIRECT, SIDECAR]
    assert results.targets == expected
    assert results.streams, "no streaming scenario ran"
    for scenario, per_target in results.streams.items():
        assert set(per_target) == set(expected), scenario
        for target, samples in per_target.items():
            for sample in samples:
                assert sample.identical, (scenario, target, sample)
                assert sample.failed == 0
    assert results.memory[SIDECAR].idle_mib > 0
    if shutil.which("nginx") and shutil.which("wrk"):
        (per_target,) = results.nonstream.values()
        assert set(per_target) == set(expected)
        assert all(s.errors == 0 and s.rps > 0 for samples in per_target.values() for s in samples)
    table = render(results, "smoke")
    assert "byte-identical" in table
