/**
 * The Redis ledger's Lua scripts, and how they are sent: `EVALSHA`, with one shared `SCRIPT LOAD`
 * per script when Redis' script cache does not have it (first use, restart, `SCRIPT FLUSH`), so
 * a burst of concurrent first calls never sends the full source more than once
 * (see docs/budgets.md, "Redis ledger").
 *
 * Money: field values are returned as the raw strings Redis stores (a missing key or field reads
 * '0') so no precision is lost in Lua (`tostring` would round to 14 digits); the sums over keys
 * are done by the caller in doubles. `HINCRBYFLOAT` adds in C `long double`.
 */
import { createHash } from 'node:crypto';

/** KEYS: writeKey, then the other readKeys. ARGV: amount, limit, enforce the USD limit (1/0),
 * ttlMs, extra (USD this process holds outside Redis for these keys), n (counters other than
 * USD), then per counter: name, amount, limit ('' for none, or not enforced), extra, and last,
 * optionally, `#paused`: the last KEY is then the scope's pause key (a hash `reason`, `by`, `at`,
 * `until`), and a paused scope reserves nothing. USD lives in the fields `spent` and
 * `reserved`, a counter in `spent:<name>` and `reserved:<name>`. Every limit is checked and, if
 * all fit, every amount reserved: one step. Returns {ok, spent1, reserved1, ..., spentK,
 * reservedK, then per key, per counter: spent, reserved, then, when paused: reason, by, at,
 * until}. */
const RESERVE = `
local amount = tonumber(ARGV[1])
local limit = tonumber(ARGV[2])
local enforce = ARGV[3] == '1'
local total = tonumber(ARGV[5])
local n = tonumber(ARGV[6])
local nk = #KEYS
local pause = nil
if ARGV[7 + 4 * n] == '#paused' then
  nk = nk - 1
  pause = redis.call('HMGET', KEYS[#KEYS], 'reason', 'by', 'at', 'until')
  if not pause[1] then pause = nil end
end
local out = {0}
for i = 1, nk do
  local v = redis.call('HMGET', KEYS[i], 'spent', 'reserved')
  local s = v[1] or '0'
  local r = v[2] or '0'
  out[2 * i] = s
  out[2 * i + 1] = r
  total = total + tonumber(s) + tonumber(r)
end
local ok = (not enforce) or (total + amount <= limit)
local base = 2 * nk + 1
for j = 1, n do
  local a = 6 + 4 * (j - 1)
  local name = ARGV[a + 1]
  local camount = tonumber(ARGV[a + 2])
  local climit = ARGV[a + 3]
  local used = tonumber(ARGV[a + 4])
  for i = 1, nk do
    local v = redis.call('HMGET', KEYS[i], 'spent:' .. name, 'reserved:' .. name)
    local s = v[1] or '0'
    local r = v[2] or '0'
    local at = base + 2 * ((i - 1) * n + j) - 1
    out[at] = s
    out[at + 1] = r
    used = used + tonumber(s) + tonumber(r)
  end
  if climit ~= '' then
    local l = tonumber(climit)
    if camount > 0 then
      if used + camount > l then ok = false end
    elseif used >= l then
      ok = false
    end
  end
end
if pause then ok = false end
if ok then
  out[1] = 1
  if amount > 0 then
    out[3] = redis.call('HINCRBYFLOAT', KEYS[1], 'reserved', ARGV[1])
  end
  for j = 1, n do
    local a = 6 + 4 * (j - 1)
    if tonumber(ARGV[a + 2]) > 0 then
      out[base + 2 * j] = redis.call('HINCRBYFLOAT', KEYS[1], 'reserved:' .. ARGV[a + 1], ARGV[a + 2])
    end
  end
  redis.call('PEXPIRE', KEYS[1], ARGV[4])
end
if pause then
  local at = #out
  out[at + 1] = pause[1]
  out[at + 2] = pause[2] or ''
  out[at + 3] = pause[3] or '0'
  out[at + 4] = pause[4] or ''
end
return out
`;

/**
 * Every write (settle, release, add, and their replays) is this one script, idempotent per write:
 * each write carries its writer's field name (`w:<writer id>`) and a sequence number, and each
 * key keeps, per writer, which numbers it has applied: `lo,n1,n2,...` where every number below
 * `lo` is settled on the writer's side (it will never send it again, or only as a late duplicate)
 * and `n1, n2, ...` are the numbers at or above `lo` applied here. A write whose number is below
 * `lo` or listed is skipped (its first copy was applied; a replay must not count twice), in
 * whatever order copies arrive. Each call also brings the writer's current `low` for the key (the
 * smallest number it still has in flight or pending there), which moves `lo` up and prunes the
 * list: the list holds only writes whose answer the writer has not had yet.
 *
 * KEYS: the keys written. ARGV: writer field, then per key: ttlMs, low, n, m, the m names of the
 * counters other than USD the writes touch, then n writes, each seq, unreserve, spent (USD) and m
 * pairs (unreserve, spent), one per counter. A reservation is given back only on a key that
 * still exists (an expired window holds nothing) and never below zero.
 * Returns {applied, skipped, spent1, reserved1, ..., spentK, reservedK, then per key, per
 * counter named for it: spent, reserved}.
 */
const APPLY = `
local field = ARGV[1]
local applied = 0
local skipped = 0
local j = 2
local out = {0, 0}
local c = 2 * #KEYS + 3
local function unreserve(key, f, amount)
  if tonumber(amount) > 0 and redis.call('EXISTS', key) == 1 then
    local r = tonumber(redis.call('HINCRBYFLOAT', key, f, '-' .. amount))
    if r < 0 then redis.call('HSET', key, f, '0') end
  end
end
for i = 1, #KEYS do
  local key = KEYS[i]
  local ttl = ARGV[j]
  local low = tonumber(ARGV[j + 1])
  local n = tonumber(ARGV[j + 2])
  local m = tonumber(ARGV[j + 3])
  local names = {}
  for k = 1, m do names[k] = ARGV[j + 3 + k] end
  j = j + 4 + m
  local lo = 0
  local seen = {}
  local state = redis.call('HGET', key, field)
  if state then
    local first = true
    for part in string.gmatch(state, '[^,]+') do
      if first then lo = tonumber(part) first = false else seen[tonumber(part)] = true end
    end
  end
  local changed = false
  for _ = 1, n do
    local seq = tonumber(ARGV[j])
    if seq < lo or seen[seq] then
      skipped = skipped + 1
    else
      seen[seq] = true
      changed = true
      applied = applied + 1
      unreserve(key, 'reserved', ARGV[j + 1])
      if tonumber(ARGV[j + 2]) > 0 then
        redis.call('HINCRBYFLOAT', key, 'spent', ARGV[j + 2])
      end
      for k = 1, m do
        local u = ARGV[j + 1 + 2 * k]
        local s = ARGV[j + 2 + 2 * k]
        unreserve(key, 'reserved:' .. names[k], u)
        if tonumber(s) > 0 then
          redis.call('HINCRBYFLOAT', key, 'spent:' .. names[k], s)
        end
      end
    end
    j = j + 3 + 2 * m
  end
  if low > lo then lo = low changed = true end
  if changed and redis.call('EXISTS', key) == 1 then
    local parts = {string.format('%d', lo)}
    for s in pairs(seen) do
      if s >= lo then parts[#parts + 1] = string.format('%d', s) end
    end
    redis.call('HSET', key, field, table.concat(parts, ','))
    redis.call('PEXPIRE', key, ttl)
  end
  local v = redis.call('HMGET', key, 'spent', 'reserved')
  out[2 * i + 1] = v[1] or '0'
  out[2 * i + 2] = v[2] or '0'
  for k = 1, m do
    local w = redis.call('HMGET', key, 'spent:' .. names[k], 'reserved:' .. names[k])
    out[c] = w[1] or '0'
    out[c + 1] = w[2] or '0'
    c = c + 2
  end
end
out[1] = applied
out[2] = skipped
return out
`;

/** KEYS: the keys to read. ARGV: the names of counters other than USD to read, after an
 * optional first `#paused` (the last KEY is then the scope's pause key). Returns {spent1,
 * reserved1, ..., spentK, reservedK, then per key, per counter: spent, reserved, then, when
 * paused: reason, by, at, until}. */
const GET = `
local out = {}
local nk = #KEYS
local first = 1
if ARGV[1] == '#paused' then
  nk = nk - 1
  first = 2
end
local c = 2 * nk + 1
for i = 1, nk do
  local v = redis.call('HMGET', KEYS[i], 'spent', 'reserved')
  out[2 * i - 1] = v[1] or '0'
  out[2 * i] = v[2] or '0'
  for k = first, #ARGV do
    local w = redis.call('HMGET', KEYS[i], 'spent:' .. ARGV[k], 'reserved:' .. ARGV[k])
    out[c] = w[1] or '0'
    out[c + 1] = w[2] or '0'
    c = c + 2
  end
end
if first == 2 then
  local p = redis.call('HMGET', KEYS[#KEYS], 'reason', 'by', 'at', 'until')
  if p[1] then
    out[c] = p[1]
    out[c + 1] = p[2] or ''
    out[c + 2] = p[3] or '0'
    out[c + 3] = p[4] or ''
  end
end
return out
`;

/**
 * Pauses (docs/budgets.md, "Pause and resume"). A pause is a hash `reason`, `by`, `at`, `until`
 * (epoch ms; '' for none) at the scope's pause key, which carries the scope's hash tag (one slot
 * with its windows, so RESERVE reads it in the same step). It has no window TTL: with `until` it
 * expires then (`PEXPIREAT`), else it stays until resumed. The index of paused keys (a set) is
 * another key, in another slot on a cluster: it is only a list to look in, and each key listed is
 * read for the truth. KEYS[1]: the key; ARGV[1]: the operation:
 * - `set` reason by at until: write the pause; returns 1;
 * - `del`: remove it; returns 1 if there was one;
 * - `read`: returns {reason, by, at, until}, or {} when not paused;
 * - `index-add` key, `index-rem` key: the index (KEYS[1]) gains or loses a member;
 * - `index`: the index's members.
 */
const PAUSE = `
local op = ARGV[1]
local key = KEYS[1]
if op == 'set' then
  redis.call('DEL', key)
  redis.call('HSET', key, 'reason', ARGV[2], 'by', ARGV[3], 'at', ARGV[4], 'until', ARGV[5])
  if ARGV[5] ~= '' then redis.call('PEXPIREAT', key, ARGV[5]) end
  return 1
elseif op == 'del' then
  return redis.call('DEL', key)
elseif op == 'read' then
  local p = redis.call('HMGET', key, 'reason', 'by', 'at', 'until')
  if not p[1] then return {} end
  return {p[1], p[2] or '', p[3] or '0', p[4] or ''}
elseif op == 'index-add' then
  return redis.call('SADD', key, ARGV[2])
elseif op == 'index-rem' then
  return redis.call('SREM', key, ARGV[2])
elseif op == 'index' then
  return redis.call('SMEMBERS', key)
end
return redis.error_reply('ERR unknown pause operation')
`;

/** A Lua script and its SHA1 (the name Redis caches it under). */
export interface Script {
  readonly name: string;
  readonly source: string;
  readonly sha: string;
}

const script = (name: string, source: string): Script => ({
  name,
  source,
  sha: createHash('sha1').update(source).digest('hex'),
});

/** The ledger's scripts. */
export const SCRIPTS = {
  reserve: script('reserve', RESERVE),
  apply: script('apply', APPLY),
  get: script('get', GET),
  pause: script('pause', PAUSE),
} as const;

/** The one method of a node-redis client the scripts need. */
export interface CommandSender {
  sendCommand(args: string[]): Promise<unknown>;
}

const isNoScript = (err: unknown): boolean =>
  String((err as Error)?.message ?? err).startsWith('NOSCRIPT');

/** Thrown for a script Redis' cache did not have: it did not run. */
export class ScriptMissingError extends Error {
  override name = 'ScriptMissingError';
}

/**
 * Sends scripts with `EVALSHA`. Scripts are loaded with `SCRIPT LOAD`, one load per script at a
 * time shared by every call that needs it (single flight): all of them when a connection is made
 * ({@link ScriptRunner.loadAll}), and one again when Redis answers `NOSCRIPT` (cache emptied by a
 * restart, a failover or `SCRIPT FLUSH`). After a `NOSCRIPT`, a read is sent again; a write is
 * not: it fails with {@link ScriptMissingError}, certainly not applied, and the ledger keeps it
 * with the key's other pending writes and replays them together.
 */
export class ScriptRunner {
  readonly #inFlight = new Map<string, Promise<void>>();
  /** Completed loads per script: tells a late NOSCRIPT from a fresh one. */
  readonly #completed = new Map<string, number>();
  /** `SCRIPT LOAD` commands sent. */
  loads = 0;

  /** Runs `s`; `retry`: send it again after a `NOSCRIPT` (reads only). */
  async run(
    client: CommandSender,
    s: Script,
    keys: readonly string[],
    args: readonly string[],
    retry: boolean,
  ): Promise<unknown> {
    const command = ['EVALSHA', s.sha, String(keys.length), ...keys, ...args];
    const before = this.#completed.get(s.sha) ?? 0;
    try {
      return await client.sendCommand(command);
    } catch (err) {
      if (!isNoScript(err)) throw err;
      if ((this.#completed.get(s.sha) ?? 0) === before) await this.#load(client, s);
      if (!retry) throw new ScriptMissingError(`NOSCRIPT ${s.name}`);
      return client.sendCommand(command);
    }
  }

  /** Loads every script (on a new connection, before any call). */
  async loadAll(client: CommandSender): Promise<void> {
    await Promise.all(Object.values(SCRIPTS).map((s) => this.#load(client, s)));
  }

  #load(client: CommandSender, s: Script): Promise<void> {
    let p = this.#inFlight.get(s.sha);
    if (p === undefined) {
      this.loads++;
      p = client
        .sendCommand(['SCRIPT', 'LOAD', s.source])
        .then(() => {
          this.#completed.set(s.sha, (this.#completed.get(s.sha) ?? 0) + 1);
        })
        .finally(() => this.#inFlight.delete(s.sha));
      this.#inFlight.set(s.sha, p);
    }
    return p;
  }
}
