"""The pure rewrite core: no I/O, no aiohttp, no globals."""
