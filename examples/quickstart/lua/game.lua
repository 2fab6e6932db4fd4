-- The main loop: update timers, the player and the coins every frame.
local Player = require("player")
local coins = require("coins")

local hero = Player.new(160, 200)
blip.audio.set_volume(0.6)

local function frame(dt)
  blip.timer.update(dt)
  hero:update(dt)
  coins.collect(hero.sprite)
  local x, y = hero.sprite:get_position()
  if y > 240 then
    hero.sprite:set_position(x, 200)
  end
end

local paused = false
local function toggle_pause()
  paused = not paused
  hero.sprite:set_visible(not paused)
end

return { frame = frame, toggle_pause = toggle_pause }
