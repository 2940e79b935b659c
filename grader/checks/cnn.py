"""MNIST CNN items: the (logits, embedding) interface, and test accuracy after the grader's own training.

The score is the accuracy on the public test set, as calibrated. What a student cannot possess is a
held-out set: the last sixth of MNIST's training images (10,000 of 60,000) never reach a worker with their
labels; the training worker gets the first five sixths. The trained CNN (rebuilt in a fresh worker from
its state, trained.py) predicts the test images and the held-out ones mixed in a secret order. An honest model
does about as well on both (the same distribution); a model that knows the public test set does not, and is
then scored on the held-out images. A fresh untrained CNN, and one with the trained buffers but untrained
parameters, must be at chance on held-out images: otherwise the knowledge came from somewhere else than the
grader's training. Labels never leave this process, which computes every accuracy.
"""
from __future__ import annotations

import numpy as np

from .. import fingerprint, metrics, pictures
from ..cases import CNN_PROBE_SHAPE, cnn_probe
from .evidence import judge_model_code
from .run import Run, score_trained, training
from .trained import send_state, trained_state

GROUP = "cnn"
ACCURACY = "cnn.accuracy"
WEIGHT = 8
HELD_OUT_FRACTION = 6      # the last 1/6 of the training images: the classic 50,000 / 10,000 split
HELD_OUT = 5000            # of those, the first half is predicted (its accuracy's std: about 0.003)
PROBE = 1000               # held-out images the untrained and buffers-only CNNs are tried on
KNOWS_ALREADY = 0.5        # chance is 0.1; an untrained or buffers-only CNN above this did not learn it here


def prepare(config, data) -> None:
    if any(run_item.id == ACCURACY for run_item in config.items):
        data.mnist()


def score(run: Run) -> None:
    if run.wants("cnn_interface"):
        reply = run.call("cnn_interface", input=run.session.write_input("cnn_probe", cnn_probe()))
        if reply is not None:
            score_interface(run, reply)
    if run.wants("cnn_train"):
        score_accuracy(run)
    judge_model_code(run, GROUP)


def score_interface(run: Run, reply: dict) -> None:
    item, cfg_item = run.results["cnn.interface"], run.config.item("cnn.interface")
    batch = CNN_PROBE_SHAPE[0]
    if "shape_error" in reply:
        item.set(0, reply["shape_error"])
        return
    logits = run.array(reply.get("logits"), "cnn_interface")
    embedding = run.array(reply.get("embedding"), "cnn_interface")
    if logits is None or embedding is None:
        return
    problems = []
    if logits.shape != (batch, 10):
        problems.append(f"logits: expected shape ({batch}, 10) for a batch of {batch} images, got {logits.shape}")
    if embedding.ndim != 2 or embedding.shape[0] != batch:
        problems.append(f"embedding: expected shape ({batch}, D) for a batch of {batch} images, got {embedding.shape}")
    if not (np.isfinite(logits).all() and np.isfinite(embedding).all()):
        problems.append("the outputs contain NaN or inf")
    trainable, size = reply.get("trainable") or 0, reply.get("size") or 0
    if trainable == 0:
        problems.append("CNN has no trainable parameters")
    if cfg_item.over_budget(size):
        problems.append(f"CNN has {size:,} parameters and buffers (trainable or frozen, all count); the budget is "
                        f"{cfg_item.max_params:,}")
    sizes = {"trainable_params": trainable, "params_and_buffers": size}
    if problems:
        item.set(0, "CNN interface problems:\n- " + "\n- ".join(problems), **sizes)
    else:
        item.set(1.0, f"CNN()(x) with x of shape {CNN_PROBE_SHAPE} returns logits ({batch}, 10) and embedding "
                      f"{embedding.shape}; {size:,} parameters and buffers.",
                 embedding_dim=int(embedding.shape[1]), **sizes)


def split_held_out(mnist):
    n = len(mnist.train_x) // HELD_OUT_FRACTION
    return (mnist.train_x[:-n], mnist.train_y[:-n]), (mnist.train_x[-n:], mnist.train_y[-n:])


def score_accuracy(run: Run) -> None:
    item, result = run.config.item(ACCURACY), run.results[ACCURACY]
    mnist = run.data.mnist()
    (train_x, train_y), (held_x, held_y) = split_held_out(mnist)
    held_x, held_y = held_x[:HELD_OUT], held_y[:HELD_OUT]   # never sent with labels: no need to hide which
    reply = run.call("cnn_train", device=run.device(), train_x=run.session.write_input("mnist_train_x", train_x),
                     train_y=run.session.write_input("mnist_train_y", train_y), max_params=item.max_params,
                     seed=run.seed, **training(item))
    state = trained_state(run, "cnn_train", reply, "CNN()", item) if reply is not None else None
    if state is None:
        return
    n_test, probe = len(mnist.test_x), held_x[:PROBE]
    order = run.secret.permutation(n_test + len(held_x))   # test and held-out images, mixed secretly
    with run.fresh_session() as fresh:
        answer = run.call("cnn_train", task="cnn_eval", session=fresh, device=run.device(),
                          state=send_state(fresh, state), max_params=item.max_params, seed=run.seed,
                          eval_x=fresh.write_input("mnist_eval_x", np.concatenate([mnist.test_x, held_x])[order]),
                          probe_x=fresh.write_input("mnist_probe_x", probe),
                          embed_x=fresh.write_input("mnist_embed_x", mnist.test_x[:pictures.EMBEDDED]),
                          embed_dims=pictures.PCA_DIMS)
        if answer is None:
            return
        predictions = run.array(answer.get("predictions"), "cnn_train", shape=order.shape, session=fresh)
        untrained = run.array(answer.get("untrained"), "cnn_train", shape=(len(probe),), session=fresh)
        buffers_only = None if answer.get("buffers_only") is None else \
            run.array(answer["buffers_only"], "cnn_train", shape=(len(probe),), session=fresh)
        drawn = picture_arrays(run, answer, fresh)
    if predictions is None or untrained is None or (answer.get("buffers_only") is not None and buffers_only is None) \
            or drawn is None:
        return
    in_order = np.empty_like(predictions)
    in_order[order] = predictions
    clean, held = metrics.accuracy(in_order[:n_test], mnist.test_y), metrics.accuracy(in_order[n_test:], held_y)
    measured = {"accuracy": round(clean, 5), "accuracy_heldout": round(held, 5), "gap": round(clean - held, 5),
                "untrained_accuracy": round(metrics.accuracy(untrained, held_y[:PROBE]), 4),
                "params_and_buffers": reply["params_and_buffers"]}
    if buffers_only is not None:
        measured["buffers_only_accuracy"] = round(metrics.accuracy(buffers_only, held_y[:PROBE]), 4)
    measured["fingerprint"] = fingerprint.mnist(in_order[:n_test], mnist.test_y)   # similarity (grader/pages)
    measured.update(picture_metrics(drawn, in_order[:n_test], mnist.test_y))
    judge(run, result, item, reply, measured, len(held_x))


def picture_arrays(run: Run, answer: dict, fresh) -> dict | None:
    """The embedding of the EMBEDDED test images and the first conv's weight (each None where the model has
    none), checked; None (cnn.accuracy then an error, as for any malformed reply) for arrays of another shape."""
    arrays = {key: None if answer.get(key) is None else run.array(answer[key], "cnn_train", session=fresh)
              for key in ("embedding", "first_conv")}
    if any(arrays[key] is None and answer.get(key) is not None for key in arrays):
        return None
    embedding, weight, problem = arrays["embedding"], arrays["first_conv"], None
    if embedding is not None and (embedding.ndim != 2 or embedding.shape[0] != pictures.EMBEDDED or
            not 0 < embedding.shape[1] <= pictures.PCA_DIMS or embedding.dtype != np.float32):
        problem = (f"embedding: expected float32 of shape ({pictures.EMBEDDED}, D), D at most "
                   f"{pictures.PCA_DIMS}, got {embedding.dtype} {embedding.shape}")
    elif weight is not None and (weight.ndim != 4 or weight.dtype != np.float32):
        problem = f"first_conv: expected float32 of shape (out, in, kh, kw), got {weight.dtype} {weight.shape}"
    if problem:
        run.fail(run.owners("cnn_train"), f"the worker's reply is malformed: {problem}")
        return None
    return arrays


def picture_metrics(drawn: dict, test_predictions: np.ndarray, test_labels: np.ndarray) -> dict:
    """What the report keeps for its pictures (grader/pictures.py): small, and only what can be drawn."""
    kept = {"confusion": pictures.confusion(test_predictions, test_labels)}
    embedding, weight = drawn["embedding"], drawn["first_conv"]
    if embedding is not None and np.isfinite(embedding).all():
        kept["embedding_sample"] = pictures.embedding_sample(embedding, test_labels[:pictures.EMBEDDED])
    if weight is not None and weight.size <= pictures.MAX_FILTER_VALUES and np.isfinite(weight).all():
        kept["first_conv"] = pictures.pack(pictures.scaled(weight))
    return kept


def judge(run: Run, result, item, reply: dict, m: dict, n_held: int) -> None:
    cfg, t = run.config, item.threshold
    knew = [(what, m[key]) for key, what in (("untrained_accuracy", "a freshly built, untrained CNN()"),
                                             ("buffers_only_accuracy", "your CNN with the buffers it had after "
                                              "training but untrained parameters")) if m.get(key, 0) > KNOWS_ALREADY]
    if knew:
        what, accuracy = knew[0]
        result.set(0, f"{what[0].upper() + what[1:]} already classifies {accuracy:.0%} of held-out images (chance "
                      f"is about 10%): its predictions do not come from the grader's training (pretrained or "
                      f"hard-coded weights?), so this item earns no credit.", evidence="untrained check",
                   losses=reply.get("losses"), **m)
        run.flags.append(f"cnn.accuracy: {what} classifies {accuracy:.0%} of held-out images: pretrained weights?")
        return
    memorized = m["gap"] > cfg.suspicious_gap
    scored = m["accuracy_heldout"] if memorized else m["accuracy"]
    text = (f"Test accuracy after {item.train['steps']} training steps: {m['accuracy']:.4f} (full credit at "
            f"{t.full_at:.4f}, none at or below {t.zero_at:.4f}; on {n_held:,} held-out MNIST images the grader "
            f"kept back: {m['accuracy_heldout']:.4f}).")
    if memorized:
        text += (f" That is {m['gap']:.3f} better on the public test set than on images it never saw (honest "
                 f"models differ by less than {cfg.suspicious_gap}), so it is scored on the held-out images.")
        run.flags.append(f"cnn.accuracy: test accuracy {m['accuracy']:.4f} but {m['accuracy_heldout']:.4f} on "
                         f"held-out images (gap {m['gap']:.3f} > {cfg.suspicious_gap}): possibly memorized test images")
    score_trained(result, t.credit(scored), reply, text,
                  "Expected a CNN like the practical's: two conv+ReLU+MaxPool blocks and a linear layer; "
                  "check the layer sizes, the ReLUs, and that logits are raw scores (no softmax).",
                  evidence="held-out set" if memorized else "test set", **m)
    if m["params_and_buffers"] > cfg.suspicious_params:
        run.flags.append(f"cnn: {m['params_and_buffers']:,} parameters and buffers (> {cfg.suspicious_params:,})")
