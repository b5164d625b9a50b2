package racewaysql

import (
	"slices"
	"strconv"
	"strings"
)

// dialect is the SQL spelling a database system accepts: where it differs,
// the tokenizer follows it.
type dialect uint8

const (
	dialectPostgres dialect = iota + 1 // $1 parameters, "quoted" identifiers, E'…' and $$…$$ strings
	dialectMySQL                       // ? parameters, `quoted` identifiers, "…" and '…' strings with \ escapes
	dialectSQLite                      // ?, ?NNN, :name, @name, $name parameters, "…", `…` and […] identifiers
)

// tokKind is the kind of a token.
type tokKind uint8

const (
	tokEOF    tokKind = iota
	tokIdent          // a bare or quoted identifier (keywords are bare identifiers)
	tokString         // a string literal; text is its value
	tokNumber         // a numeric literal
	tokParam          // a parameter placeholder
	tokPunct          // an operator or punctuation: ( ) , . ; = < > <= >= <> != :: || + - * / % …
)

// token is one lexical token of a statement.
type token struct {
	kind   tokKind
	text   string // identifier (unquoted spelling), string value, number, or punctuation
	quoted bool   // identifiers: written quoted (case kept)
	// Parameters: ordinal (1-based position among the statement's
	// arguments) or name (SQLite :name, @name, $name).
	ordinal int
	name    string
}

// is reports whether t is the bare keyword kw (upper case).
func (t token) is(kw string) bool {
	return t.kind == tokIdent && !t.quoted && strings.EqualFold(t.text, kw)
}

// punct reports whether t is the punctuation p.
func (t token) punct(p string) bool { return t.kind == tokPunct && t.text == p }

// maxTokens bounds the tokens of a statement the capture looks at; longer
// statements are skipped (a generated bulk INSERT of thousands of rows).
const maxTokens = 4096

// maxParams bounds parameter numbers (PostgreSQL's protocol allows 65535).
const maxParams = 65535

// lexError is why a statement could not be tokenized.
type lexError string

func (e lexError) Error() string { return string(e) }

// lex splits query into tokens in dialect d. Comments are dropped, and so is
// one trailing semicolon; a second statement is an error. It fails on text
// it does not know how to read rather than guess: an unterminated string,
// MySQL's executable comments (/*! … */), more than maxTokens tokens.
func lex(query string, d dialect) ([]token, error) {
	var toks []token
	// largest is the largest parameter number so far: ? is the next one.
	// SQLite also numbers every distinct named parameter at its first use.
	largest := 0
	var names []string
	sqliteName := func(name string) {
		if !slices.Contains(names, name) {
			names = append(names, name)
			largest++
		}
	}
	i := 0
	for i < len(query) {
		if len(toks) >= maxTokens {
			return nil, lexError("too long")
		}
		c := query[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v':
			i++
		case c == '-' && strings.HasPrefix(query[i:], "--"), c == '#' && d == dialectMySQL:
			j := strings.IndexByte(query[i:], '\n')
			if j < 0 {
				i = len(query)
			} else {
				i += j + 1
			}
		case c == '/' && strings.HasPrefix(query[i:], "/*"):
			if d == dialectMySQL && strings.HasPrefix(query[i:], "/*!") {
				return nil, lexError("executable comment")
			}
			j, err := skipBlockComment(query, i, d == dialectPostgres)
			if err != nil {
				return nil, err
			}
			i = j
		case c == '\'':
			s, j, err := readString(query, i, '\'', d == dialectMySQL)
			if err != nil {
				return nil, err
			}
			toks = append(toks, token{kind: tokString, text: s})
			i = j
		case c == '"':
			if d == dialectMySQL { // a string unless ANSI_QUOTES, which the capture does not assume
				s, j, err := readString(query, i, '"', true)
				if err != nil {
					return nil, err
				}
				toks = append(toks, token{kind: tokString, text: s})
				i = j
				break
			}
			s, j, err := readString(query, i, '"', false)
			if err != nil {
				return nil, err
			}
			toks = append(toks, token{kind: tokIdent, text: s, quoted: true})
			i = j
		case c == '`' && d != dialectPostgres:
			s, j, err := readString(query, i, '`', false)
			if err != nil {
				return nil, err
			}
			toks = append(toks, token{kind: tokIdent, text: s, quoted: true})
			i = j
		case c == '[' && d == dialectSQLite:
			j := strings.IndexByte(query[i+1:], ']')
			if j < 0 {
				return nil, lexError("unterminated identifier")
			}
			toks = append(toks, token{kind: tokIdent, text: query[i+1 : i+1+j], quoted: true})
			i += j + 2
		case (c == 'E' || c == 'e') && d == dialectPostgres && i+1 < len(query) && query[i+1] == '\'':
			s, j, err := readString(query, i+1, '\'', true)
			if err != nil {
				return nil, err
			}
			toks = append(toks, token{kind: tokString, text: s})
			i = j
		case (c == 'X' || c == 'x' || c == 'B' || c == 'b' || c == 'N' || c == 'n') && i+1 < len(query) && query[i+1] == '\'':
			// Hexadecimal, bit and national strings: the value is the text as
			// written (only compared, never interpreted).
			s, j, err := readString(query, i+1, '\'', d == dialectMySQL)
			if err != nil {
				return nil, err
			}
			if c == 'N' || c == 'n' {
				toks = append(toks, token{kind: tokString, text: s})
			} else {
				toks = append(toks, token{kind: tokString, text: string(c|0x20) + "'" + s + "'"})
			}
			i = j
		case c == '$' && d != dialectMySQL && i+1 < len(query) && isDigit(query[i+1]):
			// $N: PostgreSQL's parameter N; in SQLite a named parameter that
			// drivers bind to the argument of ordinal N, as modernc.org/sqlite
			// and mattn/go-sqlite3 do.
			j := i + 1
			for j < len(query) && isDigit(query[j]) {
				j++
			}
			n, err := strconv.Atoi(query[i+1 : j])
			if err != nil || n < 1 || n > maxParams {
				return nil, lexError("bad parameter")
			}
			if d == dialectSQLite {
				sqliteName(query[i:j])
			}
			toks = append(toks, token{kind: tokParam, ordinal: n})
			i = j
		case c == '$' && d == dialectPostgres:
			// Dollar quoting: $$…$$ or $tag$…$tag$.
			j := i + 1
			for j < len(query) && (isIdentStart(query[j]) || isDigit(query[j])) {
				j++
			}
			if j >= len(query) || query[j] != '$' {
				return nil, lexError("unexpected $")
			}
			tag := query[i : j+1]
			end := strings.Index(query[j+1:], tag)
			if end < 0 {
				return nil, lexError("unterminated dollar-quoted string")
			}
			toks = append(toks, token{kind: tokString, text: query[j+1 : j+1+end]})
			i = j + 1 + end + len(tag)
		case c == '?' && d != dialectPostgres:
			j := i + 1
			for j < len(query) && isDigit(query[j]) {
				j++
			}
			if j > i+1 && d == dialectSQLite { // ?NNN
				n, err := strconv.Atoi(query[i+1 : j])
				if err != nil || n < 1 || n > maxParams {
					return nil, lexError("bad parameter")
				}
				largest = max(largest, n)
				toks = append(toks, token{kind: tokParam, ordinal: n})
				i = j
				break
			}
			largest++
			toks = append(toks, token{kind: tokParam, ordinal: largest})
			i++
		case (c == ':' || c == '@' || c == '$') && d == dialectSQLite && i+1 < len(query) && isIdentStart(query[i+1]):
			// A named parameter, bound to the argument of that name.
			j := i + 1
			for j < len(query) && isIdentByte(query[j]) {
				j++
			}
			sqliteName(query[i:j])
			toks = append(toks, token{kind: tokParam, name: query[i+1 : j]})
			i = j
		case c == '@' && d == dialectMySQL:
			// User (@v) and system (@@v) variables: their value is unknown.
			return nil, lexError("variable")
		case isDigit(c) || (c == '.' && i+1 < len(query) && isDigit(query[i+1])):
			j := readNumber(query, i)
			toks = append(toks, token{kind: tokNumber, text: query[i:j]})
			i = j
		case isIdentStart(c):
			j := i + 1
			for j < len(query) && isIdentByte(query[j]) {
				j++
			}
			toks = append(toks, token{kind: tokIdent, text: query[i:j]})
			i = j
		default:
			p := readPunct(query, i)
			if p == "" {
				return nil, lexError("unexpected character")
			}
			toks = append(toks, token{kind: tokPunct, text: p})
			i += len(p)
		}
	}
	// One trailing semicolon ends the statement; anything after it is a
	// second statement.
	for k, t := range toks {
		if t.punct(";") {
			if k != len(toks)-1 {
				return nil, lexError("several statements")
			}
			toks = toks[:k]
		}
	}
	return toks, nil
}

// skipBlockComment returns the index after the /* … */ comment at i;
// PostgreSQL nests them.
func skipBlockComment(q string, i int, nested bool) (int, error) {
	depth := 0
	for i < len(q) {
		switch {
		case strings.HasPrefix(q[i:], "/*"):
			depth++
			i += 2
			if !nested && depth > 1 {
				depth = 1
			}
		case strings.HasPrefix(q[i:], "*/"):
			depth--
			i += 2
			if depth == 0 {
				return i, nil
			}
		default:
			i++
		}
	}
	return 0, lexError("unterminated comment")
}

// readString reads the literal quoted with quote at i, where a doubled quote
// stands for one and, with backslash, \ escapes the next character. It
// returns the value and the index after the closing quote.
func readString(q string, i int, quote byte, backslash bool) (string, int, error) {
	var b strings.Builder
	j := i + 1
	for j < len(q) {
		c := q[j]
		switch {
		case c == '\\' && backslash && j+1 < len(q):
			b.WriteByte(unescape(q[j+1]))
			j += 2
		case c == quote:
			if j+1 < len(q) && q[j+1] == quote {
				b.WriteByte(quote)
				j += 2
				continue
			}
			return b.String(), j + 1, nil
		default:
			b.WriteByte(c)
			j++
		}
	}
	return "", 0, lexError("unterminated string")
}

func unescape(c byte) byte {
	switch c {
	case 'n':
		return '\n'
	case 't':
		return '\t'
	case 'r':
		return '\r'
	case '0':
		return 0
	case 'b':
		return '\b'
	case 'Z':
		return 26
	}
	return c
}

// readNumber returns the index after the number at i: digits, a fraction,
// an exponent, or a 0x… hexadecimal.
func readNumber(q string, i int) int {
	j := i
	if strings.HasPrefix(q[i:], "0x") || strings.HasPrefix(q[i:], "0X") {
		j += 2
		for j < len(q) && isHex(q[j]) {
			j++
		}
		return j
	}
	for j < len(q) && isDigit(q[j]) {
		j++
	}
	if j < len(q) && q[j] == '.' {
		j++
		for j < len(q) && isDigit(q[j]) {
			j++
		}
	}
	if j < len(q) && (q[j] == 'e' || q[j] == 'E') {
		k := j + 1
		if k < len(q) && (q[k] == '+' || q[k] == '-') {
			k++
		}
		if k < len(q) && isDigit(q[k]) {
			for k < len(q) && isDigit(q[k]) {
				k++
			}
			j = k
		}
	}
	return j
}

// puncts are the operators the tokenizer knows, longest first.
var puncts = []string{"::", "<=", ">=", "<>", "!=", "||", "->>", "->", "=>", "<=>",
	"(", ")", ",", ".", ";", "=", "<", ">", "+", "-", "*", "/", "%", "|", "&", "^", "~", "!", ":", "[", "]", "{", "}", "?", "@", "#", "$"}

func readPunct(q string, i int) string {
	best := ""
	for _, p := range puncts {
		if len(p) > len(best) && strings.HasPrefix(q[i:], p) {
			best = p
		}
	}
	return best
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

func isHex(c byte) bool { return isDigit(c) || ('a' <= c && c <= 'f') || ('A' <= c && c <= 'F') }

func isIdentStart(c byte) bool {
	return ('a' <= c && c <= 'z') || ('A' <= c && c <= 'Z') || c == '_' || c >= 0x80
}

func isIdentByte(c byte) bool { return isIdentStart(c) || isDigit(c) || c == '$' }
