"""Micro-batches with the model always busy: batch N+1 is taken and handed to
the model thread while batch N's outcomes are still being delivered.

With ``take_events`` a worker is strictly sequential: take a batch, run the
model, send the outcomes, wait for the broker to confirm them, ack, and only
then take the next batch; the model thread idles through every step but the
second (20 to 30 % of its time at saturation, measured with py-spy on 2
cores). :func:`overlapped_batches` keeps the same guarantees with the steps
overlapped:

* a batch's events are acked only after ``finish`` returned for it (outcomes
  delivered): at-least-once, as before;
* batches finish in the order they were taken (outputs keep their order);
* at most two batches are in flight (with :class:`InOrder`, both extracting at
  once, then finished one after the other) besides the one being gathered:
  memory stays bounded;
* a failure in ``finish`` propagates to the agent (as an exception in a plain
  loop would) after the batch behind it is cancelled; its events, never acked,
  come again.
"""
from __future__ import annotations

import asyncio
from typing import Any, Awaitable, Callable, Sequence

Events = Sequence[Any]


async def overlapped_batches(stream: Any, size: int, within: float,
                             run: Callable[[Events], Awaitable[Any]],
                             finish: Callable[[Events, Any], Awaitable[None]]) -> None:
    """Consume ``stream`` (a Faust stream) in batches of up to ``size`` events (or
    what came within ``within`` seconds): ``run(events)`` starts the model's work
    and returns its awaitable; ``finish(events, outcomes)`` delivers the outcomes.
    """
    previous: asyncio.Future | None = None
    current: asyncio.Future | None = None
    try:
        async for events in stream.noack_take(size, within):
            started = asyncio.ensure_future(run(events))
            current = asyncio.ensure_future(_finish(stream, events, started, previous, finish))
            if previous is not None:
                await previous  # batch N-1 delivered and acked before batch N+1 is gathered
            previous, current = current, None
        if previous is not None:
            await previous
    except BaseException:
        for pending in (current, previous):
            if pending is not None and not pending.done():
                pending.cancel()
        raise


async def _finish(stream: Any, events: Events, started: asyncio.Future, previous: asyncio.Future | None,
                  finish: Callable[[Events, Any], Awaitable[None]]) -> None:
    outcomes = await started
    if previous is not None:
        await previous  # in order
    await finish(events, outcomes)
    for event in events:
        await stream.ack(event)


class InOrder:
    """Two stages per batch: the first overlaps other batches' (two batches' extraction at
    once, so one batch's slowest image does not leave a core idle), the second runs strictly
    in the order the batches came (the fused model, enrichers and sinks keep state across
    batches: results stay the same whatever the timing)."""

    def __init__(self) -> None:
        self._last: asyncio.Future | None = None

    async def run(self, first: Callable[[], Awaitable[Any]], then: Callable[[Any], Awaitable[Any]]) -> Any:
        """``await first()`` at once, then ``await then(its value)`` once every earlier
        call's ``then`` is over (returned, raised or cancelled)."""
        previous, mine = self._last, asyncio.get_running_loop().create_future()
        self._last = mine
        try:
            value = await first()
            if previous is not None:
                await asyncio.shield(previous)
            return await then(value)
        finally:
            # this call's turn is over only once every earlier one's is: a batch that failed
            # early must not let the batches behind it overtake the ones before it
            if previous is None or previous.done():
                _settle(mine)
            else:
                previous.add_done_callback(lambda _: _settle(mine))


def _settle(turn: asyncio.Future) -> None:
    if not turn.done():
        turn.set_result(None)
