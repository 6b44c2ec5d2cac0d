-- The luacnn side of bench/lenet: models/lenet5.lua trained on Fashion-MNIST. Run by
-- bench/lenet; on its own:
--   luacnn --threads N bench/lenet.lua train BATCH EPOCHS
--   luacnn --threads N bench/lenet.lua infer BATCH PASSES
--   luacnn --threads N bench/lenet.lua layers BATCH REPEATS
-- train: Adam (lr 1e-3, eps 1e-7), sparse categorical cross-entropy, the 60,000 training
--   images [N,1,28,28]/255, shuffled each epoch, through model:fit. A warm-up fit of
--   WARMUP (100) steps on the first 100*BATCH + 60000 % BATCH images (so the short last
--   batch's buffers exist too), then EPOCHS timed epochs in one fit call. Prints
--     luacnn batch=B threads=N steps=S epoch_s=t1,t2,... loss=l1,l2,...
--   An epoch's time runs from the end of the previous epoch (or the start of training) to
--   the end of this one: shuffle, gather of every batch, forward, backward and the Adam
--   step. Data loading happens before, and there is no validation.
-- infer: one warm-up pass and PASSES timed passes of model:predict over the 10,000 test
--   images. Prints  luacnn infer batch=B threads=N images=10000 pass_s=t1,t2,...
-- layers: each convolution of the network on its own shapes at batch BATCH, timed
--   through T.kernels.conv2d_forward/backward (median of REPEATS), against T.matmul
--   (cblas_sgemm) on the equivalent GEMM shapes. One line per layer, times in ms:
--     layer I train_dx=0|1 N= C= H= W= O= OH= OW= KH= KW= chunk= chunks= fwd= fwd_eval=
--       bwd_dx= bwd= gemm= chunk_fwd= chunk_dw= chunk_dcol= | DESCRIPTION
--   train_dx: whether fit computes this layer's input gradient (not for the first layer);
--   fwd, bwd_dx (with input gradient), bwd (weight and bias gradients only): the kernels
--   as Conv2d calls them in training; fwd_eval: forward as in predict; gemm: one
--   [O,K]x[K,N*OH*OW] product (K = C*KH*KW) at this thread count; chunk_*: the GEMMs that
--   ops/conv.c issues for this layer (chunks of `chunk` samples, one thread), summed.
local T = require "luacnn"
local datasets = require "datasets"

local WARMUP = 100
local usage = "usage: luacnn [--threads N] bench/lenet.lua train|infer|layers BATCH COUNT"
local mode = arg[1]
local bs = math.tointeger(tonumber(arg[2] or ""))
local count = math.tointeger(tonumber(arg[3] or ""))
if not (mode == "train" or mode == "infer" or mode == "layers") or not bs or bs < 1 or not count or count < 1 then
  error(usage)
end

local here = (arg and arg[0] or ""):match("^(.*)/[^/]*$") or "."
local model = assert(loadfile(here .. "/../models/lenet5.lua"))()
model:compile{optimizer = "adam", loss = "sparse_categorical_crossentropy"}

-- [N,28,28] pixel values -> [N,1,28,28] in 0..1
local function images(x)
  x = x / 255
  return x:view(x:size(1), 1, x:size(2), x:size(3))
end

local lib = dofile(here .. "/lib.lua")
local csv, median = lib.csv, lib.med

if mode == "train" then
  local x, y = datasets.fashion_mnist.load_data()
  x = images(x)
  local n = x:size(1)
  local times, losses = lib.timed_fit(T, model, x, y, bs, count, math.min(n, WARMUP * bs + n % bs))
  print(string.format("luacnn batch=%d threads=%d steps=%d epoch_s=%s loss=%s peak_rss_kb=%d", bs,
                      T.get_num_threads(), (n + bs - 1) // bs, csv(times), csv(losses), lib.peak_rss_kb()))
  return
end

if mode == "infer" then
  local _, _, xt = datasets.fashion_mnist.load_data()
  xt = images(xt)
  local times = {}
  for p = 0, count do
    local t0 = T.clock()
    local _ = model:predict(xt, {batch_size = bs})
    if p > 0 then times[p] = T.clock() - t0 end
  end
  print(string.format("luacnn infer batch=%d threads=%d images=%d pass_s=%s", bs, T.get_num_threads(), xt:size(1),
                      csv(times)))
  return
end

-- layers: the seconds of one call of f, the median of `count` repeats, each repeat
-- running f often enough to last about 20 ms.
local function seconds(f)
  f()
  local t0 = T.clock()
  f()
  local inner = math.max(1, math.floor(0.02 / math.max(T.clock() - t0, 1e-7)))
  local ts = {}
  for r = 1, count do
    t0 = T.clock()
    for _ = 1, inner do f() end
    ts[r] = (T.clock() - t0) / inner
  end
  return median(ts)
end

-- The samples ops/conv.c lowers into one column matrix: COL_BUDGET (2^16) floats of
-- columns, at most the samples of one thread's share of the batch. Mirrors chunk_samples
-- and batch_parts there; it only sizes the comparison GEMMs below.
local function chunk_samples(n, k, p, threads)
  local parts = (threads > 1 and n >= threads) and threads or 1
  local share = (n + parts - 1) // parts
  return math.min(math.max(1, (1 << 16) // (k * p)), share)
end

local K = T.kernels
model:forward(T.rand{bs, 1, 28, 28})
local threads = T.get_num_threads()
-- fit computes no input gradient for the first layer with parameters (nothing is upstream)
local first
for i, layer in ipairs(model.layers) do
  if not first and #layer:named_parameters() > 0 then first = i end
end
for i, layer in ipairs(model.layers) do
  if layer.class_name == "Conv2d" then
    local x = layer._xin
    local w, b, pc = layer.weight, layer.bias, layer.params_c
    local n, c, h, wd = x:size(1), x:size(2), x:size(3), x:size(4)
    local o, kh, kw = w:size(1), w:size(3), w:size(4)
    local z = layer._buffers.z
    local oh, ow = z:size(3), z:size(4)
    local kk, p = c * kh * kw, oh * ow
    local y, dy = T.empty{n, o, oh, ow}, T.rand{n, o, oh, ow}
    local dx, dw, db = T.empty{n, c, h, wd}, T.zeros{o, c, kh, kw}, T.zeros{o}
    -- as Conv2d calls them in training: forward keeps the lowered input in cols, and
    -- backward reads it from there; in evaluation mode (predict) forward keeps nothing
    local kept = T.empty{K.conv2d_cols_numel(x, w, pc)}
    local fwd = seconds(function() K.conv2d_forward(y, x, w, b, pc, kept) end)
    local fwd_eval = seconds(function() K.conv2d_forward(y, x, w, b, pc) end)
    local bwd_dx = seconds(function() K.conv2d_backward(dx, dw, db, dy, x, w, pc, kept) end)
    local bwd = seconds(function() K.conv2d_backward(nil, dw, db, dy, x, w, pc, kept) end)
    -- the equivalent GEMM over the whole batch, at this process's thread count
    local a, all_cols, out = T.rand{o, kk}, T.rand{kk, n * p}, T.empty{o, n * p}
    local gemm = seconds(function() T.matmul(a, all_cols, out) end)
    -- the three GEMMs of one lowered chunk as ops/conv.c issues them, one thread each:
    -- forward w [O,K] @ col [K,S*P]; weight gradient dy [O,S*P] @ col^T; column gradient
    -- w^T @ dy (ops/conv.c reads col out of the kept [K,N*P] matrix, here it is contiguous)
    local s = chunk_samples(n, kk, p, threads)
    local chunks = (n + s - 1) // s
    local col, dyc = T.rand{kk, s * p}, T.rand{o, s * p}
    local yc, dwc, dcol = T.empty{o, s * p}, T.empty{o, kk}, T.empty{kk, s * p}
    T.set_num_threads(1)
    local g_fwd = seconds(function() T.matmul(a, col, yc) end)
    local g_dw = seconds(function() T.matmul(dyc, col:t(), dwc) end)
    local g_dcol = seconds(function() T.matmul(a:t(), dyc, dcol) end)
    T.set_num_threads(threads)
    local ms = function(t) return string.format("%.4f", t * 1e3) end
    print(table.concat({"layer", i, "train_dx=" .. (i == first and 0 or 1), "N=" .. n, "C=" .. c, "H=" .. h, "W=" .. wd,
                        "O=" .. o, "OH=" .. oh, "OW=" .. ow, "KH=" .. kh, "KW=" .. kw, "chunk=" .. s, "chunks=" .. chunks,
                        "fwd=" .. ms(fwd), "fwd_eval=" .. ms(fwd_eval), "bwd_dx=" .. ms(bwd_dx), "bwd=" .. ms(bwd),
                        "gemm=" .. ms(gemm), "chunk_fwd=" .. ms(g_fwd * chunks), "chunk_dw=" .. ms(g_dw * chunks),
                        "chunk_dcol=" .. ms(g_dcol * chunks), "|", layer:describe()}, " "))
  end
end
