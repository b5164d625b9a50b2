package racewayotel

import (
	"fmt"
	"strconv"
	"unicode/utf8"

	"github.com/raceway-otel/raceway/analysis"
)

// valueText returns the text recorded for a tracked value and whether there
// is one (nil records none). Strings, byte slices, integers, floats, booleans,
// errors and fmt.Stringers are converted without fmt; anything else with
// fmt.Sprint. The text is cut to analysis.MaxValueLen bytes.
func valueText(v any) (string, bool) {
	var s string
	switch v := v.(type) {
	case nil:
		return "", false
	case string:
		s = v
	case []byte:
		s = string(v)
	case int:
		s = strconv.Itoa(v)
	case int64:
		s = strconv.FormatInt(v, 10)
	case int32:
		s = strconv.FormatInt(int64(v), 10)
	case uint:
		s = strconv.FormatUint(uint64(v), 10)
	case uint64:
		s = strconv.FormatUint(v, 10)
	case uint32:
		s = strconv.FormatUint(uint64(v), 10)
	case float64:
		s = strconv.FormatFloat(v, 'g', -1, 64)
	case float32:
		s = strconv.FormatFloat(float64(v), 'g', -1, 32)
	case bool:
		s = strconv.FormatBool(v)
	case error:
		s = v.Error()
	case fmt.Stringer:
		s = v.String()
	default:
		s = fmt.Sprint(v)
	}
	return cut(s, analysis.MaxValueLen), true
}

// cut shortens s to at most n bytes without splitting a UTF-8 sequence.
func cut(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}
