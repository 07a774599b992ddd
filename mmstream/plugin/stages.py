"""The stages after the model that a plugin may add: enrichers and sinks.

Both are handed back once, at startup, by the ``register_enrichers`` and
``register_sinks`` hooks; the per-batch path then calls the objects (in the
worker's model thread), never the hooks.

* An :class:`Enricher` adds to the results of a micro-batch (brand matching,
  topic assignment ...). A fault in it dead-letters only the posts concerned,
  at stage ``enrich:<name>``.
* A :class:`Sink` receives the micro-batch's results once they are final (every
  enricher ran, the record is valid JSON) and sends them somewhere besides the
  enriched topic (the mention publisher of the analytics is one). A sink never
  dead-letters: a failure is logged and counted, the results still go out.

Both get each post as a read-only :class:`~mmstream.plugin.items.Item`, never the
engine's own per-post state; an enricher puts its output in the result with
``item.add(key, value)``.
"""
from __future__ import annotations

import logging
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pragma: no cover
    from mmstream.plugin.items import Item

log = logging.getLogger(__name__)


class Enricher:
    """A step after the model that adds to results.

    Implement :meth:`enrich_item` (one post; the default :meth:`enrich` calls it
    for each post and marks the post done), or override :meth:`enrich` for a
    batch at once. Each item is a read-only :class:`~mmstream.plugin.items.Item`:
    ``item.record`` (the result so far), ``item.post``, ``item.values`` (every
    extracted modality value), ``item.texts()``, ``item.features`` and
    ``item.prediction``; the enricher's output goes in with ``item.add(key, value)``.

    When ``enrich`` raises, the pipeline retries the posts one by one to find the
    culprit, skipping those already in ``item.done`` (so side effects such as the
    topic miner's counts happen once per post: an ``enrich`` override calls
    ``item.mark_done(self.name)`` for each post it finished); the culprit is
    dead-lettered at stage ``enrich:<name>``.
    """

    #: name used in dead-letter stages (``enrich:<name>``) and in ``mmstream plugins``
    name: str = "enricher"

    def enrich(self, items: list["Item"]) -> None:
        for item in items:
            if self.name in item.done:
                continue
            self.enrich_item(item)
            item.mark_done(self.name)

    def enrich_item(self, item: "Item") -> None:
        raise NotImplementedError(f"{type(self).__name__} implements neither enrich() nor enrich_item()")


class Sink:
    """Where a micro-batch's final results go besides the enriched topic.

    ``write(items)`` gets, in the model thread, the batch's posts whose outcome is
    a result, as read-only :class:`~mmstream.plugin.items.Item` (``item.record`` is
    what goes on the enriched topic). In a worker,
    ``delivered()`` is awaited on the event loop before the batch's offsets are
    acknowledged: wait there for what ``write`` sent (at-least-once). ``close()``
    runs once at shutdown (the end of ``mmstream score``)."""

    #: name used in logs and in ``mmstream plugins``
    name: str = "sink"
    #: batches whose ``write`` raised (the pipeline counts them)
    failed: int = 0

    def write(self, items: list["Item"]) -> None:
        raise NotImplementedError(f"{type(self).__name__} does not implement write()")

    async def delivered(self) -> None:
        """Wait until what :meth:`write` handed over has arrived (worker only)."""

    def close(self) -> None:
        """Release what the sink holds; called once, at shutdown."""


def write_sinks(sinks: list[Sink], items: list["Item"]) -> None:
    """Hand ``items`` to every sink; a failing sink is logged and counted, never raised."""
    if not items:
        return
    for sink in sinks:
        try:
            sink.write(items)
        except Exception as exc:  # noqa: BLE001 - the results still go out; say loudly what the sink missed
            sink.failed = getattr(sink, "failed", 0) + 1
            log.error("sink %r failed on a batch of %d results (%r); it misses them (%d batches so far)",
                      sink.name, len(items), exc, sink.failed)
