"""backoff_delay, RetryPolicy and SchedulerConfig validation: pure, no time passes."""

from __future__ import annotations

import math
from datetime import tzinfo
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from actors.backoff import RetryPolicy, backoff_delay
from actors.config import SchedulerConfig

FAST = settings(
    max_examples=500,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)

attempts = st.integers(min_value=1, max_value=10**6)
# initial >= 1e-3: when factor ** (attempt - 1) overflows, the true base is then far above any cap.
initials = st.floats(min_value=1e-3, max_value=1e4)
factors = st.floats(min_value=0.0, max_value=10.0)
caps = st.floats(min_value=0.0, max_value=1e6)
jitters = st.floats(min_value=0.0, max_value=1.0)
rands = st.floats(min_value=0.0, max_value=1.0, exclude_max=True)


def expected_base(attempt: int, initial: float, factor: float, cap: float) -> float:
    """min(cap, initial * factor ** (attempt - 1)), where an overflowing power means "above cap"."""
    assert initial > 0
    try:
        return min(cap, initial * factor ** (attempt - 1))
    except OverflowError:
        return cap


# --------------------------------------------------------------------------- properties


@pytest.mark.timeout(60)
@FAST
@given(attempts, initials, factors, caps, jitters, rands)
def test_delay_is_jittered_base_clamped_to_cap(
    attempt: int, initial: float, factor: float, cap: float, jitter: float, r: float
) -> None:
    delay = backoff_delay(attempt, initial=initial, factor=factor, cap=cap, jitter=jitter, rand=lambda: r)
    base = expected_base(attempt, initial, factor, cap)
    low = max(0.0, base * (1 - jitter))
    high = min(cap, base * (1 + jitter))
    slack = 1e-9 * max(1.0, base)
    assert low - slack <= delay <= high + slack
    assert 0.0 <= delay <= cap
    assert math.isfinite(delay)


@pytest.mark.timeout(60)
@FAST
@given(attempts, initials, factors, caps, jitters)
def test_delay_never_exceeds_cap_with_the_real_random_source(
    attempt: int, initial: float, factor: float, cap: float, jitter: float
) -> None:
    for _ in range(5):
        assert 0.0 <= backoff_delay(attempt, initial=initial, factor=factor, cap=cap, jitter=jitter) <= cap


@pytest.mark.timeout(60)
@FAST
@given(initials, st.floats(min_value=1.0, max_value=10.0), caps, st.integers(1, 2000), st.integers(0, 2000))
def test_without_jitter_delay_is_non_decreasing_in_attempt(
    initial: float, factor: float, cap: float, attempt: int, more: int
) -> None:
    def delay(n: int) -> float:
        return backoff_delay(n, initial=initial, factor=factor, cap=cap, jitter=0.0)

    assert delay(attempt) <= delay(attempt + more)


@pytest.mark.timeout(60)
@FAST
@given(attempts, initials, factors, caps, jitters)
def test_rand_one_half_gives_exactly_the_base(
    attempt: int, initial: float, factor: float, cap: float, jitter: float
) -> None:
    delay = backoff_delay(attempt, initial=initial, factor=factor, cap=cap, jitter=jitter, rand=lambda: 0.5)
    assert delay == expected_base(attempt, initial, factor, cap)


@pytest.mark.timeout(30)
def test_defaults_grow_from_the_first_retry() -> None:
    """Unlike PraisonAI's flat 30 s for the first four retries: 5, 10, 20, 40 ... capped at 300."""
    half = lambda: 0.5  # noqa: E731
    delays = [backoff_delay(n, initial=5, factor=2, cap=300, jitter=0.1, rand=half) for n in range(1, 9)]
    assert delays == [5.0, 10.0, 20.0, 40.0, 80.0, 160.0, 300.0, 300.0]


@pytest.mark.timeout(30)
def test_jitter_extremes_are_deterministic_with_injected_rand() -> None:
    low = backoff_delay(2, initial=5, factor=2, cap=300, jitter=0.1, rand=lambda: 0.0)
    assert low == pytest.approx(9.0)
    high = backoff_delay(2, initial=5, factor=2, cap=300, jitter=0.1, rand=lambda: 0.999999)
    assert high == pytest.approx(11.0, abs=1e-4)
    # Jitter never lifts a delay above the cap.
    assert backoff_delay(50, initial=5, factor=2, cap=300, jitter=0.5, rand=lambda: 0.99) == 300.0


@pytest.mark.timeout(30)
@pytest.mark.parametrize("jitter", [0.0, 0.1, 1.0])
def test_huge_attempt_returns_cap_without_overflow(jitter: float) -> None:
    half = lambda: 0.5  # noqa: E731
    assert backoff_delay(10**6, initial=5, factor=2, cap=300, jitter=jitter, rand=half) == 300.0
    assert backoff_delay(10**6, initial=1e-300, factor=1.5, cap=7, jitter=jitter, rand=half) == 7.0
    assert backoff_delay(10**6, initial=5, factor=1, cap=300, jitter=jitter, rand=half) == 5.0
    assert backoff_delay(10**6, initial=5, factor=0.5, cap=300, jitter=jitter, rand=half) == 0.0


@pytest.mark.timeout(30)
@pytest.mark.parametrize("attempt", [1, 2, 10, 1024])
def test_zero_initial_means_no_wait(attempt: int) -> None:
    assert backoff_delay(attempt, initial=0, factor=2, cap=300, jitter=0.1) == 0.0


@pytest.mark.timeout(30)
@pytest.mark.parametrize("attempt", [1025, 10**6, 2**1100])
def test_zero_initial_means_no_wait_even_when_the_power_overflows(attempt: int) -> None:
    assert backoff_delay(attempt, initial=0, factor=2, cap=300, jitter=0.1) == 0.0


@pytest.mark.timeout(30)
def test_overflowing_power_is_computed_exactly_below_the_cap() -> None:
    # 1e-308 * 2**1024 is ~1.8 s, although 2**1024 itself is beyond float range.
    assert backoff_delay(1025, initial=1e-308, factor=2, cap=300, jitter=0) == pytest.approx(1.7976931348623)


@pytest.mark.timeout(30)
@pytest.mark.parametrize(("factor", "expected"), [(0.5, 0.0), (1.0, 5.0), (2.0, 300.0)])
def test_attempts_beyond_float_range(factor: float, expected: float) -> None:
    assert backoff_delay(2**1100, initial=5, factor=factor, cap=300, jitter=0) == expected


@pytest.mark.timeout(30)
def test_cap_may_be_infinite() -> None:
    assert backoff_delay(4, initial=1, factor=3, cap=math.inf, jitter=0, rand=lambda: 0.5) == 27.0


# --------------------------------------------------------------------------- errors

GOOD: dict[str, Any] = {"initial": 5.0, "factor": 2.0, "cap": 300.0, "jitter": 0.1}


@pytest.mark.timeout(30)
@pytest.mark.parametrize("attempt", [0, -1, -(10**6)])
def test_attempt_below_one_raises_value_error(attempt: int) -> None:
    with pytest.raises(ValueError, match="attempt"):
        backoff_delay(attempt, **GOOD)


@pytest.mark.timeout(30)
@pytest.mark.parametrize("attempt", [1.5, 2.0, "1", None, True])
def test_non_int_attempt_raises_type_error(attempt: object) -> None:
    with pytest.raises(TypeError, match="attempt"):
        backoff_delay(attempt, **GOOD)  # type: ignore[arg-type]


@pytest.mark.timeout(30)
@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("initial", -1.0),
        ("factor", -0.5),
        ("cap", -1.0),
        ("jitter", -0.1),
        ("jitter", 1.5),
        ("initial", math.nan),
        ("factor", math.nan),
        ("cap", math.nan),
        ("jitter", math.nan),
        ("initial", math.inf),
        ("factor", math.inf),
    ],
)
def test_bad_parameters_raise_value_error_naming_them(name: str, value: float) -> None:
    params = {**GOOD, name: value}
    with pytest.raises(ValueError, match=name):
        backoff_delay(1, **params)
    with pytest.raises(ValueError, match=name):
        RetryPolicy(**params)


# --------------------------------------------------------------------------- RetryPolicy


@pytest.mark.timeout(30)
def test_retry_policy_defaults() -> None:
    policy = RetryPolicy()
    assert (policy.initial, policy.factor, policy.cap, policy.jitter) == (5, 2, 300, 0.1)
    assert RetryPolicy.from_mapping(None) == policy
    assert RetryPolicy.from_mapping({}) == policy
    assert policy.delay(1, rand=lambda: 0.5) == 5.0
    assert policy.delay(3, rand=lambda: 0.5) == 20.0


@pytest.mark.timeout(30)
@pytest.mark.parametrize(
    ("partial", "expected"),
    [
        ({"initial": 1}, (1, 2, 300, 0.1)),
        ({"cap": 60}, (5, 2, 60, 0.1)),
        ({"factor": 3, "jitter": 0}, (5, 3, 300, 0)),
        ({"initial": 0.5, "factor": 1.5, "cap": 10, "jitter": 0.2}, (0.5, 1.5, 10, 0.2)),
    ],
)
def test_retry_policy_from_partial_mapping_keeps_defaults(partial: dict[str, float], expected: tuple[float, ...]) -> None:
    policy = RetryPolicy.from_mapping(partial)
    assert (policy.initial, policy.factor, policy.cap, policy.jitter) == expected


@pytest.mark.timeout(30)
def test_retry_policy_from_mapping_rejects_unknown_key_by_name() -> None:
    with pytest.raises(ValueError, match="max_delay"):
        RetryPolicy.from_mapping({"initial": 1, "max_delay": 60})


@pytest.mark.timeout(30)
@pytest.mark.parametrize("bad", [{"initial": -1}, {"jitter": 2}, {"cap": "300"}, {"factor": None}, [("initial", 1)]])
def test_retry_policy_from_mapping_rejects_bad_values(bad: object) -> None:
    with pytest.raises(ValueError):
        RetryPolicy.from_mapping(bad)  # type: ignore[arg-type]


@pytest.mark.timeout(30)
def test_retry_policy_is_frozen() -> None:
    import dataclasses

    with pytest.raises(dataclasses.FrozenInstanceError):
        RetryPolicy().cap = 1  # type: ignore[misc]


# --------------------------------------------------------------------------- SchedulerConfig


@pytest.mark.timeout(30)
@pytest.mark.parametrize("config", [None, {}])
def test_scheduler_config_defaults(config: dict[str, Any] | None) -> None:
    cfg = SchedulerConfig.from_mapping(config)
    assert cfg.timeout is None
    assert cfg.stop_timeout == 10
    assert cfg.backoff == RetryPolicy(initial=5, factor=2, cap=300, jitter=0.1)
    assert cfg.name is None
    assert cfg.timezone is None
    assert isinstance(cfg.zone, tzinfo)  # the local zone


@pytest.mark.timeout(30)
def test_scheduler_config_accepts_every_key() -> None:
    cfg = SchedulerConfig.from_mapping(
        {
            "timeout": 2.5,
            "backoff": {"initial": 1, "cap": 30},
            "stop_timeout": 0,
            "name": "news",
            "timezone": "Europe/Berlin",
        }
    )
    assert cfg.timeout == 2.5
    assert (cfg.backoff.initial, cfg.backoff.factor, cfg.backoff.cap, cfg.backoff.jitter) == (1, 2, 30, 0.1)
    assert cfg.stop_timeout == 0
    assert cfg.name == "news"
    assert cfg.timezone == ZoneInfo("Europe/Berlin")
    assert cfg.zone == ZoneInfo("Europe/Berlin")
    berlin = ZoneInfo("Europe/Berlin")
    assert SchedulerConfig.from_mapping({"timezone": berlin}).zone is berlin


@pytest.mark.timeout(30)
def test_scheduler_config_unknown_key_is_named() -> None:
    with pytest.raises(ValueError, match="retries"):
        SchedulerConfig.from_mapping({"timeout": 5, "retries": 3})


@pytest.mark.timeout(30)
@pytest.mark.parametrize("zone", ["Mars/Olympus_Mons", "Europe/Berln", "../etc/passwd", "", 5])
def test_scheduler_config_unknown_timezone(zone: object) -> None:
    with pytest.raises(ValueError, match="timezone"):
        SchedulerConfig.from_mapping({"timezone": zone})


@pytest.mark.timeout(30)
@pytest.mark.parametrize(
    ("config", "named"),
    [
        ({"timeout": 0}, "timeout"),
        ({"timeout": -1}, "timeout"),
        ({"timeout": math.nan}, "timeout"),
        ({"timeout": math.inf}, "timeout"),
        ({"timeout": "10"}, "timeout"),
        ({"timeout": True}, "timeout"),
        ({"stop_timeout": -1}, "stop_timeout"),
        ({"stop_timeout": math.nan}, "stop_timeout"),
        ({"stop_timeout": math.inf}, "stop_timeout"),
        ({"stop_timeout": None}, "stop_timeout"),
        ({"stop_timeout": "10"}, "stop_timeout"),
        ({"backoff": {"initial": -1}}, "initial"),
        ({"backoff": {"bogus": 1}}, "bogus"),
        ({"backoff": 5}, "backoff"),
        ({"name": ""}, "name"),
        ({"name": 42}, "name"),
    ],
)
def test_scheduler_config_bad_values_raise_value_error(config: dict[str, Any], named: str) -> None:
    with pytest.raises(ValueError, match=named):
        SchedulerConfig.from_mapping(config)


@pytest.mark.timeout(30)
def test_scheduler_config_rejects_a_non_mapping() -> None:
    with pytest.raises(ValueError):
        SchedulerConfig.from_mapping(["timeout", 5])  # type: ignore[arg-type]


@pytest.mark.timeout(10)
def test_no_cap_never_overflows() -> None:
    assert backoff_delay(1100, initial=1, factor=3, cap=math.inf, jitter=0) == math.inf
    assert backoff_delay(2, initial=1, factor=3, cap=10**400, jitter=0) == 3.0   # a huge cap is no cap
