"""rnnkit.ops.rnn_forward / rnn_backward against the float64 reference (tests/reference/rnn_cells.py).

Agreement is measured by reference.relative_error: max |actual - expected| / max |expected| over the whole array.
Forward within 1e-5, gradients within 1e-4 (reference gradients: float64 central differences of the reference).
"""
import numpy as np
import pytest

from rnnkit import ops
from tests.reference import rnn_cells as reference

FORWARD_TOL, GRADIENT_TOL = 1e-5, 1e-4


def make_problem(cell, batch=2, steps=4, inputs=3, units=3, *, seed=0, use_bias=True, peephole=False,
                 reset_after=True, initial_state=False, mask=None, dropout=False):
    rng = np.random.default_rng(seed)
    gates = reference.GATES[cell]
    p = {
        "x": rng.normal(size=(batch, steps, inputs)).astype(np.float32),
        "kernel": (rng.normal(size=(inputs, gates * units)) * 0.5).astype(np.float32),
        "recurrent_kernel": (rng.normal(size=(units, gates * units)) * 0.5).astype(np.float32),
        "bias": None,
        "peephole": None,
        "initial_state": None,
        "mask": mask,
        "input_dropout_mask": None,
        "recurrent_dropout_mask": None,
    }
    if use_bias:
        shape = (2, gates * units) if (cell == "gru" and reset_after) else (gates * units,)
        p["bias"] = (rng.normal(size=shape) * 0.3).astype(np.float32)
    if peephole:
        p["peephole"] = (rng.normal(size=(3, units)) * 0.5).astype(np.float32)
    if initial_state:
        p["initial_state"] = [rng.normal(size=(batch, units)).astype(np.float32)
                              for _ in range(2 if cell == "lstm" else 1)]
    if dropout:
        p["input_dropout_mask"] = (rng.random((batch, inputs)) > 0.3).astype(np.float32) / 0.7
        p["recurrent_dropout_mask"] = (rng.random((batch, units)) > 0.3).astype(np.float32) / 0.7
    return p


def run_core(cell, p, training=False, **options):
    return ops.rnn_forward(cell, p["x"], p["kernel"], p["recurrent_kernel"], p["bias"], peephole=p["peephole"],
                           initial_state=p["initial_state"], mask=p["mask"],
                           input_dropout_mask=p["input_dropout_mask"],
                           recurrent_dropout_mask=p["recurrent_dropout_mask"], training=training, **options)


def run_reference(cell, p, state_offset=None, **options):
    weights = {k: p[k] for k in ("kernel", "recurrent_kernel", "bias", "peephole")}
    return reference.forward(cell, p["x"], weights, initial_state=p["initial_state"], mask=p["mask"],
                             input_dropout_mask=p["input_dropout_mask"],
                             recurrent_dropout_mask=p["recurrent_dropout_mask"], state_offset=state_offset, **options)


def check_forward(cell, p, **options):
    got = run_core(cell, p, **options)
    outputs, last, states = run_reference(cell, p, **options)
    assert reference.relative_error(got.outputs, outputs) < FORWARD_TOL
    assert reference.relative_error(got.last_output, last) < FORWARD_TOL
    assert len(got.states) == len(states)
    for a, e in zip(got.states, states):
        assert reference.relative_error(a, e) < FORWARD_TOL
    assert got.cache is None


def check_gradients(cell, p, seed=1, tolerance=GRADIENT_TOL, **options):
    """Loss = Σ outputs·P + Σ last·Q + Σ states·S; core BPTT vs float64 differences of the reference."""
    rng = np.random.default_rng(seed)
    result = run_core(cell, p, training=True, **options)
    d_outputs = rng.normal(size=result.outputs.shape)
    d_last = rng.normal(size=result.last_output.shape)
    d_states = [rng.normal(size=s.shape) for s in result.states]
    grads = ops.rnn_backward(result.cache, d_outputs=d_outputs, d_last_output=d_last, d_states=d_states,
                             return_state_gradients=True)

    f64 = {k: (None if v is None else (np.array(v, np.float64) if not isinstance(v, list)
                                        else [np.array(s, np.float64) for s in v])) for k, v in p.items()}
    offset = np.zeros(result.outputs.shape)

    def loss():
        outputs, last, states = run_reference(cell, f64, state_offset=offset, **options)
        return float((outputs * d_outputs).sum() + (last * d_last).sum()
                     + sum((s * d).sum() for s, d in zip(states, d_states)))

    names = ["x", "kernel", "recurrent_kernel"] + [k for k in ("bias", "peephole") if f64[k] is not None]
    arrays = [f64[k] for k in names]
    if f64["initial_state"] is not None:
        names += [f"initial_state{k}" for k in range(len(f64["initial_state"]))]
        arrays += f64["initial_state"]
    expected = reference.numeric_gradients(loss, arrays + [offset])
    for name, e in zip(names, expected):
        got = grads[name] if not name.startswith("initial_state") else grads["initial_state"][int(name[-1])]
        assert got.shape == e.shape, name
        err = reference.relative_error(got, e)
        assert err < tolerance, f"{name}: relative error {err:.2e}"
    kept = np.ones(offset.shape[:2], bool) if p["mask"] is None else np.asarray(p["mask"], bool)
    if options.get("go_backwards"):
        kept = kept[:, ::-1]
    if kept.any():
        err = reference.relative_error(grads["state_gradients"][kept], expected[-1][kept])
        assert err < tolerance, f"state_gradients: relative error {err:.2e}"
    assert (grads["bias"] is None) == (p["bias"] is None)
    return grads


CASES = [
    ("simple_rnn", {}, {}),
    ("simple_rnn", {"use_bias": False}, {"activation": "relu"}),
    ("lstm", {}, {}),
    ("lstm", {"peephole": True}, {}),
    ("lstm", {"peephole": True, "use_bias": False}, {"activation": "linear", "recurrent_activation": "hard_sigmoid"}),
    ("gru", {}, {"reset_after": True}),
    ("gru", {"reset_after": False}, {"reset_after": False}),
    ("gru", {"use_bias": False}, {"reset_after": True, "recurrent_activation": "tanh", "activation": "sigmoid"}),
    ("gru", {"use_bias": False, "reset_after": False}, {"reset_after": False}),
    # The activations without SIMD kernels (the ISA kernels hand them to portable loops).
    ("simple_rnn", {}, {"activation": "softsign"}),
    ("lstm", {}, {"activation": "elu", "recurrent_activation": "softsign"}),
    ("gru", {"reset_after": False}, {"reset_after": False, "activation": "selu", "recurrent_activation": "softplus"}),
]
CASE_IDS = [f"{c}-{'-'.join(f'{k}={v}' for k, v in {**p, **o}.items()) or 'default'}" for c, p, o in CASES]


@pytest.mark.parametrize("cell,problem,options", CASES, ids=CASE_IDS)
@pytest.mark.parametrize("variant", ["plain", "initial_state", "go_backwards", "mask", "dropout", "all"])
def test_forward_and_gradients_match_reference(cell, problem, options, variant):
    mask = np.array([[True, False, True, True], [False, False, False, False]])  # interior gap; fully masked row
    extra = {
        "plain": ({}, {}),
        "initial_state": ({"initial_state": True}, {}),
        "go_backwards": ({}, {"go_backwards": True}),
        "mask": ({"mask": mask, "initial_state": True}, {}),
        "dropout": ({"dropout": True}, {}),
        "all": ({"mask": mask[::-1], "initial_state": True, "dropout": True}, {"go_backwards": True}),
    }[variant]
    p = make_problem(cell, **problem, **extra[0])
    opts = {**options, **extra[1]}
    check_forward(cell, p, **opts)
    check_gradients(cell, p, **opts)


@pytest.mark.parametrize("cell", ["simple_rnn", "lstm", "gru"])
@pytest.mark.parametrize("batch,steps,inputs,units", [(1, 1, 1, 1), (1, 3, 5, 17), (3, 2, 4, 33), (2, 5, 7, 1)])
def test_awkward_sizes(cell, batch, steps, inputs, units):
    p = make_problem(cell, batch, steps, inputs, units, seed=batch * 100 + units, initial_state=True)
    check_forward(cell, p)
    if units <= 17:  # finite differences over (17*4)^2 weights stay fast; H=33 is checked forward only
        check_gradients(cell, p)


@pytest.mark.parametrize("isa", ["generic", "avx2", "avx512"])
@pytest.mark.parametrize("cell,problem,options", [CASES[0], CASES[3], CASES[6]], ids=[CASE_IDS[0], CASE_IDS[3],
                                                                                     CASE_IDS[6]])
def test_every_isa_path(isa, cell, problem, options):
    from rnnkit import _core

    order = ["generic", "avx2", "avx512"]
    if order.index(isa) > order.index(_core.detected_isa()):
        pytest.skip(f"this CPU supports up to {_core.detected_isa()}, not {isa}")
    previous = _core.isa()
    _core.set_isa(isa)
    try:
        p = make_problem(cell, 3, 5, 4, 17, **problem, initial_state=True, mask=np.array(
            [[1, 1, 0, 1, 1], [0, 1, 1, 1, 0], [1, 1, 1, 1, 1]], bool))
        check_forward(cell, p, **options)
        check_gradients(cell, p, **options)
    finally:
        _core.set_isa(previous)


# The default activations' gate kernels take one vector of units, pairs or (AVX2) pairs of pairs at once, by
# how many of them the block's units fill (cells_isa_body.hpp, vector_kernel); each width, and a block with no
# whole vector, in inference and in training (which keeps the gates for BPTT). 43 rows: a forward kernel call
# takes up to 64 units' worth of rows (blocks.hpp, kMaxUnitsPerCall), so at 8-32 units the calls have several
# rows each and the last one fewer.
@pytest.mark.parametrize("isa", ["generic", "avx2", "avx512"])
@pytest.mark.parametrize("cell,problem,options", [CASES[0], CASES[2], CASES[3], CASES[5], CASES[6]],
                         ids=[CASE_IDS[i] for i in (0, 2, 3, 5, 6)])
@pytest.mark.parametrize("units", [8, 16, 24, 32, 64, 100])
def test_gate_kernel_vector_widths(isa, cell, problem, options, units):
    from rnnkit import _core

    order = ["generic", "avx2", "avx512"]
    if order.index(isa) > order.index(_core.detected_isa()):
        pytest.skip(f"this CPU supports up to {_core.detected_isa()}, not {isa}")
    batch = 43
    p = make_problem(cell, batch, 3, 5, units, **problem, seed=units, initial_state=True)
    p["recurrent_kernel"] *= np.float32(4 / units)  # pre-activations of order 1 at every width
    rng = np.random.default_rng(units)
    d_outputs = rng.normal(size=(batch, 3, units))
    d_last = rng.normal(size=(batch, units))
    d_states = [rng.normal(size=(batch, units)) for _ in range(2 if cell == "lstm" else 1)]
    previous = _core.isa()
    _core.set_isa(isa)
    try:
        check_forward(cell, p, **options)
        result = run_core(cell, p, training=True, **options)
        grads = ops.rnn_backward(result.cache, d_outputs=d_outputs, d_last_output=d_last, d_states=d_states)
    finally:
        _core.set_isa(previous)
    outputs, _, _ = run_reference(cell, p, **options)
    assert reference.relative_error(result.outputs, outputs) < FORWARD_TOL
    check_directional_gradient(cell, p, grads, d_outputs, d_last, d_states, **options)


def check_directional_gradient(cell, p, grads, d_outputs, d_last, d_states, **options):
    """<grad, V> against a float64 central difference of the reference along one random direction V of every
    input: two reference forwards, so it stays cheap at sizes where per-element differences would not."""
    names = ["x", "kernel", "recurrent_kernel"] + [k for k in ("bias", "peephole") if p[k] is not None]
    got = [grads[k] for k in names]
    base = [np.array(p[k], np.float64) for k in names]
    if p["initial_state"] is not None:
        names += [f"initial_state{k}" for k in range(len(p["initial_state"]))]
        got += grads["initial_state"]
        base += [np.array(s, np.float64) for s in p["initial_state"]]
    rng = np.random.default_rng(9)
    directions = [rng.normal(size=b.shape) for b in base]

    def loss(step):
        q = dict(p, **{k: b + step * d for k, b, d in zip(names, base, directions) if not k.startswith("initial")})
        if p["initial_state"] is not None:
            q["initial_state"] = [b + step * d for k, b, d in zip(names, base, directions) if k.startswith("initial")]
        outputs, last, states = run_reference(cell, q, **options)
        return float((outputs * d_outputs).sum() + (last * d_last).sum()
                     + sum((s * d).sum() for s, d in zip(states, d_states)))

    eps = 1e-4
    numeric = (loss(eps) - loss(-eps)) / (2 * eps)
    analytic = sum(float((np.asarray(g, np.float64) * d).sum()) for g, d in zip(got, directions))
    scale = sum(float(np.abs(np.asarray(g, np.float64) * d).sum()) for g, d in zip(got, directions))
    assert abs(numeric - analytic) <= GRADIENT_TOL * scale, (numeric, analytic, scale)


@pytest.mark.parametrize("cell", ["simple_rnn", "lstm", "gru"])
def test_exponential_activation_with_small_weights(cell):
    """e^x as SimpleRNN's activation or the gated cells' recurrent activation grows without bound at the weights of
    CASES; at a tenth of them the sequence stays finite and must match the reference."""
    p = make_problem(cell, 3, 6, 5, 7, initial_state=True)
    for name in ("kernel", "recurrent_kernel", "bias"):
        p[name] *= np.float32(0.1)
    options = {"activation" if cell == "simple_rnn" else "recurrent_activation": "exponential"}
    check_forward(cell, p, **options)
    check_gradients(cell, p, **options)


# Two ways the time loop shares work over 2 threads (sequence.cpp, plan_team): few rows -> each thread owns
# unit blocks of every row and the team meets every step; many rows and a long sequence -> each thread owns
# batch rows for the whole sequence and projects them through W step by step (with I > H the projection's
# operand is the wider one). Sizes chosen so each path is taken; H is not a multiple of any block width.
# "wide-kernel": W above 1 MiB (LSTM, GRU) with 64 rows a thread, projected step by step where W fits one core's L2
# and as one GEMM otherwise (sequence.cpp's input_products_per_step).
LAYOUTS = {"unit-blocks": (3, 4, 5, 300), "batch-rows": (24, 80, 5, 70), "batch-rows-wide-input": (24, 50, 90, 70),
           "wide-kernel": (128, 3, 300, 300)}


@pytest.mark.parametrize("isa", ["generic", "avx2", "avx512"])
@pytest.mark.parametrize("cell,problem,options", [CASES[0], CASES[2], CASES[3], CASES[5], CASES[6]],
                         ids=[CASE_IDS[i] for i in (0, 2, 3, 5, 6)])
@pytest.mark.parametrize("variant", ["plain", "mask-dropout-backwards"])
@pytest.mark.parametrize("layout", sorted(LAYOUTS))
def test_threaded_time_loop(isa, cell, problem, options, variant, layout):
    """Forward against the float64 reference, BPTT along a random direction, and 2 threads agreeing with 1 (to
    rounding: the microkernel's summation order depends on how many rows share its register tile, and 2 threads
    that split the rows sum each thread's weight gradients apart, so those agree to the scale of the whole sum)."""
    import rnnkit
    from rnnkit import _core

    order = ["generic", "avx2", "avx512"]
    if order.index(isa) > order.index(_core.detected_isa()):
        pytest.skip(f"this CPU supports up to {_core.detected_isa()}, not {isa}")
    B, T, I, H = LAYOUTS[layout]
    extra, opts = {}, dict(options)
    if variant != "plain":
        mask = np.random.default_rng(3).random((B, T)) > 0.3
        mask[0] = False
        extra = {"mask": mask, "dropout": True, "initial_state": True}
        opts["go_backwards"] = True
    p = make_problem(cell, B, T, I, H, **problem, **extra)
    p["recurrent_kernel"] *= np.float32(0.3)  # keeps the state away from saturation over 80 steps
    p["kernel"] *= np.float32(min(1.0, (90 / I) ** 0.5))  # x·W no larger than with 90 inputs, so float32 agrees
    rng = np.random.default_rng(4)
    d_outputs = rng.normal(size=(B, T, H)).astype(np.float32)
    d_last = rng.normal(size=(B, H)).astype(np.float32)
    d_states = [rng.normal(size=(B, H)).astype(np.float32) for _ in range(2 if cell == "lstm" else 1)]
    previous_isa, previous_threads = _core.isa(), rnnkit.get_num_threads()
    _core.set_isa(isa)
    runs = []
    try:
        for threads in (1, 2):
            rnnkit.set_num_threads(threads)
            result = run_core(cell, p, training=True, **opts)
            grads = ops.rnn_backward(result.cache, d_outputs=d_outputs, d_last_output=d_last, d_states=d_states)
            runs.append((result, grads))
            # Inference keeps no cache and, without a mask, updates c in place: same results as training.
            inference = run_core(cell, p, **opts)
            np.testing.assert_allclose(inference.outputs, result.outputs, rtol=1e-6, atol=1e-7)
            for a, b in zip(inference.states, result.states):
                np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7)
    finally:
        _core.set_isa(previous_isa)
        rnnkit.set_num_threads(previous_threads)
    (one, g1), (two, g2) = runs
    outputs, last, states = run_reference(cell, p, **opts)
    assert reference.relative_error(one.outputs, outputs) < FORWARD_TOL
    assert reference.relative_error(one.last_output, last) < FORWARD_TOL
    for a, e in zip(one.states, states):
        assert reference.relative_error(a, e) < FORWARD_TOL
    check_directional_gradient(cell, p, g1, d_outputs, d_last, d_states, **opts)
    # 300 inputs and units: a row's sums run ~1e-5 of their scale apart when its register tile holds other rows
    # (AVX2, rows 126-127 of 128 against 62-63 of 64).
    spread = 20.0 if I + H > 500 else 1.0
    np.testing.assert_allclose(two.outputs, one.outputs, rtol=1e-5, atol=1e-6 * spread)
    for key in ("x", "kernel", "recurrent_kernel", "bias", "peephole"):
        if g1.get(key) is not None:
            scale = float(np.abs(g1[key]).max())
            np.testing.assert_allclose(g2[key], g1[key], rtol=1e-5, atol=1e-5 * spread * max(scale, 1.0), err_msg=key)
    for a, b in zip(g2["initial_state"], g1["initial_state"]):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-5 * spread)


@pytest.mark.parametrize("cell", ["simple_rnn", "gru", "lstm"])
def test_backward_of_a_row_split_forward_on_any_thread_count(cell):
    """A forward on 2 threads splitting rows keeps each thread's rows as a cache of their own; its backward adds
    the slices' weight gradients in slice order whatever the backward's thread count: the same bits on 1 thread
    as on 2."""
    import rnnkit

    B, T, I, H = LAYOUTS["batch-rows"]
    p = make_problem(cell, B, T, I, H, initial_state=True)
    rng = np.random.default_rng(5)
    d_outputs = rng.normal(size=(B, T, H)).astype(np.float32)
    previous = rnnkit.get_num_threads()
    try:
        rnnkit.set_num_threads(2)
        cache = run_core(cell, p, training=True).cache
        on_two = ops.rnn_backward(cache, d_outputs=d_outputs)
        rnnkit.set_num_threads(1)
        on_one = ops.rnn_backward(cache, d_outputs=d_outputs)
    finally:
        rnnkit.set_num_threads(previous)
    for key in ("x", "kernel", "recurrent_kernel", "bias"):
        np.testing.assert_array_equal(on_one[key], on_two[key], err_msg=key)
    for a, b in zip(on_one["initial_state"], on_two["initial_state"]):
        np.testing.assert_array_equal(a, b)


def test_inputs_of_other_dtypes_and_layouts_are_converted():
    p = make_problem("lstm", initial_state=True)
    expected = run_core("lstm", p).outputs
    q = dict(p, x=np.asfortranarray(p["x"].astype(np.float64)), kernel=p["kernel"].astype(np.float64))
    np.testing.assert_array_equal(run_core("lstm", q).outputs, expected)


@pytest.mark.parametrize("change,message", [
    ({"kernel": np.zeros((3, 5), np.float32)}, r"rnn_forward: expected kernel of shape \(3, 12\), received \(3, 5\)"),
    ({"recurrent_kernel": np.zeros((3, 3), np.float32)}, r"expected recurrent_kernel of shape \(3, 12\), received \(3, 3\)"),
    ({"bias": np.zeros((2, 12), np.float32)}, r"expected bias of shape \(12,\), received \(2, 12\)"),
    ({"peephole": np.zeros((4, 3), np.float32)}, r"expected peephole of shape \(3, 3\), received \(4, 3\)"),
    ({"x": np.zeros((2, 4), np.float32)}, r"expected x of rank 3"),
    ({"mask": np.ones((2, 5), bool)}, r"expected mask of shape \(2, 4\), received \(2, 5\)"),
    ({"initial_state": [np.zeros((2, 4), np.float32)]}, r"expected initial h state of shape \(2, 3\)"),
    ({"recurrent_dropout_mask": np.ones((3, 3), np.float32)}, r"recurrent_dropout_mask of shape \(2, 3\)"),
])
def test_wrong_shapes_raise_value_errors_naming_expected_and_received(change, message):
    p = {**make_problem("lstm"), **change}
    with pytest.raises(ValueError, match=message):
        run_core("lstm", p)


def test_unknown_cell_and_peephole_on_gru_are_value_errors():
    p = make_problem("gru")
    with pytest.raises(ValueError, match="expected cell in"):
        run_core("rnn", p)
    with pytest.raises(ValueError, match="peephole"):
        run_core("gru", {**p, "peephole": np.zeros((3, 3), np.float32)})


@pytest.mark.parametrize("cell,problem,options", CASES, ids=CASE_IDS)
@pytest.mark.parametrize("training", [False, True])
def test_without_the_sequence_only_the_last_output_and_states_are_made(cell, problem, options, training):
    mask = np.array([[True, False, True, True], [True, True, False, False]])
    p = make_problem(cell, **problem, mask=mask, initial_state=True)
    full = run_core(cell, p, training=training, go_backwards=True, **options)
    last_only = run_core(cell, p, training=training, go_backwards=True, return_sequences=False, **options)
    _, last, states = run_reference(cell, p, go_backwards=True, **options)
    assert last_only.outputs is None
    assert reference.relative_error(last_only.last_output, last) < FORWARD_TOL
    np.testing.assert_array_equal(last_only.last_output, full.last_output)
    for a, b in zip(last_only.states, full.states):
        np.testing.assert_array_equal(a, b)
    if training:
        d_last = np.random.default_rng(2).normal(size=last.shape).astype(np.float32)
        got, expected = (ops.rnn_backward(r.cache, d_last_output=d_last) for r in (last_only, full))
        for name in ("x", "kernel", "recurrent_kernel"):
            np.testing.assert_array_equal(got[name], expected[name])


def test_inference_keeps_no_cache_and_backward_requires_one():
    result = run_core("gru", make_problem("gru"))
    assert result.cache is None
    with pytest.raises(ValueError, match="rnn_backward: expected the cache"):
        ops.rnn_backward(result.cache, d_last_output=np.ones((2, 3)))


def test_backward_with_only_some_gradients_and_none_state_entries():
    p = make_problem("lstm", initial_state=True)
    result = run_core("lstm", p, training=True)
    only_c = ops.rnn_backward(result.cache, d_states=[None, np.ones((2, 3))])
    both = ops.rnn_backward(result.cache, d_states=[np.zeros((2, 3)), np.ones((2, 3))])
    for key in ("x", "kernel", "recurrent_kernel", "bias"):
        np.testing.assert_array_equal(only_c[key], both[key])
    assert np.abs(only_c["kernel"]).max() > 0


# Inference keeps each thread's last few packings of U (cpp/src/cells/kept_packings.hpp), matched by U's bytes.
def test_recurrent_kernel_changed_in_place_between_calls_is_used():
    p = make_problem("lstm", batch=1, steps=5, inputs=4, units=16, seed=3)
    check_forward("lstm", p)
    p["recurrent_kernel"][2, 7] += 0.75  # same array, new values: the kept packing must not be taken
    check_forward("lstm", p)
    p["recurrent_kernel"] *= -1.0
    check_forward("lstm", p)


def test_more_kernels_than_kept_packings_and_one_u_in_two_layouts():
    problems = [make_problem("gru", batch=1, steps=4, inputs=3, units=16, seed=seed) for seed in range(6)]
    for _ in range(2):  # the second round finds some packings evicted, others kept
        for p in problems:
            check_forward("gru", p)
    # GRU's U with reset_after=False is packed as [z r] only: the same bytes in another layout
    p = dict(problems[0])
    both_biases = p["bias"]
    for reset_after in (False, True, False):
        p["bias"] = both_biases if reset_after else both_biases[0]
        check_forward("gru", p, reset_after=reset_after)


def test_kept_packings_give_the_first_calls_outputs_exactly():
    p = make_problem("simple_rnn", batch=1, steps=6, inputs=5, units=32, seed=4)
    first = run_core("simple_rnn", p).outputs
    for _ in range(3):
        np.testing.assert_array_equal(run_core("simple_rnn", p).outputs, first)
