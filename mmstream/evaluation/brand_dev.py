"""A brand-directed dev set of mmstream's own (issue 29), generated, not copied: posts to or about
brands that a complaint head trained on the complaints data misreads: praise, news headlines,
questions and announcements, next to real complaints, each also as OCR reads a caption (all caps,
no punctuation, line breaks: :func:`mmstream.training.complaint_data.ocr_style`). The brands are
made up; the sentences are written here, so no training set holds them.

Its figures: complaint flags on the positive posts (bar: 10 % or fewer), on the other
non-complaints by kind, and complaint recall on the complaints.

    .venv/bin/python -m mmstream.evaluation.brand_dev [--model-dir DIR]
"""
from __future__ import annotations

import argparse
import itertools
import json
import sys
from typing import Any

import numpy as np

SEED = 2029
BRANDS = (("Acme Air", "@AcmeAir", "flight"), ("Brewly", "@brewlycoffee", "latte"), ("Zenbank", "@zenbank", "app"),
          ("Nimbus Mobile", "@NimbusMobile", "phone plan"), ("Orbit Foods", "@orbitfoods", "snack box"),
          ("Voltway", "@voltway", "charger"), ("Stitchly", "@Stitchly", "jacket"), ("Pixelbox", "@pixelbox", "console"),
          ("Greenline Rail", "@GreenlineRail", "train"), ("Lumo Hotels", "@LumoHotels", "room"))

PRAISE = (
    "{handle} you guys are amazing, the {thing} was perfect today!",
    "Pumpkin spice is back at {brand} and I could not be happier!!",
    "Huge thanks to the {brand} team for sorting my {thing} in five minutes. Best service ever",
    "Just tried the new {thing} from {brand}. Obsessed.",
    "{brand} never disappoints. Love love love",
    "shoutout to {handle} for the free upgrade, made my week",
    "My {thing} from {brand} arrived a day early and it is gorgeous",
    "Can't stop smiling, {brand} surprised me with a birthday note. Class act",
    "10/10 would recommend {brand}, the staff were so kind to my kids",
    "Best {thing} I have had in years, well done {handle}!",
    "{brand} customer support is honestly the best I've dealt with",
    "So happy with my {thing}!! thank you {handle}",
    "Finally switched to {brand} and wow, why did I wait so long",
    "the {brand} app update is slick, great job",
    "Loving my morning {thing} from {brand} as always",
    "{handle} the crew today were fantastic, smooth and friendly from start to finish",
)
COMPLAINTS = (
    "{handle} my {thing} has been broken for a week and nobody answers. Fix this",
    "WORST {brand} EXPERIENCE EVER. LOST MY ORDER AGAIN AND NOBODY CARES",
    "Still waiting on a refund from {brand} after 3 weeks. Ridiculous",
    "{handle} charged me twice for the same {thing}. I want my money back",
    "Terrible service at {brand} today. Cold {thing}, rude staff, never again",
    "{handle} your {thing} keeps failing and support just hangs up on me",
    "Been on hold with {brand} for 2 hours. This is unacceptable",
    "{brand} cancelled my {thing} without telling me. Thanks for nothing",
    "Why does the {brand} {thing} break every single time?? so annoyed",
    "{handle} delivery was supposed to come yesterday, still nothing, no updates",
    "Do not buy from {brand}. My {thing} stopped working after two days and they refuse to help",
    "{handle} you lost my bag and your desk staff shrugged. Disgraceful",
)
NEWS = (
    "{brand} to cut 1,200 jobs as quarterly profits fall",
    "{brand} shares jump 8% after earnings beat expectations",
    "Regulators open inquiry into {brand} pricing practices",
    "Why the {thing} market is a matter of power, data and security",
    "{brand} names new chief executive, effective next month",
    "Report: {brand} in talks to acquire a smaller rival",
)
QUESTIONS = (
    "Is the {brand} lounge in terminal 2 open on Sundays?",
    "{handle} does the new {thing} come in blue?",
    "Anyone know if {brand} ships to Canada?",
    "what time does {brand} open tomorrow",
    "{handle} can I change the name on my booking online?",
    "Has anyone tried the {brand} {thing} yet? Worth it?",
)
ANNOUNCEMENTS = (
    "{brand} {thing} 88 to Lisbon is boarding at gate B12.",
    "Introducing the new {brand} {thing}, available in stores Friday",
    "{brand} opens its first store in Dublin this weekend. Join us from 10am",
    "Our spring sale starts today: 20% off every {thing} at {brand}",
    "{handle} will be closed on Monday for the bank holiday",
    "Tickets for the {brand} summer tour go on sale at noon",
)
KINDS = {"praise": (PRAISE, 0), "complaint": (COMPLAINTS, 1), "news": (NEWS, 0), "question": (QUESTIONS, 0),
         "announcement": (ANNOUNCEMENTS, 0)}


def brand_dev_set(seed: int = SEED) -> list[dict[str, Any]]:
    """Every template with three brands each (seeded), as written and as OCR reads it:
    ``{"words", "kind", "complaint": 0/1, "ocr": bool}``."""
    from mmstream.training.complaint_data import ocr_style

    rng = np.random.default_rng(seed)
    out = []
    for kind, (templates, label) in KINDS.items():
        for t, template in enumerate(templates):
            for b in rng.choice(len(BRANDS), size=3, replace=False):
                brand, handle, thing = BRANDS[int(b)]
                text = template.format(brand=brand, handle=handle, thing=thing)
                out.append({"words": text, "kind": kind, "complaint": label, "ocr": False})
                out.append({"words": ocr_style(text, seed + len(out)), "kind": kind, "complaint": label, "ocr": True})
    return out


def complaint_flags(pipeline: Any, texts: list[str]) -> np.ndarray:
    """Whether the pipeline's model flags each text (as a post's own text) as a complaint."""
    from mmstream.plugin.extractors import text_reader

    reader = text_reader(pipeline.extractors)
    own = reader.text_views[0]
    flags = []
    for start in range(0, len(texts), 64):
        features = [e.features for e in reader.extract(own, texts[start:start + 64])]
        for p in pipeline.model.predict(features):
            labels, probs, threshold = p.tasks["complaint"][:3]
            flags.append(float(probs[1]) >= threshold)
    return np.array(flags, dtype=bool)


def eval_brand_dev(pipeline: Any) -> dict[str, Any]:
    """Complaint flags per kind on the dev set (as written / as OCR), complaint recall, and the bar's figure."""
    if "complaint" not in pipeline.model.tasks:
        return {}
    posts = brand_dev_set()
    flags = complaint_flags(pipeline, [p["words"] for p in posts])

    def rate(select) -> float:
        rows = [f for p, f in zip(posts, flags) if select(p)]
        return round(100 * float(np.mean(rows)), 1)

    out: dict[str, Any] = {"posts": len(posts)}
    for kind, ocr in itertools.product(KINDS, (False, True)):
        out[f"{kind}{'_ocr' if ocr else ''}_flagged"] = rate(lambda p: p["kind"] == kind and p["ocr"] == ocr)
    out["flags_on_positive"] = rate(lambda p: p["kind"] == "praise")
    out["flags_on_other_non_complaints"] = rate(lambda p: p["complaint"] == 0 and p["kind"] != "praise")
    out["complaint_recall"] = rate(lambda p: p["complaint"] == 1)
    return out


def main(argv: list[str] | None = None) -> int:
    from mmstream.pipeline.build import build_pipeline
    from mmstream.settings import Settings

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model-dir", default=None, help="the fused model's folder (default: the shipped one)")
    args = parser.parse_args(argv)
    settings = Settings.load(**({"model_dir": args.model_dir} if args.model_dir else {}))
    print(json.dumps(eval_brand_dev(build_pipeline(settings)), indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
