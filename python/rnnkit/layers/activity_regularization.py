"""ActivityRegularization: its input unchanged, with Keras 3's L1L2 activity penalty on it (the penalty and its
gradient come from the engine, rnnkit.engine.graph.ActivityLosses, as for any layer's activity_regularizer)."""
from rnnkit import regularizers
from rnnkit.layers.steps_resizing import Identity


class ActivityRegularization(Identity):
    def __init__(self, l1=0.0, l2=0.0, **kwargs):
        kwargs.pop("activity_regularizer", None)  # written by l1 and l2
        super().__init__(activity_regularizer=regularizers.L1L2(l1=l1, l2=l2), **kwargs)
        self.l1, self.l2 = l1, l2

    def get_config(self):
        config = {key: value for key, value in super().get_config().items() if key != "activity_regularizer"}
        return {**config, "l1": self.l1, "l2": self.l2}
