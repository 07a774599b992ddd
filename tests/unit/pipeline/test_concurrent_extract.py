"""A worker extracts two batches at once (docs/plugins.md): the built-in extractors, called from
two threads at the same time, give every post exactly what it gets alone (real models, real images)."""
from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

from mmstream.plugin.manager import get_plugin_manager, register_extractors
from mmstream.render import image_to_b64, render_meme, render_scene
from mmstream.settings import Settings


@pytest.fixture(scope="module")
def extractors():
    found = register_extractors(get_plugin_manager(), Settings())
    for extractor in {id(e): e for e in found.values()}.values():
        extractor.load()
    return found


def twice_at_once(extractor, modality, batches):
    with ThreadPoolExecutor(max_workers=2) as pool:
        for _ in range(3):  # a few rounds: the two calls interleave differently each time
            yield list(pool.map(lambda batch: extractor.extract(modality, batch), batches))


def test_text_extractor_in_two_threads_at_once(extractors):
    text = extractors["text"]
    batches = [["@united 4 hour delay, I need a hotel", "love the new phone!!", "Je suis très content aujourd'hui"],
               ["is the website down?", "Σήμερα είναι μια πολύ όμορφη μέρα", "ok", "worst support ever, cancel it"]]
    alone = [[text.extract("text", [value])[0] for value in batch] for batch in batches]
    for results in twice_at_once(text, "text", batches):
        for batch_alone, batch_results in zip(alone, results):
            for a, r in zip(batch_alone, batch_results):
                assert a.features.keys() == r.features.keys() and a.report == r.report
                for name in a.features:
                    np.testing.assert_array_equal(a.features[name], r.features[name])


def test_image_extractor_in_two_threads_at_once(extractors):
    image = extractors["images"]
    memes = [image.validate("images", [{"b64": image_to_b64(render_meme(t, seed=i, width=384, background="solid",
                                                                          font_size=36, jpeg_quality=95))}])
             for i, t in enumerate(["first meme here", "second one there", "a third caption"])]
    scenes = [image.validate("images", [{"b64": image_to_b64(render_scene(seed=s), "JPEG")}]) for s in range(2)]
    batches = [memes[:2] + scenes[:1], [memes[2], scenes[1]]]
    alone = [[image.extract("images", [post])[0] for post in batch] for batch in batches]
    for results in twice_at_once(image, "images", batches):
        for batch_alone, batch_results in zip(alone, results):
            for a, r in zip(batch_alone, batch_results):
                assert a.report["ocr_text"] == r.report["ocr_text"] and a.derived == r.derived
                assert a.report["faces"] == r.report["faces"]
                np.testing.assert_array_equal(a.features, r.features)
