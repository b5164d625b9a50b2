package racewayredis

// TokenKey exports tokenKey to the tests.
var TokenKey = tokenKey
