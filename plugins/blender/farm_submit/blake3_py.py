"""BLAKE3 in Python, for Blender builds that have no ``blake3`` module.

This follows the reference implementation of the BLAKE3 paper (chunk state,
chaining-value stack, root output) for the default hash mode with a 32-byte
output, which is how the coordinator names blobs.

Two compression back ends give identical results:

* plain ``int`` arithmetic, always available, about 0.7 MB/s;
* NumPy, when importable (Blender's official builds bundle it): whole
  power-of-two subtrees of complete chunks are compressed side by side, one
  array lane per chunk and then per parent node, about 40 MB/s.

Only :class:`Hasher` (``update``/``hexdigest``) and :func:`hexdigest` are
meant for callers.
"""

import struct

try:
    import numpy
except ImportError:  # Blender builds without NumPy use the int back end.
    numpy = None

BLOCK_LEN = 64
CHUNK_LEN = 1024

CHUNK_START = 1 << 0
CHUNK_END = 1 << 1
PARENT = 1 << 2
ROOT = 1 << 3

MASK = 0xFFFFFFFF

_BLOCK_WORDS = struct.Struct("<16I")

IV = (
    0x6A09E667, 0xBB67AE85, 0x3C6EF372, 0xA54FF53A,
    0x510E527F, 0x9B05688C, 0x1F83D9AB, 0x5BE0CD19,
)

MSG_PERMUTATION = (2, 6, 3, 10, 7, 0, 4, 13, 1, 11, 12, 5, 9, 14, 15, 8)


def _schedules():
    """The message word order of each of the 7 rounds."""
    order = list(range(16))
    rounds = []
    for _ in range(7):
        rounds.append(tuple(order))
        order = [order[i] for i in MSG_PERMUTATION]
    return tuple(rounds)


SCHEDULE = _schedules()

# Smallest batch of chunks worth handing to NumPy (below it, call overhead
# outweighs the lanes), and the largest, which bounds the memory used.
NUMPY_MIN_CHUNKS = 16
NUMPY_MAX_CHUNKS = 4096


def compress(cv, block, counter, block_len, flags):
    """The BLAKE3 compression function on ints: 16 output words.

    ``cv`` is 8 words, ``block`` 16 words (little-endian from the bytes).
    """
    v0, v1, v2, v3, v4, v5, v6, v7 = cv
    v8, v9, v10, v11 = IV[0], IV[1], IV[2], IV[3]
    v12 = counter & MASK
    v13 = (counter >> 32) & MASK
    v14 = block_len
    v15 = flags
    for s in SCHEDULE:
        m = [block[i] for i in s]
        # Columns.
        v0 = (v0 + v4 + m[0]) & MASK
        v12 ^= v0
        v12 = ((v12 >> 16) | (v12 << 16)) & MASK
        v8 = (v8 + v12) & MASK
        v4 ^= v8
        v4 = ((v4 >> 12) | (v4 << 20)) & MASK
        v0 = (v0 + v4 + m[1]) & MASK
        v12 ^= v0
        v12 = ((v12 >> 8) | (v12 << 24)) & MASK
        v8 = (v8 + v12) & MASK
        v4 ^= v8
        v4 = ((v4 >> 7) | (v4 << 25)) & MASK

        v1 = (v1 + v5 + m[2]) & MASK
        v13 ^= v1
        v13 = ((v13 >> 16) | (v13 << 16)) & MASK
        v9 = (v9 + v13) & MASK
        v5 ^= v9
        v5 = ((v5 >> 12) | (v5 << 20)) & MASK
        v1 = (v1 + v5 + m[3]) & MASK
        v13 ^= v1
        v13 = ((v13 >> 8) | (v13 << 24)) & MASK
        v9 = (v9 + v13) & MASK
        v5 ^= v9
        v5 = ((v5 >> 7) | (v5 << 25)) & MASK

        v2 = (v2 + v6 + m[4]) & MASK
        v14 ^= v2
        v14 = ((v14 >> 16) | (v14 << 16)) & MASK
        v10 = (v10 + v14) & MASK
        v6 ^= v10
        v6 = ((v6 >> 12) | (v6 << 20)) & MASK
        v2 = (v2 + v6 + m[5]) & MASK
        v14 ^= v2
        v14 = ((v14 >> 8) | (v14 << 24)) & MASK
        v10 = (v10 + v14) & MASK
        v6 ^= v10
        v6 = ((v6 >> 7) | (v6 << 25)) & MASK

        v3 = (v3 + v7 + m[6]) & MASK
        v15 ^= v3
        v15 = ((v15 >> 16) | (v15 << 16)) & MASK
        v11 = (v11 + v15) & MASK
        v7 ^= v11
        v7 = ((v7 >> 12) | (v7 << 20)) & MASK
        v3 = (v3 + v7 + m[7]) & MASK
        v15 ^= v3
        v15 = ((v15 >> 8) | (v15 << 24)) & MASK
        v11 = (v11 + v15) & MASK
        v7 ^= v11
        v7 = ((v7 >> 7) | (v7 << 25)) & MASK

        # Diagonals.
        v0 = (v0 + v5 + m[8]) & MASK
        v15 ^= v0
        v15 = ((v15 >> 16) | (v15 << 16)) & MASK
        v10 = (v10 + v15) & MASK
        v5 ^= v10
        v5 = ((v5 >> 12) | (v5 << 20)) & MASK
        v0 = (v0 + v5 + m[9]) & MASK
        v15 ^= v0
        v15 = ((v15 >> 8) | (v15 << 24)) & MASK
        v10 = (v10 + v15) & MASK
        v5 ^= v10
        v5 = ((v5 >> 7) | (v5 << 25)) & MASK

        v1 = (v1 + v6 + m[10]) & MASK
        v12 ^= v1
        v12 = ((v12 >> 16) | (v12 << 16)) & MASK
        v11 = (v11 + v12) & MASK
        v6 ^= v11
        v6 = ((v6 >> 12) | (v6 << 20)) & MASK
        v1 = (v1 + v6 + m[11]) & MASK
        v12 ^= v1
        v12 = ((v12 >> 8) | (v12 << 24)) & MASK
        v11 = (v11 + v12) & MASK
        v6 ^= v11
        v6 = ((v6 >> 7) | (v6 << 25)) & MASK

        v2 = (v2 + v7 + m[12]) & MASK
        v13 ^= v2
        v13 = ((v13 >> 16) | (v13 << 16)) & MASK
        v8 = (v8 + v13) & MASK
        v7 ^= v8
        v7 = ((v7 >> 12) | (v7 << 20)) & MASK
        v2 = (v2 + v7 + m[13]) & MASK
        v13 ^= v2
        v13 = ((v13 >> 8) | (v13 << 24)) & MASK
        v8 = (v8 + v13) & MASK
        v7 ^= v8
        v7 = ((v7 >> 7) | (v7 << 25)) & MASK

        v3 = (v3 + v4 + m[14]) & MASK
        v14 ^= v3
        v14 = ((v14 >> 16) | (v14 << 16)) & MASK
        v9 = (v9 + v14) & MASK
        v4 ^= v9
        v4 = ((v4 >> 12) | (v4 << 20)) & MASK
        v3 = (v3 + v4 + m[15]) & MASK
        v14 ^= v3
        v14 = ((v14 >> 8) | (v14 << 24)) & MASK
        v9 = (v9 + v14) & MASK
        v4 ^= v9
        v4 = ((v4 >> 7) | (v4 << 25)) & MASK
    return (
        v0 ^ v8, v1 ^ v9, v2 ^ v10, v3 ^ v11,
        v4 ^ v12, v5 ^ v13, v6 ^ v14, v7 ^ v15,
        v8 ^ cv[0], v9 ^ cv[1], v10 ^ cv[2], v11 ^ cv[3],
        v12 ^ cv[4], v13 ^ cv[5], v14 ^ cv[6], v15 ^ cv[7],
    )


def _words(data):
    """16 little-endian words of a block of up to 64 bytes (zero padded)."""
    if len(data) < BLOCK_LEN:
        data = bytes(data) + bytes(BLOCK_LEN - len(data))
    return _BLOCK_WORDS.unpack(data)


class _Output:
    """What the last compression of a node needs, before knowing whether the
    node is the root (section 2.6 of the paper)."""

    __slots__ = ("cv", "block", "counter", "block_len", "flags")

    def __init__(self, cv, block, counter, block_len, flags):
        self.cv = cv
        self.block = block
        self.counter = counter
        self.block_len = block_len
        self.flags = flags

    def chaining_value(self):
        """The node's chaining value, as a non-root node."""
        return compress(
            self.cv, self.block, self.counter, self.block_len, self.flags
        )[:8]

    def root_bytes(self):
        """The 32-byte root hash."""
        words = compress(
            self.cv, self.block, 0, self.block_len, self.flags | ROOT
        )[:8]
        return b"".join(w.to_bytes(4, "little") for w in words)


def _parent_output(left, right):
    """The output of a parent node over two child chaining values."""
    return _Output(IV, left + right, 0, BLOCK_LEN, PARENT)


def _chunk_output(data, counter):
    """The output of a chunk of 1 to 1024 bytes (or the empty input)."""
    cv = IV
    blocks = max(1, (len(data) + BLOCK_LEN - 1) // BLOCK_LEN)
    for i in range(blocks - 1):
        flags = CHUNK_START if i == 0 else 0
        block = _words(data[i * BLOCK_LEN:(i + 1) * BLOCK_LEN])
        cv = compress(cv, block, counter, BLOCK_LEN, flags)[:8]
    last = data[(blocks - 1) * BLOCK_LEN:]
    flags = CHUNK_END | (CHUNK_START if blocks == 1 else 0)
    return _Output(cv, _words(last), counter, len(last), flags)


def _subtree_cv_int(data, counter):
    """Chaining value of a complete subtree of whole chunks (a power of two
    of them), on ints."""
    cvs = [
        _chunk_output(data[i:i + CHUNK_LEN], counter + i // CHUNK_LEN)
        .chaining_value()
        for i in range(0, len(data), CHUNK_LEN)
    ]
    while len(cvs) > 1:
        cvs = [
            _parent_output(cvs[i], cvs[i + 1]).chaining_value()
            for i in range(0, len(cvs), 2)
        ]
    return cvs[0]


def _rotr(x, n):
    """Rotate every uint32 lane of ``x`` right by ``n``."""
    return (x >> numpy.uint32(n)) | (x << numpy.uint32(32 - n))


def _compress_lanes(cv, m, counter_lo, counter_hi, block_len, flags):
    """:func:`compress` on NumPy lanes, returning the 8 chaining words.

    ``cv`` and ``m`` are lists of uint32 arrays (8 and 16 of them), the
    counters arrays too; ``block_len`` and ``flags`` are shared ints.
    """
    v = list(cv) + [
        numpy.full_like(counter_lo, IV[0]), numpy.full_like(counter_lo, IV[1]),
        numpy.full_like(counter_lo, IV[2]), numpy.full_like(counter_lo, IV[3]),
        counter_lo, counter_hi,
        numpy.full_like(counter_lo, block_len), numpy.full_like(counter_lo, flags),
    ]
    steps = (
        (0, 4, 8, 12, 0, 1), (1, 5, 9, 13, 2, 3),
        (2, 6, 10, 14, 4, 5), (3, 7, 11, 15, 6, 7),
        (0, 5, 10, 15, 8, 9), (1, 6, 11, 12, 10, 11),
        (2, 7, 8, 13, 12, 13), (3, 4, 9, 14, 14, 15),
    )
    for s in SCHEDULE:
        for a, b, c, d, x, y in steps:
            va = v[a] + v[b] + m[s[x]]
            vd = _rotr(v[d] ^ va, 16)
            vc = v[c] + vd
            vb = _rotr(v[b] ^ vc, 12)
            va = va + vb + m[s[y]]
            vd = _rotr(vd ^ va, 8)
            vc = vc + vd
            vb = _rotr(vb ^ vc, 7)
            v[a], v[b], v[c], v[d] = va, vb, vc, vd
    return [v[i] ^ v[i + 8] for i in range(8)]


def _subtree_cv_numpy(data, counter):
    """Chaining value of a complete subtree of whole chunks (a power of two
    of them), compressing all chunks, then each tree level, side by side."""
    chunks = len(data) // CHUNK_LEN
    words = numpy.frombuffer(data, dtype="<u4").reshape(chunks, 16, 16)
    index = numpy.arange(chunks, dtype=numpy.uint64) + numpy.uint64(counter)
    lo = (index & numpy.uint64(MASK)).astype(numpy.uint32)
    hi = (index >> numpy.uint64(32)).astype(numpy.uint32)
    cv = [numpy.full(chunks, word, dtype=numpy.uint32) for word in IV]
    for block in range(16):
        flags = (CHUNK_START if block == 0 else 0) | (
            CHUNK_END if block == 15 else 0
        )
        m = [numpy.ascontiguousarray(words[:, block, i]) for i in range(16)]
        cv = _compress_lanes(cv, m, lo, hi, BLOCK_LEN, flags)
    while chunks > 1:
        chunks //= 2
        zero = numpy.zeros(chunks, dtype=numpy.uint32)
        m = [w[0::2] for w in cv] + [w[1::2] for w in cv]
        key = [numpy.full(chunks, word, dtype=numpy.uint32) for word in IV]
        cv = _compress_lanes(key, m, zero, zero, BLOCK_LEN, PARENT)
    return tuple(int(w[0]) for w in cv)


def _subtree_cv(data, counter):
    """Chaining value of a complete subtree, on the fastest back end."""
    if numpy is not None and len(data) // CHUNK_LEN >= NUMPY_MIN_CHUNKS:
        return _subtree_cv_numpy(data, counter)
    return _subtree_cv_int(data, counter)


class Hasher:
    """An incremental BLAKE3 hasher: ``update`` any number of times, then
    ``digest`` or ``hexdigest`` (which do not consume the state)."""

    def __init__(self, data=b""):
        self._buffer = bytearray()
        self._chunks = 0
        self._stack = []
        if data:
            self.update(data)

    def _merge(self, chunks):
        """Merge the stack's completed pairs: after ``chunks`` whole chunks
        it holds one subtree per set bit of ``chunks``."""
        while len(self._stack) > bin(chunks).count("1"):
            right = self._stack.pop()
            left = self._stack.pop()
            self._stack.append(_parent_output(left, right).chaining_value())

    def update(self, data):
        """Add ``data`` (bytes-like) to the input."""
        self._buffer += data
        # Whole chunks followed by more input are never the root; the last
        # chunk stays buffered until the digest.
        ready = (len(self._buffer) - 1) // CHUNK_LEN
        if ready <= 0:
            return self
        done = 0
        with memoryview(self._buffer) as view:
            while ready > 0:
                # The largest power-of-two subtree that starts here and fits.
                size = 1
                while (
                    size * 2 <= min(ready, NUMPY_MAX_CHUNKS)
                    and self._chunks % (size * 2) == 0
                ):
                    size *= 2
                with view[done * CHUNK_LEN:(done + size) * CHUNK_LEN] as piece:
                    cv = _subtree_cv(piece, self._chunks)
                self._merge(self._chunks)
                self._stack.append(cv)
                self._chunks += size
                done += size
                ready -= size
        del self._buffer[:done * CHUNK_LEN]
        self._merge(self._chunks)
        return self

    def digest(self):
        """The 32-byte hash of everything added so far."""
        output = _chunk_output(bytes(self._buffer), self._chunks)
        for cv in reversed(self._stack):
            output = _parent_output(cv, output.chaining_value())
        return output.root_bytes()

    def hexdigest(self):
        """The hash as 64 lowercase hex digits."""
        return self.digest().hex()


def hexdigest(data):
    """The BLAKE3 hash of ``data`` as 64 lowercase hex digits."""
    return Hasher(data).hexdigest()
