"""Every differentiable op against central differences in float64 (and its forward against NumPy).

Each case is one function `f(m, *inputs)` written once against a NumPy-like namespace `m`: run
with the engine's namespace it is the op under test, run with NumPy (plus direct formulas for
the few ops NumPy lacks) it is the reference forward. Inputs stay away from the points where an
op is not differentiable: no ties in maximum/minimum/max, positive values for log/sqrt/power.
"""

from __future__ import annotations

import types

import numpy
import pytest

from gradcheck import assert_grads
from scratchmlp import np as engine_np, npx
from scratchmlp.engine import Array, ops, use_dtype

_rng = numpy.random.default_rng(20240601)


def normal(*shape):
    """Continuous draws: ties (kinks of maximum/max) have probability zero."""
    return _rng.standard_normal(shape)


def positive(*shape):
    """Values in [0.5, 2]: inside the domain of log, sqrt, a divisor and a power's base."""
    return _rng.uniform(0.5, 2.0, shape)


def away_from_zero(*shape):
    """|x| >= 0.1: relu's kink at 0 stays 1e5 finite-difference steps away."""
    values = _rng.uniform(0.1, 2.0, shape)
    return values * _rng.choice([-1.0, 1.0], shape)


def _log_softmax(a, axis=-1):
    e = numpy.exp(a)
    return numpy.log(e / e.sum(axis=axis, keepdims=True))


def _cross_entropy(logits, labels):
    e = numpy.exp(logits)
    return -numpy.log(e[numpy.arange(len(labels)), labels] / e.sum(axis=1))


# The engine's namespace and NumPy's, each with the ops NumPy has no name for.
E = types.SimpleNamespace(**{n: getattr(engine_np, n) for n in dir(engine_np)
                             if not n.startswith("_")},
                          sigmoid=ops.sigmoid, relu=ops.relu, log_softmax=ops.log_softmax,
                          softmax_cross_entropy=ops.softmax_cross_entropy, linear=ops.linear,
                          dropout=ops.dropout, pick=ops.pick,
                          batch_flatten=npx.batch_flatten, activation=npx.activation)
R = types.SimpleNamespace(**{n: getattr(numpy, n) for n in dir(numpy) if not n.startswith("_")},
                          sigmoid=lambda a: 1 / (1 + numpy.exp(-a)),
                          relu=lambda a: numpy.maximum(a, 0), log_softmax=_log_softmax,
                          softmax_cross_entropy=_cross_entropy,
                          linear=lambda x, W, b, relu=False:
                              numpy.maximum(x @ W + b, 0) if relu else x @ W + b,
                          dropout=lambda a, keep: a * keep,
                          batch_flatten=lambda a: a.reshape(a.shape[0], -1),
                          activation=lambda a, act_type: {
                              "softrelu": numpy.log1p(numpy.exp(a)),
                              "softsign": a / (1 + numpy.abs(a))}[act_type],
                          pick=lambda a, index, axis=-1: numpy.squeeze(numpy.take_along_axis(
                              a, numpy.expand_dims(index, axis), axis), axis))

LABELS = numpy.array([2, 0, 3, 3, 1])
DROPOUT_KEEP = numpy.array([[2.0, 0, 2, 2], [0, 0, 2, 2], [2, 2, 0, 2]])  # p = 0.5

BROADCAST_SHAPES = [  # (shape of a, shape of b)
    ((3, 4), (3, 4)),
    ((3, 4), (4,)),
    ((4,), (3, 4)),
    ((3, 1), (1, 4)),
    ((2, 3, 4), (3, 1)),
    ((), (3, 4)),
    ((2, 1, 4), (3, 1)),
]


def _binary_cases():
    ops_and_domains = [  # name, f, domain of a, domain of b
        ("add", lambda m, a, b: m.add(a, b), normal, normal),
        ("subtract", lambda m, a, b: m.subtract(a, b), normal, normal),
        ("multiply", lambda m, a, b: m.multiply(a, b), normal, normal),
        ("divide", lambda m, a, b: m.divide(a, b), normal, positive),
        ("power", lambda m, a, b: m.power(a, b), positive, normal),
        ("maximum", lambda m, a, b: m.maximum(a, b), normal, normal),
        ("minimum", lambda m, a, b: m.minimum(a, b), normal, normal),
        ("a+b", lambda m, a, b: a + b, normal, normal),
        ("a-b", lambda m, a, b: a - b, normal, normal),
        ("a*b", lambda m, a, b: a * b, normal, normal),
        ("a/b", lambda m, a, b: a / b, normal, positive),
        ("a**b", lambda m, a, b: a ** b, positive, normal),
    ]
    for name, f, domain_a, domain_b in ops_and_domains:
        for shape_a, shape_b in BROADCAST_SHAPES:
            yield pytest.param(f, (domain_a(*shape_a), domain_b(*shape_b)),
                               id=f"{name}-{shape_a}-{shape_b}")


# A constant (a Python scalar or a plain NumPy array) on either side of an Array: only the
# Array is differentiated; reflected operators (2.0 - x, ndarray * x) must reach the engine.
_CONSTANT = normal(3, 4)
CONSTANT_CASES = [
    ("x+2", lambda m, x: x + 2.0, normal(3, 4)),
    ("2-x", lambda m, x: 2.0 - x, normal(3, 4)),
    ("x*3", lambda m, x: x * 3, normal(3, 4)),
    ("1.5/x", lambda m, x: 1.5 / x, positive(3, 4)),
    ("x/4", lambda m, x: x / 4, normal(3, 4)),
    ("x**2", lambda m, x: x ** 2, normal(3, 4)),
    ("x**0.5", lambda m, x: x ** 0.5, positive(3, 4)),
    ("2**x", lambda m, x: 2.0 ** x, normal(3, 4)),
    ("maximum(x,0.1)", lambda m, x: m.maximum(x, 0.1), away_from_zero(3, 4)),
    ("maximum(0,x)", lambda m, x: m.maximum(0, x), away_from_zero(3, 4)),
    ("minimum(0.2,x)", lambda m, x: m.minimum(0.2, x), away_from_zero(3, 4)),
    ("ndarray*x", lambda m, x: _CONSTANT * x, normal(3, 4)),
    ("ndarray-x", lambda m, x: _CONSTANT - x, normal(3, 4)),
    ("x/ndarray[row]", lambda m, x: x / numpy.abs(_CONSTANT[0]), normal(3, 4)),
    ("x*(3,1)ndarray", lambda m, x: x * _CONSTANT[:, :1], normal(3, 4)),
]

UNARY_CASES = [
    ("negative", lambda m, x: m.negative(x), normal(3, 4)),
    ("-x", lambda m, x: -x, normal(3, 4)),
    ("exp", lambda m, x: m.exp(x), normal(3, 4)),
    ("x.exp()", lambda m, x: x.exp() if isinstance(x, Array) else numpy.exp(x), normal(5)),
    ("log", lambda m, x: m.log(x), positive(3, 4)),
    ("sqrt", lambda m, x: m.sqrt(x), positive(3, 4)),
    ("tanh", lambda m, x: m.tanh(x), normal(3, 4)),
    ("sigmoid", lambda m, x: m.sigmoid(x), normal(3, 4)),
    ("npx.activation(softrelu)", lambda m, x: m.activation(x, "softrelu"), normal(3, 4)),
    ("npx.activation(softsign)", lambda m, x: m.activation(x, "softsign"), away_from_zero(3, 4)),
    ("npx.batch_flatten", lambda m, x: m.batch_flatten(x), normal(2, 3, 4)),
    ("square", lambda m, x: m.square(x), normal(3, 4)),
    ("abs(x)", lambda m, x: abs(x), away_from_zero(3, 4)),
    ("cumsum", lambda m, x: m.cumsum(x), normal(3, 4)),
    ("cumsum(axis=1)", lambda m, x: m.cumsum(x, axis=1), normal(3, 4)),
    ("x.cumsum(axis=0)", lambda m, x: x.cumsum(axis=0), normal(3, 4)),
    ("x.min()", lambda m, x: x.min(), normal(3, 4)),
    ("x.clip(-0.5,0.5)", lambda m, x: x.clip(-0.5, 0.5), normal(3, 4)),
    ("x.flatten()", lambda m, x: x.flatten(), normal(2, 3, 4)),
    ("x.squeeze()", lambda m, x: x.squeeze(), normal(3, 1, 4)),
    ("var(ddof=1)", lambda m, x: m.var(x, axis=0, ddof=1), normal(3, 4)),
    ("broadcast_to", lambda m, x: m.broadcast_to(x, (2, 3, 4)), normal(3, 1)),
    ("dot(x,2.5)", lambda m, x: m.dot(x, 2.5), normal(3, 4)),
    ("sigmoid-large", lambda m, x: m.sigmoid(x), numpy.array([-30.0, -8.0, 0.5, 8.0, 30.0])),
    ("relu", lambda m, x: m.relu(x), away_from_zero(3, 4)),
    # inverted dropout with a fixed mask of 0 and 1/(1-p): linear in x, no gradient to the mask
    ("dropout", lambda m, x: m.dropout(x, DROPOUT_KEEP), normal(3, 4)),
    ("scalar-input", lambda m, x: m.exp(x) * x, numpy.array(0.7)),
    ("abs", lambda m, x: m.abs(x), away_from_zero(3, 4)),
    ("sin", lambda m, x: m.sin(x), normal(3, 4)),
    ("cos", lambda m, x: m.cos(x), normal(3, 4)),
    ("sinh", lambda m, x: m.sinh(x), normal(3, 4)),
    ("cosh", lambda m, x: m.cosh(x), normal(3, 4)),
    ("clip", lambda m, x: m.clip(x, -0.5, 0.7), normal(4, 5)),
    ("clip(None,0.3)", lambda m, x: m.clip(x, None, 0.3), normal(4, 5)),
    ("where(x>0,x,2x)", lambda m, x: m.where(x > 0, x, x * 2), away_from_zero(3, 4)),
    ("norm", lambda m, x: m.linalg.norm(x), normal(3, 4)),
    ("norm(axis=1)", lambda m, x: m.linalg.norm(x, axis=1), normal(3, 4)),
    ("norm(axis=0,keepdims)", lambda m, x: m.linalg.norm(x, axis=0, keepdims=True), normal(3, 4)),
    ("pick", lambda m, x: m.pick(x, LABELS), normal(5, 4)),
    ("pick(axis=0)", lambda m, x: m.pick(x, numpy.array([1, 0, 2, 2]), axis=0), normal(3, 4)),
]

MATMUL_SHAPES = [  # every 1-d / 2-d / batched combination, batch dimensions broadcast
    ((3, 4), (4, 5)),
    ((4,), (4,)),
    ((3, 4), (4,)),
    ((4,), (4, 5)),
    ((2, 3, 4), (2, 4, 5)),
    ((2, 3, 4), (4, 5)),
    ((3, 4), (2, 4, 5)),
    ((1, 3, 4), (2, 4, 5)),
    ((2, 1, 3, 4), (3, 4, 2)),
    ((2, 3, 4), (4,)),
    ((4,), (2, 4, 5)),
]
DOT_SHAPES = [((3, 4), (4, 5)), ((4,), (4,)), ((3, 4), (4,)), ((4,), (4, 5)), ((2, 3, 4), (4, 5)),
              ((2, 3, 4), (4,))]


def _linear_algebra_cases():
    for a, b in MATMUL_SHAPES:
        yield pytest.param(lambda m, x, y: m.matmul(x, y), (normal(*a), normal(*b)),
                           id=f"matmul-{a}-{b}")
    yield pytest.param(lambda m, x, y: x @ y, (normal(3, 4), normal(4, 2)), id="x@y")
    yield pytest.param(lambda m, x: _CONSTANT @ x, (normal(4, 2),), id="ndarray@x")
    for a, b in DOT_SHAPES:
        yield pytest.param(lambda m, x, y: m.dot(x, y), (normal(*a), normal(*b)),
                           id=f"dot-{a}-{b}")
    for relu in (False, True):  # the MLP's fused layer (more checks in test_perf_ops.py)
        yield pytest.param(lambda m, x, W, b, relu=relu: m.linear(x, W, b, relu=relu),
                           (normal(5, 4), normal(4, 3), normal(3)), id=f"linear-relu={relu}")


REDUCTION_AXES = [None, 0, 1, -1, (0, 2), (1, 2)]


def _reduction_cases():
    for name in ("sum", "mean", "max", "min", "var", "std"):
        for axis in REDUCTION_AXES:
            for keepdims in (False, True):
                yield pytest.param(
                    lambda m, x, name=name, axis=axis, keepdims=keepdims:
                        getattr(m, name)(x, axis=axis, keepdims=keepdims),
                    (normal(2, 3, 4),), id=f"{name}-axis={axis}-keepdims={keepdims}")
        yield pytest.param(lambda m, x, name=name: getattr(x, name)(axis=1),
                           (normal(3, 5),), id=f"x.{name}(axis=1)")
        yield pytest.param(lambda m, x, name=name: getattr(x, name)(),
                           (normal(3, 5),), id=f"x.{name}()")


SHAPE_CASES = [
    ("reshape", lambda m, x: m.reshape(x, (6, 4)), normal(2, 3, 4)),
    ("reshape(-1)", lambda m, x: m.reshape(x, (-1,)), normal(2, 3, 4)),
    ("x.reshape(4,6)", lambda m, x: x.reshape(4, 6), normal(2, 3, 4)),
    ("x.reshape(-1,12)", lambda m, x: x.reshape(-1, 12), normal(2, 3, 4)),
    ("x.reshape((3,8))", lambda m, x: x.reshape((3, 8)), normal(2, 3, 4)),
    ("transpose", lambda m, x: m.transpose(x), normal(2, 3, 4)),
    ("transpose(1,2,0)", lambda m, x: m.transpose(x, (1, 2, 0)), normal(2, 3, 4)),
    ("transpose(2,0,1)", lambda m, x: m.transpose(x, (2, 0, 1)), normal(2, 3, 4)),
    ("transpose(1,-1,0)", lambda m, x: m.transpose(x, (1, -1, 0)), normal(2, 3, 4)),
    ("x.T", lambda m, x: x.T, normal(3, 4)),
    ("x.transpose(2,0,1)", lambda m, x: x.transpose(2, 0, 1), normal(2, 3, 4)),
    ("expand_dims(1)", lambda m, x: m.expand_dims(x, 1), normal(3, 4)),
    ("squeeze", lambda m, x: m.squeeze(x), normal(3, 1, 4)),
    ("squeeze(axis=1)", lambda m, x: m.squeeze(x, axis=1), normal(3, 1, 4)),
    ("split(3,axis=1)[1]", lambda m, x: m.split(x, 3, axis=1)[1], normal(2, 6)),
    ("split([1,3])[2]", lambda m, x: m.split(x, [1, 3])[2] * 2, normal(5, 2)),
]


def _joining_cases():
    for name, f in [("concatenate", lambda m, x, y: m.concatenate([x, y * 2], axis=0)),
                    ("concatenate(axis=1)", lambda m, x, y: m.concatenate([y, x, y], axis=1)),
                    ("stack", lambda m, x, y: m.stack([x, y])),
                    ("stack(axis=-1)", lambda m, x, y: m.stack([y, x], axis=-1)),
                    ("where(x>y,x,y)", lambda m, x, y: m.where(x > y, x, y)),
                    ("hstack", lambda m, x, y: m.hstack([x, y * 2])),
                    ("vstack", lambda m, x, y: m.vstack([x, y[0], y])),
                    ("outer", lambda m, x, y: m.outer(x[0], y[:, 1]))]:
        yield pytest.param(f, (normal(3, 4), normal(3, 4)), id=name)

GETITEM_CASES = [
    ("x[1]", lambda m, x: x[1], normal(3, 4)),
    ("x[-1]", lambda m, x: x[-1], normal(3, 4)),
    ("x[1,2]", lambda m, x: x[1, 2], normal(3, 4)),
    ("x[:,1:3]", lambda m, x: x[:, 1:3], normal(3, 4)),
    ("x[::2,...,-1]", lambda m, x: x[::2, ..., -1], normal(3, 2, 4)),
    ("x[None,0]", lambda m, x: x[None, 0], normal(3, 4)),
    ("x[[0,2,0]]", lambda m, x: x[[0, 2, 0]], normal(3, 4)),
    ("x[:,[0,0,3]]", lambda m, x: x[:, [0, 0, 3]], normal(3, 4)),
    ("x[rows,cols]-repeated", lambda m, x: x[numpy.array([1, 1, 2, 1]), numpy.array([0, 0, 3, 0])],
     normal(3, 4)),
    ("x[arange,labels]", lambda m, x: x[numpy.arange(5), LABELS], normal(5, 4)),
    ("x[range(2)]", lambda m, x: x[range(2)], normal(3, 4)),
    ("x[mask]", lambda m, x: x[numpy.array([True, False, True])], normal(3, 4)),
    ("x[Array index]", lambda m, x: x[Array(numpy.array([2, 2, 0]))] if isinstance(x, Array)
     else x[numpy.array([2, 2, 0])], normal(3, 4)),
]

LOSS_CASES = [
    ("log_softmax", lambda m, x: m.log_softmax(x), normal(5, 4)),
    ("log_softmax(axis=0)", lambda m, x: m.log_softmax(x, axis=0), normal(5, 4)),
    ("softmax_cross_entropy", lambda m, x: m.softmax_cross_entropy(x, LABELS), normal(5, 4)),
    ("softmax_cross_entropy-large", lambda m, x: m.softmax_cross_entropy(x, LABELS),
     3 * normal(5, 4) + 50),
    ("cross_entropy-by-hand", lambda m, x: -m.log_softmax(x)[numpy.arange(5), LABELS],
     normal(5, 4)),
]


def _table(rows):
    return [pytest.param(f, (x,), id=name) for name, f, x in rows]


ALL_CASES = [*_binary_cases(), *_table(CONSTANT_CASES), *_table(UNARY_CASES),
             *_linear_algebra_cases(), *_reduction_cases(), *_table(SHAPE_CASES),
             *_table(GETITEM_CASES), *_table(LOSS_CASES), *_joining_cases()]


@pytest.mark.parametrize("f, inputs", ALL_CASES)
def test_forward_matches_numpy(f, inputs):
    with use_dtype(numpy.float64):
        got = f(E, *[Array(x) for x in inputs])
    want = f(R, *inputs)
    assert isinstance(got, Array)
    assert got.dtype == numpy.float64
    assert got.shape == numpy.shape(want)
    numpy.testing.assert_allclose(got.data, want, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("f, inputs", ALL_CASES)
def test_gradient_matches_finite_differences(f, inputs):
    assert_grads(lambda *xs: f(E, *xs), *inputs)


def test_every_differentiable_op_is_checked():
    """A new op in ops.py must get a row above: list the ops the table exercises by name."""
    checked = {"add", "subtract", "multiply", "divide", "negative", "power", "maximum",
               "minimum", "exp", "log", "sqrt", "tanh", "sigmoid", "relu", "matmul", "dot",
               "sum", "mean", "max", "reshape", "transpose", "getitem", "log_softmax",
               "softmax_cross_entropy", "linear", "dropout", "abs", "sin", "cos", "sinh",
               "cosh", "clip", "_where", "expand_dims", "squeeze", "_concatenate", "norm",
               "pick", "square", "cumsum", "broadcast_to"}
    differentiable = {name for name, value in vars(ops).items()
                      if callable(value) and getattr(value, "__wrapped__", None) is not None}
    differentiable.add("dot")
    assert differentiable <= checked, f"ops without a gradient check: {differentiable - checked}"


# ---- the chapter's network and loss (tests/conftest.py writes them as the chapter does) -----
def test_chapter_net_and_loss_gradient(chapter):
    rng = numpy.random.default_rng(7)
    num_hiddens, batch = 4, 6  # few hidden units: the finite differences visit every weight
    X = rng.uniform(0, 1, (batch, 1, 28, 28))
    y = rng.integers(0, chapter.num_outputs, batch)
    params = [rng.normal(scale=0.01, size=(chapter.num_inputs, num_hiddens)),
              rng.normal(scale=0.1, size=num_hiddens),
              rng.normal(scale=0.01, size=(num_hiddens, chapter.num_outputs)),
              numpy.zeros(chapter.num_outputs)]
    assert_grads(lambda *p: ops.softmax_cross_entropy(chapter.net(*p)(Array(X)), y), *params)


def test_mlp_class_gradient_two_hidden_layers():
    """The package's MLP (what `scratchmlp train` trains) with the mean loss: 49 inputs (7x7
    images, so the finite differences stay quick), two hidden layers, 10 classes."""
    from scratchmlp.nn import MLP, SoftmaxCrossEntropyLoss
    rng = numpy.random.default_rng(8)
    X = rng.uniform(0, 1, (5, 1, 7, 7))
    y = rng.integers(0, 10, 5)
    with use_dtype(numpy.float64):
        model = MLP(49, [8, 6], 10, init="he", seed=3, dtype=numpy.float64)
    loss = SoftmaxCrossEntropyLoss()

    def objective(*params):
        model.params[:] = params  # the layers read their parameters from this list
        return loss(model(Array(X)), y).mean()

    assert_grads(objective, *[p.data.copy() for p in model.params])


def test_the_checker_catches_a_wrong_gradient_rule():
    from gradcheck import check_grads
    from scratchmlp.engine.ops import op

    @op
    def square_missing_factor_2(a):
        return a * a, (lambda g: g * a,)  # d(a^2)/da is 2a: this rule is wrong by half

    x = numpy.random.default_rng(1).uniform(0.5, 1.5, (3, 2))
    assert check_grads(square_missing_factor_2, x) > 0.1
