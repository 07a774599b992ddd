"""``mmstream train``: transfer learning on top of the plugins' pretrained
encoders. Features come from the very extractor objects the worker uses;
the fused head learns from several views of each labelled tweet (as text, as
text read from a rendered meme with or without a neutral caption, both; as
text heard in a voice note or a video, or read in a video's captions: text
features standing in for transcripts and captions), is selected on TweetEval
val and reported on test, then written as one ONNX file with its config and
model card; the labels are then calibrated on validation
(:mod:`mmstream.training.calibrate`), so the shipped calibration is the model's."""
from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from mmstream.plugin.extractors import Extractor, text_reader, text_views
from mmstream.settings import Settings
from mmstream.training.data import SENTIMENT_LABELS, macro_f1, macro_recall
from mmstream.training.card import write_model_card
from mmstream.training.extractors import TEXT_VIEWS, FeatureNames, image_extractor, plugin_extractors
from mmstream.training.features import cached, file_digest
from mmstream.training.head import Head, HeadSpec, assemble
from mmstream.training.inputs import (brand_sets, custom_features, loaded_extractors, meme_image_features,
                                      sentiment_split, text_features)
from mmstream.training.text_heads import fit_topic_head, multilingual_heads, task_heads

NEUTRAL_CAPTIONS = (
    "look at this", "just saw this", "thoughts?", "found this today", "ok", "this one", "sharing this",
    "saw this on my feed", "well then", "no comment", "new post", "check it out",
)
# share of each training view: text only, meme + neutral caption, meme alone, text + meme
VIEW_SHARES = (0.5, 0.2, 0.15, 0.15)
#: with media text inputs (the reader's further text bases: ``audio_text``, ``video_audio_text``, ``video_text``):
#: after the head is trained on the four views above, the inputs of the media texts join it, starting as copies of
#: the derived text's (what a model without them does: it folds them into that input) and trained alone, on every
#: tweet seen as one media text, for this many epochs; everything else stays as trained, so a post without media
#: text gets the answers of the model trained without them. (Trained with the rest, as rows added to the epochs or
#: taking 12 % of them, TweetEval test macro-recall fell 0.38 and 0.76 points: BENCHMARKS.md.)
MEDIA_EPOCHS = 4


def widen(head: Head, spec: HeadSpec, copies: dict[str, str]) -> tuple[Head, dict[str, np.ndarray]]:
    """``head`` with the inputs of ``spec`` it lacks, each a copy of the input ``copies`` names (its feature rows
    and its mask's row of ``W1``), and the masks of what may train: those new rows only."""
    def rows(sp: HeadSpec) -> dict[str, tuple[slice, int]]:
        out, at = {}, 0
        for m, dim in sp.modalities.items():
            out[m] = slice(at, at + dim)
            at += dim
        return {m: (sl, at + i) for i, (m, sl) in enumerate(out.items())}

    old, new = rows(head.spec), rows(spec)
    W1 = np.zeros((spec.n_inputs, spec.hidden), np.float32)
    train_rows = np.zeros((spec.n_inputs, 1), np.float32)
    for m, (sl, mask_row) in new.items():
        src_sl, src_mask = old[copies.get(m, m)]
        W1[sl], W1[mask_row] = head.params["W1"][src_sl], head.params["W1"][src_mask]
        if m not in old:
            train_rows[sl], train_rows[mask_row] = 1.0, 1.0
    return Head(spec, {**{k: v.copy() for k, v in head.params.items()}, "W1": W1}), {"W1": train_rows}


@dataclass
class TrainConfig:
    out_dir: Path
    seed: int = 13
    epochs: int = 12
    hidden: int = 256
    lr: float = 1e-3
    dropout: float = 0.2
    meme_images: int = 1500
    limit: int | None = None  # only the first N tweets of each split (quick runs, tests)
    #: complaint posts of the complaints data's train part join sentiment training as negative, this many
    #: times per epoch (0: not at all): brand-directed complaints read as flat otherwise
    complaint_negatives: int = 1
    #: the fused sentiment head only: no topic, complaint, emotion or multilingual heads (a quick run: a
    #: plugin author checking that a new modality joins fusion, the tests)
    sentiment_only: bool = False
    #: the text heard or read in media (the reader's further text bases a plugin declares as a text view:
    #: ``audio_text``, ``video_audio_text``, ``video_text``) as inputs of their own; False folds them into the
    #: derived-text input at run time. Trained after the rest (MEDIA_EPOCHS), from copies of the derived text's
    media_texts: bool = False
    #: the complaint head also fits on OCR-style variants and hard negatives (mmstream.training.complaint_data)
    complaint_extra: bool = False
    #: the complaint head also fits on generated praise addressed to brands (complaint_data.brand_praise)
    complaint_praise: bool = False
    #: the complaint head also fits on generated news headlines about brands (complaint_data.brand_news)
    complaint_news: bool = False
    #: a trained model's folder whose multilingual heads are written into the new graph unchanged, instead of
    #: training them again (their ~46k multilingual-e5 embeddings take the longest on a cold cache)
    multilingual_from: Path | None = None
    #: a trained model's folder whose heads are all kept as they are (``--from``): only the inputs it lacks
    #: (``media_texts``) are added and trained, so every post it read before gets the same answers
    start_from: Path | None = None
    #: rerun the label calibration (mmstream.training.calibrate) on the written model
    calibrate: bool = True
    name: str = "mmstream-fused"

    @property
    def complaint_data(self) -> bool:
        """Whether the complaint head fits on more than the complaints data (``--complaint-*``)."""
        return self.complaint_extra or self.complaint_praise or self.complaint_news


def finetune_and_export(work_dir: Path, *, epochs: int, seed: int) -> Path:
    """Fine-tune the text reader's encoder (torch), export it int8 (as the shipped view is quantised) into the
    folder its sentiment encoder loads from (``model_files()``: the text plugin's model folder)."""
    try:
        from mmstream.training.export_text import export_text_encoder
        from mmstream.training.finetune_text import finetune
    except ImportError as exc:
        from mmstream.errors import ConfigError

        raise ConfigError(f"fine-tuning needs the training extra ({exc.name} is missing): pip install -e '.[train]'") from None
    extractors = plugin_extractors()
    names = FeatureNames.of(extractors)  # ConfigError without a text reader
    reader = text_reader(extractors)
    assert reader is not None
    model_dir = reader.model_files()[names.text(names.own, "sentiment")].parent
    from mmstream.training.e5_english import sentiment_encoder_kind

    encoder = sentiment_encoder_kind(model_dir)  # the same kind as the shipped sentiment view, fine-tuned again
    shipped = model_dir / "sentiment.json"
    quantization = json.loads(shipped.read_text()).get("quantization", {}) if shipped.is_file() else {}
    finetune(work_dir, epochs=epochs, seed=seed, encoder=encoder)
    # quantised as the shipped view was (export_text --fp32-ffn-out keeps the feed-forward outputs fp32)
    export_text_encoder(model_dir, work_dir / "encoder_best.pt", encoder, fp32_ffn_out="kept_fp32" in quantization)
    return model_dir


def multilingual_summary(metrics: dict) -> str:
    """What training says of the multilingual heads. A model whose category heads ``calibrate`` refit has no
    topic test figure any more (the refit heads' figure is ``mmstream eval``'s): reusing its heads
    (``--multilingual-from``) says so instead of failing at the end of the run."""
    topics = metrics.get("topics_test_macro_f1", "not recorded (category heads refit by calibrate: see mmstream eval)")
    return f"multilingual heads: UMSAB test avg macro-F1 {metrics.get('test_avg_macro_f1')}, topics {topics}"


def train(cfg: TrainConfig) -> dict:
    started = time.time()
    settings = Settings.load()
    extractors = loaded_extractors(settings)
    names = FeatureNames.of(extractors)  # which features are text, read text, images: the extractors say
    text_ex = text_reader(extractors)
    assert text_ex is not None  # FeatureNames.of refused a set without one
    image_ex = image_extractor(extractors)
    own, derived, image = names.own, names.derived or "", names.image or ""
    # the media texts some plugin hands on as a text view (a reader's base no plugin derives stays out)
    declared = set(text_views(extractors))
    media = tuple(b for b in names.media if b in declared) if cfg.media_texts else ()
    left_out = {names.text(b, v) for b in names.media if b not in media for v in (*TEXT_VIEWS, "multilingual")}
    multilingual_features = tuple(m for m in names.multilingual if m not in left_out)
    # every feature any plugin declares joins fusion: the built-ins' here, custom ones through
    # Extractor.training_features (features of the training tweets as that plugin sees them)
    custom = custom_features(extractors, cfg.limit, names)
    modalities = {name: dim for ex in {id(e): e for e in extractors.values()}.values()
                  for name, dim in ex.dims.items()
                  if dim and name not in left_out
                  and (name in names.built_in or name in multilingual_features or name in custom)}
    if cfg.limit and set(multilingual_features) <= modalities.keys():
        # a quick run: no multilingual heads (their e5 features of ~60k texts take minutes); the model then
        # reads non-English texts through the general MiniLM view like any other
        print("--limit: the multilingual heads are left out of this model", flush=True)
        modalities = {m: d for m, d in modalities.items() if m not in multilingual_features}
    spec = HeadSpec({m: d for m, d in modalities.items() if m not in multilingual_features}, hidden=cfg.hidden)
    # the media texts' inputs, each with the derived text's input of the same view it starts from
    media_inputs = {names.text(b, tv): names.text(derived, tv) for b in media for tv in TEXT_VIEWS
                    if names.text(b, tv) in spec.modalities}
    layout = [HeadSpec({m: d for m, d in spec.modalities.items() if m not in media_inputs}, hidden=cfg.hidden)]
    # --from is checked before any feature work: a run it refuses stops at once, whatever the feature cache holds
    # (every name a multilingual head may read: the kept model's own, with or without the media texts', are among them)
    kept = _kept_model(cfg, (layout[0], spec), tuple(names.multilingual)) if cfg.start_from else None
    files = text_ex.model_files()
    digests = {view: file_digest(files[names.text(own, view)]) for view in TEXT_VIEWS}
    digest = digests["general"]
    splits = text_features(text_ex, digests, cfg.limit)
    X_tr, y_tr = splits["train"]
    n = len(y_tr)
    rng = np.random.default_rng(cfg.seed)
    captions = {view: text_ex.embed_texts(list(NEUTRAL_CAPTIONS), view) for view in TEXT_VIEWS}

    img_feats, img_rows = None, np.full(n, -1)
    if image_ex is not None and image in modalities and cfg.meme_images:
        texts_tr, _ = sentiment_split("train", cfg.limit)
        chosen = np.sort(rng.choice(n, size=min(cfg.meme_images, n), replace=False))
        img_feats = cached("meme-images", [file_digest(image_ex.model_files()[image]), str(cfg.seed), str(len(chosen))],
                           lambda: meme_image_features(image_ex, texts_tr, chosen, cfg.seed))
        img_rows[chosen] = np.arange(len(chosen))

    def views(split: str, view: np.ndarray, rows: np.ndarray, r: np.random.Generator, idx: np.ndarray | None = None):
        """The fused head's input for a whole split (or its tweets ``idx``), each tweet seen as ``view`` says."""
        X, y = splits[split]
        if idx is not None:
            X, y = {tv: X[tv][idx] for tv in TEXT_VIEWS}, y[idx]
        m = len(y)
        has = lambda *vs: np.isin(view, vs).astype(np.float32)  # noqa: E731
        cap = view == 1
        which = r.integers(0, len(NEUTRAL_CAPTIONS), cap.sum())
        feats, masks = {}, {}
        for tv in TEXT_VIEWS:
            text = X[tv].copy()
            text[cap] = captions[tv][which]
            feats[names.text(own, tv)], feats[names.text(derived, tv)] = text, X[tv]
            masks[names.text(own, tv)], masks[names.text(derived, tv)] = has(0, 1, 3), has(1, 2, 3)
            for i, base in enumerate(media):  # the tweet as a transcript or a caption alone: its text stands in
                feats[names.text(base, tv)], masks[names.text(base, tv)] = X[tv], has(4 + i)
        if image in modalities:
            img = np.zeros((m, modalities[image]), np.float32)
            ok = (rows >= 0) & (view > 0)
            if img_feats is not None:
                img[ok] = img_feats[rows[ok]]
            feats[image], masks[image] = img, ok.astype(np.float32)
        for name, per_split in custom.items():
            values, present = per_split[split]
            feats[name], masks[name] = (values, present) if idx is None else (values[idx], present[idx])
        return assemble(layout[0], feats, masks, m), y  # the head's inputs as trained now

    # the complaints corpus (about 6,900 texts to embed): sentiment training's extra negatives and a metric;
    # a --sentiment-only run without those negatives leaves it out
    skip_brand = cfg.sentiment_only and not cfg.complaint_negatives
    brand = {} if skip_brand else brand_sets(text_ex, digests, cfg.seed)

    def brand_z(g: np.ndarray, s: np.ndarray) -> np.ndarray:
        one = np.ones(len(g), np.float32)
        return assemble(layout[0], {own: g, names.text(own, "sentiment"): s},
                        {own: one, names.text(own, "sentiment"): one}, len(g))

    extra_z = brand_z(*brand["train"]) if cfg.complaint_negatives else None

    def epoch_data(epoch: int):
        r = np.random.default_rng(cfg.seed * 1000 + epoch)
        view = r.choice(4, size=n, p=VIEW_SHARES)
        z, y = views("train", view, img_rows, r)
        if extra_z is None:
            return z, y
        k = cfg.complaint_negatives
        return np.concatenate([z] + [extra_z] * k), np.concatenate([y, np.zeros(k * len(extra_z), y.dtype)])

    def neutral_share(h: Head, part: str) -> dict:
        pred = h.predict_proba(brand_z(*brand[part])).argmax(1)
        return {"neutral": round(100 * float(np.mean(pred == 1)), 2), "negative": round(100 * float(np.mean(pred == 0)), 2),
                "posts": int(len(pred))}

    def evaluate(head: Head, split: str, view_id: int) -> dict:
        y = splits[split][1]
        z, _ = views(split, np.full(len(y), view_id), np.full(len(y), -1), np.random.default_rng(0))
        pred = head.predict_proba(z).argmax(1)
        return {"macro_recall": round(100 * macro_recall(y, pred), 2), "accuracy": round(100 * float(np.mean(pred == y)), 2),
                "macro_f1": round(100 * macro_f1(y, pred), 2)}

    counts = np.bincount(y_tr, minlength=3).astype(np.float32)
    if kept is not None:
        head, best = kept.head, kept.config.get("training", {}).get("best_val_macro_recall")
        layout[0] = head.spec  # with the media texts' inputs when it has them already
        print(f"the heads of {cfg.start_from} ({kept.config.get('version')}) kept as they are", flush=True)
    else:
        head = Head.init(layout[0], cfg.seed)
        best = head.fit(
            epoch_data, lambda h: evaluate(h, "val", 0)["macro_recall"], epochs=cfg.epochs, lr=cfg.lr, seed=cfg.seed, dropout=cfg.dropout,
            class_weights=counts.sum() / (3 * counts),
            on_epoch=lambda e, loss, score: print(f"epoch {e + 1}/{cfg.epochs} loss={loss:.4f} val_macro_recall={score:.2f}", flush=True),
        )
    media_training = (kept.config.get("training", {}).get("media_training") if kept is not None and
                      layout[0] is not spec and list(layout[0].modalities) == list(spec.modalities) else None)
    if media and list(head.spec.modalities) != list(spec.modalities):
        # the media texts' inputs join: copies of the derived text's, then trained alone on the tweets as media texts
        head, trainable = widen(head, spec, media_inputs)
        layout[0] = spec

        def media_epoch(epoch: int):
            r = np.random.default_rng(cfg.seed * 1000 + 500 + epoch)
            return views("train", 4 + r.integers(0, len(media), n), np.full(n, -1), r)

        def media_val(h: Head) -> float:
            return float(np.mean([evaluate(h, "val", 4 + i)["macro_recall"] for i in range(len(media))]))

        before = media_val(head)
        media_best = head.fit(
            media_epoch, media_val, epochs=MEDIA_EPOCHS, lr=cfg.lr, seed=cfg.seed + 1, dropout=cfg.dropout,
            class_weights=counts.sum() / (3 * counts), trainable=trainable,
            on_epoch=lambda e, loss, score: print(f"media texts: epoch {e + 1}/{MEDIA_EPOCHS} loss={loss:.4f} "
                                                  f"val_macro_recall={score:.2f}", flush=True))
        media_training = {"epochs": MEDIA_EPOCHS, "trained": "the media text inputs only, from copies of "
                          f"{derived!r}'s", "val_macro_recall_as_copies": round(before, 2),
                          "best_val_macro_recall": round(media_best, 2)}
        print(f"media texts: val macro-recall {before:.2f} as copies of {derived!r}, {media_best:.2f} trained", flush=True)
    if kept is not None:  # its offsets are in its b2 already
        neg, _, pos = kept.config.get("training", {}).get("decision_offsets", [0.0, 0.0, 0.0])
    else:
        # decision offsets per class (negative, positive vs neutral), chosen on val for macro-recall, baked into b2
        y_va = splits["val"][1]
        z_va, _ = views("val", np.zeros(len(y_va), int), np.full(len(y_va), -1), np.random.default_rng(0))
        log_p = np.log(head.predict_proba(z_va) + 1e-9)
        grid = [(a, b) for a in np.arange(-0.6, 0.61, 0.05) for b in np.arange(-0.6, 0.61, 0.05)]
        neg, pos = max(grid, key=lambda ab: (macro_recall(y_va, (log_p + [ab[0], 0, ab[1]]).argmax(1)), -abs(ab[0]) - abs(ab[1])))
        head.params["b2"] = head.params["b2"] + np.array([neg, 0.0, pos], np.float32)
        print(f"decision offsets (val): negative {neg:+.2f}, positive {pos:+.2f}", flush=True)
    metrics = {
        **({} if skip_brand else {"brand_complaints_read_as": {"val": neutral_share(head, "val"),
                                                                "test": neutral_share(head, "test")}}),
        "val_text": evaluate(head, "val", 0), "test_text": evaluate(head, "test", 0),
        "test_meme_with_caption_proxy": evaluate(head, "test", 1),
        # a post with only a voice note, a video's sound, or a video's captions: read by that input alone
        **{f"test_{base}_proxy": evaluate(head, "test", 4 + i) for i, base in enumerate(media)},
    }
    topic_head = None
    if cfg.sentiment_only:
        print("--sentiment-only: no topic, complaint, emotion or multilingual heads in this model", flush=True)
    if kept is not None:
        topic_head, tasks, multilingual = kept.topics, kept.tasks, kept.multilingual
        metrics.update({k: v for k, v in kept.config.get("metrics", {}).items() if k not in metrics})
    elif {own, derived} <= modalities.keys() and not cfg.sentiment_only:
        topic_head, metrics["topics_test_macro_f1"] = fit_topic_head(text_ex, digest)
        print(f"topics test macro-F1: {metrics['topics_test_macro_f1']}", flush=True)
    if kept is None:
        tasks, multilingual = [], None
    if (kept is None or cfg.complaint_data) and not cfg.sentiment_only and \
            {names.text(b, v) for b in (own, derived) for v in TEXT_VIEWS} <= modalities.keys():
        def hidden(general: np.ndarray, sentiment: np.ndarray) -> np.ndarray:
            """The sentiment head's hidden layer for text-only posts with these embeddings."""
            one = np.ones(len(general), np.float32)
            z = assemble(spec, {own: general, names.text(own, "sentiment"): sentiment},
                         {own: one, names.text(own, "sentiment"): one}, len(general))
            return np.maximum(z @ head.params["W1"] + head.params["b1"], 0)

        trained = task_heads(text_ex, digests, cfg.seed, hidden, cfg.complaint_extra, cfg.complaint_praise,
                              only_complaint=kept is not None, news=cfg.complaint_news)
        # --from: the kept model's heads, its complaint head trained again when asked
        tasks = trained if kept is None else [next((n for n in trained if n.name == t.name), t) for t in tasks]
        metrics.update({t.name: t.metrics for t in trained})
    if kept is None and set(multilingual_features) <= modalities.keys() and not cfg.sentiment_only:
        if cfg.multilingual_from:
            from mmstream.training.reuse import heads_from_model

            multilingual = heads_from_model(cfg.multilingual_from)
            print(f"multilingual heads: those of {cfg.multilingual_from} ({multilingual.metrics['reused_from']})", flush=True)
        else:
            multilingual = multilingual_heads(text_ex, cfg.seed, names)
        metrics["multilingual"] = multilingual.metrics
        print(multilingual_summary(multilingual.metrics), flush=True)
    cfg.out_dir.mkdir(parents=True, exist_ok=True)
    head.to_onnx(cfg.out_dir / "model.onnx", topic_head, tasks, multilingual, texts=(own, derived, *media))
    config = {
        # the day, the seed and the graph's own digest: two models trained on one day never share a version
        "name": cfg.name, "version": time.strftime("%Y%m%d") + f"-s{cfg.seed}-{file_digest(cfg.out_dir / 'model.onnx')[:6]}",
        "modalities": modalities, "labels": list(SENTIMENT_LABELS),
        "topic_labels": topic_head.labels if topic_head else [],
        "topic_threshold": round(float(topic_head.threshold), 2) if topic_head else None,
        "tasks": {t.name: {"labels": t.labels, **({"threshold": t.threshold} if t.threshold is not None else {})} for t in tasks},
        # every modality the model reads, with the plugin whose extractor makes it (text_sentiment too)
        "encoders": {m: getattr(ex, "encoder_name", ex.name) for ex in {id(e): e for e in extractors.values()}.values()
                     for m in ex.dims if m in modalities},
        # the inputs that hold text (a post with one of them gets complaint and emotion), and the input that
        # text read or heard in media goes to when the model has no input of its own for it
        "text_inputs": [m for m in modalities if any(m == v or m.startswith(v + "_") for v in text_views(extractors))],
        "derived_text_input": derived if derived in modalities else None,
        "training": {**({"kept_from": kept.config.get("version")} if kept is not None else {}), "seed": cfg.seed, "epochs": cfg.epochs, "hidden": cfg.hidden, "lr": cfg.lr, "dropout": cfg.dropout, "view_shares": VIEW_SHARES,
                     "media_texts": list(media), "media_training": media_training,
                     "meme_images": cfg.meme_images, "train_size": int(n), "selected_on": "tweeteval val, text view",
                     "complaint_negatives": cfg.complaint_negatives, "complaint_extra": cfg.complaint_extra,
                     "complaint_praise": cfg.complaint_praise, "complaint_news": cfg.complaint_news,
                     "best_val_macro_recall": best, "decision_offsets": [round(float(neg), 2), 0.0, round(float(pos), 2)], "seconds": round(time.time() - started, 1)},
        "metrics": metrics,
    }
    (cfg.out_dir / "config.json").write_text(json.dumps(config, indent=2) + "\n")
    if cfg.calibrate and "emotion" in config["tasks"]:
        # the shipped calibration (emotion none, per-category thresholds) is the new model's, not the last one's
        from mmstream.training.calibrate import main as calibrate

        print("calibrating the labels on validation (python -m mmstream.training.calibrate)", flush=True)
        calibrate(["--model-dir", str(cfg.out_dir)])
        config = json.loads((cfg.out_dir / "config.json").read_text())
    encoders = {ex.name: c for ex in {id(e): e for e in extractors.values()}.values() if (c := _encoder_config(ex))}
    write_model_card(cfg.out_dir, config, encoders)
    return config


def _kept_model(cfg: TrainConfig, layouts: tuple[HeadSpec, ...], multilingual: tuple[str, ...]):
    """``--from``: the heads of ``cfg.start_from``, refused (naming the fix) when its inputs are not this run's
    (``layouts``: without the media texts' inputs, and with them)."""
    from mmstream.errors import ConfigError
    from mmstream.training.reuse import fused_from_model

    if not (cfg.media_texts or cfg.complaint_data):
        raise ConfigError("--from keeps a trained model and changes part of it: give --media-texts (inputs added), "
                          "--complaint-extra, --complaint-praise or --complaint-news (its complaint head trained again)")
    kept = fused_from_model(cfg.start_from, multilingual)
    if not any(list(kept.head.spec.modalities.items()) == list(layout.modalities.items()) for layout in layouts):
        raise ConfigError(f"--from {cfg.start_from}: its model reads {list(kept.head.spec.modalities)}, the installed "
                          f"plugins give {list(layouts[-1].modalities)}: train without --from, or with --media-texts "
                          "if it has inputs for the media texts")
    return kept


def _encoder_config(extractor: Extractor) -> dict:
    """The encoder's own config.json, without its bulky parts."""
    for attr in ("model_dir",):
        folder = getattr(extractor, attr, None)
        if folder and (Path(folder) / "config.json").is_file():
            cfg = json.loads((Path(folder) / "config.json").read_text())
            out = {k: v for k, v in cfg.items() if k in ("name", "dim", "source", "fine_tuned", "cosine_vs_fp32_mean")}
            for extra in ("sentiment", "multilingual"):  # the plugin's other encoders, by their own configs
                if (Path(folder) / f"{extra}.json").is_file():
                    more = json.loads((Path(folder) / f"{extra}.json").read_text())
                    out[extra] = {k: v for k, v in more.items() if k in ("name", "fine_tuned", "cosine_vs_fp32_mean")}
                    if "vocabulary" in more:
                        out[extra]["vocabulary"] = {k: more["vocabulary"][k] for k in ("pieces", "of") if k in more["vocabulary"]}
            return out
    encoder = getattr(extractor, "encoder", None)
    cfg = getattr(getattr(encoder, "model", None), "config", {}) or {}
    return {k: v for k, v in cfg.items() if k in ("name", "dim", "precision", "source")}
