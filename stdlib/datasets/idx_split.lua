-- Finding and loading a train/test split stored as the four IDX files of MNIST
-- (train-images-idx3-ubyte, train-labels-idx1-ubyte, t10k-images-idx3-ubyte,
-- t10k-labels-idx1-ubyte, each plain or .gz). Shared by datasets.mnist and
-- datasets.fashion_mnist.
local T = require "luacnn"

local M = {}

-- The one command that fetches every data set, run in the luacnn source folder.
M.FETCH_COMMAND = "scripts/bootstrap --data"

M.FILES = {
  { key = "x_train", name = "train-images-idx3-ubyte" },
  { key = "y_train", name = "train-labels-idx1-ubyte" },
  { key = "x_test", name = "t10k-images-idx3-ubyte" },
  { key = "y_test", name = "t10k-labels-idx1-ubyte" },
}

-- The project's data folder, <root>/data, when this file runs from <root>/stdlib
-- (a source checkout); nil for an installed stdlib. Taken from this file's own path,
-- which is the stdlib actually loaded, rather than from a search of package.path.
function M.project_data_dir()
  local source = debug.getinfo(1, "S").source
  local root = source:match("^@(.*)/stdlib/datasets/idx_split%.lua$")
  if root then return root == "" and "/data" or root .. "/data" end
  if source:match("^@stdlib/datasets/idx_split%.lua$") then return "data" end
  return nil
end

-- How to fetch the data: with the path of the source folder when this runs from one.
local function fetch_hint()
  local data = M.project_data_dir()
  if data then
    local root = data:match("^(.*)/data$")
    if root and root ~= "" then return root .. "/" .. M.FETCH_COMMAND end
    return M.FETCH_COMMAND
  end
  return M.FETCH_COMMAND .. " (in the luacnn source folder)"
end

local function readable(path)
  local f = io.open(path, "rb")
  if not f then return false end
  -- io.open succeeds on a directory on Linux; reading tells them apart.
  local ok = f:read(0) ~= nil
  f:close()
  return ok
end

-- The paths of the four files in dir: a table key -> path when all are there, else
-- nil and the list of missing names.
local function files_in(dir)
  local found, missing = {}, {}
  for _, file in ipairs(M.FILES) do
    local plain, gz = dir .. "/" .. file.name, dir .. "/" .. file.name .. ".gz"
    if readable(plain) then found[file.key] = plain
    elseif readable(gz) then found[file.key] = gz
    else missing[#missing + 1] = file.name end
  end
  if #missing == 0 then return found end
  return nil, missing
end

-- Where spec's files are: opts.data alone when given; else $LUACNN_DATA/<dir_name>,
-- the project's data/<dir_name>, then the list spec.system_dirs() returns; the first
-- complete one wins.
-- Returns the directory and its files, or nil and an error message that lists every
-- place looked at and how to fetch the data.
-- The places a data set is looked for, in order, as {dir=, why=} (or {why=, note=} for one
-- that cannot be looked at): data alone when given (and data/<dir_name> with inside=true);
-- else $LUACNN_DATA/<dir_name>, then the project's data/<dir_name>. nil and a message when
-- data is not a string.
function M.places(what, dir_name, data, inside)
  local places = {}
  if data ~= nil then
    if type(data) ~= "string" then
      return nil, string.format("%s: opts.data must be a directory name (a string), got %s", what, type(data))
    end
    places[1] = { dir = data, why = "opts.data" }
    if inside then places[2] = { dir = data .. "/" .. dir_name, why = "opts.data/" .. dir_name } end
    return places
  end
  local env = os.getenv("LUACNN_DATA")
  if env and env ~= "" then
    places[#places + 1] = { dir = env .. "/" .. dir_name, why = "$LUACNN_DATA/" .. dir_name }
  else
    places[#places + 1] = { why = "$LUACNN_DATA/" .. dir_name, note = "LUACNN_DATA is not set" }
  end
  local project = M.project_data_dir()
  if project then
    places[#places + 1] = { dir = project .. "/" .. dir_name, why = "the project's data folder" }
  end
  return places
end

function M.locate(spec, opts)
  local places, err = M.places(spec.what, spec.dir_name, opts.data)
  if not places then return nil, err end
  if opts.data == nil then
    for _, dir in ipairs(spec.system_dirs and spec.system_dirs() or {}) do
      places[#places + 1] = { dir = dir, why = spec.system_why }
    end
  end
  local lines = {}
  for i, place in ipairs(places) do
    local note = place.note
    if place.dir then
      local files, missing = files_in(place.dir)
      if files then return place.dir, files end
      if #missing < #M.FILES then
        -- Part of a data set is worse than none: say so instead of looking further.
        return nil, string.format("%s: %s (%s) is incomplete: %s missing (plain or .gz). Fetch it again with: %s",
                                  spec.what, place.dir, place.why, table.concat(missing, ", "), fetch_hint())
      end
      note = "no such files"
    end
    lines[#lines + 1] = string.format("  %d. %s%s: %s", i, place.dir or place.why,
                                      place.dir and " (" .. place.why .. ")" or "", note)
  end
  local names = {}
  for _, file in ipairs(M.FILES) do names[#names + 1] = file.name end
  return nil, string.format("%s: %s not found. Looked for %s (each plain or .gz) in:\n%s\n"
                            .. "Fetch it with: %s\nor pass load_data{data = DIR} for files elsewhere.",
                            spec.what, spec.title, table.concat(names, ", "), table.concat(lines, "\n"),
                            fetch_hint())
end

-- Loads the split in files and checks it against spec: images [N, H, W] with
-- spec.image_shape, labels [N] holding integers 0 .. spec.num_classes-1.
-- Returns x_train, y_train, x_test, y_test, or nil and a message.
function M.load(spec, files)
  local t = {}
  for _, file in ipairs(M.FILES) do
    local ok, result = pcall(T.load_idx, files[file.key])
    if not ok then return nil, string.format("%s: %s", spec.what, result) end
    t[file.key] = result
  end
  local h, w = spec.image_shape[1], spec.image_shape[2]
  for _, split in ipairs({ "train", "test" }) do
    local x, y = t["x_" .. split], t["y_" .. split]
    local xs, ys = x:size(), y:size()
    if #xs ~= 3 or xs[2] ~= h or xs[3] ~= w then
      return nil, string.format("%s: %s holds images of shape %s, expected [N,%d,%d]", spec.what,
                                files["x_" .. split], tostring(xs), h, w)
    end
    if #ys ~= 1 then
      return nil, string.format("%s: %s holds labels of shape %s, expected [N]", spec.what,
                                files["y_" .. split], tostring(ys))
    end
    if xs[1] ~= ys[1] then
      return nil, string.format("%s: %s has %d images but %s has %d labels", spec.what,
                                files["x_" .. split], xs[1], files["y_" .. split], ys[1])
    end
    if ys[1] > 0 then
      local lo, hi = y:min(), y:max()
      local fractional = (y - y:floor()):abs():max()
      if lo < 0 or hi > spec.num_classes - 1 or fractional ~= 0 then
        return nil, string.format("%s: %s holds labels from %g to %g, expected integers 0..%d", spec.what,
                                  files["y_" .. split], lo, hi, spec.num_classes - 1)
      end
    end
  end
  return t.x_train, t.y_train, t.x_test, t.y_test
end

-- A load_data(opts) function for spec.
function M.loader(spec)
  return function(opts)
    if opts ~= nil and type(opts) ~= "table" then
      error(string.format("%s: expected an options table ({data = DIR}) or nothing, got %s", spec.what, type(opts)), 2)
    end
    local dir, files = M.locate(spec, opts or {})
    if not dir then error(files, 2) end
    local x_train, y_train, x_test, y_test = M.load(spec, files)
    if not x_train then error(y_train, 2) end
    return x_train, y_train, x_test, y_test
  end
end

return M
