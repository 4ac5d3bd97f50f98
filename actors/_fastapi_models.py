"""The JSON shapes of the control API in `actors.fastapi`: request bodies, how a body is read
(`parse_body`), and answers.

These pydantic models give the OpenAPI document its schemas (so ``/docs`` shows every field)
and validate what the routes send and receive. Answers accept keys they do not declare
(``extra="allow"``): the runtime may add stats keys without the router dropping them or
failing. Request bodies refuse unknown keys (``extra="forbid"``): a typo such as
``run_immedately`` is a 422, not a silently ignored option.
"""

from __future__ import annotations

import math
from typing import Any, TypeVar

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ConfigDict, ValidationError, field_validator, model_validator

from actors.messages import Start, check_max_retries
from actors.schedule import parse_schedule

__all__ = ["AgentStats", "ErrorBody", "HistoryEntry", "NoBody", "PauseBody", "StartBody", "Started",
           "ValidationErrorBody", "parse_body"]

_M = TypeVar("_M", bound=BaseModel)

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
    overlap: str = "skip"
    """A tick while a run is in flight: 'skip', 'queue_one' or 'cancel_previous'."""
    catch_up: str = "once"
    """Ticks nobody could run: 'skip', 'once' or 'all'."""
    jitter: float = 0.0
    """Seconds; each tick is delayed by a random amount below this."""
    max_runs: int | None = None
    """After that many executions the schedule ends ('finished')."""
    pause_after_failures: int | None = None
    """After that many failed executions in a row the agent pauses itself."""

    def to_message(self) -> Start:
        """The ``Start`` this body asks for (raises ``ValueError`` naming a bad value)."""
        return Start(self.schedule, self.max_retries, self.run_immediately, overlap=self.overlap,
                     catch_up=self.catch_up, jitter=self.jitter, max_runs=self.max_runs,
                     pause_after_failures=self.pause_after_failures)

    @model_validator(mode="after")
    def _valid_options(self) -> StartBody:
        self.to_message()  # ValueError naming the bad option: a 422
        return self

    @field_validator("schedule")
    @classmethod
    def _valid_schedule(cls, value: str) -> str:
        parse_schedule(value)  # ValueError naming the expression and the accepted forms
        return value

    @field_validator("max_retries")
    @classmethod
    def _valid_max_retries(cls, value: int) -> int:
        return check_max_retries(value)


class PauseBody(BaseModel):
    """JSON body of ``POST /agents/{name}/pause``: absent, ``{}`` or ``{"reason": "..."}``."""

    model_config = _BODY

    reason: str = ""
    """Shown in the stats as 'paused_reason'."""


class HistoryEntry(BaseModel):
    """One execution of ``GET /agents/{name}/history``, the newest first."""

    model_config = _ANSWER

    run_id: int
    """The execution's number, counted per agent."""
    scheduled_for: float
    """When it was due, epoch seconds (a manual run: when it was asked for)."""
    started_at: float
    """When its first attempt began, epoch seconds."""
    finished_at: float
    """When it ended, epoch seconds."""
    outcome: str
    """'succeeded', 'failed', 'cancelled' or 'interrupted' (its process died)."""
    attempts: int
    """Attempts it made, the first included."""
    error: str | None
    """The repr() of its last error, or null."""
    result: str | None
    """The repr() of its result, cut to 1,000 characters, or null."""
    lateness_ms: float | None
    """How late its first attempt started past its due time; null for a manual run."""
    node: str
    """The process that ran it, 'hostname:pid'."""


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
    """'idle' (waiting for a tick), 'running', 'backing_off', 'paused', 'finished', 'stopped'."""
    is_running: bool
    """The schedule is started (paused included)."""
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
    missed_ticks: int
    """Ticks that fell while nothing could run them (paused, a stalled loop)."""
    consecutive_failures: int
    """Failed executions in a row."""
    paused_reason: str | None
    """Why the agent is paused, or null."""
    schedule: str | None = None
    """The expression of the schedule last started ('every 10s'), or null if never started."""
    node: str
    """The process running the agent, 'hostname:pid'."""
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


async def parse_body(request: Request, model: type[_M], if_empty: _M | None) -> _M:
    """Read and validate a JSON body; a 422 naming the problem (FastAPI's format) otherwise."""
    raw = await request.body()
    if not raw:
        if if_empty is None:
            raise RequestValidationError([{"type": "missing", "loc": ("body",), "msg": "Field required", "input": None}])
        return if_empty
    content_type = request.headers.get("content-type", "")
    media = content_type.partition(";")[0].strip().lower()
    if not (media == "application/json" or (media.startswith("application/") and media.endswith("+json"))):
        # FastAPI's own default (strict_content_type) refuses these too.
        raise RequestValidationError([{"type": "content_type", "loc": ("header", "content-type"), "input": content_type,
                         "msg": f"the body must be JSON: send Content-Type: application/json, not {content_type!r}"}])
    try:
        return model.model_validate_json(raw)
    except ValidationError as exc:
        raise RequestValidationError([
            {**error, "loc": ("body", *error["loc"]), "input": _json_safe(error["input"])}
            for error in exc.errors(include_url=False)
        ]) from None


def _json_safe(value: Any) -> Any:
    """``value`` (parsed JSON) as the 422 answer can echo it: infinities as strings (``1e400``
    parses to ``inf``, which JSON cannot carry) and bytes that are not UTF-8 decoded leniently;
    either would otherwise turn the 422 into a 500."""
    if isinstance(value, float) and not math.isfinite(value):
        return repr(value)
    if isinstance(value, bytes):  # a body that is not UTF-8: FastAPI would decode it strictly (a 500)
        return value.decode("utf-8", "replace")
    if isinstance(value, list):
        return [_json_safe(item) for item in value]
    if isinstance(value, dict):
        return {key: _json_safe(item) for key, item in value.items()}
    return value
