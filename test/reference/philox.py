"""Philox4x32-10 (Salmon et al., SC'11) in numpy, and shear's gate-noise
keying: element i of stream s at step t under seed k draws word i%4 of
Philox(counter = (i/4, s, t_lo, t_hi), key = (k_lo, k_hi))."""
import numpy as np

M0, M1, W0, W1 = 0xD2511F53, 0xCD9E8D57, 0x9E3779B9, 0xBB67AE85
MASK = 0xFFFFFFFF


def philox4x32(c0, c1, c2, c3, k0, k1):
    c0, c1, c2, c3 = (np.asarray(x, dtype=np.uint64) for x in (c0, c1, c2, c3))
    k0, k1 = np.uint64(k0), np.uint64(k1)
    for _ in range(10):
        p0 = np.uint64(M0) * c0
        p1 = np.uint64(M1) * c2
        hi0, lo0 = p0 >> np.uint64(32), p0 & np.uint64(MASK)
        hi1, lo1 = p1 >> np.uint64(32), p1 & np.uint64(MASK)
        c0, c1, c2, c3 = hi1 ^ c1 ^ k0, lo1, hi0 ^ c3 ^ k1, lo0
        k0 = (k0 + np.uint64(W0)) & np.uint64(MASK)
        k1 = (k1 + np.uint64(W1)) & np.uint64(MASK)
    return c0, c1, c2, c3


def uniform(seed, step, stream, n):
    i = np.arange(n, dtype=np.uint64)
    words = philox4x32(i >> np.uint64(2), np.full(n, stream), np.full(n, step & MASK),
                       np.full(n, step >> 32), seed & MASK, seed >> 32)
    pick = np.choose((i & np.uint64(3)).astype(np.int64), words)
    return (pick.astype(np.float64) + 0.5) / 4294967296.0
