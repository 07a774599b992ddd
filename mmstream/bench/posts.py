"""The benchmark's posts, built deterministically: the same call gives the
same bytes, so every system measured in a run (and every run) sees the same
input.

Texts are the TweetEval sentiment test tweets, in file order (repeated when
more posts are asked for than there are tweets). The image mix gives every
fifth post (20 %) one JPEG image, alternating between

* a meme: the tweet rendered as text on an image (384 px wide), the post's
  own text a neutral caption, so the opinion is only in the image's text;
* a photo-like scene without text (480 x 360), the post's text the tweet.

The retweets mix (issue 30) is text only with authors: 40 % of the posts are retweets of one
of the 4 latest viral originals (one original in 10) (``RT @author: text``, the same text for every retweet of a post).

The multilingual mix alternates a TweetEval tweet with a UMSAB test tweet of
its seven languages in turn (ar, fr, de, hi, it, pt, es): 50 % non-English,
no ``lang`` given, so the text plugin detects each post's language.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Literal

from mmstream.errors import ConfigError
from mmstream.training.data import data_dir

Mix = Literal["text", "image", "multilingual", "retweets"]
MIXES: tuple[Mix, ...] = ("text", "image", "multilingual", "retweets")
MIX_LABELS = {"text": "text-only", "image": "20% with an image", "multilingual": "50% non-English",
              "retweets": "40% retweets"}
#: the retweets mix: posts i with i % 5 in RETWEET_SLOTS are retweets (40 %) of one of the last RETWEET_OF
#: viral originals (every VIRAL_EVERY-th original)
RETWEET_SLOTS = (1, 3)
RETWEET_OF = 4
VIRAL_EVERY = 10
#: one post in IMAGE_EVERY carries an image in the image mix
IMAGE_EVERY = 5
CAPTIONS = ("look at this", "just saw this", "thoughts?", "found this today", "sharing this", "well then")
#: created_at of post 0 (2025-11-28T09:00:00Z); post i is i seconds later
EPOCH = 1764320400
MEME_WIDTH = 384
SCENE_SIZE = (480, 360)
JPEG_QUALITY = 85


@dataclass(frozen=True)
class BenchPost:
    """One post of a mix: ``body`` is its JSON without the ``id`` (see :meth:`raw`)."""

    index: int
    text: str
    image: Literal["meme", "scene"] | None
    body: bytes

    def raw(self, post_id: str, shift_s: int = 0) -> bytes:
        """The Kafka record value: the post's JSON with ``id`` first; ``shift_s`` seconds
        added to its ``created_at``."""
        body = self.body
        if shift_s:
            obj = json.loads(body)
            obj["created_at"] += shift_s
            body = json.dumps(obj, ensure_ascii=False, separators=(",", ":")).encode()
        return b'{"id":' + json.dumps(post_id).encode() + b"," + body[1:]


def tweets() -> list[str]:
    """TweetEval sentiment test texts, one per line, as in the file."""
    path = tweets_path()
    lines = [line for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    if not lines:
        raise ConfigError(f"{path} has no tweets")
    return lines


def tweets_path() -> Path:
    return data_dir() / "tweeteval" / "sentiment" / "test_text.txt"


def build_mix(mix: Mix, n: int) -> list[BenchPost]:
    """``n`` posts of ``mix`` (``"text"``: text only; ``"image"``: 20 % with an image;
    ``"multilingual"``: text only, 50 % non-English)."""
    if mix not in MIXES:
        raise ConfigError(f"unknown mix {mix!r}; use one of {', '.join(MIXES)}")
    if n < 1:
        raise ConfigError(f"the number of posts must be at least 1, got {n}")
    texts = tweets()
    if mix == "multilingual":
        from mmstream.training.multilingual import half_non_english

        return [_post(i, tweet, None, lang=None) for i, tweet in enumerate(half_non_english(texts, n))]
    if mix == "retweets":
        return _retweets(texts, n)
    posts = []
    for i in range(n):
        tweet = texts[i % len(texts)]
        kind = _image_kind(i) if mix == "image" else None
        posts.append(_post(i, tweet, kind))
    return posts


def _retweets(texts: list[str], n: int) -> list[BenchPost]:
    """Text only, every post with an ``author``; 40 % are retweets, ``RT @<author>: <text>`` of one of the last
    RETWEET_OF viral originals (so a viral post's retweets repeat one text: the content cache's case)."""
    posts: list[BenchPost] = []
    originals = 0
    viral: list[tuple[str, str]] = []  # (author, text) of the viral originals so far
    for i in range(n):
        if i % 5 in RETWEET_SLOTS and viral:
            author, text = viral[-1 - (i * 7919) % min(RETWEET_OF, len(viral))]
            tweet = f"RT @{author}: {text}"
        else:
            author, tweet = f"user{i % 997}", texts[originals % len(texts)]
            if originals % VIRAL_EVERY == 0:
                viral.append((author, tweet))
            originals += 1
        obj = {"created_at": EPOCH + i, "lang": "en", "author": f"user{(i * 31) % 997}", "text": tweet}
        posts.append(BenchPost(i, tweet, None, json.dumps(obj, ensure_ascii=False, separators=(",", ":")).encode()))
    return posts


def _image_kind(i: int) -> Literal["meme", "scene"] | None:
    if i % IMAGE_EVERY != IMAGE_EVERY - 1:
        return None
    return "meme" if (i // IMAGE_EVERY) % 2 == 0 else "scene"


def _post(i: int, tweet: str, image: Literal["meme", "scene"] | None, lang: str | None = "en") -> BenchPost:
    from mmstream.render import image_to_b64, render_meme, render_scene

    obj: dict = {"created_at": EPOCH + i, "text": tweet}
    if lang:
        obj = {"created_at": EPOCH + i, "lang": lang, "text": tweet}
    if image == "meme":
        obj["text"] = CAPTIONS[i % len(CAPTIONS)]
        picture = render_meme(tweet, seed=i, width=MEME_WIDTH)
        obj["images"] = [{"b64": image_to_b64(picture, "JPEG", JPEG_QUALITY)}]
    elif image == "scene":
        picture = render_scene(seed=i, width=SCENE_SIZE[0], height=SCENE_SIZE[1])
        obj["images"] = [{"b64": image_to_b64(picture, "JPEG", JPEG_QUALITY)}]
    body = json.dumps(obj, ensure_ascii=False, separators=(",", ":")).encode()
    return BenchPost(i, tweet, image, body)


def records(posts: Iterable[BenchPost], prefix: str, shift_s: int = 0) -> list[tuple[str, bytes]]:
    """``(id, value)`` per post, ids ``<prefix><index>``: one id space per phase. A phase
    after another gives ``shift_s`` (its posts' times follow the earlier phase's): replayed
    with their first times, every post would be late for its windows, and the phase would
    measure the late-post path (a ``late`` record per post), not a stream."""
    return [(f"{prefix}{p.index}", p.raw(f"{prefix}{p.index}", shift_s)) for p in posts]


def describe(posts: list[BenchPost]) -> dict:
    """Counts and sizes of a mix, for the report."""
    with_image = [p for p in posts if p.image]
    return {
        "posts": len(posts),
        "with_image": len(with_image),
        "memes": sum(p.image == "meme" for p in posts),
        "scenes": sum(p.image == "scene" for p in posts),
        "mean_bytes": round(sum(len(p.body) for p in posts) / len(posts)),
        "source": str(tweets_path()),
    }
