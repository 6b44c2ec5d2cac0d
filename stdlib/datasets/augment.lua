-- Batch augmentation for image training: random crop of the zero-padded image, random
-- horizontal flip and per-channel normalization, in one C pass (ops/augment.c) into a
-- buffer kept per batch shape, so a training step allocates nothing.
--   local aug = datasets.augment{crop = 32, padding = 4, flip = true,
--                                mean = {0.4914, 0.4822, 0.4465}, std = {0.2470, 0.2435, 0.2616}}
--   model:fit(x, y, {augment = aug, ...})   -- each training batch, never validation
--   local xb2 = aug(xb)                       -- [N,C,H,W] -> [N,C,crop,crop]
--   x_test = aug:normalize(x_test)            -- the same mean/std, no crop or flip
-- The random choices come from luacnn's seeded generator (T.manual_seed, LUACNN_SEED),
-- drawn on one thread in sample order, so a seed reproduces a run at any thread count.
local T = require "luacnn"
local K = T.kernels

local M = {}

local Augment = {}
Augment.__index = Augment
Augment.class_name = "Augment"

-- Buffers are kept for this many batch shapes (fit uses two: full and last batch).
local MAX_SHAPES = 4

local function fail(msg, level) error("augment: " .. msg, level + 1) end

local function positive_int(v, what, level)
  if math.type(v) ~= "integer" or v < 1 then
    fail(string.format("%s must be a positive integer, got %s", what, tostring(v)), level + 1)
  end
  return v
end

-- A list of per-channel numbers from a table or a 1-D tensor.
local function channel_list(v, what, level)
  if T.is_tensor(v) then
    if v:dim() ~= 1 then fail(string.format("%s must be a list of per-channel values, got a tensor of shape %s", what,
                                            tostring(v:size())), level + 1) end
    v = v:totable()
  end
  if type(v) ~= "table" or #v == 0 then
    fail(string.format("%s must be a list of per-channel values, got %s", what, type(v)), level + 1)
  end
  local out = {}
  for i, x in ipairs(v) do
    if type(x) ~= "number" or x ~= x or x == math.huge or x == -math.huge then
      fail(string.format("%s[%d] must be a finite number, got %s", what, i, tostring(x)), level + 1)
    end
    out[i] = x
  end
  return out
end

local KNOWN = {crop = true, padding = true, flip = true, mean = true, std = true}

-- new{crop = n | {h, w} (default: the input's size), padding = 0, flip = false,
--     mean = {...}, std = {...} (both or neither; one value per channel)}
function M.new(opts)
  if opts == nil then opts = {} end
  if type(opts) ~= "table" then
    fail("expected an options table {crop=, padding=, flip=, mean=, std=}, got " .. type(opts), 2)
  end
  for k in pairs(opts) do
    if not KNOWN[k] then
      fail(string.format("unknown option '%s' (known: crop, padding, flip, mean, std)", tostring(k)), 2)
    end
  end
  local self = setmetatable({}, Augment)
  if opts.crop ~= nil then
    if type(opts.crop) == "table" then
      self.crop = {positive_int(opts.crop[1], "crop[1]", 2), positive_int(opts.crop[2], "crop[2]", 2)}
    else
      local c = positive_int(opts.crop, "crop", 2)
      self.crop = {c, c}
    end
  end
  local pad = opts.padding or 0
  if math.type(pad) ~= "integer" or pad < 0 then
    fail("padding must be a non-negative integer, got " .. tostring(pad), 2)
  end
  self.padding = pad
  if opts.flip ~= nil and type(opts.flip) ~= "boolean" then
    fail("flip must be true or false, got " .. tostring(opts.flip), 2)
  end
  self.flip = opts.flip == true
  if (opts.mean == nil) ~= (opts.std == nil) then fail("give both mean and std, or neither", 2) end
  if opts.mean ~= nil then
    self.mean = channel_list(opts.mean, "mean", 2)
    self.std = channel_list(opts.std, "std", 2)
    if #self.mean ~= #self.std then
      fail(string.format("mean has %d values but std has %d", #self.mean, #self.std), 2)
    end
    for i, s in ipairs(self.std) do
      if not (s > 0) then fail(string.format("std[%d] must be positive, got %s", i, tostring(s)), 2) end
    end
    self.mean_t, self.std_t = T.tensor(self.mean), T.tensor(self.std)
  end
  self.buffers, self.nbuffers = {}, 0
  return self
end

-- The sample shape {C, OH, OW} this augmentation makes of samples {C, H, W}; an error
-- when the crop does not fit or the channels do not match mean/std.
function Augment:output_shape(shape, level)
  level = (level or 1) + 1
  if #shape ~= 3 then fail(string.format("expected images [C,H,W] per sample, got %d dims", #shape), level) end
  local C, H, W, P = shape[1], shape[2], shape[3], self.padding
  if self.mean and #self.mean ~= C then
    fail(string.format("the images have %d channel%s but mean/std have %d values", C, C == 1 and "" or "s",
                       #self.mean), level)
  end
  local oh, ow = self.crop and self.crop[1] or H, self.crop and self.crop[2] or W
  if oh > H + 2 * P or ow > W + 2 * P then
    fail(string.format("a %dx%d crop does not fit in %dx%d images padded by %d (%dx%d)", oh, ow, H, W, P, H + 2 * P,
                       W + 2 * P), level)
  end
  return {C, oh, ow}
end

local function check_images(x, level)
  if not T.is_tensor(x) then fail("expected a batch of images [N,C,H,W], got " .. type(x), level + 1) end
  if x:dim() ~= 4 then fail("expected a batch of images [N,C,H,W], got " .. tostring(x:size()), level + 1) end
end

-- apply(x) -> the augmented batch, in a buffer this object keeps for x's shape (the
-- next call with that shape overwrites it). self.draws holds the batch's choices,
-- [N,3]: top and left of the crop in the padded image (0-based), flip 0/1.
function Augment:apply(x)
  check_images(x, 2)
  local n, c, h, w = x:size(1), x:size(2), x:size(3), x:size(4)
  local key = n .. "," .. c .. "," .. h .. "," .. w
  local b = self.buffers[key]
  if not b then
    local out_shape = self:output_shape({c, h, w}, 2)
    if self.nbuffers >= MAX_SHAPES then self.buffers, self.nbuffers = {}, 0 end
    b = {out = T.empty{n, out_shape[1], out_shape[2], out_shape[3]}, draws = T.empty{n, 3}, oh = out_shape[2],
         ow = out_shape[3]}
    self.buffers[key], self.nbuffers = b, self.nbuffers + 1
  end
  local P = self.padding
  K.augment_draw(b.draws, h + 2 * P - b.oh, w + 2 * P - b.ow, self.flip)
  K.augment_apply(b.out, x, b.draws, P, b.oh, b.ow, self.mean_t, self.std_t)
  self.draws = b.draws
  return b.out
end

Augment.__call = Augment.apply

-- normalize(x[, out]) -> (x - mean) / std per channel, nothing random, into a new
-- tensor (or out): for validation and test images, which must see the same
-- normalization as the training batches.
function Augment:normalize(x, out)
  check_images(x, 2)
  if not self.mean then fail("normalize: this augmentation has no mean/std", 2) end
  local n, c, h, w = x:size(1), x:size(2), x:size(3), x:size(4)
  if #self.mean ~= c then
    fail(string.format("normalize: the images have %d channel%s but mean/std have %d values", c,
                       c == 1 and "" or "s", #self.mean), 2)
  end
  out = out or T.empty{n, c, h, w}
  K.augment_apply(out, x, T.zeros{n, 3}, 0, h, w, self.mean_t, self.std_t)
  return out
end

local function list(xs)
  local s = {}
  for i, v in ipairs(xs) do s[i] = string.format("%.4g", v) end
  return "{" .. table.concat(s, ", ") .. "}"
end

function Augment:__tostring()
  local parts = {}
  if self.crop then parts[#parts + 1] = string.format("crop %dx%d", self.crop[1], self.crop[2]) end
  if self.padding > 0 then parts[#parts + 1] = "padding " .. self.padding end
  if self.flip then parts[#parts + 1] = "flip" end
  if self.mean then parts[#parts + 1] = "mean " .. list(self.mean) .. " std " .. list(self.std) end
  return "Augment(" .. table.concat(parts, ", ") .. ")"
end

M.Augment = Augment
return M
