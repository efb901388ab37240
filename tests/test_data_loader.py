"""The loader's background prefetching: the same batches as reading in the consumer's
thread, read ahead by a bounded amount, and a read error raised where the batches are used."""
import threading

import numpy as np
import pytest
import torch

from arcnn_lib.data.loader import EpochOrder, iterate

N, S = 23, 8
RNG = np.random.default_rng(0)
IMAGES = RNG.integers(0, 256, size=(N, S, S), dtype=np.uint8)
AGES = RNG.uniform(0, 228, N)
MALE = RNG.random(N) < 0.5
CPU = torch.device("cpu")


def _batches():
    return EpochOrder(np.arange(N), 4, seed=1, shuffle=True, drop_last=False).batches(0)


@pytest.mark.parametrize("prefetch", [1, 2, 5])
def test_prefetching_yields_what_reading_in_place_yields(prefetch):
    plain = list(iterate(IMAGES, AGES, MALE, _batches(), CPU, prefetch=0))
    ahead = list(iterate(IMAGES, AGES, MALE, _batches(), CPU, prefetch=prefetch))
    assert len(plain) == len(ahead) == len(_batches())
    for a, b in zip(plain, ahead):
        assert torch.equal(a.images, b.images) and torch.equal(a.rows, b.rows)
        assert torch.equal(a.age, b.age) and torch.equal(a.male, b.male)
    first = plain[0]
    assert first.images.shape == (4, 1, S, S) and first.images.dtype == torch.uint8
    assert torch.equal(first.images[:, 0], torch.from_numpy(IMAGES[first.rows.numpy()]))
    assert list(first.rows) == sorted(first.rows.tolist())  # rows sorted within a batch


class CountingImages:
    """An images array that counts the batches read and can fail on the k-th one."""

    def __init__(self, fail_at=None):
        self.reads, self.fail_at, self.lock = 0, fail_at, threading.Lock()

    def __getitem__(self, rows):
        with self.lock:
            self.reads += 1
            if self.fail_at is not None and self.reads == self.fail_at:
                raise OSError("disk read failed")
        return IMAGES[rows]


def test_reads_ahead_by_a_bounded_amount():
    images = CountingImages()
    it = iterate(images, AGES, MALE, _batches(), CPU, prefetch=2)
    next(it)
    for _ in range(100):  # let the worker fill the queue
        if images.reads >= 4:
            break
        threading.Event().wait(0.01)
    # one batch consumed, two waiting in the queue, one read and blocked on a full queue
    assert images.reads <= 4 < len(_batches())
    it.close()  # stops the worker; no batch is read after it has returned
    reads = images.reads
    threading.Event().wait(0.05)
    assert images.reads == reads


@pytest.mark.parametrize("prefetch", [0, 2])
def test_a_read_error_is_raised_in_the_consumer(prefetch):
    it = iterate(CountingImages(fail_at=3), AGES, MALE, _batches(), CPU, prefetch=prefetch)
    got = [next(it), next(it)]
    with pytest.raises(OSError, match="disk read failed"):
        next(it)
    assert len(got) == 2


def test_start_skips_batches_for_a_mid_epoch_resume():
    full = list(iterate(IMAGES, AGES, MALE, _batches(), CPU))
    rest = list(iterate(IMAGES, AGES, MALE, _batches(), CPU, start=2))
    assert [b.rows.tolist() for b in rest] == [b.rows.tolist() for b in full[2:]]
