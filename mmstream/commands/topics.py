"""``mmstream topics``: the topic catalogue (:mod:`mmstream.kafka.catalogue`) for the people who run
the cluster: listed with the partitions and configs the current settings give each topic, created on
a broker (``--create``), or written out as ``kafka-topics.sh`` commands for an admin who creates
topics by hand (``--script``).

Why a command: deploy files and runbooks that spell the topics out drift from the code (a compose
script made ``mentions`` with one partition after the analytics were partitioned, and left
``window-totals`` out). Printed from the catalogue, they cannot.
"""
from __future__ import annotations

import shlex

from mmstream.kafka import catalogue
from mmstream.settings import Settings


def _partitions_note(entry: catalogue.Topic) -> str:
    return {"1": "always 1", "partitions": "MMSTREAM_PARTITIONS",
            "analytics_partitions": "MMSTREAM_ANALYTICS_PARTITIONS"}.get(entry.partitions, entry.partitions)


def table(settings: Settings) -> str:
    """Every topic: its full name, partition count (and the setting it comes from), configs, writers and readers."""
    rows = []
    for entry in catalogue.CATALOGUE:
        configs = ",".join(f"{k}={v}" for k, v in entry.configs(settings).items()) or "-"
        rows.append((entry.full_name(settings), f"{entry.partition_count(settings)} ({_partitions_note(entry)})",
                     configs, f"{', '.join(entry.writers)} -> {', '.join(entry.readers)}"))
    widths = [max(len(r[i]) for r in rows) for i in range(3)]
    head = ("topic", "partitions", "configs")
    widths = [max(w, len(h)) for w, h in zip(widths, head)]
    lines = ["  ".join(h.ljust(w) for h, w in zip(head, widths)) + "  written by -> read by"]
    lines += ["  ".join(c.ljust(w) for c, w in zip(r[:3], widths)) + "  " + r[3] for r in rows]
    return "\n".join(lines)


def script(settings: Settings) -> str:
    """``kafka-topics.sh`` commands creating every topic as mmstream would (``$BROKERS``: the bootstrap servers)."""
    rf = str(settings.replication_factor) if settings.replication_factor > 0 else "$RF"
    lines = ["# mmstream's topics, from its catalogue (mmstream topics --script); set BROKERS"
             + ("" if settings.replication_factor > 0 else " and RF (the replication factor)")]
    for entry in catalogue.CATALOGUE:
        command = ["kafka-topics.sh", "--bootstrap-server", "$BROKERS", "--create", "--if-not-exists",
                   "--topic", entry.full_name(settings), "--partitions", str(entry.partition_count(settings)),
                   "--replication-factor", rf]
        for key, value in entry.configs(settings).items():
            command += ["--config", f"{key}={value}"]
        lines.append(" ".join(c if c.startswith("$") else shlex.quote(c) for c in command))
    return "\n".join(lines)


def create(settings: Settings) -> list[str]:
    """Create every topic of the catalogue that is missing (existing ones are left as they are)."""
    from mmstream.kafka.admin import create_topics

    return create_topics(settings, roles=catalogue.ROLES)
