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
// Fields: m:<id> story id; s:<id> signature (Bins×2 bytes), c:<id> shingle
// count, n:<id> numbers, a:<id> names (8 bytes per hash); b:<band key>
// member ids (32 bytes each, the newest bucketCap, oldest first).
//
// ARGV: need (signature values that must agree), ttl seconds, bucket cap,
// most candidates per item, then per item: id, signature ("" for none), shingles, numbers, names, band
// keys (Bands×8 bytes). It returns per item: story id, kind, candidates
// checked, and rejections by guard (numbers, names, short, resemblance).
var assignScript = redis.NewScript(`
local cur, prev = KEYS[1], KEYS[2]
local need, ttl, cap, maxc = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
local bins, minContain = 128, 8

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

local out = {}
local n = (#ARGV - 4) / 6
for i = 0, n - 1 do
  local a = 5 + i * 6
  local id, sig, cnt, nums, names, bands = ARGV[a], ARGV[a + 1], tonumber(ARGV[a + 2]), ARGV[a + 3], ARGV[a + 4], ARGV[a + 5]
  local story, kind = redis.call('HGET', cur, 'm:' .. id), 1
  local checked, rej = 0, {0, 0, 0, 0}
  if not story and hasPrev then
    story = redis.call('HGET', prev, 'm:' .. id)
    if story then redis.call('HSET', cur, 'm:' .. id, story) end
  end
  if not story then
    story, kind = id, 0
    local fields, buckets = {}, {}
    if #sig > 0 then
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
            for j = #bucket - 31, 1, -32 do
              local c = string.sub(bucket, j, j + 31)
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
      local qsig = {string.byte(sig, 1, bins * 2)}
      local qnums, nn = set(nums)
      local qnames, na = set(names)
      local best = -1
      for _, c in ipairs(order) do
        if checked == maxc then break end
        local v = redis.call('HMGET', cur, 's:' .. c, 'c:' .. c, 'n:' .. c, 'a:' .. c, 'm:' .. c)
        if not v[1] and hasPrev then
          v = redis.call('HMGET', prev, 's:' .. c, 'c:' .. c, 'n:' .. c, 'a:' .. c, 'm:' .. c)
        end
        if v[1] and v[5] then
          checked = checked + 1
          local ccnt = tonumber(v[2])
          if not nested(qnums, nn, v[3]) then
            rej[1] = rej[1] + 1
          elseif not nested(qnames, na, v[4]) then
            rej[2] = rej[2] + 1
          else
            local csig, m = {string.byte(v[1], 1, bins * 2)}, 0
            for k = 1, bins * 2, 2 do
              if qsig[k] == csig[k] and qsig[k + 1] == csig[k + 1] then m = m + 1 end
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
            if k > 0 and m > best and v[5] ~= c then
              -- A variant of a variant must not contradict the story's
              -- founder either: no chain of small steps changes a number.
              local f = redis.call('HMGET', cur, 'n:' .. v[5], 'a:' .. v[5], 's:' .. v[5])
              if not f[3] and hasPrev then f = redis.call('HMGET', prev, 'n:' .. v[5], 'a:' .. v[5], 's:' .. v[5]) end
              if f[3] then
                if not nested(qnums, nn, f[1]) then
                  k = 0
                  rej[1] = rej[1] + 1
                elseif not nested(qnames, na, f[2]) then
                  k = 0
                  rej[2] = rej[2] + 1
                end
              end
            end
            if k > 0 and m > best then best, story, kind = m, v[5], k end
          end
        end
      end
    end
    if #sig > 0 then
      -- This item's reads above are the buckets' current values.
      local set = {'m:' .. id, story, 's:' .. id, sig, 'c:' .. id, cnt, 'n:' .. id, nums, 'a:' .. id, names}
      for bi = 1, #fields do
        local bucket = buckets[bi] or ''
        if #bucket >= cap * 32 then bucket = string.sub(bucket, 33) end
        set[#set + 1] = fields[bi]
        set[#set + 1] = bucket .. id
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
	args := make([]any, 0, 4+6*len(items))
	ttl := int64((2*r.window + time.Minute) / time.Second)
	args = append(args, r.need, ttl, bucketCap, maxCandidates)
	buf := make([]byte, 0, len(items)*(Bins*2+Bands*8+64))
	for i := range items {
		it := &items[i]
		args = append(args, string(it.id[:]))
		if it.sk == nil || it.sk.Empty() {
			args = append(args, "", 0, "", "", "")
			continue
		}
		start := len(buf)
		for _, v := range it.sk.Sig {
			buf = binary.BigEndian.AppendUint16(buf, v)
		}
		sig := buf[start:len(buf):len(buf)]
		var nums, names []byte
		nums, buf = appendHashes(buf, it.sk.Numbers)
		names, buf = appendHashes(buf, it.sk.Names)
		start = len(buf)
		for _, k := range it.bands {
			buf = binary.BigEndian.AppendUint64(buf, k)
		}
		bands := buf[start:len(buf):len(buf)]
		args = append(args, sig, it.sk.Shingles, nums, names, bands)
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

// appendHashes appends hs as 8-byte big-endian values to buf and returns
// them and the grown buffer; the slice is capped so later appends do not
// overwrite it.
func appendHashes(buf []byte, hs []uint64) ([]byte, []byte) {
	start := len(buf)
	for _, h := range hs {
		buf = binary.BigEndian.AppendUint64(buf, h)
	}
	return buf[start:len(buf):len(buf)], buf
}
