"""Property tests of the pixel-shuffle checking logic itself (trusted side): the cases, the channel-order
diagnosis, and the reference solution the rubric is written against."""
from __future__ import annotations

import importlib.util
import itertools
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from einops import rearrange
from hypothesis import given, settings
from hypothesis import strategies as st

from conftest import PATHS
from grader import cases, oracle
from grader.cases import CHECK_CASES, MODULE_CASES, SHUFFLE_CASES, UNSHUFFLE_CASES, grad_weight, make_case
from grader.checks.shuffle import channel_order_mistake, torch_answers
from grader.config import REPO_ROOT

PROPS = settings(max_examples=30, deadline=None)
RIGHT = ("c", "r1", "r2")
WRONG = [order for order in itertools.permutations(RIGHT) if order != RIGHT]


def _load_reference():
    spec = importlib.util.spec_from_file_location("reference_pixel_shuffle_under_test",
                                                  REPO_ROOT / "reference" / "pixel_shuffle.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


ref = _load_reference()


def torch_case(shape, transposed, seed):
    """make_case with the logical input as a torch tensor (the stored copy stays numpy, as sent)."""
    logical, stored = make_case(shape, transposed, seed)
    return torch.from_numpy(logical), stored


def shuffled(x: torch.Tensor, r: int, order) -> torch.Tensor:
    return rearrange(x, f"... ({' '.join(order)}) h w -> ... c (h r1) (w r2)", r1=r, r2=r)


def unshuffled(x: torch.Tensor, r: int, order) -> torch.Tensor:
    return rearrange(x, f"... c (h r1) (w r2) -> ... ({' '.join(order)}) h w", r1=r, r2=r)


def channels(shape, r):
    return shape[-3] // (r * r)


@st.composite
def shuffle_inputs(draw, min_c=1, max_c=4):
    lead = draw(st.lists(st.integers(1, 3), min_size=0, max_size=2))
    r = draw(st.integers(2, 4))
    c = draw(st.integers(min_c, max_c))
    h, w = draw(st.integers(1, 4)), draw(st.integers(1, 4))
    return (*lead, c * r * r, h, w), r


# ------------------------------------------------------------------ make_case
@PROPS
@given(shape_r=shuffle_inputs(), transposed=st.booleans(), seed=st.integers(0, 10_000))
def test_make_case_gives_distinct_values_and_the_stored_layout(shape_r, transposed, seed):
    shape, _ = shape_r
    logical, stored = torch_case(shape, transposed, seed)
    n = int(np.prod(shape))
    assert tuple(logical.shape) == shape
    # a permutation of 0..n-1: every element distinct, so any misplaced element shows
    assert np.array_equal(np.sort(logical.numpy().ravel()), np.arange(n, dtype=np.float32))
    assert isinstance(stored, np.ndarray) and stored.flags["C_CONTIGUOUS"]
    if transposed:
        assert stored.shape == (*shape[:-2], shape[-1], shape[-2])
        # what the worker rebuilds (from_numpy(stored).transpose(-1, -2)) is the logical input, as a view
        view = torch.from_numpy(stored).transpose(-1, -2)
        assert torch.equal(view, logical)
        assert not view.is_contiguous() or shape[-1] == 1 or shape[-2] == 1
    else:
        assert np.array_equal(stored, logical.numpy())
    again, _ = torch_case(shape, transposed, seed)
    assert torch.equal(again, logical), "make_case must be deterministic for a seed"


@pytest.mark.parametrize("fn", sorted(CHECK_CASES))
def test_cached_torch_answers_equal_torch_on_every_case(fn):
    """What the trusted side compares with (computed by grader/oracle.py, read from its cache) is exactly
    torch's F.pixel_shuffle / F.pixel_unshuffle, and for the module pixel_unshuffle(w) as the gradient."""
    answers = torch_answers(PATHS, fn)
    torch_fn = F.pixel_unshuffle if fn == "pixel_unshuffle" else F.pixel_shuffle
    for k, (shape, r, transposed) in enumerate(CHECK_CASES[fn]):
        x, _ = torch_case(shape, transposed, seed=k)
        assert np.array_equal(answers[f"out{k}"], torch_fn(x, r).numpy()), (fn, k)
        if fn == "PixelShuffle":
            x.requires_grad_(True)
            w = torch.from_numpy(grad_weight(answers[f"out{k}"].shape, k))
            (torch.nn.PixelShuffle(r)(x) * w).sum().backward()
            assert np.array_equal(answers[f"grad{k}"], x.grad.numpy()), (fn, k)
    assert sorted(answers) == sorted([f"out{k}" for k in range(len(CHECK_CASES[fn]))]
                                     + ([f"grad{k}" for k in range(len(CHECK_CASES[fn]))] if fn == "PixelShuffle" else []))


def test_the_answer_cache_key_covers_the_case_generators(tmp_path, monkeypatch):
    """Changing a case's input generator (here grad_weight's seed) must change the cache folder, or a warm
    cache would pair new inputs with stale torch answers and fail every correct PixelShuffle."""
    before = oracle.cache_key()
    source = Path(cases.__file__).read_text()
    assert "default_rng(100 + k)" in source
    edited = tmp_path / "cases.py"
    edited.write_text(source.replace("default_rng(100 + k)", "default_rng(101 + k)"))
    monkeypatch.setattr(cases, "__file__", str(edited))
    oracle.cache_key.cache_clear()
    try:
        assert oracle.cache_key() != before
    finally:
        monkeypatch.undo()
        oracle.cache_key.cache_clear()
    assert oracle.cache_key() == before


def test_make_case_seeds_give_different_cases():
    a, _ = torch_case((2, 12, 3, 5), False, 0)
    b, _ = torch_case((2, 12, 3, 5), False, 1)
    assert not torch.equal(a, b)


# ------------------------------------------------------------------ channel_order_mistake
@PROPS
@given(shape_r=shuffle_inputs(min_c=2), seed=st.integers(0, 10_000))
def test_every_wrong_channel_order_is_named(shape_r, seed):
    shape, r = shape_r
    x, _ = torch_case(shape, False, seed)
    for order in WRONG:
        out = shuffled(x, r, order).numpy()
        hint = channel_order_mistake(out, x, r)
        assert hint is not None, f"order {order} not recognised for shape {shape}, r={r}"
        assert f"split as ({' '.join(order)})" in hint, (order, hint)
        assert "(c r1 r2)" in hint


@PROPS
@given(shape_r=shuffle_inputs(min_c=2), seed=st.integers(0, 10_000))
def test_right_order_and_unrelated_mistakes_get_no_channel_hint(shape_r, seed):
    shape, r = shape_r
    x, _ = torch_case(shape, False, seed)
    right = F.pixel_shuffle(x, r).numpy()
    assert np.array_equal(shuffled(x, r, RIGHT).numpy(), right)
    assert channel_order_mistake(right, x, r) is None
    assert channel_order_mistake(right + 1, x, r) is None          # wrong values, not a reordering
    if right.shape[-1] != right.shape[-2]:   # h/w swapped: a different shape, no reordering of channels
        assert channel_order_mistake(right.swapaxes(-1, -2).copy(), x, r) is None
    flipped = np.flip(right, axis=-1).copy()
    if not np.array_equal(flipped, right):
        assert channel_order_mistake(flipped, x, r) is None


@PROPS
@given(shape_r=shuffle_inputs(min_c=1, max_c=1), seed=st.integers(0, 10_000))
def test_with_one_channel_orders_keeping_r1_before_r2_are_indistinguishable(shape_r, seed):
    """C=1 cannot tell (c r1 r2), (r1 c r2) and (r1 r2 c) apart: why every graded case has C > 1."""
    shape, r = shape_r
    x, _ = torch_case(shape, False, seed)
    right = F.pixel_shuffle(x, r).numpy()
    for order in WRONG:
        out = shuffled(x, r, order).numpy()
        if order.index("r1") < order.index("r2"):
            # wrong code, right answer: undetectable (judge_case never even asks for a hint here)
            assert np.array_equal(out, right), order
        else:
            assert not np.array_equal(out, right), order      # swapping r1/r2 still shows with C=1
            assert channel_order_mistake(out, x, r) is not None


def test_every_case_has_more_than_one_channel_and_covers_the_promised_shapes():
    for shape, r, _ in SHUFFLE_CASES + MODULE_CASES:
        assert shape[-3] % (r * r) == 0, f"case {shape} is not a valid pixel_shuffle input for r={r}"
        assert channels(shape, r) > 1, f"case {shape}, r={r} has one output channel: wrong orders pass it"
    assert all(shape[-3] > 1 for shape, _, _ in UNSHUFFLE_CASES)
    # the cases cover what the student docstring promises: r in 2..4, H != W, leading dims, non-contiguous
    assert {r for _, r, _ in SHUFFLE_CASES} == {2, 3, 4}
    assert any(shape[-1] != shape[-2] for shape, _, _ in SHUFFLE_CASES)
    assert any(len(shape) > 4 for shape, _, _ in SHUFFLE_CASES)
    assert any(t for _, _, t in SHUFFLE_CASES) and any(t for _, _, t in UNSHUFFLE_CASES)


GRADED = [(fn, k, case) for fn, cases_ in CHECK_CASES.items() for k, case in enumerate(cases_)]


@pytest.mark.parametrize("fn,k,case", GRADED, ids=[f"{fn}-{k}" for fn, k, _ in GRADED])
def test_every_graded_case_fails_every_wrong_channel_order_and_names_it(fn, k, case):
    """A right implementation passes the case; each of the 5 wrong orders of (c r1 r2) fails it, and the
    failure message names the order the student used."""
    shape, r, transposed = case
    x, _ = torch_case(shape, transposed, seed=k)
    unshuffle = fn == "pixel_unshuffle"
    torch_fn, ours = (F.pixel_unshuffle, unshuffled) if unshuffle else (F.pixel_shuffle, shuffled)
    assert torch.equal(ours(x, r, RIGHT), torch_fn(x, r))
    for order in WRONG:
        out = ours(x, r, order)
        assert not torch.equal(out, torch_fn(x, r)), f"{fn} case {k} {shape} r={r} passes ({' '.join(order)})"
        hint = channel_order_mistake(out.numpy(), x, r, unshuffle=unshuffle)
        assert hint is not None and f"({' '.join(order)})" in hint, (order, hint)


# ------------------------------------------------------------------ the reference solution
@st.composite
def tensors(draw, unshuffle=False):
    shape, r = draw(shuffle_inputs())
    if unshuffle:   # (*, C, H*r, W*r)
        shape = (*shape[:-3], shape[-3] // (r * r), shape[-2] * r, shape[-1] * r)
    seed = draw(st.integers(0, 2**31 - 1))
    layout = draw(st.sampled_from(["contiguous", "transposed", "strided", "expanded"]))
    g = torch.Generator().manual_seed(seed)
    if layout == "transposed":      # a view with swapped strides in the last two dims
        x = torch.randn(*shape[:-2], shape[-1], shape[-2], generator=g).transpose(-1, -2)
    elif layout == "strided":       # every other column of a wider tensor
        x = torch.randn(*shape[:-1], 2 * shape[-1], generator=g)[..., ::2]
    elif layout == "expanded":      # a broadcast leading dim (stride 0)
        x = torch.randn(1, *shape, generator=g).expand(2, *shape)
    else:
        x = torch.randn(*shape, generator=g)
    dtype = draw(st.sampled_from([torch.float32, torch.float64]))
    return x.to(dtype), r


@PROPS
@given(case=tensors())
def test_reference_pixel_shuffle_equals_torch(case):
    x, r = case
    out = ref.pixel_shuffle(x, r)
    want = F.pixel_shuffle(x, r)
    assert out.shape == want.shape and out.dtype == x.dtype
    assert torch.equal(out, want)


@PROPS
@given(case=tensors(unshuffle=True))
def test_reference_pixel_unshuffle_equals_torch(case):
    x, r = case
    out = ref.pixel_unshuffle(x, r)
    want = F.pixel_unshuffle(x, r)
    assert out.shape == want.shape and out.dtype == x.dtype
    assert torch.equal(out, want)


@PROPS
@given(case=tensors())
def test_reference_round_trips(case):
    x, r = case
    assert torch.equal(ref.pixel_unshuffle(ref.pixel_shuffle(x, r), r), x)
    y = ref.pixel_shuffle(x, r)
    assert torch.equal(ref.pixel_shuffle(ref.pixel_unshuffle(y, r), r), y)


@PROPS
@given(case=tensors())
def test_reference_module_values_and_gradients_equal_nn_pixel_shuffle(case):
    x, r = case
    mine, theirs = x.detach().clone().requires_grad_(True), x.detach().clone().requires_grad_(True)
    out, want = ref.PixelShuffle(r)(mine), torch.nn.PixelShuffle(r)(theirs)
    assert torch.equal(out, want)
    weight = torch.randn(want.shape, generator=torch.Generator().manual_seed(7), dtype=x.dtype)
    (out * weight).sum().backward()
    (want * weight).sum().backward()
    assert torch.equal(mine.grad, theirs.grad)
    assert torch.equal(mine.grad, F.pixel_unshuffle(weight, r))   # what the grader's gradient check expects


@pytest.mark.parametrize("cases,fn,torch_fn", [(SHUFFLE_CASES, "pixel_shuffle", F.pixel_shuffle),
                                               (MODULE_CASES, "pixel_shuffle", F.pixel_shuffle),
                                               (UNSHUFFLE_CASES, "pixel_unshuffle", F.pixel_unshuffle)])
def test_reference_passes_every_graded_case(cases, fn, torch_fn):
    for k, (shape, r, transposed) in enumerate(cases):
        x, stored = torch_case(shape, transposed, seed=k)
        worker_view = torch.from_numpy(stored)
        if transposed:
            worker_view = worker_view.transpose(-1, -2)
        assert torch.equal(getattr(ref, fn)(worker_view, r), torch_fn(x, r)), (shape, r, transposed)
