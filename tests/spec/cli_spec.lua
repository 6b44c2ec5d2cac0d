-- The luacnn command line, run as a separate process on small temporary scripts.
local support = require "spec_support"
local quote, slurp, temp_file, has, LEAK_CHECK = support.quote, support.slurp, support.temp_file, support.has, support.LEAK_CHECK
local BIN = assert(os.getenv("LUACNN_BIN"), "LUACNN_BIN must name the built luacnn binary")
local SOURCE_DIR = assert(os.getenv("LUACNN_SOURCE_DIR"), "LUACNN_SOURCE_DIR must be set")
local BUILD_DIR = assert(os.getenv("LUACNN_BUILD_DIR"), "LUACNN_BUILD_DIR must be set")






-- Runs luacnn with the given arguments. opts.stdin feeds text on stdin (otherwise
-- /dev/null); opts.env is a shell prefix such as "LUACNN_THREADS=2" or "-u LUA_PATH".
-- Returns stdout, stderr and the exit status; a death by signal fails the test.
local function luacnn(args, opts)
  opts = opts or {}
  local out, err = temp_file(""), temp_file("")
  local input = temp_file(opts.stdin or "")
  local words = { "env", opts.env or "", LEAK_CHECK, quote(opts.bin or BIN) }
  for _, a in ipairs(args) do words[#words + 1] = quote(a) end
  local cmd = table.concat(words, " ") .. " <" .. input .. " >" .. out .. " 2>" .. err
  local _, how, code = os.execute(cmd)
  assert(how == "exit", "luacnn died from signal " .. tostring(code) .. ": " .. cmd)
  return slurp(out), slurp(err), code
end


-- A script printing its varargs and its global arg table, one "key=value" per line.
local ARGS_SCRIPT = [[
print("n=" .. select("#", ...))
for i = 1, select("#", ...) do print("vararg" .. i .. "=" .. tostring((select(i, ...)))) end
for i = -2, #arg do print("arg" .. i .. "=" .. tostring(arg[i])) end
]]

-- A train script printing its option table sorted, with the type of every value.
local OPTS_SCRIPT = [[
local opts = ...
print("n=" .. select("#", ...))
local lines = {}
for k, v in pairs(opts) do
  lines[#lines + 1] = tostring(k) .. "=" .. tostring(v) .. ":" .. (math.type(v) or type(v))
end
table.sort(lines)
for _, line in ipairs(lines) do print(line) end
print("arg1=" .. tostring(arg[1]))
]]

describe("luacnn command line", function()
  teardown(function()
    support.remove_temp_files()
  end)

  describe("running scripts", function()
    it("run FILE passes the arguments as ... and in arg", function()
      local script = temp_file(ARGS_SCRIPT)
      local out, err, code = luacnn({ "run", script, "a", "b c" })
      assert.are.equal(0, code, err)
      assert.are.equal(table.concat({
        "n=2", "vararg1=a", "vararg2=b c",
        "arg-2=" .. BIN, "arg-1=run", "arg0=" .. script, "arg1=a", "arg2=b c", "",
      }, "\n"), out)
    end)

    it("a plain FILE runs the same way", function()
      local script = temp_file(ARGS_SCRIPT)
      local out, err, code = luacnn({ script, "x" })
      assert.are.equal(0, code, err)
      assert.is_true(has(out, "n=1\nvararg1=x\n"), out)
      assert.is_true(has(out, "arg-1=" .. BIN .. "\narg0=" .. script .. "\narg1=x\n"), out)
    end)

    it("gives options before the script negative arg indices", function()
      local script = temp_file(ARGS_SCRIPT)
      local out, err, code = luacnn({ "-e", "y = 1", script })
      assert.are.equal(0, code, err)
      assert.is_true(has(out, "arg-2=-e\narg-1=y = 1\narg0=" .. script .. "\n"), out)
    end)

    it("reads the script from stdin for FILE '-'", function()
      local out, err, code = luacnn({ "-", "q" }, { stdin = "print(arg[0], ...)" })
      assert.are.equal(0, code, err)
      assert.are.equal("-\tq\n", out)
    end)

    it("exits 0 on success and honours os.exit", function()
      assert.are.equal(0, select(3, luacnn({ temp_file("local x = 1") })))
      assert.are.equal(3, select(3, luacnn({ temp_file("os.exit(3)") })))
      assert.are.equal(0, select(3, luacnn({ "-e", "os.exit(true)" })))
      assert.are.equal(1, select(3, luacnn({ "-e", "os.exit(false)" })))
    end)

    it("finds the luacnn stdlib without LUA_PATH", function()
      local out, err, code = luacnn({ "-e", [[
        local T = require "luacnn"
        print(type(T), package.searchpath("luacnn", package.path))]] }, { env = "-u LUA_PATH" })
      assert.are.equal(0, code, err)
      assert.are.equal("table\t" .. SOURCE_DIR .. "/stdlib/luacnn/init.lua\n", out)
    end)

    it("keeps LUA_PATH entries after its own", function()
      local out, err, code = luacnn({ "-e", "print(package.path)" },
                                    { env = "LUA_PATH='/extra/?.lua;;'" })
      assert.are.equal(0, code, err)
      assert.are.equal(1, out:find(SOURCE_DIR .. "/stdlib/?.lua;", 1, true), out)
      assert.is_true(has(out, ";/extra/?.lua;"), out)
    end)

    it("finds the installed stdlib after cmake --install, with no environment", function()
      local prefix = os.tmpname()
      os.remove(prefix)
      local ok = os.execute("cmake --install " .. quote(BUILD_DIR) .. " --prefix " .. quote(prefix)
                            .. " >/dev/null 2>&1")
      local out, err, code
      if ok then
        out, err, code = luacnn({ "-e", [[
          require "luacnn"
          print(package.searchpath("luacnn", package.path))]] },
          { bin = prefix .. "/bin/luacnn", env = "-u LUA_PATH -u LUA_CPATH" })
      end
      os.execute("rm -rf " .. quote(prefix))
      assert.is_truthy(ok, "cmake --install failed")
      assert.are.equal(0, code, err)
      assert.are.equal(prefix .. "/share/lua/5.4/luacnn/init.lua\n", out)
    end)
  end)

  describe("train", function()
    it("hands the script its options as a table", function()
      local script = temp_file(OPTS_SCRIPT)
      local out, err, code = luacnn({ "train", script, "--batch-size", "64", "--lr", "1e-3",
                                      "--shuffle", "--no-augment", "--name", "mnist", "--seed=7",
                                      "data.csv", "-2", "--verbose" })
      assert.are.equal(0, code, err)
      assert.are.equal(table.concat({
        "n=1",
        "1=data.csv:string", "2=-2:integer",
        "augment=false:boolean", "batch_size=64:integer", "lr=0.001:float",
        "name=mnist:string", "seed=7:integer", "shuffle=true:boolean", "verbose=true:boolean",
        "arg1=--batch-size", "",
      }, "\n"), out)
    end)

    it("reads true/false as booleans, lets repeats win and takes all after -- as positional", function()
      local script = temp_file(OPTS_SCRIPT)
      local out, err, code = luacnn({ "train", script, "--resume", "false", "--epochs", "1",
                                      "--epochs", "5", "--", "--not-an-option", "7" })
      assert.are.equal(0, code, err)
      assert.are.equal(table.concat({
        "n=1", "1=--not-an-option:string", "2=7:integer",
        "epochs=5:integer", "resume=false:boolean", "arg1=--resume", "",
      }, "\n"), out)
    end)

    it("rejects single-dash options instead of taking them as positional", function()
      local _, err, code = luacnn({ "train", temp_file(OPTS_SCRIPT), "-lr", "0.1" })
      assert.are.equal(1, code)
      assert.is_true(has(err, "two dashes: '-lr'"), err)
    end)

    it("rejects --no-x with a value and options without a name", function()
      local script = temp_file(OPTS_SCRIPT)
      local _, err, code = luacnn({ "train", script, "--no-augment=1" })
      assert.are.equal(1, code)
      assert.is_true(has(err, "'--no-augment' takes no value"), err)
      _, err, code = luacnn({ "train", script, "--=3" })
      assert.are.equal(1, code)
      assert.is_true(has(err, "has no name"), err)
    end)

    it("needs a script", function()
      local _, err, code = luacnn({ "train" })
      assert.are.equal(1, code)
      assert.is_true(has(err, "'train' needs a script file"), err)
    end)
  end)

  describe("threads", function()
    local SHOW = [[
      local T = require "luacnn"
      print(T.get_num_threads and T.get_num_threads() or "no get_num_threads")]]

    it("--threads and LUACNN_THREADS set the thread count, --threads winning", function()
      local out, err, code = luacnn({ "--threads", "3", "-e", SHOW })
      assert.are.equal(0, code, err)
      if out ~= "no get_num_threads\n" then assert.are.equal("3\n", out) end
      out, err, code = luacnn({ "-e", SHOW }, { env = "LUACNN_THREADS=2" })
      assert.are.equal(0, code, err)
      if out ~= "no get_num_threads\n" then assert.are.equal("2\n", out) end
      out, err, code = luacnn({ "--threads=1", "-e", SHOW }, { env = "LUACNN_THREADS=2" })
      assert.are.equal(0, code, err)
      if out ~= "no get_num_threads\n" then assert.are.equal("1\n", out) end
    end)

    it("takes --threads after a train script too, and shows it in opts", function()
      local script = temp_file(OPTS_SCRIPT .. "\n" .. SHOW)
      local out, err, code = luacnn({ "train", script, "--threads", "2" })
      assert.are.equal(0, code, err)
      assert.is_true(has(out, "threads=2:integer\n"), out)
      assert.is_true(out:sub(-2) == "2\n" or has(out, "no get_num_threads"), out)
    end)

    it("refuses a bad count with a clear error", function()
      for _, bad in ipairs({ "abc", "0", "-1", "2.5", "", "99999999999999999999" }) do
        local out, err, code = luacnn({ "--threads", bad, "-e", "print('ran')" })
        assert.are.equal(1, code, bad)
        assert.are.equal("", out)
        assert.is_true(has(err, "bad --threads value '" .. bad .. "' (expected a positive integer)"), err)
      end
      local _, err, code = luacnn({ "-e", "print('ran')" }, { env = "LUACNN_THREADS=many" })
      assert.are.equal(1, code)
      assert.is_true(has(err, "bad LUACNN_THREADS value 'many'"), err)
      _, err, code = luacnn({ "--threads" })
      assert.are.equal(1, code)
      assert.is_true(has(err, "option '--threads' needs a value"), err)
    end)
  end)

  describe("-e", function()
    it("runs every chunk in order and then exits", function()
      local out, err, code = luacnn({ "-e", "x = 20", "-e", "x = x * 2", "-e", "print(x + 2)" })
      assert.are.equal(0, code, err)
      assert.are.equal("42\n", out)
    end)

    it("runs before a script, which sees its globals", function()
      local out, err, code = luacnn({ "-e", "greeting = 'hi'", temp_file("print(greeting)") })
      assert.are.equal(0, code, err)
      assert.are.equal("hi\n", out)
    end)

    it("stops at the first failing chunk", function()
      local out, err, code = luacnn({ "-e", "error('first')", "-e", "print('second')" })
      assert.are.equal(1, code)
      assert.are.equal("", out)
      assert.is_true(has(err, "luacnn: (command line):1: first"), err)
    end)
  end)

  describe("version and help", function()
    for _, args in ipairs({ { "--version" }, { "-v" }, { "version" } }) do
      it(table.concat(args, " ") .. " prints the versions", function()
        local out, err, code = luacnn(args)
        assert.are.equal(0, code, err)
        assert.is_truthy(out:match("^luacnn %d+%.%d+%.%d+ %(Lua 5%.4%.%d+, OpenBLAS [^\n]*%)\n$"), out)
      end)
    end

    for _, args in ipairs({ { "help" }, { "-h" }, { "--help" } }) do
      it(table.concat(args, " ") .. " lists the commands and options", function()
        local out, err, code = luacnn(args)
        assert.are.equal(0, code, err)
        for _, word in ipairs({ "usage: luacnn", "run FILE", "train FILE", "repl", "version",
                                "-e CODE", "--threads N", "--complete TEXT", "LUACNN_THREADS",
                                "LUACNN_HISTORY", "--no-shuffle" }) do
          assert.is_true(has(out, word), word)
        end
      end)
    end
  end)

  describe("errors", function()
    it("report file:line and a traceback on stderr, and exit 1", function()
      local script = temp_file("local function f()\n  error('boom')\nend\nf()\n")
      local out, err, code = luacnn({ "run", script })
      assert.are.equal(1, code)
      assert.are.equal("", out)
      assert.are.equal(1, err:find("luacnn: " .. script .. ":2: boom\n", 1, true), err)
      assert.is_true(has(err, "stack traceback:"), err)
      assert.is_true(has(err, script .. ":4: in main chunk"), err)
    end)

    it("use __tostring of error objects and name other types", function()
      local _, err, code = luacnn({ "-e",
        "error(setmetatable({}, {__tostring = function() return 'shape mismatch' end}))" })
      assert.are.equal(1, code)
      assert.are.equal(1, err:find("luacnn: shape mismatch\nstack traceback:", 1, true), err)
      _, err, code = luacnn({ "-e", "error({})" })
      assert.are.equal(1, code)
      assert.is_true(has(err, "luacnn: (error object is a table value)"), err)
    end)

    it("report syntax errors with the file name", function()
      local script = temp_file("x = = 1")
      local _, err, code = luacnn({ script })
      assert.are.equal(1, code)
      assert.is_true(has(err, "luacnn: " .. script .. ":1:"), err)
    end)

    it("say clearly when the script is missing", function()
      local _, err, code = luacnn({ "run", "/nonexistent/train_mnist.lua" })
      assert.are.equal(1, code)
      assert.are.equal("luacnn: cannot open /nonexistent/train_mnist.lua: No such file or directory\n", err)
      _, err, code = luacnn({ "trian" })
      assert.are.equal(1, code)
      assert.is_true(has(err, "'trian' is not a command either"), err)
    end)

    it("reject unknown options and misplaced arguments with a hint", function()
      local cases = {
        { { "--bogus" }, "unknown option '--bogus' (try 'luacnn help')" },
        { { "run", "-x", "f.lua" }, "unknown option '-x'" },
        { { "-e" }, "option '-e' needs a value" },
        { { "run" }, "'run' needs a script file" },
        { { "repl", "extra" }, "'repl' takes no arguments" },
        { { "version", "extra" }, "'version' takes no arguments" },
        { { "--complete", "x", "repl" }, "--complete takes no command or file" },
      }
      for _, case in ipairs(cases) do
        local out, err, code = luacnn(case[1])
        assert.are.equal(1, code, table.concat(case[1], " "))
        assert.are.equal("", out)
        assert.is_true(has(err, case[2]), err)
      end
    end)

    it("turn SIGINT into an 'interrupted!' error with a traceback", function()
      -- The signal is sent once the script runs (it writes a marker first): a fixed delay
      -- could land before the handler is installed on a loaded machine, killing the
      -- process with status 130 instead.
      local marker = temp_file("")
      local script = temp_file("local function spin() while true do end end\n"
                               .. "io.open(" .. string.format("%q", marker) .. ", 'w'):write('running'):close()\nspin()\n")
      local err = temp_file("")
      -- luacnn runs in the foreground (the shell execs it): a background job would start
      -- with SIGINT ignored, and luacnn keeps an ignored SIGINT ignored. The sender gives
      -- up waiting after 20 s so a broken script cannot hang the suite.
      local _, how, code = os.execute("(i=0; while [ ! -s " .. quote(marker) .. " ] && [ $i -lt 400 ]; do "
                                      .. "sleep 0.05; i=$((i+1)); done; kill -INT $$) & exec " .. quote(BIN) .. " "
                                      .. quote(script) .. " </dev/null 2>" .. err)
      local text = slurp(err)
      assert.are.same({ "exit", 1 }, { how, code }, text)
      assert.is_true(has(text, "interrupted!"), text)
      assert.is_true(has(text, script .. ":1: in local 'spin'"), text)
    end)
  end)

  describe("--complete", function()
    local function complete(text, setup)
      local args = {}
      if setup then args = { "-e", setup } end
      args[#args + 1] = "--complete"
      args[#args + 1] = text
      local out, err, code = luacnn(args)
      assert.are.equal(0, code, err)
      local list = {}
      for line in out:gmatch("[^\n]+") do list[#list + 1] = line end
      return list
    end

    it("offers globals and keywords", function()
      assert.are.same({ "print" }, complete("pri"))
      assert.are.same({ "while" }, complete("whi"))
      assert.are.same({ "rawequal", "rawget", "rawlen", "rawset", "repeat", "require", "return" },
                      complete("r"))
    end)

    it("walks dotted paths", function()
      assert.are.same({ "string.find", "string.format" }, complete("string.f"))
      assert.are.same({ "a.b.cde", "a.b.cdf" }, complete("a.b.cd", "a = {b = {cde = 1, cdf = 2, x = 3}}"))
      assert.are.same({}, complete("a.nope.x", "a = {}"))
      assert.are.same({}, complete("a..x", "a = {x = 1}"))
    end)

    it("lists only functions after ':' and finds string methods", function()
      assert.are.same({ "s:upper" }, complete("s:up", "s = 'text'"))
      assert.are.same({ "o:fn" }, complete("o:", "o = {fn = print, value = 1}"))
    end)

    it("follows class metatables and hides __ names until asked", function()
      local setup = [[
        Base = {} Base.__index = Base
        function Base.forward() end
        Linear = setmetatable({}, Base) Linear.__index = Linear
        function Linear.backward() end
        layer = setmetatable({weight = 1}, Linear)]]
      assert.are.same({ "layer:backward", "layer:forward" }, complete("layer:", setup))
      assert.are.same({ "layer.backward", "layer.forward", "layer.weight" }, complete("layer.", setup))
      assert.are.same({ "layer.__index" }, complete("layer.__", setup))
    end)

    it("offers only names that can follow a dot", function()
      assert.are.same({ "t.ok" }, complete("t.", "t = {ok = 1, ['end'] = 2, ['a b'] = 3, [1] = 4}"))
    end)

    it("completes userdata methods through the metatable", function()
      local list = complete("io.stdout:w")
      assert.are.same({ "io.stdout:write" }, list)
    end)

    it("completes tensor methods from __methods", function()
      local out, err, code = luacnn({ "-e", [[
        local T = require "luacnn"
        local t = T.zeros and T.zeros(2)
        local methods = t and type(getmetatable(t)) == "table" and getmetatable(t).__methods
        if type(methods) ~= "table" then return print("no tensor methods") end
        local names = {}
        for k, v in pairs(methods) do
          if type(k) == "string" and k:match("^[%a_][%w_]*$") and type(v) == "function"
             and k:sub(1, 2) ~= "__" then names[#names + 1] = k end
        end
        table.sort(names)
        print(#names, names[1])]] })
      assert.are.equal(0, code, err)
      if out == "no tensor methods\n" then return pending("the core has no tensor methods yet") end
      local count, first = out:match("^(%d+)\t(%S+)\n$")
      assert.is_truthy(count, out)
      assert.is_true(tonumber(count) > 0)
      local list = complete("t:" .. first, "T = require 'luacnn'; t = T.zeros(2)")
      assert.are.equal("t:" .. first, list[1])
      assert.is_true(#complete("t:", "T = require 'luacnn'; t = T.zeros(2)") >= tonumber(count))
    end)

    it("never calls __index functions", function()
      local list = complete("p.x.", "p = setmetatable({}, {__index = function() "
                                    .. "print('CALLED') return {y = 1} end})")
      assert.are.same({}, list)
    end)
  end)
end)
