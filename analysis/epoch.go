package analysis

import (
	"errors"
	"fmt"
	"strconv"
)

// ThreadID identifies a logical thread (or a synchronisation strand) across
// the whole fleet. Producers pick it at random from 64 bits, which makes
// collisions negligible without coordination. Zero is not a valid ThreadID.
type ThreadID uint64

// String returns the 16-digit lowercase hexadecimal form of id.
func (id ThreadID) String() string {
	return string(id.AppendText(make([]byte, 0, 16)))
}

// AppendText appends the 16-digit lowercase hexadecimal form of id to b.
func (id ThreadID) AppendText(b []byte) []byte {
	const digits = "0123456789abcdef"
	for shift := 60; shift >= 0; shift -= 4 {
		b = append(b, digits[(id>>uint(shift))&0xf])
	}
	return b
}

// ParseThreadID parses the text form written by [ThreadID.String]: 1 to 16
// hexadecimal digits, not all zero.
func ParseThreadID(s string) (ThreadID, error) {
	if len(s) == 0 || len(s) > 16 {
		return 0, fmt.Errorf("analysis: thread id %q: want 1 to 16 hex digits", truncate(s))
	}
	var v uint64
	for i := 0; i < len(s); i++ {
		d, ok := hexDigit(s[i])
		if !ok {
			return 0, fmt.Errorf("analysis: thread id %q: not hexadecimal", truncate(s))
		}
		v = v<<4 | uint64(d)
	}
	if v == 0 {
		return 0, errors.New("analysis: thread id is zero")
	}
	return ThreadID(v), nil
}

func hexDigit(c byte) (byte, bool) {
	switch {
	case '0' <= c && c <= '9':
		return c - '0', true
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10, true
	case 'A' <= c && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}

// MaxEpochTextLen is the largest size in bytes of an epoch's text form:
// 16 hex digits, '@' and at most 20 decimal digits. It is the whole clock
// that travels between processes (in one W3C baggage member and in the
// response header), whatever the length of the call chain or the fan-out.
const MaxEpochTextLen = 16 + 1 + 20

// Epoch names one event: the Seq-th event (counting from 1) of a logical
// thread. The zero Epoch means "none".
type Epoch struct {
	Thread ThreadID
	Seq    uint64
}

// IsZero reports whether e is the zero Epoch.
func (e Epoch) IsZero() bool { return e.Thread == 0 && e.Seq == 0 }

// String returns the text form thread@seq, for example
// "00000000deadbeef@12". It is at most [MaxEpochTextLen] bytes long.
func (e Epoch) String() string {
	return string(e.AppendText(make([]byte, 0, MaxEpochTextLen)))
}

// AppendText appends the text form of e to b.
func (e Epoch) AppendText(b []byte) []byte {
	b = e.Thread.AppendText(b)
	b = append(b, '@')
	return strconv.AppendUint(b, e.Seq, 10)
}

// ParseEpoch parses the text form written by [Epoch.String]. It is meant for
// untrusted input: anything else, including text longer than
// [MaxEpochTextLen], a zero thread or a zero sequence number, is an error.
func ParseEpoch(s string) (Epoch, error) {
	if len(s) > MaxEpochTextLen {
		return Epoch{}, fmt.Errorf("analysis: epoch of %d bytes exceeds %d", len(s), MaxEpochTextLen)
	}
	at := -1
	for i := 0; i < len(s); i++ {
		if s[i] == '@' {
			at = i
			break
		}
	}
	if at < 0 {
		return Epoch{}, fmt.Errorf("analysis: epoch %q: want thread@seq", s)
	}
	id, err := ParseThreadID(s[:at])
	if err != nil {
		return Epoch{}, err
	}
	seqText := s[at+1:]
	if seqText == "" || seqText[0] == '+' || seqText[0] == '-' {
		return Epoch{}, fmt.Errorf("analysis: epoch %q: bad sequence number", s)
	}
	seq, err := strconv.ParseUint(seqText, 10, 64)
	if err != nil || seq == 0 {
		return Epoch{}, fmt.Errorf("analysis: epoch %q: bad sequence number", s)
	}
	return Epoch{Thread: id, Seq: seq}, nil
}

// truncate shortens untrusted text quoted in error messages.
func truncate(s string) string {
	const max = 40
	if len(s) <= max {
		return s
	}
	return s[:max] + "…"
}
