"""
Local-global MI map and decision bottleneck
===========================================

The local-global MI map and the decision bottleneck of a small CNN trained on synthetic images.

Each 16 x 16 image holds noise and one bright 4 x 4 square; the label says whether the
square is in the left or the right half. A small CNN is trained (CPU, a few seconds); forward
hooks pull the local features (second convolution, 8 x 8 positions x 8 channels) and the
global representation (first dense layer); then

* ``local_global_map``: the information the global representation holds about each position;
* ``bottleneck_map``: the information the classifier head needs from each position;

are drawn over a few input images. No downloads; needs ``pip install "fastmi[torch,plot]"``::

    python examples/local_global_cnn.py --out maps.png

With ``FASTMI_EXAMPLE_SMALL=1`` (as in the documentation's gallery) it uses 512 images and shorter
training: quicker, with noisier maps.
"""
import argparse
import os
import tempfile
import time

import numpy as np
import torch
from torch import nn

from fastmi.interpret import collect_activations, plot_map, representation_decomposition, to_positions

SMALL = os.environ.get("FASTMI_EXAMPLE_SMALL") == "1"  # the docs' gallery: a quick, smaller run


def make_images(n, rng):
    images = 0.3 * rng.standard_normal((n, 1, 16, 16)).astype(np.float32)
    labels = rng.integers(0, 2, n)
    rows = rng.integers(0, 13, n)
    cols = rng.integers(0, 5, n) + 8 * labels  # left half for class 0, right half for class 1
    for i in range(n):
        images[i, 0, rows[i]:rows[i] + 4, cols[i]:cols[i] + 4] += 1.5
    return images, labels


class SmallCNN(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 8, 3, padding=1)
        self.conv2 = nn.Conv2d(8, 8, 3, padding=1, stride=2)   # local features: 8 x 8 positions
        self.fc1 = nn.Linear(8 * 8 * 8, 16)                     # global representation
        self.fc2 = nn.Linear(16, 2)

    def head(self, local):
        """Everything after conv2, on (B, positions, channels) features."""
        b = local.shape[0]
        z = torch.relu(local).transpose(1, 2).reshape(b, 8, 8, 8)
        return self.fc2(torch.relu(self.fc1(z.flatten(1))))

    def forward(self, x):
        z = self.conv2(torch.relu(self.conv1(x)))
        return self.fc2(torch.relu(self.fc1(torch.relu(z).flatten(1))))


class Head(nn.Module):
    def __init__(self, net):
        super().__init__()
        self.net = net

    def forward(self, local):
        return self.net.head(local)


def main(argv=None):
    p = argparse.ArgumentParser(description="Local-global MI map and decision bottleneck of a small CNN.")
    p.add_argument("--n", type=int, default=512 if SMALL else 1024)
    p.add_argument("--out", default=os.path.join(tempfile.gettempdir(), "local_global_cnn.png") if SMALL
                   else "local_global_cnn.png")
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)
    rng = np.random.default_rng(args.seed)
    torch.manual_seed(args.seed)
    if SMALL:
        torch.set_num_threads(1)  # tiny layers: one thread is the quickest on a busy machine
    images, labels = make_images(args.n, rng)
    net = SmallCNN()
    opt = torch.optim.Adam(net.parameters(), lr=3e-3)
    x_t, y_t = torch.from_numpy(images), torch.from_numpy(labels)
    t0 = time.perf_counter()
    for step in range(150 if SMALL else 300):
        idx = torch.from_numpy(rng.integers(0, args.n, 128))
        loss = nn.functional.cross_entropy(net(x_t[idx]), y_t[idx])
        opt.zero_grad()
        loss.backward()
        opt.step()
    with torch.no_grad():
        acc = (net(x_t).argmax(1) == y_t).float().mean().item()
    print(f"CNN trained in {time.perf_counter() - t0:.1f} s, training accuracy {acc:.3f}")

    acts = collect_activations(net, images, {"local": "conv2", "global": "fc1"})
    local, shape = to_positions(acts["local"])
    t0 = time.perf_counter()
    quick = dict(map_kwargs={"max_epochs": 40}) if SMALL else {}
    d = representation_decomposition(local, acts["global"], Head(net), labels, beta=0.01, rng=args.seed, **quick)
    print(f"maps in {time.perf_counter() - t0:.1f} s; bits per sample: total {d.summary['total'].sum():.2f} "
          f"(InfoNCE, summed over positions), decision {d.summary['decision'].sum():.2f}")

    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(3, 4, figsize=(12, 9), layout="constrained")
    for j in range(4):
        plot_map(images[j, 0], d.total[j], shape=shape, ax=axes[0, j], title=f"label {labels[j]}: total (bits)")
        plot_map(images[j, 0], d.decision[j], shape=shape, ax=axes[1, j], title="decision (bits)")
        plot_map(images[j, 0], d.redundant[j], shape=shape, ax=axes[2, j], title="redundant (bits)")
    fig.savefig(args.out)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
