// Package racewayredis captures the shared state that services access in
// Redis through go-redis (github.com/redis/go-redis/v9), as a client hook,
// the way redisotel adds spans: every command's reads and writes of keys
// are recorded with racewayotel's Tracker.TrackSharedAccess, so that races
// on cache keys are found with no tracking call written by hand.
//
//	rdb := redis.NewClient(&redis.Options{Addr: "127.0.0.1:6379"})
//	if err := racewayredis.Instrument(rdb, rw); err != nil { … }
//
// # Names
//
// A key is the shared variable "redis/<db>/<key>" ([Key]), a field of a
// hash "redis/<db>/<key>#<field>" ([Field]), the database being the
// client's (Options.DB). The same names serve as shared-lock names.
//
// # What a command records
//
//   - A read (GET, MGET, HGET, HGETALL, EXISTS, LRANGE, SMEMBERS, ZSCORE…)
//     is a plain read of its keys or fields, with the value read where the
//     reply carries it.
//   - A write that replaces a value (SET, MSET, SETEX, DEL, UNLINK, HSET,
//     HDEL) is a plain write, with the value written (SET's argument) and,
//     as old value, what the same logical thread last read or wrote of the
//     key: a GET then SET from two services races, as a lost update with the
//     numbers.
//   - A command that reads and writes a key in one atomic step (INCR,
//     DECRBY, HINCRBY, SETNX, SET NX/XX/GET, GETSET, GETDEL, APPEND, and
//     every change of a list, set, sorted set or stream: LPUSH, SADD, ZADD…)
//     is a read and a write that both hold the key's lock (a shared lock
//     named like the key): two INCRs never race, an INCR and a plain SET
//     do. A counter's values are its reply and the reply less the
//     increment.
//   - A hash field access also reads the hash's key, so that it races with
//     a DEL of the key.
//   - A pipeline's commands are recorded one by one. A MULTI/EXEC block
//     (TxPipelined) is atomic: each of its accesses holds its key's lock, so
//     two blocks, or a block and an atomic command, never race on a key; a
//     plain command still races with them. A block that EXEC did not run
//     (an aborted WATCH transaction, a rejected command) records nothing.
//   - Between WATCH and EXEC (Client.Watch), reads of a watched key hold
//     its lock: a committed optimistic transaction is a read-modify-write
//     that Redis serialises with every other change of the key. This
//     assumes that the transaction's EXEC writes the watched key (the usual
//     check-and-set); a transaction that watches a key only to guard others
//     can hide a race between two such transactions, never invent one.
//
// Commands that touch no shared state (PING, CLIENT, PUBLISH…) are
// ignored. Commands the capture cannot classify are not recorded and are
// counted with Tracker.CountSkipped, system "redis", by reason: a command
// not in its table, a script (EVAL, FCALL: what it touches is unknown),
// expiry (EXPIRE, TTL: not modelled), a keyspace command (KEYS, SCAN,
// FLUSHDB), a failed command, unreadable arguments, a MULTI sent as a plain
// command, an aborted transaction, and every command after a SELECT of
// another database than the client's (a client per database keeps keys
// nameable).
//
// # Locks
//
// A Redis lock (SET key value NX PX … then a compare-and-delete) is a
// shared lock: [Mutex] implements one, usable with Tracker.WithSharedLock,
// whose release token travels in a companion key so that the next holder's
// acquire happens after the previous holder's release.
//
// A lock of the application's own is declared the same way by hand: run its
// commands with [WithoutCapture] (they are synchronisation, not shared
// state), call Tracker.TrackSharedLockAcquire(ctx, Key(db, lockKey)) once it
// is held and Tracker.TrackSharedLockRelease before it is released. Storing
// the token TrackSharedLockRelease returns with the lock (in its value, or a
// key beside it, in the same atomic step as the release) and passing it to
// racewayotel.AfterRelease on the next acquire gives the exact edge.
//
// # Limits
//
// The capture sees commands, not what the application does between them:
// a value read, changed in the application and written back is a lost
// update only if the same logical thread does both (racewayotel's threads).
// go-redis's AutoPipeliner batches several callers' commands on its own
// goroutines and is not supported. Expiry is not modelled: a key that
// expires is not a write. Records go to the context's span: add the hook
// after redisotel's so that they land on the command's span.
package racewayredis
