"""Speech models of the audio plugin, compared on espeak-ng speech: English word error rate and
real-time factor on TweetEval test tweets spoken with varied voices and speeds, and Whisper's language
id on a few Spanish, French and German sentences. Each clip is decoded and transcribed by the plugin's
own code (mmstream_audio.decode, mmstream_audio.speech), one clip at a time.

    python benchmarks/speech.py [--tweets 40] [--join 1] [--models base,base-stock,tiny.en] [--threads 0]

``base-stock``: base with faster-whisper's own encoder calls (the first window encoded twice, once to detect
the language: see mmstream_audio.speech.once_encoded), for comparison.

``--join K`` speaks K tweets as one clip (a voice note of ~30 s for K=6 instead of a ~5 s tweet):
Whisper encodes 30 s windows whatever the clip's length, so short clips cost more per second.

Real-time factor: seconds of audio per wall second of transcription (decoding not included; it is
printed apart). WER: word-level edit distance over the reference's words, both lower-cased, letters,
digits and apostrophes only. The tweets: the first N of the test split with at least 6 words once
@user, URLs and emoji are dropped and '#' is read as a word (people say names, not handles).
"""
from __future__ import annotations

import argparse
import re
import subprocess
import tempfile
import time
from pathlib import Path

from mmstream.plugin import Settings
from mmstream_audio.decode import decode
from mmstream_audio.limits import AudioLimits
from mmstream_audio.speech import Speech

TWEETS = Path("/work/shared/data/tweeteval/sentiment/test_text.txt")
VOICES = [("en-us+f3", 160), ("en-us+m3", 175), ("en+f4", 150), ("en-us+m7", 185)]
FOREIGN = [
    ("es", "es", "Me encanta mi nuevo teléfono, la batería dura todo el día y la cámara es excelente."),
    ("es", "es", "El servicio al cliente de esta aerolínea es terrible, perdieron mi maleta otra vez."),
    ("es", "es", "Mañana vamos a la playa con mis amigos si no llueve por la tarde."),
    ("fr", "fr", "J'adore mon nouveau téléphone, la batterie tient toute la journée."),
    ("fr", "fr", "Le service client de cette compagnie est vraiment décevant, ils ont perdu ma valise."),
    ("de", "de", "Ich liebe mein neues Telefon, der Akku hält den ganzen Tag."),
    ("de", "de", "Der Kundendienst dieser Fluggesellschaft ist schrecklich, mein Koffer ist wieder weg."),
]


def clean(text: str) -> str:
    text = re.sub(r"@\w+|https?://\S+", " ", text)
    text = text.replace("#", " ").replace("&amp;", " and ")
    text = re.sub(r"[^\w\s'.,!?-]", " ", text)
    return re.sub(r"\s+", " ", text).strip()


def words(text: str) -> list[str]:
    return re.findall(r"[a-z0-9']+", text.lower().replace("’", "'"))


def edit_distance(ref: list[str], hyp: list[str]) -> int:
    row = list(range(len(hyp) + 1))
    for i, r in enumerate(ref, 1):
        prev, row[0] = row[0], i
        for j, h in enumerate(hyp, 1):
            prev, row[j] = row[j], min(row[j] + 1, row[j - 1] + 1, prev + (r != h))
    return row[-1]


def speak(text: str, voice: str, speed: int, path: Path) -> bytes:
    subprocess.run(["espeak-ng", "-v", voice, "-s", str(speed), "-w", str(path), text], check=True)
    return path.read_bytes()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tweets", type=int, default=40)
    parser.add_argument("--join", type=int, default=1, help="tweets spoken as one clip")
    parser.add_argument("--models", default="base,base-stock,tiny.en")
    parser.add_argument("--threads", type=int, default=0)
    args = parser.parse_args()
    tweets = [t for t in (clean(line) for line in TWEETS.read_text(encoding="utf-8").splitlines())
              if len(words(t)) >= 6][: args.tweets]
    tweets = [" ".join(tweets[i:i + args.join]) for i in range(0, len(tweets), args.join)]
    with tempfile.TemporaryDirectory() as tmp:
        clips = []
        for i, text in enumerate(tweets):
            voice, speed = VOICES[i % len(VOICES)]
            clips.append((text, speak(text, voice, speed, Path(tmp) / f"t{i}.wav")))
        foreign = [(lang, text, speak(text, voice, 150, Path(tmp) / f"f{i}.wav"))
                   for i, (lang, voice, text) in enumerate(FOREIGN)]
    for model in args.models.split(","):
        stock = model.endswith("-stock")
        limits = AudioLimits.from_settings(Settings.load(plugin_options={"audio": {
            "model": model.removesuffix("-stock"), "threads": args.threads}}))
        began = time.perf_counter()
        speech = Speech(limits)
        if stock:
            from faster_whisper import WhisperModel

            type(speech.model).encode = WhisperModel.encode  # this instance's class only
        speech.warm_up()
        load = time.perf_counter() - began
        errors = ref_words = 0
        audio = wall = decoding = 0.0
        for i, (text, data) in enumerate(clips):
            t0 = time.perf_counter()
            clip = decode(f"t{i}", data, limits)
            t1 = time.perf_counter()
            got = speech.transcribe(f"t{i}", clip.samples)
            t2 = time.perf_counter()
            decoding += t1 - t0
            wall += t2 - t1
            audio += clip.duration
            errors += edit_distance(words(text), words(got.text))
            ref_words += len(words(text))
        right = 0
        ids = []
        for i, (lang, text, data) in enumerate(foreign):
            got = speech.transcribe(f"f{i}", decode(f"f{i}", data, limits).samples)
            right += got.language == lang
            ids.append(f"{lang}->{got.language}({got.language_prob:.2f})")
        print(f"{model}: load+warm-up {load:.1f} s | {len(clips)} clips, {audio:.1f} s of speech | "
              f"WER {100 * errors / ref_words:.1f}% ({errors}/{ref_words}) | transcribe {wall:.1f} s, "
              f"RTF {audio / wall:.1f}x | decode {1000 * decoding / len(clips):.1f} ms/clip | "
              f"language id {right}/{len(foreign)}: {' '.join(ids)}", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
