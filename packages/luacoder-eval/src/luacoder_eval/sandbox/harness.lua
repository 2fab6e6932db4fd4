-- luacoder sandbox harness. Run once in a FRESH lua54 runtime per program (nothing the program
-- does to shared tables such as the string metatable can reach the next program). It takes
-- private references to everything it needs before any untrusted code runs, builds an
-- allowed-only environment with a LuaUnit-compatible `luaunit` module, loads the program in text
-- mode (no bytecode) and runs it in a coroutine under a count hook that enforces an instruction
-- budget and a wall-clock deadline. Returns:
--   outcome, message, exit_code, ran, tests, failures, errors, assertions, output
-- outcome: "finished" | "exit" | "syntax" | "runtime" | "assertion" | "timeout" | "memory" | "sandbox"

local program, max_instructions, timeout, max_output, clock = ...

-- ---------------------------------------------------------------------------------------------
-- private references (taken before untrusted code runs)
-- ---------------------------------------------------------------------------------------------
local _type, _rawequal, _rawget, _rawset, _rawlen = type, rawequal, rawget, rawset, rawlen
local _next, _select, _tostring, _tonumber = next, select, tostring, tonumber
local _pcall, _xpcall, _error, _assert = pcall, xpcall, error, assert
local _setmetatable, _getmetatable, _load = setmetatable, getmetatable, load
local _sethook = debug.sethook
local co_create, co_resume, co_status, co_close = coroutine.create, coroutine.resume,
    coroutine.status, coroutine.close
local s_format, s_find, s_sub, s_lower, s_match, s_gsub, s_rep = string.format, string.find,
    string.sub, string.lower, string.match, string.gsub, string.rep
local t_pack, t_unpack, t_concat, t_sort = table.pack, table.unpack, table.concat, table.sort
local m_abs, m_type, m_huge = math.abs, math.type, math.huge
local collect = collectgarbage

-- the shared string table and its metatable: no string.dump (bytecode out), and
-- getmetatable("") returns false instead of the real metatable
local string_mt = _getmetatable("")
string_mt.__metatable = false
math.randomseed(0)
python = nil

-- ---------------------------------------------------------------------------------------------
-- sentinels: errors the program cannot catch (pcall/xpcall/coroutine wrappers re-raise them)
-- ---------------------------------------------------------------------------------------------
local SENTINEL = {}
local function sentinel(kind, message, value)
  return _setmetatable({ kind = kind, message = message, value = value }, SENTINEL)
end
local function is_sentinel(e)
  return _type(e) == "table" and _getmetatable(e) == SENTINEL
end
local NOMEM = "not enough memory"
local function is_fatal(e)
  return is_sentinel(e) or _rawequal(e, NOMEM)
end
local function violation(what)
  _error(sentinel("sandbox", what .. " is not available in the sandbox"), 0)
end
string.dump = function() violation("string.dump (bytecode)") end

-- ---------------------------------------------------------------------------------------------
-- limits: count hook on every coroutine the program runs in
-- ---------------------------------------------------------------------------------------------
local STEP = 1000
local count, ticks, deadline = 0, 0, 0
local function hook()
  count = count + STEP
  if count > max_instructions then
    _error(sentinel("timeout", "instruction limit exceeded (" .. s_format("%.0f", max_instructions) .. ")"), 0)
  end
  ticks = ticks + 1
  if ticks >= 4 then
    ticks = 0
    if clock() > deadline then
      _error(sentinel("timeout", s_format("time limit exceeded (%gs)", timeout)), 0)
    end
  end
end

local function reraise_fatal(ok, ...)
  if not ok then
    local e = ...
    if is_fatal(e) then _error(e, 0) end
  end
  return ok, ...
end

local function sandbox_pcall(f, ...)
  return reraise_fatal(_pcall(f, ...))
end

local function sandbox_xpcall(f, handler, ...)
  local function h(e)
    if is_fatal(e) then return e end
    return handler(e)
  end
  return reraise_fatal(_xpcall(f, h, ...))
end

local function sandbox_create(f)
  local co = co_create(f)
  _sethook(co, hook, "", STEP)
  return co
end

local function sandbox_resume(co, ...)
  return reraise_fatal(co_resume(co, ...))
end

local function sandbox_wrap(f)
  local co = sandbox_create(f)
  return function(...)
    local r = t_pack(co_resume(co, ...))
    if r[1] then return t_unpack(r, 2, r.n) end
    _error(r[2], 0)
  end
end

local function sandbox_close(co)
  return reraise_fatal(co_close(co))
end

-- a metatable's __gc is dropped when it is set: finalizers would run outside the hook (at
-- collection or when the runtime closes), beyond every limit
local function sandbox_setmetatable(t, mt)
  if _type(mt) == "table" and _rawget(mt, "__gc") ~= nil then
    local gc = _rawget(mt, "__gc")
    _rawset(mt, "__gc", nil)
    local ok, r = _pcall(_setmetatable, t, mt)
    _rawset(mt, "__gc", gc)
    if not ok then _error(r, 2) end
    return r
  end
  return _setmetatable(t, mt)
end

local GC_ALLOWED = { collect = true, count = true, step = true, isrunning = true }
local function sandbox_collectgarbage(opt, ...)
  if opt == nil or GC_ALLOWED[opt] then return collect(opt, ...) end
  return 0 -- "stop", "generational", "setpause", ...: ignored, the collector keeps running
end

-- ---------------------------------------------------------------------------------------------
-- captured output
-- ---------------------------------------------------------------------------------------------
local out, out_len = {}, 0
local function emit(s)
  if out_len < max_output then
    if out_len + #s > max_output then s = s_sub(s, 1, max_output - out_len) end
    out[#out + 1] = s
    out_len = out_len + #s
  end
end
local function sandbox_print(...)
  local n = _select("#", ...)
  local parts = {}
  for i = 1, n do parts[i] = _tostring((_select(i, ...))) end
  emit(t_concat(parts, "\t") .. "\n")
end
local function sandbox_write(...)
  local n = _select("#", ...)
  for i = 1, n do
    local v = _select(i, ...)
    local tv = _type(v)
    if tv ~= "string" and tv ~= "number" then
      _error("bad argument #" .. i .. " to 'write' (string expected, got " .. tv .. ")", 2)
    end
    emit(_tostring(v))
  end
end

-- a table whose missing fields are sandbox violations (io.open, os.execute, debug.getinfo, ...),
-- and that cannot be given new ones (package.cpath = ...)
local function guarded(name, allowed)
  return _setmetatable(allowed, {
    __index = function(_, k) violation(name .. "." .. _tostring(k)) end,
    __newindex = function(_, k) violation("setting " .. name .. "." .. _tostring(k)) end,
    __metatable = false,
  })
end

-- ---------------------------------------------------------------------------------------------
-- LuaUnit-compatible module
-- ---------------------------------------------------------------------------------------------
local state = { ran = false, tests = 0, failures = 0, errors = 0, skipped = 0, assertions = 0,
                first = nil }
local FAILURE, SKIP = {}, {}
local env -- the program's global table, set below

local function prettystr(v, depth, seen)
  depth = depth or 0
  local tv = _type(v)
  if tv == "string" then return s_format("%q", v) end
  if tv ~= "table" then return _tostring(v) end
  seen = seen or {}
  if seen[v] or depth > 3 then return "{...}" end
  seen[v] = true
  local parts, n = {}, 0
  local len = _rawlen(v)
  for i = 1, len do
    n = n + 1
    if n > 20 then parts[#parts + 1] = "..." break end
    parts[#parts + 1] = prettystr(_rawget(v, i), depth + 1, seen)
  end
  for k, val in _next, v do
    if not (m_type(k) == "integer" and k >= 1 and k <= len) then
      n = n + 1
      if n > 20 then parts[#parts + 1] = "..." break end
      local key = _type(k) == "string" and s_match(k, "^[%a_][%w_]*$") and k or ("[" .. prettystr(k, depth + 1, seen) .. "]")
      parts[#parts + 1] = key .. "=" .. prettystr(val, depth + 1, seen)
    end
  end
  seen[v] = nil
  return "{" .. t_concat(parts, ", ") .. "}"
end

local function fail(msg, extra)
  if extra ~= nil then msg = _tostring(extra) .. "\n" .. msg end
  _error(_setmetatable({ msg = msg, class = "LuaUnit.Failure" }, FAILURE), 0)
end
FAILURE.__tostring = function(self) return "LuaUnit test FAILURE: " .. self.msg end
SKIP.__tostring = function(self) return "LuaUnit test SKIP: " .. self.msg end

local function deep_equal(a, b, margin, seen)
  if _rawequal(a, b) then return true end
  local ta, tb = _type(a), _type(b)
  if ta ~= tb then return false end
  if ta == "number" and margin then return m_abs(a - b) <= margin end
  if ta ~= "table" then return a == b end
  seen = seen or {}
  local sa = seen[a]
  if sa and sa[b] then return true end
  if not sa then sa = {}; seen[a] = sa end
  sa[b] = true
  if _rawlen(a) ~= _rawlen(b) then return false end
  for k, v in _next, a do
    if _type(k) == "table" then
      local found = false
      for k2, v2 in _next, b do
        if _type(k2) == "table" and deep_equal(k, k2, margin, seen) and deep_equal(v, v2, margin, seen) then
          found = true
          break
        end
      end
      if not found then return false end
    elseif not deep_equal(v, _rawget(b, k), margin, seen) then
      return false
    end
  end
  for k in _next, b do
    if _type(k) ~= "table" and _rawget(a, k) == nil then return false end
  end
  return true
end

local function count_assertion() state.assertions = state.assertions + 1 end

local function error_of(f, ...)
  local ok, e = _pcall(f, ...)
  if not ok and is_fatal(e) then _error(e, 0) end
  return ok, e
end

local function error_text(e)
  if _type(e) == "table" and _getmetatable(e) == FAILURE then return e.msg end
  return _tostring(e)
end

local function strip_position(msg)
  return (s_gsub(msg, "^[^:\n]*:%d+: ", "", 1))
end

local function make_luaunit()
  local M = {}
  M.EPS = 2 ^ -52
  M.VERSION = "3.4-luacoder"
  M.ORDER_ACTUAL_EXPECTED = true

  function M.assertEquals(actual, expected, extra)
    count_assertion()
    if not deep_equal(actual, expected) then
      fail("expected: " .. prettystr(expected) .. ", actual: " .. prettystr(actual), extra)
    end
  end
  function M.assertNotEquals(actual, expected, extra)
    count_assertion()
    if deep_equal(actual, expected) then
      fail("Received the not expected value: " .. prettystr(actual), extra)
    end
  end
  function M.assertItemsEquals(actual, expected, extra)
    count_assertion()
    local ok = _type(actual) == "table" and _type(expected) == "table"
    if ok then
      local used, n_a, n_e = {}, 0, 0
      for _, v in _next, expected do n_e = n_e + 1 end
      for _, va in _next, actual do
        n_a = n_a + 1
        local hit = false
        for ke, ve in _next, expected do
          if not used[ke] and deep_equal(va, ve) then used[ke] = true; hit = true; break end
        end
        if not hit then ok = false break end
      end
      ok = ok and n_a == n_e
    end
    if not ok then
      fail("content of the tables are not identical:\nexpected: " .. prettystr(expected) ..
        "\nactual: " .. prettystr(actual), extra)
    end
  end
  function M.assertAlmostEquals(actual, expected, margin, extra)
    count_assertion()
    margin = margin or M.EPS
    if _type(actual) == "table" and _type(expected) == "table" then
      if not deep_equal(actual, expected, margin) then
        fail("expected: " .. prettystr(expected) .. ", actual: " .. prettystr(actual), extra)
      end
      return
    end
    if _type(actual) ~= "number" or _type(expected) ~= "number" or m_abs(actual - expected) > margin then
      fail("Values are not almost equal\nActual: " .. prettystr(actual) .. ", expected: " ..
        prettystr(expected) .. ", delta " .. _tostring(margin), extra)
    end
  end
  function M.assertNotAlmostEquals(actual, expected, margin, extra)
    count_assertion()
    margin = margin or M.EPS
    if _type(actual) == "number" and _type(expected) == "number" and m_abs(actual - expected) <= margin then
      fail("Values are almost equal\nActual: " .. prettystr(actual) .. ", expected: " ..
        prettystr(expected), extra)
    end
  end
  function M.assertTrue(v, extra)
    count_assertion()
    if v ~= true then fail("expected: true, actual: " .. prettystr(v), extra) end
  end
  function M.assertFalse(v, extra)
    count_assertion()
    if v ~= false then fail("expected: false, actual: " .. prettystr(v), extra) end
  end
  function M.assertEvalToTrue(v, extra)
    count_assertion()
    if not v then fail("expected: a value evaluating to true, actual: " .. prettystr(v), extra) end
  end
  function M.assertEvalToFalse(v, extra)
    count_assertion()
    if v then fail("expected: false or nil, actual: " .. prettystr(v), extra) end
  end
  function M.assertNil(v, extra)
    count_assertion()
    if v ~= nil then fail("expected: nil, actual: " .. prettystr(v), extra) end
  end
  function M.assertNotNil(v, extra)
    count_assertion()
    if v == nil then fail("expected: not nil, actual: nil", extra) end
  end
  function M.assertIs(actual, expected, extra)
    count_assertion()
    if not _rawequal(actual, expected) and not (_type(actual) ~= "table" and actual == expected) then
      fail("expected and actual object should not be different\nExpected: " .. prettystr(expected) ..
        "\nReceived: " .. prettystr(actual), extra)
    end
  end
  function M.assertNotIs(actual, expected, extra)
    count_assertion()
    if _rawequal(actual, expected) then
      fail("expected and actual object should be different: " .. prettystr(expected), extra)
    end
  end
  local function contains(str, sub, is_pattern, ci)
    if _type(str) ~= "string" or _type(sub) ~= "string" then return false end
    if ci then str, sub = s_lower(str), s_lower(sub) end
    return s_find(str, sub, 1, not is_pattern) ~= nil
  end
  function M.assertStrContains(str, sub, is_pattern, extra)
    count_assertion()
    if not contains(str, sub, is_pattern) then
      fail("Could not find " .. (is_pattern and "pattern " or "substring ") .. prettystr(sub) ..
        " in string " .. prettystr(str), extra)
    end
  end
  function M.assertStrIContains(str, sub, extra)
    count_assertion()
    if not contains(str, sub, false, true) then
      fail("Could not find (case insensitively) substring " .. prettystr(sub) .. " in string " ..
        prettystr(str), extra)
    end
  end
  function M.assertNotStrContains(str, sub, is_pattern, extra)
    count_assertion()
    if contains(str, sub, is_pattern) then
      fail("Found the not expected " .. (is_pattern and "pattern " or "substring ") ..
        prettystr(sub) .. " in string " .. prettystr(str), extra)
    end
  end
  function M.assertNotStrIContains(str, sub, extra)
    count_assertion()
    if contains(str, sub, false, true) then
      fail("Found (case insensitively) the not expected substring " .. prettystr(sub) ..
        " in string " .. prettystr(str), extra)
    end
  end
  function M.assertStrMatches(str, pattern, start, final, extra)
    count_assertion()
    local ok = _type(str) == "string" and _type(pattern) == "string"
    if ok then
      local a, b = s_find(str, pattern, start)
      ok = a == (start or 1) and b == (final or #str)
    end
    if not ok then
      fail("Could not match pattern " .. prettystr(pattern) .. " with string " .. prettystr(str), extra)
    end
  end
  function M.assertError(f, ...)
    count_assertion()
    if error_of(f, ...) then fail("Expected an error when calling function but no error generated") end
  end
  function M.assertErrorMsgContains(partial, f, ...)
    count_assertion()
    local ok, e = error_of(f, ...)
    if ok then fail("No error generated when calling function but expected error containing: " .. prettystr(partial)) end
    if not s_find(error_text(e), partial, 1, true) then
      fail("Error message does not contain: " .. prettystr(partial) .. "\nError message received: " ..
        prettystr(error_text(e)))
    end
  end
  function M.assertErrorMsgEquals(expected, f, ...)
    count_assertion()
    local ok, e = error_of(f, ...)
    if ok then fail("No error generated when calling function but expected error: " .. prettystr(expected)) end
    local text = error_text(e)
    if text ~= expected and strip_position(text) ~= expected then
      fail("Error message expected: " .. prettystr(expected) .. "\nError message received: " .. prettystr(text))
    end
  end
  function M.assertErrorMsgContentEquals(expected, f, ...)
    count_assertion()
    local ok, e = error_of(f, ...)
    if ok then fail("No error generated when calling function but expected error: " .. prettystr(expected)) end
    if strip_position(error_text(e)) ~= expected then
      fail("Error message expected: " .. prettystr(expected) .. "\nError message received: " ..
        prettystr(error_text(e)))
    end
  end
  function M.assertErrorMsgMatches(pattern, f, ...)
    count_assertion()
    local ok, e = error_of(f, ...)
    if ok then fail("No error generated when calling function but expected error matching: " .. prettystr(pattern)) end
    local text = error_text(e)
    local a, b = s_find(text, pattern)
    if not (a == 1 and b == #text) then
      fail("Error message does not match pattern: " .. prettystr(pattern) .. "\nError message received: " ..
        prettystr(text))
    end
  end
  function M.assertTableContains(t, v, extra)
    count_assertion()
    local found = false
    if _type(t) == "table" then
      for _, x in _next, t do if deep_equal(x, v) then found = true break end end
    end
    if not found then fail("Table " .. prettystr(t) .. " does not contain " .. prettystr(v), extra) end
  end
  function M.assertNotTableContains(t, v, extra)
    count_assertion()
    if _type(t) == "table" then
      for _, x in _next, t do
        if deep_equal(x, v) then fail("Table " .. prettystr(t) .. " contains " .. prettystr(v), extra) end
      end
    end
  end
  local TYPES = { Number = "number", String = "string", Table = "table", Boolean = "boolean",
                  Nil = "nil", Function = "function", Thread = "thread", Userdata = "userdata" }
  for name, tname in _next, TYPES do
    M["assertIs" .. name] = function(v, extra)
      count_assertion()
      if _type(v) ~= tname then fail("expected: a " .. tname .. " value, actual: type " .. _type(v) ..
        ", value " .. prettystr(v), extra) end
    end
    M["assertNotIs" .. name] = function(v, extra)
      count_assertion()
      if _type(v) == tname then fail("expected: not a " .. tname .. " type, actual: value " ..
        prettystr(v), extra) end
    end
  end
  M.assertIsTrue, M.assertIsFalse = M.assertTrue, M.assertFalse
  function M.assertNaN(v, extra)
    count_assertion()
    if not (_type(v) == "number" and v ~= v) then fail("expected: NaN, actual: " .. prettystr(v), extra) end
  end
  function M.assertInf(v, extra)
    count_assertion()
    if not (_type(v) == "number" and m_abs(v) == m_huge) then fail("expected: inf, actual: " .. prettystr(v), extra) end
  end
  M.assertIsNaN, M.assertIsInf = M.assertNaN, M.assertInf
  M.assertNotStrContains = M.assertNotStrContains
  function M.fail(msg) count_assertion(); fail(_tostring(msg)) end
  function M.failIf(cond, msg) count_assertion(); if cond then fail(_tostring(msg)) end end
  function M.success() _error(_setmetatable({ msg = "success", success = true }, SKIP), 0) end
  function M.skip(msg) _error(_setmetatable({ msg = _tostring(msg) }, SKIP), 0) end
  function M.skipIf(cond, msg) if cond then M.skip(msg) end end

  -- snake_case and short aliases, as LuaUnit has them (assert_equals, assertEqual, ...)
  local aliases = {}
  for name, f in _next, M do
    if _type(f) == "function" and s_sub(name, 1, 6) == "assert" then
      local snake = s_lower((s_gsub(name, "(%u)", "_%1")))
      aliases[snake] = f
    end
  end
  for name, f in _next, aliases do M[name] = f end
  M.assertEqual, M.assert_equal = M.assertEquals, M.assertEquals

  local function run_one(fn, ...)
    state.tests = state.tests + 1
    local ok, e = _pcall(fn, ...)
    if ok then return end
    if is_fatal(e) then _error(e, 0) end
    if _type(e) == "table" and _getmetatable(e) == SKIP then
      if not e.success then state.tests = state.tests - 1; state.skipped = state.skipped + 1 end
      return
    end
    if _type(e) == "table" and _getmetatable(e) == FAILURE then
      state.failures = state.failures + 1
      state.first = state.first or ("assertion failed: " .. e.msg)
    else
      state.errors = state.errors + 1
      local ok2, text = _pcall(_tostring, e)
      state.first = state.first or ("error: " .. (ok2 and text or "(unprintable error)"))
    end
  end

  local function is_test_name(k)
    return _type(k) == "string" and s_lower(s_sub(k, 1, 4)) == "test"
  end

  local function run(...)
    local names = {}
    for k, v in _next, env do
      if is_test_name(k) and (_type(v) == "function" or _type(v) == "table") then names[#names + 1] = k end
    end
    t_sort(names)
    for _, name in _next, names do
      local v = _rawget(env, name)
      if _type(v) == "function" then
        run_one(v)
      elseif _type(v) == "table" then
        local methods = {}
        for mk, mv in _next, v do
          if is_test_name(mk) and _type(mv) == "function" then methods[#methods + 1] = mk end
        end
        t_sort(methods)
        for _, m in _next, methods do
          run_one(function()
            local set_up = _rawget(v, "setUp") or _rawget(v, "Setup") or _rawget(v, "setup")
            local tear_down = _rawget(v, "tearDown") or _rawget(v, "Teardown") or _rawget(v, "teardown")
            if _type(set_up) == "function" then set_up(v) end
            local ok, e = _pcall(_rawget(v, m), v)
            if _type(tear_down) == "function" then tear_down(v) end
            if not ok then _error(e, 0) end
          end)
        end
      end
    end
    state.ran = true
    return state.failures + state.errors
  end

  local runner = {}
  runner.run = function(first, ...)
    return run(...)
  end
  runner.new = function() return runner end
  M.LuaUnit = runner
  M.run = runner.run
  return M
end

-- ---------------------------------------------------------------------------------------------
-- the program's environment: allowed names only
-- ---------------------------------------------------------------------------------------------
local sandbox_coroutine = {
  create = sandbox_create, resume = sandbox_resume, wrap = sandbox_wrap, close = sandbox_close,
  status = co_status, yield = coroutine.yield, running = coroutine.running,
  isyieldable = coroutine.isyieldable,
}

local function sandbox_exit(code)
  _error(sentinel("exit", "os.exit", code == nil and true or code), 0)
end

env = {
  assert = _assert, error = _error, ipairs = ipairs, next = _next, pairs = pairs, pcall = sandbox_pcall,
  xpcall = sandbox_xpcall, print = sandbox_print, select = _select, tonumber = _tonumber,
  tostring = _tostring, type = _type, rawequal = _rawequal, rawget = _rawget, rawset = _rawset,
  rawlen = _rawlen, getmetatable = _getmetatable, setmetatable = sandbox_setmetatable,
  collectgarbage = sandbox_collectgarbage, warn = function() end, _VERSION = _VERSION,
  string = string, table = table, math = math, utf8 = utf8, coroutine = sandbox_coroutine,
  os = guarded("os", { clock = os.clock, time = os.time, date = os.date, difftime = os.difftime,
                       exit = sandbox_exit }),
  io = guarded("io", { write = sandbox_write }),
  debug = guarded("debug", {}),
  package = guarded("package", { loaded = guarded("package.loaded", {}) }),
  dofile = function() violation("dofile") end,
  loadfile = function() violation("loadfile") end,
}
env._G = env

local modules = { string = string, table = table, math = math, utf8 = utf8,
                  coroutine = sandbox_coroutine }
env.require = function(name)
  if name == "luaunit" then return make_luaunit() end
  local m = modules[name]
  if m ~= nil then return m end
  violation("require('" .. _tostring(name) .. "')")
end

env.load = function(...)
  local chunk, name, mode, chunk_env = ...
  if _select("#", ...) < 4 then chunk_env = env end
  local f, err = _load(chunk, name, "t", chunk_env)
  if not f and _type(err) == "string" and s_find(err, "attempt to load a binary chunk", 1, true) then
    violation("loading bytecode")
  end
  return f, err
end

-- ---------------------------------------------------------------------------------------------
-- run
-- ---------------------------------------------------------------------------------------------
local function result(outcome, message, exit_code)
  return outcome, message, exit_code, state.ran, state.tests, state.failures, state.errors,
      state.assertions, t_concat(out), state.first
end

local fn, err = _load(program, "=program", "t", env)
if not fn then
  return result("syntax", _tostring(err), nil)
end

local co = co_create(fn)
deadline = clock() + timeout
_sethook(co, hook, "", STEP)
local ok, e = co_resume(co)
local status = co_status(co)
co, fn = nil, nil
if ok and status == "suspended" then
  env = nil
  collect()
  return result("runtime", "attempt to yield from outside a coroutine", nil)
end
env = nil
collect()
if ok then
  return result("finished", nil, nil)
end
if is_sentinel(e) then
  if e.kind == "exit" then return result("exit", nil, e.value) end
  return result(e.kind, e.message, nil)
end
if _rawequal(e, NOMEM) then return result("memory", NOMEM, nil) end
if _type(e) == "table" and _getmetatable(e) == FAILURE then
  return result("assertion", e.msg, nil)
end
-- no __tostring of the program's error object here: this runs outside the hook
local te = _type(e)
if te == "string" or te == "number" then return result("runtime", _tostring(e), nil) end
return result("runtime", "error object of type " .. te, nil)
