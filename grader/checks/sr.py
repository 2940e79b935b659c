"""Super-resolution items: Net(r)'s output shapes, and PSNR on the BSDS300 test images after training.

The training worker returns the trained state (counted here, trained.py); a fresh worker rebuilds Net(r) from
it and gets LR test images only, returning its upscaled outputs; the HR images stay in this process, which
computes PSNR (grader/metrics.py) and the bicubic baseline that earns no credit.
"""
from __future__ import annotations

import base64
import io

import numpy as np

from .. import fingerprint, metrics
from ..cases import SR_FACTORS, SR_PROBE_SHAPE, sr_probe
from ..worker.hints import sr_shape_hint
from .evidence import judge_model_code
from .run import Run, score_trained, train_value, training
from .trained import send_state, trained_state

GROUP = "sr"
PSNR = "sr.psnr"
WEIGHT = 12


def prepare(config, data) -> None:
    for item in config.items:
        if item.id == PSNR:
            data.bsds("train", item.upscale_factor), data.bsds("test", item.upscale_factor)


def score(run: Run) -> None:
    if run.wants("sr_interface"):
        reply = run.call("sr_interface", input=run.session.write_input("sr_probe", sr_probe()),
                         factors=list(SR_FACTORS))
        if reply is not None:
            score_interface(run, reply)
    if run.wants("sr_train"):
        score_psnr(run)
    judge_model_code(run, GROUP)


def score_interface(run: Run, reply: dict) -> None:
    item, problems, ok = run.results["sr.interface"], [], 0
    factors = reply.get("factors") or {}
    b, _, h, w = SR_PROBE_SHAPE
    for factor in SR_FACTORS:
        entry = factors.get(str(factor)) or {"error": "no result"}
        want = (b, 1, h * factor, w * factor)
        if "error" in entry:
            problems.append(f"Net({factor}): {entry['error']}")
            continue
        out = run.array(entry.get("output"), "sr_interface")
        if out is None:
            return
        if out.shape != want:
            problems.append(f"Net({factor}) on input {SR_PROBE_SHAPE}: expected output {want}, got {out.shape}"
                            + sr_shape_hint(out.shape, SR_PROBE_SHAPE, factor))
        elif not np.isfinite(out).all():
            problems.append(f"Net({factor}) returns NaN or inf values (a freshly built Net should give finite ones)")
        elif not entry.get("trainable"):
            problems.append(f"Net({factor}) has no trainable parameters")
        else:
            ok += 1
    n = len(SR_FACTORS)
    if problems:
        item.set(ok / n, f"{ok} of {n} upscale factors correct. Expected vs got:\n- " + "\n- ".join(problems))
    else:
        item.set(1.0, f"Net(r) maps {SR_PROBE_SHAPE} to ({b}, 1, {h}r, {w}r) for r = "
                      f"{', '.join(map(str, SR_FACTORS))}.")


def score_psnr(run: Run) -> None:
    r = run.results
    item = run.config.item("sr.psnr")
    factor = item.upscale_factor
    train, test = run.data.bsds("train", factor), run.data.bsds("test", factor)
    reply = run.call("sr_train", device=run.device(), upscale_factor=factor,
                     train_lr=run.session.write_input("sr_train_lr", train.lr),
                     train_hr=run.session.write_input("sr_train_hr", train.hr),
                     max_params=item.max_params, seed=run.seed, patch=int(train_value(item, "patch")),
                     **training(item))
    state = trained_state(run, "sr_train", reply, f"Net({factor})", item) if reply is not None else None
    if state is None:
        return
    with run.fresh_session() as fresh:
        answer = run.call("sr_train", task="sr_eval", session=fresh, device=run.device(), upscale_factor=factor,
                          state=send_state(fresh, state), test_lr=fresh.write_input("sr_test_lr", test.lr),
                          pretrain_eval=8, max_params=item.max_params, seed=run.seed)
        if answer is None:
            return
        outputs = run.array(answer.get("outputs"), "sr_train", shape=test.hr.shape, dtype=np.float32, session=fresh)
        before = run.array(answer.get("pretrain_outputs"), "sr_train", shape=test.hr[:8].shape, dtype=np.float32,
                           session=fresh)
    if outputs is None or before is None:
        return
    bad = int((~np.isfinite(outputs)).reshape(len(outputs), -1).any(axis=1).sum())
    if bad:
        r["sr.psnr"].set(0, f"{bad} of {len(outputs)} output images contain NaN or inf values after training; "
                            f"expected finite values in [0, 1]. Check the last layers of Net.", nan_images=bad)
        return
    psnr = float(metrics.psnr_per_image(outputs, test.hr).mean())
    bicubic = float(metrics.psnr_per_image(test.bicubic, test.hr).mean())
    untrained = float(metrics.psnr_per_image(before, test.hr[:8]).mean())
    untrained_bicubic = float(metrics.psnr_per_image(test.bicubic[:8], test.hr[:8]).mean())
    t = item.threshold
    score_trained(r["sr.psnr"], t.credit(psnr), reply,
                  f"Mean PSNR on the {len(outputs)} BSDS300 test images (x{factor}, Y channel) after "
                  f"{item.train['steps']} training steps: {psnr:.2f} dB (bicubic upsampling: {bicubic:.2f} dB; "
                  f"no credit at or below {t.zero_at:.2f} dB, full credit at {t.full_at:.2f} dB).",
                  "Expected the practical's ESPCN: conv 5x5->64, 3x3->64, 3x3->32 with ReLUs, 3x3->r*r, "
                  "then your PixelShuffle; no activation after the last conv.",
                  psnr=round(psnr, 4), bicubic_psnr=round(bicubic, 4), untrained_psnr=round(untrained, 3),
                  params_and_buffers=reply["params_and_buffers"], fingerprint=fingerprint.sr(outputs))
    run.images.extend(sr_crops(test.bicubic, outputs, test.hr, test.names))
    if untrained > untrained_bicubic + 0.5:
        run.flags.append(f"sr.psnr: {untrained:.2f} dB before any training (bicubic {untrained_bicubic:.2f} dB): "
                         f"pretrained or hard-coded weights?")


def sr_crops(bicubic: np.ndarray, student: np.ndarray, hr: np.ndarray, names, count: int = 3, side: int = 96):
    """Side-by-side centre crops bicubic | student | HR, as base64 PNGs for reports and summary pages; the
    label gives the PSNR of the whole image for bicubic and for the student."""
    from PIL import Image
    crops = []
    count = min(count, len(hr))
    psnr_bicubic, psnr_student = (metrics.psnr_per_image(a[:count], hr[:count]) for a in (bicubic, student))
    for k in range(count):
        c = (hr.shape[-1] - side) // 2
        strip = np.concatenate([np.clip(a[k, 0, c:c + side, c:c + side], 0, 1)
                                for a in (bicubic, student, hr)], axis=1)
        buffer = io.BytesIO()
        Image.fromarray((strip * 255).round().astype(np.uint8)).save(buffer, format="PNG")
        crops.append({"label": f"{names[k]}: bicubic {psnr_bicubic[k]:.2f} dB | student {psnr_student[k]:.2f} dB | HR "
                               f"(PSNR of the whole image)",
                      "png_base64": base64.b64encode(buffer.getvalue()).decode()})
    return crops
