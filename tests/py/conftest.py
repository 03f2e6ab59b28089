"""pytest picks up the `server` fixture from here; it lives in harness.py with the helpers.

streaming/ is the asyncio-nats-streaming suite: it needs .venv-stan (another `nats` package)
and natrix serving STAN, so it has its own pytest.ini and runner (tests/stan_python_client.rs)
and this suite does not collect it."""

from harness import server  # noqa: F401

collect_ignore = ["streaming"]
