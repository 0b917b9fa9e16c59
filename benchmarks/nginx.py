"""nginx in two roles: the fixed-JSON upstream, and the reference reverse proxy the sidecar is compared to.

Both run in the foreground (`daemon off`) with a throwaway prefix and config, on loopback only.
"""

from __future__ import annotations

from pathlib import Path

from benchmarks.payloads import RESPONSE_JSON

__all__ = ["json_upstream_conf", "nginx_argv", "reverse_proxy_conf"]

_COMMON = """\
worker_processes 1;
daemon off;
pid {prefix}/nginx.pid;
error_log {prefix}/error.log warn;
events {{ worker_connections 8192; }}
http {{
  access_log off;
  client_body_temp_path {prefix}/client_body;
  proxy_temp_path {prefix}/proxy;
  fastcgi_temp_path {prefix}/fastcgi;
  uwsgi_temp_path {prefix}/uwsgi;
  scgi_temp_path {prefix}/scgi;
  keepalive_requests 10000000;
  keepalive_timeout 75s;
{body}
}}
"""


def json_upstream_conf(prefix: Path, port: int) -> str:
    """Answers every request (any method) with the same ~1 KB chat completion."""
    body = f"""\
  server {{
    listen 127.0.0.1:{port} backlog=4096;
    location / {{
      default_type application/json;
      return 200 '{RESPONSE_JSON.decode()}';
    }}
  }}"""
    return _COMMON.format(prefix=prefix, body=body)


def reverse_proxy_conf(prefix: Path, port: int, json_port: int, sse_port: int) -> str:
    """A plain reverse proxy: same two routes as the sidecar, unbuffered, keep-alive upstreams."""
    proxied = """\
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_buffering off;"""
    body = f"""\
  upstream json_upstream {{ server 127.0.0.1:{json_port}; keepalive 256; keepalive_requests 10000000; }}
  upstream sse_upstream {{ server 127.0.0.1:{sse_port}; keepalive 256; keepalive_requests 10000000; }}
  server {{
    listen 127.0.0.1:{port} backlog=4096;
    location /v1/ {{
      proxy_pass http://json_upstream;
{proxied}
    }}
    location /stream/ {{
      proxy_pass http://sse_upstream/;
{proxied}
    }}
  }}"""
    return _COMMON.format(prefix=prefix, body=body)


def nginx_argv(prefix: Path, conf_text: str) -> list[str]:
    prefix.mkdir(parents=True, exist_ok=True)
    prefix.chmod(0o755)  # workers drop to an unprivileged user when started as root
    conf = prefix / "nginx.conf"
    conf.write_text(conf_text)
    return ["nginx", "-p", str(prefix), "-e", str(prefix / "error.log"), "-c", str(conf)]
