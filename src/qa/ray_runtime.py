"""Connecting to Ray: the optional ``scale`` extra, imported only when asked for.

Public interface:

    require_ray() -> module                      # ray, or RayMissingError saying how to install it
    connect(address=None, num_cpus=2) -> (ray, started)   # join a cluster or start a local runtime
    ray_runtime(address=None, num_cpus=2)        # the same as a context manager (disconnects on exit)
    RayMissingError, RayJobError                 # expected errors (one line, no traceback, in the CLI)

Ray is not a dependency of the default install (it adds ~100 MB and a runtime
that a single machine does not need); ``pip install -e '.[scale]'`` adds it.
Nothing in :mod:`qa` imports ray at module level, so ``qa --help``, ``qa ask`` and
the app work without it.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from types import ModuleType

#: How to get Ray, appended to every "Ray is missing" message.
INSTALL_HINT = "install it with pip install -e '.[scale]' (or pip install 'ray[serve,data]')"
#: CPUs of the local runtime started when no cluster address is given.
LOCAL_NUM_CPUS = 2


class RayMissingError(ImportError):
    """Ray (the ``scale`` extra) is not installed."""


class RayJobError(RuntimeError):
    """A Ray job failed after Ray's own retries; nothing was written."""


def require_ray(parts: tuple[str, ...] = ("data",)) -> ModuleType:
    """Import and return ``ray``, with ``ray.<part>`` for each of ``parts`` ("data", "serve").

    Raises:
        RayMissingError: ray or one of the parts is not installed; the message says how to install.
    """
    try:
        import ray

        for part in parts:
            __import__(f"ray.{part}")
    except ImportError as exc:
        raise RayMissingError(f"Ray is not installed ({exc}); {INSTALL_HINT}") from exc
    return ray


def connect(address: str | None = None, num_cpus: int = LOCAL_NUM_CPUS,
            parts: tuple[str, ...] = ("data",)) -> tuple[ModuleType, bool]:
    """Connect this process to Ray: ``(ray, True)`` when this call connected it,
    ``(ray, False)`` when it already was (then the caller must not shut it down).

    See :func:`ray_runtime` for ``address`` and ``num_cpus``.

    Raises:
        RayMissingError: Ray is not installed.
        RayJobError: the cluster at ``address`` cannot be reached.
    """
    ray = require_ray(parts)
    if ray.is_initialized():
        return ray, False
    env = {key: os.environ[key] for key in ("PYTHONPATH", "QA_HOME", "QA_INDEX", "HF_HUB_OFFLINE")
           if os.environ.get(key)}
    options = {"include_dashboard": False, "log_to_driver": False,
               "runtime_env": {"env_vars": env} if env else None}
    try:
        if address:
            ray.init(address=address, **options)
        else:
            # "local": always a new private runtime, even beside a `ray start` cluster on this machine
            ray.init(address="local", num_cpus=num_cpus, **options)
    except (ConnectionError, RuntimeError, ValueError) as exc:
        hint = ("; is a head running there (`ray start --head --port PORT`)? A head with token "
                "authentication (Ray's default) also needs RAY_AUTH_MODE=token here, with its token "
                "in ~/.ray/auth_token or $RAY_AUTH_TOKEN") if address else ""
        raise RayJobError(f"cannot connect to the Ray cluster at {address or 'a new local runtime'}: "
                          f"{' '.join(str(exc).split())}{hint}") from exc
    return ray, True


@contextlib.contextmanager
def ray_runtime(address: str | None = None, num_cpus: int = LOCAL_NUM_CPUS,
                parts: tuple[str, ...] = ("data",)) -> Iterator[ModuleType]:
    """Run the body connected to Ray; yields the ``ray`` module.

    With ``address`` (``HOST:PORT`` of a running head, or ``auto``) the body joins
    that cluster; without, a private local runtime with ``num_cpus`` CPUs is
    started. Either way the connection is closed on exit (a cluster keeps running).
    When this process is already connected (a test fixture, a caller's own
    ``ray.init``) that connection is used and left open.

    Workers must be able to ``import qa``: a local runtime passes this process's
    ``PYTHONPATH`` on; on a real cluster install qa on every node.

    Raises:
        RayMissingError: Ray is not installed.
        RayJobError: the cluster at ``address`` cannot be reached.
    """
    ray, started = connect(address, num_cpus, parts)
    if not started:
        yield ray
        return
    try:
        yield ray
    finally:
        ray.shutdown()


__all__ = ["INSTALL_HINT", "RayJobError", "RayMissingError", "connect", "ray_runtime", "require_ray"]
