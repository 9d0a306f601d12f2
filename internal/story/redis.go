package story

import (
	"context"
	"encoding/binary"
	"fmt"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"

	"newsflow/internal/news"
)

// assignScript decides one batch in Redis, atomically: the same algorithm as
// memory.assignOne, over two hashes, the current generation (KEYS[1], which
// it writes and expires) and the previous one (KEYS[2], read only).
//
// Fields: m:<id> story id; r:<ref> a member's record: story id (32
// bytes), then its sketch as the worker sent it (appendRecord); b:<band key>
// member refs (the newest bucketCap, oldest first). A ref is the first
// 8 bytes of a member's id: a bucket entry is 8 bytes rather than
// 32, and a candidate's record is one field read rather than five. Two ids
// of one window sharing a ref are a 2⁻⁶⁴ chance per pair: at worst one
// merge test reads the other's sketch.
//
// Its cost is redis-server CPU: Redis looking up fields of the big hash
// (memory-bound), and Lua, where an instruction costs ~50 machine
// instructions, a string.sub ~600 and every string made ~6 more per byte
// (Redis hashes all of it), so the script makes few: it reads a batch's
// story ids in one HMGET and an article's candidates' records in one,
// keeps the records it read or wrote for the rest of the batch (a record
// never changes), parses them in place, reads many values at once with
// struct.unpack (band fields, sketch counts, signatures), counts
// candidates in tables kept over the batch, ranks only those sharing more
// than one band (the rest go by first seen), stops a guard at the first
// hash that decides and a signature comparison once the decision is
// settled, and gets the band field names from the worker. go test -run
// '^$' -bench AssignRedis -benchtime 200x ./internal/story/ measures a
// private redis-server's CPU per new article (README, near-dup).
//
// ARGV: need (signature values that must agree), ttl seconds, bucket cap,
// most candidates per item, then per item: id, record ("" for no sketch),
// band fields ("b:" and the band key, 8 bytes, Bands times; "" for no
// sketch). It returns per item: story id, kind, candidates checked, and
// rejections by guard (numbers, names, short, resemblance).
var assignScript = redis.NewScript(`
local cur, prev = KEYS[1], KEYS[2]
local need, ttl, cap, maxc = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
local bins, minContain, refLen, idLen = 128, 8, 8, 32
local full = cap * refLen
local sub, min, floor, rep, unpack = string.sub, math.min, math.floor, string.rep, unpack
local sunpack = struct.unpack
-- struct.unpack makes the many short strings and numbers the script reads
-- in one call (string.sub and string.byte take one call, and a few Lua
-- instructions, each): bandFormats[n] reads n band fields, sigFormat a
-- signature's values.
local bandFormats, sigFormat = {}, '>' .. rep('H', bins)

-- parts reads the sketch at s[o+1..] (shingles, how many numbers, 4 bytes
-- each; signature; numbers; names, 8 bytes each): its shingles and where
-- its signature, numbers and names start (the names run to the end).
local function parts(s, o)
  local cnt, nn = sunpack('>I4I4', s, o + 1)
  local nums = o + 9 + bins * 2
  return cnt, o + 9, nums, nums + nn * 8
end

-- set returns the 8-byte hashes of s[from..to] as a set, and their number.
local function set(s, from, to)
  local t, n = {}, 0
  for i = from, to, 8 do
    t[sub(s, i, i + 7)] = true
    n = n + 1
  end
  return t, n
end

-- nested reports whether the smaller of the query's set q (n members) and
-- the distinct hashes s[from..to] is a subset of the larger; it stops at
-- the first hash that decides.
local function nested(q, n, s, from, to)
  local cn = (to - from + 1) / 8
  if n == 0 or cn == 0 then return true end
  if cn <= n then
    for i = from, to, 8 do
      if not q[sub(s, i, i + 7)] then return false end
    end
    return true
  end
  local hits, left = 0, cn
  for i = from, to, 8 do
    if q[sub(s, i, i + 7)] then
      hits = hits + 1
      if hits == n then return true end
    end
    left = left - 1
    if hits + left < n then return false end
  end
  return false
end

-- hmget returns the values of fields in key, in parts (unpack's limit).
local function hmget(key, fields)
  if #fields <= 1000 then return redis.call('HMGET', key, unpack(fields)) end
  local out = {}
  for s = 1, #fields, 1000 do
    local part = redis.call('HMGET', key, unpack(fields, s, min(s + 999, #fields)))
    for j = 1, #part do out[s + j - 1] = part[j] end
  end
  return out
end

-- Most of the time the previous generation is gone or not yet there.
local hasPrev = redis.call('EXISTS', prev) == 1

-- lookup returns the values of fields, from the current generation or else
-- the previous one, and whether each came from the previous one.
local function lookup(fields)
  local got, old = hmget(cur, fields), {}
  if not hasPrev then return got, old end
  local miss, at = {}, {}
  for j = 1, #fields do
    if not got[j] then
      miss[#miss + 1] = fields[j]
      at[#at + 1] = j
    end
  end
  if #miss > 0 then
    local v = hmget(prev, miss)
    for j = 1, #miss do
      if v[j] then
        got[at[j]] = v[j]
        old[at[j]] = true
      end
    end
  end
  return got, old
end

-- known holds the records this call read or wrote, by ref: a record never
-- changes once written.
local known = {}

-- fetch reads into known the records of refs[1..n] it lacks, in one call
-- (two when the previous generation exists and some are not current).
local function fetch(refs, n)
  local fields, want = {}, {}
  for q = 1, n do
    local c = refs[q]
    if not known[c] then
      fields[#fields + 1] = 'r:' .. c
      want[#want + 1] = c
    end
  end
  if #fields == 0 then return end
  local got = lookup(fields)
  for j = 1, #want do
    if got[j] then known[want[j]] = got[j] end
  end
end

local n = (#ARGV - 4) / 3
-- Every item's story if it has one already: items are distinct but for
-- duplicates, which done catches.
local mfields = {}
for i = 0, n - 1 do mfields[i + 1] = 'm:' .. ARGV[5 + i * 3] end
local stories, fromPrev = lookup(mfields)
local done = {}
-- Candidates, kept over the items so they stop growing: hits[ref] is
-- item×2^17 + first-seen rank×128 + bands shared, for the item counting
-- (a rank is at most 384 refs, a count 48: 2 generations × 24 bands × 8);
-- order lists the item's candidates by first seen, multi those sharing
-- more than one band, top (topHits) its most shared.
local hits, order, top, topHits, multi = {}, {}, {}, {}, {}
-- An item's band fields and HSET arguments; none is empty.
local fields, hset, none = {}, {}, {}

local out, nout = {}, 0
for i = 0, n - 1 do
  local a = 5 + i * 3
  local id, sk, bands = ARGV[a], ARGV[a + 1], ARGV[a + 2]
  local story, kind = done[id] or stories[i + 1], 1
  local checked, r1, r2, r3, r4 = 0, 0, 0, 0, 0
  if story and fromPrev[i + 1] and not done[id] then redis.call('HSET', cur, mfields[i + 1], story) end
  if not story then
    story, kind = id, 0
    local nf, buckets = 0, none
    if #sk > 0 then
      -- Candidates: members sharing a band, by bands shared, then by
      -- first seen (band order; newest first within a bucket).
      local base = i * 131072
      local no, nm = 0, 0
      nf = #bands / 10
      local bf = bandFormats[nf]
      if not bf then bf = rep('c10', nf); bandFormats[nf] = bf end
      fields = {sunpack(bf, bands)}
      buckets = redis.call('HMGET', cur, unpack(fields, 1, nf))
      -- The buckets in the order read: both generations', band by band.
      local list, nl = buckets, nf
      if hasPrev then
        local older = redis.call('HMGET', prev, unpack(fields, 1, nf))
        list, nl = {}, 2 * nf
        for bi = 1, nf do list[2 * bi - 1], list[2 * bi] = buckets[bi], older[bi] end
      end
      for bi = 1, nl do
        local bucket = list[bi]
        if bucket then
          for j = #bucket - 7, 1, -8 do -- refLen, literal: one instruction less a ref
            local c = sub(bucket, j, j + 7)
            local h = hits[c]
            if h and h > base then
              if h % 128 == 1 then nm = nm + 1; multi[nm] = c end
              hits[c] = h + 1
            else
              no = no + 1
              order[no] = c
              hits[c] = base + no * 128 + 1
            end
          end
        end
      end
      -- The maxc most-shared, stable: those sharing more than one band,
      -- each inserted into the sorted top by bands shared and then rank,
      -- then if places are left those sharing one, by rank (most
      -- candidates share one band and are never looked at).
      local tn = 0
      for q = 1, nm do
        local c = multi[q]
        local h = hits[c] - base
        local hc = h % 128
        local sc = hc * 65536 - (h - hc) / 128
        if tn < maxc or sc > topHits[tn] then
          if tn < maxc then tn = tn + 1 end
          local p = tn
          while p > 1 and topHits[p - 1] < sc do
            topHits[p], top[p] = topHits[p - 1], top[p - 1]
            p = p - 1
          end
          topHits[p], top[p] = sc, c
        end
      end
      if tn < maxc then
        for q = 1, no do
          local c = order[q]
          if hits[c] % 128 == 1 then
            tn = tn + 1
            top[tn] = c
            if tn == maxc then break end
          end
        end
      end
      fetch(top, tn)
      local cnt, qs, qn, qa = parts(sk, 0)
      local qsig -- read when a candidate first passes the guards
      local qnums, nn = set(sk, qn, qa - 1)
      local qnames, na = set(sk, qa, #sk)
      local best = -1
      for q = 1, tn do
        local c = top[q]
        local v = known[c]
        if v then
          checked = checked + 1
          local ccnt, cs, cn, ca = parts(v, idLen)
          if not nested(qnums, nn, v, cn, ca - 1) then
            r1 = r1 + 1
          elseif not nested(qnames, na, v, ca, #v) then
            r2 = r2 + 1
          else
            -- Agreeing values, counted until the decision is settled: once
            -- even all the rest agreeing would leave m below lo (at most the
            -- least m that merges; the decision only grows with m), m is
            -- taken as that best case, which decides the same.
            local short = min(cnt, ccnt)
            local lo = need
            if short >= minContain then
              lo = min(need, floor(17 * bins * short / (20 * (cnt + ccnt) - 17 * short)))
            end
            qsig = qsig or {sunpack(sigFormat, sk, qs)}
            local csig = {sunpack(sigFormat, v, cs)}
            local m, miss, most = 0, 0, bins - lo
            for k = 1, bins do
              if qsig[k] == csig[k] then
                m = m + 1
              else
                miss = miss + 1
                if miss > most then
                  m = bins - miss
                  break
                end
              end
            end
            local k = 0
            if m >= need then
              k = 2
            elseif short < minContain then
              r3 = r3 + 1
            elseif 20 * m * (cnt + ccnt) >= 17 * (bins + m) * short then
              k = 3
            else
              r4 = r4 + 1
            end
            local fref = sub(v, 1, refLen)
            if k > 0 and m > best and fref ~= c then
              -- A variant of a variant must not contradict the story's
              -- founder either: no chain of small steps changes a number.
              fetch({fref}, 1)
              local f = known[fref]
              if f then
                local _, _, fn, fa = parts(f, idLen)
                if not nested(qnums, nn, f, fn, fa - 1) then
                  k = 0
                  r1 = r1 + 1
                elseif not nested(qnames, na, f, fa, #f) then
                  k = 0
                  r2 = r2 + 1
                end
              end
            end
            if k > 0 and m > best then best, story, kind = m, sub(v, 1, idLen), k end
          end
        end
      end
    end
    if #sk > 0 then
      -- This item's reads above are the buckets' current values.
      local ref = sub(id, 1, refLen)
      local rec = story .. sk
      known[ref] = rec
      hset[1], hset[2], hset[3], hset[4] = mfields[i + 1], story, 'r:' .. ref, rec
      local ns = 4
      for bi = 1, nf do
        local bucket = buckets[bi]
        if not bucket then
          bucket = ref
        elseif #bucket < full then
          bucket = bucket .. ref
        else
          bucket = sub(bucket, refLen + 1) .. ref
        end
        hset[ns + 1], hset[ns + 2] = fields[bi], bucket
        ns = ns + 2
      end
      redis.call('HSET', cur, unpack(hset, 1, ns))
    else
      redis.call('HSET', cur, mfields[i + 1], story)
    end
  end
  done[id] = story
  out[nout + 1], out[nout + 2], out[nout + 3], out[nout + 4] = story, kind, checked, r1
  out[nout + 5], out[nout + 6], out[nout + 7] = r2, r3, r4
  nout = nout + 7
end
redis.call('EXPIRE', cur, ttl)
return out
`)

// resultFields is the number of values the script returns per item.
const resultFields = 7

// redisIndex is the cluster-wide index: one script call per batch.
type redisIndex struct {
	rdb    redis.UniversalClient
	prefix string
	need   int
	window time.Duration
}

// key returns the hash of generation gen. The hash tag {g} puts every
// generation in one slot, as the script, which reads two, needs on Redis
// Cluster. The key names sketchVersion: workers whose sketches differ (a
// rolling upgrade) keep apart indexes rather than compare them.
func (r *redisIndex) key(gen int64) string {
	return r.prefix + "story:{g}:v" + strconv.Itoa(sketchVersion) + ":" + strconv.FormatInt(gen, 10)
}

// assign decides the items in order, in one round trip.
func (r *redisIndex) assign(ctx context.Context, gen int64, items []item) ([]result, error) {
	args := make([]any, 0, 4+3*len(items))
	ttl := int64((2*r.window + time.Minute) / time.Second)
	args = append(args, r.need, ttl, bucketCap, maxCandidates)
	buf := make([]byte, 0, len(items)*(8+Bins*2+Bands*10+64))
	for i := range items {
		it := &items[i]
		args = append(args, string(it.id[:]))
		if it.sk == nil || it.sk.Empty() {
			args = append(args, "", "")
			continue
		}
		var sk, bands []byte
		sk, buf = appendRecord(buf, it.sk)
		start := len(buf)
		for _, k := range it.bands {
			buf = binary.BigEndian.AppendUint64(append(buf, "b:"...), k)
		}
		bands = buf[start:len(buf):len(buf)]
		args = append(args, sk, bands)
	}
	res, err := assignScript.Run(ctx, r.rdb, []string{r.key(gen), r.key(gen - 1)}, args...).Slice()
	if err != nil {
		return nil, fmt.Errorf("story: assign %d articles in redis: %w", len(items), err)
	}
	if len(res) != resultFields*len(items) {
		return nil, fmt.Errorf("story: assign %d articles in redis: got %d values, want %d", len(items), len(res), resultFields*len(items))
	}
	out := make([]result, len(items))
	for i := range out {
		v := res[i*resultFields : (i+1)*resultFields]
		s, ok := v[0].(string)
		if !ok || len(s) != len(news.Hash{}) {
			return nil, fmt.Errorf("story: assign in redis: bad story id %T of length %d", v[0], len(s))
		}
		copy(out[i].story[:], s)
		nums := make([]int64, resultFields-1)
		for j := range nums {
			if nums[j], ok = v[j+1].(int64); !ok {
				return nil, fmt.Errorf("story: assign in redis: value %d is %T, want an integer", j+1, v[j+1])
			}
		}
		out[i].kind, out[i].checked = Kind(nums[0]), int(nums[1])
		for g := range 4 {
			out[i].rejected[g+1] = int(nums[2+g])
		}
	}
	return out, nil
}

// appendRecord appends sk as the script reads it: shingles (4 bytes),
// the number of numbers (4 bytes), the signature (Bins×2 bytes), the
// numbers and the names (8 bytes each), all big-endian; it returns them and
// the grown buffer, the slice capped so later appends do not overwrite it.
func appendRecord(buf []byte, sk *Sketch) ([]byte, []byte) {
	start := len(buf)
	buf = binary.BigEndian.AppendUint32(buf, uint32(sk.Shingles))
	buf = binary.BigEndian.AppendUint32(buf, uint32(len(sk.Numbers)))
	for _, v := range sk.Sig {
		buf = binary.BigEndian.AppendUint16(buf, v)
	}
	for _, h := range sk.Numbers {
		buf = binary.BigEndian.AppendUint64(buf, h)
	}
	for _, h := range sk.Names {
		buf = binary.BigEndian.AppendUint64(buf, h)
	}
	return buf[start:len(buf):len(buf)], buf
}
