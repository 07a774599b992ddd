"""Spike alerts against a trailing baseline, through the analytics engine."""
from __future__ import annotations

import random

from mmstream.analytics.engine.core import AnalyticsEngine
from mmstream.analytics.engine.events import Mention, TopicRef
from mmstream.settings import Settings

T0 = 1_764_320_400.0
HOUR = 3600.0


def background(rng: random.Random, hours: float, per_hour: dict[str, float], negative: float = 0.2) -> list[Mention]:
    """A steady stream: brand -> posts per hour, about one post per brand-rate interval."""
    posts = []
    for brand, rate in per_hour.items():
        t = T0
        while t < T0 + hours * HOUR:
            t += rng.expovariate(rate / HOUR)
            label = "negative" if rng.random() < negative else rng.choice(["neutral", "positive"])
            posts.append(Mention(f"{brand}-{len(posts)}", t, [brand], label, -0.8 if label == "negative" else 0.5,
                                 [TopicRef(f"topic-{brand}", "category", brand)]))
    return posts


def run(posts: list[Mention], **settings) -> list[dict]:
    engine = AnalyticsEngine(Settings.load(**settings))
    alerts = []
    for m in sorted(posts, key=lambda m: m.t):
        alerts += [o.value for o in engine.process(m) if o.topic == "alerts"]
    return alerts


def test_steady_traffic_raises_nothing():
    rng = random.Random(1)
    assert run(background(rng, 16, {"a": 40, "b": 25, "c": 60})) == []


def test_a_volume_burst_raises_one_alert_with_its_evidence():
    rng = random.Random(2)
    posts = background(rng, 16, {"a": 40, "b": 25})
    burst_start = T0 + 14 * HOUR
    posts += [Mention(f"burst-{i}", burst_start + i * 9, ["b"], "neutral", 0.0, [TopicRef("topic-b", "category", "b")])
              for i in range(100)]  # 100 extra posts in 15 minutes
    alerts = run(posts)
    assert [(a["kind"], a["subject"]["type"], a["subject"]["id"]) for a in alerts] == [
        ("volume", "brand", "b"), ("volume", "topic", "topic-b")]
    alert = alerts[0]
    end = alert["window"]["end"]
    assert "2025-11-28T23:" in end  # during the burst (14:00 after T0 = 23:00 UTC)
    figures = alert["figures"]
    assert figures["posts"] >= 3 * figures["expected_posts"] and figures["z"] >= 4
    assert any(pid.startswith("burst-") for pid in alert["example_post_ids"])
    assert alert["top_topics"][0]["id"] == "topic-b" and alert["baseline"]["end"] == alert["window"]["start"]
    assert alerts[1]["top_brands"][0] == {"brand": "b", "posts": alerts[1]["figures"]["posts"]}


def test_a_negative_share_shift_alerts_without_a_volume_change():
    rng = random.Random(3)
    before = [m for m in background(rng, 16, {"a": 60}) if m.t < T0 + 13 * HOUR]
    after = [m for m in background(random.Random(4), 16, {"a": 60}, negative=0.8) if m.t >= T0 + 13 * HOUR]
    for m in after:
        m.id = "after-" + m.id
    alerts = run(before + after)
    kinds = [(a["kind"], a["subject"]["id"]) for a in alerts]
    assert kinds == [("negative_share", "a")]
    alert = alerts[0]
    assert alert["figures"]["negative_share"] - alert["figures"]["baseline_negative_share"] >= 0.25
    assert alert["figures"]["ratio"] < 1.5  # no volume spike: the same rate of posts
    assert alert["example_post_ids"] and all(p.startswith("after-") for p in alert["example_post_ids"])


def test_no_alert_before_enough_baseline_history():
    rng = random.Random(5)
    posts = background(rng, 2, {"a": 20})
    posts += [Mention(f"burst-{i}", T0 + 1.5 * HOUR + i, ["a"], "negative", -1.0) for i in range(200)]
    assert run(posts) == []  # 2 h of history < a quarter of the 12 h baseline
    assert run(posts, alert_min_history=0.05) != []


def test_one_alert_per_episode_and_cooldown():
    rng = random.Random(6)
    posts = background(rng, 20, {"a": 30})
    for start, n in ((12 * HOUR, 120), (12.6 * HOUR, 120), (17 * HOUR, 250)):  # two bursts in one episode, a later one
        posts += [Mention(f"b{start}-{i}", T0 + start + i * 6, ["a"], "neutral", 0.0) for i in range(n)]
    alerts = [a for a in run(posts) if a["subject"]["type"] == "brand"]
    assert len(alerts) == 2
    assert alerts[0]["window"]["end"] < "2025-11-28T22:00:00Z" < "2025-11-29T02:00:00Z" < alerts[1]["window"]["end"]


def test_a_complaint_share_spike_alerts_like_a_negative_share_shift():
    """Posts carrying the complaint head's label: the share of complaints triples at the same rate
    and the same sentiment mix; only a complaint_share alert fires, with complaints as evidence."""
    rng = random.Random(7)
    posts = background(rng, 16, {"a": 60}, negative=0.2)
    for m in posts:
        later = m.t >= T0 + 13 * HOUR
        m.complaint = rng.random() < (0.7 if later else 0.2)
        if later and m.complaint:
            m.id = "complaint-" + m.id
    alerts = run(posts)
    assert [(a["kind"], a["subject"]["id"]) for a in alerts] == [("complaint_share", "a")]
    figures = alerts[0]["figures"]
    assert figures["complaint_share"] - figures["baseline_complaint_share"] >= 0.25 and figures["complaint_z"] >= 4
    complaints = {m.id for m in posts if m.complaint}
    assert alerts[0]["example_post_ids"] and set(alerts[0]["example_post_ids"]) <= complaints
    assert sum(p.startswith("complaint-") for p in alerts[0]["example_post_ids"]) >= 3  # mostly the new ones
    steady = background(random.Random(8), 16, {"a": 60})
    for m in steady:
        m.complaint = rng.random() < 0.3
    assert run(steady) == []  # a steady complaint share raises nothing
