"""The scripted burst of `mmstream demo --serve` (samples/burst.jsonl): one minute of copies of one
complaint by many accounts, placed in the history's event time, its ids kept."""
from __future__ import annotations

import json
from datetime import datetime

from mmstream.analytics.engine.campaigns import CampaignConfig
from mmstream.commands.serve_demo import BURST_AT, BURST_FILE, HISTORY_POSTS, HISTORY_SECONDS, _objects, looped


def test_the_burst_is_copies_of_one_complaint_by_more_accounts_than_a_campaign_needs():
    burst = _objects(BURST_FILE)
    assert len(burst) >= 48  # over 4 posts partitions (copies are linked per partition), one holds 8 or more
    assert len({p["author"] for p in burst}) == len(burst) > 4 * CampaignConfig().min_authors
    assert {tuple(p["brands"]) for p in burst} == {("acme air",)}
    assert len({p["id"] for p in burst}) == len(burst)


def test_the_burst_falls_in_one_minute_of_the_history_in_event_time_order():
    posts = [{"id": "a", "created_at": "2020-01-01T00:00:00Z", "text": "x"}]
    burst = [{"id": f"b{i}", "created_at": "2020-01-01T00:00:00Z", "text": "y"} for i in range(60)]
    start = 1_000_000_000.0 + 17
    stream = looped(posts, history=HISTORY_POSTS, span=HISTORY_SECONDS, clock=lambda: start, burst=burst)
    out = [json.loads(next(stream)) for _ in range(HISTORY_POSTS + len(burst) + 1)]
    times = [datetime.fromisoformat(p["created_at"]).timestamp() for p in out]
    assert times[:-1] == sorted(times[:-1]) and times[-1] == start  # history in order, then the clock
    got = [(p["id"], t) for p, t in zip(out, times) if p["id"].startswith("b")]
    assert [i for i, _ in got] == [f"b{i}" for i in range(60)]  # ids kept: the burst is sent once
    minutes = {int(t) // 60 for _, t in got}
    assert len(minutes) == 1  # one tumbling window
    (minute,) = minutes
    assert start - BURST_AT - 60 < minute * 60 <= start - BURST_AT
    assert sum(1 for p in out[:-1] if p["id"].startswith("a~")) == HISTORY_POSTS
