-- Layer types by name, so a model can be rebuilt from plain data (a checkpoint's
-- architecture) without the script that made it: nn.from_config(cfg).
--
-- Every layer's config() returns plain data: {type = "Dense", units = 128, ...}, with
-- only numbers, strings, booleans and tables of them (no functions, no tensors). A new
-- layer type becomes loadable in three steps, in its own file:
--
--   function MyLayer:config()
--     return {type = "MyLayer", size = self.size, input_shape = self.input_shape}
--   end
--   function MyLayer.from_config(cfg, from_config, path)
--     registry.check_fields(cfg, {"size", "input_shape"}, path)   -- unknown keys are errors
--     return MyLayer(cfg.size, {input_shape = cfg.input_shape})
--   end
--   registry.register("MyLayer", MyLayer)
--
-- A container's from_config builds its children with from_config(child_cfg, child_path),
-- the function it is handed, and its config() gives registry.config_of(child) for each
-- child (see Sequential, Model). config_of adds the layer's name (layer:set_name), which
-- from_config gives back, so a class's own config and from_config never see it.
-- Parameters are not part of a config: the checkpoint loader copies them in after the
-- model is rebuilt.
--
-- A module that appears in two places of one model (one Dense inside two blocks) is one
-- module again after a round trip: within one top-level config_of, its first config gets
-- shared = k and every later place is {type = "Shared", ref = k}; from_config hands back
-- the module it built for k.
local M = {}

M.types = {}

function M.register(name, cls)
  if type(name) ~= "string" or name == "" then error("registry.register: the type name must be a string", 2) end
  if type(cls) ~= "table" or type(cls.from_config) ~= "function" then
    error(string.format("registry.register: '%s' needs a from_config(cfg, from_config, path) function", name), 2)
  end
  M.types[name] = cls
  return cls
end

function M.names()
  local ns = {}
  for k in pairs(M.types) do ns[#ns + 1] = k end
  table.sort(ns)
  return ns
end

local function bare(msg)
  return (tostring(msg):gsub("^[^\n:]+:%d+: ", ""))
end

-- Raises unless every key of cfg is "type" or one of `allowed`: a misspelt or foreign
-- field is an error rather than something silently ignored.
function M.check_fields(cfg, allowed, path)
  local ok = {type = true}
  for _, k in ipairs(allowed) do ok[k] = true end
  for k in pairs(cfg) do
    if not ok[k] then
      error(string.format("%s: unknown field '%s' for a %s (known: %s)", path, tostring(k), tostring(cfg.type),
                          table.concat(allowed, ", ")), 0)
    end
  end
end

-- During one top-level config_of: module -> the config made for it, and the last
-- shared id given; during one top-level from_config: shared id -> module.
local seen, last_id, built

local function config_once(m)
  local first = seen[m]
  if first then
    if not first.shared then
      last_id = last_id + 1
      first.shared = last_id
    end
    return {type = "Shared", ref = first.shared}
  end
  local cfg = m:config()
  if m.name ~= nil then cfg.name = m.name end
  seen[m] = cfg
  return cfg
end

-- Runs f(...) with one memo for every config_of inside it, unless one is active: a
-- container's config() runs in one, so that a module met twice anywhere below it is marked.
function M.config_scope(f, ...)
  if seen then return f(...) end
  seen, last_id = {}, 0
  local ok, cfg = pcall(f, ...)
  seen = nil
  if not ok then error(cfg, 0) end
  return cfg
end

-- m:config() plus the name the layer was given, if any (and the shared id, see above).
function M.config_of(m) return M.config_scope(config_once, m) end

-- config_of for a file (model:save): the file's shared ids are its own, also when it is
-- written inside another config_of (a layer type whose config() saves a part of it to a
-- file of its own), where config_of would mark modules met in the outer model.
function M.file_config_of(m)
  local outer_seen, outer_id = seen, last_id
  seen = nil
  local ok, cfg = pcall(M.config_of, m)
  seen, last_id = outer_seen, outer_id
  if not ok then error(cfg, 0) end
  return cfg
end

-- A per-sample shape from a file: a list of 1..8 positive integers.
local function check_shape(s, path)
  if s == nil then return end
  if type(s) ~= "table" or #s < 1 or #s > 8 then
    error(path .. ": input_shape must be a list of 1 to 8 sizes", 0)
  end
  for k in pairs(s) do
    if math.type(k) ~= "integer" or k < 1 or k > #s then error(path .. ": input_shape must be a plain list", 0) end
  end
  for i, v in ipairs(s) do
    if math.type(v) ~= "integer" or v < 1 or v > (1 << 31) then
      error(string.format("%s: input_shape[%d] must be a positive integer, got %s", path, i, tostring(v)), 0)
    end
  end
end

local function build(cfg, path)
  if type(cfg) ~= "table" then error(string.format("%s: a layer config is a table, got %s", path, type(cfg)), 0) end
  local name = cfg.type
  if type(name) ~= "string" then error(path .. ": the config has no type name", 0) end
  if name == "Shared" then
    M.check_fields(cfg, {"ref"}, path)
    local m = built[cfg.ref]
    if not m then error(string.format("%s: refers to shared module %s, which no earlier config defines", path,
                                      tostring(cfg.ref)), 0) end
    return m
  end
  local shared = cfg.shared
  if shared ~= nil then
    if math.type(shared) ~= "integer" or built[shared] then
      error(string.format("%s: shared must be a new integer id, got %s", path, tostring(shared)), 0)
    end
    local copy = {}
    for k, v in pairs(cfg) do copy[k] = v end
    copy.shared = nil
    cfg = copy
  end
  local cls = M.types[name]
  if not cls then
    error(string.format("%s: unknown layer type '%s' (known: %s)", path, name, table.concat(M.names(), ", ")), 0)
  end
  check_shape(cfg.input_shape, path)
  local layer_name = cfg.name
  if layer_name ~= nil then
    if type(layer_name) ~= "string" then error(path .. ": name must be a string", 0) end
    local copy = {}
    for k, v in pairs(cfg) do copy[k] = v end
    copy.name = nil
    cfg = copy
  end
  local ok, res = pcall(function()
    local m = cls.from_config(cfg, M.from_config, path)
    if layer_name ~= nil then m:set_name(layer_name) end
    return m
  end)
  if not ok then
    local msg = bare(res)
    -- a nested failure already names its own path
    if msg:sub(1, #path) == path then error(msg, 0) end
    error(string.format("%s (%s): %s", path, name, msg), 0)
  end
  if shared ~= nil then built[shared] = res end
  return res
end

-- A module from its config. path names the place in the file for messages
-- ("model.layers[3]"); errors say the path, the type and what was wrong.
function M.from_config(cfg, path)
  path = path or "config"
  if built then return build(cfg, path) end
  built = {}
  local ok, m = pcall(build, cfg, path)
  built = nil
  if not ok then error(m, 0) end
  return m
end

-- from_config for a file's architecture (nn.load): the file's shared ids are its own,
-- also when it is read inside another from_config (a layer type that loads a pretrained
-- part with nn.load), where from_config would take them for the outer config's.
function M.from_file_config(cfg, path)
  local outer = built
  built = nil
  local ok, m = pcall(M.from_config, cfg, path)
  built = outer
  if not ok then error(m, 0) end
  return m
end

return M
