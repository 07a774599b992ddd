"""overlapped_batches: order, acks after delivery, bounded work in flight, failures."""
from __future__ import annotations

import asyncio

import pytest

from mmstream.worker.overlap import overlapped_batches


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
