"""Duplicates and campaigns (issue 30): the pure state (normalisation, near duplicates, bounds,
campaigns, replay determinism, checkpoints in the data format), the coordinated alert, the
brand windows' counts, and the new fields through the client types and the SQL sink."""
from __future__ import annotations

import random
import sqlite3

import pytest

from mmstream import schemas
from mmstream.analytics.engine.campaigns import CampaignConfig, CampaignTracker, campaign_id
from mmstream.analytics.engine.copystate import CopyState
from mmstream.analytics.engine.core import AnalyticsEngine
from mmstream.analytics.engine.duplicates import DuplicateConfig, DuplicateIndex
from mmstream.analytics.engine.events import Mention
from mmstream.analytics.engine.signature import is_retweet, normalise
from mmstream.analytics.pipeline.copies import CopyFinder, exclude_mode
from mmstream.errors import ConfigError
from mmstream.settings import Settings

T0 = 1_764_000_000_000
BASE = "My order from acme never arrived, third time this month. Terrible service"


def test_normalise_drops_case_urls_handles_emoji_and_retweet_prefixes():
    assert normalise("RT @bob: RT @x: Hello   WORLD!!! 😀 https://t.co/x #Great @alice") == "hello world great"
    assert normalise("ＦＵＬＬ width") == "full width"  # NFKC: the letters bots use to dodge filters
    assert is_retweet("RT @bob: hi") and is_retweet("  rt @bob hi") and not is_retweet("ART @bob")


def test_copies_point_at_the_earliest_post_and_unrelated_or_short_posts_at_none():
    idx = DuplicateIndex(DuplicateConfig())
    assert idx.observe("a", T0, BASE).duplicate_of is None
    assert idx.observe("b", T0 + 1, f"RT @ann: {BASE} https://t.co/abc").duplicate_of == "a"  # same content
    near = idx.observe("c", T0 + 2, "my order from acme never arived, 3rd time this month!! terrible service 😡 #fail")
    assert near.duplicate_of == "a" and 0.5 <= near.similarity < 1
    assert idx.observe("d", T0 + 3, "d " + near_copy_of_c()).duplicate_of == "a"  # a copy of a copy: the root
    assert idx.observe("e", T0 + 4, "Loving the new phone, battery lasts all day").duplicate_of is None
    assert idx.observe("f", T0 + 5, "lol").duplicate_of is None
    assert idx.observe("g", T0 + 6, "LOL!!").duplicate_of is None  # under min_chars: never a duplicate
    assert idx.observe("c", T0 + 7, "something else entirely, replayed under c's id").duplicate_of == "a"  # replay


def near_copy_of_c() -> str:
    return "my order from acme never arived, 3rd time this month!! terrible service #fail #boycott"


def test_the_state_is_bounded_by_entries_and_by_time_and_forgets_its_buckets():
    idx = DuplicateIndex(DuplicateConfig(max_entries=100, ttl_ms=60_000))
    rng = random.Random(1)
    for i in range(1000):
        idx.observe(f"p{i}", T0 + i * 10, " ".join(rng.choice("abcdefghij") * rng.randint(3, 8) for _ in range(6)))
    assert len(idx) == 100 and len(idx.signatures) == 100
    assert set(idx.exact.values()) <= set(idx.entries) and set(idx.bands.values()) <= set(idx.entries)
    idx.observe("late", T0 + 10_000_000, BASE)  # the clock jumps: everything older than the TTL goes
    assert list(idx.entries) == ["late"] and set(idx.bands.values()) == {"late"}


def campaign_stream(seed: int) -> list[tuple[str, int, str, str]]:
    rng = random.Random(seed)
    posts = [(f"o{i}", T0 + i * 60_000, f"organic post number {i} about {rng.random()} things", f"user{i}")
             for i in range(30)]
    for j in range(12):  # 12 bot accounts, the same complaint, within 6 minutes
        text = BASE + rng.choice(["", " #fail", " 😡😡", " https://t.co/x"]) + rng.choice(["", "!!", " again"])
        posts.append((f"c{j}", T0 + 600_000 + j * 30_000, text, f"bot{j}"))
    for j in range(10):  # retweets by many accounts: linked, never a campaign
        posts.append((f"r{j}", T0 + 700_000 + j * 1000, "RT @user3: organic post number 3 about things", f"fan{j}"))
    return sorted(posts, key=lambda p: (p[1], p[0]))


def run(state: CopyState, posts) -> dict:
    return {p[0]: state.observe(*p) for p in posts}


def test_a_campaign_needs_min_authors_distinct_accounts_and_retweets_never_count():
    answers = run(CopyState(DuplicateConfig(), CampaignConfig(min_authors=5, window_ms=600_000)), campaign_stream(0))
    flagged = [pid for pid, (_, camp) in answers.items() if camp is not None]
    assert flagged == [f"c{j}" for j in range(4, 12)]  # the 5th account makes it a campaign
    assert answers["c4"][1] == {"id": campaign_id("c0"), "posts": 5, "authors": 5,
                                "first_seen": "2025-11-24T16:10:00Z"}
    assert answers["c11"][1]["posts"] == 12 and all(answers[f"c{j}"][0] == "c0" for j in range(1, 12))
    assert all(answers[f"r{j}"][1] is None for j in range(10))
    # one account posting the same text 12 times is a duplicate, not a campaign
    tracker = CampaignTracker(CampaignConfig(min_authors=5))
    assert all(tracker.observe(f"s{i}", T0 + i, "root", "same", False) is None for i in range(12))


def test_the_same_stream_gives_the_same_answers_and_a_checkpoint_resumes_exactly(tmp_path):
    posts = campaign_stream(3)
    whole = run(CopyState(DuplicateConfig(), CampaignConfig(min_authors=5)), posts)
    assert run(CopyState(DuplicateConfig(), CampaignConfig(min_authors=5)), posts) == whole
    settings = Settings.load(data_dir=str(tmp_path), campaign_min_authors=5)
    first = CopyFinder(settings, checkpoints=True)
    half = len(posts) // 2 + 3  # mid-campaign
    part = run(first.state(2, "mmstream.posts"), posts[:half])
    first.save(2, "mmstream.posts")
    again = CopyFinder(settings, checkpoints=True)  # a restarted worker: partition 2 read from its checkpoint
    assert len(again.state(2, "mmstream.media").index) == 0  # the media lane's partition 2 is another state
    part.update(run(again.state(2, "mmstream.posts"), posts[half:]))
    assert part == whole
    replayed = run(again.state(2, "mmstream.posts"), posts[:4])
    assert replayed == {p[0]: whole[p[0]] for p in posts[:4]}  # replays: the first answers
    run(again.state(0, "mmstream.posts"), posts[:3])
    assert [p.name for p in again.save_all()] == ["mmstream.posts-p2.ckpt", "mmstream.posts-p0.ckpt"]
    assert again.save_all() == []  # nothing new since
    other = CopyFinder(Settings.load(data_dir=str(tmp_path), campaign_min_authors=6), checkpoints=True)
    assert len(other.state(2, "mmstream.posts").index) == 0  # written under other settings: ignored
    (tmp_path / "mmstream-duplicates" / "mmstream.posts-p2.ckpt").write_bytes(b"junk")
    assert len(CopyFinder(settings, checkpoints=True).state(2, "mmstream.posts").index) == 0


def test_an_unknown_exclude_mode_is_refused_naming_the_setting():
    assert exclude_mode(Settings.load(campaign_exclude="Campaigns")) == "campaigns"
    with pytest.raises(ConfigError, match="MMSTREAM_CAMPAIGN_EXCLUDE"):
        exclude_mode(Settings.load(campaign_exclude="all"))


def mention(pid: str, t_s: float, camp: dict | None = None, dup: str | None = None, excluded: bool = False) -> Mention:
    return Mention(pid, t_s, ["acme"], "negative", -0.8, text=BASE, campaign=camp, duplicate_of=dup,
                   excluded=excluded)


def test_the_engine_alerts_once_per_campaign_with_evidence_and_windows_count_copies():
    engine = AnalyticsEngine(Settings.load(analytics_partitions=1))
    camp = {"id": campaign_id("c0"), "posts": 8, "authors": 8, "first_seen": "2025-11-24T16:10:00Z"}
    out = engine.process(Mention.from_json(mention("c7", T0 / 1000 + 600, camp, "c0").to_json()))
    [alert] = [o.value for o in out if o.topic == "alerts"]
    assert alert["kind"] == "coordinated" and alert["subject"] == {"type": "campaign", "id": camp["id"],
                                                                  "label": BASE[:80]}
    assert alert["evidence"] == {"template": BASE, "accounts": 8, "posts": 8, "first_seen": "2025-11-24T16:10:00Z",
                                 "last_seen": "2025-11-24T16:10:00Z", "span_seconds": 0.0, "brands": ["acme"]}
    assert schemas.errors("alerts", alert) == []
    assert not [o for o in engine.process(mention("c8", T0 / 1000 + 601, camp, "c0")) if o.topic == "alerts"]
    engine.process(mention("x1", T0 / 1000 + 602, None, "c0", excluded=True))
    engine.process(mention("x2", T0 / 1000 + 603))
    [record] = [r for r in engine.open_windows("acme", "tumbling")]
    assert (record["posts"], record["duplicates"], record["campaign_posts"], record["excluded"]) == (3, 3, 2, 1)
    assert record["labels"]["negative"] == 3


RESULT = {"schema": "mmstream.enriched/1", "id": "p9", "created_at": "2025-11-24T16:10:00Z", "brands": ["acme"],
          "lang": "en", "sentiment": None, "topics": [], "modalities": {}, "model": "m", "duplicate_of": "p1",
          "campaign": {"id": "camp-0123456789ab", "posts": 9, "authors": 8, "first_seen": "2025-11-24T16:00:00Z"}}


def test_the_new_fields_reach_the_schema_the_client_types_and_the_sql_sink(tmp_path):
    from mmstream.client import parse
    from mmstream.client.reader import Message
    from mmstream.sinks.sqlite import SqliteStore

    assert schemas.errors("enriched", RESULT) == []
    assert schemas.errors("enriched", {**RESULT, "campaign": {"id": "x"}}) != []
    result = parse("enriched", RESULT)
    assert result.duplicate_of == "p1" and result.campaign.authors == 8 and result.campaign.first_seen.hour == 16
    path = tmp_path / "out.db"
    store = SqliteStore(str(path))
    store.create_tables(["enriched"])
    store.write([Message("enriched", "p9", parse("enriched", RESULT), 0, 0, 0, RESULT)])
    store.close()
    with sqlite3.connect(path) as conn:
        assert conn.execute("SELECT duplicate_of, campaign_id FROM mmstream_results").fetchall() == [
            ("p1", "camp-0123456789ab")]


def test_the_content_cache_serves_repeated_texts_and_changes_no_result():
    """A real pipeline (text plugin, fused model): repeated texts are encoded once, and every result's
    model fields equal those of the same posts with the cache taken out."""
    import json

    from mmstream.pipeline.build import build_pipeline

    # its own pipeline, not the session's: a content cache of its own, counted from empty
    pipeline = build_pipeline(Settings.load(onnx_threads=1, plugins_disabled="image,audio,video", content_cache=50))
    texts = [BASE, "Loving the new phone, battery lasts all day", f"RT @ann: {BASE}", "café ☕ ok"]
    posts = [json.dumps({"id": f"p{i}", "created_at": i, "author": f"a{i}", "text": texts[i % 4]}).encode()
             for i in range(12)]
    cached = [o.record for o in pipeline.process([(raw, None) for raw in posts])]
    stats = pipeline.content_cache.describe()
    assert (stats["hits"], stats["misses"], stats["entries"]) == (8, 4, 4), stats
    for extractor in {id(e): e for e in pipeline.extractors.values()}.values():
        extractor.__dict__.pop("extract", None)  # the plugin's own extract() again
    plain = [o.record for o in pipeline.process([(raw, None) for raw in posts])]
    model_fields = ("sentiment", "complaint", "emotion", "modalities", "lang", "lang_source")
    assert [{k: r[k] for k in model_fields} for r in cached] == [{k: r[k] for k in model_fields} for r in plain]
    assert [r["duplicate_of"] for r in cached] == [None, None, "p0", None, "p0", "p1", "p0", None, "p0", "p1", "p0",
                                                   None]
    assert pipeline.content_cache.describe()["hits"] == 8  # the second run did not go through the cache


def test_the_retweets_bench_mix_and_the_cache_metrics():
    from mmstream.bench.posts import build_mix
    from mmstream.pipeline.contentcache import ContentCache, collector

    posts = build_mix("retweets", 500)
    assert [p.body for p in posts] == [p.body for p in build_mix("retweets", 500)]
    retweets = [p for p in posts if p.index % 5 in (1, 3)]  # 40 %
    earlier = {p.text for p in posts if p.index % 5 not in (1, 3)}
    assert len(retweets) == 200 and all(p.text.split(": ", 1)[1] in earlier for p in retweets)
    assert len({p.text for p in retweets}) < len(retweets) / 4  # viral posts: retweets repeat texts
    cache = ContentCache(10)
    cache.hits, cache.misses = 3, 1
    families = {f.name: f.samples[0].value for f in collector(cache).collect()}
    assert families["mmstream_content_cache_hits"] == 3 and families["mmstream_content_cache_hit_ratio"] == 0.75


def test_posts_too_short_to_compare_by_text_are_compared_by_their_pictures():
    import io

    from PIL import Image

    from mmstream.analytics.engine.signature import dhash
    from mmstream.render import render_scene

    photo, other = render_scene(seed=1, width=480, height=360), render_scene(seed=2, width=480, height=360)
    buf = io.BytesIO()
    photo.resize((320, 240)).save(buf, "JPEG", quality=60)  # re-encoded, smaller: the same picture
    copy = Image.open(io.BytesIO(buf.getvalue())).convert("RGB")
    assert bin(dhash(photo) ^ dhash(copy)).count("1") <= 8 < bin(dhash(photo) ^ dhash(other)).count("1")
    idx = DuplicateIndex(DuplicateConfig())
    assert idx.observe("a", T0, "look", images=[dhash(photo)]).duplicate_of is None
    assert idx.observe("b", T0 + 1, "lol", images=[dhash(copy)]).duplicate_of == "a"
    assert idx.observe("c", T0 + 2, "lol", images=[dhash(other)]).duplicate_of is None
    assert idx.observe("d", T0 + 3, BASE, images=[dhash(photo)]).duplicate_of is None  # the text decides
    state = idx.__getstate__()
    again = DuplicateIndex.__new__(DuplicateIndex)
    again.__setstate__(state)
    assert again.observe("e", T0 + 4, "", images=[dhash(copy)]).duplicate_of == "a"


def test_a_campaign_through_the_pipeline_and_the_mentions_reaches_the_engines_alert_and_windows():
    """The real pipeline (score mode) and the worker's mention publisher, routed to 2 engine partitions:
    the results carry the campaign, the engine of the mining copy alerts once, and with
    MMSTREAM_CAMPAIGN_EXCLUDE=campaigns the brand windows count the campaign posts apart."""
    import json

    from mmstream.analytics.engine.events import decode_mentions
    from mmstream.analytics.pipeline.publish import MentionPublisher
    from mmstream.pipeline.build import build_pipeline

    settings = Settings.load(onnx_threads=1, plugins_disabled="image,audio,video", analytics_partitions=2,
                             campaign_exclude="campaigns", content_cache=0)
    pipeline = build_pipeline(settings)  # its own: 2 engine partitions, campaigns excluded, no content cache
    sent: list = []
    pipeline.sinks.append(MentionPublisher(sent.extend, partitions=2, exclude=exclude_mode(settings)))
    posts = [{"id": f"b{i}", "created_at": 1764320400 + i * 20, "author": f"bot{i}", "brands": ["zenbank"],
              "text": BASE + [" #scam", " 😡", "!!", " https://t.co/x"][i % 4]} for i in range(10)]
    results = [o.record for o in pipeline.process([(json.dumps(p).encode(), None) for p in posts])]
    assert [r["duplicate_of"] for r in results] == [None] + ["b0"] * 9
    assert [(r["campaign"] or {}).get("posts") for r in results] == [None] * 7 + [8, 9, 10]
    engines = {k: AnalyticsEngine(settings, k) for k in range(2)}
    outputs = [o for part, value in sent for line in decode_mentions(value)
               for o in engines[part].process(Mention.from_json(line))]
    alerts = [o.value for o in outputs if o.topic == "alerts"]
    assert [(a["kind"], a["example_post_ids"], a["evidence"]["accounts"]) for a in alerts] == [
        ("coordinated", ["b0", "b7"], 8)]
    closed = [r for o in outputs if o.topic == "window-totals" for r in o.value["records"]]
    windows = [w for w in closed if w["window"]["name"] == "tumbling"] + [
        w for e in engines.values() for w in e.open_windows("zenbank", "tumbling")]  # 60 s windows
    assert [sum(w[k] for w in windows) for k in ("posts", "duplicates", "campaign_posts", "excluded")] == [7, 9, 3, 3]


def test_copies_on_two_partitions_are_linked_only_in_worker_scope(tmp_path):
    from datetime import datetime, timezone

    from mmstream.pipeline.post import Post
    from mmstream.pipeline.work import Source, WorkItem
    from mmstream.plugin import Item

    def item(pid: str, partition: int, text: str) -> Item:
        post = Post(pid, datetime(2026, 12, 6, tzinfo=timezone.utc), {"text": text}, author="ann")
        return Item(WorkItem(b"", Source("mmstream.posts", partition, 0), post=post, record={}, values={"text": text},
                             text_views=("text",)))

    for scope, linked in (("partition", None), ("worker", "a")):
        finder = CopyFinder(Settings.load(data_dir=str(tmp_path / scope), duplicate_scope=scope), checkpoints=True)
        items = [item("a", 0, BASE), item("b", 1, f"RT @ann: {BASE}")]
        finder.enrich(items)
        assert [i.record["duplicate_of"] for i in items] == [None, linked]
        assert [p.name for p in finder.save_all()] == (
            ["mmstream.posts-p0.ckpt", "mmstream.posts-p1.ckpt"] if scope == "partition" else ["mmstream.posts-all.ckpt"])
    with pytest.raises(ConfigError, match="MMSTREAM_DUPLICATE_SCOPE"):
        CopyFinder(Settings.load(duplicate_scope="global"))


def test_a_worker_killed_without_saving_gives_replayed_posts_the_answers_they_got(tmp_path):
    """kill -9: no checkpoint is written at the end; the journal of the posts enriched since the last one
    gives a replayed copy the duplicate_of it got (tests/test_recovery's kill -9 test, on the real broker,
    saw k167 lose its 'k7')."""
    from datetime import datetime, timezone

    from mmstream.pipeline.post import Post
    from mmstream.pipeline.work import Source, WorkItem
    from mmstream.plugin import Item

    def item(pid: str, offset: int, text: str) -> Item:
        post = Post(pid, datetime(2026, 12, 6, tzinfo=timezone.utc), {"text": text}, author=f"u{pid}")
        return Item(WorkItem(b"", Source("mmstream.posts", 0, offset), post=post, record={}, values={"text": text},
                             text_views=("text",)))

    settings = Settings.load(data_dir=str(tmp_path))
    first = CopyFinder(settings, checkpoints=True)
    items = [item("a", 0, BASE), item("x", 1, "something else entirely, nothing like it"), item("b", 2, BASE)]
    first.enrich(items)
    assert [i.record["duplicate_of"] for i in items] == [None, None, "a"]
    # killed here: nothing saved. The restarted worker replays from its last committed offset (1)
    again = CopyFinder(settings, checkpoints=True)
    replayed = [item("x", 1, "something else entirely, nothing like it"), item("b", 2, BASE)]
    again.enrich(replayed)
    assert [i.record["duplicate_of"] for i in replayed] == [None, "a"]
    assert len(again.state(0, "mmstream.posts").index) == 3
    again.save_all()  # a checkpoint empties the journal
    assert (tmp_path / "mmstream-duplicates" / "mmstream.posts-p0.journal").read_bytes() == b""
    (tmp_path / "mmstream-duplicates" / "mmstream.posts-p0.journal").write_bytes(b'["c", 1, "cut sh')  # a torn line
    assert len(CopyFinder(settings, checkpoints=True).state(0, "mmstream.posts").index) == 3
