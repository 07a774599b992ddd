"""Add a short spoken video and a voice note to mmstream/samples/posts.jsonl, the posts `mmstream demo` replays.

Speech from espeak-ng (Debian: apt-get install espeak-ng), muxed with PyAV: the video is H.264 + AAC in
MP4 with a caption burned into its frames, the voice note Opus in Ogg. Both go inline as base64 (the demo
has no media store; a real producer sends clips of more than a few hundred KB by reference, see README
"Video"). Deterministic: fixed texts and voices, no timestamps from the clock.

Run after scripts/make_samples.py (which rewrites the file without them):
    python scripts/make_media_samples.py
Posts with the ids below are replaced, every other line is kept as it is.
"""
from __future__ import annotations

import base64
import io
import json
import shutil
import subprocess
import tempfile
from datetime import datetime, timedelta
from pathlib import Path

import av
from PIL import Image, ImageDraw, ImageFont

from mmstream.evaluation.spoken import duration, sound_packets

OUT = Path(__file__).resolve().parents[1] / "mmstream" / "samples" / "posts.jsonl"
FPS = 10
SIZE = (640, 360)

VIDEO = {"id": "demo-video-1", "brand": "brewly", "caption": "NEVER AGAIN, BREWLY",
         "speech": "The coffee was cold and the staff were rude. I am never going back.", "voice": "en-us"}
VOICE = {"id": "demo-voice-1", "brand": "nimbus",
         "speech": "Honestly the new Nimbus phone is great. The battery lasts two days.", "voice": "en-us+f3"}


def speak(text: str, voice: str) -> bytes:
    """espeak-ng's WAV of ``text`` (22,050 Hz mono)."""
    espeak = shutil.which("espeak-ng")
    if espeak is None:
        raise SystemExit("espeak-ng is not installed: apt-get install espeak-ng")
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "speech.wav"
        subprocess.run([espeak, "-v", voice, "-s", "160", "-w", str(path), text], check=True, timeout=60)
        return path.read_bytes()


def spoken_video(caption: str, wav: bytes) -> bytes:
    """H.264 (a keyframe a second) + AAC 32 kb/s in MP4, as long as the speech, the caption on every frame."""
    seconds = duration(wav) + 0.3
    font = ImageFont.load_default(size=48)
    buf = io.BytesIO()
    with av.open(buf, "w", format="mp4") as out:
        vs = out.add_stream("libx264", rate=FPS, options={"crf": "30", "preset": "veryslow"})
        vs.width, vs.height, vs.pix_fmt = SIZE[0], SIZE[1], "yuv420p"
        vs.codec_context.gop_size = FPS
        packets: list[av.Packet] = []
        for i in range(round(seconds * FPS)):
            img = Image.new("RGB", SIZE, (90 + i % 40, 60, 40))
            draw = ImageDraw.Draw(img)
            draw.ellipse([250 + 3 * (i % 20), 50, 390 + 3 * (i % 20), 190], fill=(230, 220, 200))  # a cup, moving
            left, top, right, bottom = draw.textbbox((0, 0), caption, font=font)
            draw.text(((SIZE[0] - right + left) // 2, SIZE[1] - (bottom - top) - 30), caption, font=font,
                      fill="white", stroke_width=3, stroke_fill="black")
            packets += vs.encode(av.VideoFrame.from_image(img))
        packets += vs.encode()
        packets += sound_packets(out, wav, "aac", 22050, 32000)
        for packet in packets:
            out.mux(packet)
    return buf.getvalue()


def voice_note(wav: bytes) -> bytes:
    """Opus 24 kb/s in Ogg, what messaging apps send as a voice note."""
    buf = io.BytesIO()
    with av.open(buf, "w", format="ogg") as out:
        for packet in sound_packets(out, wav, "libopus", 48000, 24000):
            out.mux(packet)
    return buf.getvalue()


def b64(data: bytes) -> dict:
    return {"b64": base64.b64encode(data).decode("ascii")}


def main() -> None:
    lines = [line for line in OUT.read_text().splitlines() if line.strip()]
    ours = {VIDEO["id"], VOICE["id"]}
    kept = [line for line in lines if json.loads(line).get("id") not in ours]
    stamps = [json.loads(line).get("created_at") for line in kept]
    last = max(datetime.fromisoformat(s) for s in stamps if isinstance(s, str))
    video = spoken_video(VIDEO["caption"], speak(VIDEO["speech"], VIDEO["voice"]))
    note = voice_note(speak(VOICE["speech"], VOICE["voice"]))
    posts = [
        {"id": VIDEO["id"], "created_at": (last + timedelta(seconds=31)).isoformat(), "platform": "tiktok",
         "lang": "en", "brands": [VIDEO["brand"]], "videos": [b64(video)]},
        {"id": VOICE["id"], "created_at": (last + timedelta(seconds=67)).isoformat(), "platform": "whatsapp",
         "lang": "en", "brands": [VOICE["brand"]], "audio": [b64(note)]},
    ]
    OUT.write_text("".join(line + "\n" for line in kept) + "".join(json.dumps(p) + "\n" for p in posts))
    print(f"{VIDEO['id']}: {len(video)} bytes of MP4; {VOICE['id']}: {len(note)} bytes of Ogg/Opus; "
          f"{len(kept) + len(posts)} posts in {OUT}")


if __name__ == "__main__":
    main()
