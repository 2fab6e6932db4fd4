-- Coins appear every second and vanish when collected.
local coins = {}

local function spawn()
  local x = math.random(0, 320)
  coins[#coins + 1] = blip.sprite.new("coin.png", x, 10)
end

local spawner = blip.timer.every(1.0, spawn, 20)

local function collect(hero)
  for i = #coins, 1, -1 do
    if hero:collides(coins[i]) then
      blip.audio.play("coin.wav")
      coins[i]:destroy()
      table.remove(coins, i)
    end
  end
end

return { collect = collect, stop = function() spawner:cancel() end }
