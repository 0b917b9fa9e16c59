"""`python -m benchmarks run [--quick]`: the whole suite in one command (see benchmarks/README.md)."""

from __future__ import annotations

import argparse
import shlex
import sys
from pathlib import Path

from benchmarks import procs

RESULTS = Path(__file__).with_name("results") / "latest.md"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="sidecar vs nginx: throughput, latency, CPU, memory, streams")
    run.add_argument("--quick", action="store_true", help="1 round of 1 s measurements (~1 minute)")
    run.add_argument("--rounds", type=int, help="rounds of interleaved measurements (default 3)")
    run.add_argument("--seconds", type=float, help="seconds per wrk measurement (default 3)")
    run.add_argument("--no-pin", action="store_true", help="do not pin processes to CPUs")
    run.add_argument("--no-workers", action="store_true", help="skip the --workers 1 vs 2 comparison")
    run.add_argument("--idle-streams", type=int, help="concurrent idle streams for the memory check (1000)")
    run.add_argument(
        "--env", action="append", default=[], metavar="NAME=VALUE", help="extra environment for the sidecar"
    )
    run.add_argument("--output", type=Path, default=RESULTS, help=f"markdown table (default {RESULTS})")
    prof = sub.add_parser("profile", help="py-spy profile of the sidecar under wrk, grouped by component")
    prof.add_argument("--body", choices=("rewrite", "plain"), default="rewrite")
    prof.add_argument("--connections", type=int, default=16)
    prof.add_argument("--seconds", type=float, default=8.0)
    prof.add_argument("--output", type=Path, default=RESULTS.with_name("profile.md"))
    args = parser.parse_args(argv)

    missing = procs.missing_tools()
    if missing:
        names = ", ".join(t.command for t in missing)
        print(f"missing tools: {names}. Install them with:\n  {procs.install_hint(missing)}", file=sys.stderr)
        return 2

    if args.command == "profile":
        from benchmarks.profile import profile

        text = profile(args.body, max(1, args.connections), max(2.0, args.seconds))
        args.output.parent.mkdir(parents=True, exist_ok=True)
        args.output.write_text(text)
        print(text)
        print(f"written to {args.output}", file=sys.stderr)
        return 0

    from benchmarks.report import render
    from benchmarks.suite import Options
    from benchmarks.suite import run as run_suite

    opts = Options.quick() if args.quick else Options()
    if args.rounds is not None:
        opts.rounds = max(1, args.rounds)
    if args.seconds is not None:
        opts.seconds = max(1.0, args.seconds)
    if args.idle_streams is not None:
        opts.idle_streams = max(0, args.idle_streams)
    opts.pin = not args.no_pin
    opts.workers_check = not args.no_workers
    for item in args.env:
        name, sep, value = item.partition("=")
        if not sep:
            parser.error(f"--env expects NAME=VALUE, got {item!r}")
        opts.sidecar_env[name] = value
    opts.log = lambda text: print(text, file=sys.stderr, flush=True)

    results = run_suite(opts)
    command = "python -m benchmarks " + shlex.join(argv if argv is not None else sys.argv[1:])
    table = render(results, command)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(table)
    print(table)
    print(f"written to {args.output}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
