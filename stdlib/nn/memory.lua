-- The memory plan of a container's backward pass: gradient buffers shared between layers.
--
-- In a chain of layers, the gradient w.r.t. layer i's input is dead once layer i - 1 has
-- run its backward (it reads it as its dy and writes its own input gradient elsewhere).
-- So two buffers ("slots") serve the whole chain, ping-pong: each layer writes its input
-- gradient into the slot that does not hold its dy (nn/sequential.lua). Nested
-- Sequentials share their parent's arena, so VGG-16's features and classifier use one.
-- An nn.Model uses as many slots as its graph keeps gradients alive at once, each reused
-- once the gradient it held has been read (nn/model.lua). An Arena holds the slots, each
-- one flat tensor as large as the largest gradient it has served, and hands out views of
-- them shaped as asked (cached per shape, so a step allocates no tensors).
--
-- The protocol between a container and a layer (the container sets it around each child's
-- backward and clears it after):
--   layer._arena, layer._arena_slot   the arena and the slot the layer may write into;
--                                     Module:grad_buffer(name, ...) takes a view of it
--                                     (without an arena, the layer's own buffer)
--   layer._dy_owned                   dy belongs to the plan and nobody reads it after
--                                     this layer, which may overwrite it (an activation
--                                     masks it in place instead of writing another buffer)
--   layer._grad_slot                  set by grad_buffer: the slot the result was written
--                                     to (nil: the result is dy itself or a view of it, for
--                                     classes with grad_aliases_dy = true, or a tensor the
--                                     plan does not own)
-- and around forward, layer._inplace: the input is the output of a layer whose backward
-- never reads it (output_reusable()) and that nothing else reads, so an in-place ReLU may
-- write into it.
local T = require "luacnn"

local M = {}

local Arena = {}
Arena.__index = Arena

-- An arena of slots 1, 2, ... made as they are first used (a Sequential uses two; a
-- Model as many as its graph keeps alive at once).
function M.arena()
  return setmetatable({store = {}, cap = {}, views = {}}, Arena)
end

-- Grows slot s (slots 1 and 2 when s is nil) to hold at least numel floats. A grown
-- slot's old storage goes with its views; the other slots' content is untouched (one may
-- hold the live dy).
function Arena:reserve(numel, s)
  for k = s or 1, s or 2 do
    if (self.cap[k] or 0) < numel then
      self.store[k] = nil
      self.views[k] = {}
      self.store[k] = T.empty{math.max(numel, 1)}
      self.cap[k] = numel
    end
  end
end

-- A view of slot s shaped {...}.
function Arena:tensor(s, ...)
  local views = self.views[s]
  local key = table.concat({...}, "x")
  local v = views and views[key]
  if v then return v end
  local n = 1
  for i = 1, select("#", ...) do n = n * select(i, ...) end
  if n == 0 then return T.empty(...) end
  self:reserve(n, s)
  v = self.store[s]:narrow(1, 1, n):view(...)
  self.views[s][key] = v
  return v
end

return M
