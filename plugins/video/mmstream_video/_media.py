"""The media-entry helpers of the plugin API (``check_media_list``, ``read_media``), or,
while the installed mmstream lacks them, a private base64-only stand-in with the same
signatures and reasons (a ``ref`` entry is then refused as ``unsupported_media_source``)."""
from __future__ import annotations

import base64
import binascii
from typing import Any

from mmstream.plugin import PostError, Settings

try:
    from mmstream.plugin import check_media_list, read_media  # type: ignore[attr-defined]
except ImportError:  # an mmstream without media entries

    def check_media_list(modality: str, value: Any, max_items: int) -> list[dict]:
        """A non-empty list of at most ``max_items`` ``{"b64": str}`` / ``{"ref": str}`` objects."""
        shape = f'a list of {{"b64": "<base64>"}} or {{"ref": "<location>"}} objects'
        if not isinstance(value, list):
            raise PostError("wrong_type", f"'{modality}' must be {shape}, got {type(value).__name__}; fix the "
                            "producer.", "validate")
        if not value:
            raise PostError("empty_value", f"'{modality}' is an empty list; send at least one entry or leave the "
                            "key out.", "validate")
        if len(value) > max_items:
            raise PostError("too_many_items", f"'{modality}' has {len(value)} entries, more than {max_items}; send "
                            "fewer.", "validate")
        for i, entry in enumerate(value):
            keys = set(entry) & {"b64", "ref"} if isinstance(entry, dict) else set()
            if len(keys) != 1 or not isinstance(entry[next(iter(keys))], str):
                raise PostError("wrong_type", f"{modality}[{i}] must be {shape[5:-8]} object with exactly one of "
                                "the two keys, holding a string; fix the producer.", "validate")
        return value

    def read_media(entry: dict, settings: Settings, *, max_bytes: int, where: str) -> bytes:
        """The bytes of a ``{"b64": ...}`` entry (this stand-in fetches no ``ref``)."""
        if "b64" not in entry:
            raise PostError("unsupported_media_source", f"{where} is a ref, and this mmstream reads no media "
                            'by reference; embed the bytes as {"b64": "<base64>"}.', "validate")
        text = entry["b64"]
        if len(text) // 4 * 3 - text[-2:].count("=") > max_bytes:
            raise PostError("media_too_large", f"{where} is over the limit of {max_bytes} bytes.", "validate")
        try:
            data = base64.b64decode(text, validate=True)
        except (binascii.Error, ValueError):
            raise PostError("invalid_base64", f"{where}.b64 is not valid base64 (standard alphabet, padded, no "
                            "line breaks); encode the raw file bytes with base64.", "validate") from None
        if not data:
            raise PostError("empty_media", f"{where} is empty (0 bytes); send the whole file.", "validate")
        if len(data) > max_bytes:
            raise PostError("media_too_large", f"{where} is {len(data)} bytes, over the limit of {max_bytes}.",
                            "validate")
        return data

__all__ = ["check_media_list", "read_media"]
