"""Optimizers: steps against float64 numpy closed forms (each clipping mode), schedules, state, config, and an
oracle group against keras.optimizers (torch backend).

Tolerances: one or a few float32 steps against float64 references agree to rtol 1e-5 / atol 1e-7 (float32
rounding of the update is ~6e-8 relative per operation; Adam's 1/(sqrt(v)+eps) amplifies nothing at these scales).
"""
import numpy as np
import pytest

from rnnkit import optimizers
from rnnkit.optimizers import schedules
from rnnkit.variables import Variable

RTOL, ATOL = 1e-5, 1e-7
STEPS = 3


def _problem(seed=0):
    rng = np.random.default_rng(seed)
    weights = [rng.standard_normal((3, 4)), rng.standard_normal(5)]
    # Gradients big enough that every clipping threshold below is active.
    grads = [[rng.standard_normal(w.shape) * 2.0 for w in weights] for _ in range(STEPS)]
    return weights, grads


# ---- float64 references -----------------------------------------------------------------------------------------
def _clip(grads, clipnorm=None, clipvalue=None, global_clipnorm=None):
    if clipnorm:
        return [g * clipnorm / max(np.sqrt(np.sum(g * g)), clipnorm) for g in grads]
    if global_clipnorm:
        norm = np.sqrt(sum(np.sum(g * g) for g in grads))
        return [g * global_clipnorm / max(norm, global_clipnorm) for g in grads]
    if clipvalue:
        return [np.clip(g, -clipvalue, clipvalue) for g in grads]
    return grads


def _reference(kind, options, clip, weights, grad_steps):
    weights = [w.copy() for w in weights]
    lr = options.get("learning_rate", {"sgd": 0.01}.get(kind, 0.001))
    state = [dict() for _ in weights]
    for step, grads in enumerate(grad_steps, start=1):
        grads = _clip(grads, **clip)
        for w, g, s in zip(weights, grads, state):
            if kind == "sgd":
                mu = options.get("momentum", 0.0)
                if mu:
                    s["m"] = mu * s.get("m", 0.0) - lr * g
                    w += mu * s["m"] - lr * g if options.get("nesterov") else s["m"]
                else:
                    w -= lr * g
            elif kind == "adam":
                b1, b2, eps = 0.9, 0.999, 1e-7
                s["m"] = b1 * s.get("m", 0.0) + (1 - b1) * g
                s["v"] = b2 * s.get("v", 0.0) + (1 - b2) * g * g
                v = s["v"]
                if options.get("amsgrad"):
                    s["vhat"] = np.maximum(s.get("vhat", 0.0), s["v"])
                    v = s["vhat"]
                w -= lr * np.sqrt(1 - b2 ** step) / (1 - b1 ** step) * s["m"] / (np.sqrt(v) + eps)
            elif kind == "rmsprop":
                rho, mu, eps = 0.9, options.get("momentum", 0.0), 1e-7
                s["v"] = rho * s.get("v", 0.0) + (1 - rho) * g * g
                denominator = s["v"] + eps
                if options.get("centered"):
                    s["a"] = rho * s.get("a", 0.0) + (1 - rho) * g
                    denominator = denominator - s["a"] ** 2
                increment = lr * g / np.sqrt(denominator)
                if mu:
                    s["m"] = mu * s.get("m", 0.0) + increment
                    w -= s["m"]
                else:
                    w -= increment
            elif kind == "adagrad":
                s["acc"] = s.get("acc", 0.1) + g * g
                w -= lr * g / np.sqrt(s["acc"] + 1e-7)
            elif kind == "nadam":
                b1, b2, eps = 0.9, 0.999, 1e-7
                u = [b1 * (1 - 0.5 * 0.96 ** t) for t in range(1, step + 2)]  # the schedule u_1 .. u_{t+1}
                product = np.prod(u[:step])
                s["m"] = b1 * s.get("m", 0.0) + (1 - b1) * g
                s["v"] = b2 * s.get("v", 0.0) + (1 - b2) * g * g
                m_hat = u[step] * s["m"] / (1 - product * u[step]) + (1 - u[step - 1]) * g / (1 - product)
                w -= lr * m_hat / (np.sqrt(s["v"] / (1 - b2 ** step)) + eps)
            elif kind == "adamax":
                b1, b2, eps = 0.9, 0.999, 1e-7
                s["m"] = b1 * s.get("m", 0.0) + (1 - b1) * g
                s["u"] = np.maximum(b2 * s.get("u", 0.0), np.abs(g))
                w -= lr * s["m"] / ((1 - b1 ** step) * (s["u"] + eps))
            elif kind == "adadelta":
                rho, eps = 0.95, 1e-7
                s["g2"] = rho * s.get("g2", 0.0) + (1 - rho) * g * g
                delta = -np.sqrt(s.get("d2", 0.0) + eps) * g / np.sqrt(s["g2"] + eps)
                s["d2"] = rho * s.get("d2", 0.0) + (1 - rho) * delta * delta
                w += lr * delta
            elif kind == "lion":
                b1, b2 = options.get("beta_1", 0.9), 0.99
                w -= lr * np.sign(b1 * s.get("m", 0.0) + (1 - b1) * g)
                s["m"] = b2 * s.get("m", 0.0) + (1 - b2) * g
    return weights


CASES = [
    ("sgd", {}), ("sgd", {"momentum": 0.9}), ("sgd", {"momentum": 0.9, "nesterov": True}),
    ("adam", {}), ("adam", {"amsgrad": True}), ("adam", {"learning_rate": 0.05}),
    ("rmsprop", {}), ("rmsprop", {"momentum": 0.5}), ("rmsprop", {"centered": True}),
    ("rmsprop", {"momentum": 0.5, "centered": True}),
    ("adagrad", {}), ("adagrad", {"learning_rate": 0.1}),
    ("nadam", {}), ("nadam", {"learning_rate": 0.05}), ("adamax", {}), ("adamax", {"learning_rate": 0.05}),
    ("adadelta", {}), ("adadelta", {"learning_rate": 1.0}), ("lion", {}), ("lion", {"beta_1": 0.5}),
]
CLIPS = [{}, {"clipnorm": 1.0}, {"clipvalue": 0.5}, {"global_clipnorm": 1.5}]
CLASSES = {"sgd": optimizers.SGD, "adam": optimizers.Adam, "rmsprop": optimizers.RMSprop,
           "adagrad": optimizers.Adagrad, "nadam": optimizers.Nadam, "adamax": optimizers.Adamax,
           "adadelta": optimizers.Adadelta, "lion": optimizers.Lion}


def _run(optimizer, weights, grad_steps):
    variables = [Variable(w, f"w{i}", f"layer/w{i}") for i, w in enumerate(weights)]
    for grads in grad_steps:
        optimizer.apply([g.astype(np.float32) for g in grads], variables)
    return variables


@pytest.mark.parametrize("clip", CLIPS, ids=lambda c: next(iter(c), "noclip"))
@pytest.mark.parametrize("kind,options", CASES, ids=lambda x: x if isinstance(x, str) else repr(x))
def test_steps_match_float64_closed_form(kind, options, clip):
    weights, grad_steps = _problem()
    variables = _run(CLASSES[kind](**options, **clip), weights, grad_steps)
    expected = _reference(kind, options, clip, weights, grad_steps)
    for variable, reference in zip(variables, expected):
        np.testing.assert_allclose(variable.value, reference, rtol=RTOL, atol=ATOL)


@pytest.mark.parametrize("clip", CLIPS[1:], ids=lambda c: next(iter(c)))
def test_each_clipping_threshold_is_active_in_the_problem(clip):
    # Guards the test above: with inactive thresholds the clipped and unclipped references would coincide.
    weights, grad_steps = _problem()
    clipped = _reference("sgd", {}, clip, weights, grad_steps)
    plain = _reference("sgd", {}, {}, weights, grad_steps)
    assert max(np.max(np.abs(a - b)) for a, b in zip(clipped, plain)) > 1e-3


def test_global_clipnorm_scales_all_gradients_by_one_factor():
    variables = [Variable(np.zeros(2), "a"), Variable(np.zeros(1), "b")]
    optimizers.SGD(learning_rate=1.0, global_clipnorm=1.0).apply(
        [np.array([3.0, 0.0], np.float32), np.array([4.0], np.float32)], variables)
    np.testing.assert_allclose(variables[0].value, [-0.6, 0.0], rtol=1e-6)
    np.testing.assert_allclose(variables[1].value, [-0.8], rtol=1e-6)


def test_clipping_leaves_the_callers_gradients_untouched():
    gradient = np.array([3.0, 4.0], np.float32)
    optimizers.SGD(clipnorm=1.0).apply([gradient], [Variable(np.zeros(2), "w")])
    np.testing.assert_array_equal(gradient, [3.0, 4.0])


def test_large_updates_are_bit_identical_for_any_thread_count():
    import rnnkit

    rng = np.random.default_rng(2)
    weights = [rng.standard_normal(300_000)]  # above the size where the loops go parallel
    grad_steps = [[rng.standard_normal(300_000)] for _ in range(2)]
    results = []
    previous = rnnkit.get_num_threads()
    try:
        for threads in (1, 2):
            rnnkit.set_num_threads(threads)
            results.append(_run(optimizers.Adam(global_clipnorm=10.0), weights, grad_steps)[0].value)
    finally:
        rnnkit.set_num_threads(previous)
    np.testing.assert_array_equal(results[0], results[1])


def test_only_one_clipping_mode_may_be_set():
    with pytest.raises(ValueError, match="Only one of"):
        optimizers.Adam(clipnorm=1.0, clipvalue=1.0)


def test_updates_run_in_place_on_the_variable_array():
    variable = Variable(np.ones(4), "w")
    array = variable.value
    optimizers.Adam().apply([np.ones(4, np.float32)], [variable])
    assert variable.value is array
    assert np.all(array < 1.0)


def test_non_float32_variable_storage_is_rejected_not_silently_copied():
    variable = Variable(np.ones(3), "w")
    variable.value = np.ones(3, np.float64)
    with pytest.raises(ValueError, match="float32"):
        optimizers.SGD().apply([np.ones(3, np.float32)], [variable])


def test_gradient_shape_must_match_the_variable():
    with pytest.raises(ValueError, match="shape"):
        optimizers.SGD().apply([np.ones(4, np.float32)], [Variable(np.ones((2, 3)), "w")])


def test_none_gradients_skip_their_variable():
    a, b = Variable(np.ones(2), "a"), Variable(np.ones(2), "b")
    optimizers.SGD(learning_rate=0.5).apply([None, np.ones(2, np.float32)], [a, b])
    np.testing.assert_array_equal(a.value, [1.0, 1.0])
    np.testing.assert_allclose(b.value, [0.5, 0.5])


def test_apply_gradients_takes_pairs_and_counts_iterations():
    variable = Variable(np.ones(2), "w")
    optimizer = optimizers.SGD(learning_rate=0.25)
    for _ in range(3):
        optimizer.apply_gradients([(np.ones(2, np.float32), variable)])
    assert int(optimizer.iterations) == 3
    np.testing.assert_allclose(variable.value, [0.25, 0.25])


# ---- state ------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("optimizer,slots", [
    (optimizers.SGD(), []), (optimizers.SGD(momentum=0.9), ["momentum"]),
    (optimizers.Adam(), ["momentum", "velocity"]), (optimizers.Adam(amsgrad=True), ["momentum", "velocity",
                                                                                    "velocity_hat"]),
    (optimizers.RMSprop(momentum=0.5, centered=True), ["velocity", "momentum", "average_gradient"]),
    (optimizers.Adagrad(), ["accumulator"]), (optimizers.Adamax(), ["momentum", "norm"]),
    (optimizers.Adadelta(), ["accumulated_grad", "accumulated_delta_var"]), (optimizers.Lion(), ["momentum"]),
], ids=lambda x: type(x).__name__ if isinstance(x, optimizers.Optimizer) else str(len(x)))
def test_variables_are_the_iteration_then_slots_by_kind(optimizer, slots):
    weights = [Variable(np.zeros((2, 3)), "kernel", "dense/kernel"), Variable(np.zeros(3), "bias", "dense/bias")]
    optimizer.build(weights)
    names = [v.path for v in optimizer.variables]
    assert names[0] == f"{optimizer.name}/iteration"
    assert names[1:] == [f"{optimizer.name}/dense_{w}_{slot}" for slot in slots for w in ("kernel", "bias")]
    assert [v.shape for v in optimizer.variables[1:]] == [w.shape for _ in slots for w in weights]


def test_nadam_keeps_its_schedule_product_after_the_slots():
    optimizer = optimizers.Nadam()
    weights, grad_steps = _problem()
    _run(optimizer, weights, grad_steps)
    product = optimizer.variables[-1]
    assert product.path == "nadam/u_product" and len(optimizer.variables) == 1 + 2 * 2 + 1
    expected = np.prod([0.9 * (1 - 0.5 * 0.96 ** t) for t in range(1, STEPS + 1)])
    assert float(product.value) == pytest.approx(expected, rel=1e-6)


def test_adagrad_accumulator_starts_at_its_initial_value():
    optimizer = optimizers.Adagrad(initial_accumulator_value=0.25)
    optimizer.build([Variable(np.zeros(3), "w")])
    np.testing.assert_array_equal(optimizer.variables[1].value, np.full(3, 0.25, np.float32))


@pytest.mark.parametrize("make", [lambda: optimizers.Adam(amsgrad=True), optimizers.Nadam])
def test_restoring_the_state_continues_identically(make):
    weights, grad_steps = _problem()
    original = make()
    variables = _run(original, weights, grad_steps[:2])
    restored = optimizers.deserialize(optimizers.serialize(original))
    copies = [Variable(v.value.copy(), v.name, v.path) for v in variables]
    restored.build(copies)
    for target, source in zip(restored.variables, original.variables):
        target.assign(source.value)
    assert int(restored.iterations) == 2
    grads = [g.astype(np.float32) for g in grad_steps[2]]
    original.apply(grads, variables)
    restored.apply(grads, copies)
    for a, b in zip(variables, copies):
        np.testing.assert_array_equal(a.value, b.value)


# ---- learning rate and schedules ------------------------------------------------------------------------------
def test_learning_rate_is_settable_when_a_float():
    optimizer = optimizers.SGD(0.1)
    optimizer.learning_rate = 0.5
    assert optimizer.learning_rate == 0.5
    variable = Variable(np.zeros(1), "w")
    optimizer.apply([np.ones(1, np.float32)], [variable])
    np.testing.assert_allclose(variable.value, [-0.5])


def test_schedule_is_evaluated_at_the_iteration_before_each_update():
    schedule = schedules.ExponentialDecay(0.1, decay_steps=2, decay_rate=0.5)
    optimizer = optimizers.SGD(learning_rate=schedule)
    variable = Variable(np.zeros(1), "w")
    rates = []
    for _ in range(4):
        rates.append(optimizer.learning_rate)
        optimizer.apply([np.ones(1, np.float32)], [variable])
    np.testing.assert_allclose(rates, [0.1 * 0.5 ** (k / 2) for k in range(4)], rtol=1e-12)
    np.testing.assert_allclose(variable.value, [-sum(rates)], rtol=1e-6)
    with pytest.raises(TypeError, match="not settable"):
        optimizer.learning_rate = 0.1


@pytest.mark.parametrize("schedule,expected", [
    (schedules.ExponentialDecay(1.0, 10, 0.5), lambda s: 0.5 ** (s / 10)),
    (schedules.ExponentialDecay(1.0, 10, 0.5, staircase=True), lambda s: 0.5 ** (s // 10)),
    (schedules.InverseTimeDecay(1.0, 10, 0.5), lambda s: 1.0 / (1 + 0.5 * s / 10)),
    (schedules.InverseTimeDecay(1.0, 10, 0.5, staircase=True), lambda s: 1.0 / (1 + 0.5 * (s // 10))),
    (schedules.PiecewiseConstantDecay([5, 15], [1.0, 0.5, 0.1]),
     lambda s: 1.0 if s <= 5 else 0.5 if s <= 15 else 0.1),
    (schedules.CosineDecay(1.0, 20, alpha=0.1),
     lambda s: 0.9 * 0.5 * (1 + np.cos(np.pi * min(s, 20) / 20)) + 0.1),
    (schedules.CosineDecay(0.0, 20, warmup_target=1.0, warmup_steps=5),
     lambda s: s / 5 if s < 5 else 0.5 * (1 + np.cos(np.pi * min(s - 5, 20) / 20))),
], ids=["exp", "exp-stair", "inv", "inv-stair", "piecewise", "cosine", "cosine-warmup"])
def test_schedules_follow_their_closed_forms(schedule, expected):
    for step in (0, 1, 5, 6, 9, 10, 15, 16, 19, 20, 25, 40):
        assert schedule(step) == pytest.approx(expected(step), rel=1e-12, abs=1e-15), step


def test_schedules_reject_nonpositive_decay_steps_and_mismatched_pieces():
    with pytest.raises(ValueError, match="decay_steps"):
        schedules.ExponentialDecay(0.1, 0, 0.5)
    with pytest.raises(ValueError, match="1 less"):
        schedules.PiecewiseConstantDecay([1, 2], [0.1, 0.2])


# ---- config and lookup ----------------------------------------------------------------------------------------
@pytest.mark.parametrize("name,cls,defaults", [
    ("sgd", optimizers.SGD, {"learning_rate": 0.01, "momentum": 0.0, "nesterov": False, "name": "SGD"}),
    ("adam", optimizers.Adam, {"learning_rate": 0.001, "beta_1": 0.9, "beta_2": 0.999, "epsilon": 1e-7,
                               "amsgrad": False, "name": "adam"}),
    ("rmsprop", optimizers.RMSprop, {"learning_rate": 0.001, "rho": 0.9, "momentum": 0.0, "epsilon": 1e-7,
                                     "centered": False, "name": "rmsprop"}),
    ("adagrad", optimizers.Adagrad, {"learning_rate": 0.001, "initial_accumulator_value": 0.1, "epsilon": 1e-7,
                                     "name": "adagrad"}),
    ("nadam", optimizers.Nadam, {"learning_rate": 0.001, "beta_1": 0.9, "beta_2": 0.999, "epsilon": 1e-7,
                                 "name": "nadam"}),
    ("adamax", optimizers.Adamax, {"learning_rate": 0.001, "beta_1": 0.9, "beta_2": 0.999, "epsilon": 1e-7,
                                   "name": "adamax"}),
    ("adadelta", optimizers.Adadelta, {"learning_rate": 0.001, "rho": 0.95, "epsilon": 1e-7, "name": "adadelta"}),
    ("lion", optimizers.Lion, {"learning_rate": 0.001, "beta_1": 0.9, "beta_2": 0.99, "name": "lion"}),
])
def test_get_by_name_gives_keras_defaults(name, cls, defaults):
    for identifier in (name, cls.__name__):
        optimizer = optimizers.get(identifier)
        assert type(optimizer) is cls
        config = optimizer.get_config()
        assert {k: config[k] for k in defaults} == defaults
        assert config["clipnorm"] is None and config["clipvalue"] is None and config["global_clipnorm"] is None


def test_unknown_name_suggests_the_closest():
    with pytest.raises(ValueError, match="Did you mean 'adam'"):
        optimizers.get("adamm")


def test_serialize_round_trip_keeps_config_and_schedule():
    optimizer = optimizers.RMSprop(learning_rate=schedules.CosineDecay(0.01, 100, alpha=0.1), momentum=0.3,
                                   centered=True, clipvalue=2.0)
    data = optimizers.serialize(optimizer)
    assert data["class_name"] == "RMSprop" and data["module"] == "keras.optimizers"
    assert data["config"]["learning_rate"]["class_name"] == "CosineDecay"
    restored = optimizers.deserialize(data)
    assert type(restored) is optimizers.RMSprop
    assert restored.get_config() == optimizer.get_config()
    assert isinstance(restored._learning_rate, schedules.CosineDecay)


def test_serialized_form_survives_json_as_in_the_model_file():
    import json

    optimizer = optimizers.SGD(learning_rate=schedules.PiecewiseConstantDecay([10, 20], [0.1, 0.05, 0.01]),
                               momentum=0.9, nesterov=True, global_clipnorm=1.0)
    restored = optimizers.deserialize(json.loads(json.dumps(optimizers.serialize(optimizer))))
    assert restored.get_config() == optimizer.get_config()
    assert restored.learning_rate == 0.1


def test_unsupported_keras_arguments_are_refused_loudly():
    with pytest.raises(NotImplementedError, match="use_ema"):
        optimizers.Adam(use_ema=True)


@pytest.mark.parametrize("kind", ["sgd", "adam", "rmsprop", "adagrad"])
def test_weight_decay_shrinks_each_variable_before_its_update(kind):
    """Keras 3's decoupled decay: v <- v - v * weight_decay * rate, then the optimizer's own update of v; with
    zero gradients the update itself moves nothing (SGD, Adam, RMSprop, Adagrad all give 0 for g = 0)."""
    weights, _ = _problem()
    zero = [[np.zeros_like(w) for w in weights]] * 3
    variables = _run(CLASSES[kind](learning_rate=0.1, weight_decay=0.5), weights, zero)
    for variable, w in zip(variables, weights):
        np.testing.assert_allclose(variable.value, w * (1 - 0.1 * 0.5) ** 3, rtol=1e-6)


def test_weight_decay_then_sgd_step_matches_the_closed_form_and_honours_exclusions():
    weights, grad_steps = _problem()
    optimizer = optimizers.SGD(learning_rate=0.1, weight_decay=0.2)
    variables = [Variable(w, f"w{i}", f"layer/w{i}") for i, w in enumerate(weights)]
    extra = Variable(np.ones(3), "bias", "layer/bias")
    optimizer.exclude_from_weight_decay(var_names=["bias"])
    optimizer.apply([g.astype(np.float32) for g in grad_steps[0]] + [np.ones(3, np.float32)], variables + [extra])
    for variable, w, g in zip(variables, weights, grad_steps[0]):
        np.testing.assert_allclose(variable.value, w - 0.1 * 0.2 * w - 0.1 * g, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(extra.value, np.ones(3) - 0.1, rtol=1e-6)  # not decayed
    with pytest.raises(ValueError, match="before the optimizer is built"):
        optimizer.exclude_from_weight_decay(var_list=variables)


def test_adamw_is_adam_with_keras_default_decay():
    import json

    optimizer = optimizers.get("adamw")
    assert type(optimizer) is optimizers.AdamW and optimizer.weight_decay == 0.004 and optimizer.name == "adamw"
    restored = optimizers.deserialize(json.loads(json.dumps(optimizers.serialize(optimizer))))
    assert restored.get_config() == optimizer.get_config()
    with pytest.raises(ValueError, match="weight_decay"):
        optimizers.AdamW(weight_decay=None)


# ---- oracle: Keras 3 on the torch backend --------------------------------------------------------------------------
ORACLE_CASES = [
    ("SGD", {"learning_rate": 0.1}), ("SGD", {"learning_rate": 0.1, "momentum": 0.9}),
    ("SGD", {"learning_rate": 0.1, "momentum": 0.9, "nesterov": True}),
    ("Adam", {"learning_rate": 0.01}), ("Adam", {"learning_rate": 0.01, "amsgrad": True}),
    ("RMSprop", {"learning_rate": 0.01}), ("RMSprop", {"learning_rate": 0.01, "momentum": 0.5, "centered": True}),
    ("Adagrad", {"learning_rate": 0.1}),
    ("AdamW", {"learning_rate": 0.01, "weight_decay": 0.1}), ("SGD", {"learning_rate": 0.1, "weight_decay": 0.05}),
    ("Nadam", {"learning_rate": 0.01}), ("Adamax", {"learning_rate": 0.01}), ("Adadelta", {"learning_rate": 1.0}),
    ("Lion", {"learning_rate": 0.01}), ("Lion", {"learning_rate": 0.01, "beta_1": 0.5, "weight_decay": 0.1}),
]


@pytest.mark.parametrize("clip", CLIPS, ids=lambda c: next(iter(c), "noclip"))
@pytest.mark.parametrize("name,options", ORACLE_CASES, ids=lambda x: x if isinstance(x, str) else repr(x))
def test_oracle_keras_optimizer_steps(name, options, clip):
    keras = pytest.importorskip("keras", reason="the Keras oracle group (keras 3 + torch) is not installed")
    weights, grad_steps = _problem(seed=1)
    weights = [w.astype(np.float32) for w in weights]
    keras_variables = [keras.Variable(w.copy()) for w in weights]
    keras_optimizer = getattr(keras.optimizers, name)(**options, **clip)
    for grads in grad_steps:
        keras_optimizer.apply([keras.ops.convert_to_tensor(g.astype(np.float32)) for g in grads], keras_variables)
    ours = _run(getattr(optimizers, name)(**options, **clip), weights, grad_steps)
    # atol 1e-6: Keras' torch Adam mixes float64 (1 - beta) in the moment updates with float32 beta ** t in the
    # bias correction, a ~6e-6 relative inconsistency of each step (lr 0.01 -> ~6e-8 per step); rnnkit is
    # consistent (it matches the float64 closed form above to 1e-7).
    for variable, reference in zip(ours, keras_variables):
        np.testing.assert_allclose(variable.value, keras.ops.convert_to_numpy(reference.value), rtol=1e-5,
                                   atol=1e-6)


def test_oracle_keras_schedule_values():
    keras = pytest.importorskip("keras", reason="the Keras oracle group (keras 3 + torch) is not installed")
    pairs = [
        (schedules.ExponentialDecay(0.1, 7, 0.3, staircase=True),
         keras.optimizers.schedules.ExponentialDecay(0.1, 7, 0.3, staircase=True)),
        (schedules.InverseTimeDecay(0.1, 7, 0.3), keras.optimizers.schedules.InverseTimeDecay(0.1, 7, 0.3)),
        (schedules.PiecewiseConstantDecay([3, 9], [0.1, 0.05, 0.01]),
         keras.optimizers.schedules.PiecewiseConstantDecay([3, 9], [0.1, 0.05, 0.01])),
        (schedules.CosineDecay(0.01, 12, alpha=0.2, warmup_target=0.1, warmup_steps=4),
         keras.optimizers.schedules.CosineDecay(0.01, 12, alpha=0.2, warmup_target=0.1, warmup_steps=4)),
    ]
    for ours, theirs in pairs:
        assert ours.get_config() == theirs.get_config()
        for step in range(0, 20):
            assert ours(step) == pytest.approx(float(keras.ops.convert_to_numpy(theirs(step))), rel=1e-6), step


def test_positional_arguments_are_keras_own_ones_and_the_shared_ones_go_by_name():
    adam = optimizers.Adam(0.01, 0.8, 0.95, 1e-6, True)
    assert (adam.learning_rate, adam.beta_1, adam.beta_2, adam.epsilon, adam.amsgrad) == (0.01, 0.8, 0.95, 1e-6, True)
    assert optimizers.SGD(0.1, 0.9, True).nesterov is True
    # Keras' sixth positional argument of Adam is weight_decay: rnnkit refuses it rather than bind it to name.
    with pytest.raises(TypeError):
        optimizers.Adam(0.01, 0.8, 0.95, 1e-6, True, 0.1)
    assert optimizers.Adam(weight_decay=0.1, name="decayed").name == "decayed"
