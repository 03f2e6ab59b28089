"""pytest loads this first: the asyncio shim (asyncio_compat.py says why), then the fixture."""

import asyncio_compat

asyncio_compat.install()

from stan_harness import natrix  # noqa: E402,F401
