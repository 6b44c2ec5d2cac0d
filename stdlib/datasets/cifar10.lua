-- CIFAR-10 (Alex Krizhevsky, 2009): 32x32 colour photographs in 10 classes, 50,000
-- training and 10,000 test images, read from the "binary version" files. As Keras's
-- keras.datasets.cifar10 (and datasets.mnist):
--   local x_train, y_train, x_test, y_test, class_names = datasets.cifar10.load_data()
-- x: [N,3,32,32] float32 pixel values 0..255 (channels R, G, B; divide by 255 yourself,
-- or pass normalize = true); y: [N] 0-based class ids 0..9, so the name of label y is
-- class_names[y + 1].
local T = require "luacnn"
local idx_split = require "datasets.idx_split"

local cifar10 = {}

cifar10.class_names = {
  "airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck",
}

cifar10.TRAIN_FILES = { "data_batch_1.bin", "data_batch_2.bin", "data_batch_3.bin", "data_batch_4.bin",
                        "data_batch_5.bin" }
cifar10.TEST_FILES = { "test_batch.bin" }
-- The folder the archive unpacks into.
cifar10.DIR_NAME = "cifar-10-batches-bin"
cifar10.URL = "https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz"

cifar10.info = setmetatable({
  name = "CIFAR-10",
  source = "Alex Krizhevsky, Vinod Nair and Geoffrey Hinton, " .. cifar10.URL .. " (binary version)",
  image_shape = { 3, 32, 32 },
  num_classes = 10,
  train = 50000,
  test = 10000,
  split = "The published split: data_batch_1..5.bin (50,000 training images, 5,000 of each class) and "
    .. "test_batch.bin (10,000 test images, 1,000 of each class).",
}, { __tostring = function(self) return self.name .. " (" .. self.source .. ")\n" .. self.split end })

local WHAT = "datasets.cifar10.load_data"

-- Whether path exists: what is wrong with it (empty, a directory, ...) is the reader's
-- message to give, naming the file, rather than a "missing" here.
local function exists(path)
  local f = io.open(path, "rb")
  if not f then return false end
  f:close()
  return true
end

local function all_files()
  local names = {}
  for _, n in ipairs(cifar10.TRAIN_FILES) do names[#names + 1] = n end
  for _, n in ipairs(cifar10.TEST_FILES) do names[#names + 1] = n end
  return names
end

-- The files in dir: {train = {paths}, test = {paths}} when all are there, else nil and
-- the list of missing names.
local function files_in(dir)
  local found, missing = { train = {}, test = {} }, {}
  for _, split in ipairs({ "train", "test" }) do
    for _, name in ipairs(split == "train" and cifar10.TRAIN_FILES or cifar10.TEST_FILES) do
      local path = dir .. "/" .. name
      if exists(path) then table.insert(found[split], path) else missing[#missing + 1] = name end
    end
  end
  if #missing == 0 then return found end
  return nil, missing
end

-- How to get the files into a folder searched: the one named by opts.data, else
-- $LUACNN_DATA when set, else the project's data folder (a source checkout).
local function get_hint(data)
  local env = os.getenv("LUACNN_DATA")
  local target = data or (env and env ~= "" and env) or idx_split.project_data_dir() or "DIR"
  return string.format("Download the binary version (about 160 MB) from %s\nand unpack it in %s:\n"
                       .. "  tar xzf cifar-10-binary.tar.gz -C %s      (makes %s/%s)\n"
                       .. "or pass --data DIR / load_data{data = DIR} for a folder holding the files.",
                       cifar10.URL, target, target, target, cifar10.DIR_NAME)
end

-- locate([{data = DIR}]) -> the folder load_data would read and {train = {paths},
-- test = {paths}}, or nil and the message load_data would raise. opts.data alone when
-- given (the folder itself, or its cifar-10-batches-bin: the archive's layout); else
-- $LUACNN_DATA/cifar-10-batches-bin, then the project's data/cifar-10-batches-bin.
function cifar10.locate(opts)
  opts = opts or {}
  local data = opts.data
  if opts.dir ~= nil then
    if data ~= nil and data ~= opts.dir then
      return nil, string.format("%s: give data or dir (the same option), not both", WHAT)
    end
    data = opts.dir
  end
  local places, err = idx_split.places(WHAT, cifar10.DIR_NAME, data, true)
  if not places then return nil, err end
  local lines = {}
  for i, place in ipairs(places) do
    local note = place.note
    if place.dir then
      local files, missing = files_in(place.dir)
      if files then return place.dir, files end
      if #missing < #all_files() then
        -- part of the data set is worse than none: say so instead of looking further
        return nil, string.format("%s: %s (%s) is incomplete: %s missing.\n%s", WHAT, place.dir, place.why,
                                  table.concat(missing, ", "), get_hint(data))
      end
      note = "no such files"
    end
    lines[#lines + 1] = string.format("  %d. %s%s: %s", i, place.dir or place.why,
                                      place.dir and " (" .. place.why .. ")" or "", note)
  end
  return nil, string.format("%s: CIFAR-10 not found. Looked for %s in:\n%s\n%s", WHAT, table.concat(all_files(), ", "),
                            table.concat(lines, "\n"), get_hint(data))
end

-- subset: nil, n (the first n of each split) or {train = n, test = m}.
local function subset_sizes(subset)
  if subset == nil then return nil, nil end
  local function count(v, what)
    if v ~= nil and (math.type(v) ~= "integer" or v < 0) then
      error(string.format("%s: %s must be a non-negative integer, got %s", WHAT, what, tostring(v)), 4)
    end
    return v
  end
  if type(subset) == "table" then
    for k in pairs(subset) do
      if k ~= "train" and k ~= "test" then
        error(string.format("%s: subset takes {train = n, test = m}, not '%s'", WHAT, tostring(k)), 4)
      end
    end
    return count(subset.train, "subset.train"), count(subset.test, "subset.test")
  end
  local n = count(subset, "subset")
  return n, n
end

local KNOWN = { data = true, dir = true, normalize = true, subset = true }

-- load_data([{data = DIR, normalize = false, subset = n | {train = n, test = m}}])
--   -> x_train [N,3,32,32], y_train [N], x_test, y_test, class_names
-- normalize = true divides the pixels by 255 while reading (values 0..1, the same
-- floats as x / 255, without a second 600 MB tensor). subset = n keeps the first n
-- images of each split (reading stops there), for quick runs.
function cifar10.load_data(opts)
  if opts ~= nil and type(opts) ~= "table" then
    error(string.format("%s: expected an options table ({data = DIR, normalize =, subset =}) or nothing, got %s",
                        WHAT, type(opts)), 2)
  end
  opts = opts or {}
  for k in pairs(opts) do
    if not KNOWN[k] then
      error(string.format("%s: unknown option '%s' (known: data, dir, normalize, subset)", WHAT, tostring(k)), 2)
    end
  end
  local n_train, n_test = subset_sizes(opts.subset)
  local dir, files = cifar10.locate(opts)
  if not dir then error(files, 2) end
  local divisor = opts.normalize and 255 or 1
  local ok, x_train, y_train = pcall(T.load_cifar, files.train, n_train, divisor)
  if not ok then error(string.format("%s: %s", WHAT, x_train), 2) end
  local x_test, y_test
  ok, x_test, y_test = pcall(T.load_cifar, files.test, n_test, divisor)
  if not ok then error(string.format("%s: %s", WHAT, x_test), 2) end
  return x_train, y_train, x_test, y_test, cifar10.class_names
end

return cifar10
