-- Checkpoints from Lua: configs and nn.from_config for every layer type, model:save /
-- nn.load, weights-only files and their mismatch reports, optimizer and generator state,
-- resuming fit in the middle of an epoch, and files that are damaged or lie.
local T = require "luacnn"
local nn = require "nn"
local support = require "spec_support"
local has, slurp, spit = support.has, support.slurp, support.spit

local dir
local function path(name) return dir .. "/" .. name end

local function same_bits(a, b)
  if not support.dims(a) or #support.dims(a) ~= #support.dims(b) then return false end
  for i, d in ipairs(support.dims(a)) do
    if d ~= support.dims(b)[i] then return false end
  end
  local x, y = a:contiguous():view(-1), b:contiguous():view(-1)
  for i = 1, x:numel() do
    local p, q = x[i], y[i]
    if not (p == q or (p ~= p and q ~= q)) then return false end
    if p == 0 and 1 / p ~= 1 / q then return false end  -- -0 and +0
  end
  return true
end

local function tensors_equal(m1, m2)
  local a, b = m1:named_tensors(), m2:named_tensors()
  if #a ~= #b then return false, "counts " .. #a .. " vs " .. #b end
  for i = 1, #a do
    if a[i].name ~= b[i].name then return false, a[i].name .. " vs " .. b[i].name end
    if not same_bits(a[i].value, b[i].value) then return false, a[i].name end
  end
  return true
end

-- One model with every layer type that has parameters, state or options to keep.
local function zoo()
  return nn.Sequential{
    nn.ZeroPad2d{1, 0, 2, 1, input_shape = nil},
    nn.Conv2d(2, 4, 3, {padding = "same", dilation = 2, activation = "leaky_relu", alpha = 0.1,
                        kernel_initializer = "he_uniform"}),
    nn.BatchNorm2d(4, {momentum = 0.2, eps = 1e-4}),
    nn.Conv2D(6, {3, 2}, {strides = 2, groups = 2}),
    nn.MaxPool2d(2, {stride = 1, padding = 1}),
    nn.AvgPool2d({2, 1}),
    nn.Dropout(0.3),
    nn.Flatten(),
    nn.Dense(12, {activation = "elu", use_bias = false}),
    nn.BatchNorm1d(12),
    nn.Reshape{3, -1},
    nn.Activation("gelu"),
    nn.Flatten(),
    nn.Linear(12, 5),
    nn.Softmax(),
  }
end

describe("checkpoints", function()
  setup(function()
    dir = support.temp_dir("luacnn-ckpt-spec")
  end)
  teardown(function()
    support.remove_dir(dir)
  end)

  describe("configs", function()
    it("rebuild every layer type with the same config, shapes and parameter counts", function()
      T.manual_seed(1)
      local m = zoo()
      m:build{2, 9, 8}
      local cfg = m:config()
      local again = nn.from_config(cfg)
      assert.are.same(cfg, again:config())
      assert.are.equal(m:num_parameters(), again:num_parameters())
      assert.are.same(m:output_shape{2, 9, 8}, again:output_shape{2, 9, 8})
      -- a global pooling model too
      local g = nn.Sequential{nn.Conv2d(1, 3, 1, {input_shape = {1, 4, 4}}), nn.GlobalAvgPool2d()}
      assert.are.same(g:config(), nn.from_config(g:config()):config())
    end)

    it("are plain data: no functions, tensors or metatables", function()
      local function plain(v, where)
        local t = type(v)
        if t == "table" then
          assert.is_nil(getmetatable(v), where)
          for k, x in pairs(v) do plain(x, where .. "." .. tostring(k)) end
        else
          assert.is_true(t == "number" or t == "string" or t == "boolean", where .. " is a " .. t)
        end
      end
      local m = zoo()
      m:build{2, 9, 8}
      plain(m:config(), "config")
    end)

    it("refuses unknown types, unknown fields and bad values with the place in the config", function()
      local ok, err = pcall(nn.from_config, {type = "Sequential", layers = {{type = "Dense", units = 3},
                                                                          {type = "Transformer"}}})
      assert.is_false(ok)
      assert.is_true(has(err, "config.layers[2]: unknown layer type 'Transformer' (known: "), err)
      ok, err = pcall(nn.from_config, {type = "Dense", units = 3, unit = 4})
      assert.is_true(has(err, "unknown field 'unit' for a Dense"), err)
      ok, err = pcall(nn.from_config, {type = "Sequential", layers = {{type = "Conv2d", out_channels = 2,
                                                                       kernel_size = 0}}})
      assert.is_true(has(err, "config.layers[1] (Conv2d): Conv2d: kernel_size must be an integer >= 1, got 0"), err)
      ok, err = pcall(nn.from_config, {type = "Dense", units = 3, input_shape = {-1}})
      assert.is_true(has(err, "input_shape[1] must be a positive integer"), err)
      ok, err = pcall(nn.from_config, "Dense")
      assert.is_true(has(err, "a layer config is a table, got string"), err)
      ok, err = pcall(nn.from_config, {units = 3})
      assert.is_true(has(err, "the config has no type name"), err)
    end)

    it("lets a new layer type register in a few lines", function()
      local Scale = nn.class("SpecScale", nn.Module)
      function Scale:__init(k) nn.Module.__init(self); self.k = k end
      function Scale:forward(x) self.output = x * self.k; return self.output end
      function Scale:config() return {type = "SpecScale", k = self.k} end
      function Scale.from_config(cfg) return Scale(cfg.k) end
      nn.registry.register("SpecScale", Scale)
      local m = nn.Sequential{nn.Dense(2, {input_shape = {3}}), Scale(2.5)}
      m:save(path("scale.ckpt"))
      local back = nn.load(path("scale.ckpt"))
      assert.are.equal(2.5, back.layers[2].k)
      local x = T.randn(4, 3)
      assert.is_true(same_bits(m:forward(x), back:forward(x)))
    end)

    it("says which layer cannot be saved when one has no config", function()
      local Odd = nn.class("SpecOdd", nn.Module)
      local m = nn.Sequential{nn.Dense(2, {input_shape = {3}}), Odd()}
      local ok, err = pcall(m.save, m, path("odd.ckpt"))
      assert.is_false(ok)
      assert.is_true(has(err, "save: Sequential[2] SpecOdd: has no config(): it cannot be saved"), err)
      assert.is_nil(io.open(path("odd.ckpt")))
    end)
  end)

  describe("model:save and nn.load", function()
    it("rebuild the model with identical weights, running statistics and outputs", function()
      T.manual_seed(2)
      local m = zoo()
      m:compile{optimizer = "adam", loss = "sparse_categorical_crossentropy", metrics = {"accuracy"}}
      local x, y = T.randn(10, 2, 9, 8), T.randint(0, 5, {10})
      m:fit(x, y, {epochs = 2, batch_size = 4, verbose = 0})
      m:save(path("zoo.ckpt"))
      local rng = T.get_rng_state()
      local back, meta = nn.load(path("zoo.ckpt"))
      assert.are.same(rng, T.get_rng_state())  -- loading draws nothing for the script
      assert.are.equal("model", meta.kind)
      assert.is_true(tensors_equal(m, back))
      m:evaluate()
      back:evaluate()
      assert.is_true(same_bits(m:forward(x), back:forward(x)))
      -- compiled again with the same optimizer state: the next steps are the same too
      assert.are.equal("Adam", back.optimizer.class_name)
      assert.are.equal(m.optimizer.iterations, back.optimizer.iterations)
      m:train()
      back:train()
      local s = T.get_rng_state()
      m:fit(x, y, {epochs = 1, batch_size = 4, verbose = 0, shuffle = false})
      T.set_rng_state(s)
      back:fit(x, y, {epochs = 1, batch_size = 4, verbose = 0, shuffle = false})
      assert.is_true(tensors_equal(m, back))
    end)

    it("keeps SGD's momentum buffers", function()
      local m = nn.Sequential{nn.Dense(3, {input_shape = {4}})}
      m:compile{optimizer = nn.class and require("optim").SGD{lr = 0.1, momentum = 0.9}, loss = "mse"}
      m:fit(T.randn(8, 4), T.randn(8, 3), {epochs = 1, batch_size = 4, verbose = 0})
      m:save(path("sgd.ckpt"))
      local back = nn.load(path("sgd.ckpt"))
      assert.are.equal("SGD", back.optimizer.class_name)
      assert.are.equal(0.9, back.optimizer.momentum)
      assert.is_true(same_bits(m.optimizer.state[1].velocity, back.optimizer.state[1].velocity))
    end)

    it("saves an unbuilt model and loads it unbuilt", function()
      local m = nn.Sequential{nn.Dense(3), nn.ReLU()}
      m:save(path("unbuilt.ckpt"))
      local back = nn.load(path("unbuilt.ckpt"))
      assert.is_falsy(back.built)
      assert.are.same({3, 3}, support.dims(back:forward(T.ones(3, 7))))
    end)
  end)

  describe("graph models", function()
    it("come back with the same wiring, shared and named layers, auxiliary heads and outputs", function()
      T.manual_seed(4)
      local x = nn.Input{2, 6, 6}
      local shared = nn.Conv2d(2, 2, 3, {padding = 1}):set_name("shared")
      local a = shared(x)
      local b = shared(nn.ReLU()(a))  -- the same layer twice: one set of weights
      local c = nn.Concat{dim = 1}({nn.Add()({a, b}), nn.ChannelPad(1)(x)})
      local h = nn.Flatten()(nn.AdaptiveAvgPool2d(1)(nn.BatchNorm2d(5)(c)))
      local main = nn.Dense(3, {activation = "softmax"})(h)
      local aux = nn.Dense(3)(nn.Flatten()(a))
      local model = nn.Model{inputs = x, outputs = {main = main, aux1 = aux}, aux = {"aux1"}}
      local X = T.randn(4, 2, 6, 6)
      model:forward(X)  -- moves the batch norm's running statistics away from 0 and 1
      model:save(path("graph.ckpt"))
      local back = nn.load(path("graph.ckpt"))
      assert.are.same(model:config(), back:config())
      local same, which = tensors_equal(model, back)
      assert.is_true(same, which)
      assert.are.equal(back.layers[1], back.steps[3].layer)
      assert.are.equal("shared.weight", back:named_parameters()[1].name)
      model:evaluate()
      back:evaluate()
      assert.is_true(same_bits(model:forward(X), back:forward(X)))
      model:train()
      back:train()
      local o1, o2 = model:forward(X), back:forward(X)
      assert.is_true(same_bits(o1.aux1, o2.aux1))
    end)

    it("a layer shared between two nested blocks comes back as one layer (Siamese-style reuse)", function()
      T.manual_seed(12)
      local shared = nn.Dense(4, {activation = "tanh"})
      local function block()
        local i = nn.Input{4}
        return nn.Model{inputs = i, outputs = nn.Dense(4)(shared(i))}
      end
      local x = nn.Input{4}
      local model = nn.Model{inputs = x, outputs = nn.Dense(2, {activation = "softmax"})(block()(block()(x)))}
      model:compile{optimizer = "adam", loss = "sparse_categorical_crossentropy"}
      local X, Y = T.randn(16, 4), T.randint(0, 2, {16})
      model:fit(X, Y, {epochs = 2, batch_size = 8, verbose = 0})
      local cfg = model:config()
      assert.are.equal(1, cfg.layers[1].layers[1].shared)
      assert.are.same({type = "Shared", ref = 1}, cfg.layers[2].layers[1])
      model:save(path("nested_shared.ckpt"))
      local back = nn.load(path("nested_shared.ckpt"))
      assert.are.equal(#model:parameters(), #back:parameters())
      assert.are.equal(back.layers[1].layers[1], back.layers[2].layers[1])
      assert.are.same(cfg, back:config())
      local same, which = tensors_equal(model, back)
      assert.is_true(same, which)
      assert.is_true(same_bits(model:predict(X), back:predict(X)))
      -- and training the loaded copy moves one set of shared weights, as in the original
      back:fit(X, Y, {epochs = 1, batch_size = 8, verbose = 0})
      assert.is_true(same_bits(back.layers[1].layers[1].weight, back.layers[2].layers[1].weight))
      -- a reference to a module no earlier config defines, and an id defined twice
      local ok, err = pcall(nn.from_config, {type = "Sequential", layers = {{type = "Shared", ref = 3}}})
      assert.is_false(ok)
      assert.is_true(has(err, "refers to shared module 3, which no earlier config defines"), err)
      ok, err = pcall(nn.from_config, {type = "Sequential", layers = {{type = "Dense", units = 2, shared = 1},
                                                                      {type = "Dense", units = 2, shared = 1}}})
      assert.is_false(ok)
      assert.is_true(has(err, "shared must be a new integer id, got 1"), err)
    end)

    it("a file written or read inside another config keeps its own shared ids", function()
      -- a layer type that keeps its (pretrained) part, which has a shared layer, in a file
      -- of its own: config() saves it, from_config loads it
      local Part = nn.class("SpecPart", nn.Sequential)
      function Part:config()
        self.layers[1]:save(path("part.ckpt"))
        return {type = "SpecPart", file = path("part.ckpt")}
      end
      function Part.from_config(cfg) return Part{(nn.load(cfg.file))} end
      nn.registry.register("SpecPart", Part)
      local d, e = nn.Dense(3, {input_shape = {3}}), nn.Dense(3, {input_shape = {3}})
      local model = nn.Sequential{nn.Sequential{d}, Part{nn.Sequential{nn.Sequential{d, e}, nn.Sequential{e}}},
                                  nn.Sequential{d}}
      local ok, err = pcall(model.save, model, path("outer.ckpt"))
      local back
      if ok then ok, back = pcall(nn.load, path("outer.ckpt")) else back = err end
      nn.registry.types.SpecPart = nil
      assert.is_true(ok, back)
      local part = back.layers[2].layers[1]
      assert.are.equal(back.layers[1].layers[1], back.layers[3].layers[1])
      assert.are.equal(part.layers[1].layers[2], part.layers[2].layers[1])
      -- the file is a model of its own: the outer model's d is a copy there
      assert.are_not.equal(back.layers[1].layers[1], part.layers[1].layers[1])
    end)

    it("with several outputs come back compiled: losses by output, loss weights, metrics, optimizer", function()
      T.manual_seed(8)
      local x = nn.Input{4}
      local h = nn.Dense(5, {activation = "relu"})(x)
      local model = nn.Model{inputs = x, outputs = {main = nn.Dense(3, {activation = "softmax"})(h),
                                                    aux1 = nn.Dense(3, {activation = "softmax"})(h)}, aux = {"aux1"}}
      model:compile{optimizer = "adam", loss = {main = "sparse_categorical_crossentropy",
                                                aux1 = "sparse_categorical_crossentropy"},
                    loss_weights = {aux1 = 0.3}, metrics = {"accuracy"}}
      local X, Y = T.randn(12, 4), T.randint(0, 3, {12})
      model:fit(X, {main = Y, aux1 = Y}, {epochs = 1, batch_size = 4, verbose = 0})
      model:save(path("multi.ckpt"))
      local back = nn.load(path("multi.ckpt"))
      assert.is_true(back.compiled)
      assert.are.equal(0.3, back.heads[2].weight)
      assert.are.equal(model.optimizer.iterations, back.optimizer.iterations)
      local s = T.get_rng_state()
      local h1 = model:fit(X, {main = Y, aux1 = Y}, {epochs = 1, batch_size = 4, verbose = 0})
      T.set_rng_state(s)
      local h2 = back:fit(X, {main = Y, aux1 = Y}, {epochs = 1, batch_size = 4, verbose = 0})
      assert.is_true(tensors_equal(model, back))
      assert.are.same(h1.accuracy, h2.accuracy)
    end)

    it("include the zoo's CIFAR ResNet (nested blocks, parameter-free shortcuts)", function()
      local r = assert(loadfile("models/resnet.lua"))({depth = 8, cifar = true, width = 4, input_shape = {3, 8, 8}})
      r:save(path("resnet.ckpt"))
      local back = nn.load(path("resnet.ckpt"))
      assert.is_true(tensors_equal(r, back))
      r:evaluate()
      back:evaluate()
      local x = T.randn(2, 3, 8, 8)
      assert.is_true(same_bits(r:forward(x), back:forward(x)))
    end)

    it("refuse a node that reads a slot not made yet", function()
      local cfg = {type = "Model", inputs = {{shape = {3}}}, layers = {{type = "Dense", units = 2}},
                   nodes = {{layer = 1, inputs = {2}}}, outputs = {{key = 1, slot = 2}}}
      local ok, err = pcall(nn.from_config, cfg)
      assert.is_false(ok)
      assert.is_true(has(err, "config.nodes[1]: input 1 is not an earlier slot"), err)
    end)
  end)

  describe("weights files", function()
    it("load into a model of the same architecture and report what was loaded", function()
      T.manual_seed(3)
      local a = zoo()
      a:build{2, 9, 8}
      a:save_weights(path("w.ckpt"))
      local b = zoo()
      b:build{2, 9, 8}
      local report = b:load_weights(path("w.ckpt"))
      assert.is_true(report.ok)
      assert.are.equal(#a:named_tensors(), #report.loaded)
      assert.is_true(tensors_equal(a, b))
      -- an unbuilt model is built from the input shape the file records
      local c = zoo()
      c:load_weights(path("w.ckpt"))
      assert.is_true(tensors_equal(a, c))
    end)

    it("refuse, in strict mode, anything missing, unexpected or of another shape, loading nothing", function()
      local a = nn.Sequential{nn.Dense(4, {input_shape = {3}}), nn.Dense(2)}
      a:save_weights(path("small.ckpt"))
      local b = nn.Sequential{nn.Dense(4, {input_shape = {3}}), nn.Dense(5), nn.Dense(2)}
      local before = b.layers[1].weight:clone()
      local ok, err = pcall(b.load_weights, b, path("small.ckpt"))
      assert.is_false(ok)
      assert.is_true(has(err, "load_weights('" .. path("small.ckpt") .. "'): missing from the file: 3.weight, 3.bias; "
                             .. "different shapes: 2.weight (file [2,4], model [5,4]), 2.bias (file [2], model [5])"), err)
      assert.is_true(same_bits(before, b.layers[1].weight))
      local c = nn.Sequential{nn.Dense(4, {input_shape = {3}})}
      ok, err = pcall(c.load_weights, c, path("small.ckpt"))
      assert.is_true(has(err, "in the file but not in the model: 2.weight, 2.bias"), err)
    end)

    it("load what matches with strict = false and return the report", function()
      local a = nn.Sequential{nn.Dense(4, {input_shape = {3}}), nn.Dense(2)}
      a:save_weights(path("small.ckpt"))
      local b = nn.Sequential{nn.Dense(4, {input_shape = {3}}), nn.Dense(5), nn.Dense(2)}
      local r = b:load_weights(path("small.ckpt"), {strict = false})
      assert.is_false(r.ok)
      assert.are.same({"1.weight", "1.bias"}, r.loaded)
      assert.are.same({"3.weight", "3.bias"}, r.missing)
      assert.are.same({}, r.unexpected)
      assert.are.equal("2.weight", r.mismatched[1].name)
      assert.is_true(same_bits(a.layers[1].weight, b.layers[1].weight))
    end)

    it("cannot be loaded as a whole model", function()
      local a = nn.Sequential{nn.Dense(4, {input_shape = {3}})}
      a:save_weights(path("wo.ckpt"))
      local ok, err = pcall(nn.load, path("wo.ckpt"))
      assert.is_false(ok)
      assert.is_true(has(err, "weights only (no architecture)"), err)
    end)
  end)

  describe("damaged and hostile files", function()
    local function saved_bytes()
      local m = nn.Sequential{nn.Dense(4, {input_shape = {3}}), nn.BatchNorm1d(4)}
      m:save(path("good.ckpt"))
      return slurp(path("good.ckpt"))
    end

    it("name the file and the problem", function()
      local bytes = saved_bytes()
      spit(path("cut.ckpt"), bytes:sub(1, #bytes - 10))
      local ok, err = pcall(nn.load, path("cut.ckpt"))
      assert.is_false(ok)
      assert.is_true(has(err, "nn.load('" .. path("cut.ckpt") .. "'): cannot read checkpoint '" .. path("cut.ckpt")
                              .. "': "), err)
      assert.is_true(has(err, "truncated"), err)
      spit(path("flip.ckpt"), bytes:sub(1, 40) .. string.char(bytes:byte(41) ~ 1) .. bytes:sub(42))
      ok, err = pcall(nn.load, path("flip.ckpt"))
      assert.is_true(has(err, "CRC32 mismatch") or has(err, "metadata"), err)
      ok, err = pcall(nn.load, path("missing.ckpt"))
      assert.is_true(has(err, "cannot open '" .. path("missing.ckpt") .. "': No such file or directory"), err)
      spit(path("text.ckpt"), "return {os.exit(3)}")
      ok, err = pcall(nn.load, path("text.ckpt"))
      assert.is_true(has(err, "not a luacnn checkpoint"), err)
      ok, err = pcall(nn.load, dir)
      assert.is_true(has(err, "is not a regular file"), err)
    end)

    it("are refused, never crash, under 300 random corruptions", function()
      local bytes = saved_bytes()
      T.manual_seed(11)
      local refused = 0
      for i = 1, 300 do
        local b = {bytes:byte(1, -1)}
        local kind = i % 3
        if kind == 0 then
          for _ = 1, 1 + i % 4 do
            local at = math.floor(T.rand(1)[1] * #b) + 1
            b[at] = (b[at] + 1 + math.floor(T.rand(1)[1] * 255)) % 256
          end
        end
        local s = string.char(table.unpack(b))
        if kind == 1 then s = s:sub(1, math.floor(T.rand(1)[1] * #s)) end
        if kind == 2 then s = s .. string.char(math.floor(T.rand(1)[1] * 256)) end
        local ok = pcall(T.checkpoint_decode, s)
        if not ok then refused = refused + 1 end
      end
      assert.are.equal(300, refused)
    end)

    it("whose architecture claims a gigabyte of weights fail at the load without filling it", function()
      local function rss_kb()
        return tonumber(slurp("/proc/self/status"):match("VmRSS:%s*(%d+)"))
      end
      -- Dense 16384 -> 16384: 2^28 floats, 1 GiB, against a file holding 16 of them
      T.checkpoint_save(path("huge.ckpt"), {kind = "model", parameters = {"weight"}, state = {},
                                             model = {type = "Dense", units = 16384, input_shape = {16384}}},
                        {"weight"}, {T.zeros(4, 4)})
      local before = rss_kb()
      local ok, err = pcall(nn.load, path("huge.ckpt"))
      assert.is_false(ok)
      assert.is_true(has(err, "the architecture needs more memory than the 16 weight values in the file"), err)
      assert.is_true(has(err, "shape [16384,16384] would take the live tensor memory over its budget"), err)
      assert.is_true(rss_kb() - before < 100 * 1024, (rss_kb() - before) .. " KB more resident memory")
      collectgarbage()
    end)

    it("with a valid CRC but lying metadata are refused by the loader", function()
      local function load_meta(meta, names, tensors)
        T.checkpoint_save(path("lie.ckpt"), meta, names or {}, tensors or {})
        local ok, err = pcall(nn.load, path("lie.ckpt"))
        assert.is_false(ok)
        return err
      end
      local err = load_meta({kind = "model", parameters = "x", state = {}})
      assert.is_true(has(err, "malformed metadata: 'parameters' is not a list of names"), err)
      err = load_meta({kind = "model", parameters = {"1.weight"}, state = {}})
      assert.is_true(has(err, "lists tensor '1.weight' that the file lacks"), err)
      err = load_meta({kind = "model", parameters = {}, state = {}, model = {type = "os.execute"}})
      assert.is_true(has(err, "model: unknown layer type 'os.execute'"), err)
      err = load_meta({kind = "model", parameters = {"1.weight"}, state = {},
                       model = {type = "Sequential", layers = {{type = "Dense", units = 3, input_shape = {2}}}}},
                      {"1.weight"}, {T.zeros(4, 4)})
      assert.is_true(has(err, "missing from the file: 1.bias"), err)
      assert.is_true(has(err, "1.weight (file [4,4], model [3,2])"), err)
      err = load_meta({kind = "pickle", parameters = {}, state = {}})
      assert.is_true(has(err, "kind is pickle"), err)
    end)
  end)

  describe("saving", function()
    it("refuses what is not plain data, before touching the file", function()
      spit(path("keep.ckpt"), "old contents")
      local ok, err = pcall(T.checkpoint_save, path("keep.ckpt"), {training = {hook = print}}, {}, {})
      assert.is_false(ok)
      assert.is_true(has(err, "metadata training.hook is a function"), err)
      ok, err = pcall(T.checkpoint_save, path("keep.ckpt"), {a = {1, 2, x = 3}}, {}, {})
      assert.is_true(has(err, "metadata a mixes list entries and named fields"), err)
      local loop = {}
      loop.self = loop
      ok, err = pcall(T.checkpoint_save, path("keep.ckpt"), {loop = loop}, {}, {})
      assert.is_true(has(err, "nested deeper than 32 levels"), err)
      ok, err = pcall(T.checkpoint_save, path("keep.ckpt"), {}, {"a b"}, {T.zeros(1)})
      assert.is_true(has(err, "tensor name 'a b' has a space"), err)
      ok, err = pcall(T.checkpoint_save, path("keep.ckpt"), {}, {"a", "a"}, {T.zeros(1), T.zeros(1)})
      assert.is_true(has(err, "'a' appears twice"), err)
      assert.are.equal("old contents", slurp(path("keep.ckpt")))
    end)

    it("into a directory that does not exist fails with the path and leaves nothing", function()
      local m = nn.Sequential{nn.Dense(2, {input_shape = {2}})}
      local ok, err = pcall(m.save, m, path("nope/m.ckpt"))
      assert.is_false(ok)
      assert.is_true(has(err, "save: cannot write checkpoint '" .. path("nope/m.ckpt") .. "': cannot create a temporary "
                              .. "file in '" .. path("nope") .. "': No such file or directory"), err)
    end)

    it("round-trips metadata values exactly", function()
      local meta = {i = math.mininteger, j = math.maxinteger, f = 0.1, nan = 0 / 0, inf = -math.huge, neg0 = -0.0,
                    s = "a\0b\255", t = true, u = false, list = {1, "two", {3}}, empty = {}}
      T.checkpoint_save(path("meta.ckpt"), meta, {"x"}, {T.arange(1, 5):view(2, 2):t()})
      local m, ts, names = T.checkpoint_load(path("meta.ckpt"))
      assert.are.equal(math.mininteger, m.i)
      assert.are.equal(math.maxinteger, m.j)
      assert.are.equal(0.1, m.f)
      assert.is_true(m.nan ~= m.nan)
      assert.are.equal(-math.huge, m.inf)
      assert.are.equal(-math.huge, 1 / m.neg0)
      assert.are.equal("a\0b\255", m.s)
      assert.are.same({1, "two", {3}}, m.list)
      assert.are.same({}, m.empty)
      assert.are.same({"x"}, names)
      assert.are.same({1, 3, 2, 4}, {ts.x[1][1], ts.x[1][2], ts.x[2][1], ts.x[2][2]})  -- transposed view saved as values
    end)
  end)

  describe("the signal flag", function()
    it("turns SIGTERM into a flag while watched, and forgets it when unwatched", function()
      local pid = assert(io.open("/proc/self/stat")):read("n")
      T.watch_signals(true)
      assert.is_nil(T.pending_signal())
      os.execute("kill -TERM " .. math.tointeger(pid))  -- would end this process without the handler
      local name, num = T.pending_signal()
      assert.are.equal("SIGTERM", name)
      assert.are.equal(15, num)
      T.watch_signals(false)
      assert.is_nil(T.pending_signal())
      -- (SIGINT is checked through luacnn train in resume_spec: a process started in the
      -- background of a shell script inherits it ignored, and the watcher keeps it so)
    end)
  end)

  describe("training checkpoints", function()
    -- A fit that stops (by an error from a callback) after `stop_at` steps of epoch 2,
    -- saving its state just before; then a fresh model resumes from the file.
    local function setup_model()
      T.manual_seed(5)
      local m = nn.Sequential{nn.Dense(6, {input_shape = {4}, activation = "relu"}), nn.Dropout(0.3),
                              nn.BatchNorm1d(6), nn.Dense(3, {activation = "softmax"})}
      m:compile{optimizer = "adam", loss = "sparse_categorical_crossentropy", metrics = {"accuracy"}}
      return m
    end
    local x, y
    local function data()
      T.manual_seed(9)
      x, y = T.randn(30, 4), T.randint(0, 3, {30})
    end

    it("resume mid-epoch to the same weights, history and metrics as an uninterrupted fit", function()
      data()
      local full = setup_model()
      local hist_full = full:fit(x, y, {epochs = 3, batch_size = 4, verbose = 0, validation_data = {x, y}})

      data()
      local part = setup_model()
      local file = path("train.ckpt")
      local stop = {on_batch_end = function(s, _, m, ts)
        if ts.epoch == 2 and s == 3 then
          nn.checkpoint.save_training(m, file, ts)
          error("stop here", 0)
        end
      end}
      local ok, err = pcall(part.fit, part, x, y, {epochs = 3, batch_size = 4, verbose = 0, callbacks = {stop},
                                                   validation_data = {x, y}})
      assert.are.equal("stop here", err)

      data()
      local resumed = setup_model()
      T.manual_seed(1234)  -- whatever the generator does now, the checkpoint's state wins
      local from = {on_train_begin = function(m, ts)
        ts.resume = nn.checkpoint.restore_training(m, file, ts, ts.params)
      end}
      local hist = resumed:fit(x, y, {epochs = 3, batch_size = 4, verbose = 0, callbacks = {from},
                                      validation_data = {x, y}})
      local same, which = tensors_equal(full, resumed)
      assert.is_true(same, which)
      assert.are.same(hist_full.epoch, hist.epoch)
      assert.are.same(hist_full.loss, hist.loss)
      assert.are.same(hist_full.accuracy, hist.accuracy)
      assert.are.same(hist_full.val_loss, hist.val_loss)
      assert.are.equal(full.optimizer.iterations, resumed.optimizer.iterations)
    end)

    it("an EarlyStopping callback resumes with its counters and best weights", function()
      local callbacks = require "train.callbacks"
      -- min_delta so large that only the first epoch counts as an improvement: patience 2
      -- stops at epoch 4, and the best weights are epoch 1's
      local function early() return callbacks.EarlyStopping{monitor = "loss", patience = 2, min_delta = 100,
                                                             restore_best_weights = true, verbose = false} end
      data()
      local full, es_full = setup_model(), early()
      local hist_full = full:fit(x, y, {epochs = 8, batch_size = 4, verbose = 0, callbacks = {es_full}})
      assert.are.equal(4, #hist_full.epoch)

      data()
      local part, es_part = setup_model(), early()
      local file = path("early.ckpt")
      local stop = {on_batch_end = function(s, _, m, ts)
        if ts.epoch == 3 and s == 2 then
          nn.checkpoint.save_training(m, file, ts)
          error("stop here", 0)
        end
      end}
      assert.is_false(pcall(part.fit, part, x, y, {epochs = 8, batch_size = 4, verbose = 0, callbacks = {es_part, stop}}))

      data()
      local resumed, es = setup_model(), early()
      local notes
      local from = {on_train_begin = function(m, ts)
        ts.resume = nn.checkpoint.restore_training(m, file, ts, ts.params)
        notes = ts.resume.notes
      end}
      local hist = resumed:fit(x, y, {epochs = 8, batch_size = 4, verbose = 0, callbacks = {es, from}})
      assert.are.same({}, notes)
      assert.are.same(hist_full.epoch, hist.epoch)  -- stopped at epoch 4, not 3 epochs after the resume
      assert.are.equal(es_full.best, es.best)
      assert.are.equal(es_full.best_epoch, es.best_epoch)
      local same, which = tensors_equal(full, resumed)
      assert.is_true(same, which)

      -- the same checkpoint with no EarlyStopping in that place: a note, and training goes on
      data()
      local other = setup_model()
      local from2 = {on_train_begin = function(m, ts)
        ts.resume = nn.checkpoint.restore_training(m, file, ts, ts.params)
        notes = ts.resume.notes
      end}
      other:fit(x, y, {epochs = 4, batch_size = 4, verbose = 0, callbacks = {from2}})
      assert.are.equal(1, #notes)
      assert.is_true(has(notes[1], "callback 1 (EarlyStopping), which this run's callbacks do not have there"), notes[1])

      -- an EarlyStopping that now watches another quantity starts afresh, with a note
      data()
      local watcher = callbacks.EarlyStopping{monitor = "accuracy", patience = 5, verbose = false}
      other = setup_model()
      other:fit(x, y, {epochs = 4, batch_size = 4, verbose = 0, callbacks = {watcher, from2}})
      assert.are.equal(1, #notes)
      assert.is_true(has(notes[1], "callback 1 (EarlyStopping) starts afresh: it watched 'loss' and now watches 'accuracy'"),
                     notes[1])
      assert.is_true(watcher.best_epoch >= 3, tostring(watcher.best_epoch))  -- its own record, not the file's epoch 1
    end)

    it("resume a multi-output graph model mid-epoch, per-output losses included", function()
      local function graph_model()
        T.manual_seed(6)
        local x = nn.Input{4}
        local h = nn.Dropout(0.2)(nn.Dense(6, {activation = "relu"})(x))
        local model = nn.Model{inputs = x, outputs = {main = nn.Dense(3, {activation = "softmax"})(h),
                                                      aux1 = nn.Dense(3, {activation = "softmax"})(h)}}
        model:compile{optimizer = "adam", loss = {main = "sparse_categorical_crossentropy",
                                                  aux1 = "sparse_categorical_crossentropy"},
                      loss_weights = {aux1 = 0.5}, metrics = {"accuracy"}}
        return model
      end
      data()
      local Y = {main = y, aux1 = y}
      local full = graph_model()
      local hist_full = full:fit(x, Y, {epochs = 2, batch_size = 4, verbose = 0})
      local file = path("graph_train.ckpt")
      local part = graph_model()
      local stop = {on_batch_end = function(s, _, m, ts)
        if ts.epoch == 2 and s == 5 then
          nn.checkpoint.save_training(m, file, ts)
          error("stop", 0)
        end
      end}
      assert.is_false(pcall(part.fit, part, x, Y, {epochs = 2, batch_size = 4, verbose = 0, callbacks = {stop}}))
      local resumed = graph_model()
      local from = {on_train_begin = function(m, ts) ts.resume = nn.checkpoint.restore_training(m, file, ts, ts.params) end}
      local hist = resumed:fit(x, Y, {epochs = 2, batch_size = 4, verbose = 0, callbacks = {from}})
      local same, which = tensors_equal(full, resumed)
      assert.is_true(same, which)
      assert.are.same(hist_full.loss, hist.loss)
      assert.are.same(hist_full.main_loss, hist.main_loss)
      assert.are.same(hist_full.aux1_loss, hist.aux1_loss)
      assert.are.same(hist_full.accuracy, hist.accuracy)
    end)

    it("refuse another data size or batch size, which would change the order", function()
      data()
      local m = setup_model()
      local file = path("train2.ckpt")
      m:fit(x, y, {epochs = 1, batch_size = 4, verbose = 0,
                   callbacks = {{on_epoch_end = function(_, _, mm, ts) nn.checkpoint.save_training(mm, file, ts) end}}})
      local other = setup_model()
      local from = {on_train_begin = function(mm, ts)
        ts.resume = nn.checkpoint.restore_training(mm, file, ts, ts.params)
      end}
      local ok, err = pcall(other.fit, other, x, y, {epochs = 2, batch_size = 5, verbose = 0, callbacks = {from}})
      assert.is_false(ok)
      assert.is_true(has(err, "made with 30 samples in batches of 4 (shuffle true); this run has 30 in batches of 5"), err)
      -- and a model checkpoint is not a training checkpoint
      m:save(path("plain.ckpt"))
      local from_plain = {on_train_begin = function(mm, ts)
        ts.resume = nn.checkpoint.restore_training(mm, path("plain.ckpt"), ts, ts.params)
      end}
      ok, err = pcall(other.fit, other, x, y, {epochs = 2, batch_size = 4, verbose = 0, callbacks = {from_plain}})
      assert.is_true(has(err, "it is a model file, not a training checkpoint"), err)
    end)
  end)
end)
