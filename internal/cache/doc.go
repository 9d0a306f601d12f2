// Package cache owns newsflow's LLM-response cache: two tiers (an in-process
// LRU with TTL in front of Redis shared by every worker) and single-flight
// computation, so an enrichment is computed at most once per key and TTL
// across all workers, even when duplicates arrive at the same instant.
//
// Lookups: [Tiered.GetMany] checks memory, then fetches every remaining key
// from Redis in one round trip: one MGET, or on Redis Cluster (a
// *redis.ClusterClient, see [NewRedisClient]) one pipeline of GETs that the
// client splits by master and sends to all of them at once. Value and lease
// keys carry no hash tag, so a batch's keys spread over the masters. Redis
// hits are promoted to memory. Every call to Redis is bounded by
// Config.CallTimeout.
// [Tiered.Do] returns a cached value or computes it exactly once:
//
//   - in-process, concurrent calls for one key share one computation
//     (golang.org/x/sync/singleflight);
//   - cluster-wide, the computing process holds a lease
//     ("<prefix>lease:<key>", SET NX PX with a random token). The owner
//     re-checks the value, computes, stores "<prefix>llm:<key>" with the TTL,
//     releases the lease (owner-only, Lua) and publishes the key on the
//     channel "<prefix>done". While it computes it extends the lease
//     (owner-only PEXPIRE), so a slow but live computation is not taken over.
//   - a process that finds the lease held waits for the value: it is woken by
//     the notification (one shared subscription per Tiered) and re-checks with
//     a bounded backoff (50ms doubling to 1s) in case a notification is lost.
//     When the lease disappears without a value (the owner died, or its
//     computation failed and it released the lease) the waiter takes the
//     lease over and computes itself. A waiter gives up after
//     Config.LeaseWait with [ErrLeaseWait] rather than risk a second call.
//
// A computation that fails is not cached: in-process callers sharing it get
// the error, other processes waiting on the lease take over and try once
// more, one at a time. So there is at most one successful computation per key
// and no caller waits longer than its context or LeaseWait.
//
// On Redis Cluster the lease and the value of a key may sit on different
// masters, which is fine: each command and script touches one key. The done
// channel is a plain PUBLISH (from the release script), which the cluster
// forwards to every node, so the subscription may be on any of them.
//
// When Redis is unreachable the cache is degraded ([Tiered.Degraded]): it
// logs one warning, sets newsflow_cache_redis_degraded, serves and fills the
// in-process tier only and computes under in-process single-flight. At most
// once a second a background probe (a PING; on a cluster every master's
// CLUSTER INFO, see package redishealth) checks Redis; when it answers, the
// cache uses Redis again and logs that once. On a cluster one master that
// fails a call degrades the whole cache, as one Redis down does, until every
// master answers again. Redis errors never fail GetMany or Do.
//
// What it does not do: it knows nothing about news or LLMs (values are opaque
// bytes), and it does not own the Redis client (the caller closes it).
//
// Concurrency: every method of [Tiered] is safe for concurrent use. Returned
// byte slices are shared with the cache and must not be modified.
package cache
