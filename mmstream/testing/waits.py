"""Waiting for what a worker writes: every wait that runs out fails the test and says what it saw.

:func:`mmstream.kafka.readback.consume` just returns what it read when time runs out (``mmstream demo``
wants that); a test wants the opposite: :func:`wait_for` raises AssertionError naming what was
expected, what was read (per topic, keys, dead letters by reason), which expected keys were not seen,
and the worker's log. :func:`read_all` is the one read that never fails on time: it is for checks that
nothing *more* came (no duplicate, no extra dead letter), and its caller asserts.

kafka-python is imported on the first read, not with this module (it is part of a pytest plugin loaded
in every session).
"""
from __future__ import annotations

import time
from collections import Counter
from typing import TYPE_CHECKING, Any, Callable, Iterable, Union

from mmstream.settings import Settings

if TYPE_CHECKING:
    from mmstream.kafka.readback import Record

#: what :func:`wait_for` waits until: a number of records, a set of keys (post ids), or a predicate
Until = Union[int, set, frozenset, Callable[[list], bool]]


def full_names(settings: Settings, topics: str | Iterable[str]) -> list[str]:
    """Short names (``"enriched"``) under the settings' prefix; full names as they are."""
    names = [topics] if isinstance(topics, str) else list(topics)
    return [n if n.startswith(settings.topic_prefix) else settings.topic(n) for n in names]


def wait_for(settings: Settings, topics: str | Iterable[str], until: Until, timeout: float,
             what: str = "", context: Any = None, give_up: Callable[[], bool] | None = None) -> list[Record]:
    """Read ``topics`` (short names such as ``"enriched"``, or full ones) from the
    beginning until ``until`` holds; every record read, in arrival order.

    ``until`` is a number of records, a set of keys (post ids) that must all have
    been seen, or a predicate over the records. When ``timeout`` runs out first
    this raises AssertionError naming what was expected, what was seen, and what
    was not, followed by the logs of the ``context`` worker(s)
    (:class:`mmstream.testing.Worker`, one or several). ``give_up()`` true (say, the
    only worker exited) ends the wait early, with the same AssertionError."""
    from mmstream.kafka.readback import consume

    full = full_names(settings, topics)
    check = _condition(until)
    started = time.monotonic()
    stop = check if give_up is None else (lambda rs: check(rs) or give_up())
    records = consume(settings, full, until=stop, timeout=timeout)
    if not check(records):
        message = _report(what or _describe(until), full, records, until, time.monotonic() - started)
        workers = [context] if hasattr(context, "log_path") else list(context or ())
        for worker in workers:
            message += f"\n--- {worker.log_path.name} (alive: {worker.alive()}) ---\n{worker.log()}"
        raise AssertionError(message)
    return records


def read_all(settings: Settings, topics: str | Iterable[str], settle: float = 2.0) -> list[Record]:
    """Everything on ``topics`` after reading for ``settle`` seconds: for checks
    that nothing more (no duplicate, no dead letter) arrived. Deliberately
    never fails on time: the caller asserts on what it got."""
    from mmstream.kafka.readback import consume

    return consume(settings, full_names(settings, topics), until=lambda rs: False, timeout=settle)


def wait_until(check: Callable[[], Any], timeout: float, what: str, every: float = 0.3) -> Any:
    """Poll ``check()`` (an HTTP query, a file ...) until it returns something
    truthy, and return that; on timeout raise AssertionError with the last value
    (or the last OSError) seen."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while True:
        try:
            value = check()
        except OSError as exc:  # not listening yet
            value, last = None, exc
        else:
            last = value
        if value:
            return value
        if time.monotonic() >= deadline:
            raise AssertionError(f"waited {timeout} s for {what}; last seen: {str(last)[:1500]}")
        time.sleep(every)


def outcomes(settings: Settings, expected: int, timeout: float = 90, context: Any = None,
             give_up: Callable[[], bool] | None = None) -> tuple[dict[str, list[dict]], list[dict]]:
    """Every result (each id's copies, in arrival order) and every dead letter,
    read until ``expected`` distinct posts came back (AssertionError, with what came
    back and the ``context`` workers' logs, if they do not within ``timeout``, or once
    ``give_up()`` is true: a worker that exited will write nothing more)."""
    def done(records: list[Record]) -> bool:
        return len(_distinct(settings, records)) >= expected
    done.__doc__ = f"{expected} distinct outcomes"

    records = wait_for(settings, ["enriched", "dead-letter"], done, timeout, context=context, give_up=give_up)
    results: dict[str, list[dict]] = {}
    for r in records:
        if r.topic == settings.topic("enriched"):
            results.setdefault(r.json()["id"], []).append(r.json())
    dead = [r.json() for r in records if r.topic == settings.topic("dead-letter")]
    return results, dead


def read_outcomes(settings: Settings, expected: int, timeout: float = 90,
                  context: Any = None) -> tuple[dict[str, dict], list[dict]]:
    """Results by id and dead letters, read until ``expected`` distinct posts came back
    (AssertionError, with what came back, if they do not within ``timeout``). A
    result that came back twice fails here: use :func:`outcomes` to see copies."""
    results, dead = outcomes(settings, expected, timeout, context)
    twice = {i: len(c) for i, c in results.items() if len(c) > 1}
    if twice:
        raise AssertionError(f"results came back more than once: {twice}")
    return {i: c[0] for i, c in results.items()}, dead


def record_key(r: Record) -> str | None:
    """A record's key as text, else the ``id`` in its JSON value (None if neither)."""
    if r.key:
        return r.key.decode("utf-8", "replace")
    try:
        value = r.json()
    except ValueError:
        return None
    return value.get("id") if isinstance(value, dict) else None


def _distinct(settings: Settings, records: list[Record]) -> set:
    keys = set()
    for r in records:
        value = r.json()
        keys.add(("r", value["id"]) if r.topic == settings.topic("enriched")
                 else ("d", value.get("partition"), value.get("offset")))
    return keys


def _reason(r: Record) -> str | None:
    try:
        return r.json().get("reason")
    except (ValueError, AttributeError):
        return None


def _condition(until: Until) -> Callable[[list[Record]], bool]:
    if isinstance(until, bool):
        raise TypeError("until must be a count, a set of keys or a predicate")
    if isinstance(until, int):
        return lambda rs: len(rs) >= until
    if isinstance(until, (set, frozenset)):
        wanted = set(until)
        return lambda rs: wanted <= {record_key(r) for r in rs}
    return until


def _describe(until: Until) -> str:
    if isinstance(until, int):
        return f"{until} records"
    if isinstance(until, (set, frozenset)):
        return f"{len(until)} keys"
    return getattr(until, "__doc__", None) or getattr(until, "__name__", "the condition")


def _report(what: str, topics: list[str], records: list[Record], until: Until, seconds: float) -> str:
    per_topic = Counter(r.topic for r in records)
    keys = [record_key(r) for r in records]
    lines = [f"waited {seconds:.1f} s for {what} on {topics}: read {len(records)} records "
             f"({', '.join(f'{t}: {n}' for t, n in per_topic.items()) or 'none'})"]
    if isinstance(until, (set, frozenset)):
        missing = sorted(set(until) - set(keys), key=str)
        lines.append(f"not seen: {len(missing)} of {len(until)}: {missing[:20]}")
    lines.append(f"keys seen (first 20): {keys[:20]}")
    dead = [r for r in records if r.topic.endswith("dead-letter")]
    if dead:
        reasons = Counter(_reason(r) for r in dead)
        lines.append(f"dead letters by reason: {dict(reasons)}")
    for r in dead[:3]:
        lines.append(f"dead letter: {r.value[:300]!r}")
    return "\n".join(lines)
