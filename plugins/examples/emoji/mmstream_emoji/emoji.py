"""The ``emoji`` enricher: the emoji of a post's text (and of the text read from its images)."""
from __future__ import annotations

import re
from collections import Counter

from mmstream.plugin import ConfigError, Enricher, Item

#: emoji: pictographs, emoticons, transport and map symbols, dingbats, flags, and their modifiers
EMOJI = re.compile("[\U0001F1E6-\U0001F1FF]{2}|[\U0001F300-\U0001FAFF\u2600-\u27BF][\U0001F3FB-\U0001F3FF\uFE0F]?")
POSITIVE = set("😀😃😄😁😆😊🙂😍🥰😘😎👍👏🙌🎉❤💯🔥✨😂🤩💪🥳")
NEGATIVE = set("😠😡🤬😢😭😞😔😒🙄👎💔😤😩😫🤮😱😰😣")


def emoji_of(text: str) -> list[str]:
    """The emoji in ``text``, in order; a skin tone or presentation selector is dropped, a flag kept whole."""
    return [e if "\U0001F1E6" <= e[0] <= "\U0001F1FF" else e[0] for e in (m.group(0) for m in EMOJI.finditer(text))]


class EmojiCounter(Enricher):
    name = "emoji"

    def __init__(self, top: int = 3) -> None:
        self.top = top
        self.posts = self.emoji = 0  # counted since startup (GET /emoji/stats on a worker)

    @classmethod
    def from_settings(cls, settings) -> "EmojiCounter":
        raw = settings.plugin("emoji").get("top", "3")
        try:
            top = int(raw)
            if top < 0:
                raise ValueError
        except (TypeError, ValueError):
            raise ConfigError(f"MMSTREAM_PLUGIN_EMOJI_TOP={raw!r}: give a whole number of emoji, 0 or more") from None
        return cls(top)

    def enrich_item(self, item: Item) -> None:
        found = [e for v in item.texts().values() for e in emoji_of(v)]  # the post's text, then its media's
        base = Counter(found)
        self.posts += 1
        self.emoji += len(found)
        item.add("emoji", {
            "count": len(found),
            "top": [e for e, _ in sorted(base.items(), key=lambda ec: (-ec[1], ec[0]))[: self.top]],
            "positive": sum(n for e, n in base.items() if e in POSITIVE),
            "negative": sum(n for e, n in base.items() if e in NEGATIVE),
        })
