package racewayredis

import (
	"errors"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/raceway-otel/raceway/analysis"
)

// Values are recorded where the command carries them: a read's reply (GET,
// MGET, HGET, HGETALL…), a write's argument (SET, MSET, HSET…), a counter's
// reply (INCR…, whose old value is the reply less the increment). Values go
// through racewayotel, which cuts them to analysis.MaxValueLen bytes; byte
// slices are cut before they are copied into a string.

// argText returns an argument as go-redis writes it on the wire, for the
// types that need no marshalling; false for the others (a value that
// implements encoding.BinaryMarshaler is not marshalled again).
func argText(v any) (string, bool) {
	switch v := v.(type) {
	case string:
		return v, true
	case []byte:
		return string(v), true
	case int:
		return strconv.FormatInt(int64(v), 10), true
	case int8:
		return strconv.FormatInt(int64(v), 10), true
	case int16:
		return strconv.FormatInt(int64(v), 10), true
	case int32:
		return strconv.FormatInt(int64(v), 10), true
	case int64:
		return strconv.FormatInt(v, 10), true
	case uint:
		return strconv.FormatUint(uint64(v), 10), true
	case uint8:
		return strconv.FormatUint(uint64(v), 10), true
	case uint16:
		return strconv.FormatUint(uint64(v), 10), true
	case uint32:
		return strconv.FormatUint(uint64(v), 10), true
	case uint64:
		return strconv.FormatUint(v, 10), true
	case float32:
		return strconv.FormatFloat(float64(v), 'f', -1, 64), true
	case float64:
		return strconv.FormatFloat(v, 'f', -1, 64), true
	case bool:
		if v {
			return "1", true
		}
		return "0", true
	case time.Duration:
		return strconv.FormatInt(v.Nanoseconds(), 10), true
	case nil:
		return "", true
	}
	return "", false
}

// argValue returns an argument's text for a record's value, nil when it
// has none.
func argValue(args []any, i int) any {
	if i >= len(args) {
		return nil
	}
	if b, ok := args[i].([]byte); ok { // no copy of a large value
		return string(b[:min(len(b), analysis.MaxValueLen)])
	}
	if s, ok := argText(args[i]); ok {
		return s
	}
	return nil
}

// argInt returns an integer argument.
func argInt(args []any, i int) (int64, bool) {
	if i >= len(args) {
		return 0, false
	}
	s, ok := argText(args[i])
	if !ok {
		return 0, false
	}
	n, err := strconv.ParseInt(s, 10, 64)
	return n, err == nil
}

// succeeded reports whether a command whose error is err ran: no error, or
// redis.Nil (a missing key or field, a SET NX that found the key).
func succeeded(err error) bool {
	return err == nil || errors.Is(err, redis.Nil)
}

// The reply readers below take the command's error, as the hook sees it:
// inside a ProcessHook, go-redis sets it on the command only after the hooks
// return.

// reply returns the value of a command's one-value reply, nil for a nil
// reply or a reply the capture does not read.
func reply(cmd redis.Cmder, err error) any {
	if err != nil {
		return nil
	}
	switch c := cmd.(type) {
	case *redis.StringCmd:
		return c.Val()
	case *redis.StatusCmd:
		return c.Val()
	case *redis.IntCmd:
		return c.Val()
	case *redis.FloatCmd:
		return c.Val()
	case *redis.ZeroCopyStringCmd:
		b := c.Bytes()
		return string(b[:min(len(b), analysis.MaxValueLen)])
	case *redis.Cmd:
		return element(c.Val())
	}
	return nil
}

// element returns one element of a generic reply as a value, nil for nil
// and for nested replies.
func element(v any) any {
	switch v := v.(type) {
	case string, int64, float64:
		return v
	case []byte:
		return string(v[:min(len(v), analysis.MaxValueLen)])
	}
	return nil
}

// replyList returns the elements of an array reply (MGET, HMGET), or nil.
func replyList(cmd redis.Cmder, err error) []any {
	if err != nil {
		return nil
	}
	switch c := cmd.(type) {
	case *redis.SliceCmd:
		return c.Val()
	case *redis.StringSliceCmd:
		v := c.Val()
		out := make([]any, len(v))
		for i, s := range v {
			out[i] = s
		}
		return out
	case *redis.Cmd:
		v, _ := c.Val().([]any)
		return v
	}
	return nil
}

// replyFields returns the fields and values of a hash reply (HGETALL), or
// nil.
func replyFields(cmd redis.Cmder, err error) map[string]any {
	if err != nil {
		return nil
	}
	switch c := cmd.(type) {
	case *redis.MapStringStringCmd:
		out := make(map[string]any, len(c.Val()))
		for f, v := range c.Val() {
			out[f] = v
		}
		return out
	case *redis.Cmd:
		switch v := c.Val().(type) {
		case map[any]any: // RESP3
			out := make(map[string]any, len(v))
			for f, x := range v {
				if fs, ok := element(f).(string); ok {
					out[fs] = element(x)
				}
			}
			return out
		case []any: // RESP2: field, value, field, value…
			out := make(map[string]any, len(v)/2)
			for i := 0; i+1 < len(v); i += 2 {
				if fs, ok := element(v[i]).(string); ok {
					out[fs] = element(v[i+1])
				}
			}
			return out
		}
	}
	return nil
}

// applied reports whether a conditional command (SET NX, SETNX, HSETNX,
// MSETNX) wrote: it succeeded with a reply other than nil, false or 0.
func applied(cmd redis.Cmder, err error) bool {
	if err != nil {
		return false
	}
	switch c := cmd.(type) {
	case *redis.BoolCmd:
		return c.Val()
	case *redis.IntCmd:
		return c.Val() != 0
	case *redis.Cmd:
		switch v := c.Val().(type) {
		case int64:
			return v != 0
		case nil:
			return false
		}
	}
	return true
}
