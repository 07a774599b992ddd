"""Regenerate mmstream/samples/posts.jsonl, the posts `mmstream demo` replays.

Deterministic: fixed texts, fixed seeds. Run: python scripts/make_samples.py
"""
from __future__ import annotations

import json
import random
from datetime import datetime, timedelta, timezone
from pathlib import Path

from PIL import Image, ImageDraw

from mmstream.render import image_to_b64, render_meme

OUT = Path(__file__).resolve().parents[1] / "mmstream" / "samples" / "posts.jsonl"
START = datetime(2026, 11, 28, 9, 0, tzinfo=timezone.utc)

TEXT_POSTS = [
    ("nimbus", "Just got the new Nimbus X2 phone and the battery lasts two full days. Absolutely love it!"),
    ("nimbus", "Nimbus support kept me on hold for 3 hours and then hung up. Never buying from them again."),
    ("nimbus", "The Nimbus keynote starts at 6pm Pacific, livestream link in their bio."),
    ("nimbus", "my nimbus screen cracked after one drop, so disappointed"),
    ("nimbus", "Nimbus X2 camera at night is honestly stunning, best photos I've taken"),
    ("acme air", "Acme Air lost my luggage AGAIN. Third time this year. Unbelievable."),
    ("acme air", "Shoutout to the Acme Air crew on flight 212, they were so kind to my grandma"),
    ("acme air", "Acme Air flight 88 to Lisbon is boarding at gate B12."),
    ("acme air", "Delayed 5 hours with no food vouchers, thanks for nothing @acmeair"),
    ("acme air", "Upgraded to business class on Acme Air for free, what a great day!"),
    ("brewly", "Brewly's new oat latte is the best coffee in town, I'm obsessed"),
    ("brewly", "Brewly raised prices again and the cups are smaller. Ridiculous."),
    ("brewly", "Brewly opens a new store on Main Street next Monday."),
    ("brewly", "Barista at Brewly remembered my order, small things make my day :)"),
    ("brewly", "cold coffee, rude staff, 20 minute wait. brewly you used to be good"),
    ("nimbus", "Comparing Nimbus X2 and last year's model: same chip, new colours."),
    ("acme air", "Acme Air announces new routes to Tokyo and Seoul starting in March."),
    ("brewly", "Brewly's app crashed while paying and charged me twice. Still waiting for a refund."),
    ("nimbus", "Nimbus earbuds died after a week. Waste of money."),
    ("brewly", "Pumpkin spice is back at Brewly and I could not be happier!!"),
    ("acme air", "Is Acme Air's lounge in terminal 2 open on Sundays?"),
    ("nimbus", "That Nimbus ad during the game was hilarious, well done"),
    ("acme air", "Flight attendant on Acme Air yelled at a kid. Disgusting behaviour."),
    ("brewly", "Studying at Brewly today, wifi is fast and the music is chill"),
]

# memes: a neutral caption, the opinion only inside the image
MEMES = [
    ("acme air", "saw this at the airport", "WORST AIRLINE EVER. LOST MY BAG AGAIN AND NOBODY CARES"),
    ("nimbus", "thoughts?", "THIS PHONE IS AMAZING. BEST PURCHASE OF MY LIFE"),
    ("brewly", "", "I HATE MONDAYS BUT I LOVE BREWLY COFFEE"),
    ("brewly", "my morning", "TERRIBLE SERVICE. COLD COFFEE. NEVER AGAIN"),
]


def photo(seed: int) -> Image.Image:
    """A synthetic photo-like picture (sky, sun, hills) with no text in it."""
    rng = random.Random(seed)
    img = Image.new("RGB", (384, 288))
    draw = ImageDraw.Draw(img)
    for y in range(288):
        t = y / 288
        draw.line([(0, y), (384, y)], fill=(int(90 + 100 * t), int(150 + 60 * t), int(230 - 40 * t)))
    x = rng.randrange(60, 320)
    draw.ellipse([x - 30, 40, x + 30, 100], fill=(255, 220, 90))
    for i in range(3):
        cx = rng.randrange(0, 384)
        draw.ellipse([cx - 200, 200 - i * 20, cx + 200, 420], fill=(40 + 30 * i, 120 + 20 * i, 50))
    return img


def main() -> None:
    posts = []
    t = START
    for i, (brand, text) in enumerate(TEXT_POSTS):
        t += timedelta(seconds=37)
        posts.append({"id": f"demo-{i + 1:03d}", "created_at": t.isoformat(), "platform": "x", "lang": "en",
                      "author": f"user{i + 1}", "brands": [brand], "text": text})
    for j, (brand, caption, meme) in enumerate(MEMES):
        t += timedelta(seconds=41)
        post = {"id": f"demo-meme-{j + 1}", "created_at": t.isoformat(), "platform": "instagram", "lang": "en",
                "brands": [brand], "images": [{"b64": image_to_b64(render_meme(meme, seed=100 + j, width=384,
                                                                                jpeg_quality=80), "JPEG", 80)}]}
        if caption:
            post["text"] = caption
        posts.append(post)
    for k in range(2):
        t += timedelta(seconds=29)
        posts.append({"id": f"demo-photo-{k + 1}", "created_at": t.isoformat(), "platform": "instagram", "lang": "en",
                      "brands": ["acme air"], "text": "View from my Acme Air window seat, what a morning!" if k == 0
                      else "sunday hike", "images": [{"b64": image_to_b64(photo(k), "JPEG", 80)}]})
    # two bad posts, to show dead letters: no created_at, and an image that is not an image
    posts.append({"id": "demo-bad-1", "text": "a post without a timestamp"})
    posts.append({"id": "demo-bad-2", "created_at": t.isoformat(), "images": [{"b64": "bm90IGFuIGltYWdl"}]})
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text("".join(json.dumps(p, ensure_ascii=False) + "\n" for p in posts))
    print(f"wrote {len(posts)} posts to {OUT}")


if __name__ == "__main__":
    main()
