"""A small CNN trained on scikit-learn's bundled digits (1797 8 x 8 images, no download), for
the interpretability tests: seeded, CPU, one thread, a few seconds."""
import numpy as np


def digits_split(seed=0, test_size=0.3):
    """Digits scaled to [0, 1] as (n, 1, 8, 8) float32, split 70/30 with a seeded permutation:
    (X_train, y_train, X_test, y_test)."""
    from sklearn.datasets import load_digits

    d = load_digits()
    X = (d.images / 16.0).astype(np.float32)[:, None]
    y = d.target.astype(np.int64)
    perm = np.random.default_rng(seed).permutation(len(y))
    n_test = int(round(test_size * len(y)))
    te, tr = perm[:n_test], perm[n_test:]
    return X[tr], y[tr], X[te], y[te]


def digits_cnn(seed=0, epochs=8):
    """(net, X_train, y_train, X_test, y_test, test_accuracy): the trained net in eval mode,
    layers conv1, conv2, fc1 (64 units, the penultimate layer) and fc2."""
    import torch
    from torch import nn

    X_tr, y_tr, X_te, y_te = digits_split(seed)
    old = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        with torch.random.fork_rng():
            torch.manual_seed(seed)
            net = nn.Sequential()
            net.add_module("conv1", nn.Conv2d(1, 8, 3, padding=1))
            net.add_module("relu1", nn.ReLU())
            net.add_module("conv2", nn.Conv2d(8, 16, 3, padding=1))
            net.add_module("relu2", nn.ReLU())
            net.add_module("pool", nn.MaxPool2d(2))
            net.add_module("flat", nn.Flatten())
            net.add_module("fc1", nn.Linear(16 * 16, 64))
            net.add_module("relu3", nn.ReLU())
            net.add_module("drop", nn.Dropout(0.2))
            net.add_module("fc2", nn.Linear(64, 10))
            opt = torch.optim.Adam(net.parameters(), lr=3e-3)
            Xt, yt = torch.from_numpy(X_tr), torch.from_numpy(y_tr)
            g = torch.Generator().manual_seed(seed)
            for _ in range(epochs):
                for idx in torch.randperm(len(yt), generator=g).split(64):
                    loss = nn.functional.cross_entropy(net(Xt[idx]), yt[idx])
                    opt.zero_grad()
                    loss.backward()
                    opt.step()
            net.eval()
            with torch.no_grad():
                acc = float((net(torch.from_numpy(X_te)).argmax(1).numpy() == y_te).mean())
    finally:
        torch.set_num_threads(old)
    return net, X_tr, y_tr, X_te, y_te, acc
