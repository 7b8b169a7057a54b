"""The pure Python BLAKE3 against the ``blake3`` module (``pip install
blake3``), on both of its back ends."""

import os
import random
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

from farm_submit import blake3_py, client  # noqa: E402

try:
    import blake3
except ImportError:
    blake3 = None

LENGTHS = (0, 1, 63, 64, 65, 1023, 1024, 1025, 2048, 2049, 3072, 3073,
           31744, 102400)


def _data(n, seed):
    """``n`` reproducible random bytes."""
    return random.Random(seed).randbytes(n)


@unittest.skipIf(blake3 is None, "pip install blake3 to compare against it")
class PureBlake3(unittest.TestCase):
    """blake3_py gives the reference hashes."""

    def _both_back_ends(self, check):
        saved = blake3_py.numpy
        try:
            for numpy in ((saved, None) if saved is not None else (None,)):
                blake3_py.numpy = numpy
                with self.subTest(numpy=numpy is not None):
                    check()
        finally:
            blake3_py.numpy = saved

    def test_lengths_at_chunk_and_tree_edges(self):
        def check():
            for n in LENGTHS:
                data = _data(n, n)
                self.assertEqual(
                    blake3_py.hexdigest(data), blake3.blake3(data).hexdigest(),
                    "%d bytes" % n,
                )
        self._both_back_ends(check)

    def test_one_megabyte(self):
        data = _data(1 << 20, "1 MB")
        want = blake3.blake3(data).hexdigest()
        self._both_back_ends(
            lambda: self.assertEqual(blake3_py.hexdigest(data), want)
        )

    def test_many_subtrees_with_numpy(self):
        # 5 MiB + 7: several whole NumPy batches, then smaller subtrees.
        if blake3_py.numpy is None:
            self.skipTest("NumPy is not installed")
        data = _data(5 * 1024 * 1024 + 7, "big")
        self.assertEqual(blake3_py.hexdigest(data), blake3.blake3(data).hexdigest())

    def test_incremental_updates_of_every_size(self):
        data = _data(70000, "pieces")
        want = blake3.blake3(data).hexdigest()

        def check():
            for first in (1, 1023, 1024, 1025, 4096, 33333):
                hasher = blake3_py.Hasher()
                at, step = 0, first
                while at < len(data):
                    hasher.update(data[at:at + step])
                    at += step
                    step = step * 2 + 1
                self.assertEqual(hasher.hexdigest(), want, "first %d" % first)

        self._both_back_ends(check)

    def test_digest_does_not_consume(self):
        hasher = blake3_py.Hasher(b"abc")
        self.assertEqual(hasher.hexdigest(), hasher.hexdigest())
        hasher.update(b"def")
        self.assertEqual(hasher.hexdigest(), blake3.blake3(b"abcdef").hexdigest())

    def test_hash_file_without_the_module(self):
        data = _data(300000, "file")
        with tempfile.NamedTemporaryFile(delete=False) as file:
            file.write(data)
        self.addCleanup(os.remove, file.name)
        saved = client._blake3
        client._blake3 = None
        try:
            seen = []
            self.assertEqual(
                client.hash_file(file.name, seen.append),
                (blake3.blake3(data).hexdigest(), len(data)),
            )
            self.assertEqual(sum(seen), len(data))
        finally:
            client._blake3 = saved
        self.assertEqual(client.hash_file(file.name)[0],
                         blake3.blake3(data).hexdigest())


if __name__ == "__main__":
    unittest.main()
