"""Plain NumPy/SciPy oracles for the GMM-MI tests (independent of fastmi's kernels)."""
import numpy as np
from scipy.special import logsumexp
from scipy.stats import multivariate_normal


def gaussian_mi(cov, dx):
    """MI between the first dx and the remaining coordinates of a Gaussian with covariance cov."""
    cov = np.asarray(cov, dtype=float)
    _, ld = np.linalg.slogdet(cov)
    _, ldx = np.linalg.slogdet(cov[:dx, :dx])
    _, ldy = np.linalg.slogdet(cov[dx:, dx:])
    return 0.5 * (ldx + ldy - ld)


def mixture_logpdf(X, weights, means, covs):
    """log sum_k w_k N(X | mean_k, cov_k) with SciPy's multivariate normal."""
    comp = np.stack([np.log(w) + multivariate_normal(m, c).logpdf(X) for w, m, c in zip(weights, means, covs)])
    return logsumexp(comp.reshape(len(weights), -1), axis=0)


def sample_mixture(rng, n, weights, means, covs):
    comp = rng.choice(len(weights), size=n, p=weights)
    out = np.empty((n, len(means[0])))
    for k in range(len(weights)):
        idx = comp == k
        out[idx] = rng.multivariate_normal(means[k], covs[k], size=idx.sum())
    return out


def mixture_mi_reference(weights, means, covs, dx, n, rng, chunk=1_000_000):
    """MI of a Gaussian mixture between its first dx and remaining coordinates, by plain MC."""
    weights, means, covs = (np.asarray(a, dtype=float) for a in (weights, means, covs))
    total, done = 0.0, 0
    while done < n:
        m = min(chunk, n - done)
        X = sample_mixture(rng, m, weights, means, covs)
        lj = mixture_logpdf(X, weights, means, covs)
        lx = mixture_logpdf(X[:, :dx], weights, means[:, :dx], covs[:, :dx, :dx])
        ly = mixture_logpdf(X[:, dx:], weights, means[:, dx:], covs[:, dx:, dx:])
        total += (lj - lx - ly).sum()
        done += m
    return total / n


def numpy_em(X, weights, means, covs, n_iter, reg_covar):
    """Textbook EM (two-pass covariances, SciPy densities); returns params and per-iteration log-likelihoods."""
    w, mu, cov = weights.copy(), means.copy(), covs.copy()
    n, d = X.shape
    lls = []
    for _ in range(n_iter):
        comp = np.stack([np.log(w[k]) + multivariate_normal(mu[k], cov[k]).logpdf(X).reshape(-1)
                         for k in range(len(w))], axis=1)
        norm = logsumexp(comp, axis=1)
        lls.append(norm.mean())
        resp = np.exp(comp - norm[:, None])
        nk = resp.sum(axis=0) + 10 * np.finfo(float).eps
        w = nk / n
        w = w / w.sum()
        mu = resp.T @ X / nk[:, None]
        for k in range(len(w)):
            diff = X - mu[k]
            cov[k] = (resp[:, k, None] * diff).T @ diff / nk[k] + reg_covar * np.eye(d)
    return w, mu, cov, np.array(lls)
