"""What mmstream asks of Kafka's admin API: the catalogue's topics created (:func:`create_topics`),
and the ACLs a client needs checked at start (:func:`check_access`), so a missing topic or a
missing grant fails before anything is consumed or written, naming the fix.

Topics are created explicitly: an auto-created topic gets the broker's default partition count
and configs, and tansu cannot add partitions later.
"""
from __future__ import annotations

import warnings
from collections import defaultdict
from typing import Iterable

from mmstream.errors import BrokerError, ConfigError
from mmstream.kafka import catalogue
from mmstream.kafka.catalogue import topic_configs
from mmstream.kafka.clients import admin_client, principal
from mmstream.settings import Settings

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)  # kafka-python 3.x on import
    from kafka.admin import NewTopic
    from kafka.errors import KafkaError, TopicAlreadyExistsError, TopicAuthorizationFailedError


def create_topics(settings: Settings, roles: Iterable[str] = (), topics: Iterable[str] = (),
                  timeout: float = 10.0, skip: Iterable[str] = ()) -> list[str]:
    """Create the catalogue's topics that ``roles`` create (``worker``, ``analytics``, ``input``:
    :data:`~mmstream.kafka.catalogue.ROLES`) and the ``topics`` named (short names), but not those in
    ``skip`` (short names), each with its catalogue partition count and configs, when missing; wait
    until all have leaders. The full names, in catalogue order. Topics that exist are left as they are."""
    wanted = (set(catalogue.names(roles=roles)) | {catalogue.topic(name).name for name in topics}) - {
        catalogue.topic(name).name for name in skip}
    by_count: dict[int, list[str]] = defaultdict(list)
    for entry in catalogue.CATALOGUE:
        if entry.name in wanted:
            by_count[entry.partition_count(settings)].append(entry.full_name(settings))
    for count, full in by_count.items():
        ensure_topics(settings, full, count, timeout)
    return [entry.full_name(settings) for entry in catalogue.CATALOGUE if entry.name in wanted]


def ensure_topics(settings: Settings, names: list[str], partitions: int,
                  timeout: float = 10.0) -> None:
    """Create the (full) topic names that do not exist, with ``partitions`` partitions, the catalogue's
    configs (:func:`~mmstream.kafka.catalogue.topic_configs`) and ``MMSTREAM_REPLICATION_FACTOR``
    replicas, then wait until the broker's metadata
    shows all of them with a leader for every partition. Topics that exist are left as
    they are (a principal without CREATE may use topics an admin made)."""
    if not names:
        return
    admin = admin_client(settings)
    try:
        existing = set(admin.list_topics())
        replicas = settings.replication_factor if settings.replication_factor > 0 else -1
        for name in names:  # one by one: an existing topic must not hide the others
            if name in existing:
                continue
            topic = NewTopic(name, num_partitions=partitions, replication_factor=replicas,
                             topic_configs=topic_configs(settings, name))
            try:
                admin.create_topics([topic], timeout_ms=int(timeout * 1000))
            except TopicAlreadyExistsError:
                pass
            except TopicAuthorizationFailedError:
                raise BrokerError(f"{principal(settings)} may not create topic {name!r} on {settings.broker}: "
                                  "create it beforehand (deploy/README.md) or grant CREATE") from None
        try:
            admin.wait_for_topics(list(names), timeout_ms=int(timeout * 1000))
        except KafkaError as exc:
            raise BrokerError(f"topics {names} did not become ready: {exc}") from None
    except KafkaError as exc:
        raise BrokerError(f"cannot create topics {names} on {settings.broker}: {exc}") from None
    finally:
        admin.close()


def check_access(settings: Settings, read: Iterable[str] = (), write: Iterable[str] = ()) -> None:
    """ConfigError naming the principal, the topic and the operation when the broker's ACLs
    do not let this client READ each of ``read`` or WRITE each of ``write`` (full names):
    at start-up, before anything is consumed or written. Brokers that do not report
    authorized operations (tansu) pass."""
    read, write = list(read), list(write)
    needed = {name: set() for name in read + write}
    for name in read:
        needed[name].add("READ")
    for name in write:
        needed[name].add("WRITE")
    if not needed:
        return
    admin = admin_client(settings)
    try:
        described = {t["name"]: t for t in admin.describe_topics(list(needed))}
    except KafkaError as exc:
        raise BrokerError(f"cannot describe topics {sorted(needed)} on {settings.broker}: {exc}") from None
    finally:
        admin.close()
    for name, operations in needed.items():
        topic = described.get(name) or {}
        if topic.get("error_code") == TopicAuthorizationFailedError.errno:
            missing = sorted(operations | {"DESCRIBE"})
        else:
            allowed = topic.get("authorized_operations")
            if allowed is None or "ALL" in allowed:
                continue
            missing = sorted(operations - set(allowed))
        if missing:
            raise ConfigError(f"{principal(settings)} may not {' or '.join(missing)} topic {name!r} on "
                              f"{settings.broker}: grant it (kafka-acls --add --allow-principal "
                              f"User:{settings.sasl_username or '<name>'} --operation {missing[0].title()} "
                              f"--topic {name}) or connect as a principal that may")
