package racewayredis

import (
	"strconv"
	"strings"
)

// Key returns the fleet-wide name of key in database db, as a shared
// variable and as a shared lock: "redis/<db>/<key>", for example
// "redis/0/stock:42". In key, '%' is written %25 and '#' %23, so that no
// key's name is another's or a hash field's.
func Key(db int, key string) string {
	return prefix(db) + escape(key)
}

// Field returns the fleet-wide name of field of the hash key in database
// db: "redis/<db>/<key>#<field>", for example "redis/0/cart:9#qty", key
// escaped as in [Key]; the first unescaped '#' ends the key.
func Field(db int, key, field string) string {
	return prefix(db) + escape(key) + "#" + field
}

func prefix(db int) string { return "redis/" + strconv.Itoa(db) + "/" }

var escaper = strings.NewReplacer("%", "%25", "#", "%23")

func escape(key string) string {
	if !strings.ContainsAny(key, "%#") {
		return key
	}
	return escaper.Replace(key)
}
