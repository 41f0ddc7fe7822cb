"""PyTorch reference of the AFM on-device model (report section 2.1), for the reference tests.

Written from the report and the standard transformer math, independently of afm's C++:
  * decoder-only, pre-norm RMSNorm, grouped-query attention with RoPE, SwiGLU FFN;
  * output head tied to the token embedding (unless the file has output.weight);
  * KV-cache sharing: Block-2 layers have no K/V projections; each attends with its own
    queries over the keys and values that its source layer (afm.attention.kv_source) computed.
Every layer runs at every position (no prefill skipping), so comparing with afm's skipping
prefill also checks that the skip changes nothing.
"""
import math

import torch

from gguf_read import Reader


def rope(x, base, half_style):
    """RoPE over x [T, heads, hd]; row i is at position i. theta_i = base^(-2i / hd)."""
    T, hd = x.shape[0], x.shape[-1]
    i = torch.arange(hd // 2, dtype=torch.float64)
    theta = base ** (-2.0 * i / hd)
    ang = torch.arange(T, dtype=torch.float64)[:, None] * theta[None, :]
    cos, sin = torch.cos(ang)[:, None, :], torch.sin(ang)[:, None, :]
    if half_style:  # rotate (x[i], x[i + hd/2])
        a, b = x[..., : hd // 2], x[..., hd // 2:]
        return torch.cat([a * cos - b * sin, a * sin + b * cos], -1)
    a, b = x[..., 0::2], x[..., 1::2]  # rotate (x[2i], x[2i+1])
    out = torch.empty_like(x)
    out[..., 0::2] = a * cos - b * sin
    out[..., 1::2] = a * sin + b * cos
    return out


def quantize_vectors(x):
    """Each vector along the last dimension to 8 bits with its own scale max|x| / 127."""
    s = x.abs().amax(-1, keepdim=True) / 127
    return torch.where(s > 0, torch.round(x / torch.where(s > 0, s, 1)) * s, x)


class Reference:
    def __init__(self, path, kv8=False):
        # kv8: the 8-bit KV cache (report section 6): every K and V head vector is stored as
        # round(x / s) * s with s = max|x| / 127.
        self.kv8 = kv8
        r = Reader(path)
        arch = r.kv["general.architecture"]
        p = arch + "."
        self.d = r.kv[p + "embedding_length"]
        self.n_layers = r.kv[p + "block_count"]
        self.n_heads = r.kv[p + "attention.head_count"]
        self.n_kv = r.kv.get(p + "attention.head_count_kv", self.n_heads)
        self.hd = r.kv.get(p + "attention.key_length", self.d // self.n_heads)
        self.eps = r.kv[p + "attention.layer_norm_rms_epsilon"]
        self.base = r.kv.get(p + "rope.freq_base", 10000.0)
        self.half_style = r.kv.get(p + "rope.style", 0) == 1
        self.src = r.kv.get(p + "attention.kv_source", list(range(self.n_layers)))
        def t(name):
            w = torch.from_numpy(r.tensor(name)).double()
            # A low-rank part (an astc SVD split or a recovery adapter): the matrix is W + B A.
            if name + ".lora_a" in r.tensors:
                a = torch.from_numpy(r.tensor(name + ".lora_a")).double()
                b = torch.from_numpy(r.tensor(name + ".lora_b")).double()
                w = w + b @ a
            return w
        self.embd = t("token_embd.weight")  # [vocab, d]
        self.out = t("output.weight") if "output.weight" in r.tensors else self.embd
        self.out_norm = t("output_norm.weight")
        self.layers = []
        for l in range(self.n_layers):
            b = f"blk.{l}."
            L = {k: t(b + k + ".weight") for k in
                 ["attn_norm", "attn_q", "attn_output", "ffn_norm", "ffn_gate", "ffn_up", "ffn_down"]}
            if self.src[l] == l:
                L["attn_k"], L["attn_v"] = t(b + "attn_k.weight"), t(b + "attn_v.weight")
            else:
                assert b + "attn_k.weight" not in r.tensors, "a KV-sharing layer must have no K/V"
            self.layers.append(L)

    def rms(self, x, w):
        return x / torch.sqrt((x * x).mean(-1, keepdim=True) + self.eps) * w

    def rope(self, x):
        return rope(x, self.base, self.half_style)

    @torch.no_grad()
    def logits(self, tokens):
        """Logits [T, vocab] for every position, computed in float64."""
        T = len(tokens)
        x = self.embd[torch.tensor(tokens)]
        kv = {}
        mask = torch.full((T, T), float("-inf"), dtype=torch.float64).triu(1)
        group = self.n_heads // self.n_kv
        for l, L in enumerate(self.layers):
            h = self.rms(x, L["attn_norm"])
            q = self.rope((h @ L["attn_q"].T).view(T, self.n_heads, self.hd))
            if self.src[l] == l:
                k = self.rope((h @ L["attn_k"].T).view(T, self.n_kv, self.hd))
                v = (h @ L["attn_v"].T).view(T, self.n_kv, self.hd)
                if self.kv8:
                    k, v = quantize_vectors(k), quantize_vectors(v)
                kv[l] = (k, v)
            k, v = kv[self.src[l]]
            k = k.repeat_interleave(group, dim=1)  # query head j uses KV head j // group
            v = v.repeat_interleave(group, dim=1)
            s = torch.einsum("qhd,khd->hqk", q, k) / math.sqrt(self.hd) + mask
            a = torch.einsum("hqk,khd->qhd", torch.softmax(s, -1), v).reshape(T, -1)
            x = x + a @ L["attn_output"].T
            h = self.rms(x, L["ffn_norm"])
            g = h @ L["ffn_gate"].T
            x = x + (torch.nn.functional.silu(g) * (h @ L["ffn_up"].T)) @ L["ffn_down"].T
        return self.rms(x, self.out_norm) @ self.out.T
