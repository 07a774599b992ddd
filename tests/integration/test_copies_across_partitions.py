"""Duplicates and campaigns across partitions and workers (MMSTREAM_DUPLICATE_SCOPE=cluster) on the
embedded broker: 4 partitions of <prefix>posts, 2 worker processes, each with its own data directory.

Posts are keyed by id, so copies land on different partitions, read by different workers: a retweet
of a post on another partition gets its ``duplicate_of``, a paste burst by 12 accounts spread over the
partitions gets one campaign id (in partition scope neither happens: no partition holds 8 of its
accounts), and after a kill -9 and a restart every post sent again gets the answers it got."""
from __future__ import annotations

import json
import signal
import urllib.request
from collections import defaultdict
from pathlib import Path

from kafka.partitioner.default import murmur2

from mmstream.kafka.admin import create_topics
from mmstream.kafka.broker import free_port
from mmstream.settings import Settings
from support import WorkerProcess, produce, wait_for, wait_for_assignment, wait_until

T0 = 1_764_320_400
TEMPLATE = "Do NOT trust acme, they charged me twice and refuse to refund. Avoid {}"
ORIGINALS = ["The new acme phone battery lasts two full days, impressed so far",
             "zenbank closed my branch without any notice, now a 40 minute drive",
             "brewly cold brew is back in stores this week and I bought six",
             "novaair lost my bag on the way to Lisbon and nobody answers the phone"]


def partition_of(post_id: str, partitions: int = 4) -> int:
    return (murmur2(post_id.encode()) & 0x7FFFFFFF) % partitions


def ids_on(prefix: str, partition: int, n: int = 1) -> list[str]:
    out, k = [], 0
    while len(out) < n:
        if partition_of(f"{prefix}{k}") == partition:
            out.append(f"{prefix}{k}")
        k += 1
    return out


def results(settings: Settings, ids: set[str], copies: int = 1, timeout: float = 120) -> dict[str, list[dict]]:
    """Each id's results, in arrival order, read until every id of ``ids`` has ``copies`` of them."""
    def done(records) -> bool:
        seen = defaultdict(int)
        for r in records:
            seen[r.json()["id"]] += 1
        return all(seen[i] >= copies for i in ids)

    found: dict[str, list[dict]] = defaultdict(list)
    for record in wait_for(settings, "enriched", done, timeout, what=f"{copies} results of {sorted(ids)}"):
        found[record.json()["id"]].append(record.json())
    return found


def indexed(ports: list[int], records: int, timeout: float = 60) -> None:
    """Wait until the copy index of every worker has read ``records`` entries: the index is eventually
    consistent (a copy answered on another worker within the propagation delay is an original), and the
    answers below are those of copies that arrive after it."""
    def counts() -> list[int]:
        found = []
        for port in ports:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/analytics/status", timeout=5) as resp:
                found.append(json.loads(resp.read())["duplicates"]["index"]["records"])
        return found
    wait_until(lambda: all(n >= records for n in counts()) and counts(), timeout,
               f"{records} entries read by the copy index of the workers on ports {ports}")


def start(settings: Settings, tmp_path: Path, name: str) -> tuple[WorkerProcess, int]:
    port = free_port()
    env = {"MMSTREAM_DUPLICATE_SCOPE": "cluster", "MMSTREAM_DATA_DIR": str(tmp_path / f"data-{name}"),
           "MMSTREAM_MODEL_DIR": settings.model_dir}
    return WorkerProcess(settings.replace(web_port=port), tmp_path / f"{name}.log", env=env), port


def test_retweets_and_a_campaign_across_partitions_and_a_kill_9_replays_the_same_answers(settings, tmp_path):
    assert settings.partitions == 4
    create_topics(settings, roles=("input", "worker", "analytics"))
    workers, ports = zip(*(start(settings, tmp_path, f"w{i}") for i in range(2)))
    workers = list(workers)
    try:
        wait_for_assignment(list(ports), timeout=120)
        # one original on each partition, then a retweet of each on the next partition
        originals = [{"id": ids_on("orig", p)[0], "created_at": T0 + p, "text": text, "author": f"poster{p}"}
                     for p, text in enumerate(ORIGINALS)]
        produce(settings, originals)
        results(settings, {o["id"] for o in originals})
        indexed(list(ports), len(originals))
        retweets = [{"id": ids_on(f"rt{p}-", (p + 1) % 4)[0], "created_at": T0 + 60 + p,
                     "text": f"RT @poster{p}: {o['text']}", "author": f"fan{p}"} for p, o in enumerate(originals)]
        produce(settings, retweets)
        got = results(settings, {r["id"] for r in retweets})
        for o, r in zip(originals, retweets):
            assert partition_of(o["id"]) != partition_of(r["id"])
            assert got[r["id"]][0]["duplicate_of"] == o["id"], (r, got[r["id"]], workers[0].log())

        # a paste burst by 12 accounts over every partition, each post once the one before is in every index
        burst = [{"id": f"camp{j}", "created_at": T0 + 600 + j, "text": TEMPLATE.format("#" * (j % 3) + f"x{j}"),
                  "author": f"bot{j}"} for j in range(12)]
        assert len({partition_of(b["id"]) for b in burst}) == 4
        for n, post in enumerate(burst, 1):
            produce(settings, [post])
            indexed(list(ports), 2 * len(originals) + n)
        got = results(settings, {b["id"] for b in burst})
        answers = [got[b["id"]][0] for b in burst]
        assert all(a["duplicate_of"] == "camp0" for a in answers[1:]), [a["duplicate_of"] for a in answers]
        flagged = [a for a in answers if a["campaign"] is not None]
        assert [a["id"] for a in flagged] == [f"camp{j}" for j in range(7, 12)], answers  # from the 8th account on
        assert len({a["campaign"]["id"] for a in flagged}) == 1
        assert len({partition_of(a["id"]) for a in flagged}) >= 2

        # kill -9 of one worker, a restart on its data directory, and every post sent again
        first = {i: rs[0] for i, rs in results(settings, {p["id"] for p in originals + retweets + burst}).items()}
        workers[0].proc.kill()
        workers[0].proc.wait()
        assert workers[0].stop() == -signal.SIGKILL
        workers[0], port0 = start(settings, tmp_path, "w0")
        wait_for_assignment([port0, ports[1]], timeout=120)
        everything = originals + retweets + burst
        produce(settings, everything)
        again = results(settings, {p["id"] for p in everything}, copies=2, timeout=180)
        for post in everything:
            a, b = first[post["id"]], again[post["id"]][-1]
            assert (b["duplicate_of"], b["campaign"]) == (a["duplicate_of"], a["campaign"]), (post["id"], a, b)
        assert not [w for w in workers if "could not write a batch of entries" in w.log_path.read_text()]
    finally:
        for w in workers:
            w.stop()
