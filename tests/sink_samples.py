"""A brand-stats record and the table an older mmstream made, for the SQL sinks' tests (SQLite in
tests/unit/sinks/, PostgreSQL in tests/integration/test_sink_command.py)."""
from __future__ import annotations

import json

from mmstream.client.reader import Message
from mmstream.client.records import parse

STATS = {"schema": "mmstream.brand-stats/1", "brand": "zenbank",
         "window": {"name": "hopping", "size": 3600.0, "step": 300.0, "start": "2025-11-28T14:05:00Z",
                    "end": "2025-11-28T15:05:00Z"},
         "closed": True, "posts": 41, "labels": {"negative": 22, "neutral": 14, "positive": 5},
         "mean_score": -0.304009244, "share_of_voice": 0.366071429, "mentions_in_window": 112, "top_topics": [],
         "complaints": 9, "complaint_share": 0.225}

OLD_BRAND_STATS = ("CREATE TABLE mmstream_brand_stats (key TEXT, brand TEXT, window_name TEXT, window_start {time}, "
                   "window_end {time}, window_size {float}, window_step {float}, closed {bool}, posts {int}, "
                   "negative {int}, neutral {int}, positive {int}, mean_score {float}, share_of_voice {float}, "
                   "mentions_in_window {int}, top_topics {json}, schema TEXT, record {json}, PRIMARY KEY (key))")


def stats_message(value: dict, offset: int) -> Message:
    key = f"{value['brand']}|{value['window']['name']}|{value['window']['start']}"
    return Message("brand-stats", key, parse("brand-stats", value), 0, offset, 0, value, json.dumps(value).encode())
