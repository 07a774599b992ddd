"""Cluster scope (MMSTREAM_DUPLICATE_SCOPE=cluster), pure logic: states of two workers that exchange
their entries (what <prefix>copies carries) link copies answered on either, count a campaign's accounts
across them, agree on one root and one campaign id once the entries met, keep a replay's answers, and
stay bounded; the finder's journal gives a restarted worker the answers it gave."""
from __future__ import annotations

import json

from mmstream.analytics.engine.campaigns import CampaignConfig
from mmstream.analytics.engine.copystate import CopyState
from mmstream.analytics.engine.duplicates import DuplicateConfig
from mmstream.analytics.pipeline.copies import CopyFinder
from mmstream.analytics.state.copies import CLUSTER
from mmstream.settings import Settings

T0 = 1_764_000_000_000
BASE = "My order from acme never arrived, third time this month. Terrible service"


def pair(min_authors: int = 4) -> tuple[CopyState, CopyState]:
    return tuple(CopyState(DuplicateConfig(), CampaignConfig(min_authors=min_authors)) for _ in range(2))


def answer(state: CopyState, post_id: str, t: int, text: str, author: str | None) -> tuple:
    """A post answered by ``state``, and its entry (as another worker reads it: through JSON)."""
    dup, camp = state.observe(post_id, t, text, author)
    entry = state.entry(post_id, author, text.startswith("RT @"))
    return dup, camp, json.loads(json.dumps(entry)) if entry is not None else None


def test_a_retweet_answered_on_another_worker_links_to_the_original():
    a, b = pair()
    dup, _, entry = answer(a, "orig", T0, BASE, "ann")
    assert dup is None and entry["root"] == "orig" and len(entry["sig"]) == 64
    assert b.ingest(entry) and not b.ingest(entry)  # read twice: kept once
    assert b.observe("rt", T0 + 5, f"RT @ann: {BASE}", "bob")[0] == "orig"
    # without the entry, b would have called it an original
    _, c = pair()
    assert c.observe("rt", T0 + 5, f"RT @ann: {BASE}", "bob")[0] is None


def test_a_campaign_spread_over_two_workers_is_flagged_with_one_id_on_both():
    a, b = pair(min_authors=4)
    answers = {}
    for i in range(8):  # alternate workers, each entry reaching the other before its next post
        here, there = (a, b) if i % 2 == 0 else (b, a)
        dup, camp, entry = answer(here, f"p{i}", T0 + i * 1000, f"{BASE} #{i}", f"acct{i}")
        answers[f"p{i}"] = (dup, camp)
        there.ingest(entry)
        here.ingest(entry)  # its own echo: known, changes nothing
    assert all(dup == "p0" for pid, (dup, _) in answers.items() if pid != "p0")
    flagged = {pid: camp for pid, (_, camp) in answers.items() if camp is not None}
    assert sorted(flagged) == ["p3", "p4", "p5", "p6", "p7"]  # from the 4th account on, whichever worker
    assert len({c["id"] for c in flagged.values()}) == 1
    # on one worker alone each would count 4 accounts at most: never a campaign at min_authors=5
    solo = CopyState(DuplicateConfig(), CampaignConfig(min_authors=5))
    assert all(solo.observe(f"p{i}", T0 + i * 1000, f"{BASE} #{i}", f"acct{i}")[1] is None for i in range(0, 8, 2))


def test_two_originals_within_the_delay_merge_under_the_earlier_root_on_both_workers():
    a, b = pair(min_authors=3)
    _, _, ea = answer(a, "first", T0, BASE, "ann")
    _, _, eb = answer(b, "second", T0 + 10, BASE + "!", "bob")  # before a's entry arrived: an original too
    assert eb["root"] == "second"
    a.ingest(eb), b.ingest(ea)  # the entries meet, in either order
    for state, t in ((a, 20), (b, 30)):
        assert state.observe(f"copy{t}", T0 + t, BASE, f"u{t}")[0] == "first"
    # the third account (ann, bob, u20 on a; ann, bob, u30 on b) makes it a campaign named after "first"
    camp_a = a.observe("x", T0 + 40, BASE, "u40")[1]
    camp_b = b.observe("y", T0 + 50, BASE, "u50")[1]
    assert camp_a is not None and camp_b is not None and camp_a["id"] == camp_b["id"]
    # a replay of a first answer keeps it: "second" was an original when it was answered
    assert b.observe("second", T0 + 10, BASE + "!", "bob")[0] is None


def test_a_replayed_post_gets_the_answer_in_its_entry_even_when_the_index_now_differs():
    a, b = pair(min_authors=2)
    entries = [answer(a, f"p{i}", T0 + i, BASE, f"acct{i}")[2] for i in range(3)]
    assert entries[2]["campaign"] is not None
    for e in reversed(entries):  # b takes the partition over and reads the entries in another order
        b.ingest(e)
    for i, e in enumerate(entries):
        dup, camp = b.observe(f"p{i}", T0 + i, BASE, f"acct{i}")
        assert (dup, camp) == (None if i == 0 else "p0", e["campaign"])


def test_cluster_state_is_bounded_and_ignores_entries_past_the_ttl():
    a, b = pair()
    b.index.config = DuplicateConfig(ttl_ms=60_000, max_entries=50)
    for i in range(200):
        _, _, e = answer(a, f"p{i}", T0 + i * 1000, f"{BASE} variant number {i} " + "x" * (i % 7), f"u{i}")
        b.ingest(e)
    assert len(b.index) <= 50 and len(b.index.aliases) <= 50
    stale = dict(e, id="old", t=T0)  # 199 s before the clock, past the 60 s ttl
    assert not b.ingest(stale)


def test_finder_journals_entries_and_a_restarted_finder_gives_the_same_answers(tmp_path):
    settings = Settings(data_dir=str(tmp_path), duplicate_scope="cluster", duplicate_checkpoint_every=3,
                        campaign_min_authors=2)
    finder = CopyFinder(settings, checkpoints=True)
    state = finder.state(CLUSTER)
    given = [state.observe(f"p{i}", T0 + i, BASE, f"acct{i}") for i in range(5)]
    for i in range(5):
        entry = state.entry(f"p{i}", f"acct{i}", False)
        finder.store.journal(CLUSTER, None, entry)
        if state.since_checkpoint >= 3:
            finder.save(CLUSTER)
    again = CopyFinder(settings, checkpoints=True).state(CLUSTER)  # checkpoint (3 posts), then the journal (2)
    assert [again.observe(f"p{i}", T0 + i, BASE, f"acct{i}") for i in range(5)] == given
    assert given[1][1] is not None  # a campaign from the second account (min_authors=2)


def test_an_entry_it_cannot_read_is_skipped_with_a_warning_and_the_rest_are_kept(tmp_path, caplog):
    finder = CopyFinder(Settings(data_dir=str(tmp_path), duplicate_scope="cluster"), checkpoints=False)
    a, _ = pair()
    _, _, good = answer(a, "orig", T0, BASE, "ann")
    assert finder.ingest([{**good, "id": "bad", "sig": "not numbers"}, {**good, "t": None}, good]) == 1
    assert finder.describe()["ingested"] == 1 and "skipped a copies entry" in caplog.text
