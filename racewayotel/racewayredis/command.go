package racewayredis

import (
	"maps"
	"slices"
	"strings"

	"github.com/redis/go-redis/v9"
)

// access is one access a command made to a key, or to a field of a hash.
type access struct {
	key, field string
	hasField   bool
	write      bool
	old, new   any  // the values, nil for none (see SharedAccess)
	oldSeen    bool // a plain write: its old value is what its thread last saw
	// locked: the access holds the key's lock, because the command reads and
	// writes the key in one atomic step (INCR), runs in a MULTI/EXEC block,
	// or reads a key the connection WATCHes.
	locked bool
}

// call is a command being classified into the accesses it made.
type call struct {
	cmd  redis.Cmder
	err  error // the command's error
	args []any
	acc  []access
	// skip says why the command is not recorded ("" when it is): a reason
	// counted by Tracker.CountSkipped, or noState.
	skip string
}

// noState marks a command that touches no shared state (PING, CLIENT,
// PUBLISH…): it is neither recorded nor counted.
const noState = "no state"

// Reasons for skipping a command, counted with Tracker.CountSkipped under
// system "redis".
const (
	reasonUnclassified = "unclassified command" // not in the table below
	reasonExpiry       = "expiry"               // EXPIRE, TTL…: expiry is not modelled
	reasonScript       = "script"               // EVAL, FCALL: what a script touches is unknown
	reasonKeyspace     = "keyspace"             // KEYS, SCAN, FLUSHDB…: no single key
	reasonFailed       = "failed"               // an error reply or no reply: did it run?
	reasonArgs         = "unreadable arguments" // a key that is not text, an unknown option
	reasonTransaction  = "raw transaction"      // MULTI sent as a command (not through TxPipeline)
	reasonDatabase     = "database switched"    // after a SELECT of another database
	reasonAborted      = "aborted transaction"  // EXEC found a WATCHed key changed: nothing ran
)

// class is how a command of the generic kind touches its keys.
type class uint8

const (
	read   class = iota + 1 // reads its keys (no value recorded)
	update                  // reads and writes its keys in one atomic step
	store                   // writes its first key from the others, atomically
)

// spec says how to classify a command: by its own function, or by its
// class and the positions of its keys (first, last, step, as Redis's
// COMMAND reply gives them; last -1 is the last argument).
type spec struct {
	do                func(*call)
	class             class
	first, last, step int
	skip              string
}

func keys(cl class, first, last, step int) spec {
	return spec{class: cl, first: first, last: last, step: step}
}

func fn(do func(*call)) spec        { return spec{do: do} }
func skipped(reason string) spec    { return spec{skip: reason} }
func readKeys(first, last int) spec { return keys(read, first, last, 1) }
func updateKey() spec               { return keys(update, 1, 1, 1) }
func readKey() spec                 { return keys(read, 1, 1, 1) }
func counterBy(sign int64) spec     { return fn(func(c *call) { c.counter(sign) }) }
func fieldWrites(values bool) spec  { return fn(func(c *call) { c.fieldWrites(values) }) }
func conditional(pairs bool) spec   { return fn(func(c *call) { c.conditional(pairs) }) }
func plainWrites(pairs bool) spec   { return fn(func(c *call) { c.plainWrites(pairs) }) }

// commands classifies Redis commands by lower-case name. What is not here
// is skipped and counted (reasonUnclassified): the capture never guesses
// what a command touched.
var commands = map[string]spec{
	// Strings.
	"get":         fn((*call).readValue),
	"getex":       fn((*call).readValue), // its expiry change is not modelled
	"mget":        fn((*call).mget),
	"strlen":      readKey(),
	"getrange":    readKey(),
	"substr":      readKey(),
	"getbit":      readKey(),
	"bitcount":    readKey(),
	"bitpos":      readKey(),
	"exists":      readKeys(1, -1),
	"type":        readKey(),
	"set":         fn((*call).set),
	"setex":       fn((*call).setex),
	"psetex":      fn((*call).setex),
	"mset":        plainWrites(true),
	"del":         plainWrites(false),
	"unlink":      plainWrites(false),
	"setnx":       conditional(false),
	"msetnx":      conditional(true),
	"getset":      fn((*call).getset),
	"getdel":      fn((*call).getdel),
	"incr":        counterBy(0),
	"decr":        counterBy(0),
	"incrby":      counterBy(1),
	"decrby":      counterBy(-1),
	"incrbyfloat": fn((*call).incrFloat),
	"append":      updateKey(),
	"setrange":    updateKey(),
	"setbit":      updateKey(),
	"pfadd":       updateKey(),
	"pfcount":     readKeys(1, -1),

	// Hashes: a field is a variable of its own; every field access also
	// reads the hash's key, so that it races with a DEL of the key.
	"hget":         fn((*call).fieldReads),
	"hmget":        fn((*call).fieldReads),
	"hexists":      fn((*call).fieldReads),
	"hstrlen":      fn((*call).fieldReads),
	"hgetall":      fn((*call).hgetall),
	"hkeys":        readKey(),
	"hvals":        readKey(),
	"hlen":         readKey(),
	"hrandfield":   readKey(),
	"hset":         fieldWrites(true),
	"hmset":        fieldWrites(true),
	"hdel":         fieldWrites(false),
	"hsetnx":       fn((*call).hsetnx),
	"hincrby":      fn((*call).hincr),
	"hincrbyfloat": fn((*call).hincr),

	// Lists, sets, sorted sets, streams: the key is one variable; a change
	// is an atomic read-modify-write of it.
	"lrange": readKey(), "lindex": readKey(), "llen": readKey(), "lpos": readKey(),
	"lpush": updateKey(), "rpush": updateKey(), "lpushx": updateKey(), "rpushx": updateKey(),
	"lpop": updateKey(), "rpop": updateKey(), "lset": updateKey(), "linsert": updateKey(),
	"lrem": updateKey(), "ltrim": updateKey(),
	"lmove": keys(update, 1, 2, 1), "rpoplpush": keys(update, 1, 2, 1),

	"smembers": readKey(), "sismember": readKey(), "smismember": readKey(), "scard": readKey(),
	"srandmember": readKey(), "sinter": readKeys(1, -1), "sunion": readKeys(1, -1), "sdiff": readKeys(1, -1),
	"sadd": updateKey(), "srem": updateKey(), "spop": updateKey(), "smove": keys(update, 1, 2, 1),
	"sinterstore": keys(store, 1, -1, 1), "sunionstore": keys(store, 1, -1, 1), "sdiffstore": keys(store, 1, -1, 1),

	"zrange": readKey(), "zrangebyscore": readKey(), "zrevrange": readKey(), "zrevrangebyscore": readKey(),
	"zrangebylex": readKey(), "zrevrangebylex": readKey(), "zscore": readKey(), "zmscore": readKey(),
	"zcard": readKey(), "zcount": readKey(), "zlexcount": readKey(), "zrank": readKey(), "zrevrank": readKey(),
	"zrandmember": readKey(),
	"zadd":        updateKey(), "zincrby": updateKey(), "zrem": updateKey(), "zpopmin": updateKey(), "zpopmax": updateKey(),
	"zremrangebyscore": updateKey(), "zremrangebyrank": updateKey(), "zremrangebylex": updateKey(),

	"xrange": readKey(), "xrevrange": readKey(), "xlen": readKey(),
	"xadd": updateKey(), "xdel": updateKey(), "xtrim": updateKey(),

	// What the capture does not model, counted.
	"expire": skipped(reasonExpiry), "pexpire": skipped(reasonExpiry), "expireat": skipped(reasonExpiry),
	"pexpireat": skipped(reasonExpiry), "persist": skipped(reasonExpiry), "ttl": skipped(reasonExpiry),
	"pttl": skipped(reasonExpiry), "expiretime": skipped(reasonExpiry), "pexpiretime": skipped(reasonExpiry),
	"eval": skipped(reasonScript), "evalsha": skipped(reasonScript), "eval_ro": skipped(reasonScript),
	"evalsha_ro": skipped(reasonScript), "fcall": skipped(reasonScript), "fcall_ro": skipped(reasonScript),
	"keys": skipped(reasonKeyspace), "scan": skipped(reasonKeyspace), "randomkey": skipped(reasonKeyspace),
	"dbsize": skipped(reasonKeyspace), "flushdb": skipped(reasonKeyspace), "flushall": skipped(reasonKeyspace),

	// No shared state: connection, server and pub/sub commands.
	"ping": skipped(noState), "echo": skipped(noState), "hello": skipped(noState), "auth": skipped(noState),
	"client": skipped(noState), "readonly": skipped(noState), "readwrite": skipped(noState),
	"quit": skipped(noState), "reset": skipped(noState), "info": skipped(noState), "time": skipped(noState),
	"command": skipped(noState), "cluster": skipped(noState), "wait": skipped(noState),
	"waitaof": skipped(noState), "role": skipped(noState), "memory": skipped(noState),
	"latency": skipped(noState), "slowlog": skipped(noState), "config": skipped(noState),
	"script": skipped(noState), "function": skipped(noState), "publish": skipped(noState),
	"spublish": skipped(noState), "pubsub": skipped(noState), "subscribe": skipped(noState),
	"unsubscribe": skipped(noState), "psubscribe": skipped(noState), "punsubscribe": skipped(noState),
	"ssubscribe": skipped(noState), "sunsubscribe": skipped(noState),
}

// classify finds the accesses cmd made, or why it is skipped. It is called
// after cmd ran, with its error.
func classify(cmd redis.Cmder, err error) *call {
	c := &call{cmd: cmd, err: err, args: cmd.Args()}
	s, ok := commands[cmd.Name()]
	switch {
	case !ok:
		c.skip = reasonUnclassified
	case s.skip != "":
		c.skip = s.skip
	case !succeeded(err):
		c.skip = reasonFailed
	case s.do != nil:
		s.do(c)
	default:
		c.generic(s)
	}
	if c.skip != "" {
		c.acc = nil
	}
	return c
}

// key returns argument i as a key, or marks the command skipped.
func (c *call) key(i int) (string, bool) {
	if i < len(c.args) {
		if k, ok := argText(c.args[i]); ok {
			return k, true
		}
	}
	c.skip = reasonArgs
	return "", false
}

func (c *call) add(a access) { c.acc = append(c.acc, a) }

// rmw adds an atomic read-modify-write of key (field): a read of old and a
// write of old → new, both holding the key's lock.
func (c *call) rmw(key, field string, hasField bool, old, new any) {
	c.add(access{key: key, field: field, hasField: hasField, new: old, locked: true})
	c.add(access{key: key, field: field, hasField: hasField, write: true, old: old, new: new, locked: true})
}

func (c *call) generic(s spec) {
	last := s.last
	if last < 0 {
		last = len(c.args) + last
	}
	if s.first >= len(c.args) || last < s.first {
		c.skip = reasonArgs
		return
	}
	for i := s.first; i <= last; i += s.step {
		k, ok := c.key(i)
		if !ok {
			return
		}
		switch {
		case s.class == read:
			c.add(access{key: k})
		case s.class == update || (s.class == store && i == s.first):
			c.rmw(k, "", false, nil, nil)
		default: // a source of a store
			c.add(access{key: k, locked: true})
		}
	}
}

// readValue: GET key, the reply is the value.
func (c *call) readValue() {
	if k, ok := c.key(1); ok {
		c.add(access{key: k, new: reply(c.cmd, c.err)})
	}
}

// mget: MGET key…, the reply lists the values.
func (c *call) mget() {
	vals := replyList(c.cmd, c.err)
	for i := 1; i < len(c.args); i++ {
		k, ok := c.key(i)
		if !ok {
			return
		}
		a := access{key: k}
		if i-1 < len(vals) {
			a.new = element(vals[i-1])
		}
		c.add(a)
	}
}

// plainWrites: DEL, UNLINK key… (each key deleted) and MSET key value…
// (pairs): plain writes.
func (c *call) plainWrites(pairs bool) {
	step := 1
	if pairs {
		step = 2
	}
	if len(c.args) < 1+step {
		c.skip = reasonArgs
		return
	}
	for i := 1; i < len(c.args); i += step {
		k, ok := c.key(i)
		if !ok {
			return
		}
		a := access{key: k, write: true, oldSeen: true}
		if pairs {
			a.new = argValue(c.args, i+1)
		}
		c.add(a)
	}
}

// setex: SETEX, PSETEX key ttl value: a plain write.
func (c *call) setex() {
	if k, ok := c.key(1); ok {
		c.add(access{key: k, write: true, new: argValue(c.args, 3), oldSeen: true})
	}
}

// set: SET key value [NX|XX|IFEQ v…] [GET] [EX s|PX ms|EXAT|PXAT|KEEPTTL].
// A plain SET is a plain write; a conditional SET, or one that returns the
// old value (GET), reads and writes the key in one atomic step.
func (c *call) set() {
	k, ok := c.key(1)
	if !ok || len(c.args) < 3 {
		c.skip = reasonArgs
		return
	}
	v := argValue(c.args, 2)
	var cond string
	get := false
	for i := 3; i < len(c.args); i++ {
		opt, _ := argText(c.args[i])
		switch opt = strings.ToLower(opt); opt {
		case "nx", "xx":
			cond = opt
		case "ifeq", "ifne", "ifdeq", "ifdne":
			cond = opt
			i++
		case "get":
			get = true
		case "keepttl":
		case "ex", "px", "exat", "pxat":
			i++
		default:
			c.skip = reasonArgs
			return
		}
	}
	switch {
	case get:
		old := reply(c.cmd, c.err)
		var wrote bool
		switch cond {
		case "":
			wrote = true
		case "nx":
			wrote = old == nil
		case "xx":
			wrote = old != nil
		default: // whether a compare-and-set that returned the old value wrote is not in its reply
			c.skip = reasonArgs
			return
		}
		c.add(access{key: k, new: old, locked: true})
		if wrote {
			c.add(access{key: k, write: true, old: old, new: v, locked: true})
		}
	case cond != "":
		c.add(access{key: k, locked: true})
		if applied(c.cmd, c.err) {
			c.add(access{key: k, write: true, new: v, locked: true})
		}
	default:
		c.add(access{key: k, write: true, new: v, oldSeen: true})
	}
}

// conditional: SETNX key value, MSETNX key value…: each key is read, and
// written if the command applied, in one atomic step.
func (c *call) conditional(pairs bool) {
	last := 1
	if pairs {
		last = len(c.args) - 2
	}
	wrote := applied(c.cmd, c.err)
	for i := 1; i <= last; i += 2 {
		k, ok := c.key(i)
		if !ok {
			return
		}
		c.add(access{key: k, locked: true})
		if wrote {
			c.add(access{key: k, write: true, new: argValue(c.args, i+1), locked: true})
		}
	}
}

// getset: GETSET key value, the reply is the old value.
func (c *call) getset() {
	if k, ok := c.key(1); ok {
		c.rmw(k, "", false, reply(c.cmd, c.err), argValue(c.args, 2))
	}
}

// getdel: GETDEL key, the reply is the value deleted.
func (c *call) getdel() {
	if k, ok := c.key(1); ok {
		c.rmw(k, "", false, reply(c.cmd, c.err), nil)
	}
}

// counter: INCR, DECR (by 0: ±1 from the name), INCRBY, DECRBY key n (sign
// ±1): the reply is the new value, the old one the reply less the
// increment.
func (c *call) counter(sign int64) {
	k, ok := c.key(1)
	if !ok {
		return
	}
	n := int64(1)
	if sign != 0 {
		if n, ok = argInt(c.args, 2); !ok {
			c.skip = reasonArgs
			return
		}
		n *= sign
	} else if c.cmd.Name() == "decr" {
		n = -1
	}
	var old, new any
	if v, ok := reply(c.cmd, c.err).(int64); ok {
		old, new = v-n, v
	}
	c.rmw(k, "", false, old, new)
}

// incrFloat: INCRBYFLOAT key f, the reply is the new value.
func (c *call) incrFloat() {
	if k, ok := c.key(1); ok {
		c.rmw(k, "", false, nil, reply(c.cmd, c.err))
	}
}

// fieldReads: HGET, HMGET, HEXISTS, HSTRLEN key field…: the key and each
// field are read; HGET's and HMGET's replies are the values.
func (c *call) fieldReads() {
	k, ok := c.key(1)
	if !ok || len(c.args) < 3 {
		c.skip = reasonArgs
		return
	}
	var vals []any
	switch c.cmd.Name() {
	case "hget":
		vals = []any{reply(c.cmd, c.err)}
	case "hmget":
		vals = replyList(c.cmd, c.err)
	}
	c.add(access{key: k})
	for i := 2; i < len(c.args); i++ {
		f, ok := c.key(i)
		if !ok {
			return
		}
		a := access{key: k, field: f, hasField: true}
		if i-2 < len(vals) {
			a.new = element(vals[i-2])
		}
		c.add(a)
	}
}

// maxFields bounds the fields of an HGETALL reply recorded as reads.
const maxFields = 32

// hgetall: HGETALL key, the key and the fields of the reply (at most
// maxFields, in name order) are read.
func (c *call) hgetall() {
	k, ok := c.key(1)
	if !ok {
		return
	}
	c.add(access{key: k})
	fields := replyFields(c.cmd, c.err)
	names := slices.Sorted(maps.Keys(fields))
	for _, f := range names[:min(len(names), maxFields)] {
		c.add(access{key: k, field: f, hasField: true, new: fields[f]})
	}
}

// fieldWrites: HSET, HMSET key field value…, HDEL key field…: the key is
// read and each field written (with its value, or deleted).
func (c *call) fieldWrites(values bool) {
	k, ok := c.key(1)
	if !ok || len(c.args) < 3 {
		c.skip = reasonArgs
		return
	}
	step := 1
	if values {
		step = 2
	}
	c.add(access{key: k})
	for i := 2; i < len(c.args); i += step {
		f, ok := c.key(i)
		if !ok {
			return
		}
		a := access{key: k, field: f, hasField: true, write: true, oldSeen: true}
		if values {
			a.new = argValue(c.args, i+1)
		}
		c.add(a)
	}
}

// hsetnx: HSETNX key field value: the field is read, and written if it was
// missing, in one atomic step.
func (c *call) hsetnx() {
	k, ok1 := c.key(1)
	f, ok2 := c.key(2)
	if !ok1 || !ok2 {
		return
	}
	c.add(access{key: k, locked: true})
	c.add(access{key: k, field: f, hasField: true, locked: true})
	if applied(c.cmd, c.err) {
		c.add(access{key: k, field: f, hasField: true, write: true, new: argValue(c.args, 3), locked: true})
	}
}

// hincr: HINCRBY, HINCRBYFLOAT key field n: the reply is the new value;
// for HINCRBY the old one is the reply less n.
func (c *call) hincr() {
	k, ok1 := c.key(1)
	f, ok2 := c.key(2)
	if !ok1 || !ok2 {
		return
	}
	var old, new any = nil, reply(c.cmd, c.err)
	if v, ok := new.(int64); ok {
		if n, ok := argInt(c.args, 3); ok {
			old = v - n
		}
	}
	c.add(access{key: k, locked: true})
	c.rmw(k, f, true, old, new)
}
