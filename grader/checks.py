"""The rubric items: what each group sends to a worker, and how the trusted side scores what comes back.

A group runs in one fresh worker process. Each `@group` function receives a `Run` (config, results,
a worker session) and fills in the ItemResults it owns. To add an item: give it an id in grading.yaml
and config.ITEM_IDS, then score it in the group whose worker output it needs.
"""
from __future__ import annotations

import base64
import io
import itertools
from dataclasses import dataclass, field
from typing import Callable

import numpy as np
from einops import rearrange

from . import data, metrics, oracle
from .config import Config
from .result import ItemResult
from .sandbox import WorkerFailure, WorkerSession

TRAIN_SEED = 0
SHUFFLE_CASES = [  # (logical input shape, r, non-contiguous): C>1, r in 2..4, H != W, leading dims
    ((2, 12, 3, 5), 2, False),
    ((1, 18, 4, 2), 3, False),
    ((2, 32, 2, 3), 4, False),
    ((2, 3, 8, 5, 7), 2, False),
    ((2, 27, 5, 4), 3, True),
    ((1, 4, 3, 3), 2, False),
]
UNSHUFFLE_CASES = [((2, 3, 6, 10), 2, False), ((1, 2, 9, 6), 3, False), ((2, 2, 2, 8, 12), 4, False),
                   ((2, 3, 4, 6), 2, True)]
MODULE_CASES = [((2, 12, 3, 5), 2, False), ((1, 2, 18, 4, 2), 3, True)]
CHECK_CASES = {"pixel_shuffle": SHUFFLE_CASES, "PixelShuffle": MODULE_CASES, "pixel_unshuffle": UNSHUFFLE_CASES}


@dataclass
class Run:
    config: Config
    results: dict[str, ItemResult]
    session: WorkerSession
    progress: Callable[[str, int, int], None]
    secret: np.random.Generator
    seed: int = TRAIN_SEED
    flags: list[str] = field(default_factory=list)
    images: list[dict[str, str]] = field(default_factory=list)

    def wants(self, *ids: str) -> bool:
        return any(i in self.results for i in ids)

    def timeout(self, *ids: str) -> float:
        return max(self.config.item(i).timeout_s for i in ids if i in self.results)

    def call(self, task: str, owners: tuple[str, ...], **params) -> dict | None:
        """Run a worker task for `owners`; on failure mark them `error` with the reason and return None."""
        try:
            reply = self.session.call(task, self.timeout(*owners),
                                      on_progress=lambda done, total: self.progress(task, done, total), **params)
        except WorkerFailure as failure:
            if failure.kind == "protocol":   # a forged or malformed reply is intent, not an accident
                self.flags.append(f"{', '.join(owners)}: {failure}")
            for item_id in owners:
                if item_id in self.results:
                    self.results[item_id].error(worker_failure_text(failure), failure=failure.kind)
            return None
        if not reply.get("ok"):
            if "replaced parts of the grader" in str(reply.get("error")):
                self.flags.append(f"{', '.join(owners)}: {str(reply.get('error'))[:300]}")
            for item_id in owners:
                if item_id in self.results:
                    self.results[item_id].error(with_printed(str(reply.get("error")), reply.get("printed", "")))
            return None
        result = reply.get("result")
        if not isinstance(result, dict):
            for item_id in owners:
                if item_id in self.results:
                    self.results[item_id].error("the grader's worker sent a malformed reply; nothing to score")
            return None
        result["_printed"] = reply.get("printed", "")
        return result

    def array(self, rel, owners: tuple[str, ...], shape=None, dtype=None) -> np.ndarray | None:
        """A worker output array, validated; None (and the owners marked `error`) if it is not what we asked."""
        try:
            arr = self.session.read_output(rel)
        except WorkerFailure as failure:
            for item_id in owners:
                self.results[item_id].error(str(failure))
            return None
        if (shape is not None and arr.shape != shape) or (dtype is not None and arr.dtype != dtype):
            for item_id in owners:
                self.results[item_id].error(f"output array has shape {arr.shape} and dtype {arr.dtype}, "
                                            f"expected {shape} {dtype}")
            return None
        return arr


def worker_failure_text(failure: WorkerFailure) -> str:
    return with_printed(f"Grading your code stopped: {failure}", failure.output)


def with_printed(text: str, printed: str) -> str:
    printed = (printed or "").strip()
    return f"{text}\n--- what your code printed (tail) ---\n{printed}" if printed else text


# ============================================================ pixel shuffle
def make_case(shape, transposed: bool, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(logical input, what is stored and sent): distinct values (a permutation of 0..n-1), so any misplaced
    element shows; a transposed case is stored transposed and the worker views it back, non-contiguous."""
    logical = np.random.default_rng(seed).permutation(int(np.prod(shape))).astype(np.float32).reshape(shape)
    stored = np.ascontiguousarray(np.swapaxes(logical, -1, -2)) if transposed else logical
    return logical, stored


def grad_weight(shape, k: int) -> np.ndarray:
    """The w of the gradient check d/dx sum(PixelShuffle(x) * w), which must equal pixel_unshuffle(w)."""
    return np.random.default_rng(100 + k).standard_normal(shape, dtype=np.float32)


def channel_order_mistake(out: np.ndarray, x: np.ndarray, r: int) -> str | None:
    """Name the einops channel grouping the student used, if it is one of the wrong ones."""
    for order in itertools.permutations(("c", "r1", "r2")):
        if order == ("c", "r1", "r2"):
            continue
        pattern = f"... ({' '.join(order)}) h w -> ... c (h r1) (w r2)"
        candidate = rearrange(x, pattern, r1=r, r2=r)
        if candidate.shape == out.shape and np.array_equal(candidate, out):
            return (f"the channel axis is split as ({' '.join(order)}), but torch packs it as (c r1 r2): "
                    f"each output channel's r*r sub-pixels are neighbours in the input")
    return None


def torch_answers(fn: str) -> dict[str, np.ndarray]:
    """torch's F.pixel_shuffle / F.pixel_unshuffle of each case of `fn` (and input gradients for the module),
    computed by grader/oracle.py."""
    with np.load(oracle.ensure(f"shuffle_{fn}.npz") / f"shuffle_{fn}.npz", allow_pickle=False) as npz:
        return {k: npz[k] for k in npz.files}


def compare_cases(run: Run, fn: str, owners) -> list[dict] | None:
    """Send the cases of `fn` to the worker; return one outcome per case (shape, values, what ran, message)."""
    expected = torch_answers(fn)
    sent, specs = [], []
    for k, (shape, r, transposed) in enumerate(CHECK_CASES[fn]):
        x, stored = make_case(shape, transposed, seed=k)
        spec = {"input": run.session.write_input(f"{fn}_{k}", stored), "factor": r, "transposed": transposed}
        if fn == "PixelShuffle":
            spec["grad_weight"] = run.session.write_input(f"{fn}_{k}_w", grad_weight(expected[f"out{k}"].shape, k))
        sent.append((x, r, transposed, expected[f"out{k}"], expected.get(f"grad{k}")))
        specs.append(spec)
    reply = run.call("shuffle", owners, fn=fn, cases=specs)
    if reply is None:
        return None
    entries = reply.get("cases") if isinstance(reply.get("cases"), list) else []
    outcomes = []
    for (x, r, transposed, want, want_grad), entry in itertools.zip_longest(sent, entries[:len(sent)],
                                                                            fillvalue=None):
        desc = f"input {tuple(x.shape)}{' (non-contiguous)' if transposed else ''}, r={r}"
        outcome = {"desc": desc, "returned": False, "shape_ok": False, "value_ok": False, "torch_shuffle": False,
                   "einops": False}
        try:
            outcome["message"] = judge_case(run, fn, x, r, want_grad, entry, want, outcome)
        except WorkerFailure as failure:
            outcome["message"] = str(failure)
        outcome["message"] = f"{desc}: {outcome['message']}" if outcome["message"] else ""
        outcomes.append(outcome)
    return outcomes


def judge_case(run: Run, fn, x, r, expected_grad, entry, expected: np.ndarray, o: dict) -> str:
    """Fill the outcome flags for one case; return what is wrong ('' when nothing is)."""
    if not isinstance(entry, dict) or "error" in entry:
        return str(entry.get("error")) if isinstance(entry, dict) else "no result came back"
    out = run.session.read_output(entry.get("output"))
    o["returned"] = True
    ops = entry.get("ops") if isinstance(entry.get("ops"), list) else []
    o["torch_shuffle"] = any(op in ("pixel_shuffle", "pixel_unshuffle") for op in ops)
    o["einops"] = entry.get("einops") is True
    o["shape_ok"] = out.shape == expected.shape
    if o["torch_shuffle"]:
        return (f"this ran torch's own {', '.join(op for op in ops if 'shuffle' in op)}; "
                f"the exercise is to write it with einops")
    if not o["shape_ok"]:
        return f"expected output shape {expected.shape}, got {out.shape}"
    if out.dtype != expected.dtype:
        return f"expected dtype {expected.dtype} (the input's), got {out.dtype}"
    if not np.array_equal(out, expected):
        hint = channel_order_mistake(out, x, r) if fn != "pixel_unshuffle" else None
        return (f"{int((out != expected).sum())} of {out.size} values differ from torch's"
                + (f"; {hint}" if hint else ""))
    if expected_grad is not None:
        grad = run.session.read_output(entry.get("grad"))
        if not np.array_equal(grad, expected_grad):
            return "the values match, but the gradient with respect to the input does not"
    o["value_ok"] = True
    return ""


def score_cases(item: ItemResult, outcomes: list[dict], key: str, what: str) -> None:
    passed = [o for o in outcomes if o[key]]
    failures = [o["message"] for o in outcomes if not o[key] and o["message"]]
    if len(passed) == len(outcomes):
        item.set(1.0, f"All {len(outcomes)} cases: {what} ({'; '.join(o['desc'] for o in outcomes)}).",
                 cases=len(outcomes), passed=len(passed))
    else:
        item.set(len(passed) / len(outcomes),
                 f"{len(passed)} of {len(outcomes)} cases correct. Expected vs got:\n- " + "\n- ".join(failures),
                 cases=len(outcomes), passed=len(passed))


def group_pixel_shuffle(run: Run) -> None:
    r = run.results
    owners = ("pixel_shuffle.shapes", "pixel_shuffle.values", "pixel_shuffle.einops")
    if run.wants(*owners):
        outcomes = compare_cases(run, "pixel_shuffle", owners)
        if outcomes is not None:
            if "pixel_shuffle.shapes" in r:
                score_cases(r["pixel_shuffle.shapes"], outcomes, "shape_ok", "shapes match torch's")
            if "pixel_shuffle.values" in r:
                score_cases(r["pixel_shuffle.values"], outcomes, "value_ok",
                            "values equal torch.nn.functional.pixel_shuffle exactly")
            if "pixel_shuffle.einops" in r:
                score_einops(r["pixel_shuffle.einops"], outcomes)
    if run.wants("pixel_shuffle.module"):
        outcomes = compare_cases(run, "PixelShuffle", ("pixel_shuffle.module",))
        if outcomes is not None:
            score_cases(r["pixel_shuffle.module"], outcomes, "value_ok",
                        "PixelShuffle(r) output and input gradient equal nn.PixelShuffle's")
    if run.wants("pixel_unshuffle.values"):
        outcomes = compare_cases(run, "pixel_unshuffle", ("pixel_unshuffle.values",))
        if outcomes is not None:
            score_cases(r["pixel_unshuffle.values"], outcomes, "value_ok",
                        "values equal torch.nn.functional.pixel_unshuffle exactly")


def score_einops(item: ItemResult, outcomes: list[dict]) -> None:
    ran = [o for o in outcomes if o["returned"]]
    if not ran:
        item.set(0, "pixel_shuffle did not return a tensor for any case, so there is no einops work to check:\n- "
                 + "\n- ".join(o["message"] for o in outcomes))
    elif any(o["torch_shuffle"] for o in outcomes):
        item.set(0, "pixel_shuffle calls torch's own pixel shuffle (however it is reached, it shows up as "
                    "aten::pixel_shuffle when your function runs). Write it with einops.rearrange instead.",
                 torch_shuffle=True)
    elif not all(o["einops"] for o in ran):
        item.set(0, "no einops code ran while pixel_shuffle executed: use einops.rearrange (the exercise).",
                 einops=False)
    else:
        item.set(1.0, "einops did the work: einops ran in every case and torch's own pixel shuffle never did.",
                 einops=True)


# ============================================================ MNIST CNN
def group_cnn(run: Run) -> None:
    cfg = run.config
    if run.wants("cnn.interface"):
        probe = np.random.default_rng(1).standard_normal((3, 1, 28, 28)).astype(np.float32)
        reply = run.call("cnn_interface", ("cnn.interface",), input=run.session.write_input("cnn_probe", probe))
        if reply is not None:
            score_cnn_interface(run, reply)
    if run.wants("cnn.accuracy"):
        item = cfg.item("cnn.accuracy")
        mnist = data.load_mnist()
        perturbed = shift_images(mnist.test_x, run.secret)
        n = len(mnist.test_x)
        order = run.secret.permutation(2 * n)   # clean and perturbed, interleaved secretly
        eval_x = np.concatenate([mnist.test_x, perturbed])[order]
        reply = run.call("cnn_train", ("cnn.accuracy",), device=run.session.limits.use_cuda and "cuda" or "cpu",
                         train_x=run.session.write_input("mnist_train_x", mnist.train_x),
                         train_y=run.session.write_input("mnist_train_y", mnist.train_y),
                         eval_x=run.session.write_input("mnist_eval_x", eval_x), pretrain_eval=2000,
                         max_params=item.max_params, seed=run.seed, **training(item))
        if reply is None:
            return
        preds = run.array(reply.get("predictions"), ("cnn.accuracy",), shape=(2 * n,))
        before = run.array(reply.get("pretrain_predictions"), ("cnn.accuracy",), shape=(2000,))
        if preds is None or before is None:
            return
        unshuffled = np.empty_like(preds)
        unshuffled[order] = preds
        labels = np.concatenate([mnist.test_y, mnist.test_y])
        clean, shifted = metrics.accuracy(unshuffled[:n], mnist.test_y), metrics.accuracy(unshuffled[n:], mnist.test_y)
        untrained = metrics.accuracy(before, labels[order][:2000])
        t = item.threshold
        score_trained(run.results["cnn.accuracy"], t.credit(clean), reply,
                      f"Test accuracy after {item.train['steps']} training steps: {clean:.4f} "
                      f"(full credit at {t.full_at:.4f}, none at or below {t.zero_at:.4f}; "
                      f"on shifted copies of the test images: {shifted:.4f}).",
                      "Expected a CNN like the practical's: two conv+ReLU+MaxPool blocks and a linear layer; "
                      "check the layer sizes, the ReLUs, and that logits are raw scores (no softmax).",
                      accuracy=round(clean, 5), accuracy_shifted=round(shifted, 5), gap=round(clean - shifted, 5),
                      untrained_accuracy=round(untrained, 4))
        if clean - shifted > cfg.suspicious_gap:
            run.flags.append(f"cnn.accuracy: clean accuracy {clean:.4f} but {shifted:.4f} on 1 px shifted copies "
                             f"(gap {clean - shifted:.3f} > {cfg.suspicious_gap}): possibly memorized test images")
        if untrained > 0.5:
            run.flags.append(f"cnn.accuracy: {untrained:.2%} accuracy before any training: pretrained or "
                             f"hard-coded weights?")
        if (reply.get("trainable") or 0) > cfg.suspicious_params:
            run.flags.append(f"cnn: {reply['trainable']:,} trainable parameters (> {cfg.suspicious_params:,})")


def score_cnn_interface(run: Run, reply: dict) -> None:
    item, cfg_item = run.results["cnn.interface"], run.config.item("cnn.interface")
    if "shape_error" in reply:
        item.set(0, reply["shape_error"])
        return
    logits = run.array(reply.get("logits"), ("cnn.interface",))
    embedding = run.array(reply.get("embedding"), ("cnn.interface",))
    if logits is None or embedding is None:
        return
    problems = []
    if logits.shape != (3, 10):
        problems.append(f"logits: expected shape (3, 10) for a batch of 3 images, got {logits.shape}")
    if embedding.ndim != 2 or embedding.shape[0] != 3:
        problems.append(f"embedding: expected shape (3, D) for a batch of 3 images, got {embedding.shape}")
    if not (np.isfinite(logits).all() and np.isfinite(embedding).all()):
        problems.append("the outputs contain NaN or inf")
    trainable = reply.get("trainable") or 0
    if trainable == 0:
        problems.append("CNN has no trainable parameters")
    if cfg_item.max_params and trainable > cfg_item.max_params:
        problems.append(f"CNN has {trainable:,} trainable parameters; the budget is {cfg_item.max_params:,}")
    if problems:
        item.set(0, "CNN interface problems:\n- " + "\n- ".join(problems), trainable_params=trainable)
    else:
        item.set(1.0, f"CNN()(x) with x of shape (3, 1, 28, 28) returns logits (3, 10) and embedding "
                      f"{embedding.shape}; {trainable:,} trainable parameters.",
                 trainable_params=trainable, embedding_dim=int(embedding.shape[1]))


def score_trained(item: ItemResult, credit: float, reply: dict, text: str, hint: str, **metrics) -> None:
    """A trained item: the measurement, and when short of full credit a hint and what the code printed."""
    if credit < 1:
        text = with_printed(f"{text} {hint}", reply["_printed"])
    item.set(credit, text, trainable_params=reply.get("trainable"), losses=reply.get("losses"), **metrics)


def shift_images(images: np.ndarray, rng: np.random.Generator, max_shift: int = 1) -> np.ndarray:
    """Each image moved by a secret random (dy, dx) in {-1, 0, 1}^2 minus (0, 0), zeros shifted in: a shift a
    trained CNN mostly shrugs off, but an exact-match memorizer does not."""
    shifts = [(dy, dx) for dy in range(-max_shift, max_shift + 1) for dx in range(-max_shift, max_shift + 1)
              if (dy, dx) != (0, 0)]
    choice = rng.integers(len(shifts), size=len(images))
    padded = np.pad(images, ((0, 0), (max_shift, max_shift), (max_shift, max_shift)))
    out = np.empty_like(images)
    h, w = images.shape[1:]
    for k, (dy, dx) in enumerate(shifts):
        sel = choice == k
        out[sel] = padded[sel, max_shift - dy:max_shift - dy + h, max_shift - dx:max_shift - dx + w]
    return out


def training(item) -> dict:
    t = item.train
    return {"steps": int(t["steps"]), "batch_size": int(t.get("batch_size", 64)), "lr": float(t.get("lr", 1e-3)),
            "optimizer": str(t.get("optimizer", "adam"))}


# ============================================================ super-resolution
SR_PROBE = (2, 1, 17, 23)


def group_sr(run: Run) -> None:
    r, cfg = run.results, run.config
    if run.wants("sr.interface"):
        probe = np.random.default_rng(2).random(SR_PROBE, dtype=np.float32)
        reply = run.call("sr_interface", ("sr.interface",), input=run.session.write_input("sr_probe", probe),
                         factors=[2, 3, 4])
        if reply is not None:
            score_sr_interface(run, reply)
    if run.wants("sr.psnr"):
        item = cfg.item("sr.psnr")
        factor = item.upscale_factor
        train, test = data.load_bsds("train", factor), data.load_bsds("test", factor)
        reply = run.call("sr_train", ("sr.psnr",), device=run.session.limits.use_cuda and "cuda" or "cpu",
                         upscale_factor=factor, train_lr=run.session.write_input("sr_train_lr", train.lr),
                         train_hr=run.session.write_input("sr_train_hr", train.hr),
                         test_lr=run.session.write_input("sr_test_lr", test.lr), pretrain_eval=8,
                         max_params=item.max_params, seed=run.seed, patch=int(item.train.get("patch", 0)),
                         schedule=str(item.train.get("schedule", "none")), **training(item))
        if reply is None:
            return
        outputs = run.array(reply.get("outputs"), ("sr.psnr",), shape=test.hr.shape, dtype=np.float32)
        before = run.array(reply.get("pretrain_outputs"), ("sr.psnr",), shape=test.hr[:8].shape, dtype=np.float32)
        if outputs is None or before is None:
            return
        bad = int((~np.isfinite(outputs)).reshape(len(outputs), -1).any(axis=1).sum())
        if bad:
            r["sr.psnr"].set(0, f"{bad} of {len(outputs)} output images contain NaN or inf values after training; "
                                f"expected finite values in [0, 1]. Check the last layers of Net.", nan_images=bad)
            return
        psnr = float(metrics.psnr_per_image(outputs, test.hr).mean())
        bicubic_images = test.bicubic
        bicubic = float(metrics.psnr_per_image(bicubic_images, test.hr).mean())
        untrained = float(metrics.psnr_per_image(before, test.hr[:8]).mean())
        untrained_bicubic = float(metrics.psnr_per_image(bicubic_images[:8], test.hr[:8]).mean())
        t = item.threshold
        score_trained(r["sr.psnr"], t.credit(psnr), reply,
                      f"Mean PSNR on the {len(outputs)} BSDS300 test images (x{factor}, Y channel) after "
                      f"{item.train['steps']} training steps: {psnr:.2f} dB (bicubic upsampling: {bicubic:.2f} dB; "
                      f"no credit at or below {t.zero_at:.2f} dB, full credit at {t.full_at:.2f} dB).",
                      "Expected the practical's ESPCN: conv 5x5->64, 3x3->64, 3x3->32 with ReLUs, 3x3->r*r, "
                      "then your PixelShuffle; no activation after the last conv.",
                      psnr=round(psnr, 4), bicubic_psnr=round(bicubic, 4), untrained_psnr=round(untrained, 3))
        run.images.extend(sr_crops(bicubic_images, outputs, test.hr, test.names))
        if untrained > untrained_bicubic + 0.5:
            run.flags.append(f"sr.psnr: {untrained:.2f} dB before any training (bicubic {untrained_bicubic:.2f} dB): "
                             f"pretrained or hard-coded weights?")


def score_sr_interface(run: Run, reply: dict) -> None:
    item, problems, ok = run.results["sr.interface"], [], 0
    factors = reply.get("factors") or {}
    for factor in (2, 3, 4):
        entry = factors.get(str(factor)) or {"error": "no result"}
        want = (SR_PROBE[0], 1, SR_PROBE[2] * factor, SR_PROBE[3] * factor)
        if "error" in entry:
            problems.append(f"Net({factor}): {entry['error']}")
            continue
        out = run.array(entry.get("output"), ("sr.interface",))
        if out is None:
            return
        if out.shape != want:
            problems.append(f"Net({factor}) on input {SR_PROBE}: expected output {want}, got {out.shape}")
        elif not np.isfinite(out).all():
            problems.append(f"Net({factor}) returns NaN or inf values (a freshly built Net should give finite ones)")
        elif not entry.get("trainable"):
            problems.append(f"Net({factor}) has no trainable parameters")
        else:
            ok += 1
    if problems:
        item.set(ok / 3, f"{ok} of 3 upscale factors correct. Expected vs got:\n- " + "\n- ".join(problems))
    else:
        item.set(1.0, f"Net(r) maps {SR_PROBE} to (2, 1, 17r, 23r) for r = 2, 3, 4.")


def sr_crops(bicubic: np.ndarray, student: np.ndarray, hr: np.ndarray, names, count: int = 3, side: int = 96):
    """Side-by-side centre crops bicubic | student | HR, as base64 PNGs for reports and summary pages."""
    from PIL import Image
    crops = []
    for k in range(min(count, len(hr))):
        c = (hr.shape[-1] - side) // 2
        strip = np.concatenate([np.clip(a[k, 0, c:c + side, c:c + side], 0, 1)
                                for a in (bicubic, student, hr)], axis=1)
        buffer = io.BytesIO()
        Image.fromarray((strip * 255).round().astype(np.uint8)).save(buffer, format="PNG")
        crops.append({"label": f"{names[k]}: bicubic | student | HR",
                      "png_base64": base64.b64encode(buffer.getvalue()).decode()})
    return crops


GROUPS = [
    ("pixel shuffle", ("pixel_shuffle.shapes", "pixel_shuffle.values", "pixel_shuffle.einops",
                       "pixel_shuffle.module", "pixel_unshuffle.values"), group_pixel_shuffle),
    ("MNIST CNN", ("cnn.interface", "cnn.accuracy"), group_cnn),
    ("super-resolution", ("sr.interface", "sr.psnr"), group_sr),
]
