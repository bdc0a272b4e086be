"""Training-loop pieces behind rnnkit.models: graph execution, data batching, progress bar."""
