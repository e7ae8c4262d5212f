/**
 * Every key and Lua script of the Redis Streams transport, in one place.
 *
 * Layout (prefix defaults to `herald`):
 * - `<prefix>:<topic>:<partition>`          one stream per shard; entry ids are `0-<offset>`,
 *                                           handed out by Redis (`XADD <key> 0-*`), so an
 *                                           offset is a dense per-shard sequence like Kafka's.
 * - `<prefix>:lease:<group>:<topic>:<partition>`  who works on a shard for a group right now.
 * - `<prefix>:topics`                       every topic ever published or consumed (for lag).
 * - `<prefix>:partitions`                   the partition count, fixed by the first opener.
 * - `<prefix>:log:retained-since`           ms: the log is complete from then on (retention).
 *
 * Inside a group every shard is read under one Redis consumer name (READER): the lease, not
 * the consumer name, says who may work on it, so whoever holds the lease reads the group's
 * pending entries of the shard first (XREADGROUP id `0`), which are exactly what a crashed or
 * retrying predecessor left unacknowledged, and only then new entries (`>`).
 */

export const READER = 'leaseholder';

export function streamKey(prefix: string, topic: string, partition: number): string {
  return `${prefix}:${topic}:${partition}`;
}

export function leaseKey(prefix: string, group: string, topic: string, partition: number) {
  return `${prefix}:lease:${group}:${topic}:${partition}`;
}

export const topicsKey = (prefix: string) => `${prefix}:topics`;
export const retainedSinceKey = (prefix: string) => `${prefix}:log:retained-since`;
export const partitionsKey = (prefix: string) => `${prefix}:partitions`;

/** The offset in an entry id `0-<offset>`. */
export function offsetOf(id: string): number {
  return Number(id.slice(id.indexOf('-') + 1));
}

/**
 * Claims the first free shard with work and returns a batch of it. KEYS: stream and lease key
 * of each candidate shard, in pairs. ARGV: group, owner, lease ms, index of the first pair to
 * look at (rotated by the caller so every shard gets its turn), batch size, reader name.
 * Returns nil when no free shard has work, else {pair index, entries}; pending entries (a
 * predecessor's unacknowledged ones) come before new ones, so a shard stays in order.
 */
export const claimBatch = `
local n = #KEYS / 2
local group, owner, leaseMs = ARGV[1], ARGV[2], ARGV[3]
local start, count, reader = tonumber(ARGV[4]), ARGV[5], ARGV[6]
for i = 0, n - 1 do
  local k = (start + i) % n
  local stream, lease = KEYS[2 * k + 1], KEYS[2 * k + 2]
  if redis.call('EXISTS', lease) == 0 then
    local read = redis.pcall('XREADGROUP', 'GROUP', group, reader, 'COUNT', count,
      'STREAMS', stream, '0')
    if type(read) == 'table' and read.err == nil then
      local entries = read[1] and read[1][2] or {}
      -- An entry deleted while pending has no fields; acknowledge it so it cannot stall.
      local live = {}
      for _, entry in ipairs(entries) do
        if entry[2] then live[#live + 1] = entry else redis.call('XACK', stream, group, entry[1]) end
      end
      if #live == 0 then
        read = redis.call('XREADGROUP', 'GROUP', group, reader, 'COUNT', count,
          'STREAMS', stream, '>')
        if read then live = read[1][2] end
      end
      if #live > 0 then
        redis.call('SET', lease, owner, 'PX', leaseMs)
        return {k, live}
      end
    end
  end
end
return nil`;

/**
 * Acknowledges the handled prefix of a batch and releases the shard, only while `owner` still
 * holds the lease (0 back = the lease was lost; the new holder redelivers from the pending
 * entries). A retry delay keeps the lease key, ownerless, for that long so nobody reads the
 * shard before then. Then, unless the log is kept for a retention (`keep`: trimmed by time,
 * log-scripts.ts), trims what every group of the shard has acknowledged: up to the lowest
 * pending id, or past the last delivered id when nothing is pending, never further.
 * KEYS: stream, lease. ARGV: group, owner, retry ms, `trim` or `keep`, ids to acknowledge...
 */
export const ackAndRelease = `
local stream, lease = KEYS[1], KEYS[2]
local group, owner, retryMs = ARGV[1], ARGV[2], tonumber(ARGV[3])
if redis.call('GET', lease) ~= owner then return 0 end
for i = 5, #ARGV, 500 do
  redis.call('XACK', stream, group, unpack(ARGV, i, math.min(i + 499, #ARGV)))
end
if retryMs > 0 then
  redis.call('SET', lease, 'retry', 'PX', retryMs)
else
  redis.call('DEL', lease)
end
if ARGV[4] == 'keep' then return 1 end
local floor = nil
for _, g in ipairs(redis.call('XINFO', 'GROUPS', stream)) do
  local info = {}
  for j = 1, #g, 2 do info[g[j]] = g[j + 1] end
  local bound
  if tonumber(info['pending']) > 0 then
    bound = redis.call('XPENDING', stream, info['name'])[2]
  else
    local id = info['last-delivered-id']
    local dash = string.find(id, '-', 1, true)
    bound = string.sub(id, 1, dash) .. (tonumber(string.sub(id, dash + 1)) + 1)
  end
  local bd = string.find(bound, '-', 1, true)
  local bseq = tonumber(string.sub(bound, bd + 1))
  if floor == nil or bseq < floor then floor = bseq end
end
if floor ~= nil and floor > 1 then
  redis.call('XTRIM', stream, 'MINID', '~', '0-' .. floor)
end
return 1`;

/** Extends the lease while `owner` holds it. KEYS: lease. ARGV: owner, lease ms. */
export const renewLease = `
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return 0`;

/**
 * A group's lag on each shard: entries added but not yet acknowledged, counting from the
 * lowest pending id (or the last delivered one when nothing is pending). KEYS: streams.
 * ARGV: group. Returns one number per stream, -1 where the group does not read the stream.
 */
export const groupLag = `
local out = {}
for i, stream in ipairs(KEYS) do
  local lag = -1
  if redis.call('EXISTS', stream) == 1 then
    local last = nil
    local s = redis.call('XINFO', 'STREAM', stream)
    for j = 1, #s, 2 do if s[j] == 'last-generated-id' then last = s[j + 1] end end
    local lastSeq = tonumber(string.sub(last, string.find(last, '-', 1, true) + 1))
    for _, g in ipairs(redis.call('XINFO', 'GROUPS', stream)) do
      local info = {}
      for j = 1, #g, 2 do info[g[j]] = g[j + 1] end
      if info['name'] == ARGV[1] then
        local committed
        if tonumber(info['pending']) > 0 then
          local min = redis.call('XPENDING', stream, ARGV[1])[2]
          committed = tonumber(string.sub(min, string.find(min, '-', 1, true) + 1)) - 1
        else
          local id = info['last-delivered-id']
          committed = tonumber(string.sub(id, string.find(id, '-', 1, true) + 1))
        end
        lag = math.max(lastSeq - committed, 0)
      end
    end
  end
  out[i] = lag
end
return out`;

/**
 * A group's position on each shard: {committed offset, lag, head entry id, head event id, head
 * generation} (the head is the lowest pending entry, or the first after the last delivered
 * one; '' when there is none), or {} where the group does not read the stream. KEYS: streams.
 * ARGV: group.
 */
export const groupPositions = `
local function seq(id) return tonumber(string.sub(id, string.find(id, '-', 1, true) + 1)) end
local out = {}
for i, stream in ipairs(KEYS) do
  local row = {}
  if redis.call('EXISTS', stream) == 1 then
    local last = nil
    local s = redis.call('XINFO', 'STREAM', stream)
    for j = 1, #s, 2 do if s[j] == 'last-generated-id' then last = s[j + 1] end end
    for _, g in ipairs(redis.call('XINFO', 'GROUPS', stream)) do
      local info = {}
      for j = 1, #g, 2 do info[g[j]] = g[j + 1] end
      if info['name'] == ARGV[1] then
        local committed, head
        if tonumber(info['pending']) > 0 then
          local min = redis.call('XPENDING', stream, ARGV[1])[2]
          committed = seq(min) - 1
          head = redis.call('XRANGE', stream, min, '+', 'COUNT', 1)[1]
        else
          local id = info['last-delivered-id']
          committed = seq(id)
          head = redis.call('XRANGE', stream, '(' .. id, '+', 'COUNT', 1)[1]
        end
        local lag = math.max(seq(last) - committed, 0)
        row = {committed, lag, '', '', '0'}
        if head and lag > 0 then
          row[3] = head[1]
          local fields = head[2]
          for j = 1, #fields, 2 do
            if fields[j] == 'id' then row[4] = fields[j + 1] end
            if fields[j] == 'generation' then row[5] = fields[j + 1] end
          end
        end
      end
    end
  end
  out[i] = row
end
return out`;
