-- luacnn train --checkpoint / --save-every / --resume, and training stopped by SIGINT,
-- SIGTERM and SIGKILL, on a tiny model (3 epochs of 12 steps take ~0.1 s). Each run is a
-- separate process; bash scripts send the signals (set -m: a background job of a
-- non-interactive shell would otherwise start with SIGINT ignored).
local T = require "luacnn"
local nn = require "nn"
local support = require "spec_support"
local has, slurp, spit, quote = support.has, support.slurp, support.spit, support.quote
local BIN = assert(os.getenv("LUACNN_BIN"), "LUACNN_BIN must name the built luacnn binary")

-- Conv, batch norm (running statistics), dropout (the generator), Adam (moments) and
-- shuffling: everything a resume has to restore to continue bit for bit.
local TINY = [[
local T = require "luacnn"
local nn = require "nn"
local opts = ... or {}
T.manual_seed(7)
local n = opts.samples or 96
local x = T.randn(n, 1, 6, 6)
local y = T.randint(0, 3, {n})
local model = nn.Sequential{
  nn.Conv2d(1, 4, 3, {input_shape = {1, 6, 6}, activation = "relu"}),
  nn.BatchNorm2d(4),
  nn.Flatten(),
  nn.Dropout(0.25),
  nn.Dense(3, {activation = "softmax"}),
}
model:compile{optimizer = "adam", loss = "sparse_categorical_crossentropy", metrics = {"accuracy"}}
-- busy-waits after each batch so that a signal lands inside an epoch
local delay = opts.delay or 0
local log = {on_batch_end = function(s, _, _, ts)
  io.stdout:write(string.format("batch %d %d\n", ts.epoch, s))
  io.stdout:flush()
  if delay > 0 then
    local t = T.clock() + delay
    while T.clock() < t do end
  end
end}
if not opts.skip_fit then
  model:fit(x, y, {epochs = opts.epochs or 3, batch_size = 8, validation_data = {x, y}, callbacks = {log}})
end
if opts.out then model:save_weights(opts.out) end
]]

local dir, script

local function bash(text)
  local f = support.temp_file("set -m\ncd " .. quote(dir) .. "\n" .. text)
  local p = io.popen("bash " .. f .. " 2>&1")
  local out = p:read("a")
  p:close()
  return out
end

local function file(name) return dir .. "/" .. name end

local function exists(name)
  local f = io.open(file(name), "rb")
  if f then f:close() end
  return f ~= nil
end

-- Runs luacnn to the end; returns stdout, stderr, status.
local function run(args)
  local words = {support.LEAK_CHECK, quote(BIN), "--threads", "1", "train", quote(script)}
  for _, a in ipairs(args) do words[#words + 1] = quote(a) end
  local out = bash(table.concat(words, " ") .. " >out.txt 2>err.txt\necho \"status $?\"")
  return slurp(file("out.txt")), slurp(file("err.txt")), tonumber(out:match("status (%d+)"))
end

-- Starts luacnn in the background, waits for `line` in its stdout, sends each signal
-- of `signals` (a pause between them), and returns stdout, stderr, status.
local function run_and_signal(args, line, signals, pause)
  local words = {support.LEAK_CHECK, quote(BIN), "--threads", "1", "train", quote(script)}
  for _, a in ipairs(args) do words[#words + 1] = quote(a) end
  local kills = {}
  for i, sig in ipairs(signals) do
    if i > 1 then kills[#kills + 1] = "sleep " .. (pause or 0.2) end
    kills[#kills + 1] = "kill -" .. sig .. " $pid"
  end
  local out = bash(table.concat(words, " ") .. " >out.txt 2>err.txt &\npid=$!\n"
                   .. "for i in $(seq 1000); do grep -q " .. quote(line) .. " out.txt && break; sleep 0.01; done\n"
                   .. table.concat(kills, "\n") .. "\nwait $pid\necho \"status $?\"")
  return slurp(file("out.txt")), slurp(file("err.txt")), tonumber(out:match("status (%d+)"))
end

local function weights(name)
  local _, ts = T.checkpoint_load(file(name))
  return ts
end

local function assert_same_weights(a, b)
  local wa, wb = weights(a), weights(b)
  local n = 0
  for name, t in pairs(wa) do
    assert.is_truthy(wb[name], name)
    local d = (t - wb[name]):abs():max()
    assert.are.equal(0, d, name .. " differs by " .. d)
    n = n + 1
  end
  assert.are.equal(8, n)
end

describe("luacnn train checkpoints", function()
  setup(function()
    dir = support.temp_dir("luacnn-resume-spec")
    script = file("tiny.lua")
    spit(script, TINY)
    local _, err, status = run{"--out", "full3.w"}
    assert.are.equal(0, status, err)
  end)
  teardown(function()
    support.remove_dir(dir)
    support.remove_temp_files()
  end)

  it("resumes after epoch 2 to the same weights as one uninterrupted run", function()
    local out, err, status = run{"--epochs", "2", "--checkpoint", "e.ckpt"}
    assert.are.equal(0, status, err)
    assert.is_true(has(out, "checkpoints: every 1 epoch to " .. file("e.ckpt")), out)
    out, err, status = run{"--resume", "e.ckpt", "--out", "e.w"}
    assert.are.equal(0, status, err)
    assert.is_true(has(out, "resumed from e.ckpt: after epoch 2\nEpoch 3/3\n"), out)
    assert.is_false(has(out, "Epoch 2/3"))
    assert_same_weights("full3.w", "e.w")
  end)

  it("stops on SIGINT after the batch, writes the checkpoint, exits 130 and resumes bit for bit", function()
    local out, err, status = run_and_signal({"--delay", "0.02", "--checkpoint", "int.ckpt", "--save-every", "100"},
                                            "12/12 - ", {"INT"})
    assert.are.equal(130, status, err)
    local epoch, step = err:match("luacnn: interrupted by SIGINT at epoch (%d+), step (%d+)/12: checkpoint written to "
                                  .. file("int.ckpt"):gsub("%p", "%%%0") .. "\n")
    assert.is_truthy(epoch, err)
    assert.is_true(has(err, "resume with: luacnn --threads 1 train " .. script .. " --delay 0.02 --checkpoint int.ckpt "
                            .. "--save-every 100 --resume " .. file("int.ckpt")), err)
    -- the last batch line printed is the one the checkpoint holds
    assert.is_true(has(out, string.format("batch %s %s\n", epoch, step)), out)
    assert.is_false(has(out, string.format("batch %s %d\n", epoch, step + 1)), out)
    local model, meta = nn.load(file("int.ckpt"))
    assert.are.equal("training", meta.kind)
    assert.are.equal(tonumber(step), meta.training.step)
    assert.are.equal(5, #model.layers)

    out, err, status = run{"--resume", "int.ckpt", "--out", "int.w"}
    assert.are.equal(0, status, err)
    assert.is_true(has(out, "resumed from int.ckpt: epoch " .. epoch .. ", step " .. step .. "/12"), out)
    assert_same_weights("full3.w", "int.w")
  end)

  it("on SIGTERM without --checkpoint writes ./SCRIPT.ckpt and exits 143", function()
    local _, err, status = run_and_signal({"--delay", "0.02"}, "batch 1 2", {"TERM"})
    assert.are.equal(143, status, err)
    assert.is_true(has(err, "luacnn: interrupted by SIGTERM at epoch 1, step "), err)
    assert.is_true(has(err, "checkpoint written to " .. file("tiny.ckpt")), err)
    local out
    out, err, status = run{"--resume", "tiny.ckpt", "--out", "term.w"}
    assert.are.equal(0, status, err)
    assert_same_weights("full3.w", "term.w")
  end)

  it("exits at once on a second SIGINT, writing nothing", function()
    os.remove(file("twice.ckpt"))
    local _, err = run_and_signal({"--delay", "2", "--checkpoint", "twice.ckpt", "--save-every", "100"},
                                  "batch 1 1", {"INT", "INT"}, 0.3)
    assert.is_false(has(err, "interrupted by"), err)
    assert.is_false(exists("twice.ckpt"))
  end)

  it("leaves a loadable checkpoint whenever SIGKILL strikes, and resuming reaches the same weights", function()
    -- 6 epochs with a save after every step (~11 ms each, mostly fsync): kills land in
    -- the middle of writes. Each run resumes from what the last one left.
    local full_out, full_err, full_status = run{"--epochs", "6", "--out", "full6.w"}
    assert.are.equal(0, full_status, full_err)
    os.remove(file("k.ckpt"))
    math.randomseed(42)
    local kills, loads = 0, 0
    local started = os.time()
    for _ = 1, 8 do
      if os.time() - started > 4 then break end
      local args = {support.LEAK_CHECK, quote(BIN), "--threads", "1", "train", quote(script), "--epochs", "6",
                    "--checkpoint", "k.ckpt", "--save-every", "1steps"}
      if exists("k.ckpt") then
        args[#args + 1] = "--resume"
        args[#args + 1] = "k.ckpt"
      end
      -- the kill comes at a random moment after training started (the "checkpoints:" line)
      bash(table.concat(args, " ") .. " >kill.txt 2>&1 &\npid=$!\n"
           .. "for i in $(seq 500); do grep -q checkpoints: kill.txt && break; sleep 0.01; done\nsleep "
           .. string.format("%.3f", 0.25 * math.random()) .. "\nkill -KILL $pid\nwait $pid")
      kills = kills + 1
      if exists("k.ckpt") then
        local meta = T.checkpoint_load(file("k.ckpt"))  -- raises on a torn file
        assert.are.equal("training", meta.kind)
        loads = loads + 1
      end
    end
    assert.is_true(kills >= 3 and loads >= 1, kills .. " kills, " .. loads .. " loads")
    local args = {"--epochs", "6", "--out", "k.w", "--checkpoint", "k.ckpt"}
    if exists("k.ckpt") then
      args[#args + 1] = "--resume"
      args[#args + 1] = "k.ckpt"
    end
    local _, err, status = run(args)
    assert.are.equal(0, status, err)
    assert_same_weights("full6.w", "k.w")
    -- the temporary files of killed writers are gone once a save succeeds
    assert.are.equal("0", bash("ls -a | grep -c '^.k.ckpt.tmp-' || true"):match("%d+"))
  end)

  it("keeps the old checkpoint when the disk is full (file size limit)", function()
    local _, err, status = run{"--epochs", "1", "--checkpoint", "full.ckpt"}
    assert.are.equal(0, status, err)
    local before = slurp(file("full.ckpt"))
    assert.is_true(#before > 4096)
    -- a size limit below the checkpoint's size: write() fails with EFBIG (SIGXFSZ ignored)
    local out = bash("trap '' XFSZ\nulimit -f 4\n" .. quote(BIN) .. " --threads 1 train " .. quote(script)
                     .. " --epochs 2 --checkpoint full.ckpt >out.txt 2>err.txt\necho \"status $?\"")
    assert.are.equal("1", out:match("status (%d+)"), out)
    err = slurp(file("err.txt"))
    assert.is_true(has(err, "cannot write checkpoint '" .. file("full.ckpt") .. "'"), err)
    assert.is_true(has(err, "File too large (the previous file, if any, is unchanged)"), err)
    assert.are.equal(before, slurp(file("full.ckpt")))
    local leftovers = bash("ls -a | grep -c '^.full.ckpt.tmp-' || true")
    assert.are.equal("0", leftovers:match("%d+"))
  end)

  it("reports bad options and files before or instead of training", function()
    local cases = {
      {{"--save-every", "3xs", "--checkpoint", "x.ckpt"}, "--save-every: expected N or Nepochs"},
      {{"--save-every", "0", "--checkpoint", "x.ckpt"}, "got '0'"},
      {{"--save-every", "2"}, "--save-every needs --checkpoint PATH"},
      {{"--checkpoint"}, "--checkpoint needs a file name (got true)"},
      {{"--resume", "nothing.ckpt"}, "--resume: cannot open nothing.ckpt: No such file or directory"},
      {{"--resume", "full3.w"}, "--resume full3.w: it is a weights file, not a training checkpoint"},
      {{"--resume", "e.ckpt", "--samples", "80"},
       "--resume e.ckpt: the checkpoint was made with 96 samples in batches of 8 (shuffle true); this run has 80"},
      {{"--resume", "e.ckpt", "--skip-fit"}, "--resume e.ckpt: the script never called model:fit"},
      {{"--checkpoint", "no/such/dir/x.ckpt", "--epochs", "1"},
       "luacnn: --checkpoint: cannot write checkpoint 'no/such/dir/x.ckpt': cannot create a temporary file in "
       .. "'no/such/dir': No such file or directory"},
    }
    for _, c in ipairs(cases) do
      local _, err, status = run(c[1])
      assert.are.equal(1, status, table.concat(c[1], " ") .. ": " .. err)
      assert.is_true(has(err, c[2]), table.concat(c[1], " ") .. ": " .. err)
    end
  end)
end)
