-- viz.grid: filters and feature maps tiled into one picture.
local T = require "luacnn"
local grid = require "viz.grid"

describe("viz.grid", function()
  it("tiles with gaps, scales by repetition and stretches each tile to 0..255", function()
    local a = T.tensor{{0, 1}, {2, 3}}
    local b = T.tensor{{5, 5}, {5, 5}}
    local g = grid.tile({a, b}, {scale = 2, gap = 1, cols = 2})
    -- 2 tiles of 4x4 side by side with 1-pixel gaps: 1 + 4 + 1 + 4 + 1 wide, 1 + 4 + 1 high
    assert.same({1, 6, 11}, {g:size(1), g:size(2), g:size(3)})
    local img = g[1]
    assert.equal(255, img:get(1, 1))                   -- gap
    assert.equal(0, img:get(2, 2))                     -- a's minimum, top-left, 2x2 block
    assert.equal(0, img:get(3, 3))
    assert.near(255 / 3, img:get(2, 4), 1e-3)          -- a's value 1
    assert.equal(255, img:get(4, 4 + 1))               -- a's maximum 3, bottom-right block
    assert.equal(128, img:get(2, 7))                   -- constant tile: mid grey
  end)

  it("lays out conv filters one row per output channel", function()
    local w = T.randn{4, 3, 5, 5}
    local g = grid.filters(w, {scale = 1, gap = 1})
    -- 3 columns (inputs) x 4 rows (outputs) of 5x5
    assert.same({1, 4 * 5 + 5, 3 * 5 + 4}, {g:size(1), g:size(2), g:size(3)})
    local maps = grid.maps(T.rand{16, 10, 10}, {scale = 1, gap = 0, cols = 8})
    assert.same({1, 20, 80}, {maps:size(1), maps:size(2), maps:size(3)})
  end)

  it("rejects what is not a weight or a stack of maps", function()
    assert.has_error(function() grid.filters(T.zeros{3, 3}) end, "viz.grid.filters: expected a conv weight [out, in, kh, kw]")
    assert.has_error(function() grid.maps(T.zeros{3, 3}) end, "viz.grid.maps: expected feature maps [C, H, W]")
    local ok, err = pcall(grid.tile, {T.zeros{2, 2}, T.zeros{3, 3}})
    assert.is_false(ok)
    assert.matches("tile 2 has shape %[3,3%], expected %[2,2%]", err)
  end)
end)
