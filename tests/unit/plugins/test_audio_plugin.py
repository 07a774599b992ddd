"""The audio plugin with real media and real Whisper weights, loaded through the plugin manager.

Speech is made here: espeak-ng speaks to WAV, PyAV re-encodes it to MP3, AAC (M4A and ADTS),
Opus (OGG and WebM), FLAC, and muxes it beside H.264 video in an MP4 (what the video plugin hands
on). Every hostile input is a real file: cut, patched or made of the wrong thing.
"""
from __future__ import annotations

import base64
import io
import struct
import time
import wave

import av
import numpy as np
import pytest
from PIL import Image

from mmstream.errors import ConfigError
from mmstream.plugin import Extraction, PostError, Settings
from mmstream.plugin.manager import get_plugin_manager, register_extractors
from paths import REPO

from media_samples import overlap, speak, words

ROOT = REPO
SENTENCES = [
    "I love my new Nimbus phone, the battery lasts all day.",
    "The flight was delayed for three hours and nobody told us why.",
    "We are going to the beach tomorrow if the weather is nice.",
]
SPANISH = "Mañana vamos a la playa con mis amigos si no llueve por la tarde."


# -- media made here ---------------------------------------------------------------------------------------


def transcode(data: bytes, container: str, codec: str, rate: int | None = None) -> bytes:
    """``data`` (any readable audio) re-encoded as mono ``codec`` in ``container``."""
    src = av.open(io.BytesIO(data))
    buf = io.BytesIO()
    with av.open(buf, "w", format=container) as out:
        stream = out.add_stream(codec, rate=rate or src.streams.audio[0].sample_rate)
        stream.layout = "mono"
        for frame in src.decode(audio=0):
            frame.pts = None
            out.mux(stream.encode(frame))
        out.mux(stream.encode(None))
    return buf.getvalue()


def with_video(data: bytes, audio: bool = True) -> bytes:
    """An MP4: 64x64 H.264 frames for as long as ``data`` lasts, and ``data`` as AAC beside them."""
    src = av.open(io.BytesIO(data))
    seconds = float(src.streams.audio[0].duration * src.streams.audio[0].time_base)
    buf = io.BytesIO()
    with av.open(buf, "w", format="mp4") as out:
        video = out.add_stream("libx264", rate=10)
        video.width = video.height = 64
        video.pix_fmt = "yuv420p"
        sound = out.add_stream("aac", rate=src.streams.audio[0].sample_rate) if audio else None
        if sound is not None:
            sound.layout = "mono"
        for i in range(int(seconds * 10)):
            img = np.full((64, 64, 3), (i * 7) % 255, dtype=np.uint8)
            out.mux(video.encode(av.VideoFrame.from_ndarray(img, format="rgb24")))
        out.mux(video.encode(None))
        if sound is not None:
            for frame in src.decode(audio=0):
                frame.pts = None
                out.mux(sound.encode(frame))
            out.mux(sound.encode(None))
    return buf.getvalue()


def pcm_wav(samples: np.ndarray, rate: int = 16_000, channels: int = 1) -> bytes:
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(channels)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(samples.astype("<i2").tobytes())
    return buf.getvalue()


def patched_wav(data: bytes, *, rate: int | None = None, channels: int | None = None,
                data_bytes: int | None = None) -> bytes:
    """A WAV whose header says something else: its sample rate, channels or data size."""
    out = bytearray(data)
    assert out[:4] == b"RIFF" and out[12:16] == b"fmt "
    if channels is not None:
        struct.pack_into("<H", out, 22, channels)
    if rate is not None:
        struct.pack_into("<II", out, 24, rate, rate * 2)
    if data_bytes is not None:
        at = out.index(b"data")
        struct.pack_into("<I", out, at + 4, data_bytes)
    return bytes(out)


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


# -- the plugin ----------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def audio():
    extractor = register_extractors(get_plugin_manager(), Settings())["audio"]
    extractor.load()
    extractor._speech()  # Whisper opens once for the module (load() only checks the weights)
    return extractor


def configured(audio, **options):
    """The extractor with other plugin settings, sharing the module's Whisper."""
    other = type(audio)(Settings.load(plugin_options={"audio": options}))
    other.weights, other.speech = audio.weights, audio.speech
    return other


def hear(audio, *datas: bytes) -> Extraction:
    clips = audio.validate("audio", [{"b64": b64(d)} for d in datas])
    [result] = audio.extract("audio", [clips])
    if isinstance(result, Exception):
        raise result
    return result


def rejects(audio, value, reason: str, setting: str | None = None) -> PostError:
    """Dead-lettered at validate, or (past the header) at extract; the detail names the fix."""
    try:
        clips = audio.validate("audio", value)
    except PostError as caught:
        err = caught
        assert err.stage == "validate", err
    else:
        [err] = audio.extract("audio", [clips])
        assert isinstance(err, PostError), err
        assert err.stage == "extract:audio", err
    assert err.reason == reason, err
    assert err.detail.endswith(".") and len(err.detail) > 30, err.detail
    if setting:
        assert setting in err.detail, err.detail
    return err


# -- what it hears -------------------------------------------------------------------------------------------

def test_the_plugin_registers_and_declares_its_text_view(audio):
    assert (audio.name, audio.modalities, audio.dims) == ("audio", ("audio", "video_audio"), {})
    assert audio.text_views == ("audio_text", "video_audio_text")  # a video's sound apart from the post's voice notes
    assert audio.timeout == 300.0 and audio.speech.name == "base"


def test_speech_is_transcribed_with_segments_and_handed_on_as_audio_text(audio, tmp_path):
    for sentence, voice in zip(SENTENCES, ["en-us+f3", "en-us+m3", "en-us"]):
        result = hear(audio, speak(tmp_path, sentence, voice))
        report = result.report
        assert overlap(sentence, report["transcript"]) >= 0.8, (sentence, report["transcript"])
        assert result.features is None and result.derived == {"audio_text": report["transcript"]}
        assert report["language"] == "en" and report["language_prob"] > 0.5
        assert report["count"] == 1 and not report["truncated"] and 2.0 < report["duration"] < 6.0
        [clip] = report["clips"]
        assert (clip["container"], clip["codec"], clip["channels"], clip["sample_rate"]) == ("wav", "pcm_s16le", 1, 22050)
        segs = report["segments"]
        assert segs and all(0 <= s["start"] < s["end"] <= report["duration"] + 0.5 for s in segs)
        assert " ".join(s["text"] for s in segs) == report["transcript"]


def test_whisper_is_primed_with_the_configured_brands(audio, tmp_path):
    """Unprimed, Whisper base hears "Acme Air" in this sentence as "winner came here"; primed with the brands
    file's names (BRAND_PROMPT, on by default), as written. Without a brands file there is no prompt."""
    assert audio.prompt == ""
    brands = str(REPO / "mmstream" / "samples" / "brands.toml")
    primed = type(audio)(Settings.load(brands_file=brands))
    primed.weights, primed.speech = audio.weights, audio.speech
    assert primed.prompt == "Nimbus, Acme Air, Brewly."
    said = speak(tmp_path, "My flight with Acme Air was delayed again")
    assert "acme air" not in hear(audio, said).report["transcript"].lower()
    assert "acme air" in hear(primed, said).report["transcript"].lower()
    off = type(audio)(Settings.load(brands_file=brands, plugin_options={"audio": {"brand_prompt": "0"}}))
    assert off.prompt == ""


def test_a_segment_that_only_echoes_the_prompt_is_not_heard():
    from mmstream_audio.speech import _unechoed

    prompt = "Nimbus, Acme Air, Brewly."
    assert _unechoed("Nimbus, Acme Air, Brewly.", prompt) == "" and _unechoed("Acme Air, Brewly", prompt) == ""
    assert _unechoed("Nimbus!", prompt) == "Nimbus!"  # one name alone may well be said
    assert _unechoed("I love Nimbus and Brewly", prompt) == "I love Nimbus and Brewly"
    # seen in the media eval: the whole prompt, then the words
    assert _unechoed("Nimbus, Acme Air, Brewly. I 14, Steel, Wind, Ho.", prompt) == "I 14, Steel, Wind, Ho."
    assert _unechoed("Nimbus, Acme Airline is late", prompt) == "Nimbus, Acme Airline is late"


def test_a_short_window_is_encoded_without_most_of_its_padding():
    """Whisper's 30 s window, zero-padded by faster-whisper, is cut to the sound, 2 s more, rounded up to 1 s,
    at least ``window_seconds``; a full window, or ``window_seconds`` 30, is left as it is."""
    from mmstream_audio.speech import FULL_WINDOW, trimmed

    frames = np.zeros((80, FULL_WINDOW), np.float32)
    frames[:, :550] = -0.6  # 5.5 s of sound (silence, scaled, is -1.5: never all zeros)
    assert trimmed(frames, 1000).shape == (80, 1000)  # 5.5 + 2 s -> at least 10 s
    frames[3, 1233] = 0.1  # sound up to 12.34 s
    assert trimmed(frames, 1000).shape == (80, 1500) and trimmed(frames[None], 500).shape == (1, 80, 1500)
    assert trimmed(frames, FULL_WINDOW) is frames
    assert trimmed(np.full((80, FULL_WINDOW), -0.6, np.float32), 1000).shape == (80, FULL_WINDOW)


def test_a_looping_short_window_is_heard_again_in_full(audio, sentence_wav):
    """A segment whose words come out looping (gzip compression ratio over 2.4, faster-whisper's mark of a failed
    decoding) stops the short-window pass at once; the clip is heard again with full windows. The same sentence
    heard with full windows only gives the same words."""
    from types import SimpleNamespace

    from mmstream_audio.decode import decode

    speech = audio.speech
    loop = SimpleNamespace(text="00.00.00.00.00.00.00.00", start=0.0, end=2.0, compression_ratio=6.3)
    fine = SimpleNamespace(text="fine", start=0.0, end=1.0, compression_ratio=1.1)
    found: list = []
    assert speech._collect("x", np.zeros(16000), iter([fine, loop, fine]), found, time.monotonic(), 60.0,
                           stop_looping=True) is False
    assert speech._collect("x", np.zeros(16000), iter([loop]), [], time.monotonic(), 60.0) is True  # full windows
    clip = audio.extract("audio", [sentence_wav])[0].report["transcript"]
    limits = speech.limits
    try:
        speech.limits = type(limits)(**{**limits.__dict__, "window_seconds": 30.0})
        full = speech.transcribe("full", decode("full", sentence_wav, limits).samples).text
    finally:
        speech.limits = limits
    assert words(full) == words(clip) and overlap(SENTENCES[0], clip) >= 0.8


FORMATS = [  # (name, container, encoder, rate, the container and decoder FFmpeg reports)
    ("mp3", "mp3", "libmp3lame", None, "mp3", "mp3float"),
    ("m4a", "ipod", "aac", None, "mov,mp4,m4a,3gp,3g2,mj2", "aac"),
    ("aac", "adts", "aac", None, "aac", "aac"),
    ("ogg-opus", "ogg", "libopus", 48000, "ogg", "opus"),
    ("webm-opus", "webm", "libopus", 48000, "matroska,webm", "opus"),
    ("flac", "flac", "flac", None, "flac", "flac"),
]


@pytest.fixture(scope="module")
def sentence_wav(tmp_path_factory):
    return speak(tmp_path_factory.mktemp("speech"), SENTENCES[0])


@pytest.mark.parametrize("name,container,codec,rate,demuxer,decoder", FORMATS, ids=[f[0] for f in FORMATS])
def test_every_audio_format(audio, sentence_wav, name, container, codec, rate, demuxer, decoder):
    report = hear(audio, transcode(sentence_wav, container, codec, rate)).report
    assert (report["clips"][0]["container"], report["clips"][0]["codec"]) == (demuxer, decoder)
    assert overlap(SENTENCES[0], report["transcript"]) >= 0.8, report["transcript"]


def test_a_video_clip_handed_on_as_raw_bytes_is_heard_as_video_audio(audio, sentence_wav):
    """The video plugin derives ``video_audio`` (a clip's sound, or its container bytes): not validated, checked
    here; its transcript is ``video_audio_text``, apart from the post's own ``audio`` / ``audio_text``."""
    clip = with_video(sentence_wav)
    [result] = audio.extract("video_audio", [clip])
    assert isinstance(result, Extraction), result
    assert result.report["clips"][0]["codec"] == "aac" and set(result.derived) == {"video_audio_text"}
    assert overlap(SENTENCES[0], result.derived["video_audio_text"]) >= 0.8
    [silent, empty, junk] = audio.extract("video_audio", [with_video(sentence_wav, audio=False), b"", {"b64": "x"}])
    assert (silent.reason, silent.stage) == ("no_audio_stream", "extract:audio")
    assert empty.reason == "empty_media" and junk.reason == "wrong_type"


def test_a_post_sending_video_audio_itself_is_refused(audio, sentence_wav):
    with pytest.raises(PostError) as caught:
        audio.validate("video_audio", [{"b64": b64(sentence_wav)}])
    err = caught.value
    assert (err.reason, err.stage) == ("unknown_modality", "validate")
    assert "'videos'" in err.detail and "'audio'" in err.detail


def test_a_clip_by_reference_is_fetched_from_a_media_store_when_extracted(audio, tmp_path, sentence_wav):
    store = tmp_path / "store"
    store.mkdir()
    (store / "note.mp3").write_bytes(transcode(sentence_wav, "mp3", "libmp3lame"))
    (tmp_path / "outside.wav").write_bytes(sentence_wav)
    reader = type(audio)(Settings.load(media_stores=str(store)))
    reader.weights, reader.speech = audio.weights, audio.speech
    entries = [{"ref": str(store / "note.mp3")}]
    assert reader.validate("audio", entries) == entries  # nothing read yet
    [result] = reader.extract("audio", [entries])
    assert overlap(SENTENCES[0], result.derived["audio_text"]) >= 0.8
    err = rejects(reader, [{"ref": str(tmp_path / "outside.wav")}], "unsupported_media_source")
    assert "MMSTREAM_MEDIA_STORES" in err.detail


def test_several_clips_in_one_post(audio, tmp_path, sentence_wav):
    second = speak(tmp_path, SENTENCES[2], "en-us+m3")
    report = hear(audio, sentence_wav, transcode(second, "mp3", "libmp3lame")).report
    assert report["count"] == 2 and len(report["clips"]) == 2
    first, other = report["transcript"].split("\n")
    assert overlap(SENTENCES[0], first) >= 0.8 and overlap(SENTENCES[2], other) >= 0.8
    assert {s["clip"] for s in report["segments"]} == {0, 1}
    assert report["duration"] == pytest.approx(sum(c["duration"] for c in report["clips"]), abs=0.01)


def test_spanish_speech_gets_whisper_language_id(audio, tmp_path):
    report = hear(audio, speak(tmp_path, SPANISH, "es", 150)).report
    assert report["language"] == "es" and report["language_prob"] > 0.5, report
    assert overlap(SPANISH, report["transcript"]) >= 0.5, report["transcript"]


def test_silence_yields_no_text_and_no_language(audio):
    result = hear(audio, pcm_wav(np.zeros(16_000 * 3)))
    assert result.derived == {} and result.report["transcript"] == "" and result.report["segments"] == []
    assert result.report["language"] is None and result.report["duration"] == pytest.approx(3.0)


def test_a_short_clip_is_encoded_once(audio, sentence_wav, monkeypatch):
    """faster-whisper encodes the first window to detect the language and again to decode it; the plugin hands
    the first encoding on (BENCHMARKS.md, "Speech": 1.7x on tweet-length clips)."""
    from faster_whisper import WhisperModel

    passes = []
    original = WhisperModel.encode
    monkeypatch.setattr(WhisperModel, "encode", lambda self, features: passes.append(1) or original(self, features))
    report = hear(audio, sentence_wav).report
    assert len(passes) == 1 and report["language"] == "en"
    assert overlap(SENTENCES[0], report["transcript"]) >= 0.8


def test_tiny_en_is_the_english_only_choice(audio, sentence_wav):
    tiny = type(audio)(Settings.load(plugin_options={"audio": {"model": "tiny.en"}}))
    tiny.load()
    report = hear(tiny, sentence_wav).report
    assert tiny.speech.name == "tiny.en" and report["language"] == "en"
    assert overlap(SENTENCES[0], report["transcript"]) >= 0.7, report["transcript"]


# -- what it refuses -----------------------------------------------------------------------------------------

def test_mistyped_and_nested_values(audio, sentence_wav):
    good = {"b64": b64(sentence_wav)}
    rejects(audio, "a voice note", "wrong_type")
    rejects(audio, good, "wrong_type")
    rejects(audio, [[good]], "wrong_type")
    rejects(audio, [{"b64": 12}], "wrong_type")
    rejects(audio, [{"b64": {"b64": "AAAA"}}], "wrong_type")
    rejects(audio, [{"b64": "AAAA", "ref": "/x.wav"}], "wrong_type")
    rejects(audio, [{"url": "http://example.com/a.mp3"}], "wrong_type")
    rejects(audio, [], "empty_value")
    rejects(audio, [{"b64": "not base64!"}], "invalid_base64")
    rejects(audio, [{"ref": "/etc/passwd"}], "unsupported_media_source")


def test_empty_and_oversized_files(audio, sentence_wav):
    rejects(audio, [{"b64": ""}], "empty_media")
    small = configured(audio, max_bytes=len(sentence_wav) - 1)
    rejects(small, [{"b64": b64(sentence_wav)}], "media_too_large", "MMSTREAM_PLUGIN_AUDIO_MAX_BYTES")
    [err] = small.extract("audio", [sentence_wav])
    assert err.reason == "media_too_large" and "MMSTREAM_PLUGIN_AUDIO_MAX_BYTES" in err.detail


def test_too_many_clips_cost_nothing(audio, sentence_wav):
    """40 clips in one post: refused before one byte is decoded."""
    began = time.perf_counter()
    rejects(audio, [{"b64": b64(sentence_wav)}] * 40, "too_many_items", "MMSTREAM_PLUGIN_AUDIO_MAX_CLIPS")
    assert time.perf_counter() - began < 0.5


def test_an_image_sent_as_audio(audio):
    for fmt in ("PNG", "JPEG", "WEBP", "GIF"):
        buf = io.BytesIO()
        Image.new("RGB", (32, 32), "red").save(buf, fmt)
        err = rejects(audio, [{"b64": b64(buf.getvalue())}], "not_audio")
        assert "image" in err.detail


def test_corrupt_and_truncated_files(audio, sentence_wav):
    rng = np.random.default_rng(0)
    rejects(audio, [{"b64": b64(rng.bytes(20_000))}], "corrupt_audio")
    rejects(audio, [{"b64": b64(b"hello, this is text, not sound\n" * 50)}], "corrupt_audio")
    m4a = transcode(sentence_wav, "ipod", "aac")
    rejects(audio, [{"b64": b64(m4a[: len(m4a) // 2])}], "corrupt_audio")  # the index (moov) is at the end
    rejects(audio, [{"b64": b64(sentence_wav[:2000])}], "truncated_audio")
    mp3 = transcode(sentence_wav, "mp3", "libmp3lame")
    rejects(audio, [{"b64": b64(mp3[: len(mp3) // 3])}], "truncated_audio")
    flac = transcode(sentence_wav, "flac", "flac")
    rejects(audio, [{"b64": b64(flac[: len(flac) // 3])}], "truncated_audio")
    rejects(audio, [{"b64": b64(sentence_wav[:44])}], "truncated_audio")  # a header, none of its samples
    rejects(audio, [{"b64": b64(patched_wav(sentence_wav[:44], data_bytes=0))}], "corrupt_audio")  # nothing to hear


def test_unsupported_codec_and_no_audio_stream(audio, sentence_wav):
    err = rejects(audio, [{"b64": b64(transcode(sentence_wav, "mp2", "mp2"))}], "unsupported_audio_codec")
    assert "mp2" in err.detail
    rejects(audio, [{"b64": b64(with_video(sentence_wav, audio=False))}], "no_audio_stream")


def test_absurd_sample_rates_and_channels(audio, sentence_wav):
    for rate in (2_000_000_000, 4, 1_000_000):
        rejects(audio, [{"b64": b64(patched_wav(sentence_wav, rate=rate))}], "bad_sample_rate",
                "MMSTREAM_PLUGIN_AUDIO_MAX_SAMPLE_RATE")
    rejects(audio, [{"b64": b64(patched_wav(sentence_wav, channels=200))}], "bad_channels",
            "MMSTREAM_PLUGIN_AUDIO_MAX_CHANNELS")
    low = configured(audio, min_sample_rate=44_100)
    rejects(low, [{"b64": b64(sentence_wav)}], "bad_sample_rate", "MMSTREAM_PLUGIN_AUDIO_MIN_SAMPLE_RATE")


def test_a_two_hour_declared_duration_costs_what_is_there(audio):
    """A header that declares two hours over two seconds of samples: read in milliseconds, dead-lettered."""
    two_s = pcm_wav(np.zeros(32_000))
    bomb = patched_wav(two_s, data_bytes=2 * 3600 * 16_000 * 2)
    began = time.perf_counter()
    err = rejects(audio, [{"b64": b64(bomb)}], "truncated_audio")
    assert time.perf_counter() - began < 1.0 and "7200" in err.detail


def test_a_long_clip_is_heard_up_to_max_seconds(audio, sentence_wav):
    """Past MMSTREAM_PLUGIN_AUDIO_MAX_SECONDS the rest is not decoded: the start is transcribed and the
    report says truncated. A 15-minute recording costs what its first 20 s cost."""
    speech = av.open(io.BytesIO(transcode(sentence_wav, "wav", "pcm_s16le", 8_000)))
    spoken = np.concatenate([f.to_ndarray().reshape(-1) for f in speech.decode(audio=0)])
    long = np.zeros(8_000 * 60 * 15, dtype=np.int16)  # 14.4 MB at 8 kHz
    long[8_000:8_000 + len(spoken)] = spoken
    short = configured(audio, max_seconds=20)
    began = time.perf_counter()
    report = hear(short, pcm_wav(long, rate=8_000)).report
    took = time.perf_counter() - began
    assert report["truncated"] is True and report["clips"][0]["truncated"] is True
    assert report["duration"] == 20.0 and report["clips"][0]["declared_duration"] == pytest.approx(900)
    assert overlap(SENTENCES[0], report["transcript"]) >= 0.8 and took < 10, (took, report["transcript"])


def test_decode_and_transcription_time_limits(audio, sentence_wav):
    rejects(configured(audio, decode_seconds=1e-9), [{"b64": b64(sentence_wav)}], "audio_decode_timeout",
            "MMSTREAM_PLUGIN_AUDIO_DECODE_SECONDS")
    rejects(configured(audio, transcribe_seconds=1e-9), [{"b64": b64(sentence_wav)}], "transcription_timeout",
            "MMSTREAM_PLUGIN_AUDIO_TRANSCRIBE_SECONDS")


def test_one_bad_clip_fails_only_its_post(audio, sentence_wav):
    good = audio.validate("audio", [{"b64": b64(sentence_wav)}])
    results = audio.extract("audio", [good, b"RIFF" + b"\0" * 100, good])
    assert isinstance(results[0], Extraction) and isinstance(results[2], Extraction)
    assert isinstance(results[1], PostError) and results[1].reason == "corrupt_audio"


# -- settings and weights ------------------------------------------------------------------------------------

def test_settings_are_checked_and_named(monkeypatch):
    from mmstream_audio.limits import AudioLimits

    monkeypatch.setenv("MMSTREAM_PLUGIN_AUDIO_MAX_SECONDS", "45")
    assert AudioLimits.from_settings(Settings.load()).max_seconds == 45.0
    for key, value in [("MAX_SECONDS", "soon"), ("MAX_CLIPS", "0"), ("MODEL", "large-v3"), ("MAX_SECNDS", "3")]:
        monkeypatch.setenv(f"MMSTREAM_PLUGIN_AUDIO_{key}", value)
        with pytest.raises(ConfigError, match=f"MMSTREAM_PLUGIN_AUDIO_{key}"):
            AudioLimits.from_settings(Settings.load())
        monkeypatch.delenv(f"MMSTREAM_PLUGIN_AUDIO_{key}")
        if key == "MAX_SECONDS":
            monkeypatch.setenv("MMSTREAM_PLUGIN_AUDIO_MAX_SECONDS", "45")


def test_the_split_weights_are_joined_once_and_checked(tmp_path):
    from mmstream_audio import speech

    folder = speech.model_dir("base", str(tmp_path))
    model = folder / "model.bin"
    assert speech.sha256(model) == speech.MODELS["base"].sha256
    assert sorted(p.name for p in folder.iterdir()) == ["config.json", "model.bin", "tokenizer.json", "vocabulary.txt"]
    stamp = model.stat().st_mtime_ns
    assert speech.model_dir("base", str(tmp_path)) == folder and model.stat().st_mtime_ns == stamp  # not joined again
    with open(model, "r+b") as fh:  # one flipped byte
        fh.seek(1000)
        byte = fh.read(1)
        fh.seek(1000)
        fh.write(bytes([byte[0] ^ 0xFF]))
    with pytest.raises(ConfigError, match="SHA-256"):
        speech.model_dir("base", str(tmp_path))


# -- through mmstream score ----------------------------------------------------------------------------------


GERMAN = "Der Kundendienst dieser Fluggesellschaft ist schrecklich, mein Koffer ist wieder weg."


def test_a_post_without_text_gets_its_lang_from_speech_through_the_pipeline(mmstream_score, tmp_path):
    """German speech, as a voice note and as a video's sound, in posts with no text and no ``lang``: the result's
    ``lang`` is the transcript's (the text plugin's detection, Whisper's id beside it); a ``lang`` the post
    gives wins."""
    german = speak(tmp_path, GERMAN, "de", 150)
    note, video, given = mmstream_score([
        {"id": "note", "created_at": 0, "audio": [{"b64": b64(german)}]},
        {"id": "video", "created_at": 0, "videos": [{"b64": b64(with_video(german))}]},
        {"id": "given", "created_at": 0, "lang": "en", "audio": [{"b64": b64(german)}]}])
    assert (note["lang"], note["lang_source"]) == ("de", "detected"), note["modalities"]
    assert note["modalities"]["audio"]["language"] == "de" and note["modalities"]["audio_text"]["lang"] == "de"
    assert (video["lang"], video["lang_source"]) == ("de", "detected"), video["modalities"]
    assert video["modalities"]["video_audio"]["language"] == "de" and "audio" not in video["modalities"]
    # heard as German words (one misheard word, "Kroffer" for "Koffer" with Debian 12's espeak-ng, must not fail it)
    assert overlap(GERMAN, video["modalities"]["video_audio"]["transcript"]) >= 0.5, video["modalities"]["video_audio"]
    assert (given["lang"], given["lang_source"]) == ("en", "given")
