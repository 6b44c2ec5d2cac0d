-- image.print and friends: exact text for small images, the scaling rules, the layout
-- and the errors.
local T = require "luacnn"
local image = require "image"
local has = require("spec_support").has

local function lines(text)
  local out = {}
  for line in text:gmatch("([^\n]*)\n") do out[#out + 1] = line end
  return out
end

describe("image", function()
  it("grid_string shows 0..255 values in 3-wide columns", function()
    local t = T.tensor{ { 0, 1, 2 }, { 255, 128, 7 } }
    assert.are.equal("  0   1   2\n255 128   7\n", image.grid_string(t))
  end)

  it("to_ascii shades by value, two characters per pixel", function()
    local t = T.tensor{ { 0, 255 }, { 128, 25 } }
    assert.are.equal("  @@\n++  \n", image.to_ascii(t))
    -- a ramp 0..255 gets every shade, darker never before lighter
    local ramp = T.arange(256):view(1, 256)
    local row = image.to_ascii(ramp):sub(1, -2)
    local last = 0
    for i = 1, #row, 2 do
      local level = (" .:-=+*#%@"):find(row:sub(i, i), 1, true)
      assert.is_true(level >= last, "shade goes back at pixel " .. (i + 1) / 2)
      last = level
    end
    assert.are.equal(" ", row:sub(1, 1))
    assert.are.equal("@", row:sub(-1))
    for c in (" .:-=+*#%@"):gmatch(".") do assert.is_true(has(row, c), "shade '" .. c .. "' unused") end
  end)

  it("takes [1,H,W] like [H,W]", function()
    local t = T.tensor{ { 10, 20, 30 }, { 40, 50, 60 } }
    assert.are.equal(image.format(t), image.format(t:view(1, 2, 3)))
    assert.are.equal(image.grid_string(t), image.grid_string(t:view(1, 2, 3)))
  end)

  it("shows values in [0,1] x255 and says so", function()
    local t = T.tensor{ { 0, 0.5, 1 } }
    assert.are.equal("  0 128 255\n", image.grid_string(t))
    assert.are.equal(image.to_ascii(T.tensor{ { 0, 128, 255 } }), image.to_ascii(t))
    assert.are.equal("image 1x3, values in [0,1] shown x255", lines(image.format(t))[1])
    assert.are.equal("image 1x3, values 0..255", lines(image.format(t * 255))[1])
  end)

  it("rescales other ranges from [min,max], or by opts.scale", function()
    local t = T.tensor{ { -1, 0 }, { 1, 2 } }
    assert.are.equal("  0  85\n170 255\n", image.grid_string(t))
    assert.are.equal("image 2x2, values in [-1,2] rescaled to 0..255", lines(image.format(t))[1])
    assert.are.equal("  0   2\n  4   6\n", image.grid_string(T.tensor{ { 0, 1 }, { 2, 3 } }, { scale = 2 }))
    assert.are.equal("  0   0\n", image.grid_string(T.tensor{ { -3, -3 } }))
  end)

  it("puts the picture beside the grid when it fits, else below", function()
    local t = T.tensor{ { 0, 255 }, { 255, 0 } }
    assert.are.equal(table.concat({
      "image 2x2, values 0..255",
      "          +----+",
      "  0 255   |  @@|",
      "255   0   |@@  |",
      "          +----+",
      "",
    }, "\n"), image.format(t, { width = 80 }))
    assert.are.equal(table.concat({
      "image 2x2, values 0..255",
      "  0 255",
      "255   0",
      "+----+",
      "|  @@|",
      "|@@  |",
      "+----+",
      "",
    }, "\n"), image.format(t, { width = 10 }))
  end)

  it("prints a 28x28 image as 28 rows of numbers and a 28-row picture", function()
    local t = T.zeros(28, 28)
    t[{ { 5, 24 }, { 12, 16 } }] = 255
    local out = lines(image.format(t, { width = 120 }))
    assert.are.equal(1 + 28 + 1 + 28 + 1, #out)
    for i = 2, 29 do assert.are.equal(28 * 4 - 1, #out[i]) end
    assert.are.equal("|" .. string.rep(" ", 22) .. string.rep("@", 10) .. string.rep(" ", 24) .. "|", out[31 + 4])
  end)

  it("image.print writes what image.format returns", function()
    local t = T.tensor{ { 1, 2 }, { 3, 4 } }
    local path = os.tmpname()
    local f = assert(io.open(path, "w"))
    local saved = io.output()
    io.output(f)
    local ok, err = pcall(image.print, t, { width = 80 })
    io.output(saved)
    f:close()
    f = assert(io.open(path, "r"))
    local text = f:read("a")
    f:close()
    os.remove(path)
    assert.is_true(ok, err)
    assert.are.equal(image.format(t, { width = 80 }), text)
  end)

  it("refuses batches, vectors, NaN and non-tensors with a hint", function()
    local cases = {
      { function() image.print(T.zeros(3, 28, 28)) end, "got [3,28,28] (a batch of 3? print one image: x[1])" },
      { function() image.to_ascii(T.zeros(5)) end, "image.to_ascii: expected an image of shape [H,W] or [1,H,W], got [5]" },
      { function() image.grid_string(T.tensor{ { 0 / 0 } }) end, "image.grid_string: the image holds NaN" },
      { function() image.format({}) end, "image.format: expected an image tensor, got table" },
    }
    for _, case in ipairs(cases) do
      local ok, err = pcall(case[1])
      assert.is_false(ok)
      assert.is_true(has(err, case[2]), err)
      assert.is_truthy(err:match("image_print_spec%.lua:%d+:"), "error not at the caller's line: " .. err)
    end
  end)
end)
