"""``mmstream_lane_media_seconds_total`` counts the seconds of the media a post carried, whatever plugin
reported them: a voice note's ``duration``, a video's clips' durations (its report has no top-level
duration: videos counted 0 s before), and not again the sound a video hands on (``video_audio``)."""
from __future__ import annotations

import json
from types import SimpleNamespace

from prometheus_client import CollectorRegistry

from mmstream.lanes.observe import LaneStats, media_seconds

RESULT = {"modalities": {
    "audio": {"count": 1, "duration": 4.371},
    "videos": {"count": 2, "clips": [{"duration": 3.0}, {"duration": 2.5}, "odd"]},
    "video_audio": {"count": 2, "duration": 5.5},  # derived from the videos: the same seconds
    "text": {"chars": 12}}}


def test_seconds_of_the_posts_own_media_keys():
    assert media_seconds(RESULT, ["audio"]) == 4.371
    assert media_seconds(RESULT, ["videos"]) == 5.5
    assert media_seconds(RESULT, ["audio", "videos"]) == 4.371 + 5.5
    assert media_seconds({"modalities": {"audio": {"duration": True}}}, ["audio"]) == 0.0  # not a number
    assert media_seconds({}, ["audio"]) == 0.0


def test_the_counter_takes_the_keys_the_routed_post_carried():
    registry = CollectorRegistry()
    stats = LaneStats(registry, "media", ("media",))
    stats.media_keys = frozenset({"audio", "videos", "video_audio"})
    post = json.dumps({"id": "v1", "videos": [{"b64": "AAAA"}]}).encode()
    outcome = SimpleNamespace(kind="result", record=RESULT)
    stats.media_done(SimpleNamespace(value=post, timestamp=None), [outcome], 1.0)
    assert registry.get_sample_value("mmstream_lane_media_seconds_total") == 5.5  # the clips, not their sound again
