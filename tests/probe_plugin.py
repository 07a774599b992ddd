"""A misbehaving third-party plugin for the reliability tests, and a fused
model that knows its modality.

``install_probe(dir)`` writes the ``mmstream_probe`` module plus the
``.dist-info`` an installer would write (metadata and the ``mmstream`` entry
point), so a worker started with ``PYTHONPATH=dir`` loads it through the same
entry-point group as any plugin. No build, no network.

The plugin handles the modality ``probe`` (a string) and does what it is told:

=============  =======================================================
``"ok"``       a 4-d feature vector and a report: a normal post
``"raise"``    raises (the whole micro-batch call fails)
``"hang"``     sleeps :data:`HANG_SECONDS`, far past any test's budget
``"badvec"``   a 3-d vector where the model expects 4: the model fails
``"garbage"``  returns a dict instead of an ``Extraction``
``"nan"``      a report holding NaN (not JSON)
``"slow"``     touches the file ``$PROBE_MARK`` (when set), sleeps
               :data:`SLOW_SECONDS` (within budget), then answers like ``ok``
``"miscount"`` the call returns one result fewer than it got values
``"derive-int"`` like ``ok``, and derives ``image_text`` = 42: the text
               plugin's tokenizer rejects it (``bad_text``)
``"huge"``     like ``ok`` with a report of :data:`HUGE_REPORT_BYTES`: a
               result Kafka refuses (``output_failed``)
``"validate-bug"`` ``validate()`` raises a ValueError (not a PostError)
=============  =======================================================

Two faults planted in mmstream itself, for the dead letters no post can
cause on its own (the module does this when the worker imports it):

* ``PROBE_ENRICHER=1``: the plugin also registers an enricher (the
  ``register_enrichers`` hook) ``probe-enricher`` that raises for the post
  ``bad-enrich-raise`` and leaves NaN in the result of ``bad-enrich-nan``
  (both ``enrich_error``);
* ``PROBE_BUG_ID=<id>``: mmstream's validation step raises a KeyError for that
  post, a stand-in for a bug in mmstream (``internal_error``).

``probe_model(dir)`` copies the shipped fused model and declares the extra,
unused inputs ``probe`` [batch, 4] and ``probe_mask`` [batch, 1], so the
model's own shape check is what rejects ``badvec``. The inputs are appended to
the ONNX protobuf by hand (repeated fields of an embedded message merge), so
the tests need no ``onnx`` package.
"""
from __future__ import annotations

import json
import shutil
from pathlib import Path

from mmstream.settings import Settings

HANG_SECONDS = 60
SLOW_SECONDS = 4
PROBE_DIM = 4
HUGE_REPORT_BYTES = 1_500_000  # over Kafka's default 1 MB record limit

MODULE = f'''
"""mmstream-probe: a plugin that misbehaves on request (tests only)."""
import os
import time

import numpy as np

import mmstream.pipeline.batch as _core
from mmstream import Extraction, Extractor, PostError, hookimpl

from mmstream.plugin import Enricher


class ProbeEnricher(Enricher):
    name = "probe-enricher"

    def enrich(self, items):
        for item in items:
            if item.post.id == "bad-enrich-raise":
                raise RuntimeError("probe enricher told to raise")
            if item.post.id == "bad-enrich-nan":
                item.add("probe_enriched", float("nan"))


if not getattr(_core, "_probe_faults_planted", False):
    _core._probe_faults_planted = True
    _real_validate = _core.validate_post

    def _validate_post(obj, validators):
        bug = os.environ.get("PROBE_BUG_ID")
        if bug and isinstance(obj, dict) and obj.get("id") == bug:
            raise KeyError("a bug planted in mmstream's validation by the probe plugin")
        return _real_validate(obj, validators)

    _core.validate_post = _validate_post


@hookimpl
def register_enrichers(settings):
    return [ProbeEnricher()] if os.environ.get("PROBE_ENRICHER") else []


class ProbeExtractor(Extractor):
    name = "probe"
    modalities = ("probe",)
    dims = {{"probe": {PROBE_DIM}}}

    def validate(self, modality, value):
        if not isinstance(value, str):
            raise PostError("wrong_type", "'probe' must be a string.", "validate")
        if value == "validate-bug":
            raise ValueError("probe validate() told to fail")
        return value

    def extract(self, modality, values):
        out = []
        if "miscount" in values:
            return [Extraction(features=np.full({PROBE_DIM}, 0.5, dtype=np.float32))] * (len(values) - 1)
        for value in values:
            if value == "raise":
                raise RuntimeError("probe told to raise")
            if value == "hang":
                time.sleep({HANG_SECONDS})
            if value == "slow":
                if os.environ.get("PROBE_MARK"):
                    open(os.environ["PROBE_MARK"], "a").close()
                time.sleep({SLOW_SECONDS})
            if value == "badvec":
                out.append(Extraction(features=np.ones(3, dtype=np.float32), report={{"probe": value}}))
            elif value == "garbage":
                out.append({{"not": "an Extraction"}})
            elif value == "nan":
                out.append(Extraction(report={{"probe": value, "score": float("nan")}}))
            elif value == "derive-int":
                out.append(Extraction(features=np.full({PROBE_DIM}, 0.5, dtype=np.float32),
                                      report={{"probe": value}}, derived={{"image_text": 42}}))
            elif value == "huge":
                out.append(Extraction(features=np.full({PROBE_DIM}, 0.5, dtype=np.float32),
                                      report={{"probe": value, "blob": "z" * {HUGE_REPORT_BYTES}}}))
            else:
                out.append(Extraction(features=np.full({PROBE_DIM}, 0.5, dtype=np.float32),
                                      report={{"probe": value, "chars": len(value)}}))
        return out


@hookimpl
def register_extractors(settings):
    return [ProbeExtractor()]
'''


def install_probe(site: Path) -> Path:
    """Install the probe plugin into ``site`` (a PYTHONPATH entry); returns ``site``."""
    site.mkdir(parents=True, exist_ok=True)
    (site / "mmstream_probe.py").write_text(MODULE)
    info = site / "mmstream_probe-1.0.0.dist-info"
    info.mkdir(exist_ok=True)
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: mmstream-probe\nVersion: 1.0.0\n")
    (info / "entry_points.txt").write_text("[mmstream]\nprobe = mmstream_probe\n")
    (info / "top_level.txt").write_text("mmstream_probe\n")
    (info / "RECORD").write_text("")
    return site


def _varint(n: int) -> bytes:
    out = bytearray()
    while True:
        byte, n = n & 0x7F, n >> 7
        out.append(byte | (0x80 if n else 0))
        if not n:
            return bytes(out)


def _field(number: int, payload: bytes) -> bytes:
    """A length-delimited protobuf field."""
    return _varint(number << 3 | 2) + _varint(len(payload)) + payload


def _float_input(name: str, dim: int) -> bytes:
    """ONNX ValueInfoProto: float tensor [batch, dim]."""
    shape = _field(2, _field(1, _field(2, b"batch")) + _field(1, _varint(1 << 3) + _varint(dim)))
    tensor_type = _field(1, _varint(1 << 3) + _varint(1) + shape)  # elem_type 1 = FLOAT
    return _field(1, name.encode()) + _field(2, tensor_type)


def probe_model(dst: Path) -> Path:
    """A copy of the shipped fused model that also takes a ``probe`` modality."""
    src = Path(Settings().model_dir)
    dst.mkdir(parents=True, exist_ok=True)
    extra = _field(11, _float_input("probe", PROBE_DIM)) + _field(11, _float_input("probe_mask", 1))
    (dst / "model.onnx").write_bytes((src / "model.onnx").read_bytes() + _field(7, extra))  # 7: graph, 11: input
    config = json.loads((src / "config.json").read_text())
    config["modalities"]["probe"] = PROBE_DIM
    (dst / "config.json").write_text(json.dumps(config, indent=2))
    return dst


def copy_model(dst: Path) -> Path:
    """A plain copy of the shipped fused model (pins it for a test's duration)."""
    shutil.copytree(Settings().model_dir, dst, dirs_exist_ok=True)
    return dst
