"""A small CNN trained on scikit-learn's bundled digits (1797 8 x 8 images, no download), for
the interpretability tests: seeded, CPU, one thread, a few seconds. The data split and the CNN
are those of examples/interpret_digits.py, loaded by path (the examples folder is not a
package), so that the tests check the example's model and the two cannot drift apart."""
import functools
import importlib.util
from pathlib import Path

_EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "interpret_digits.py"


@functools.lru_cache(maxsize=None)
def _example():
    spec = importlib.util.spec_from_file_location("_interpret_digits_example", _EXAMPLE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def digits_cnn(seed=0, epochs=8):
    """(net, X_train, y_train, X_test, y_test, test_accuracy): the example's CNN trained on its
    70/30 split, in eval mode, layers conv1, conv2, fc1 (64 units, the penultimate layer) and
    fc2; torch's global generator and thread count are restored afterwards."""
    import torch

    example = _example()
    X_tr, y_tr, X_te, y_te = example.digits_split(seed)
    old = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        with torch.random.fork_rng():  # train_cnn seeds torch's global generator
            net = example.train_cnn(X_tr, y_tr, seed, epochs)
        with torch.no_grad():
            acc = float((net(torch.from_numpy(X_te)).argmax(1).numpy() == y_te).mean())
    finally:
        torch.set_num_threads(old)
    return net, X_tr, y_tr, X_te, y_te, acc
