-- The REPL: line by line from a pipe, and through a real terminal under tmux for
-- readline, tab completion, Ctrl-C and history.
local support = require "spec_support"
local quote, slurp, temp_file, has, LEAK_CHECK = support.quote, support.slurp, support.temp_file, support.has, support.LEAK_CHECK
local BIN = assert(os.getenv("LUACNN_BIN"), "LUACNN_BIN must name the built luacnn binary")







-- Pipes the lines into "luacnn repl" (or luacnn with other args); returns stdout,
-- stderr and the exit status.
local function repl(lines, args)
  local out, err = temp_file(""), temp_file("")
  local input = temp_file(table.concat(lines, "\n") .. "\n")
  local cmd = "env " .. LEAK_CHECK .. " " .. quote(BIN) .. " " .. (args or "repl") .. " <" .. input .. " >" .. out .. " 2>" .. err
  local _, how, code = os.execute(cmd)
  assert(how == "exit", "luacnn died from signal " .. tostring(code))
  return slurp(out), slurp(err), code
end

describe("luacnn repl reading a pipe", function()
  teardown(function()
    support.remove_temp_files()
  end)

  it("prints expression values and nothing else (no prompts, no banner)", function()
    local out, err, code = repl({ "1 + 1", "x = 5", "x * 2", "1, 'a', nil", "print('hi')" })
    assert.are.equal(0, code, err)
    assert.are.equal("", err)
    assert.are.equal("2\n10\n1\ta\tnil\nhi\n", out)
  end)

  it("is what plain luacnn runs", function()
    local out, err, code = repl({ "6 * 7" }, "")
    assert.are.equal(0, code, err)
    assert.are.equal("42\n", out)
  end)

  it("prints values through __tostring", function()
    local out = repl({ "setmetatable({}, {__tostring = function() return 'Tensor<2x3>' end})" })
    assert.are.equal("Tensor<2x3>\n", out)
  end)

  it("prints tensors through their __tostring", function()
    local out, err = repl({ "T = require 'luacnn'", "T.zeros and T.zeros(2, 3)" })
    if out == "nil\n" then return pending("the core has no T.zeros yet") end
    assert.are.equal("", err)
    local expected = repl({ "T = require 'luacnn'", "print(tostring(T.zeros(2, 3)))" })
    assert.are.equal(expected, out)
  end)

  it("continues multi-line chunks until they are complete", function()
    local out, err, code = repl({
      "function double(x)",
      "  local y = x * 2",
      "  return y",
      "end",
      "double(21)",
      "for i = 1, 3 do",
      "  io.write(i, ' ')",
      "end",
      "print()",
      "local s = [[a",
      "b]] return s",
    })
    assert.are.equal(0, code, err)
    assert.are.equal("", err)
    assert.are.equal("42\n1 2 3 \na\nb\n", out)
  end)

  it("reports an error with a traceback and goes on with the next line", function()
    local out, err, code = repl({ "error('boom')", "print('after')", "x = 1 +* 2", "'still here'" })
    assert.are.equal(0, code)
    assert.are.equal("after\nstill here\n", out)
    assert.is_true(has(err, "luacnn: stdin:1: boom\nstack traceback:"), err)
    assert.is_true(has(err, "luacnn: stdin:1: unexpected symbol near '*'"), err)
  end)

  it("reports an error raised while printing a result", function()
    local out, err = repl({
      "setmetatable({}, {__tostring = function() error('bad tostring') end})",
      "'next'",
    })
    assert.are.equal("next\n", out)
    assert.is_true(has(err, "bad tostring"), err)
  end)

  it("reports input that ends in the middle of a chunk", function()
    local out, err, code = repl({ "print('first')", "for i = 1, 2 do" })
    assert.are.equal(0, code)
    assert.are.equal("first\n", out)
    assert.is_true(has(err, "<eof>"), err)
  end)

  it("reads lines longer than any buffer", function()
    local out = repl({ "#'" .. string.rep("x", 20000) .. "'" })
    assert.are.equal("20000\n", out)
  end)

  it("exits with the status given to os.exit", function()
    local out, _, code = repl({ "print('bye')", "os.exit(5)", "print('not reached')" })
    assert.are.equal(5, code)
    assert.are.equal("bye\n", out)
  end)

  it("sees -e chunks run before it", function()
    local out = repl({ "preset" }, "-e 'preset = 99' repl")
    assert.are.equal("99\n", out)
  end)
end)

-- A terminal session under a private tmux server.
local function have_tmux()
  return os.execute("command -v tmux >/dev/null 2>&1")
end

local Session = {}
Session.__index = Session

local function sleep(seconds)
  os.execute("sleep " .. seconds)
end

-- env: shell assignments for luacnn (e.g. "LUACNN_HISTORY=/tmp/x"). When luacnn exits
-- the pane prints EXIT=<status> and stays open so the test can read it.
function Session.start(env)
  local self = setmetatable({}, Session)
  self.socket = "luacnn-repl-spec-" .. tostring(os.time()) .. "-" .. tostring(math.random(1e9))
  local cmd = "env " .. (env or "") .. " " .. LEAK_CHECK .. " " .. quote(BIN)
              .. " repl; echo EXIT=$?; sleep 600"
  self:tmux("new-session -d -s main -x 160 -y 50 " .. quote(cmd))
  self:wait_for("> ")
  return self
end

function Session:tmux(args)
  return os.execute("tmux -L " .. self.socket .. " " .. args .. " >/dev/null 2>&1")
end

function Session:screen()
  local p = io.popen("tmux -L " .. self.socket .. " capture-pane -p -J -t main -S -200")
  local text = p:read("a")
  p:close()
  return text
end

-- Polls the screen until fragment shows up (count times), failing after a while:
-- a sanitizer build starts slowly.
function Session:wait_for(fragment, count)
  count = count or 1
  for _ = 1, 200 do
    local screen = self:screen()
    local seen = 0
    for _ in screen:gmatch((fragment:gsub("%p", "%%%0"))) do seen = seen + 1 end
    if seen >= count then return screen end
    sleep(0.05)
  end
  error("timed out waiting for " .. string.format("%q", fragment) .. " in:\n" .. self:screen())
end

function Session:type(text)
  self:tmux("send-keys -t main -l " .. quote(text))
end

function Session:key(name)
  self:tmux("send-keys -t main " .. name)
end

function Session:stop()
  self:tmux("kill-server")
end

describe("luacnn repl on a terminal", function()
  local session

  before_each(function()
    if not have_tmux() then pending("tmux is not installed") end
  end)

  after_each(function()
    if session then session:stop() end
    session = nil
  end)

  teardown(function()
    support.remove_temp_files()
  end)

  it("shows prompts, evaluates and exits on Ctrl-D with status 0", function()
    if not have_tmux() then return end
    session = Session.start("LUACNN_HISTORY=")
    session:type("6 * 7")
    session:key("Enter")
    session:wait_for("\n42\n")
    session:type("function f()")
    session:key("Enter")
    session:wait_for(">> ")
    session:type("return 'multi' end")
    session:key("Enter")
    session:type("f()")
    session:key("Enter")
    session:wait_for("\nmulti\n")
    session:key("C-d")
    session:wait_for("EXIT=0")
  end)

  it("completes fields, methods and globals on TAB", function()
    if not have_tmux() then return end
    session = Session.start("LUACNN_HISTORY=")
    session:type("zz_model = {layers = {conv_one = 1}, name = 'm'}")
    session:key("Enter")
    session:type("zz_mo")
    session:key("Tab")
    session:type(".lay")
    session:key("Tab")
    session:type(".conv")
    session:key("Tab")
    session:key("Enter")
    session:wait_for("\n1\n")
    session:type("(\"ab\"):upper() .. zz_model.name:up")
    session:key("Tab")
    session:type("()")
    session:key("Enter")
    session:wait_for("ABM")
  end)

  it("interrupts a running chunk on Ctrl-C and keeps going", function()
    if not have_tmux() then return end
    session = Session.start("LUACNN_HISTORY=")
    session:type("while true do end")
    session:key("Enter")
    sleep(0.3)
    session:key("C-c")
    session:wait_for("interrupted!")
    session:type("'alive'")
    session:key("Enter")
    session:wait_for("\nalive\n")
  end)

  it("drops a half-typed chunk on Ctrl-C at the prompt", function()
    if not have_tmux() then return end
    session = Session.start("LUACNN_HISTORY=")
    session:type("for i = 1, 3 do")
    session:key("Enter")
    session:wait_for(">> ")
    session:type("print('dropped')")
    session:wait_for("print('dropped')")
    session:key("C-c")
    session:wait_for("^C")
    session:type("'fresh'")
    session:key("Enter")
    local screen = session:wait_for("\nfresh\n")
    assert.is_false(has(screen, "\ndropped"), screen)
    assert.is_false(has(screen, "luacnn:"), screen)
  end)

  it("saves history across sessions", function()
    if not have_tmux() then return end
    local file = temp_file("")
    os.remove(file)
    session = Session.start("LUACNN_HISTORY=" .. quote(file))
    session:type("zz_history_marker = 1")
    session:key("Enter")
    session:type("zz_history_marker + 1")
    session:key("Enter")
    session:wait_for("\n2\n")
    session:key("C-d")
    session:wait_for("EXIT=0")
    session:stop()
    assert.are.equal("zz_history_marker = 1\nzz_history_marker + 1\n", slurp(file))

    session = Session.start("LUACNN_HISTORY=" .. quote(file))
    session:key("Up")
    session:key("Up")
    session:key("Enter")
    session:key("Up")
    session:key("Up")
    session:key("Enter")
    session:wait_for("\n2\n")
  end)

  it("keeps working when the history file cannot be written", function()
    if not have_tmux() then return end
    session = Session.start("-u LUACNN_HISTORY HOME=/nonexistent/luacnn-home")
    session:type("1 + 1")
    session:key("Enter")
    session:type("2 + 2")
    session:key("Enter")
    local screen = session:wait_for("\n4\n")
    assert.is_true(has(screen, "\n2\n"), screen)
    session:key("C-d")
    screen = session:wait_for("EXIT=0")
    assert.is_false(has(screen, "luacnn:"), screen)
  end)
end)
