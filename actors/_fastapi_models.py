"""The JSON shapes of the control API in `actors.fastapi`: request bodies and answers.

These pydantic models give the OpenAPI document its schemas (so ``/docs`` shows every field)
and validate what the routes send and receive. Answers accept keys they do not declare
(``extra="allow"``): the runtime may add stats keys without the router dropping them or
failing. Request bodies refuse unknown keys (``extra="forbid"``): a typo such as
``run_immedately`` is a 422, not a silently ignored option.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, field_validator

from actors.messages import check_max_retries
from actors.schedule import parse_schedule

__all__ = ["AgentStats", "ErrorBody", "NoBody", "StartBody", "Started", "ValidationErrorBody"]

# Field descriptions are the attribute docstrings: one text for the OpenAPI document and the
# API reference. Bodies are strict (JSON types only, no unknown key); answers let keys through.
_BODY = ConfigDict(extra="forbid", strict=True, use_attribute_docstrings=True)
_ANSWER = ConfigDict(extra="allow", use_attribute_docstrings=True)


class StartBody(BaseModel):
    """JSON body of ``POST /agents/{name}/start`` (strict types; unknown keys are rejected)."""

    model_config = _BODY

    schedule: str
    """A schedule: 'every 5 minutes', '*/30m', 'cron:0 9 * * 1-5', '3600'."""
    max_retries: int = 3
    """Attempts per execution, the first included (>= 1)."""
    run_immediately: bool = False
    """Run once now, then on the schedule."""

    @field_validator("schedule")
    @classmethod
    def _valid_schedule(cls, value: str) -> str:
        parse_schedule(value)  # ValueError naming the expression and the accepted forms
        return value

    @field_validator("max_retries")
    @classmethod
    def _valid_max_retries(cls, value: int) -> int:
        return check_max_retries(value)


class NoBody(BaseModel):
    """The body of a POST route that takes none: absent, or the empty object ``{}``."""

    model_config = _BODY


class Started(BaseModel):
    """Answer of ``start`` and ``run``: whether the request began something."""

    model_config = _ANSWER

    started: bool
    """False when already running (start), or when not started or busy (run)."""


class ErrorBody(BaseModel):
    """Answer of a 401, 404 or 409: one sentence naming the problem."""

    model_config = _ANSWER

    detail: str
    """What went wrong, e.g. "no agent named 'x'"."""


class AgentStats(BaseModel):
    """One agent's stats, the dict of ``get_stats()`` (keys the runtime adds later pass through)."""

    model_config = _ANSWER

    name: str
    """The agent's name."""
    kind: str
    """'async' (awaited on the server's loop) or 'sync' (run in a thread)."""
    state: str
    """'idle' (waiting for a tick), 'running', 'backing_off', 'stopped'."""
    is_running: bool
    """The schedule is started."""
    total_executions: int
    """Executions that ended: successful + failed."""
    successful_executions: int
    """Executions with a successful attempt."""
    failed_executions: int
    """Executions whose attempts all failed."""
    cancelled_executions: int
    """Runs a stop interrupted (not executions)."""
    success_rate: float
    """Successful executions in percent of ended ones; 0.0 before any."""
    total_attempts: int
    """Every attempt, retries and cancelled runs included."""
    retries: int
    """Attempts after the first of their execution."""
    skipped_ticks: int
    """Ticks and run requests that fell while a run was in flight."""
    abandoned_runs: int
    """Sync runs left to finish in their thread past a deadline."""
    restarts: int
    """Crashes of the actor that supervision restarted."""
    last_run_at: float | None
    """When the last attempt began, epoch seconds."""
    next_run_at: float | None
    """When the next tick is due, epoch seconds; null if stopped."""
    last_error: str | None
    """The repr() of the last exception, or null."""
    last_lateness_ms: float | None
    """How late the last run was dispatched past its due time."""
    runtime_seconds: float
    """Seconds since the last start, frozen at stop."""


class ValidationProblem(BaseModel):
    """One problem of a 422: where it is and what is wrong (FastAPI's usual shape)."""

    model_config = _ANSWER

    loc: list[str | int]
    """Where: ['body', 'max_retries'], ['header', 'content-type']."""
    msg: str
    """What is wrong, e.g. "invalid schedule 'bogus': ..."."""
    type: str
    """Pydantic's error type, e.g. 'missing', 'json_invalid', 'extra_forbidden'."""


class ValidationErrorBody(BaseModel):
    """Answer of a 422: every problem found in the request."""

    model_config = _ANSWER

    detail: list[ValidationProblem]
    """The problems, in the order they were found."""
