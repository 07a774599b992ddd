"""The image plugin with real decoding, its real ONNX encoder and RapidOCR,
loaded through the plugin manager; every hostile input is a real file."""
from __future__ import annotations

import base64
import io
import os

import numpy as np
import pytest
from PIL import Image

from mmstream import Extraction, PostError
from mmstream.errors import ConfigError
from mmstream.plugin.manager import get_plugin_manager, register_extractors
from mmstream.render import find_fonts, image_to_b64, render_meme, render_scene
from mmstream.settings import Settings
from paths import TEST_DATA

MEME_TEXT = "I absolutely love this new phone"
DATA = TEST_DATA
LABELS = ["angry", "disgust", "fear", "happy", "sad", "surprise", "neutral"]


@pytest.fixture(scope="module")
def image():
    extractor = register_extractors(get_plugin_manager(), Settings())["images"]
    extractor.load()
    return extractor


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def encoded(img: Image.Image, fmt: str, **params) -> bytes:
    buf = io.BytesIO()
    img.save(buf, format=fmt, **params)
    return buf.getvalue()


def meme(text: str = MEME_TEXT, seed: int = 3) -> Image.Image:
    bold_sans = [f for f in find_fonts() if "sans" in f.lower() and "bold" in f.lower()]
    return render_meme(text, seed=seed, width=512, background="solid", font_path=(bold_sans or [None])[0],
                       jpeg_quality=90)


def rejects(image, value, reason: str, settings: Settings | None = None) -> PostError:
    if settings is not None:
        image = type(image)(settings)  # validation needs no models
    with pytest.raises(PostError) as caught:
        image.validate("images", value)
    err = caught.value
    assert (err.reason, err.stage) == (reason, "validate"), err
    assert err.detail.endswith(".") and len(err.detail) > 30
    return err


# -- extraction -------------------------------------------------------------------------------------------

def test_registered_for_images(image):
    assert (image.name, image.modalities, image.dims) == ("image", ("images", "video_frames"), {"images": 1280})


def test_meme_text_is_read_and_handed_on(image):
    images = image.validate("images", [{"b64": image_to_b64(meme())}])
    [result] = image.extract("images", [images])
    assert isinstance(result, Extraction), result
    text = result.report["ocr_text"].lower()
    for word in ("absolutely", "love", "new", "phone"):
        assert word in text
    assert result.derived == {"image_text": result.report["ocr_text"]}
    assert result.report["count"] == 1 and result.report["text_regions"][0] >= 1


def test_lines_come_top_to_bottom(image):
    img = render_meme("first line here\nsecond line there", seed=5, width=640, height=400, background="solid",
                      font_size=40, jpeg_quality=95)
    [result] = image.extract("images", [image.validate("images", [{"b64": image_to_b64(img)}])])
    text = result.report["ocr_text"].lower()
    assert text.index("first") < text.index("second")


def test_photo_without_text_skips_recognition(image):
    photo = image.validate("images", [{"b64": image_to_b64(render_scene(seed=1), "JPEG")}])
    assert image.ocr.read(photo[0]).regions == 0
    [result] = image.extract("images", [photo])
    assert result.report["ocr_text"] == "" and result.report["text_regions"] == [0]
    assert result.derived == {}


def test_features_are_unit_norm_and_pooled_per_post(image):
    a = image.validate("images", [{"b64": image_to_b64(meme())}])
    b = image.validate("images", [{"b64": image_to_b64(render_scene(seed=2), "JPEG")}])
    results = image.extract("images", [a, b, a + b])
    vectors = np.stack([r.features for r in results])
    assert vectors.dtype == np.float32 and vectors.shape == (3, 1280)
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-4)
    assert vectors[0] @ vectors[1] < 0.95  # a meme and a landscape differ
    assert vectors[2] @ vectors[0] > vectors[1] @ vectors[0]  # the pooled post sits between its images
    assert results[2].report["count"] == 2 and results[2].report["sizes"] == [[512, a[0].info["original_size"][1]],
                                                                             [640, 480]]


def test_batching_does_not_change_features(image):
    posts = [image.validate("images", [{"b64": image_to_b64(render_scene(seed=s), "JPEG")}]) for s in range(3)]
    together = np.stack([r.features for r in image.extract("images", posts)])
    alone = np.stack([image.extract("images", [p])[0].features for p in posts])
    np.testing.assert_array_equal(together, alone)  # README: a post's values never depend on its batch


def test_ocr_readers_at_once_give_each_post_its_own_text(image):
    """OCR reads a batch's images concurrently (``ocr_threads`` readers); every post
    still gets the text of its own images, in order, as when read alone."""
    texts = ["first meme here", "second one there", "a third caption", "the fourth line"]
    posts = [image.validate("images", [{"b64": image_to_b64(render_meme(t, seed=i, width=384, background="solid",
                                                                         font_size=36, jpeg_quality=95))}])
             for i, t in enumerate(texts)]
    posts.append(posts[0] + posts[1])
    together = [r.report["ocr_text"].lower() for r in image.extract("images", posts)]
    alone = [image.extract("images", [p])[0].report["ocr_text"].lower() for p in posts]
    assert together == alone
    for text, read in zip(texts, together):
        assert text.split()[1] in read
    assert together[4].index("first") < together[4].index("second")


def test_ocr_threads_setting():
    from mmstream_image.extractor import ocr_threads

    assert ocr_threads(Settings.load(plugin_options={"image": {"ocr_threads": "3"}})) == 3
    assert 1 <= ocr_threads(Settings.load(plugin_options={"image": {}})) <= 4
    for bad in ("0", "two"):
        with pytest.raises(ConfigError, match="MMSTREAM_PLUGIN_IMAGE_OCR_THREADS"):
            ocr_threads(Settings.load(plugin_options={"image": {"ocr_threads": bad}}))


def photo(name: str) -> list[Image.Image]:
    """A real photograph from tests/data, as a decoded post's images."""
    return [Image.open(DATA / name).convert("RGB")]


def test_smiling_face_is_happy(image):
    sent = image.validate("images", [{"b64": b64((DATA / "astronaut.jpg").read_bytes())}])
    [result] = image.extract("images", [sent])
    [faces] = result.report["faces"]
    assert len(faces) == 1, faces
    [face] = faces
    assert face["emotion"] == "happy" and face["scores"]["happy"] > 0.9
    assert list(face["scores"]) == LABELS and abs(sum(face["scores"].values()) - 1) < 1e-3
    x, y, w, h = face["box"]
    assert 60 <= x <= 110 and 30 <= y <= 70 and 60 <= w == h <= 110  # the face, in the 256x256 photo
    assert result.report["face_emotion"] == "happy" and "faces_error" not in result.report
    assert result.report == image.extract("images", [photo("astronaut.jpg")])[0].report  # deterministic


def test_face_boxes_are_in_the_pixels_sent(image):
    small = image.faces.read(photo("astronaut.jpg")[0])[0].box
    big = Image.open(DATA / "astronaut.jpg").resize((2560, 2560), Image.Resampling.BILINEAR)
    [img] = image.validate("images", [{"b64": b64(encoded(big, "JPEG", quality=80))}])
    assert max(img.size) == 2048  # decoded smaller than sent
    [face] = image.faces.read(img)
    assert face.emotion == "happy"
    np.testing.assert_allclose(face.box, [10 * v for v in small], rtol=0.1, atol=40)


def test_faces_are_capped_largest_first(image, monkeypatch):
    import mmstream_image.faces

    tile = Image.open(DATA / "astronaut.jpg")
    grid = Image.new("RGB", (3 * 256, 3 * 256))
    for i in range(9):
        grid.paste(tile.resize((256 - 12 * i,) * 2), (i % 3 * 256, i // 3 * 256))
    everyone = image.faces.read(grid)
    areas = [f.box[2] * f.box[3] for f in everyone]
    assert len(everyone) >= 3 and areas == sorted(areas, reverse=True)
    monkeypatch.setattr(mmstream_image.faces, "MAX_FACES", 2)
    assert image.faces.read(grid) == everyone[:2]


def test_photo_and_meme_without_faces_have_none(image, monkeypatch):
    calls = []
    monkeypatch.setattr(image.faces, "classify", lambda faces: calls.append(faces))
    coffee = photo("coffee.jpg")
    posts = [coffee, image.validate("images", [{"b64": image_to_b64(meme())}]), coffee + coffee]
    for result, count in zip(image.extract("images", posts), (1, 1, 2), strict=True):
        assert result.report["faces"] == [[]] * count and result.report["face_emotion"] is None
        assert "faces_error" not in result.report
    assert calls == []  # no face, no emotion model run


def test_failing_face_reader_does_not_fail_the_post(image, monkeypatch):
    def broken(img):
        raise ValueError("cascade exploded")

    monkeypatch.setattr(image.faces, "read", broken)
    [result] = image.extract("images", [photo("astronaut.jpg")])
    assert isinstance(result, Extraction) and result.features.shape == (1280,)
    assert result.report["faces"] == [[]] and result.report["face_emotion"] is None
    assert result.report["faces_error"] == "images[0]: ValueError: cascade exploded"


# -- decoding ---------------------------------------------------------------------------------------------

def test_animation_gives_first_frame_and_transparency_goes_white(image):
    frames = [Image.new("RGB", (32, 32), colour) for colour in ("red", "blue", "green")]
    gif = encoded(frames[0], "GIF", save_all=True, append_images=frames[1:])
    clear = encoded(Image.new("RGBA", (40, 20), (0, 0, 0, 0)), "PNG")
    webp = encoded(Image.new("RGB", (30, 30), "blue"), "WEBP")
    first, white, blue = image.validate("images", [{"b64": b64(gif)}, {"b64": b64(clear)}, {"b64": b64(webp)}])
    assert first.mode == "RGB" and first.getpixel((5, 5)) == (255, 0, 0)
    assert white.getpixel((5, 5)) == (255, 255, 255)
    assert blue.size == (30, 30)


def test_big_images_are_downscaled_but_report_their_size(image):
    big = Image.new("RGB", (4000, 1000), "white")
    [img] = image.validate("images", [{"b64": b64(encoded(big, "JPEG"))}])
    assert max(img.size) <= 2048 and img.info["original_size"] == (4000, 1000)


def test_entries_must_be_embedded_base64(image):
    rejects(image, "aGVsbG8=", "wrong_type")
    rejects(image, [], "empty_images")
    rejects(image, ["aGVsbG8="], "wrong_type")
    rejects(image, [{"b64": 12}], "wrong_type")
    err = rejects(image, [{"url": "https://example.com/cat.png"}], "unsupported_image_source")
    assert "b64" in err.detail
    rejects(image, [{"path": "/etc/passwd"}], "unsupported_image_source")
    for source in ("file", "href", "src"):  # README: url, path, file, href or src
        assert "b64" in rejects(image, [{source: "/etc/passwd"}], "unsupported_image_source").detail
    # beside the bytes too: an entry naming a source elsewhere is refused, whatever else it carries
    rejects(image, [{"b64": image_to_b64(meme()), "url": "https://example.com/cat.png"}], "unsupported_image_source")
    rejects(image, [{"b64": "not base64!"}], "invalid_base64")
    rejects(image, [{"b64": "data:image/png;base64," + image_to_b64(meme())}], "invalid_base64")


def test_limits_name_their_setting(image):
    tiny = {"b64": b64(encoded(Image.new("RGB", (8, 8)), "PNG"))}
    err = rejects(image, [tiny] * 5, "too_many_images", limits(max_images=4))
    assert "MMSTREAM_PLUGIN_IMAGE_MAX_IMAGES" in err.detail
    err = rejects(image, [{"b64": image_to_b64(meme())}], "image_too_large", limits(max_bytes=10_000))
    assert "MMSTREAM_PLUGIN_IMAGE_MAX_BYTES" in err.detail


def limits(**given) -> Settings:
    """Settings with the image plugin's own limits (``settings.plugin("image")``)."""
    return Settings.load(plugin_options={"image": given})


def test_the_limits_are_the_plugins_own_settings_and_the_old_names_warn(monkeypatch):
    from mmstream_image.limits import ImageLimits

    assert ImageLimits.from_settings(Settings.load()) == ImageLimits(4, 5_000_000, 40_000_000, 100)
    monkeypatch.setenv("MMSTREAM_PLUGIN_IMAGE_MAX_FRAMES", "7")
    assert ImageLimits.from_settings(Settings.load()).max_frames == 7
    monkeypatch.setenv("MMSTREAM_MAX_IMAGES", "2")  # the old core name: still works, and says the new one
    with pytest.warns(FutureWarning, match="set MMSTREAM_PLUGIN_IMAGE_MAX_IMAGES instead"):
        assert ImageLimits.from_settings(Settings.load()).max_images == 2
    monkeypatch.setenv("MMSTREAM_PLUGIN_IMAGE_MAX_IMAGES", "3")  # the new name wins
    with pytest.warns(FutureWarning, match="MMSTREAM_MAX_IMAGES is deprecated and ignored"):
        assert ImageLimits.from_settings(Settings.load()).max_images == 3
    with pytest.raises(ConfigError, match=r"plugin_options=\{'image': \{'max_bytes': 10\}\}"):
        Settings.load(max_image_bytes=10)  # in code the old name is an error naming the fix
    monkeypatch.setenv("MMSTREAM_PLUGIN_IMAGE_MAX_PIXELS", "many")
    with pytest.raises(ConfigError, match="MMSTREAM_PLUGIN_IMAGE_MAX_PIXELS='many'"):
        ImageLimits.from_settings(Settings.load())


def test_not_an_image_and_unsupported_format(image):
    rejects(image, [{"b64": b64(os.urandom(2000))}], "not_an_image")
    err = rejects(image, [{"b64": b64(encoded(Image.new("RGB", (8, 8)), "BMP"))}], "unsupported_image_format")
    assert "BMP" in err.detail


def test_decompression_bombs_are_refused_from_the_header(image):
    # 8000x8000 = 64 Mpx: below Pillow's own limit, above mmstream's 40 Mpx default
    medium = encoded(Image.new("1", (8000, 8000)), "PNG", optimize=True)
    assert len(medium) < 100_000
    err = rejects(image, [{"b64": b64(medium)}], "decompression_bomb")
    assert "MMSTREAM_PLUGIN_IMAGE_MAX_PIXELS" in err.detail
    # 20000x20000 = 400 Mpx in a few tens of KB: Pillow's own DecompressionBombError maps to the same reason
    huge = encoded(Image.new("1", (20000, 20000)), "PNG", optimize=True)
    assert len(huge) < 200_000
    rejects(image, [{"b64": b64(huge)}], "decompression_bomb", limits(max_pixels=10**9))
    # 10000x10000: Pillow only warns; the warning is refused too
    warned = encoded(Image.new("1", (10000, 10000)), "PNG", optimize=True)
    rejects(image, [{"b64": b64(warned)}], "decompression_bomb", limits(max_pixels=10**9))


def test_too_many_frames(image):
    frames = [Image.new("P", (4, 4), i % 256) for i in range(1000)]
    for i, frame in enumerate(frames):
        frame.putpixel((i % 4, i // 4 % 4), (i * 7 + 1) % 256)  # no two frames alike, so none are merged
    gif = encoded(frames[0], "GIF", save_all=True, append_images=frames[1:])
    assert Image.open(io.BytesIO(gif)).n_frames == 1000
    err = rejects(image, [{"b64": b64(gif)}], "too_many_frames")
    assert "MMSTREAM_PLUGIN_IMAGE_MAX_FRAMES" in err.detail


def test_truncated_files(image):
    jpeg = encoded(meme(), "JPEG", quality=90)
    rejects(image, [{"b64": b64(jpeg[: len(jpeg) * 2 // 3])}], "truncated_image")
    png = encoded(render_scene(seed=4), "PNG")
    rejects(image, [{"b64": b64(png[: len(png) // 2])}], "truncated_image")


# -- the renderer ---------------------------------------------------------------------------------------------

def test_render_is_deterministic_per_seed():
    assert image_to_b64(render_meme("same seed", seed=11)) == image_to_b64(render_meme("same seed", seed=11))
    assert image_to_b64(render_meme("same seed", seed=11)) != image_to_b64(render_meme("same seed", seed=12))
    assert render_scene(seed=3).tobytes() == render_scene(seed=3).tobytes()
    img = Image.open(io.BytesIO(base64.b64decode(image_to_b64(render_meme("x", seed=1), "JPEG"))))
    assert img.format == "JPEG"
