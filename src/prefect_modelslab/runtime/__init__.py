"""How the integration runs: sync/async twins, run loggers, concurrency slots, clean stops,
serving ASGI apps (the webhook receiver, the emulator) and the local Prefect server.

`stopping` imports no Prefect at module level; import the modules you need directly.
"""
