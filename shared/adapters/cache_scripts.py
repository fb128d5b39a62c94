"""The Lua scripts RedisCache runs: each is one atomic step across every instance."""

from __future__ import annotations

# Returns the time (ms) since which the camera has served this same frame.
SAME_FRAME_SINCE = """
local cur = redis.call('HGET', KEYS[1], 'hash')
if cur == ARGV[1] then
  redis.call('EXPIRE', KEYS[1], ARGV[3])
  return redis.call('HGET', KEYS[1], 'since')
end
redis.call('HSET', KEYS[1], 'hash', ARGV[1], 'since', ARGV[2])
redis.call('EXPIRE', KEYS[1], ARGV[3])
return ARGV[2]
"""

# Take a claim (1), or take it back (2) when its holder is the same owner: the same Pub/Sub
# message delivered again, whose earlier attempt ended without giving the claim back.
CLAIM = """
local held = redis.call('GET', KEYS[1])
if not held then
  redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[2])
  return 1
end
if ARGV[3] == '1' and held == ARGV[1] then
  redis.call('EXPIRE', KEYS[1], ARGV[2])
  return 2
end
return 0
"""
CLAIMED = ("", "taken", "retaken")  # what claim() answers, by the script's result

# A token bucket (KEYS[1]: tokens and last refill): ARGV per_minute, burst, now (s). Takes one
# token and returns "0", or takes none and returns the seconds until one is there. A clock
# behind the last refill (another instance's) refills nothing.
TAKE = """
local rate = tonumber(ARGV[1]) / 60
local burst = tonumber(ARGV[2])
local now = tonumber(ARGV[3])
local state = redis.call('HMGET', KEYS[1], 'tokens', 'ts')
local tokens = tonumber(state[1]) or burst
local ts = tonumber(state[2]) or now
if now > ts then
  tokens = math.min(burst, tokens + (now - ts) * rate)
  ts = now
end
local wait = 0
if tokens >= 1 then tokens = tokens - 1 else wait = (1 - tokens) / rate end
redis.call('HSET', KEYS[1], 'tokens', string.format('%.17g', tokens),
  'ts', string.format('%.17g', ts))
redis.call('EXPIRE', KEYS[1], math.ceil(burst / rate) + 60)
return string.format('%.17g', wait)
"""
