"""Speech models and settings of the audio plugin, compared on espeak-ng speech: word error rate and
real-time factor on TweetEval tweets spoken in English with varied voices and speeds, and language id and
word error rate on UMSAB tweets spoken in Spanish, French, German, Italian and Portuguese. Each clip is
decoded and transcribed by the plugin's own code (mmstream_audio.decode, mmstream_audio.speech), one clip
at a time; every variant hears a clip before the next clip is heard (a machine whose load changes slows
them alike: compare the variants' RTF as ratios, and give absolute figures from a quiet machine).

    python benchmarks/speech.py [--split val] [--tweets 40] [--foreign 8] [--join 1]
                                [--variants base,base/w30,base-stock,tiny.en] [--threads N]

A variant: ``base`` or ``tiny.en`` (the shipped settings), ``<model>/w<S>`` (encoder windows of at least S
seconds, ``window_seconds``; w30: Whisper's full window always), ``<model>/t<N>`` (N CTranslate2 threads;
both may be given: ``base/w15/t2``), ``base-stock`` (faster-whisper's own encoder
calls: full windows, and the first one encoded twice, once to detect the language).

``--join K`` speaks K tweets as one clip (a voice note of ~40 s for K=6 instead of a ~5-7 s tweet): ``--tweets 216
--join 6`` makes 36 clips.

Real-time factor: seconds of audio per wall second of transcription (decoding the file apart: it is
printed apart). WER: word-level edit distance over the reference's words, both lower-cased, letters,
digits and apostrophes only. The tweets: the first N of the split with at least 6 words once @user, URLs
and emoji are dropped and '#' is read as a word (people say names, not handles). ``val`` (the default) is
where settings are chosen; ``test`` is left to ``mmstream eval``.
"""
from __future__ import annotations

import argparse
import dataclasses
import os
import re
import subprocess
import tempfile
import time
from pathlib import Path

from mmstream.evaluation.media import edit_distance
from mmstream.plugin import Settings
from mmstream_audio.decode import decode
from mmstream_audio.limits import AudioLimits
from mmstream_audio.speech import Speech

DATA = Path("/work/shared/data")
VOICES = [("en-us+f3", 160), ("en-us+m3", 175), ("en+f4", 150), ("en-us+m7", 185)]
FOREIGN = {"es": "spanish", "fr": "french", "de": "german", "it": "italian", "pt": "portuguese"}


def clean(text: str) -> str:
    text = re.sub(r"@\w+|https?://\S+", " ", text)
    text = text.replace("#", " ").replace("&amp;", " and ")
    text = re.sub(r"[^\w\s'.,!?-]", " ", text)
    return re.sub(r"\s+", " ", text).strip()


def words(text: str) -> list[str]:
    """Lower-case words: letters of any script, digits and apostrophes."""
    return re.findall(r"[^\W_]+(?:'[^\W_]+)*", text.lower().replace("’", "'"))


def speak(text: str, voice: str, speed: int, path: Path) -> bytes:
    subprocess.run(["espeak-ng", "-v", voice, "-s", str(speed), "-w", str(path), "--", text], check=True)
    return path.read_bytes()


def tweets(path: Path, n: int) -> list[str]:
    return [t for t in (clean(line) for line in path.read_text(encoding="utf-8").splitlines())
            if len(words(t)) >= 6][:n]


@dataclasses.dataclass
class Score:
    audio: float = 0.0
    wall: float = 0.0
    errors: dict[str, int] = dataclasses.field(default_factory=lambda: {"en": 0, "other": 0})
    refs: dict[str, int] = dataclasses.field(default_factory=lambda: {"en": 0, "other": 0})
    right: dict[str, int] = dataclasses.field(default_factory=lambda: {"en": 0, "other": 0})
    count: dict[str, int] = dataclasses.field(default_factory=lambda: {"en": 0, "other": 0})
    load: float = 0.0


def variant(name: str, base: AudioLimits) -> tuple[str, AudioLimits, bool]:
    """(model, limits, stock) of a variant's name."""
    stock = name.endswith("-stock")
    model, *options = name.removesuffix("-stock").split("/")
    limits = dataclasses.replace(base, model=model, window_seconds=30.0 if stock else base.window_seconds)
    for option in options:
        key = {"w": "window_seconds", "t": "threads"}[option[0]]
        limits = dataclasses.replace(limits, **{key: type(getattr(limits, key))(option[1:])})
    return model, limits, stock


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--split", default="val", choices=("val", "test"))
    parser.add_argument("--tweets", type=int, default=40, help="English tweets")
    parser.add_argument("--foreign", type=int, default=8, help="tweets per other language (0: none)")
    parser.add_argument("--join", type=int, default=1, help="tweets spoken as one clip")
    parser.add_argument("--variants", default="base,base/w30,base-stock,tiny.en")
    parser.add_argument("--threads", type=int, default=None, help="CTranslate2 threads (default: the plugin's)")
    args = parser.parse_args()
    given = {} if args.threads is None else {"threads": args.threads}
    limits = AudioLimits.from_settings(Settings.load(plugin_options={"audio": given}))
    english = tweets(DATA / f"tweeteval/sentiment/{args.split}_text.txt", args.tweets)
    texts = [("en", " ".join(english[i:i + args.join]), *VOICES[(i // args.join) % len(VOICES)])
             for i in range(0, len(english), args.join)]
    for lang, folder in FOREIGN.items():
        said = tweets(DATA / f"umsab/{folder}/{args.split}_text.txt", args.foreign)
        texts += [(lang, " ".join(said[i:i + args.join]), lang, 150 + 10 * (i // args.join % 3))
                  for i in range(0, len(said), args.join)]
    with tempfile.TemporaryDirectory() as tmp:
        clips = [(lang, text, speak(text, voice, speed, Path(tmp) / f"c{i}.wav"))
                 for i, (lang, text, voice, speed) in enumerate(texts)]
    decoded = []
    decoding = 0.0
    for i, (lang, text, data) in enumerate(clips):
        began = time.perf_counter()
        decoded.append((lang, text, decode(f"c{i}", data, limits)))
        decoding += time.perf_counter() - began
    names = args.variants.split(",")
    models: dict[tuple[str, bool, int], Speech] = {}
    scores = {name: Score() for name in names}
    for name in names:
        model, variant_limits, stock = variant(name, limits)
        if (model, stock, variant_limits.threads) not in models:
            began = time.perf_counter()
            speech = Speech(variant_limits)
            if stock:
                from faster_whisper import WhisperModel

                type(speech.model).encode = WhisperModel.encode  # this instance's class only
            speech.warm_up()
            models[(model, stock, variant_limits.threads)] = speech
            scores[name].load = time.perf_counter() - began
    print(f"{len(clips)} clips ({sum(lang == 'en' for lang, _, _ in clips)} English), "
          f"{sum(c.duration for _, _, c in decoded):.0f} s of speech; decoding the files: "
          f"{1000 * decoding / len(clips):.1f} ms a clip; load average {os.getloadavg()[0]:.1f} at the start",
          flush=True)
    reheard = {name: 0 for name in names}
    for i, (lang, text, clip) in enumerate(decoded):
        for name in names:
            model, variant_limits, stock = variant(name, limits)
            speech = models[(model, stock, variant_limits.threads)]
            speech.limits = variant_limits
            before = speech.reheard
            began = time.perf_counter()
            got = speech.transcribe(f"c{i}", clip.samples)
            score = scores[name]
            score.wall += time.perf_counter() - began
            score.audio += clip.duration
            reheard[name] += speech.reheard - before
            group = "en" if lang == "en" else "other"
            score.errors[group] += edit_distance(words(text), words(got.text))
            score.refs[group] += len(words(text))
            score.right[group] += got.language == lang
            score.count[group] += 1
    first = scores[names[0]]
    for name in names:
        s = scores[name]
        rtf = s.audio / s.wall
        other = (f" | other languages: WER {100 * s.errors['other'] / s.refs['other']:.1f}%, language id "
                 f"{s.right['other']}/{s.count['other']}") if s.count["other"] else ""
        print(f"{name}: English WER {100 * s.errors['en'] / s.refs['en']:.1f}% ({s.errors['en']}/{s.refs['en']}), "
              f"said to be English {s.right['en']}/{s.count['en']}{other} | RTF {rtf:.1f}x "
              f"({rtf / (first.audio / first.wall):.2f} of {names[0]}'s) | heard again in full "
              f"{reheard[name]} | load+warm-up {s.load:.1f} s", flush=True)
    print(f"load average {os.getloadavg()[0]:.1f} at the end")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
