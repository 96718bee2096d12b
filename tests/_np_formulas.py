"""Plain NumPy float64 formulas and analytic gradients the registry tests compare against.

Textbook definitions (PyTorch's conventions: class axis 1), written out independently of any
framework under test:

- log_softmax(x)_i = x_i - m - log(sum_j exp(x_j - m)), m = max_j x_j; softmax = exp(log_softmax)
- cross entropy with probabilities t: -sum_c t_c log_softmax(x)_c; gradient softmax(x) sum_c t_c - t
- binary cross entropy with logits and pos_weight q:
  (1 - t) x + (1 + (q - 1) t) softplus(-x); gradient (1 - t) - (1 + (q - 1) t) sigmoid(-x)
- sigmoid focal loss (torchvision): ce (1 - p_t)^gamma alpha_t, p_t = p t + (1 - p)(1 - t)
- softmax focal loss (Keras): -sum_c alpha (1 - p_c)^gamma t_c log p_c
- KL divergence: t (log t - x) with 0 log 0 = 0; gradient -t
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np


def log_softmax(x: np.ndarray, axis: int = -1) -> np.ndarray:
    m = np.max(x, axis=axis, keepdims=True)
    return x - m - np.log(np.sum(np.exp(x - m), axis=axis, keepdims=True))


def softmax(x: np.ndarray, axis: int = -1) -> np.ndarray:
    return np.exp(log_softmax(x, axis))


def logsumexp(x: np.ndarray, axis: int = -1) -> np.ndarray:
    m = np.max(x, axis=axis, keepdims=True)
    return np.squeeze(m, axis) + np.log(np.sum(np.exp(x - m), axis=axis))


def one_hot(target: np.ndarray, classes: int) -> np.ndarray:
    """(N, d...) indices -> (N, C, d...) one-hot (rows of out-of-range indices are zero)."""
    eye = np.eye(classes)
    valid = (target >= 0) & (target < classes)
    return np.moveaxis(eye[np.where(valid, target, 0)] * valid[..., None], -1, 1)


def ce_probs(x: np.ndarray, t: np.ndarray) -> np.ndarray:
    return -np.sum(t * log_softmax(x, 1), axis=1)


def ce_probs_grad(x: np.ndarray, t: np.ndarray, g: np.ndarray) -> np.ndarray:
    return np.expand_dims(g, 1) * (softmax(x, 1) * np.sum(t, axis=1, keepdims=True) - t)


def softplus(x: np.ndarray) -> np.ndarray:
    return np.maximum(x, 0) + np.log1p(np.exp(-np.abs(x)))


def sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def bce_logits(x: np.ndarray, t: np.ndarray, q: np.ndarray | float = 1.0) -> np.ndarray:
    return (1 - t) * x + (1 + (q - 1) * t) * softplus(-x)


def bce_logits_grad(x: np.ndarray, t: np.ndarray, q: np.ndarray | float = 1.0) -> np.ndarray:
    return (1 - t) - (1 + (q - 1) * t) * sigmoid(-x)


def sigmoid_focal(x: np.ndarray, t: np.ndarray, alpha: float, gamma: float) -> np.ndarray:
    p = sigmoid(x)
    p_t = p * t + (1 - p) * (1 - t)
    loss = bce_logits(x, t) * (1 - p_t) ** gamma
    if alpha >= 0:
        loss = loss * (alpha * t + (1 - alpha) * (1 - t))
    return loss


def softmax_focal(x: np.ndarray, t: np.ndarray, alpha: float, gamma: float) -> np.ndarray:
    p = softmax(x, 1)
    return -np.sum(alpha * (1 - p) ** gamma * t * np.log(p), axis=1)


def kl_elementwise(x: np.ndarray, t: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(t == 0, 0.0, t * (np.log(np.where(t == 0, 1.0, t)) - x))


def central_difference(
    f: Callable[[np.ndarray], np.ndarray], x: np.ndarray, g: np.ndarray, h: float = 1e-6
) -> np.ndarray:
    """sum(g * f(x)) differentiated elementwise by central differences (float64)."""
    grad = np.zeros_like(x)
    flat = grad.reshape(-1)
    for i in range(x.size):
        step = np.zeros(x.size)
        step[i] = h
        step = step.reshape(x.shape)
        flat[i] = (np.sum(g * f(x + step)) - np.sum(g * f(x - step))) / (2 * h)
    return grad
