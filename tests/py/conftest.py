"""pytest picks up the `server` fixture from here; it lives in harness.py with the helpers."""

from harness import server  # noqa: F401
