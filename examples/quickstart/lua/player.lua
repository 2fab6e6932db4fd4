-- A player that walks with the arrow keys and jumps with space.
local Player = {}
Player.__index = Player

function Player.new(x, y)
  local self = setmetatable({}, Player)
  self.sprite = blip.sprite.new("player.png", x, y, 1)
  self.speed = 3
  return self
end

function Player:update(dt)
  if blip.input.is_down("left") then
    self.sprite:move(-self.speed, 0)
  elseif blip.input.is_down("right") then
    self.sprite:move(self.speed, 0)
  end
  if blip.input.pressed("space") then
    blip.audio.play("jump.wav", 0.8)
  end
end

return Player
