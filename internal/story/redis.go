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
// 32, and a candidate's record is one field read rather than five: the
// script's CPU per new article fell from ~131 to ~112 µs (go test -bench
// AssignRedis ./internal/story/ against a private redis-server, its
// used_cpu_user). Two ids of one window sharing a ref are a 2⁻⁶⁴ chance
// per pair: at worst one merge test reads the other's sketch.
//
// ARGV: need (signature values that must agree), ttl seconds, bucket cap,
// most candidates per item, then per item: id, record ("" for no sketch),
// band keys (Bands×8 bytes). It returns per item: story id, kind,
// candidates checked, and rejections by guard (numbers, names, short,
// resemblance).
var assignScript = redis.NewScript(`
local cur, prev = KEYS[1], KEYS[2]
local need, ttl, cap, maxc = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
local bins, minContain, refLen = 128, 8, 8
local sigAt = 9 -- a sketch: shingles (4 bytes), how many numbers (4 bytes), signature, numbers, names

-- u returns the big-endian unsigned integer of s[i..i+n-1].
local function u(s, i, n)
  local v = 0
  for k = i, i + n - 1 do v = v * 256 + string.byte(s, k) end
  return v
end

-- parts returns a sketch's shingles, signature, numbers and names.
local function parts(sk)
  local nn = u(sk, 5, 4)
  local after = sigAt + bins * 2
  return u(sk, 1, 4), string.sub(sk, sigAt, after - 1), string.sub(sk, after, after + nn * 8 - 1), string.sub(sk, after + nn * 8)
end

-- set returns the 8-byte hashes of s as a set, and their number.
local function set(s)
  local t = {}
  for i = 1, #s, 8 do t[string.sub(s, i, i + 7)] = true end
  return t, #s / 8
end

-- nested reports whether the smaller of the query's set q (n members) and
-- the candidate's hashes c is a subset of the larger.
local function nested(q, n, c)
  local cn, hits = #c / 8, 0
  if n == 0 or cn == 0 then return true end
  for i = 1, #c, 8 do
    if q[string.sub(c, i, i + 7)] then hits = hits + 1 end
  end
  return hits == math.min(n, cn)
end

-- Most of the time the previous generation is gone or not yet there.
local hasPrev = redis.call('EXISTS', prev) == 1

-- record returns the record of ref, from the current generation or else
-- the previous one.
local function record(ref)
  local v = redis.call('HGET', cur, 'r:' .. ref)
  if not v and hasPrev then v = redis.call('HGET', prev, 'r:' .. ref) end
  return v
end

local out = {}
local n = (#ARGV - 4) / 3
for i = 0, n - 1 do
  local a = 5 + i * 3
  local id, sk, bands = ARGV[a], ARGV[a + 1], ARGV[a + 2]
  local story, kind = redis.call('HGET', cur, 'm:' .. id), 1
  local checked, rej = 0, {0, 0, 0, 0}
  if not story and hasPrev then
    story = redis.call('HGET', prev, 'm:' .. id)
    if story then redis.call('HSET', cur, 'm:' .. id, story) end
  end
  if not story then
    story, kind = id, 0
    local fields, buckets = {}, {}
    if #sk > 0 then
      -- Candidates: members sharing a band, by bands shared, then by
      -- first seen (band order; newest first within a bucket).
      local hits, order = {}, {}
      for b = 1, #bands, 8 do fields[#fields + 1] = 'b:' .. string.sub(bands, b, b + 7) end
      buckets = redis.call('HMGET', cur, unpack(fields))
      local older = {}
      if hasPrev then older = redis.call('HMGET', prev, unpack(fields)) end
      for bi = 1, #fields do
        local lists = {buckets[bi], older[bi]}
        for g = 1, 2 do
          local bucket = lists[g]
          if bucket then
            for j = #bucket - refLen + 1, 1, -refLen do
              local c = string.sub(bucket, j, j + refLen - 1)
              local h = hits[c]
              if h then
                hits[c] = h + 1
              else
                hits[c] = 1
                order[#order + 1] = c
              end
            end
          end
        end
      end
      -- The most-shared first, stable: a counting sort, not table.sort
      -- (a comparator call per comparison costs more than the rest).
      local byHits, top = {}, 0
      for _, c in ipairs(order) do
        local h = hits[c]
        local l = byHits[h]
        if not l then
          l = {}
          byHits[h] = l
        end
        l[#l + 1] = c
        if h > top then top = h end
      end
      order = {}
      for h = top, 1, -1 do
        local l = byHits[h]
        if l then
          for _, c in ipairs(l) do
            if #order == maxc then break end
            order[#order + 1] = c
          end
        end
        if #order == maxc then break end
      end
      local cnt, sig, nums, names = parts(sk)
      local qsig = {string.byte(sig, 1, bins * 2)}
      local qnums, nn = set(nums)
      local qnames, na = set(names)
      local best = -1
      for _, c in ipairs(order) do
        if checked == maxc then break end
        local v = record(c)
        if v then
          checked = checked + 1
          local cstory = string.sub(v, 1, 32)
          local ccnt, csig, cnums, cnames = parts(string.sub(v, 33))
          if not nested(qnums, nn, cnums) then
            rej[1] = rej[1] + 1
          elseif not nested(qnames, na, cnames) then
            rej[2] = rej[2] + 1
          else
            local cs, m = {string.byte(csig, 1, bins * 2)}, 0
            for k = 1, bins * 2, 2 do
              if qsig[k] == cs[k] and qsig[k + 1] == cs[k + 1] then m = m + 1 end
            end
            local k = 0
            if m >= need then
              k = 2
            elseif math.min(cnt, ccnt) < minContain then
              rej[3] = rej[3] + 1
            elseif 20 * m * (cnt + ccnt) >= 17 * (bins + m) * math.min(cnt, ccnt) then
              k = 3
            else
              rej[4] = rej[4] + 1
            end
            local fref = string.sub(cstory, 1, refLen)
            if k > 0 and m > best and fref ~= c then
              -- A variant of a variant must not contradict the story's
              -- founder either: no chain of small steps changes a number.
              local f = record(fref)
              if f then
                local _, _, fnums, fnames = parts(string.sub(f, 33))
                if not nested(qnums, nn, fnums) then
                  k = 0
                  rej[1] = rej[1] + 1
                elseif not nested(qnames, na, fnames) then
                  k = 0
                  rej[2] = rej[2] + 1
                end
              end
            end
            if k > 0 and m > best then best, story, kind = m, cstory, k end
          end
        end
      end
    end
    if #sk > 0 then
      -- This item's reads above are the buckets' current values.
      local ref = string.sub(id, 1, refLen)
      local set = {'m:' .. id, story, 'r:' .. ref, story .. sk}
      for bi = 1, #fields do
        local bucket = buckets[bi] or ''
        if #bucket >= cap * refLen then bucket = string.sub(bucket, refLen + 1) end
        set[#set + 1] = fields[bi]
        set[#set + 1] = bucket .. ref
      end
      redis.call('HSET', cur, unpack(set))
    else
      redis.call('HSET', cur, 'm:' .. id, story)
    end
  end
  out[#out + 1] = story
  out[#out + 1] = kind
  out[#out + 1] = checked
  for g = 1, 4 do out[#out + 1] = rej[g] end
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
// Cluster.
func (r *redisIndex) key(gen int64) string {
	return r.prefix + "story:{g}:" + strconv.FormatInt(gen, 10)
}

// assign decides the items in order, in one round trip.
func (r *redisIndex) assign(ctx context.Context, gen int64, items []item) ([]result, error) {
	args := make([]any, 0, 4+3*len(items))
	ttl := int64((2*r.window + time.Minute) / time.Second)
	args = append(args, r.need, ttl, bucketCap, maxCandidates)
	buf := make([]byte, 0, len(items)*(8+Bins*2+Bands*8+64))
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
			buf = binary.BigEndian.AppendUint64(buf, k)
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
