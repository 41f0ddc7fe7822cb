"""A small, independent GGUF v2/v3 reader for the reference tests (numpy only).

Written from the GGUF specification, not from afm's C++ reader, so the two can disagree.
Supports the tensor types afm writes: F32, F16, BF16, Q8_0, and afm's balanced q4 / q2
(docs/model-format.md): blocks of 256 weights, an f16 scale s, then 32*B bytes of B-bit codes,
the code of weight i in byte i % (32*B) at bit B * (i // (32*B)); weight = s * (code - (2^B-1)/2).
"""
import struct

import numpy as np

_SCALARS = {0: "<B", 1: "<b", 2: "<H", 3: "<h", 4: "<I", 5: "<i", 6: "<f", 7: "<?",
            10: "<Q", 11: "<q", 12: "<d"}
GGML_F32, GGML_F16, GGML_Q8_0, GGML_BF16 = 0, 1, 8, 30
AFM_Q2, AFM_Q4 = 1000, 1001
BALANCED_BITS = {AFM_Q2: 2, AFM_Q4: 4}
AFM_PAL2, AFM_PAL4 = 1003, 1004
PALETTE_BITS = {AFM_PAL2: 2, AFM_PAL4: 4}


class Reader:
    def __init__(self, path):
        with open(path, "rb") as f:
            self.buf = f.read()
        self.pos = 0
        if self.buf[:4] != b"GGUF":
            raise ValueError(f"{path}: not a GGUF file")
        self.pos = 4
        self.version = self._u32()
        n_tensors, n_kv = self._u64(), self._u64()
        self.kv = {}
        for _ in range(n_kv):
            key = self._str()
            self.kv[key] = self._value(self._u32())
        self.tensors = {}
        for _ in range(n_tensors):
            name = self._str()
            n_dims = self._u32()
            dims = [self._u64() for _ in range(n_dims)]
            ttype = self._u32()
            offset = self._u64()
            self.tensors[name] = (dims, ttype, offset)
        align = self.kv.get("general.alignment", 32)
        self.data_start = (self.pos + align - 1) // align * align

    def _unpack(self, fmt):
        v = struct.unpack_from(fmt, self.buf, self.pos)[0]
        self.pos += struct.calcsize(fmt)
        return v

    def _u32(self):
        return self._unpack("<I")

    def _u64(self):
        return self._unpack("<Q")

    def _str(self):
        n = self._u64()
        s = self.buf[self.pos:self.pos + n].decode("utf-8")
        self.pos += n
        return s

    def _value(self, t):
        if t == 8:
            return self._str()
        if t == 9:
            et, n = self._u32(), self._u64()
            return [self._value(et) for _ in range(n)]
        return self._unpack(_SCALARS[t])

    def tensor(self, name):
        """The tensor as float32 numpy, shaped like torch (outermost dimension first)."""
        dims, ttype, offset = self.tensors[name]
        count = int(np.prod(dims))
        start = self.data_start + offset
        if ttype == GGML_F32:
            a = np.frombuffer(self.buf, np.float32, count, start)
        elif ttype == GGML_F16:
            a = np.frombuffer(self.buf, np.float16, count, start).astype(np.float32)
        elif ttype == GGML_BF16:
            raw = np.frombuffer(self.buf, np.uint16, count, start).astype(np.uint32) << 16
            a = raw.view(np.float32)
        elif ttype == GGML_Q8_0:
            nb = count // 32
            blocks = np.frombuffer(self.buf, np.uint8, nb * 34, start).reshape(nb, 34)
            d = blocks[:, :2].copy().view(np.float16).astype(np.float32)
            q = blocks[:, 2:].copy().view(np.int8).astype(np.float32)
            a = (d * q).reshape(-1)
        elif ttype in BALANCED_BITS:
            a = decode_balanced(self.buf, start, count, BALANCED_BITS[ttype])
        elif ttype in PALETTE_BITS:
            a = decode_palette(self.buf, start, dims, PALETTE_BITS[ttype])
        else:
            raise ValueError(f"tensor {name}: unsupported type {ttype}")
        return a.reshape(list(reversed(dims))).copy()


def balanced_codes(buf, start, count, bits):
    """(f16 scales [blocks], codes [blocks, 256]) of an afm q2 / q4 tensor."""
    nb, code_bytes = count // 256, 32 * bits
    blocks = np.frombuffer(buf, np.uint8, nb * (2 + code_bytes), start).reshape(nb, 2 + code_bytes)
    scale = blocks[:, :2].copy().view(np.float16).astype(np.float32).reshape(nb)
    packed = blocks[:, 2:]
    fields = [(packed >> (bits * f)) & ((1 << bits) - 1) for f in range(8 // bits)]
    codes = np.concatenate(fields, axis=1)  # weight i = field i // code_bytes, byte i % code_bytes
    return scale, codes.astype(np.float32)


def decode_balanced(buf, start, count, bits):
    scale, codes = balanced_codes(buf, start, count, bits)
    return (scale[:, None] * (codes - ((1 << bits) - 1) / 2)).reshape(-1)


def decode_palette(buf, start, dims, bits):
    """An afm pal2 / pal4 tensor (docs/model-format.md): per matrix, strips of 16 rows, each of
    tiles of 256 columns = [2^bits f16 palette, padded to 16 or 32 bytes][16 x 256 codes, row
    after row, 8 / bits to a byte, low bits first]; rows and columns pad to whole tiles."""
    cols, rows = dims[0], dims[1] if len(dims) > 1 else 1
    matrices = int(np.prod(dims[2:])) if len(dims) > 2 else 1
    pal_bytes = 16 if bits == 2 else 32
    tile = pal_bytes + 16 * 256 * bits // 8
    strips, tiles = -(-rows // 16), -(-cols // 256)
    out = np.zeros((matrices, strips * 16, tiles * 256), np.float32)
    raw = np.frombuffer(buf, np.uint8, matrices * strips * tiles * tile, start)
    raw = raw.reshape(matrices, strips, tiles, tile)
    palette = raw[..., :2 << bits].copy().view(np.float16).astype(np.float32)  # [m, s, t, 2^bits]
    packed = raw[..., pal_bytes:]
    fields = [(packed >> (bits * f)) & ((1 << bits) - 1) for f in range(8 // bits)]
    codes = np.stack(fields, axis=-1).reshape(matrices, strips, tiles, 16, 256).astype(np.int64)
    for m in range(matrices):
        for s in range(strips):
            for t in range(tiles):
                out[m, s * 16:(s + 1) * 16, t * 256:(t + 1) * 256] = palette[m, s, t][codes[m, s, t]]
    return out[:, :rows, :cols].reshape(-1)
