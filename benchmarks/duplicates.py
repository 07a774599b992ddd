"""Duplicates and campaigns on built streams: campaign recall, organic posts flagged, retweets linked.

A stream is a day of real tweets (TweetEval sentiment train, or val: ``--split``), each by one
of a pool of accounts, plus

* **retweets** (15 % of the posts): ``RT @author: `` and an earlier post's text, by
  another account, minutes to hours later, a third of them cut to 140 characters with ``…``;
* **organic copies**: one real tweet in 500 (40 in 20,000) pasted again by 3 to 30 random accounts over 2 to 12 hours
  (a headline everyone shares; organic: must not be a campaign);
* **campaigns**: a template filled with a brand, posted by 20 to 150 distinct
  bot accounts within 5 to 40 minutes, each copy varied by a bot-style rule set.

Two generators, each with its own templates and variation rules:

* ``A`` (the defaults were tuned on it): complaints; synonym swaps, hashtags, emoji, case
  changes, a link, a swapped-letter typo, a handle;
* ``B`` (never tuned on): praise and calls to action; a word dropped, two sentences swapped, an
  opener ("Honestly,", "wow"), a number changed, a letter stretched ("sooo"), other emoji,
  a trailing account tag.

Each post goes through the state a worker's partition holds (:class:`mmstream.analytics.pipeline.copies.CopyState`,
the settings' defaults unless given), in event-time order. Figures:

* campaign recall: campaign posts whose result has a ``campaign`` (the first ``min_authors - 1`` of a
  campaign cannot have one; also campaigns with at least one flagged post);
* organic flagged: organic posts (not retweets, not campaign) with a ``campaign``; also those with a
  ``duplicate_of`` (real tweets that repeat another real tweet are counted as such, not as errors);
* retweets linked: retweets whose ``duplicate_of`` is their original's root (the original's own
  ``duplicate_of``, or the original).

    .venv/bin/python benchmarks/duplicates.py [--generator A|B|both] [--posts 20000] [--seed 0]
        [--threshold 0.5] [--min-authors 8] [--window 1800]
"""
from __future__ import annotations

import argparse
import random
import sys
import time
from pathlib import Path

from mmstream.analytics.engine.campaigns import CampaignConfig
from mmstream.analytics.engine.copystate import CopyState
from mmstream.analytics.engine.duplicates import DuplicateConfig
from mmstream.settings import Settings

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "tweeteval" / "sentiment"
BRANDS = ["acme", "zenbank", "brewly", "novaair", "fastcart", "telio", "hyperfit", "quickloan"]
DAY_MS = 86_400_000

TEMPLATES_A = [
    "{brand} stole my money and support won't answer. Never using {brand} again",
    "Third time my {brand} order has not arrived. Worst customer service ever",
    "Do NOT trust {brand}, they charged me twice and refuse to refund",
    "{brand} app has been down all day and nobody tells us anything. Pathetic",
    "Cancelled my {brand} account today after they lost my data again",
    "{brand} is a scam. Hidden fees everywhere, avoid at all costs",
    "Waited 3 hours on the phone with {brand} and got hung up on",
    "My {brand} delivery showed up broken and they blame me. Disgraceful company",
]
SYNONYMS_A = {"worst": ["terrible", "awful"], "never": ["not ever", "never ever"], "money": ["cash", "funds"],
              "scam": ["fraud", "ripoff"], "pathetic": ["ridiculous", "shameful"], "today": ["this morning", "today!"],
              "company": ["business", "corp"], "broken": ["smashed", "damaged"], "again": ["once more", "again!!"]}
EMOJI_A = ["😡", "🤬", "👎", "💩", "😤"]
HASHTAGS_A = ["#boycott", "#scam", "#fail", "#customerservice", "#neveragain"]

TEMPLATES_B = [
    "Just switched to {brand} and honestly my life changed. Everyone should try it today",
    "Big thanks to {brand} for the amazing support. They fixed everything in 5 minutes",
    "{brand} has the best prices in town. Stop overpaying elsewhere and join now",
    "I was skeptical but {brand} delivered. 10 out of 10 would recommend to friends",
    "Sign the petition: {brand} deserves a fair hearing. Share this with 20 people",
    "Why is nobody talking about how good {brand} is? Changed the game for my family",
]
OPENERS_B = ["Honestly, ", "wow. ", "ok so ", "PSA: ", "Not sponsored but ", ""]
EMOJI_B = ["🔥", "💯", "🙌", "✨", "❤️", "👍"]


def vary_a(text: str, rng: random.Random) -> str:
    words = text.split()
    out = []
    for w in words:
        key = w.lower().strip(".,!")
        if key in SYNONYMS_A and rng.random() < 0.4:
            w = rng.choice(SYNONYMS_A[key])
        out.append(w)
    text = " ".join(out)
    if rng.random() < 0.5:
        text += " " + " ".join(rng.sample(HASHTAGS_A, rng.randint(1, 2)))
    if rng.random() < 0.5:
        text += " " + "".join(rng.choices(EMOJI_A, k=rng.randint(1, 3)))
    if rng.random() < 0.3:
        text = text.upper() if rng.random() < 0.5 else text.lower()
    if rng.random() < 0.4:
        text += f" https://t.co/{rng.randrange(16 ** 8):08x}"
    if rng.random() < 0.4 and len(text) > 10:
        i = rng.randrange(len(text) - 1)
        text = text[:i] + text[i + 1] + text[i] + text[i + 2:]
    if rng.random() < 0.3:
        text = f"@{rng.choice(BRANDS)}support " + text
    return text


def vary_b(text: str, rng: random.Random) -> str:
    sentences = [s.strip() for s in text.replace("?", "?.").split(".") if s.strip()]
    if len(sentences) > 1 and rng.random() < 0.4:
        sentences[0], sentences[1] = sentences[1], sentences[0]
    text = ". ".join(sentences).replace("?.", "?")
    words = text.split()
    if len(words) > 6 and rng.random() < 0.5:
        del words[rng.randrange(1, len(words))]
    words = [str(int(w) + rng.randint(1, 9)) if w.isdigit() and rng.random() < 0.5 else w for w in words]
    if rng.random() < 0.4:
        i = rng.randrange(len(words))
        w = words[i]
        vowels = [j for j, c in enumerate(w) if c in "aeiou"]
        if vowels:
            j = rng.choice(vowels)
            words[i] = w[:j] + w[j] * rng.randint(2, 4) + w[j + 1:]
    text = rng.choice(OPENERS_B) + " ".join(words)
    if rng.random() < 0.6:
        text += " " + "".join(rng.choices(EMOJI_B, k=rng.randint(1, 4)))
    if rng.random() < 0.3:
        text += f" ({rng.choice(['via', 'h/t', 'cc'])} @{rng.choice(['dealhunter', 'newsbot', 'trendwatch'])}{rng.randint(1, 99)})"
    return text


GENERATORS = {"A": (TEMPLATES_A, vary_a), "B": (TEMPLATES_B, vary_b)}


def load_tweets(split: str) -> list[str]:
    path = DATA / f"{split}_text.txt"
    if not path.is_file():
        sys.exit(f"{path} is missing: this benchmark reads TweetEval from ../shared/data (see its README)")
    return [line.rstrip("\n") for line in path.open(encoding="utf-8") if line.strip()]


def build(generator: str, posts: int, seed: int, split: str = "train", retweets: float = 0.15,
          campaigns: int = 20, shares: int | None = None) -> list[dict]:
    """The stream, in event-time order: dicts with id, t_ms, text, author, kind (organic, retweet,
    campaign), origin (a retweet's original id) and campaign (its injected campaign's number)."""
    rng = random.Random(f"{generator}-{seed}")
    tweets = load_tweets(split)
    rng.shuffle(tweets)
    accounts = [f"user{i}" for i in range(max(100, posts))]
    n_rt = int(posts * retweets)
    out: list[dict] = []
    for i, text in enumerate(tweets[:posts - n_rt]):
        out.append({"id": f"o{i}", "t_ms": rng.randrange(DAY_MS), "text": text, "author": rng.choice(accounts),
                    "kind": "organic"})
    organic = list(out)
    for i in range(n_rt):
        orig = rng.choice(organic)
        text = f"RT @{orig['author']}: {orig['text']}"
        if rng.random() < 0.33 and len(text) > 140:
            text = text[:139] + "…"
        out.append({"id": f"r{i}", "t_ms": orig["t_ms"] + rng.randrange(60_000, 6 * 3_600_000), "text": text,
                    "author": rng.choice(accounts), "kind": "retweet", "origin": orig["id"]})
    for k in range(posts // 500 if shares is None else shares):  # organic copy-paste: a headline shared by 3 to 30 accounts over 2 to 12 hours
        orig = rng.choice(organic)
        start, span = orig["t_ms"], rng.randrange(2, 13) * 3_600_000
        for j in range(rng.randint(3, 30)):
            text = orig["text"] + rng.choice(["", " 👀", " wow", " #news", f" https://t.co/s{k}x{j}"])
            out.append({"id": f"s{k}-{j}", "t_ms": start + rng.randrange(span), "text": text,
                        "author": rng.choice(accounts), "kind": "organic"})
    templates, vary = GENERATORS[generator]
    for c in range(campaigns):
        template = templates[c % len(templates)].format(brand=rng.choice(BRANDS))
        start, span = rng.randrange(DAY_MS - 3_600_000), rng.randrange(5, 41) * 60_000
        for j in range(rng.randint(20, 150)):
            out.append({"id": f"c{c}-{j}", "t_ms": start + rng.randrange(span), "text": vary(template, rng),
                        "author": f"bot{c}_{j}", "kind": "campaign", "campaign": c})
    out.sort(key=lambda p: (p["t_ms"], p["id"]))
    return out


def measure(stream: list[dict], duplicates: DuplicateConfig, campaigns: CampaignConfig) -> dict:
    state = CopyState(duplicates, campaigns)
    answers: dict[str, tuple] = {}
    began = time.perf_counter()
    for p in stream:
        answers[p["id"]] = state.observe(p["id"], p["t_ms"], p["text"], p["author"])
    took = time.perf_counter() - began
    by_kind: dict[str, list[dict]] = {}
    for p in stream:
        by_kind.setdefault(p["kind"], []).append(p)
    camp = by_kind.get("campaign", [])
    flagged = [p for p in camp if answers[p["id"]][1] is not None]
    found = {p["campaign"] for p in flagged}
    organic = by_kind.get("organic", [])
    rts = by_kind.get("retweet", [])
    linked = sum(answers[r["id"]][0] == (answers[r["origin"]][0] or r["origin"]) for r in rts)
    return {
        "posts": len(stream), "us_per_post": round(1e6 * took / max(1, len(stream)), 1),
        "campaign_recall": len(flagged) / max(1, len(camp)),
        "campaigns_found": f"{len(found)}/{len({p['campaign'] for p in camp})}",
        "campaign_ids": len({answers[p['id']][1]['id'] for p in flagged}),
        "organic_flagged": sum(answers[p["id"]][1] is not None for p in organic) / max(1, len(organic)),
        "organic_duplicate_of": sum(answers[p["id"]][0] is not None for p in organic) / max(1, len(organic)),
        "retweets_linked": linked / max(1, len(rts)),
        "retweets_in_campaign": sum(answers[r["id"]][1] is not None for r in rts),
        "kept": len(state.index), "clusters": len(state.tracker.clusters),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--generator", choices=["A", "B", "both"], default="both")
    parser.add_argument("--posts", type=int, default=20_000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--split", choices=["train", "val"], default="train")
    parser.add_argument("--threshold", type=float)
    parser.add_argument("--min-authors", type=int)
    parser.add_argument("--window", type=float, help="campaign window, seconds")
    args = parser.parse_args()
    s = Settings.load(duplicate_threshold=args.threshold, campaign_min_authors=args.min_authors,
                      campaign_window=args.window)
    dcfg, ccfg = DuplicateConfig.from_settings(s), CampaignConfig.from_settings(s)
    print(f"threshold {dcfg.threshold}, min_chars {dcfg.min_chars}, min_authors {ccfg.min_authors}, "
          f"window {ccfg.window_ms / 1000:g} s, posts {args.posts}, seed {args.seed}, split {args.split}")
    for g in (["A", "B"] if args.generator == "both" else [args.generator]):
        r = measure(build(g, args.posts, args.seed, args.split), dcfg, ccfg)
        print(f"generator {g}: campaign recall {r['campaign_recall']:.1%} (campaigns found {r['campaigns_found']}, "
              f"{r['campaign_ids']} ids), organic flagged {r['organic_flagged']:.2%} "
              f"(organic with duplicate_of {r['organic_duplicate_of']:.2%}), retweets linked {r['retweets_linked']:.1%} "
              f"(retweets in a campaign: {r['retweets_in_campaign']}), {r['us_per_post']} us/post, "
              f"kept {r['kept']}, clusters {r['clusters']}")


if __name__ == "__main__":
    main()
