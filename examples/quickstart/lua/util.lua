-- Small helpers that do not use blip at all.
local util = {}

function util.clamp(value, low, high)
  if value < low then return low end
  if value > high then return high end
  return value
end

function util.lerp(a, b, t)
  return a + (b - a) * t
end

function util.round(x)
  return math.floor(x + 0.5)
end

return util
