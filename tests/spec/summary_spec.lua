-- model:summary(): multiply-adds, receptive fields and jumps worked by hand for a small
-- conv net, LeNet-5 and VGG-16's features; parameters trainable and not; nested
-- containers; the visit protocol with a merge layer of two inputs; `luacnn summary`.
local T = require "luacnn"
local nn = require "nn"
local support = require "spec_support"
local quote, slurp, temp_file, has = support.quote, support.slurp, support.temp_file, support.has
local error_of, assert_contains, model_file = support.error_of, support.assert_contains, support.model_file

local BIN = assert(os.getenv("LUACNN_BIN"), "LUACNN_BIN must name the built luacnn binary")
local SOURCE_DIR = assert(os.getenv("LUACNN_SOURCE_DIR"), "LUACNN_SOURCE_DIR must be set")

-- the rows of a summary by path
local function by_path(info)
  local rows = {}
  for _, r in ipairs(info.rows) do rows[r.path] = r end
  return rows
end

-- rf and jump of a row as {rf_h, rf_w, jump_h, jump_w}, or "global"
local function field(row)
  if row.node.rf == "global" then return "global" end
  return {row.node.rf[1], row.node.rf[2], row.node.jump[1], row.node.jump[2]}
end

local function luacnn(args)
  local out, err = temp_file(""), temp_file("")
  local words = {"env", support.LEAK_CHECK, quote(BIN)}
  for _, a in ipairs(args) do words[#words + 1] = quote(a) end
  local _, how, code = os.execute(table.concat(words, " ") .. " </dev/null >" .. out .. " 2>" .. err)
  assert(how == "exit", "luacnn died from signal " .. tostring(code))
  return slurp(out), slurp(err), code
end

describe("summary", function()
  before_each(function() T.manual_seed(1) end)
  teardown(function() support.remove_temp_files() end)

  -- Worked by hand, input 3x32x32 (rf, jump: r' = r + d (k - 1) j, j' = j s):
  --   conv 5x5 pad 2, 3->8       [8,32,32]  MACs 8*32*32 * 3*25 = 614,400   rf 5  jump 1
  --   max pool 2                 [8,16,16]                                  rf 6  jump 2
  --   block: conv 3x3 stride 2 dilation 2 pad 2, 8->16: floor((16+4-4-1)/2)+1 = 8
  --                              [16,8,8]   MACs 16*64 * 8*9 = 73,728      rf 6+2*2*2 = 14, jump 4
  --          conv 3x3 pad 1 groups 4, 16->16
  --                              [16,8,8]   MACs 16*64 * 4*9 = 36,864      rf 14+2*4 = 22, jump 4
  --          batch norm 16       32 trainable + 32 running statistics
  --   avg pool 3/2 pad 1 ceil: ceil((8+2-3)/2)+1 = 5 (the 5th window starts at 7, inside)
  --                              [16,5,5]                                   rf 22+2*4 = 30, jump 8
  --   flatten [400], dense 10: MACs 4,000, params 4,010, rf global
  local function small_net()
    return nn.Sequential{
      nn.Conv2d(3, 8, 5, {padding = 2, activation = "relu", input_shape = {3, 32, 32}}),
      nn.MaxPool2d(2),
      nn.Sequential{
        name = "block",
        nn.Conv2d(8, 16, 3, {stride = 2, dilation = 2, padding = 2}),
        nn.Conv2d(16, 16, 3, {padding = 1, groups = 4}),
        nn.BatchNorm2d(16),
      },
      nn.AvgPool2d(3, {stride = 2, padding = 1, ceil_mode = true}),
      nn.Flatten(),
      nn.Dense(10),
    }
  end

  it("a small conv net: MACs, receptive fields, jumps, parameters and memory worked by hand", function()
    local text, info = small_net():summary{print = false}
    local rows = by_path(info)
    local want = {
      ["1"] = {{8, 32, 32}, 614400, 608, {5, 5, 1, 1}},
      ["2"] = {{8, 16, 16}, 0, 0, {6, 6, 2, 2}},
      ["3"] = {{16, 8, 8}, 73728 + 36864, 1168 + 592 + 64, {22, 22, 4, 4}},
      ["3.1"] = {{16, 8, 8}, 73728, 1168, {14, 14, 4, 4}},
      ["3.2"] = {{16, 8, 8}, 36864, 592, {22, 22, 4, 4}},
      ["3.3"] = {{16, 8, 8}, 0, 64, {22, 22, 4, 4}},
      ["4"] = {{16, 5, 5}, 0, 0, {30, 30, 8, 8}},
      ["5"] = {{400}, 0, 0, {30, 30, 8, 8}},
      ["6"] = {{10}, 4000, 4010, "global"},
    }
    assert.are.equal(9, #info.rows)
    for path, w in pairs(want) do
      local r = rows[path]
      assert.is_table(r, "row " .. path)
      assert.are.same(w[1], r.node.shape, path .. " shape")
      assert.are.equal(w[2], r.macs, path .. " MACs")
      assert.are.equal(w[3], r.params, path .. " params")
      assert.are.same(w[4], field(r), path .. " rf/jump")
    end
    assert.are.equal(608 + 1168 + 592 + 32 + 4010, info.trainable_params)
    assert.are.equal(32, info.non_trainable_params)
    assert.are.equal(6442, info.total_params)
    assert.are.equal(614400 + 73728 + 36864 + 4000, info.macs)
    -- outputs of the 8 leaves: 8192 + 2048 + 1024 * 3 + 400 + 400 + 10 floats
    assert.are.equal((8192 + 2048 + 3 * 1024 + 400 + 400 + 10) * 4, info.activation_bytes)
    -- the printed table: children indented under their container, dotted names
    assert.matches("\n 3%s+block: Sequential%s+%[N,16,8,8%]%s+1,824%s+110,592%s+22%s+4\n", text)
    assert.matches("\n 3%.2%s+  Conv2d%(16%->16, 3x3, pad 1x1, groups 4%)%s+%[N,16,8,8%]%s+592%s+36,864%s+22%s+4\n", text)
    assert.matches("\n 5%s+Flatten%s+%[N,400%]%s+0%s+0%s+30%s+%-\n", text)
    assert.matches("\n 6%s+Dense%(400%->10%)%s+%[N,10%]%s+4,010%s+4,000%s+global%s+%-\n", text)
    assert_contains(text, "Total params: 6,442 (25.2 KB)")
    assert_contains(text, "Trainable params: 6,410")
    assert_contains(text, "Non-trainable params: 32")
    assert_contains(text, "Multiply-adds (MACs): 728,992 per sample (728.99 K)")
    assert_contains(text, "Activation memory: 55.2 KB per sample (float32 outputs of the 8 layers)")
    assert_contains(text, "Receptive field of the last feature map (4 AvgPool2d(3x3, stride 2x2, pad 1x1, ceil), "
                    .. "[N,16,5,5]): 30 pixels, jump 8")
  end)

  it("non-square windows keep one field per axis", function()
    local m = nn.Sequential{nn.Conv2d(1, 2, {5, 3}, {stride = {1, 2}, input_shape = {1, 20, 20}}),
                            nn.MaxPool2d({2, 3}, {stride = {2, 1}})}
    local text, info = m:summary{print = false}
    -- conv: rf 5x3, jump 1x2; pool: rf 5+1*1 = 6 by 3+2*2 = 7, jump 2x2
    assert.are.same({6, 7, 2, 2}, field(info.rows[2]))
    assert.matches("5x3%s+1x2\n", text)
    assert_contains(text, "Receptive field of the output: 6x7 pixels, jump 2")
  end)

  it("LeNet-5: receptive fields 5, 6, 14, 16 with jumps 1, 2, 2, 4; global behind the dense layers", function()
    local _, info = model_file("lenet5")():summary{print = false}
    local want = {{5, 5, 1, 1}, {6, 6, 2, 2}, {14, 14, 2, 2}, {16, 16, 4, 4}, {16, 16, 4, 4}, "global", "global", "global"}
    for i, w in ipairs(want) do assert.are.same(w, field(info.rows[i]), "layer " .. i) end
    -- 6*28*28*25 + 16*10*10*150 + 400*120 + 120*84 + 84*10
    assert.are.equal(117600 + 240000 + 48000 + 10080 + 840, info.macs)
    assert.are.equal(61706, info.trainable_params)
  end)

  it("VGG-16's features: 196 at conv5_3 (jump 16), 212 after pool5 (jump 32)", function()
    -- 3x3 convs add 2 jumps each, 2x2 pools 1 jump then double it:
    -- block 1: 3 5 | 6 (2); block 2: 10 14 | 16 (4); block 3: 24 32 40 | 44 (8);
    -- block 4: 60 76 92 | 100 (16); block 5: 132 164 196 | 212 (32)
    local features = model_file("vgg")({depth = 16, include_top = false, init_weights = false})
    local _, info = features:summary{print = false}
    local convs, pools = {}, {}
    for _, r in ipairs(info.rows) do
      if r.name:find("^Conv2d") then convs[#convs + 1] = field(r)[1] .. "/" .. field(r)[3] end
      if r.name:find("^MaxPool2d") then pools[#pools + 1] = field(r)[1] .. "/" .. field(r)[3] end
    end
    assert.are.same({"3/1", "5/1", "10/2", "14/2", "24/4", "32/4", "40/4", "60/8", "76/8", "92/8", "132/16", "164/16",
                     "196/16"}, convs)
    assert.are.same({"6/2", "16/4", "44/8", "100/16", "212/32"}, pools)
    assert.are.equal(14714688, info.trainable_params)
    -- the convolutions' multiply-adds at 224x224: 15,346,630,656 (torchvision: 15.47 G with the classifier)
    assert.are.equal(15346630656, info.macs)
  end)

  it("input_shape= describes the model on another input, and builds a model that is not built yet", function()
    local m = nn.Sequential{nn.Conv2d(3, 4, 3), nn.GlobalAvgPool2d(), nn.Dense(2)}
    local text = m:summary{print = false}
    assert_contains(text, "(not built yet)")
    local _, info = m:summary{print = false, input_shape = "3,9,9"}
    assert.is_true(m.built)
    assert.are.same({3, 9, 9}, m.input_shape)
    -- global pooling over 7x7: rf 3 + 6 = 9, the whole input
    assert.are.same({9, 9, 7, 7}, field(info.rows[2]))
    assert.are.equal(4 * 49 * 27 + 8, info.macs)
    _, info = m:summary{print = false, input_shape = {3, 20, 12}}
    assert.are.same({4, 18, 10}, info.rows[1].node.shape)
    assert_contains(error_of(function() m:summary{print = false, input_shape = "3,x"} end),
                    "summary: input shape \"3,x\" is not a list of integers")
  end)

  it("a layer that cannot take the shape names its path and the sizes", function()
    local m = small_net()
    local msg = error_of(function() m:summary{print = false, input_shape = {3, 16, 16}} end)
    assert_contains(msg, "summary: layer 6 Dense(400->10): input has 144 features (per-sample shape [144]), expected 400")
    msg = error_of(function() m:summary{print = false, input_shape = {1, 32, 32}} end)
    assert_contains(msg, "summary: layer 1 Conv2d(3->8, 5x5, pad 2x2, relu): input has 1 channels, expected 3")
    msg = error_of(function() m:summary{print = false, input_shape = {3, 1, 1}} end)
    assert_contains(msg, "summary: layer 2 MaxPool2d(2x2): kernel 2x2 is larger than the padded input 1x1")
    local nested = nn.Sequential{nn.Sequential{nn.Conv2d(1, 1, 3), nn.Sequential{nn.Conv2d(1, 1, 5)}}}
    -- building for the shape fails first, in Sequential's words; a built model is walked
    msg = error_of(function() nested:summary{print = false, input_shape = {1, 6, 6}} end)
    assert_contains(msg, "summary: Sequential[1] Sequential[2] Sequential[1] Conv2d(1->1, 5x5): kernel 5x5 is larger "
                    .. "than the padded input 4x4")
    nested:build{1, 10, 10}
    msg = error_of(function() nested:summary{print = false, input_shape = {1, 6, 6}} end)
    assert_contains(msg, "summary: layer 1.2.1 Conv2d(1->1, 5x5): kernel 5x5 is larger than the padded input 4x4")
  end)

  -- A minimal DAG container and merge layer, written as the protocol says, to show a
  -- leaf with several inputs: two branches from one input, summed.
  local Branches = nn.class("Branches", nn.Module)
  function Branches:__init(a, b)
    nn.Module.__init(self)
    self.a, self.b = a, b
  end
  function Branches:visit(v, inputs, path)
    v:enter(self, inputs, path)
    local na = self.a:visit(v, inputs, path .. ".a")
    local nb = self.b:visit(v, inputs, path .. ".b")
    return v:leave(self, self.merge:visit(v, {na, nb}, path .. ".add"), path)
  end
  function Branches:named_parameters(prefix, out)
    out = out or {}
    self.a:named_parameters((prefix or "") .. "a.", out)
    self.b:named_parameters((prefix or "") .. "b.", out)
    return out
  end
  local Add = nn.class("Add", nn.Module)
  function Add:output_shape(shapes)
    assert(#shapes == 2 and #shapes[1] == 3, "Add takes two image shapes")
    return {shapes[1][1], shapes[1][2], shapes[1][3]}
  end

  it("the visit protocol: a merge leaf takes the largest field of its inputs, whose jumps must agree", function()
    local b = Branches(nn.Conv2d(4, 4, 5, {padding = 2}), nn.Conv2d(4, 4, 3, {padding = 1}))
    b.merge = Add()
    local m = nn.Sequential{nn.Conv2d(4, 4, 3, {padding = 1, input_shape = {4, 10, 10}}), b}
    local text, info = m:summary{print = false}
    local rows = by_path(info)
    assert.are.same({7, 7, 1, 1}, field(rows["2.a"]))
    assert.are.same({5, 5, 1, 1}, field(rows["2.b"]))
    assert.are.same({7, 7, 1, 1}, field(rows["2.add"]))
    assert.are.same({7, 7, 1, 1}, field(rows["2"]))
    assert.are.equal(4 * 100 * 4 * (9 + 25 + 9), info.macs)
    assert.matches("\n 2%.add%s+  Add%s+%[N,4,10,10%]", text)
    -- a strided branch: jumps 2 and 1 cannot meet (the shapes would not either, but the
    -- field is checked first)
    local bad = Branches(nn.Conv2d(4, 4, 3, {padding = 1, stride = 2}), nn.Conv2d(4, 4, 3, {padding = 1}))
    bad.merge = Add()
    local msg = error_of(function() nn.Sequential{bad}:summary{print = false, input_shape = {4, 10, 10}} end)
    assert_contains(msg, "summary: layer 1.add Add: its inputs have different jumps (2 for input 1, 1 for input 2)")
  end)

  it("a graph model (ResNet-18): branches merge at Add with equal jumps; torchvision's counts", function()
    -- conv1 7x7/2: 7 (2); max pool 3/2: 11 (4); layer1, four 3x3: 43 (4); each later stage
    -- starts with a stride-2 conv: 43+8 = 51 (8) +48 = 99; 99+16 = 115 (16) +96 = 211;
    -- 211+32 = 243 (32) +192 = 435; global pool over 7x7: 435 + 6*32 = 627
    local resnet = require("nn.init_weights").skipped(model_file("resnet"), {depth = 18})
    local _, info = resnet:summary{print = false}
    local rows = by_path(info)
    assert.are.same({11, 11, 4, 4}, field(rows["4"]))
    assert.are.same({43, 43, 4, 4}, field(rows["layer1"]))
    assert.are.same({99, 99, 8, 8}, field(rows["layer2"]))
    assert.are.same({211, 211, 16, 16}, field(rows["layer3"]))
    assert.are.same({435, 435, 32, 32}, field(rows["layer4"]))
    -- layer2's first block: the main branch 43+8 = 51, +16 = 67; the 1x1/2 shortcut keeps
    -- 43; both have jump 8, and the Add takes the larger field
    assert.are.same({51, 51, 8, 8}, field(rows["layer2.1.conv1"]))
    assert.are.same({43, 43, 8, 8}, field(rows["layer2.1.downsample"]))
    assert.are.same({67, 67, 8, 8}, field(rows["layer2.1.8"]))
    assert.are.equal("Add", rows["layer2.1.8"].name)
    assert.are.same({627, 627}, rows["9"].node.rf)
    assert.are.equal(11689512, info.trainable_params)
    assert.are.equal(1814073344, info.macs)  -- torchvision: 1.81 GFLOPS
  end)

  it("a layer used twice appears twice but its parameters count once", function()
    local shared = nn.Conv2d(2, 2, 3, {padding = 1})
    local m = nn.Sequential{shared, nn.ReLU(), shared}
    local text, info = m:summary{print = false, input_shape = {2, 6, 6}}
    assert.are.equal(38, info.trainable_params)
    assert.are.equal(2 * 2 * 36 * 18, info.macs)
    assert.are.same({5, 5, 1, 1}, field(info.rows[3]))
    assert_contains(text, "Total params: 38 ")
  end)

  describe("luacnn summary", function()
    it("prints VGG-16's table and totals", function()
      local out, err, code = luacnn({"summary", SOURCE_DIR .. "/models/vgg16.lua"})
      assert.are.equal(0, code, err)
      assert_contains(out, "Model: Sequential  input [N,3,224,224]")
      assert.matches("\n 1%.29%s+Conv2d%(512%->512, 3x3, pad 1x1%)%s+%[N,512,14,14%]%s+2,359,808%s+462,422,016%s+196%s+16\n", out)
      assert.matches("\n 1%.31%s+MaxPool2d%(2x2%)%s+%[N,512,7,7%]%s+0%s+0%s+212%s+32\n", out)
      assert.matches("\n 4%.1%s+Dense%(25088%->4096%)%s+%[N,4096%]%s+102,764,544%s+102,760,448%s+global%s+%-\n", out)
      assert_contains(out, "Total params: 138,357,544 (527.79 MB)")
      assert_contains(out, "Trainable params: 138,357,544")
      assert_contains(out, "Non-trainable params: 0")
      assert_contains(out, "Multiply-adds (MACs): 15,470,264,320 per sample (15.47 G)")
      assert_contains(out, "Activation memory: 109.49 MB per sample (float32 outputs of the 40 layers)")
      assert_contains(out, "Receptive field of the last feature map (2 AdaptiveAvgPool2d(7x7), [N,512,7,7]): 212 pixels, jump 32")
    end)

    it("passes --input-shape and the other options to the model script", function()
      local out, err, code = luacnn({"summary", SOURCE_DIR .. "/models/vgg.lua", "--depth", "11", "--batch-norm",
                                     "--classes", "10", "--input-shape", "3,32,32"})
      assert.are.equal(0, code, err)
      assert_contains(out, "Model: Sequential  input [N,3,32,32]")
      assert_contains(out, "BatchNorm2d(64)")
      assert.matches("\n 1%.29%s+MaxPool2d%(2x2%)%s+%[N,512,1,1%]", out)
      -- VGG-11 with batch norm: 9,220,480 + 2 x 2,752 in the features; 25088x4096, 4096x4096, 4096x10
      assert_contains(out, "Trainable params: 128,812,810")
      assert_contains(out, "Non-trainable params: 5,504")
    end)

    it("explains a missing file, a script that returns no model and a bad shape", function()
      local _, err, code = luacnn({"summary"})
      assert.are_not.equal(0, code)
      assert_contains(err, "'summary' needs a script file")
      _, err, code = luacnn({"summary", "/nonexistent/model.lua"})
      assert.are_not.equal(0, code)
      assert_contains(err, "cannot open /nonexistent/model.lua")
      local none = temp_file("return 42\n")
      _, err, code = luacnn({"summary", none})
      assert.are_not.equal(0, code)
      assert_contains(err, "must return a model (a module such as nn.Sequential{...}), got number")
      local unbuilt = temp_file("local nn = require 'nn'\nreturn nn.Sequential{nn.Conv2d(1, 2, 3)}\n")
      _, err, code = luacnn({"summary", unbuilt})
      assert.are_not.equal(0, code)
      assert_contains(err, "does not know its input shape; give one with --input-shape")
      local out
      out, err, code = luacnn({"summary", unbuilt, "--input-shape", "1,5,5"})
      assert.are.equal(0, code, err)
      assert.matches("Conv2d%(1%->2, 3x3%)%s+%[N,2,3,3%]%s+20%s+162%s+3%s+1\n", out)
      _, err, code = luacnn({"summary", unbuilt, "--input-shape", "1,0,5"})
      assert.are_not.equal(0, code)
      assert_contains(err, "input shape size 2 must be a positive integer, got 0")
      _, err, code = luacnn({"summary", unbuilt, "-x"})
      assert_contains(err, "summary: options take two dashes: '-x'")
    end)

    it("is in the help text", function()
      local out = luacnn({"help"})
      assert.is_true(has(out, "summary FILE [options]"), out)
      assert.is_true(has(out, "--input-shape 3,224,224"), out)
    end)
  end)
end)
