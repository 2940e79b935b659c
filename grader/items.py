"""The rubric items the grader knows: one declaration each, from which everything else is derived.

grading.yaml says what an item is worth (points, budgets, thresholds, visibility); this registry says what
it *is*: the group that scores it (one fresh worker per group, `grader/checks/<group>.py`), the student
file it needs, the worker call whose reply it is scored from, and for a trained item the metric its
calibrated thresholds apply to.

To add an item: declare it here, give it points in grading.yaml, and score it in its group's module (README,
"Adding a rubric item"). Pages, formats, calibration and similarity ask this registry, never spell an id.

>>> SPECS["sr.psnr"].trained, SPECS["sr.psnr"].file
(True, 'model.py')
>>> items_of("cnn")
('cnn.interface', 'cnn.accuracy')
"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ItemSpec:
    id: str          # stable: reports, gradebooks and LMS exports are keyed by it
    group: str       # the module of grader/checks/ that scores it
    file: str        # the student file it needs; without it the item is an error, nothing runs
    evidence: str    # the worker call it is scored from; items sharing one fail together when it fails
    metric: str | None = None   # trained items: the report metric that zero_at / full_at apply to
    baseline: str = ""          # trained items: what zero_at is measured on when calibrating, in words
    # how calibrate measures that baseline, one of: a metric the item records next to `metric` on the same run
    # (the bicubic PSNR), or the same item graded, same budget, on a submission under reference/ (a linear model)
    baseline_metric: str = ""
    baseline_submission: str = ""
    # trained items, for every page and format that shows the metric (ask these; never spell an id there)
    label: str = ""        # short: a leaderboard column, a chart legend ("MNIST accuracy")
    title: str = ""        # long: a histogram's title ("MNIST test accuracy")
    unit: str = ""         # after the value ("dB"); "" for a fraction
    digits: int = 4        # decimals shown
    model: str = ""        # what was trained, in words (a training curve's name)
    signal: str = ""       # the similarity signal its fingerprint metric feeds (grader/similarity/behaviour.py)
    images: bool = False   # the report's images (the SR crops) come from this item: shown only when it is
    upscaled: bool = False  # trains on BSDS300 at the item's upscale_factor (the data `data download` prepares)
    pictures: bool = False  # its metrics carry the trained CNN's pictures (t-SNE sample, filters, confusion)

    @property
    def trained(self) -> bool:
        return self.metric is not None

    def shown(self, value: float) -> str:
        """The metric's value as every page and format prints it: "0.9812", "27.48 dB"."""
        return f"{value:.{self.digits}f}" + (f" {self.unit}" if self.unit else "")


ITEMS = (
    ItemSpec("pixel_shuffle.shapes", "shuffle", "pixel_shuffle.py", "pixel_shuffle"),
    ItemSpec("pixel_shuffle.values", "shuffle", "pixel_shuffle.py", "pixel_shuffle"),
    ItemSpec("pixel_shuffle.einops", "shuffle", "pixel_shuffle.py", "pixel_shuffle"),
    ItemSpec("pixel_shuffle.module", "shuffle", "pixel_shuffle.py", "PixelShuffle"),
    ItemSpec("pixel_unshuffle.values", "shuffle", "pixel_shuffle.py", "pixel_unshuffle"),
    ItemSpec("cnn.interface", "cnn", "model.py", "cnn_interface"),
    ItemSpec("cnn.accuracy", "cnn", "model.py", "cnn_train", metric="accuracy",
             baseline="linear softmax classifier, same budget", baseline_submission="baseline_linear",
             label="MNIST accuracy", title="MNIST test accuracy", model="MNIST CNN", signal="mnist", pictures=True),
    ItemSpec("sr.interface", "sr", "model.py", "sr_interface"),
    ItemSpec("sr.psnr", "sr", "model.py", "sr_train", metric="psnr", baseline="bicubic upsampling",
             baseline_metric="bicubic_psnr", label="SR PSNR", title="Mean PSNR on BSDS300 test", unit="dB",
             digits=2, model="super-resolution Net", signal="sr", images=True, upscaled=True),
)
SPECS = {spec.id: spec for spec in ITEMS}
ITEM_IDS = tuple(SPECS)
TRAINED_IDS = tuple(spec.id for spec in ITEMS if spec.trained)
GROUPS = tuple(dict.fromkeys(spec.group for spec in ITEMS))   # in rubric order: shuffle, cnn, sr
SUBMISSION_FILES = tuple(sorted({spec.file for spec in ITEMS}))
TRAINED = tuple(spec for spec in ITEMS if spec.trained)


def items_of(group: str) -> tuple[str, ...]:
    return tuple(spec.id for spec in ITEMS if spec.group == group)


def owners_of(evidence: str) -> tuple[str, ...]:
    """The items scored from one worker call."""
    owners = tuple(spec.id for spec in ITEMS if spec.evidence == evidence)
    if not owners:
        raise KeyError(f"no rubric item is scored from the worker call {evidence!r} (see grader/items.py)")
    return owners


if len(ITEM_IDS) != len(ITEMS):
    raise ImportError("grader/items.py: an item id is declared twice")
for _spec in ITEMS:
    if _spec.trained and bool(_spec.baseline_metric) == bool(_spec.baseline_submission):
        raise ImportError(f"grader/items.py: trained item {_spec.id} needs one of baseline_metric or "
                          f"baseline_submission (how calibrate measures zero_at)")
    if _spec.trained and not (_spec.label and _spec.title and _spec.model):
        raise ImportError(f"grader/items.py: trained item {_spec.id} needs a label, a title and a model: the "
                          f"pages and formats show it with them")
