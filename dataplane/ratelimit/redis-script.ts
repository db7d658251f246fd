/**
 * The global token bucket: one Lua script, run atomically by Redis through EVALSHA (ioredis
 * `defineCommand` loads it and falls back to EVAL after a NOSCRIPT, e.g. after a Redis restart).
 * The same script checks (mode `check`) and charges (mode `charge`); it mirrors token-bucket.ts.
 *
 * Keys: `sluice:rl:{<budgetKey>}:in` and `:out`. The `{...}` hash tag puts both keys of a budget in
 * the same Redis Cluster slot, as a multi-key script requires. Each is a hash {tokens, ts}; `ts`
 * is Redis's own clock (`TIME`, in ms), never a replica's, because replicas' clocks differ.
 * A bucket that is full is deleted (a missing key reads as full), and every written key expires
 * when it would be full again (time to full, rounded up, plus 1 s), so idle budgets cost nothing.
 */
import type Redis from 'ioredis';
import type { Budget } from './limit-spec';
import type { Admission, Verdict } from './token-bucket';

/** Name of the ioredis command the script is defined as. */
export const BUCKET_COMMAND = 'sluiceTokenBucket';

/**
 * KEYS[1..2] = input, output bucket. ARGV = mode, input cap, output cap (0 = no limit), unitMs,
 * input amount (estimate or correction), output amount. Replies {verdict, waitMs, inTokens,
 * outTokens} with the levels as strings (Lua numbers would be truncated to integers) or false.
 */
export const BUCKET_LUA = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + tonumber(t[2]) / 1000
local mode = ARGV[1]
local inCap, outCap, unit = tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
local inAmount, outAmount = tonumber(ARGV[5]), tonumber(ARGV[6])

local function load(key, cap)
  if cap <= 0 then return false end
  local v = redis.call('HMGET', key, 'tokens', 'ts')
  local tokens, ts = tonumber(v[1]), tonumber(v[2])
  if tokens == nil or ts == nil then return cap end
  local elapsed = now - ts
  if elapsed < 0 then elapsed = 0 end
  return math.min(cap, tokens + elapsed * cap / unit)
end

local function store(key, cap, tokens)
  if tokens >= cap then
    redis.call('DEL', key)
  else
    redis.call('HSET', key, 'tokens', tokens, 'ts', now)
    redis.call('PEXPIRE', key, math.ceil((cap - tokens) * unit / cap) + 1000)
  end
end

local inT = load(KEYS[1], inCap)
local outT = load(KEYS[2], outCap)
local verdict, wait = 0, 0

if mode == 'check' then
  local inWait, outWait = 0, 0
  if inT and inAmount > inCap then
    verdict = 3
  else
    if inT and inT < inAmount then inWait = math.ceil((inAmount - inT) * unit / inCap) end
    if outT and outT <= 0 then outWait = math.floor(-outT * unit / outCap) + 1 end
    if inWait > 0 or outWait > 0 then
      if inWait >= outWait then verdict = 1 else verdict = 2 end
      wait = math.max(inWait, outWait)
    elseif inT then
      inT = math.min(inCap, inT - inAmount)
      store(KEYS[1], inCap, inT)
    end
  end
else
  if inT and inAmount ~= 0 then
    inT = math.min(inCap, inT - inAmount)
    store(KEYS[1], inCap, inT)
  end
  if outT and outAmount ~= 0 then
    outT = math.min(outCap, outT - outAmount)
    store(KEYS[2], outCap, outT)
  end
end

return { verdict, wait, inT and tostring(inT), outT and tostring(outT) }
`;

/** The reply of the script as ioredis returns it. */
type BucketReply = [number, number, string | null, string | null];

/** A client with the script defined on it. */
export type BucketClient = Redis & {
  [BUCKET_COMMAND](inKey: string, outKey: string, mode: 'check' | 'charge', inCap: number, outCap: number, unitMs: number, inAmount: number, outAmount: number): Promise<BucketReply>;
};

/** Defines the script on `client` (once per client; ioredis caches the SHA). */
export function defineBucketScript(client: Redis): BucketClient {
  client.defineCommand(BUCKET_COMMAND, { numberOfKeys: 2, lua: BUCKET_LUA });
  return client as BucketClient;
}

/** The Redis keys of a budget's two buckets. */
export function redisKeys(budgetKey: string): { in: string; out: string } {
  return { in: `sluice:rl:{${budgetKey}}:in`, out: `sluice:rl:{${budgetKey}}:out` };
}

/** Runs the script in `mode` for `budget`; amounts are the estimate (check) or the charge. */
export async function runBucketScript(client: BucketClient, budget: Budget, mode: 'check' | 'charge', inAmount: number, outAmount: number): Promise<Admission> {
  const keys = redisKeys(budget.key);
  const { inputPerUnit, outputPerUnit, unitMs } = budget.spec;
  const r = await client[BUCKET_COMMAND](keys.in, keys.out, mode, inputPerUnit ?? 0, outputPerUnit ?? 0, unitMs, inAmount, outAmount);
  return {
    verdict: r[0] as Verdict,
    waitMs: r[1],
    inTokens: r[2] === null ? null : Number(r[2]),
    outTokens: r[3] === null ? null : Number(r[3]),
  };
}
