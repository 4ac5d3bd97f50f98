"""Scheduler configuration: validated once at construction, immutable afterwards."""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, tzinfo
from functools import lru_cache
from typing import Any, Final
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from actors._clock import REAL_CLOCK, Clock, check_clock
from actors._validate import check_mapping, check_name, check_optional_seconds, check_seconds, shown
from actors.backoff import RetryPolicy
from actors.errors import ArgumentTypeError

__all__ = ["SchedulerConfig", "local_timezone", "resolve_timezone"]

log = logging.getLogger("actors")

CONFIG_KEYS: Final = ("timeout", "backoff", "stop_timeout", "name", "timezone", "clock", "store")


@lru_cache(maxsize=1)
def local_timezone() -> tzinfo:
    """Return the machine's DST-aware local zone: ``$TZ``, else ``/etc/localtime``.

    A fixed UTC offset would put every cron job an hour off for half the year, so the fixed
    offset of "now" is only the last resort, and is logged.
    """
    name = os.environ.get("TZ", "").lstrip(":")
    if name:
        try:
            return ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError):
            log.warning("TZ=%r is not a known time zone; falling back to /etc/localtime", name)
    try:
        with open("/etc/localtime", "rb") as fh:
            return ZoneInfo.from_file(fh, key="localtime")
    except (OSError, ValueError):
        zone = datetime.now().astimezone().tzinfo
        assert zone is not None
        log.warning("no IANA local time zone found; cron uses the fixed offset %s", zone)
        return zone


def resolve_timezone(value: object) -> tzinfo:
    """Turn a ``timezone`` config value (IANA name, tzinfo or ``None``) into a tzinfo."""
    if value is None:
        return local_timezone()
    if isinstance(value, tzinfo):
        try:
            datetime.now(value)  # an abstract or broken tzinfo fails here, not in the first cron tick
        except Exception as exc:
            raise ValueError(f"timezone {shown(value)} does not work: {exc!r}") from None
        return value
    if isinstance(value, str) and value:
        try:
            return ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown timezone {value!r} (use an IANA name such as 'Europe/Berlin')") from None
    if isinstance(value, str):
        raise ValueError("timezone must be an IANA name such as 'Europe/Berlin', got ''")
    raise ArgumentTypeError(f"timezone must be an IANA name or a tzinfo, not {type(value).__name__}: {shown(value)}")


@dataclass(frozen=True, slots=True)
class SchedulerConfig:
    """The validated ``config`` dict of a scheduler or agent (the keys are in docs/configuration.md)."""

    timeout: float | None = None
    backoff: RetryPolicy = field(default_factory=RetryPolicy)
    stop_timeout: float = 10.0
    name: str | None = None
    timezone: tzinfo | None = None
    clock: Clock = REAL_CLOCK
    #: A scheduler's store (a path, a URL or a Store; see docs/stores.md), validated by the scheduler.
    store: Any = None

    @classmethod
    def from_mapping(cls, config: Mapping[str, Any] | SchedulerConfig | None) -> SchedulerConfig:
        """Validate a user config; an unknown key, a bad value or an unknown zone raises ``ValueError``."""
        if config is None:
            return _DEFAULT if cls is SchedulerConfig else cls()
        if isinstance(config, SchedulerConfig):
            return config
        config = check_mapping("config", config)
        unknown = sorted((k for k in config if k not in CONFIG_KEYS), key=str)
        if unknown:
            raise ValueError(f"unknown config key(s) {unknown}; accepted: {list(CONFIG_KEYS)}")
        name = config.get("name")
        if name is not None:
            check_name("config 'name'", name)
        stop_timeout = check_seconds("config 'stop_timeout'", config.get("stop_timeout", 10.0))
        return cls(
            timeout=check_optional_seconds("config 'timeout'", config.get("timeout"), allow_zero=False),
            backoff=RetryPolicy.from_mapping(config.get("backoff")),
            stop_timeout=stop_timeout,
            name=name,
            timezone=resolve_timezone(config["timezone"]) if config.get("timezone") is not None else None,
            clock=check_clock(config.get("clock")),
            store=config.get("store"),
        )

    @property
    def zone(self) -> tzinfo:
        """The zone cron schedules fire in: the configured one, else the local zone."""
        return self.timezone if self.timezone is not None else local_timezone()


# Frozen, so every agent spawned without a config shares one: at 100,000 agents a config and
# a RetryPolicy each were 200,000 objects more to build and for every full GC pass to scan.
_DEFAULT: Final = SchedulerConfig()
