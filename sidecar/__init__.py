"""llm-sidecar: a streaming reverse proxy that fixes LLM API requests in flight."""

__version__ = "0.1.0"

__all__ = ["__version__"]
