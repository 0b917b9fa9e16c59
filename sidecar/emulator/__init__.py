"""A strict upstream emulator: answers like OpenAI, Azure OpenAI, Anthropic, DeepSeek, a LiteLLM
proxy and vLLM, including their 400 errors, and records every request it receives.

Used by `sidecar demo`, `sidecar emulator`, the integration tests and the benchmarks. Its knowledge
of the providers is its own (`models.py`, `rules.py`), never the sidecar's rule packs.
"""

from sidecar.emulator.app import Emulator, build_app
from sidecar.emulator.settings import EmulatorConfig, RecordedRequest

__all__ = ["Emulator", "EmulatorConfig", "RecordedRequest", "build_app"]
