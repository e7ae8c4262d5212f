/**
 * The Lua scripts of the Redis log over time (retention by time, range reads), in one place.
 * Entry ids are `0-<offset>` (scripts.ts), not times: a time is found by a binary search over
 * the entries' `accepted_at` field (milliseconds, set by the publishing API process, so in
 * order up to the clocks of several API processes).
 */

/** Shared helpers: an id's offset, an entry's accepted_at, the first offset at or after a time. */
const helpers = `
local function seq(id) return tonumber(string.sub(id, string.find(id, '-', 1, true) + 1)) end
local function accepted(entry)
  local f = entry[2]
  for j = 1, #f, 2 do if f[j] == 'accepted_at' then return tonumber(f[j + 1]) end end
  return 0
end
-- The smallest offset s such that the first entry at or after s was accepted at or after ms
-- (one past the last entry when none was): XRANGE from 0-s then starts at the first such entry.
local function firstAtOrAfter(stream, ms)
  local first = redis.call('XRANGE', stream, '-', '+', 'COUNT', 1)[1]
  if not first then return 0 end
  local last = redis.call('XREVRANGE', stream, '+', '-', 'COUNT', 1)[1]
  local lo, hi = seq(first[1]), seq(last[1]) + 1
  while lo < hi do
    local mid = math.floor((lo + hi) / 2)
    local e = redis.call('XRANGE', stream, '0-' .. mid, '+', 'COUNT', 1)[1]
    if e == nil or accepted(e) >= ms then hi = mid else lo = seq(e[1]) + 1 end
  end
  return lo
end
`;

/**
 * Where a range [ARGV[1], ARGV[2]) ms lies in each stream of KEYS: {start, end} offsets per
 * stream, end exclusive.
 */
export const rangeOffsets = `${helpers}
local out = {}
for i, stream in ipairs(KEYS) do
  out[i] = {firstAtOrAfter(stream, tonumber(ARGV[1])), firstAtOrAfter(stream, tonumber(ARGV[2]))}
end
return out`;

/**
 * Trims one stream (KEYS[1]) of entries accepted before ARGV[1] ms that every group has
 * acknowledged: never past a group's lowest pending entry or past its last delivered entry
 * (what it has not read yet). At most ARGV[2] offsets per call, so that a large cut never
 * blocks Redis for long (the caller calls again while entries go); 0 trims nothing (only
 * says who holds entries back). Returns
 * {entries deleted, the groups holding entries older than the cutoff back...}.
 */
export const trimBefore = `${helpers}
local stream = KEYS[1]
if redis.call('EXISTS', stream) == 0 then return {0} end
local cut = firstAtOrAfter(stream, tonumber(ARGV[1]))
local floor = cut
local held = {}
for _, g in ipairs(redis.call('XINFO', 'GROUPS', stream)) do
  local info = {}
  for j = 1, #g, 2 do info[g[j]] = g[j + 1] end
  local bound
  if tonumber(info['pending']) > 0 then
    bound = seq(redis.call('XPENDING', stream, info['name'])[2])
  else
    bound = seq(info['last-delivered-id']) + 1
  end
  if bound < cut then held[#held + 1] = info['name'] end
  if bound < floor then floor = bound end
end
local deleted = 0
local first = redis.call('XRANGE', stream, '-', '+', 'COUNT', 1)[1]
if tonumber(ARGV[2]) > 0 and first and floor > seq(first[1]) then
  -- Exact, and at most ARGV[2] entries past the first: the caller repeats until done.
  local minid = math.min(floor, seq(first[1]) + tonumber(ARGV[2]))
  deleted = redis.call('XTRIM', stream, 'MINID', '0-' .. minid)
end
local out = {deleted}
for _, name in ipairs(held) do out[#out + 1] = name end
return out`;

/**
 * The extent of each stream of KEYS: {accepted_at of its first entry or -1, entries removed
 * (entries-added minus length), the group names reading it...}.
 */
export const extent = `${helpers}
local out = {}
for i, stream in ipairs(KEYS) do
  local row = {-1, 0}
  if redis.call('EXISTS', stream) == 1 then
    local first = redis.call('XRANGE', stream, '-', '+', 'COUNT', 1)[1]
    if first then row[1] = accepted(first) end
    local info = redis.call('XINFO', 'STREAM', stream)
    local added, length = 0, 0
    for j = 1, #info, 2 do
      if info[j] == 'entries-added' then added = tonumber(info[j + 1]) end
      if info[j] == 'length' then length = tonumber(info[j + 1]) end
    end
    row[2] = added - length
    for _, g in ipairs(redis.call('XINFO', 'GROUPS', stream)) do
      for j = 1, #g, 2 do if g[j] == 'name' then row[#row + 1] = g[j + 1] end end
    end
  end
  out[i] = row
end
return out`;
