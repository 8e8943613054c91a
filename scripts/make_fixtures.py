#!/usr/bin/python3
"""make_fixtures.py - PyTorch reference fixtures for tests/test_parity.c (one full ACGAN training step).

Builds in PyTorch the same G and D as src/gan/acgan.c, sets every parameter and BatchNorm running
statistic from a seeded generator, runs ONE training step exactly as acgan_step_with_inputs does and
writes one HDF5 file per model variant to tests/fixtures/parity_<name>.h5:

    /usr/bin/python3 scripts/make_fixtures.py             # needs python3-torch, python3-h5py (not CI)
    /usr/bin/python3 scripts/make_fixtures.py conv28      # only some variants

The step (dropout p = 0, so both sides are deterministic):
  G step: fake = G(z, gl); out = D(fake, gl); g_loss = 0.5 (BCE(out[:, 0], 1) + A(out[:, 1:], gl));
          backward; Adam on G.                 (A = cross_entropy, or cross_entropy(softmax(.)) )
  D step: out_r = D(real, y); out_f = D(fake.detach(), gl);
          d_loss = (BCE(out_r, 1) + A(aux_r, y)) / 4 + (BCE(out_f, 0) + A(aux_f, gl)) / 4; backward; Adam on D.
  Adam(lr 2e-4, betas (0.5, 0.999), eps 1e-8). BatchNorm in train mode everywhere: G's statistics move
  once, D's three times (G-step pass, real pass, fake pass), with momentum and the unbiased variance.

Fixture layout (float32 unless noted; n = batch):
  attributes   n_classes, channels, img_size, latent_dim, batch (int32); bn_eps, bn_momentum (float32);
               disc ("conv"|"mlp"), label_input ("concat"|"multiply"), aux_loss ("logits"|"softmax_then_ce")
               (fixed-length strings); lr, beta1, beta2, adam_eps, dropout (float64); seed, torch_version.
  inputs       z (n, latent), gen_labels (n) int32, real (n, C, H, W) in [-1, 1], real_labels (n) int32
  M = G, D:    M/params         (P) BEFORE the step, in the C arena order (below)
               M/grads          (P) G: gradients of the G step; D: gradients of the D step (real + fake),
                                    rounded to 16 significant bits (below)
               M/delta_after    (P) the Adam update: params after both Adam steps minus M/params, taken in
                                    float64 from torch's float32 values, rounded to 16 significant bits
               M/bn_state, M/bn_state_after  per BatchNorm in sequence order: running_mean[C], running_var[C]
               M/arena_names (fixed-length strings), M/arena_counts (int64): the arena's tensors in order
               M/named/<torch name>  each parameter before the step in its torch shape, for reading (a
                                     virtual dataset: a view of its slice of M/params)
  outputs      fake (n, C, H, W); d_out_gstep, d_out_real, d_out_fake (n, 1 + K): column 0 the adversarial
               logit, 1..K the class logits; g_loss, d_loss (float64 scalars holding the float32 values)

C arena order (model_finalize): side layers (label embeddings) first, then the sequence layers in order,
each layer's weight then bias. D's two heads are ONE Linear with 1 + K outputs: row 0 = adversarial,
rows 1..K = auxiliary; the bias likewise.

Parameters, inputs and running statistics are drawn from a seeded torch.Generator and rounded to values
exact in bfloat16 (8 significant bits): still generic numbers, exactly representable in float32, and
they let gzip shrink the files. The script also reruns each step in float64 and prints how far torch's
own float32 results are from it (the rounding floor any float32 implementation can be held to).

Size: the gradients and the Adam update are stored rounded to nearest at 16 significant bits (the low 8
mantissa bits of the float32 are zero), a relative error <= 2^-16 ~ 1.5e-5: far inside the 1e-3 gradient
tolerance, and for the update (|delta| <= ~lr = 2e-4) an absolute error <= ~2e-9, far inside the 1e-5
tolerance (the parameters after the step are stored as that update rather than as float32 values whose
low bits are all information; the test compares the C model's update, after - before, with it). Every
dataset HDF5 can chunk (all but the scalar losses and empty arrays) has the shuffle + gzip filters. The
MLP variant is 16x16 (fc1 is (256 + K) x 512 rather than (1024 + K) x 512): the same code path, and the
convolutional variants keep their shapes.
"""
import argparse
import os
import sys

import h5py
import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

LRELU = 0.2
G_BN0_EPS = 1e-5  # G's first BatchNorm keeps PyTorch's default eps
LR, BETA1, BETA2, ADAM_EPS = 2e-4, 0.5, 0.999, 1e-8

# name: classes, channels, img_size, latent, disc, label_input, aux_loss, batch, bn_eps, bn_momentum, seed
VARIANTS = {
    "conv32": dict(K=10, C=1, S=32, L=8, disc="conv", label="concat", aux="logits", n=4, eps=0.8, mom=0.1, seed=1),
    "mlp16": dict(K=10, C=1, S=16, L=8, disc="mlp", label="concat", aux="logits", n=4, eps=0.8, mom=0.1, seed=2),
    "conv28": dict(K=10, C=1, S=28, L=8, disc="conv", label="concat", aux="logits", n=5, eps=1e-3, mom=0.1, seed=3),
    # multiply keeps G's first Linear at latent x 128*16*16 rather than (latent + K) x 128*16*16
    "conv64rgb": dict(K=10, C=3, S=64, L=6, disc="conv", label="multiply", aux="logits", n=4, eps=0.8, mom=0.1, seed=4),
    "k7_multiply_softmax": dict(K=7, C=1, S=32, L=8, disc="conv", label="multiply", aux="softmax_then_ce", n=6,
                                eps=0.8, mom=0.25, seed=5),
}


class Generator(nn.Module):
    """Embedding -> concat (or multiply) with z -> Linear -> (128, s, s) -> BN(1e-5) -> Up2 -> Conv3 ->
    BN(eps) -> LReLU -> Up2 -> Conv3 -> BN(eps) -> LReLU -> Conv3 -> Tanh."""

    def __init__(s, v):
        super().__init__()
        s.concat = v["label"] == "concat"
        emb_dim = v["K"] if s.concat else v["L"]
        s.s4 = v["S"] // 4
        s.label_emb = nn.Embedding(v["K"], emb_dim)
        s.l1 = nn.Linear(emb_dim + v["L"] if s.concat else v["L"], 128 * s.s4 * s.s4)
        s.bn0 = nn.BatchNorm2d(128, eps=G_BN0_EPS, momentum=v["mom"])
        s.conv1 = nn.Conv2d(128, 128, 3, 1, 1)
        s.bn1 = nn.BatchNorm2d(128, eps=v["eps"], momentum=v["mom"])
        s.conv2 = nn.Conv2d(128, 64, 3, 1, 1)
        s.bn2 = nn.BatchNorm2d(64, eps=v["eps"], momentum=v["mom"])
        s.conv3 = nn.Conv2d(64, v["C"], 3, 1, 1)

    def forward(s, z, y):
        e = s.label_emb(y)
        h = s.l1(torch.cat((e, z), 1) if s.concat else e * z).view(-1, 128, s.s4, s.s4)
        h = F.interpolate(s.bn0(h), scale_factor=2, mode="nearest")
        h = F.leaky_relu(s.bn1(s.conv1(h)), LRELU)
        h = F.interpolate(h, scale_factor=2, mode="nearest")
        h = F.leaky_relu(s.bn2(s.conv2(h)), LRELU)
        return torch.tanh(s.conv3(h))

    def arena(s):
        """(name, tensor) in the C arena order: the side embedding, then the sequence layers."""
        out = [("label_emb.weight", s.label_emb.weight)]
        for m in ("l1", "bn0", "conv1", "bn1", "conv2", "bn2", "conv3"):
            out += [(f"{m}.weight", getattr(s, m).weight), (f"{m}.bias", getattr(s, m).bias)]
        return out

    def bn_list(s):
        return [s.bn0, s.bn1, s.bn2]


class ConvD(nn.Module):
    """4 x [Conv3 stride 2 -> LReLU -> Dropout2d (-> BN(eps) after the first)] -> flatten -> adv, aux."""

    def __init__(s, v):
        super().__init__()
        widths = [v["C"], 16, 32, 64, 128]
        s.convs = nn.ModuleList(nn.Conv2d(widths[i], widths[i + 1], 3, 2, 1) for i in range(4))
        s.bns = nn.ModuleList(nn.BatchNorm2d(widths[i + 1], eps=v["eps"], momentum=v["mom"]) for i in range(1, 4))
        s.drop = nn.Dropout2d(0.0)
        side = v["S"]
        for _ in range(4):
            side = (side + 2 - 3) // 2 + 1
        s.adv = nn.Linear(128 * side * side, 1)
        s.aux = nn.Linear(128 * side * side, v["K"])

    def forward(s, x, y):
        h = x
        for i in range(4):
            h = s.drop(F.leaky_relu(s.convs[i](h), LRELU))
            if i > 0:
                h = s.bns[i - 1](h)
        h = h.flatten(1)
        return torch.cat((s.adv(h), s.aux(h)), 1)

    def arena(s):
        out = []
        for i in range(4):
            out += [(f"convs.{i}.weight", s.convs[i].weight), (f"convs.{i}.bias", s.convs[i].bias)]
            if i > 0:
                out += [(f"bns.{i - 1}.weight", s.bns[i - 1].weight), (f"bns.{i - 1}.bias", s.bns[i - 1].bias)]
        return out + head_arena(s)

    def bn_list(s):
        return list(s.bns)


class MlpD(nn.Module):
    """cat(flatten(x), Embedding(K, K)(y)) -> Linear 512 -> LReLU -> 2 x [Linear 512 -> Dropout -> LReLU]
    -> adv, aux, both reading the last hidden layer."""

    def __init__(s, v):
        super().__init__()
        s.label_embedding = nn.Embedding(v["K"], v["K"])
        s.fc1 = nn.Linear(v["C"] * v["S"] * v["S"] + v["K"], 512)
        s.fc2 = nn.Linear(512, 512)
        s.fc3 = nn.Linear(512, 512)
        s.drop = nn.Dropout(0.0)
        s.adv = nn.Linear(512, 1)
        s.aux = nn.Linear(512, v["K"])

    def forward(s, x, y):
        h = F.leaky_relu(s.fc1(torch.cat((x.flatten(1), s.label_embedding(y)), 1)), LRELU)
        h = F.leaky_relu(s.drop(s.fc2(h)), LRELU)
        h = F.leaky_relu(s.drop(s.fc3(h)), LRELU)
        return torch.cat((s.adv(h), s.aux(h)), 1)

    def arena(s):
        out = [("label_embedding.weight", s.label_embedding.weight)]
        for m in ("fc1", "fc2", "fc3"):
            out += [(f"{m}.weight", getattr(s, m).weight), (f"{m}.bias", getattr(s, m).bias)]
        return out + head_arena(s)

    def bn_list(s):
        return []


def head_arena(d):
    """The two heads as the C code's one Linear: rows [adv; aux], bias [adv; aux]."""
    return [("head.weight", (d.adv.weight, d.aux.weight)), ("head.bias", (d.adv.bias, d.aux.bias))]


def flat(entries, what):
    """Concatenates the arena tensors (what: 'data' or 'grad') into one flat float32 array."""
    parts = []
    for _, t in entries:
        ts = t if isinstance(t, tuple) else (t,)
        parts += [getattr(x, what).detach().reshape(-1) for x in ts]
    return torch.cat(parts).to(torch.float32).numpy()


def arena_layout(entries):
    names, counts = [], []
    for name, t in entries:
        ts = t if isinstance(t, tuple) else (t,)
        names.append(name)
        counts.append(sum(x.numel() for x in ts))
    return names, counts


def bn_state(bns):
    if not bns:
        return np.zeros(0, np.float32)
    return torch.cat([torch.cat((b.running_mean, b.running_var)) for b in bns]).to(torch.float32).numpy()


def round_sig(x, bits=16):
    """Rounds to nearest (ties to even) at `bits` significant bits, returned as float32 (exact for bits <= 24
    and values in float32's normal range); with bits = 16 the low 8 mantissa bits come out zero."""
    x = np.asarray(x, np.float64)
    m, e = np.frexp(x)  # x = m 2^e, 0.5 <= |m| < 1
    r = np.ldexp(np.round(m * 2.0 ** bits) / 2.0 ** bits, e)
    out = r.astype(np.float32)
    assert np.array_equal(out.astype(np.float64), r), "round_sig: value outside float32's normal range"
    return out


def bf16(t):
    """Rounds to the nearest bfloat16 value (8 significant bits), kept as float32."""
    return t.to(torch.bfloat16).to(torch.float32)


def init_deterministic(G, D, gen):
    """Every parameter and running statistic from the seeded generator (scales keep activations O(1))."""
    def normal(t, std, mean=0.0):
        with torch.no_grad():
            t.copy_(bf16(mean + std * torch.randn(t.shape, generator=gen)))

    def uniform(t, lo, hi):
        with torch.no_grad():
            t.copy_(bf16(lo + (hi - lo) * torch.rand(t.shape, generator=gen)))

    for model in (G, D):
        for m in model.modules():
            if isinstance(m, nn.Embedding):
                normal(m.weight, 1.0)
            elif isinstance(m, (nn.Linear, nn.Conv2d)):
                normal(m.weight, 1.0 / np.sqrt(m.weight[0].numel()))
                normal(m.bias, 0.1)
            elif isinstance(m, nn.BatchNorm2d):
                normal(m.weight, 0.1, 1.0)
                normal(m.bias, 0.1)
                uniform(m.running_mean, -0.1, 0.1)
                uniform(m.running_var, 0.5, 1.5)


def make_inputs(v, gen):
    n, K = v["n"], v["K"]
    z = bf16(torch.randn(n, v["L"], generator=gen))
    gl = torch.randint(0, K, (n,), generator=gen)
    y = torch.randint(0, K, (n,), generator=gen)
    gl[-1] = gl[0]  # a repeated class: embedding gradients must accumulate
    y[-1] = y[1]
    real = bf16(2 * torch.rand(n, v["C"], v["S"], v["S"], generator=gen) - 1)
    return z, gl.to(torch.int64), real, y.to(torch.int64)


def aux_loss(v, logits, labels):
    if v["aux"] == "logits":
        return F.cross_entropy(logits, labels)
    return F.cross_entropy(F.softmax(logits, 1), labels)


def run_step(v, dtype):
    """Builds G and D (float32 or float64), runs one ACGAN step, returns everything the fixture stores."""
    gen = torch.Generator().manual_seed(1000 + v["seed"])
    G = Generator(v)
    D = MlpD(v) if v["disc"] == "mlp" else ConvD(v)
    init_deterministic(G, D, gen)
    z, gl, real, y = make_inputs(v, gen)
    G, D = G.to(dtype), D.to(dtype)
    z, real = z.to(dtype), real.to(dtype)
    G.train()
    D.train()
    r = {"inputs": (z, gl, real, y)}
    for key, model, bns in (("G", G, G.bn_list()), ("D", D, D.bn_list())):
        r[key + "/params"] = flat(model.arena(), "data")
        r[key + "/bn_state"] = bn_state(bns)
        r[key + "/layout"] = arena_layout(model.arena())
        names = {id(p): n for n, p in model.named_parameters()}
        r[key + "/named"] = [[(names[id(x)], tuple(x.shape)) for x in (t if isinstance(t, tuple) else (t,))]
                             for _, t in model.arena()]
    oG = torch.optim.Adam(G.parameters(), lr=LR, betas=(BETA1, BETA2), eps=ADAM_EPS)
    oD = torch.optim.Adam(D.parameters(), lr=LR, betas=(BETA1, BETA2), eps=ADAM_EPS)
    n = v["n"]
    ones, zeros = torch.ones(n, 1, dtype=dtype), torch.zeros(n, 1, dtype=dtype)

    # G step: D's parameter gradients of this pass are cleared before the D step.
    oG.zero_grad(set_to_none=False)
    fake = G(z, gl)
    out_g = D(fake, gl)
    g_loss = 0.5 * (F.binary_cross_entropy_with_logits(out_g[:, :1], ones) + aux_loss(v, out_g[:, 1:], gl))
    g_loss.backward()
    r["G/grads"] = flat(G.arena(), "grad")
    oG.step()

    # D step: the real batch and the same generated batch, detached; gradients add up.
    oD.zero_grad(set_to_none=False)
    out_r = D(real, y)
    out_f = D(fake.detach(), gl)
    d_loss = ((F.binary_cross_entropy_with_logits(out_r[:, :1], ones) + aux_loss(v, out_r[:, 1:], y)) / 4 +
              (F.binary_cross_entropy_with_logits(out_f[:, :1], zeros) + aux_loss(v, out_f[:, 1:], gl)) / 4)
    d_loss.backward()
    r["D/grads"] = flat(D.arena(), "grad")
    oD.step()

    for key, model, bns in (("G", G, G.bn_list()), ("D", D, D.bn_list())):
        r[key + "/params_after"] = flat(model.arena(), "data")
        r[key + "/bn_state_after"] = bn_state(bns)
        # The update as float64 differences of the float32 values (exact: the two are close), stored rounded.
        r[key + "/delta_exact"] = r[key + "/params_after"].astype(np.float64) - r[key + "/params"].astype(np.float64)
        r[key + "/delta_after"] = round_sig(r[key + "/delta_exact"])
        r[key + "/grads_stored"] = round_sig(r[key + "/grads"])
    f32 = lambda t: t.detach().to(torch.float32).numpy()
    r.update({"fake": f32(fake), "d_out_gstep": f32(out_g), "d_out_real": f32(out_r), "d_out_fake": f32(out_f),
              "g_loss": float(g_loss), "d_loss": float(d_loss)})
    return r


def rel_norm(a, b):
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    nb = np.linalg.norm(b)
    return np.linalg.norm(a - b) / nb if nb > 0 else np.linalg.norm(a - b)


def report_f64(name, r32, r64):
    """How far torch float32 is from the same step in float64: the rounding floor."""
    worst_grad = 0.0
    for key in ("G", "D"):
        off = 0
        names, counts = r32[key + "/layout"]
        for tn, c in zip(names, counts):
            g32, g64 = r32[key + "/grads"][off:off + c], r64[key + "/grads"][off:off + c]
            rn = rel_norm(g32, g64)
            if np.linalg.norm(g64) > 1e-6 * np.linalg.norm(r64[key + "/grads"]):
                worst_grad = max(worst_grad, rn)
            else:
                print(f"  {name}: {key} {tn}: gradient is ~0 in float64 (|g| = {np.linalg.norm(g64):.2e}, "
                      f"float32 |g| = {np.linalg.norm(g32):.2e}): rounding noise only")
            off += c
    dp = max(np.abs(r32[k + "/params_after"] - r64[k + "/params_after"]).max() for k in ("G", "D"))
    out = max(rel_norm(r32[k], r64[k]) for k in ("fake", "d_out_gstep", "d_out_real", "d_out_fake"))
    print(f"  {name}: torch float32 vs float64: outputs {out:.1e}, losses "
          f"{abs(r32['g_loss'] / r64['g_loss'] - 1):.1e}/{abs(r32['d_loss'] / r64['d_loss'] - 1):.1e}, "
          f"worst gradient tensor {worst_grad:.1e} (relative norm), params after {dp:.1e} (max abs)")
    # What storing at 16 significant bits costs, against the float32 / exact-difference values.
    gr = max(np.max(np.abs(r32[k + "/grads_stored"].astype(np.float64) - r32[k + "/grads"]) /
                    np.maximum(np.abs(r32[k + "/grads"].astype(np.float64)), 1e-300)) for k in ("G", "D"))
    gn = max(rel_norm(r32[k + "/grads_stored"][o:o + c], r32[k + "/grads"][o:o + c])
             for k in ("G", "D") for o, c in zip(np.cumsum([0] + r32[k + "/layout"][1][:-1]), r32[k + "/layout"][1]))
    da = max(np.abs(r32[k + "/delta_after"] - r32[k + "/delta_exact"]).max() for k in ("G", "D"))
    dm = max(np.abs(r32[k + "/delta_exact"]).max() for k in ("G", "D"))
    print(f"  {name}: stored at 16 bits: gradients max relative error {gr:.1e} (worst tensor {gn:.1e} relative "
          f"norm), Adam update max abs error {da:.1e} (max |update| {dm:.1e})")


def put(f, name, data, dtype=np.float32):
    """Every dataset with shuffle + gzip, except what HDF5 cannot chunk (scalars, empty arrays)."""
    data = np.asarray(data, dtype)
    if data.ndim and data.size:
        # Few, large chunks (the readers read whole datasets): less chunk-index overhead, better compression.
        chunks = (min(data.shape[0], max(1, (1 << 20) // max(1, data[:1].nbytes))),) + data.shape[1:]
        f.create_dataset(name, data=data, chunks=chunks, compression="gzip", compression_opts=9, shuffle=True)
    else:
        f.create_dataset(name, data=data)


def write_fixture(path, v, r):
    z, gl, real, y = r["inputs"]
    tmp = path + ".tmp"
    # HDF5 1.10 file format (the virtual datasets need a 1.10 reader anyway): more compact object headers.
    with h5py.File(tmp, "w", libver=("v110", "v110")) as f:
        for k, a in (("n_classes", "K"), ("channels", "C"), ("img_size", "S"), ("latent_dim", "L"), ("batch", "n")):
            f.attrs[k] = np.int32(v[a])
        f.attrs["bn_eps"] = np.float32(v["eps"])
        f.attrs["bn_momentum"] = np.float32(v["mom"])
        for k, a in (("disc", "disc"), ("label_input", "label"), ("aux_loss", "aux")):
            f.attrs[k] = np.bytes_(v[a])
        for k, x in (("lr", LR), ("beta1", BETA1), ("beta2", BETA2), ("adam_eps", ADAM_EPS), ("dropout", 0.0)):
            f.attrs[k] = np.float64(x)
        f.attrs["seed"] = np.int64(v["seed"])
        f.attrs["torch_version"] = np.bytes_(torch.__version__)
        put(f, "z", z.numpy())
        put(f, "gen_labels", gl.numpy(), np.int32)
        put(f, "real", real.numpy())
        put(f, "real_labels", y.numpy(), np.int32)
        for key in ("G", "D"):
            put(f, f"{key}/params", r[f"{key}/params"])
            put(f, f"{key}/grads", r[f"{key}/grads_stored"])
            put(f, f"{key}/delta_after", r[f"{key}/delta_after"])
            put(f, f"{key}/bn_state", r[f"{key}/bn_state"])
            put(f, f"{key}/bn_state_after", r[f"{key}/bn_state_after"])
            names, counts = r[key + "/layout"]
            put(f, key + "/arena_names", [s.encode() for s in names], "S48")
            put(f, key + "/arena_counts", counts, np.int64)
            # The named tensors are views of M/params (HDF5 virtual datasets): readable, and free.
            src = h5py.VirtualSource(".", f"{key}/params", shape=r[key + "/params"].shape)
            off = 0
            for parts in r[key + "/named"]:
                for tn, shape in parts:
                    c = int(np.prod(shape))
                    lay = h5py.VirtualLayout(shape=shape, dtype=np.float32)
                    lay[...] = src[off:off + c]
                    f.create_virtual_dataset(f"{key}/named/{tn}", lay)
                    off += c
            assert off == r[key + "/params"].size
        for k in ("fake", "d_out_gstep", "d_out_real", "d_out_fake"):
            put(f, k, r[k])
        put(f, "g_loss", r["g_loss"], np.float64)
        put(f, "d_loss", r["d_loss"], np.float64)
    os.replace(tmp, path)


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("variants", nargs="*", help=f"some of {', '.join(VARIANTS)} (default: all)")
    p.add_argument("--out", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "fixtures"))
    a = p.parse_args()
    torch.set_num_threads(1)
    os.makedirs(a.out, exist_ok=True)
    for name in a.variants or VARIANTS:
        if name not in VARIANTS:
            sys.exit(f"make_fixtures.py: unknown variant '{name}' (known: {', '.join(VARIANTS)})")
        v = VARIANTS[name]
        r32 = run_step(v, torch.float32)
        r64 = run_step(v, torch.float64)
        path = os.path.join(a.out, f"parity_{name}.h5")
        write_fixture(path, v, r32)
        print(f"{path}: {os.path.getsize(path) / 1e6:.2f} MB, G {r32['G/params'].size} + D {r32['D/params'].size} "
              f"params, g_loss {r32['g_loss']:.6f}, d_loss {r32['d_loss']:.6f}")
        report_f64(name, r32, r64)


if __name__ == "__main__":
    main()
