"""TimeDistributed: applies a layer to every time step by folding (batch, time) into one batch axis."""
from rnnkit.layers._gradients import for_trainable_weights
from rnnkit.layers._validation import expect_min_rank, float_input
from rnnkit.layers.wrapper import Wrapper


class TimeDistributed(Wrapper):
    def __init__(self, layer, **kwargs):
        super().__init__(layer, **kwargs)
        self.supports_masking = True

    @staticmethod
    def _step_shape(input_shape):
        batch, steps = input_shape[0], input_shape[1]
        folded = None if batch is None or steps is None else batch * steps
        return (folded,) + tuple(input_shape[2:])

    def build(self, input_shape):
        expect_min_rank(self.name, input_shape, 3)
        if not self.layer.built:
            self.layer.build(self._step_shape(input_shape))
        for variable in self.layer.weights:
            variable.path = f"{self.name}/{variable.path}"
        self.built = True

    def compute_output_shape(self, input_shape):
        step_output = self.layer.compute_output_shape((input_shape[0],) + tuple(input_shape[2:]))
        return (input_shape[0], input_shape[1]) + tuple(step_output[1:])

    def forward(self, inputs, *, training=False, mask=None):
        x = float_input(self.name, inputs)
        expect_min_rank(self.name, x.shape, 3)
        batch, steps = x.shape[:2]
        y, inner_ctx = self.layer.forward(x.reshape((batch * steps,) + x.shape[2:]), training=training, mask=None)
        return y.reshape((batch, steps) + y.shape[1:]), ((inner_ctx, batch, steps, x.shape) if training else None)

    def backward(self, ctx, d_outputs):
        inner_ctx, batch, steps, input_shape = ctx
        d_y = d_outputs.reshape((batch * steps,) + d_outputs.shape[2:])
        d_x, d_weights = self.layer.backward(inner_ctx, d_y)
        gradients = list(zip(self.layer.trainable_weights, d_weights))
        return d_x.reshape(input_shape), for_trainable_weights(self, gradients)
