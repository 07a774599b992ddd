"""Fine-tune the text encoder (all-MiniLM-L6-v2) on TweetEval sentiment train.

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


def _tokenize(texts: list[str]) -> list[list[int]]:
    from tokenizers import Tokenizer

    tok = Tokenizer.from_file(str(source_dir() / "tokenizer.json"))
    tok.no_padding()
    tok.enable_truncation(max_length=MAX_TOKENS)
    return [e.ids for e in tok.encode_batch(texts)]


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
def _predict(model: Classifier, ids: list[list[int]]) -> np.ndarray:
    model.eval()
    preds = np.zeros(len(ids), dtype=np.int64)
    for batch in _batches(ids, 64, random.Random(0), shuffle=False):
        preds[batch] = model(*_tensors(ids, batch)).argmax(1).numpy()
    model.train()
    return preds


def finetune(out: Path, *, epochs: int = 1, batch: int = 32, lr: float = 1e-4, seed: int = 13,
             evals_per_epoch: int = 3, threads: int = 2) -> dict:
    torch.manual_seed(seed)
    torch.set_num_threads(threads)
    rng = random.Random(seed)
    out.mkdir(parents=True, exist_ok=True)
    tr_texts, y_tr = tweeteval_sentiment("train")
    va_texts, y_va = tweeteval_sentiment("val")
    tr_ids, va_ids = _tokenize(tr_texts), _tokenize(va_texts)
    model = Classifier(load_encoder(source_dir()))
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
                loss = loss_fn(model(ids, mask), torch.from_numpy(y_tr[b]))
                opt.zero_grad()
                loss.backward()
                torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
                opt.step()
                sched.step()
                progress.update(1)
                if step % eval_every == 0 or step == total:
                    score = 100 * macro_recall(y_va, _predict(model, va_ids))
                    history.append({"step": step, "epoch": round(step / steps_per_epoch, 2), "loss": float(loss),
                                    "val_macro_recall": round(score, 2), "seconds": round(time.time() - started)})
                    with open(log_path, "a") as fh:
                        fh.write(json.dumps(history[-1]) + "\n")
                    print(f"\nstep {step}/{total} val macro-recall {score:.2f}", flush=True)
                    if score > best:
                        best = score
                        torch.save(model.encoder.state_dict(), out / "encoder_best.pt")
                    torch.save({"model": model.state_dict(), "opt": opt.state_dict(), "sched": sched.state_dict(),
                                "step": step, "best": best, "history": history}, state_path)
    summary = {"best_val_macro_recall": round(best, 2), "epochs": epochs, "batch": batch, "lr": lr, "seed": seed,
               "max_tokens": MAX_TOKENS, "history": history}
    (out / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    return summary


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=Path(".cache/finetune"))
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--lr", type=float, default=1e-4)
    parser.add_argument("--seed", type=int, default=13)
    args = parser.parse_args(argv)
    summary = finetune(args.out, epochs=args.epochs, batch=args.batch, lr=args.lr, seed=args.seed)
    print(json.dumps({k: v for k, v in summary.items() if k != "history"}))


if __name__ == "__main__":
    main()
