"""overlapped_batches: order, acks after delivery, bounded work in flight, failures."""
from __future__ import annotations

import asyncio

import pytest

from mmstream.worker.overlap import InOrder, overlapped_batches


class FakeStream:
    def __init__(self, batches: list[list[int]]) -> None:
        self.batches, self.acked, self.log = batches, [], []

    async def noack_take(self, size: int, within: float):
        for batch in self.batches:
            self.log.append(("take", batch[0]))
            yield batch

    async def ack(self, event: int) -> None:
        self.acked.append(event)


def run_batches(batches, model_delay, fail_on=None):
    stream = FakeStream(batches)
    in_model = {"now": 0, "max": 0}

    async def model(events):
        in_model["now"] += 1
        in_model["max"] = max(in_model["max"], in_model["now"])
        await asyncio.sleep(model_delay(events[0]))
        in_model["now"] -= 1
        return [e * 10 for e in events]

    async def finish(events, outcomes):
        if events[0] == fail_on:
            raise RuntimeError("broker refused")
        assert not set(events) & set(stream.acked)
        stream.log.append(("finish", events[0], outcomes))

    async def main():
        await overlapped_batches(stream, 2, 0.01, model, finish)

    return stream, in_model, main


def test_finishes_in_order_and_acks_only_after_delivery():
    # the first batch is slow in the model: the later ones must still finish after it
    stream, in_model, main = run_batches([[1, 2], [3, 4], [5, 6], [7]], lambda first: 0.05 if first == 1 else 0.0)
    asyncio.run(main())
    finished = [entry[1] for entry in stream.log if entry[0] == "finish"]
    assert finished == [1, 3, 5, 7]
    assert [entry[2] for entry in stream.log if entry[0] == "finish"][0] == [10, 20]
    assert stream.acked == [1, 2, 3, 4, 5, 6, 7]
    assert in_model["max"] <= 2
    # the second batch was taken before the first finished: the overlap
    assert stream.log.index(("take", 3)) < stream.log.index(("finish", 1, [10, 20]))


def test_a_failed_delivery_reaches_the_agent_and_its_events_are_not_acked():
    stream, _, main = run_batches([[1, 2], [3, 4], [5, 6]], lambda first: 0.0, fail_on=3)
    with pytest.raises(RuntimeError, match="broker refused"):
        asyncio.run(main())
    assert 3 not in stream.acked and 4 not in stream.acked and 5 not in stream.acked
    assert stream.acked[:2] == [1, 2]


def test_in_order_overlaps_the_first_stage_and_runs_the_second_in_arrival_order():
    """Batch 1's first stage is slow, batch 2's fast: batch 2's second stage still waits for batch 1's."""
    log: list[tuple[str, int]] = []
    stages = InOrder()

    async def batch(n: int, first_delay: float):
        async def first():
            log.append(("first-start", n))
            await asyncio.sleep(first_delay)
            log.append(("first-end", n))
            return n * 10

        async def then(value):
            log.append(("then", value))
            await asyncio.sleep(0.005)
            return value + 1

        return await stages.run(first, then)

    async def main():
        return await asyncio.gather(batch(1, 0.05), batch(2, 0.0), batch(3, 0.01))

    assert asyncio.run(main()) == [11, 21, 31]
    assert log.index(("first-start", 2)) < log.index(("first-end", 1))  # the first stages overlapped
    assert [entry for entry in log if entry[0] == "then"] == [("then", 10), ("then", 20), ("then", 30)]


def test_in_order_goes_on_after_an_earlier_batch_fails_or_is_cancelled():
    stages = InOrder()
    done: list[int] = []

    async def ok(n: int):
        async def first():
            return n

        async def then(value):
            done.append(value)
            return value

        return await stages.run(first, then)

    async def failing():
        async def first():
            await asyncio.sleep(0.01)
            raise RuntimeError("extractor bug")

        return await stages.run(first, lambda value: None)

    async def main():
        slow = asyncio.ensure_future(stages.run(lambda: asyncio.sleep(10), lambda value: None))
        behind = asyncio.ensure_future(asyncio.gather(failing(), ok(2), ok(3), return_exceptions=True))
        await asyncio.sleep(0.05)
        assert done == []  # batch 2 failed at once, yet 3 and 4 wait for batch 1 (still extracting)
        slow.cancel()
        return await asyncio.wait_for(behind, 1)

    results = asyncio.run(main())
    assert isinstance(results[0], RuntimeError) and results[1:] == [2, 3]
    assert done == [2, 3]
