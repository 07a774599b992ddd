"""Writes engine-format2.ckpt and duplicates-format1.ckpt, the old-format files test_state_format reads, with
the mmstream of commit 0e7e19b (before the type tags):

    git archive 0e7e19b mmstream | tar -x -C /tmp/old
    PYTHONPATH=/tmp/old python tests/data/checkpoints/make_old_checkpoints.py tests/data/checkpoints

(the files then hold the same state as the ones here; their bytes differ, sets of strings being written in
the order of each process's string hashing). The mentions are test_checkpoint.mentions(400); the posts
test_state_format.copies_of's.
"""
import shutil
import sys
import tempfile
from pathlib import Path

import numpy as np
from mmstream.analytics.events import Mention  # the layout of 0e7e19b
T0 = 1_764_320_400.0
THEMES = {"coffee": "espresso latte beans roast", "flight": "delay gate boarding crew",
          "phone": "battery screen charger update"}


def mentions(n: int, seed: int = 7, burst: range = range(1500, 1700)) -> list[Mention]:
    """Three themes (a direction in embedding space and their words each), two brands,
    about five hours of event time, and a burst of negative "brewly" posts (``burst``):
    windows close, topics are born, the spike detector fires."""
    rng = np.random.default_rng(seed)
    bases = {t: rng.normal(size=384) for t in THEMES}
    out, t = [], T0
    for i in range(n):
        theme = list(THEMES)[i % 3]
        vec = bases[theme] + 0.6 * rng.normal(size=384)
        label = ("positive", "neutral", "negative")[int(rng.integers(3))]
        brand = "acme" if i % 4 else "brewly"
        t += float(rng.uniform(7, 11))
        if i in burst:
            t, brand, label = t - 8.5, "brewly", "negative"
        words = " ".join(rng.choice(THEMES[theme].split(), size=3))
        out.append(Mention(f"m{i}", t, [brand], label, {"positive": 0.7, "neutral": 0.0, "negative": -0.7}[label],
                           [], (vec / np.linalg.norm(vec)).astype(np.float32), f"{words} #{i}"))
    return out




def main(out: Path) -> None:
    from mmstream.analytics.checkpoint import Checkpoints
    from mmstream.analytics.copies import CopyFinder
    from mmstream.analytics.engine import AnalyticsEngine
    from mmstream.settings import Settings

    settings = Settings.load(data_dir=tempfile.mkdtemp(), topic_warmup=20)
    engine = AnalyticsEngine(settings)
    for k, m in enumerate(mentions(400)):
        engine.process(m)
        engine.next_offset = k + 1
    shutil.copy(Checkpoints(settings).save(engine), out / "engine-format2.ckpt")
    finder = CopyFinder(settings, checkpoints=True)
    state = finder.state(0, "posts")
    for i in range(30):
        text = ("Acme Air lost my luggage again, never flying with them" if i % 3
                else f"an ordinary post number {i} about coffee")
        state.observe(f"p{i}", 1_764_320_400_000 + 1000 * i, text, f"user{i % 12}", [])
    shutil.copy(finder.save(0, "posts"), out / "duplicates-format1.ckpt")


if __name__ == "__main__":
    main(Path(sys.argv[1]))
