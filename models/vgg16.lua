-- VGG-16 (configuration D) at 224x224 for 1000 classes in torchvision's layout:
-- 138,357,544 parameters, 15.5 G multiply-adds per image. models/vgg.lua with depth 16;
-- the same options (batch_norm, classes, dropout, input_shape, ...).
--   local model = dofile("models/vgg16.lua")       -- or loadfile(...)({batch_norm = true})
--   luacnn summary models/vgg16.lua
local opts = ... or {}
local here = debug.getinfo(1, "S").source:match("^@(.*)/[^/]*$") or "."
local o = {}
for k, v in pairs(opts) do o[k] = v end
o.depth = 16
return assert(loadfile(here .. "/vgg.lua"))(o)
