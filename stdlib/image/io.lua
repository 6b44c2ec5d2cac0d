-- Reading and writing image files: PNG, PGM and PPM (the C readers and writers are in
-- ops/pngio.c and ops/pnm.c). Images are tensors [C,H,W], channels first.
--
--   image.load(path)                  -> [C,H,W] with values 0..255
--   image.load(path, {scale = true})  -> values 0..1 (divided by 255)
--   image.save(path, t)               t holds 0..255 values (rounded, clamped)
--   image.save(path, t, {scale = true})  t holds 0..1 values (multiplied by 255 first)
--
-- The rule for save is explicit, never guessed from the values: a dark 0..255 image
-- whose maximum is 1 and a [0,1] image look alike.
local T = require "luacnn"
local check = require "image.check"

local M = {}

function M.load(path, opts)
  if type(path) ~= "string" then error("image.load: expected a file name, got " .. type(path), 2) end
  opts = check.opts(opts, "image.load", {scale = true})
  local ok, t = pcall(T.image_load, path)
  if not ok then error(t, 2) end
  if opts.scale then t:div_(255) end
  return t
end

function M.save(path, t, opts)
  if type(path) ~= "string" then error("image.save: expected a file name, got " .. type(path), 2) end
  opts = check.opts(opts, "image.save", {scale = true})
  check.image(t, "image.save")
  if opts.scale then t = t * 255 end
  local ok, err = pcall(T.image_save, path, t)
  if not ok then error(err, 2) end
  return path
end

return M
