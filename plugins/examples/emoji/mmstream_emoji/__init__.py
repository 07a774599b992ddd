"""Example third-party mmstream plugin, built only from the public plugin API (``mmstream.plugin``).

* ``reactions``, a modality: a post may carry ``"reactions": {"like": 120, "angry": 4}`` (the
  platform's reaction counts). The report (``modalities.reactions``) gives the total, the shares and
  the dominant reaction; the features (``dims = {"reactions": 7}``: six shares and the log of the
  total) are there for a fused model trained with them (the shipped model, trained on text, ignores
  them: ``training_features`` has no reactions to offer from tweets).
* ``link``, a modality that produces text: a post may carry ``"link": {"url": ..., "title": ...,
  "description": ...}`` (a shared link's preview card). Its words go on as the text view ``link_text``
  (``text_views``), so they get sentiment, complaint, emotion, language and brands like the post's own
  text, with no change in mmstream (``modalities.link`` reports the card's domain).
* ``emoji``, an enricher: ``record["emoji"]`` counts the emoji of the post's text and of the text
  read from its images, with a small sentiment lexicon (``positive`` / ``negative`` counts).

* ``GET /emoji/stats`` on a worker's web server (``register_routes``): posts enriched and emoji
  counted by this worker since it started.

Settings: ``MMSTREAM_PLUGIN_EMOJI_TOP`` (default 3), how many distinct emoji ``emoji.top`` lists.
"""
from __future__ import annotations

from mmstream.plugin import hookimpl
from mmstream_emoji.emoji import EmojiCounter
from mmstream_emoji.link import LinkCardExtractor
from mmstream_emoji.reactions import REACTIONS, ReactionsExtractor

__all__ = ["EmojiCounter", "LinkCardExtractor", "REACTIONS", "ReactionsExtractor", "register_enrichers",
           "register_extractors", "register_routes"]


@hookimpl
def register_extractors(settings):
    return [ReactionsExtractor(), LinkCardExtractor()]


@hookimpl
def register_enrichers(settings):
    return [EmojiCounter.from_settings(settings)]


@hookimpl
def register_routes(pipeline):
    counter = next(e for e in pipeline.enrichers if isinstance(e, EmojiCounter))

    async def stats(web, request):
        return web.json({"posts": counter.posts, "emoji": counter.emoji})

    return [("/emoji/stats", stats)]
