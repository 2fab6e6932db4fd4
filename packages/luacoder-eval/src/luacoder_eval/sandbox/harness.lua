-- luacoder sandbox harness. Runs once in a FRESH lupa runtime (lua53 or lua54) per program, so
-- nothing a program does to shared tables (the string table, ...) reaches the next one.
--
-- It takes private references to everything it needs before any untrusted code runs, builds an
-- allowed-only environment shaped like Debian's `lua5.x` (compatibility functions included), a
-- LuaUnit 3.4-compatible `luaunit` module, loads the program in text mode and returns
-- `start, main_thread, probe_thread`; Python arms a watchdog on the main coroutine (a count hook
-- set from another thread at the deadline: no hook cost while the program runs) and calls
-- `start()`, which runs the program and returns the verdict:
--   passed, kind, message, exit_status, tests, failures, errors, assertions, output
--
-- The verdict is LuaUnit's on honest programs and cannot be faked: a pass needs a run of the
-- runner called by the tests' own code, in which every test function defined in the tests' text
-- (captured when the runner collects them, recognised by where it was compiled) ran to completion
-- and made at least one assertion called directly by the tests' code; nothing failed; and the
-- program then ended normally or with a success status.

local program, tests_at, timeout, max_instructions, max_output, max_message, clock = ...

-- ---------------------------------------------------------------------------------------------
-- private references (taken before untrusted code runs)
-- ---------------------------------------------------------------------------------------------
local _type, _rawequal, _rawget, _rawset, _rawlen = type, rawequal, rawget, rawset, rawlen
local _next, _select, _tostring, _tonumber, _pairs, _ipairs = next, select, tostring, tonumber,
    pairs, ipairs
local _pcall, _xpcall, _error, _assert = pcall, xpcall, error, assert
local _setmetatable, _getmetatable, _load = setmetatable, getmetatable, load
local _sethook, _getinfo, _traceback = debug.sethook, debug.getinfo, debug.traceback
local _rawmetatable = debug.getmetatable
local co_create, co_resume, co_status, co_close, co_yield = coroutine.create, coroutine.resume,
    coroutine.status, coroutine.close, coroutine.yield
local s_format, s_find, s_sub, s_lower, s_match, s_gsub, s_rep, s_len = string.format, string.find,
    string.sub, string.lower, string.match, string.gsub, string.rep, string.len
local t_pack, t_unpack, t_concat, t_sort, t_insert = table.pack, table.unpack, table.concat,
    table.sort, table.insert
local m_abs, m_type, m_huge, m_tointeger, m_exp, m_log, m_atan = math.abs, math.type, math.huge,
    math.tointeger, math.exp, math.log, math.atan
local collect = collectgarbage
local LUA53 = _VERSION == "Lua 5.3"
local CHUNK = "=program"

-- the string metatable stays reachable (getmetatable("").__index == string, as in plain Lua): the
-- runtime is this program's alone and the harness never calls a method on a string
local _setrawmetatable = debug.setmetatable
math.randomseed(0)
python = nil

-- where the tests' text starts: its line, and whether the program before it compiles alone (the
-- completion cannot leave a string, comment or block open that swallows part of the tests)
local tests_line = 1
local prefix_ok = true
if tests_at and tests_at > 0 then
  local prefix = s_sub(program, 1, tests_at)
  prefix_ok = _load(prefix, CHUNK, "t", {}) ~= nil
  -- the tests' first line as Lua's lexer counts lines ("\r", "\r\n" and "\n" alike): the line
  -- of a token put right after the prefix, read from the syntax error it causes
  local _, err = _load(prefix .. "@", CHUNK, "t", {})
  local line = _type(err) == "string" and _tonumber(s_match(err, "^program:(%d+):")) or nil
  if line then tests_line = line else prefix_ok = false end
end

-- messages are cut here, in the worker: a 100 MB error message never reaches Python
local function cut(s)
  if _type(s) ~= "string" then s = _tostring(s) end
  if #s > max_message then return s_sub(s, 1, max_message) .. "... [cut]" end
  return s
end

-- ---------------------------------------------------------------------------------------------
-- sentinels: stops the program cannot catch (pcall/xpcall/coroutine wrappers re-raise them) and
-- cannot forge or edit (the kind lives in a private table, the object is an empty table)
-- ---------------------------------------------------------------------------------------------
local SENTINELS = _setmetatable({}, { __mode = "k" })
local SENTINEL_MT = { __metatable = false, __tostring = function() return "sandbox stop" end }
local function sentinel(kind, message, value)
  local s = _setmetatable({}, SENTINEL_MT)
  SENTINELS[s] = { kind = kind, message = message, value = value }
  return s
end
local function sentinel_of(e)
  if _type(e) == "table" then return _rawget(SENTINELS, e) end
  return nil
end
local function violation(what)
  _error(sentinel("sandbox", what .. " is not available in the sandbox"), 0)
end

-- ---------------------------------------------------------------------------------------------
-- limits. The main coroutine runs without a hook (full speed); at the deadline Python's watchdog
-- sets a count hook on it from another thread. Coroutines the program creates, and the main one
-- when an instruction budget is asked for, carry a count hook from the start. Once the time is
-- up every hook call raises again: code in __close handlers, message handlers or error-object
-- metamethods cannot run on.
-- ---------------------------------------------------------------------------------------------
local STEP = 100000
local count, deadline, expired = 0, 0, nil
-- made now: raising them needs no memory when the program has used it all
local TIME_UP = sentinel("timeout", s_format("time limit exceeded (%gs)", timeout))
local BUDGET_UP = sentinel("timeout", "instruction limit exceeded (" .. s_format("%.0f", max_instructions) .. ")")
local function hook()
  if expired then _error(expired, 0) end
  if clock() > deadline then
    expired = TIME_UP
    _error(expired, 0)
  end
  if max_instructions > 0 then
    count = count + STEP
    if count > max_instructions then
      expired = BUDGET_UP
      _error(expired, 0)
    end
  end
end

-- once the time is up no protected call returns to the program, whatever it caught: near the
-- stack's limit Lua turns the hook's error into "C stack overflow" or "error in error handling",
-- which a pcall would otherwise catch (a check of a local: free). A program that recurses through
-- pcall at that limit can still outrun the hooks; the outer guard kills it (pool.py).
local function reraise(ok, ...)
  if expired then _error(expired, 0) end
  if not ok then
    local e = ...
    if sentinel_of(e) then _error(e, 0) end
  end
  return ok, ...
end

local function sandbox_pcall(f, ...)
  return reraise(_pcall(f, ...))
end

local function sandbox_xpcall(f, handler, ...)
  local function h(e)
    if sentinel_of(e) then return e end
    return handler(e)
  end
  return reraise(_xpcall(f, h, ...))
end

local function sandbox_create(f)
  local co = co_create(f)
  _sethook(co, hook, "", STEP)
  return co
end

local function sandbox_resume(co, ...)
  return reraise(co_resume(co, ...))
end

local function sandbox_wrap(f)
  local co = sandbox_create(f)
  return function(...)
    local r = t_pack(co_resume(co, ...))
    if expired then _error(expired, 0) end
    if r[1] then return t_unpack(r, 2, r.n) end
    local e = r[2]
    -- coroutine.wrap adds the caller's position to a string error (auxwrap in 5.3 and 5.4)
    if _type(e) == "string" then _error(e, 2) end
    _error(e, 0)
  end
end

local sandbox_close = co_close and function(co)
  return reraise(co_close(co))
end

-- a metatable's __gc is dropped when it is set: finalizers run with hooks off (Lua stops debug
-- hooks inside them) and when the runtime closes, beyond every limit
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
-- captured output: print, io.write, io.stdout:write (chained), io.stderr; nothing else of io
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
  for i = 1, n do
    local s = _tostring((_select(i, ...)))
    if _type(s) ~= "string" then _error("'__tostring' must return a string", 2) end
    parts[i] = s
  end
  emit(t_concat(parts, "\t") .. "\n")
end

local FILE_METHODS = {}
local FILE_MT = { __index = FILE_METHODS, __name = "FILE*", __metatable = false }
-- the runtime's own standard files, userdata as in plain Lua, with our metatable in place of the
-- real one: only the methods below are reachable (the real ones and their __gc are gone)
local stdout = _setrawmetatable(io.stdout, FILE_MT)
local stderr = _setrawmetatable(io.stderr, FILE_MT)
local stdin = _setrawmetatable(io.stdin, FILE_MT)
local FILES = { [stdout] = "stdout", [stderr] = "stderr", [stdin] = "stdin" }
FILE_MT.__tostring = function(f) return "file (0x" .. (FILES[f] or "?") .. ")" end

local function write_values(first, ...)
  local n = _select("#", ...)
  for i = 1, n do
    local v = _select(i, ...)
    local tv = _type(v)
    if tv == "number" then
      emit(m_type(v) == "integer" and s_format("%d", v) or s_format("%.14g", v))
    elseif tv == "string" then
      emit(v)
    else
      _error("bad argument #" .. (i + first - 1) .. " to 'write' (string expected, got " .. tv .. ")", 3)
    end
  end
end
local function check_file(f, name)
  if FILES[f] == nil then _error("bad argument #1 to '" .. name .. "' (FILE* expected, got " .. _type(f) .. ")", 3) end
end
function FILE_METHODS.write(f, ...)
  check_file(f, "write")
  if f == stdin then return nil, "Bad file descriptor", 9 end
  write_values(1, ...)
  return f
end
function FILE_METHODS.flush(f) check_file(f, "flush"); return f end
function FILE_METHODS.setvbuf(f) check_file(f, "setvbuf"); return true end
function FILE_METHODS.close(f) check_file(f, "close"); return nil, "cannot close standard file" end
function FILE_METHODS.read(f) check_file(f, "read"); return nil end
function FILE_METHODS.lines(f) check_file(f, "lines"); return function() return nil end end
function FILE_METHODS.seek(f) check_file(f, "seek"); return nil, "Illegal seek", 29 end

local function guarded(name, allowed)
  return _setmetatable(allowed, {
    __index = function(_, k) violation(name .. "." .. _tostring(k)) end,
    __newindex = function(_, k) violation("setting " .. name .. "." .. _tostring(k)) end,
    __metatable = false,
  })
end

local sandbox_io = guarded("io", {
  write = function(...) write_values(1, ...); return stdout end,
  read = function() return nil end,
  lines = function(name, ...)
    if name ~= nil then violation("io.lines(file)") end
    return function() return nil end
  end,
  flush = function() return stdout end,
  output = function(f)
    if f ~= nil and f ~= stdout then violation("io.output(file)") end
    return stdout
  end,
  input = function(f)
    if f ~= nil and f ~= stdin then violation("io.input(file)") end
    return stdin
  end,
  type = function(f) if FILES[f] then return "file" end return nil end,
  stdout = stdout, stderr = stderr, stdin = stdin,
})

-- ---------------------------------------------------------------------------------------------
-- compatibility functions Debian builds in (LUA_COMPAT_MATHLIB in 5.3 and 5.4; bit32 and
-- __ipairs in 5.3)
-- ---------------------------------------------------------------------------------------------
local function argerror(i, fname, msg)
  _error(s_format("bad argument #%d to '%s' (%s)", i, fname, msg), 3)
end
local function typename(v) return _type(v) end
local function checknumber(v, i, fname, present)
  if _type(v) == "number" then return v end
  if _type(v) == "string" then
    local n = _tonumber(v)
    if n then return n end
  end
  argerror(i, fname, "number expected, got " .. (present and typename(v) or "no value"))
end
local function checkinteger(v, i, fname, present)
  local n = checknumber(v, i, fname, present)
  local k = m_tointeger(n)
  if k == nil then argerror(i, fname, "number has no integer representation") end
  return k
end

local compat_math = {}
function compat_math.pow(...)
  local x, y = ...
  local n = _select("#", ...)
  return checknumber(x, 1, "pow", n >= 1) ^ checknumber(y, 2, "pow", n >= 2)
end
function compat_math.log10(...)
  local x = checknumber((...), 1, "log10", _select("#", ...) >= 1)
  return m_log(x, 10)
end
function compat_math.atan2(...)
  local y, x = ...
  local n = _select("#", ...)
  return m_atan(checknumber(y, 1, "atan2", n >= 1), x == nil and 1.0 or checknumber(x, 2, "atan2", true))
end
function compat_math.cosh(...)
  local x = checknumber((...), 1, "cosh", _select("#", ...) >= 1)
  local e = m_exp(x)
  return (e + 1 / e) / 2
end
function compat_math.sinh(...)
  local x = checknumber((...), 1, "sinh", _select("#", ...) >= 1)
  if m_abs(x) < 1e-5 then return x + x * x * x / 6 end
  local e = m_exp(x)
  return (e - 1 / e) / 2
end
function compat_math.tanh(...)
  local x = checknumber((...), 1, "tanh", _select("#", ...) >= 1)
  if x > 20 then return 1.0 elseif x < -20 then return -1.0 end
  if m_abs(x) < 1e-5 then return x - x * x * x / 3 end
  local e = m_exp(2 * x)
  return (e - 1) / (e + 1)
end
function compat_math.frexp(...)
  local x = checknumber((...), 1, "frexp", _select("#", ...) >= 1) + 0.0
  if x == 0 or x ~= x or x == m_huge or x == -m_huge then return x, 0 end
  local m, e = m_abs(x), 0
  while m >= 1 do m = m / 2; e = e + 1 end
  while m < 0.5 do m = m * 2; e = e - 1 end
  if x < 0 then m = -m end
  return m, e
end
function compat_math.ldexp(...)
  local m, e = ...
  local n = _select("#", ...)
  m = checknumber(m, 1, "ldexp", n >= 1) + 0.0
  e = checkinteger(e, 2, "ldexp", n >= 2)
  while e > 1000 do m = m * 2.0 ^ 1000; e = e - 1000 end
  while e < -1000 do m = m * 2.0 ^ -1000; e = e + 1000 end
  return m * 2.0 ^ e
end
for name, f in _next, compat_math do math[name] = f end

local bit32
if LUA53 then
  local ALL = 0xFFFFFFFF
  local NBITS = 32
  local function u(v, i, fname, present) return checkinteger(v, i, fname, present) end
  local function fold(fname, init, op)
    return function(...)
      local r = init
      for i = 1, _select("#", ...) do r = op(r, u((_select(i, ...)), i, fname, true)) end
      return r & ALL
    end
  end
  local function shift(r, i)
    if i < 0 then
      i = -i
      r = r & ALL
      if i >= NBITS then r = 0 else r = r >> i end
    else
      if i >= NBITS then r = 0 else r = r << i end
      r = r & ALL
    end
    return r
  end
  local function fieldargs(fname, f, w, i, n)
    f = checkinteger(f, i, fname, n >= i)
    if w == nil then w = 1 else w = checkinteger(w, i + 1, fname, true) end
    if f < 0 then argerror(i, fname, "field cannot be negative") end
    if w <= 0 then argerror(i + 1, fname, "width must be positive") end
    if f + w > NBITS then _error("trying to access non-existent bits", 3) end
    return f, w
  end
  local function mask(w) return ~((ALL << 1) << (w - 1)) & ALL end
  local function rot(r, i)
    i = i & (NBITS - 1)
    r = r & ALL
    if i ~= 0 then r = (r << i) | (r >> (NBITS - i)) end
    return r & ALL
  end
  bit32 = {
    band = fold("band", ALL, function(a, b) return a & b end),
    bor = fold("bor", 0, function(a, b) return a | b end),
    bxor = fold("bxor", 0, function(a, b) return a ~ b end),
    btest = function(...)
      local r = ALL
      for i = 1, _select("#", ...) do r = r & u((_select(i, ...)), i, "btest", true) end
      return (r & ALL) ~= 0
    end,
    bnot = function(...) return (~u((...), 1, "bnot", _select("#", ...) >= 1)) & ALL end,
    lshift = function(...)
      local x, d = ...
      local n = _select("#", ...)
      return shift(u(x, 1, "lshift", n >= 1), checkinteger(d, 2, "lshift", n >= 2))
    end,
    rshift = function(...)
      local x, d = ...
      local n = _select("#", ...)
      return shift(u(x, 1, "rshift", n >= 1), -checkinteger(d, 2, "rshift", n >= 2))
    end,
    arshift = function(...)
      local x, d = ...
      local n = _select("#", ...)
      local r, i = u(x, 1, "arshift", n >= 1), checkinteger(d, 2, "arshift", n >= 2)
      if i < 0 or (r & (1 << (NBITS - 1))) == 0 then return shift(r, -i) end
      if i >= NBITS then return ALL end
      return ((r >> i) | ~(ALL >> i)) & ALL
    end,
    lrotate = function(...)
      local x, d = ...
      local n = _select("#", ...)
      return rot(u(x, 1, "lrotate", n >= 1), checkinteger(d, 2, "lrotate", n >= 2))
    end,
    rrotate = function(...)
      local x, d = ...
      local n = _select("#", ...)
      return rot(u(x, 1, "rrotate", n >= 1), -checkinteger(d, 2, "rrotate", n >= 2))
    end,
    extract = function(...)
      local x, f, w = ...
      local n = _select("#", ...)
      local r = u(x, 1, "extract", n >= 1)
      f, w = fieldargs("extract", f, w, 2, n)
      return (r >> f) & mask(w)
    end,
    replace = function(...)
      local x, v, f, w = ...
      local n = _select("#", ...)
      local r = u(x, 1, "replace", n >= 1) & ALL
      v = u(v, 2, "replace", n >= 2) & ALL
      f, w = fieldargs("replace", f, w, 3, n)
      local m = mask(w)
      return ((r & ~(m << f)) | ((v & m) << f)) & ALL
    end,
  }
end

local sandbox_ipairs = _ipairs
if LUA53 then
  sandbox_ipairs = function(...)
    local t = ...
    if _select("#", ...) == 0 then _error("bad argument #1 to 'ipairs' (table expected, got no value)", 2) end
    local mt = _rawmetatable(t)
    local mm = _type(mt) == "table" and _rawget(mt, "__ipairs") or nil
    if mm ~= nil then
      local a, b, c = mm(t)
      return a, b, c
    end
    return _ipairs(t)
  end
end

-- ---------------------------------------------------------------------------------------------
-- where code comes from: the tests' own code is code compiled from the tests' text (source
-- CHUNK, at or after tests_line); `load` never compiles under that name
-- ---------------------------------------------------------------------------------------------
local function is_tests_function(f)
  if _type(f) ~= "function" then return false end
  local info = _getinfo(f, "S")
  return info.source == CHUNK and info.linedefined >= tests_line
end

-- is the function `level` levels above the caller of this one running the tests' own code, and
-- did it call directly (no tail call in between)?
local function called_by_tests(level)
  local callee = _getinfo(level + 1, "t")
  if not callee or callee.istailcall then return false end
  local caller = _getinfo(level + 2, "Sl")
  return caller ~= nil and caller.source == CHUNK and caller.currentline >= tests_line
end

-- ---------------------------------------------------------------------------------------------
-- LuaUnit 3.4-compatible module
-- ---------------------------------------------------------------------------------------------
local FAILURE_PREFIX = "LuaUnit test FAILURE: "
local SUCCESS_PREFIX = "LuaUnit test SUCCESS: "
local SKIP_PREFIX = "LuaUnit test SKIP:    "

local state = { runs = 0, depth = 0, tests = 0, failures = 0, errors = 0, assertions = 0,
                first = nil, evidence = 0, problem = nil }
local current = nil -- the test being run: { assertions, token }
local env -- the program's global table, set below

-- every LuaUnit function -> the names it is published under (its aliases)
local OWN_NAMES = _setmetatable({}, { __mode = "k" })

-- was the function `level` levels above the caller called under one of its own names
-- (`lu.assertEquals` must not be LuaUnit's assertNotEquals put there by the completion)? A call
-- through a local or upvalue alias cannot be checked by name and is accepted.
local function called_as_itself(level)
  local info = _getinfo(level + 1, "nf")
  if not info then return false end
  local how = info.namewhat
  if how == "local" or how == "upvalue" then return true end
  local names = OWN_NAMES[info.func]
  return names ~= nil and info.name ~= nil and names[info.name] == true
end

local function note(level)
  -- an assertion counts when the tests' own code called it directly, by its own name
  if current and called_by_tests(level + 1) then
    if called_as_itself(level + 1) then
      current.assertions = current.assertions + 1
      state.assertions = state.assertions + 1
    else
      state.problem = state.problem or
        "the tests called a LuaUnit function under another one's name (a swapped assertion)"
    end
  end
end

local function prettystr(v, depth, seen)
  depth = depth or 0
  local tv = _type(v)
  if tv == "string" then
    if s_find(v, '"', 1, true) and not s_find(v, "'", 1, true) then return "'" .. v .. "'" end
    return '"' .. s_gsub(v, '"', '\\"') .. '"'
  end
  if tv == "number" then
    if v ~= v then return "#NaN" end
    if v == m_huge then return "#Inf" end
    if v == -m_huge then return "-#Inf" end
    if LUA53 then
      local i = m_tointeger(v)
      if i then return _tostring(i) end
    end
    return _tostring(v)
  end
  if tv ~= "table" then return _tostring(v) end
  local mt = _rawmetatable(v)
  if _type(mt) == "table" and _rawget(mt, "__tostring") ~= nil then return _tostring(v) end
  seen = seen or {}
  if seen[v] then return "<cycle>" end
  if depth > 8 then return "{...}" end
  seen[v] = true
  local parts, n = {}, 0
  local len = _rawlen(v)
  for i = 1, len do
    if _rawget(v, i) == nil then break end
    n = n + 1
    parts[n] = prettystr(_rawget(v, i), depth + 1, seen)
  end
  local keys = {}
  for k in _next, v do
    if not (m_type(k) == "integer" and k >= 1 and k <= n) then keys[#keys + 1] = k end
  end
  _pcall(t_sort, keys, function(a, b)
    local ta, tb = _type(a), _type(b)
    if ta ~= tb then return ta < tb end
    if ta == "number" or ta == "string" then return a < b end
    return false
  end)
  for _, k in _next, keys do
    local key = _type(k) == "string" and s_match(k, "^[%a_][%w_]*$") and k or ("[" .. prettystr(k, depth + 1, seen) .. "]")
    n = n + 1
    parts[n] = key .. "=" .. prettystr(_rawget(v, k), depth + 1, seen)
  end
  seen[v] = nil
  return "{" .. t_concat(parts, ", ") .. "}"
end

local function failure(msg, extra, level)
  if _type(extra) == "string" and #extra > 0 then msg = extra .. "\n" .. msg end
  _error(FAILURE_PREFIX .. msg, (level or 1) + 1)
end

-- LuaUnit's _is_table_equals: key by key (holes allowed), numbers with ==, cycles tracked
local function table_equals(actual, expected, cycles, margin)
  local ta, te = _type(actual), _type(expected)
  if ta ~= te then return false end
  if ta == "number" then
    if margin ~= nil then return m_abs(expected - actual) <= margin end
    return actual == expected
  elseif ta ~= "table" then
    return actual == expected
  end
  cycles = cycles or { actual = {}, expected = {} }
  if cycles.actual[actual] then return cycles.expected[expected] == true end
  if cycles.expected[expected] then return false end
  cycles.actual[actual] = true
  cycles.expected[expected] = true
  local matched = {}
  for k, v in _pairs(actual) do
    matched[k] = true
    if not table_equals(v, expected[k], cycles, margin) then
      cycles.actual[actual] = nil
      cycles.expected[expected] = nil
      return false
    end
  end
  for k in _pairs(expected) do
    if not matched[k] then
      cycles.actual[actual] = nil
      cycles.expected[expected] = nil
      return false
    end
  end
  cycles.actual[actual] = nil
  cycles.expected[expected] = nil
  return true
end

local function findkeyof(t, element)
  if _type(t) == "table" then
    for k, v in _pairs(t) do
      if table_equals(v, element) then return k end
    end
  end
  return nil
end

local function items_equal(actual, expected)
  local ta, te = _type(actual), _type(expected)
  if ta ~= te then return false end
  if ta == "table" then
    for _, v in _pairs(actual) do if findkeyof(expected, v) == nil then return false end end
    for _, v in _pairs(expected) do if findkeyof(actual, v) == nil then return false end end
    return true
  end
  return actual == expected
end

local function equality_message(actual, expected)
  if _type(expected) == "string" or _type(expected) == "table" then
    return "expected: " .. prettystr(expected) .. "\nactual: " .. prettystr(actual)
  end
  return "expected: " .. prettystr(expected) .. ", actual: " .. prettystr(actual)
end

local function str_match(s, pattern, start, final)
  start = start or 1
  final = final or s_len(s)
  local a, b = s_find(s, pattern, start, false)
  return a == start and b == final
end

local function almost_equals(actual, expected, margin)
  if _type(actual) ~= "number" or _type(expected) ~= "number" or _type(margin) ~= "number" then
    _error("almostEquals: must supply only number arguments.\nArguments supplied: " .. prettystr(actual) ..
      ", " .. prettystr(expected) .. ", " .. prettystr(margin), 3)
  end
  if margin < 0 then _error("almostEquals: margin must not be negative, current value is " .. margin, 3) end
  return m_abs(expected - actual) <= margin
end

local function in_test_code(what)
  -- success()/skip() end a test early; only the tests' own code may do that, by their own names
  if not called_by_tests(2) then violation(what .. " from the completion") end
  if not called_as_itself(2) then violation(what .. " under another function's name") end
end

local function make_luaunit()
  local M = {}
  M.VERSION, M._VERSION = "3.4", "3.4"
  M.EPS = 2 ^ -52
  M.ORDER_ACTUAL_EXPECTED = true
  M.PRINT_TABLE_REF_IN_ERROR_MSG = false
  M.FAILURE_PREFIX, M.SUCCESS_PREFIX, M.SKIP_PREFIX = FAILURE_PREFIX, SUCCESS_PREFIX, SKIP_PREFIX
  M.prettystr = function(v) return prettystr(v) end
  M.almostEquals = function(a, e, m) return almost_equals(a, e, m) end

  function M.assertEquals(actual, expected, extra)
    note(1)
    if _type(actual) == "table" and _type(expected) == "table" then
      if not table_equals(actual, expected) then failure(equality_message(actual, expected), extra, 2) end
    elseif _type(actual) ~= _type(expected) then
      failure(equality_message(actual, expected), extra, 2)
    elseif actual ~= expected then
      failure(equality_message(actual, expected), extra, 2)
    end
  end
  function M.assertNotEquals(actual, expected, extra)
    note(1)
    if _type(actual) ~= _type(expected) then return end
    if _type(actual) == "table" and _type(expected) == "table" then
      if not table_equals(actual, expected) then return end
    elseif actual ~= expected then
      return
    end
    failure("Received the not expected value: " .. prettystr(actual), extra, 2)
  end
  function M.assertAlmostEquals(actual, expected, margin, extra)
    note(1)
    margin = margin or M.EPS
    if _type(margin) ~= "number" then _error("almostEquals: margin must be a number, not " .. prettystr(margin), 2) end
    if _type(actual) == "table" and _type(expected) == "table" then
      if not table_equals(actual, expected, nil, margin) then
        failure(equality_message(actual, expected) .. "\nwere not equal by the margin of: " .. prettystr(margin), extra, 2)
      end
    elseif _type(actual) == "number" and _type(expected) == "number" then
      if not almost_equals(actual, expected, margin) then
        failure(s_format("Values are not almost equal\nActual: %s, expected: %s, delta %s above margin of %s",
          _tostring(actual), _tostring(expected), _tostring(m_abs(actual - expected)), _tostring(margin)), extra, 2)
      end
    else
      _error("almostEquals: must supply only number or table arguments.\nArguments supplied: " ..
        prettystr(actual) .. ", " .. prettystr(expected) .. ", " .. prettystr(margin), 2)
    end
  end
  function M.assertNotAlmostEquals(actual, expected, margin, extra)
    note(1)
    margin = margin or M.EPS
    if almost_equals(actual, expected, margin) then
      failure(s_format("Values are almost equal\nActual: %s, expected: %s, delta %s below margin of %s",
        _tostring(actual), _tostring(expected), _tostring(m_abs(actual - expected)), _tostring(margin)), extra, 2)
    end
  end
  function M.assertItemsEquals(actual, expected, extra)
    note(1)
    if not items_equal(actual, expected) then
      failure("Content of the tables are not identical:\nExpected: " .. prettystr(expected) ..
        "\nActual: " .. prettystr(actual), extra, 2)
    end
  end
  function M.assertStrContains(str, sub, is_pattern, extra)
    note(1)
    if not s_find(str, sub, 1, not is_pattern) then
      failure("Could not find " .. (is_pattern and "pattern" or "substring") .. " " .. prettystr(sub) ..
        " in string " .. prettystr(str), extra, 2)
    end
  end
  function M.assertStrIContains(str, sub, extra)
    note(1)
    if not s_find(s_lower(str), s_lower(sub), 1, true) then
      failure("Could not find (case insensitively) substring " .. prettystr(sub) .. " in string " ..
        prettystr(str), extra, 2)
    end
  end
  function M.assertNotStrContains(str, sub, is_pattern, extra)
    note(1)
    if s_find(str, sub, 1, not is_pattern) then
      failure("Found the not expected " .. (is_pattern and "pattern" or "substring") .. " " ..
        prettystr(sub) .. " in string " .. prettystr(str), extra, 2)
    end
  end
  function M.assertNotStrIContains(str, sub, extra)
    note(1)
    if s_find(s_lower(str), s_lower(sub), 1, true) then
      failure("Found (case insensitively) the not expected substring " .. prettystr(sub) ..
        " in string " .. prettystr(str), extra, 2)
    end
  end
  function M.assertStrMatches(str, pattern, start, final, extra)
    note(1)
    if not str_match(str, pattern, start, final) then
      failure("Could not match pattern " .. prettystr(pattern) .. " with string " .. prettystr(str), extra, 2)
    end
  end

  local function error_of(f, ...)
    local ok, e = _pcall(f, ...)
    if expired then _error(expired, 0) end
    if not ok and sentinel_of(e) then _error(e, 0) end
    return ok, e
  end
  function M.assertError(f, ...)
    note(1)
    if error_of(f, ...) then failure("Expected an error when calling function but no error generated", nil, 2) end
  end
  local function error_msg_equals(strip, expected, f, ...)
    local ok, msg = error_of(f, ...)
    if ok then
      failure("No error generated when calling function but expected error: " .. prettystr(expected), nil, 3)
    end
    if _type(expected) == "string" and _type(msg) ~= "string" then msg = _tostring(msg) end
    local differ = false
    if strip then
      if _type(msg) ~= "string" then _error("attempt to index a " .. _type(msg) .. " value", 3) end
      if s_gsub(msg, "^.+:%d+: ", "") ~= expected then differ = true end
    elseif msg ~= expected then
      if _type(expected) == "table" and _type(msg) == "table" then
        differ = not items_equal(msg, expected)
      else
        differ = true
      end
    end
    if differ then
      failure("Error message expected: " .. prettystr(expected) .. "\nError message received: " ..
        prettystr(msg) .. "\n", nil, 3)
    end
  end
  function M.assertErrorMsgEquals(expected, f, ...) note(1); error_msg_equals(false, expected, f, ...) end
  function M.assertErrorMsgContentEquals(expected, f, ...) note(1); error_msg_equals(true, expected, f, ...) end
  function M.assertErrorMsgContains(partial, f, ...)
    note(1)
    local ok, msg = error_of(f, ...)
    if ok then
      failure("No error generated when calling function but expected error containing: " .. prettystr(partial), nil, 2)
    end
    if _type(msg) ~= "string" then msg = _tostring(msg) end
    if not s_find(msg, partial, nil, true) then
      failure("Error message does not contain: " .. prettystr(partial) .. "\nError message received: " ..
        prettystr(msg) .. "\n", nil, 2)
    end
  end
  function M.assertErrorMsgMatches(pattern, f, ...)
    note(1)
    local ok, msg = error_of(f, ...)
    if ok then
      failure('No error generated when calling function but expected error matching: "' .. pattern .. '"', nil, 2)
    end
    if _type(msg) ~= "string" then msg = _tostring(msg) end
    if not str_match(msg, pattern) then
      failure("Error message does not match pattern: " .. prettystr(pattern) .. "\nError message received: " ..
        prettystr(msg) .. "\n", nil, 2)
    end
  end

  function M.assertEvalToTrue(v, extra)
    note(1)
    if not v then failure("expected: a value evaluating to true, actual: " .. prettystr(v), extra, 2) end
  end
  function M.assertEvalToFalse(v, extra)
    note(1)
    if v then failure("expected: false or nil, actual: " .. prettystr(v), extra, 2) end
  end
  function M.assertIsTrue(v, extra)
    note(1)
    if v ~= true then failure("expected: true, actual: " .. prettystr(v), extra, 2) end
  end
  function M.assertNotIsTrue(v, extra)
    note(1)
    if v == true then failure("expected: not true, actual: " .. prettystr(v), extra, 2) end
  end
  function M.assertIsFalse(v, extra)
    note(1)
    if v ~= false then failure("expected: false, actual: " .. prettystr(v), extra, 2) end
  end
  function M.assertNotIsFalse(v, extra)
    note(1)
    if v == false then failure("expected: not false, actual: " .. prettystr(v), extra, 2) end
  end
  function M.assertIsNil(v, extra)
    note(1)
    if v ~= nil then failure("expected: nil, actual: " .. prettystr(v), extra, 2) end
  end
  function M.assertNotIsNil(v, extra)
    note(1)
    if v == nil then failure("expected: not nil, actual: nil", extra, 2) end
  end
  for _, tname in _ipairs({ "Number", "String", "Table", "Boolean", "Function", "Userdata", "Thread" }) do
    local lower = s_lower(tname)
    M["assertIs" .. tname] = function(v, extra)
      note(1)
      if _type(v) ~= lower then
        if v == nil then
          failure("expected: a " .. lower .. " value, actual: nil", extra, 2)
        end
        failure("expected: a " .. lower .. " value, actual: type " .. _type(v) .. ", value " .. prettystr(v), extra, 2)
      end
    end
    M["assertNotIs" .. tname] = function(v, extra)
      note(1)
      if _type(v) == lower then failure("expected: not a " .. lower .. " type, actual: value " .. prettystr(v), extra, 2) end
    end
  end
  for _, tname in _ipairs({ "Number", "String", "Table", "Boolean", "Function", "Userdata", "Thread", "Nil" }) do
    local lower = s_lower(tname)
    local f = function(v) return _type(v) == lower end
    M["is" .. tname], M["is_" .. lower] = f, f
  end
  function M.assertIs(actual, expected, extra)
    note(1)
    if actual ~= expected then
      failure("expected and actual object should not be different\nExpected: " .. prettystr(expected) ..
        "\nReceived: " .. prettystr(actual), extra, 2)
    end
  end
  function M.assertNotIs(actual, expected, extra)
    note(1)
    if actual == expected then
      failure("expected and actual object should be different: " .. prettystr(expected), extra, 2)
    end
  end
  function M.assertIsNaN(v, extra)
    note(1)
    if _type(v) ~= "number" or v == v then failure("expected: NaN, actual: " .. prettystr(v), extra, 2) end
  end
  function M.assertNotIsNaN(v, extra)
    note(1)
    if _type(v) == "number" and v ~= v then failure("expected: not NaN, actual: NaN", extra, 2) end
  end
  function M.assertIsInf(v, extra)
    note(1)
    if _type(v) ~= "number" or m_abs(v) ~= m_huge then failure("expected: #Inf, actual: " .. prettystr(v), extra, 2) end
  end
  function M.assertIsPlusInf(v, extra)
    note(1)
    if _type(v) ~= "number" or v ~= m_huge then failure("expected: #Inf, actual: " .. prettystr(v), extra, 2) end
  end
  function M.assertIsMinusInf(v, extra)
    note(1)
    if _type(v) ~= "number" or v ~= -m_huge then failure("expected: -#Inf, actual: " .. prettystr(v), extra, 2) end
  end
  function M.assertNotIsPlusInf(v, extra)
    note(1)
    if _type(v) == "number" and v == m_huge then failure("expected: not #Inf, actual: #Inf", extra, 2) end
  end
  function M.assertNotIsMinusInf(v, extra)
    note(1)
    if _type(v) == "number" and v == -m_huge then failure("expected: not -#Inf, actual: -#Inf", extra, 2) end
  end
  function M.assertNotIsInf(v, extra)
    note(1)
    if _type(v) == "number" and m_abs(v) == m_huge then failure("expected: not infinity, actual: " .. prettystr(v), extra, 2) end
  end
  function M.assertIsPlusZero(v, extra)
    note(1)
    if _type(v) ~= "number" or v ~= 0 then failure("expected: +0.0, actual: " .. prettystr(v), extra, 2)
    elseif 1 / v == -m_huge then failure("expected: +0.0, actual: -0.0", extra, 2)
    elseif 1 / v ~= m_huge then failure("expected: +0.0, actual: " .. prettystr(v), extra, 2) end
  end
  function M.assertIsMinusZero(v, extra)
    note(1)
    if _type(v) ~= "number" or v ~= 0 then failure("expected: -0.0, actual: " .. prettystr(v), extra, 2)
    elseif 1 / v == m_huge then failure("expected: -0.0, actual: +0.0", extra, 2)
    elseif 1 / v ~= -m_huge then failure("expected: -0.0, actual: " .. prettystr(v), extra, 2) end
  end
  function M.assertNotIsPlusZero(v, extra)
    note(1)
    if _type(v) == "number" and 1 / v == m_huge then failure("expected: not +0.0, actual: +0.0", extra, 2) end
  end
  function M.assertNotIsMinusZero(v, extra)
    note(1)
    if _type(v) == "number" and 1 / v == -m_huge then failure("expected: not -0.0, actual: -0.0", extra, 2) end
  end
  function M.assertTableContains(t, expected, extra)
    note(1)
    if findkeyof(t, expected) == nil then
      failure("Table " .. prettystr(t) .. " does NOT contain the expected element " .. prettystr(expected), extra, 2)
    end
  end
  function M.assertNotTableContains(t, expected, extra)
    note(1)
    local k = findkeyof(t, expected)
    if k ~= nil then
      failure("Table " .. prettystr(t) .. " DOES contain the unwanted element " .. prettystr(expected) ..
        " (at key " .. prettystr(k) .. ")", extra, 2)
    end
  end

  function M.fail(msg) note(1); failure(msg, nil, 2) end
  function M.failIf(cond, msg) note(1); if cond then failure(msg, nil, 2) end end
  function M.success()
    in_test_code("lu.success()")
    if current then current.token = "success" end
    _error(SUCCESS_PREFIX, 2)
  end
  function M.successIf(cond) if cond then in_test_code("lu.successIf()"); if current then current.token = "success" end; _error(SUCCESS_PREFIX, 2) end end
  function M.skip(msg)
    in_test_code("lu.skip()")
    if current then current.token = "skip" end
    _error(SKIP_PREFIX .. _tostring(msg), 2)
  end
  function M.skipIf(cond, msg)
    if cond then in_test_code("lu.skipIf()"); if current then current.token = "skip" end; _error(SKIP_PREFIX .. _tostring(msg), 2) end
  end
  function M.runOnlyIf(cond, msg)
    if not cond then in_test_code("lu.runOnlyIf()"); if current then current.token = "skip" end; _error(SKIP_PREFIX .. prettystr(msg), 2) end
  end
  function M.wrapFunctions() end
  M.WrapFunctions, M.wrap_functions = M.wrapFunctions, M.wrapFunctions

  -- LuaUnit's aliases: assertIsXxx -> assert_is_xxx, assertXxx, assert_xxx; assertNotIsXxx ->
  -- assertNotXxx, assert_not_is_xxx, assert_not_xxx
  local aliases = {}
  local function snake(name) return s_lower((s_gsub(name, "(%u)", "_%1"))) end
  for name, f in _next, M do
    if _type(f) == "function" and s_sub(name, 1, 6) == "assert" then
      aliases[snake(name)] = f
      local rest = s_match(name, "^assertIs(%u.*)$")
      if rest then
        aliases["assert" .. rest] = f
        aliases["assert_" .. s_sub(snake(rest), 2)] = f
      end
      rest = s_match(name, "^assertNotIs(%u.*)$")
      if rest then
        aliases["assertNot" .. rest] = f
        aliases["assert_not_" .. s_sub(snake(rest), 2)] = f
      end
    end
  end
  for name, f in _next, aliases do
    if M[name] == nil then M[name] = f end
  end
  M.assert_str_icontains, M.assert_not_str_icontains = M.assertStrIContains, M.assertNotStrIContains
  M.assertIsCoroutine, M.assertNotIsCoroutine = M.assertIsThread, M.assertNotIsThread
  M.assertCoroutine, M.assertNotCoroutine = M.assertIsThread, M.assertNotIsThread
  M.assert_is_coroutine, M.assert_not_is_coroutine = M.assertIsThread, M.assertNotIsThread
  M.assert_coroutine, M.assert_not_coroutine = M.assertIsThread, M.assertNotIsThread

  -- the runner ------------------------------------------------------------------------------
  local function is_test_name(s) return s_lower(s_sub(s, 1, 4)) == "test" end
  local function as_function(v) if _type(v) == "function" then return v end return nil end

  local function status_of(ok, e, token)
    if ok then return "success" end
    if sentinel_of(e) then _error(e, 0) end
    local msg = e
    if _type(msg) ~= "string" then msg = prettystr(msg) end
    msg = cut(msg)
    if s_find(msg, SUCCESS_PREFIX, 1, true) then
      if token == "success" then return "success" end
      return "error", msg .. " (not from the tests' own lu.success())"
    end
    if s_find(msg, SKIP_PREFIX, 1, true) then
      if token == "skip" then return "skip" end
      return "error", msg .. " (not from the tests' own lu.skip())"
    end
    if s_find(msg, FAILURE_PREFIX, 1, true) == 1 or s_match(msg, "^.*:%d+: " .. "LuaUnit test FAILURE: ") then
      return "failure", (s_gsub(msg, FAILURE_PREFIX, "", 1))
    end
    return "error", msg
  end

  local function protected(f, ...)
    local saved = current
    local frame = { assertions = 0, token = nil }
    current = frame
    local ok, e = _pcall(f, ...)
    if expired then _error(expired, 0) end
    current = saved
    local status, msg = status_of(ok, e, frame.token)
    return status, msg, frame.assertions
  end

  local function run_suite(evidence)
    -- LuaUnit: collect every global whose name starts with "test", sorted; each must be a
    -- function or a table (a class whose test* methods run with setUp/tearDown)
    local names = {}
    for k in _next, env do
      if _type(k) == "string" and is_test_name(k) then names[#names + 1] = k end
    end
    t_sort(names)
    local list = {}
    for _, name in _ipairs(names) do
      local inst = _rawget(env, name)
      local tv = _type(inst)
      if tv ~= "table" and tv ~= "function" then
        _error("Name must match a function or a table: " .. name, 3)
      end
      if tv == "function" then
        list[#list + 1] = { name = name, fn = inst }
      else
        local methods, fns = {}, {}
        for mk, mv in _pairs(inst) do
          if _type(mk) == "string" and _type(mv) == "function" and is_test_name(mk) then
            methods[#methods + 1] = mk
            fns[mk] = mv
          end
        end
        t_sort(methods)
        for _, m in _ipairs(methods) do
          list[#list + 1] = { name = name .. "." .. m, fn = fns[m], class = inst }
        end
      end
    end
    local setup_suite = as_function(_rawget(env, "setupSuite"))
    if setup_suite then
      local status, msg = protected(setup_suite)
      if status ~= "success" then _error(msg or "setupSuite failed", 0) end
    end
    local required, completed = 0, 0
    local last_class = nil
    for _, item in _ipairs(list) do
      local inst = item.class
      if inst ~= last_class then
        if last_class and as_function(last_class.teardownClass) then
          local status, msg = protected(last_class.teardownClass, last_class)
          if status ~= "success" then _error(msg or "teardownClass failed", 0) end
        end
        if inst and as_function(inst.setupClass) then
          local status, msg = protected(inst.setupClass, inst)
          if status ~= "success" then _error(msg or "setupClass failed", 0) end
        end
        last_class = inst
      end
      state.tests = state.tests + 1
      local status, msg, assertions = "success", nil, 0
      if inst then
        local set_up = as_function(inst.setUp) or as_function(inst.Setup) or as_function(inst.setup) or as_function(inst.SetUp)
        if set_up then status, msg = protected(set_up, inst) end
        if status == "success" then status, msg, assertions = protected(item.fn, inst) end
        local tear_down = as_function(inst.tearDown) or as_function(inst.TearDown) or as_function(inst.teardown) or as_function(inst.Teardown)
        if tear_down then
          local s2, m2 = protected(tear_down, inst)
          if status == "success" and s2 ~= "success" then status, msg = s2, m2 end
        end
      else
        status, msg, assertions = protected(item.fn)
      end
      if status == "failure" then
        state.failures = state.failures + 1
        state.first = state.first or ("assertion failed in " .. item.name .. ": " .. cut(msg))
      elseif status == "error" then
        state.errors = state.errors + 1
        state.first = state.first or ("error in " .. item.name .. ": " .. cut(msg))
      elseif status == "skip" then
        state.tests = state.tests - 1
      end
      if evidence and is_tests_function(item.fn) then
        required = required + 1
        if status == "success" and assertions > 0 then
          completed = completed + 1
        elseif status == "success" then
          state.problem = state.problem or (item.name .. " made no assertion of its own")
        elseif status == "skip" then
          required = required - 1
        end
      end
    end
    if last_class and as_function(last_class.teardownClass) then
      local status, msg = protected(last_class.teardownClass, last_class)
      if status ~= "success" then _error(msg or "teardownClass failed", 0) end
    end
    local teardown_suite = as_function(_rawget(env, "teardownSuite"))
    if teardown_suite then
      local status, msg = protected(teardown_suite)
      if status ~= "success" then _error(msg or "teardownSuite failed", 0) end
    end
    if evidence then
      if required == 0 then
        state.problem = state.problem or "LuaUnit found no test function of the tests' own"
      elseif completed == required then
        state.evidence = state.evidence + 1
      end
    end
    return state.failures + state.errors
  end

  local runner = { __class__ = "LuaUnit", instances = {} }
  local function run_entry(evidence)
    state.runs = state.runs + 1
    state.depth = state.depth + 1
    local saved_failures, saved_errors = state.failures, state.errors
    local ok, r = _pcall(run_suite, evidence)
    if expired then _error(expired, 0) end
    state.depth = state.depth - 1
    if not ok then _error(r, 0) end
    return (state.failures - saved_failures) + (state.errors - saved_errors)
  end
  -- evidence only when the tests' own code called the runner directly
  local function run(...) return run_entry(called_by_tests(1) and called_as_itself(1)) end
  runner.run = run
  runner.new = function() return _setmetatable({}, { __index = runner }) end
  local function run_suite_method(...) return run_entry(called_by_tests(1) and called_as_itself(1)) end
  runner.runSuite = run_suite_method
  runner.setOutputType = function() end
  runner.setVerbosity = function() end
  runner.isTestName = function(s) return is_test_name(s) end
  runner.isMethodTestName = runner.isTestName
  M.LuaUnit = runner
  M.run, M.Run = run, run
  M.unregisterCurrentSuite = function() end
  M.setVerbosity, M.set_verbosity, M.SetVerbosity = function() end, function() end, function() end
  for name, f in _next, M do
    if _type(f) == "function" then
      local names = OWN_NAMES[f] or {}
      names[name] = true
      OWN_NAMES[f] = names
    end
  end
  for name, f in _next, runner do
    if _type(f) == "function" then
      local names = OWN_NAMES[f] or {}
      names[name] = true
      OWN_NAMES[f] = names
    end
  end
  return M
end

-- ---------------------------------------------------------------------------------------------
-- the program's environment: allowed names only, shaped like Debian's lua5.x
-- ---------------------------------------------------------------------------------------------
local sandbox_coroutine = {
  create = sandbox_create, resume = sandbox_resume, wrap = sandbox_wrap, close = sandbox_close,
  status = co_status, yield = co_yield, running = coroutine.running,
  isyieldable = coroutine.isyieldable,
}

local function sandbox_exit(...)
  local code, n = ..., _select("#", ...)
  if state.depth > 0 then
    -- LuaUnit wraps os.exit: no exit while a test suite runs
    _error("You are trying to exit but there is still a running instance of LuaUnit.\n" ..
      "LuaUnit expects to run until the end before exiting with a complete status of successful/failed tests.", 2)
  end
  local status
  if _type(code) == "boolean" then
    status = code and 0 or 1
  elseif code == nil then
    status = 0
  else
    status = checkinteger(code, 1, "exit", n >= 1)
  end
  _error(sentinel("exit", "os.exit", status), 0)
end

local sandbox_os = guarded("os", { clock = os.clock, time = os.time, date = os.date,
                                   difftime = os.difftime, exit = sandbox_exit })
local sandbox_debug = guarded("debug", {
  traceback = function(...)
    local a = ...
    if _type(a) == "thread" then return _traceback(...) end
    local msg, level = ...
    if msg ~= nil and _type(msg) ~= "string" and _type(msg) ~= "number" then return msg end
    return _traceback(msg, (level or 1) + 1)
  end,
})

env = {
  assert = _assert, error = _error, ipairs = sandbox_ipairs, next = _next, pairs = _pairs,
  pcall = sandbox_pcall, xpcall = sandbox_xpcall, print = sandbox_print, select = _select,
  tonumber = _tonumber, tostring = _tostring, type = _type, rawequal = _rawequal, rawget = _rawget,
  rawset = _rawset, rawlen = _rawlen, getmetatable = _getmetatable,
  setmetatable = sandbox_setmetatable, collectgarbage = sandbox_collectgarbage,
  _VERSION = _VERSION, string = string, table = table, math = math, utf8 = utf8,
  coroutine = sandbox_coroutine, os = sandbox_os, io = sandbox_io, debug = sandbox_debug,
  arg = { [0] = "program.lua", [-1] = LUA53 and "lua5.3" or "lua5.4" },
  dofile = function() violation("dofile") end,
  loadfile = function() violation("loadfile") end,
}
if not LUA53 then env.warn = function() end end
if bit32 then env.bit32 = bit32 end
string.dump = function() violation("string.dump (bytecode)") end
env._G = env

local modules = { string = string, table = table, math = math, utf8 = utf8, coroutine = sandbox_coroutine,
                  os = sandbox_os, io = sandbox_io, debug = sandbox_debug, bit32 = bit32, _G = env }
env.package = guarded("package", { loaded = guarded("package.loaded", {}) })
env.require = function(name)
  if name == "luaunit" then return make_luaunit() end
  local m = modules[name]
  if m ~= nil then return m end
  violation("require('" .. _tostring(name) .. "')")
end

env.load = function(...)
  local chunk, name, mode, chunk_env = ...
  if _select("#", ...) < 4 then chunk_env = env end
  if name == CHUNK then name = "=(load)" end
  local f, err = _load(chunk, name, "t", chunk_env)
  if not f and _type(err) == "string" and s_find(err, "attempt to load a binary chunk", 1, true) then
    violation("loading bytecode")
  end
  return f, err
end

-- ---------------------------------------------------------------------------------------------
-- run and judge
-- ---------------------------------------------------------------------------------------------
local function verdict(passed, kind, message, exit_status)
  local output = t_concat(out)
  out = nil
  return passed, kind, message and cut(message) or "", exit_status, state.tests, state.failures,
      state.errors, state.assertions, output
end

local fn, err = _load(program, CHUNK, "t", env)
local main = fn and co_create(fn)
if main then _sethook(main, hook, "", max_instructions > 0 and STEP or 0) end
local probe = co_create(function() end)
_sethook(probe, hook, "", STEP)

local function start()
  if not fn then return verdict(false, "syntax", _tostring(err), nil) end
  if not prefix_ok then
    return verdict(false, "syntax", "the completion leaves a string, comment or block open " ..
      "that swallows part of the tests", nil)
  end
  deadline = clock() + timeout
  local ok, e = co_resume(main)
  local status = co_status(main)
  -- nothing below calls the program's code: no metamethod of its values, no __tostring
  local outcome, message, exit_status = nil, nil, nil
  if ok and status == "suspended" then
    outcome, message = "runtime", "attempt to yield from outside a coroutine"
  elseif ok then
    exit_status = 0
  else
    local s = sentinel_of(e)
    if s then
      if s.kind == "exit" then exit_status = s.value else outcome, message = s.kind, s.message end
    elseif _rawequal(e, "not enough memory") then
      outcome, message = "memory", "not enough memory"
    else
      local te = _type(e)
      outcome = "runtime"
      if te == "string" or te == "number" then message = cut(e)
      else message = "(error object is a " .. te .. " value)" end
    end
  end
  env = nil
  if outcome == "syntax" or outcome == "sandbox" then return verdict(false, outcome, message, exit_status) end
  if state.failures > 0 or state.errors > 0 then
    local kind = state.failures > 0 and "assertion" or "runtime"
    if state.first and s_find(state.first, "^error in") then kind = "runtime" end
    if state.first and s_find(state.first, "not enough memory", 1, true) then kind = "memory" end
    if state.first and s_find(state.first, "You are trying to exit", 1, true) then kind = "early_exit" end
    return verdict(false, kind, state.first or "a test failed", exit_status)
  end
  if outcome then return verdict(false, outcome, message, exit_status) end
  if state.evidence == 0 then
    if state.problem then return verdict(false, "no_tests", state.problem, exit_status) end
    if state.runs == 0 and not ok then
      return verdict(false, "early_exit", "os.exit(" .. _tostring(exit_status) .. ") was called before the tests ran", exit_status)
    end
    if state.runs == 0 then
      return verdict(false, "no_tests", "the program ended without running its tests (no lu.LuaUnit.run())", exit_status)
    end
    return verdict(false, "no_tests", "LuaUnit was not run by the tests' own code", exit_status)
  end
  if state.problem then return verdict(false, "no_tests", state.problem, exit_status) end
  if exit_status % 256 ~= 0 then
    return verdict(false, "runtime", "os.exit(" .. _tostring(exit_status) .. ") after the tests passed", exit_status)
  end
  return verdict(true, nil, "", exit_status)
end

-- when Python cannot arm its watchdog (no lua_sethook to call), the main coroutine gets a count
-- hook from the start instead (slower, still bounded)
local function hook_main()
  if main then _sethook(main, hook, "", STEP) end
end

return start, _tostring(main), _tostring(probe), hook_main
