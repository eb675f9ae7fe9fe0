// The Redis side of gcra.ts: takeToken for every bucket of one request, atomically,
// then the tightest-scope rule of decision.ts (isTighter). Keep the three in step.
//
// Redis's own clock (TIME) is the only clock, so gateways with skewed clocks still share
// one notion of "now". Numbers cross the Lua boundary as strings on purpose: Lua hands
// numbers back to Redis truncated to integers, and tostring() keeps only 14 digits,
// both too coarse for a TAT on the 1/1024 ms grid; '%.17g' round-trips a double.
//
// KEYS[i]: the buckets. ARGV[2i-1]: interval of bucket i in ms (already on the grid,
// gcra.ts gcraInterval). ARGV[2i]: its burst. ARGV[2n+1]: grid steps per ms.
// Returns { allowed 0|1, tightest index (0-based), remaining, ceil(resetMs), ceil(retryAfterMs) }.
export const TAKE_SCRIPT = `
if redis.replicate_commands then redis.replicate_commands() end
local ticks = tonumber(ARGV[#ARGV])
local time = redis.call('TIME')
local now = math.floor((tonumber(time[1]) * 1000 + tonumber(time[2]) / 1000) * ticks) / ticks
local n = #KEYS
local newTats = {}
local allowed = 1
local pick, pickAllowed, pickRemaining, pickReset, pickRetry = 0, 1, 0, 0, 0
for i = 1, n do
  local interval = tonumber(ARGV[2 * i - 1])
  local capacity = tonumber(ARGV[2 * i]) * interval
  local tat = tonumber(redis.call('GET', KEYS[i]))
  if tat == nil or tat < now then tat = now end
  local nextTat = tat + interval
  local allowAt = nextTat - capacity
  local ok, remaining, reset, retry
  if allowAt > now then
    ok, remaining, reset, retry = 0, 0, tat - now, allowAt - now
    allowed = 0
  else
    ok, remaining, reset, retry = 1, math.floor((capacity - (nextTat - now)) / interval + 1e-9), nextTat - now, 0
    newTats[i] = nextTat
  end
  local tighter
  if i == 1 then
    tighter = true
  elseif ok ~= pickAllowed then
    tighter = ok == 0
  elseif ok == 0 and retry ~= pickRetry then
    tighter = retry > pickRetry
  elseif remaining ~= pickRemaining then
    tighter = remaining < pickRemaining
  else
    tighter = reset > pickReset
  end
  if tighter then
    pick, pickAllowed, pickRemaining, pickReset, pickRetry = i - 1, ok, remaining, reset, retry
  end
end
if allowed == 1 then
  for i = 1, n do
    redis.call('SET', KEYS[i], string.format('%.17g', newTats[i]), 'PX', math.max(1, math.ceil(newTats[i] - now)))
  end
end
return { allowed, pick, pickRemaining, math.ceil(pickReset), math.ceil(pickRetry) }
`;
