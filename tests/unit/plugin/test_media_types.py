"""``Extractor.media_types``: a tool that writes posts of a kind of file finds the post key to put it under
from the plugins' declarations (``mmstream eval --media``: voice notes under the key declaring ``audio/*``)."""
from __future__ import annotations

from mmstream.plugin import Extractor
from mmstream.plugin.extractors import key_for_media
from mmstream.plugin.manager import get_plugin_manager, register_extractors
from mmstream.settings import Settings


class Podcasts(Extractor):
    name = "podcasts"
    modalities = ("episodes",)
    media_types = {"episodes": ("audio/*",), "not_mine": ("video/*",)}  # a key it does not read is not offered


def test_the_built_in_media_plugins_declare_their_files():
    extractors = register_extractors(get_plugin_manager(), Settings())
    assert key_for_media(extractors, "audio/*") == "audio" and key_for_media(extractors, "video/*") == "videos"
    assert key_for_media(extractors, "application/pdf") is None


def test_a_third_party_key_is_found_and_only_for_what_it_reads():
    extractors = {"episodes": Podcasts()}
    assert key_for_media(extractors, "audio/*") == "episodes"
    assert key_for_media(extractors, "video/*") is None
