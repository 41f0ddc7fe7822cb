"""PyTorch reference of the AFM PT-MoE server model (report section 2.2, Figure 2), for the
reference tests. Written from the report and the rules of issue 5, not from afm's C++:

  * T parallel tracks, each a stack of track blocks of D pre-norm transformer layers. Inside a
    block each track runs on its own copy of the residual stream. At the block boundary the
    combined stream is the block input plus the sum of every track's residual update, and it
    feeds every track's next block. The final stream goes through the final RMSNorm and the
    output head tied to the token embedding.
  * Every moe_layer_step-th layer (l + 1 divisible) has a mixture of SwiGLU experts: router
    softmax over E logits, top-k, the k weights renormalized when expert_weights_norm is set.
    The MoE here is written plainly: a loop over tokens and their chosen experts.
  * Attention: layer l is global when (l + 1) is divisible by global_layer_step (no positional
    embedding, every earlier position), otherwise local (RoPE, the last `sliding_window`
    positions, the query's own included). Grouped-query attention, head j uses KV head j // group.
Everything is computed in float64 over the whole sequence at once (no KV cache).
"""
import math

import torch

from afm_reference import rope
from gguf_read import Reader


class PtMoeReference:
    def __init__(self, path):
        r = Reader(path)
        p = r.kv["general.architecture"] + "."
        g = lambda k, default=None: r.kv.get(p + k, default)
        self.d = g("embedding_length")
        self.L = g("block_count")
        self.H = g("attention.head_count")
        self.KVH = g("attention.head_count_kv")
        self.hd = g("attention.key_length")
        self.eps = g("attention.layer_norm_rms_epsilon")
        self.base = g("rope.freq_base")
        self.half_style = g("rope.style", 0) == 1
        self.T = g("track_count")
        self.D = g("track_block_depth")
        self.moe_step = g("moe_layer_step")
        self.k = g("expert_used_count")
        self.renorm = g("expert_weights_norm") != 0
        self.window = g("attention.sliding_window")
        self.global_step = g("attention.global_layer_step")
        t = lambda name: torch.from_numpy(r.tensor(name)).double()
        self.embd = t("token_embd.weight")
        self.out = t("output.weight") if "output.weight" in r.tensors else self.embd
        self.out_norm = t("output_norm.weight")
        self.layers = []  # [track][layer] -> dict of weights
        for tr in range(self.T):
            track = []
            for l in range(self.L):
                pre = f"trk.{tr}.blk.{l}."
                names = [n[len(pre):-len(".weight")] for n in r.tensors if n.startswith(pre)]
                track.append({n: t(pre + n + ".weight") for n in names})
            self.layers.append(track)

    def is_moe(self, l):
        return self.moe_step > 0 and (l + 1) % self.moe_step == 0

    def is_global(self, l):
        return self.global_step > 0 and (l + 1) % self.global_step == 0

    def rms(self, x, w):
        return x / torch.sqrt((x * x).mean(-1, keepdim=True) + self.eps) * w

    def rope(self, x):
        return rope(x, self.base, self.half_style)

    def attention(self, x, W, l):
        S = x.shape[0]
        h = self.rms(x, W["attn_norm"])
        q = (h @ W["attn_q"].T).view(S, self.H, self.hd)
        k = (h @ W["attn_k"].T).view(S, self.KVH, self.hd)
        v = (h @ W["attn_v"].T).view(S, self.KVH, self.hd)
        i = torch.arange(S)[:, None]
        j = torch.arange(S)[None, :]
        visible = j <= i
        if not self.is_global(l):
            q, k = self.rope(q), self.rope(k)
            if self.window > 0:
                visible = visible & (j > i - self.window)
        mask = torch.zeros(S, S, dtype=torch.float64).masked_fill(~visible, float("-inf"))
        group = self.H // self.KVH
        k = k.repeat_interleave(group, dim=1)
        v = v.repeat_interleave(group, dim=1)
        s = torch.einsum("qhd,khd->hqk", q, k) / math.sqrt(self.hd) + mask
        a = torch.einsum("hqk,khd->qhd", torch.softmax(s, -1), v).reshape(S, -1)
        return x + a @ W["attn_output"].T

    @staticmethod
    def swiglu(h, gate, up, down):
        return (torch.nn.functional.silu(h @ gate.T) * (h @ up.T)) @ down.T

    def ffn(self, x, W, l):
        h = self.rms(x, W["ffn_norm"])
        if not self.is_moe(l):
            return x + self.swiglu(h, W["ffn_gate"], W["ffn_up"], W["ffn_down"])
        probs = torch.softmax(h @ W["ffn_gate_inp"].T, -1)
        out = torch.zeros_like(x)
        for tok in range(x.shape[0]):
            w, chosen = torch.topk(probs[tok], self.k)
            if self.renorm:
                w = w / w.sum()
            for weight, e in zip(w.tolist(), chosen.tolist()):
                out[tok] += weight * self.swiglu(h[tok], W["ffn_gate_exps"][e],
                                                 W["ffn_up_exps"][e], W["ffn_down_exps"][e])
        return x + out

    @torch.no_grad()
    def logits(self, tokens):
        """Logits [S, vocab] of every position."""
        x = self.embd[torch.tensor(tokens)]
        for blk in range(self.L // self.D):
            updates = torch.zeros_like(x)
            for tr in range(self.T):
                y = x.clone()
                for l in range(blk * self.D, (blk + 1) * self.D):
                    W = self.layers[tr][l]
                    y = self.ffn(self.attention(y, W, l), W, l)
                updates += y - x
            x = x + updates
        return self.rms(x, self.out_norm) @ self.out.T
