"""What the training showcases share: writing a finished run's figure, history and weights."""
import json

import numpy as np


def save_run(history, arguments, plot):
    """Write ``<out>.png`` (``plot(history, path)``), ``<out>.json`` (the history without the
    weights, and the command line's ``arguments``) and ``<out>_weights.npy``, ``out`` being
    ``arguments.out``."""
    out = arguments.out
    plot(history, f"{out}.png")
    kept = {key: value for key, value in history.items() if key != "weights"}
    kept["arguments"] = vars(arguments)
    with open(f"{out}.json", "w") as f:
        json.dump(kept, f, indent=1)
    np.save(f"{out}_weights.npy", history["weights"])
