"""The emulator server: which path answers as which provider, the request recorder, the control
endpoints, the fast mode, and the `Emulator` handle tests and the demo use in-process.

Paths (one server plays every provider; point each sidecar route at the matching base):

    POST /v1/chat/completions, GET /v1/models          OpenAI
    POST /openai/deployments/{d}/chat/completions      Azure OpenAI, dated API (?api-version= required)
    POST /openai/v1/chat/completions                   Azure OpenAI "v1 API" (`model` = deployment)
    POST /v1/messages                                  Anthropic
    POST /deepseek[/v1]/chat/completions               DeepSeek, deepseek-reasoner under the R1 rules
    POST /deepseek-thinking[/v1]/chat/completions      DeepSeek's thinking mode (V3.1+/V4 rules)
    POST /litellm[/v1]/chat/completions                a LiteLLM proxy in front of Claude
    POST /vllm[/v1]/chat/completions                   vLLM
    GET|DELETE /_emulator/requests                     the record (JSON) / clear it
"""

from __future__ import annotations

import asyncio
import re
import signal
from collections import deque
from types import TracebackType

import orjson
from aiohttp import web
from aiohttp.typedefs import Middleware

from sidecar.emulator.anthropic import message_events, message_json, messages_handler
from sidecar.emulator.compat import DEEPSEEK, DEEPSEEK_THINKING, LITELLM, VLLM
from sidecar.emulator.content import reply_for
from sidecar.emulator.errors import ProviderError, openai_error_body
from sidecar.emulator.openai import (
    AZURE,
    AZURE_V1,
    OPENAI,
    ChatFlavour,
    ChatPlan,
    Handler,
    chat_chunks,
    chat_completion,
    chat_handler,
    error_response,
    models_handler,
)
from sidecar.emulator.settings import CONFIG, EmulatorConfig, RecordedRequest, Tuning, redact_headers
from sidecar.emulator.sse import write_events

__all__ = ["CHAT_PATHS", "Emulator", "Recorder", "build_app", "serve_emulator"]

# Every chat-completions path and the flavour that answers it.
CHAT_PATHS: dict[str, ChatFlavour] = {
    "/v1/chat/completions": OPENAI,
    "/openai/deployments/{deployment}/chat/completions": AZURE,
    "/openai/v1/chat/completions": AZURE_V1,
    "/deepseek/chat/completions": DEEPSEEK,
    "/deepseek/v1/chat/completions": DEEPSEEK,
    "/deepseek-thinking/chat/completions": DEEPSEEK_THINKING,
    "/deepseek-thinking/v1/chat/completions": DEEPSEEK_THINKING,
    "/litellm/chat/completions": LITELLM,
    "/litellm/v1/chat/completions": LITELLM,
    "/vllm/v1/chat/completions": VLLM,
}
MESSAGES_PATH = "/v1/messages"
CONTROL_PREFIX = "/_emulator/"


class Recorder:
    """Every request received, oldest first, bounded (the oldest are dropped beyond `limit`)."""

    def __init__(self, limit: int) -> None:
        self.records: deque[RecordedRequest] = deque(maxlen=limit)
        self.count = 0  # all requests ever received, recorded or not

    def clear(self) -> None:
        self.records.clear()


RECORDER = web.AppKey("emulator_recorder", Recorder)


def _recording_middleware(recorder: Recorder, record: bool) -> Middleware:
    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        if request.path.startswith(CONTROL_PREFIX):
            return await handler(request)
        recorder.count += 1
        if not record:
            return await handler(request)
        rec = RecordedRequest(
            method=request.method,
            path=request.raw_path.split("?", 1)[0],
            query=request.rel_url.raw_query_string,
            headers=redact_headers(request.headers),
            body=await request.read(),
        )
        recorder.records.append(rec)
        response = await handler(request)
        rec.status = response.status
        return response

    return middleware


async def _list_requests(request: web.Request) -> web.Response:
    records = [r.to_dict() for r in request.app[RECORDER].records]
    return web.Response(body=orjson.dumps(records), content_type="application/json")


async def _clear_requests(request: web.Request) -> web.Response:
    request.app[RECORDER].clear()
    return web.Response(status=204)


async def _health(request: web.Request) -> web.Response:
    return web.Response(body=b'{"status":"ok"}', content_type="application/json")


async def _not_found(request: web.Request) -> web.Response:
    # OpenAI's answer to an unknown path.
    err = ProviderError(f"Invalid URL ({request.method} {request.path})", status=404)
    return error_response(err, openai_error_body)


_STREAM_TRUE = re.compile(rb'"stream"\s*:\s*true')


def _fast_handlers(config: EmulatorConfig) -> tuple[Handler, Handler]:
    """Benchmark mode: no parsing, no validation; the answer is pre-encoded once. Whether to
    stream is read with one regex over the raw bytes."""
    reply = reply_for(b"fast", config.event_count, thinking=False)
    plan = ChatPlan(model="emulator-fast")
    chat_body = orjson.dumps(chat_completion(plan, reply))
    chat_events = tuple(chat_chunks(plan, reply, include_usage=False))
    msg_body = orjson.dumps(message_json("emulator-fast", reply))
    msg_events = tuple(message_events("emulator-fast", reply))

    def make(body: bytes, events: tuple[bytes, ...]) -> Handler:
        async def handle(request: web.Request) -> web.StreamResponse:
            raw = await request.read()
            if _STREAM_TRUE.search(raw):
                return await write_events(request, events, Tuning.of(request, config).delay)
            return web.Response(body=body, content_type="application/json")

        return handle

    return make(chat_body, chat_events), make(msg_body, msg_events)


def build_app(config: EmulatorConfig, recorder: Recorder | None = None) -> web.Application:
    """The emulator as an aiohttp application (mountable in a test's own runner)."""
    recorder = recorder or Recorder(config.max_records)
    app = web.Application(
        client_max_size=64 * 1024 * 1024,
        middlewares=[_recording_middleware(recorder, record=not config.fast)],
    )
    app[CONFIG] = config
    app[RECORDER] = recorder
    if config.fast:
        fast_chat, fast_messages = _fast_handlers(config)
    for path, flavour in CHAT_PATHS.items():
        app.router.add_post(path, fast_chat if config.fast else chat_handler(flavour))
    app.router.add_post(MESSAGES_PATH, fast_messages if config.fast else messages_handler)
    app.router.add_get("/v1/models", models_handler)
    app.router.add_get(CONTROL_PREFIX + "requests", _list_requests)
    app.router.add_delete(CONTROL_PREFIX + "requests", _clear_requests)
    app.router.add_get(CONTROL_PREFIX + "health", _health)
    app.router.add_route("*", "/{tail:.*}", _not_found)
    return app


class Emulator:
    """A running emulator on a real socket, for tests, the demo and benchmarks.

    >>> async with Emulator() as emu:  # doctest: +SKIP
    ...     url = emu.url  # http://127.0.0.1:<port>
    ...     emu.last().json()  # the last request it received
    """

    def __init__(self, config: EmulatorConfig | None = None) -> None:
        self.config = config or EmulatorConfig()
        self.recorder = Recorder(self.config.max_records)
        self._runner = web.AppRunner(
            build_app(self.config, self.recorder), access_log=None, handler_cancellation=True
        )
        self.port = 0

    @property
    def url(self) -> str:
        host = self.config.host
        return f"http://{f'[{host}]' if ':' in host else host}:{self.port}"

    async def start(self) -> Emulator:
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.config.host, self.config.port)
        await site.start()
        self.port = int(self._runner.addresses[0][1])
        return self

    async def stop(self) -> None:
        await self._runner.cleanup()

    async def __aenter__(self) -> Emulator:
        return await self.start()

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.stop()

    @property
    def requests(self) -> list[RecordedRequest]:
        """Every recorded request, oldest first."""
        return list(self.recorder.records)

    def last(self) -> RecordedRequest:
        """The most recent request (raises LookupError when none arrived)."""
        if not self.recorder.records:
            raise LookupError("the emulator has not received any request")
        return self.recorder.records[-1]

    def clear(self) -> None:
        self.recorder.clear()


async def serve_emulator(config: EmulatorConfig) -> int:
    """`sidecar emulator`: run until SIGINT/SIGTERM. The first stdout line names the URL."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    async with Emulator(config) as emu:
        mode = " (fast mode: no validation, no recording)" if config.fast else ""
        print(f"emulator listening on {emu.url}{mode}", flush=True)
        await stop.wait()
    return 0
