package racewaysql

import (
	"database/sql/driver"
	"slices"
	"testing"
)

// Shorthands for the expected records.
const (
	p42   = "postgres/shop/products/42"
	lock  = " x[" + p42 + "]"
	rlock = " r[" + p42 + "]"
)

var allProducts = []string{"id", "name", "stock", "price", "updated_at", "deleted_at"}

// TestCapture runs statements as pgx, database/sql users and the common
// ORMs (GORM, sqlx, sqlc, ent, bun) write them, in the three dialects, and
// checks the records each makes and the skips it counts: each case is one
// connection, its steps one after the other.
func TestCapture(t *testing.T) {
	for _, tc := range []struct {
		name, system string
		steps        []step
	}{
		{"pgx read by key", SystemPostgres, []step{{
			query: "SELECT stock FROM products WHERE id = $1", args: []any{int64(42)},
			columns: []string{"stock"}, rows: [][]driver.Value{{int64(10)}},
			want: []string{"R " + p42 + ".stock 10"},
		}}},
		{"lost update: read, then a blind write of what was computed", SystemPostgres, []step{
			{query: "SELECT stock FROM products WHERE id = $1", args: []any{int64(42)},
				columns: []string{"stock"}, rows: [][]driver.Value{{int64(10)}},
				want: []string{"R " + p42 + ".stock 10"}},
			{query: "UPDATE products SET stock = $1 WHERE id = $2", args: []any{int64(9), int64(42)}, affected: 1,
				want: []string{"W " + p42 + ".stock 10->9"}},
		}},
		{"atomic decrement: one read-modify-write under the row lock", SystemPostgres, []step{{
			query: "UPDATE products SET stock = stock - 1 WHERE id = $1", args: []any{int64(42)}, affected: 1,
			want: []string{"R " + p42 + ".stock" + lock, "W " + p42 + ".stock ->" + lock},
		}}},
		{"conditional decrement: the condition's column is read atomically", SystemPostgres, []step{{
			query: "UPDATE products SET stock = stock - $1, updated_at = now() WHERE id = $2 AND stock >= $1",
			args:  []any{int64(2), int64(42)}, affected: 1,
			want: []string{"R " + p42 + ".stock" + lock, "W " + p42 + ".stock ->" + lock, "W " + p42 + ".updated_at ->"},
		}}},
		{"an update that changed no row records nothing", SystemPostgres, []step{{
			query: "UPDATE products SET stock = $1 WHERE id = $2", args: []any{int64(9), int64(42)}, affected: 0,
		}}},
		{"SELECT … FOR UPDATE in a transaction: the lock is held until COMMIT", SystemPostgres, []step{
			{query: "BEGIN"},
			{query: "SELECT stock FROM products WHERE id = $1 FOR UPDATE", args: []any{int64(42)},
				columns: []string{"stock"}, rows: [][]driver.Value{{int64(10)}},
				want: []string{"R " + p42 + ".stock 10" + lock}},
			{query: "UPDATE products SET stock = $1 WHERE id = $2", args: []any{int64(9), int64(42)}, affected: 1,
				want: []string{"W " + p42 + ".stock 10->9" + lock}},
			{query: "COMMIT"},
			{query: "UPDATE products SET stock = $1 WHERE id = $2", args: []any{int64(8), int64(42)}, affected: 1,
				want: []string{"W " + p42 + ".stock 9->8"}},
		}},
		{"ROLLBACK releases the locks", SystemPostgres, []step{
			{query: "begin transaction"},
			{query: "SELECT 1 FROM products WHERE id = $1 FOR UPDATE", args: []any{int64(42)}, affected: 1},
			{query: "UPDATE products SET stock = $1 WHERE id = $2", args: []any{int64(9), int64(42)}, affected: 1,
				want: []string{"W " + p42 + ".stock ->9" + lock}},
			{query: "ROLLBACK"},
			{query: "UPDATE products SET stock = $1 WHERE id = $2", args: []any{int64(8), int64(42)}, affected: 1,
				want: []string{"W " + p42 + ".stock 9->8"}},
		}},
		{"an UPDATE's lock is held by the transaction's later accesses", SystemPostgres, []step{
			{query: "START TRANSACTION"},
			{query: "UPDATE products SET stock = $1 WHERE id = $2", args: []any{int64(9), int64(42)}, affected: 1,
				want: []string{"W " + p42 + ".stock ->9"}},
			{query: "SELECT stock FROM products WHERE id = $1", args: []any{int64(42)},
				columns: []string{"stock"}, rows: [][]driver.Value{{int64(9)}},
				want: []string{"R " + p42 + ".stock 9" + lock}},
			{query: "END"},
		}},
		{"FOR SHARE is a read-mode lock", SystemPostgres, []step{
			{query: "BEGIN"},
			{query: "SELECT stock FROM products WHERE id = $1 FOR SHARE", args: []any{int64(42)},
				columns: []string{"stock"}, rows: [][]driver.Value{{int64(10)}},
				want: []string{"R " + p42 + ".stock 10" + rlock}},
			{query: "UPDATE products SET stock = $1 WHERE id = $2", args: []any{int64(9), int64(42)}, affected: 1,
				want: []string{"W " + p42 + ".stock 10->9" + lock}}, // the write upgrades the lock
			{query: "SELECT stock FROM products WHERE id = $1 FOR KEY SHARE", args: []any{int64(42)},
				columns: []string{"stock"}, rows: [][]driver.Value{{int64(9)}},
				want: []string{"R " + p42 + ".stock 9" + lock}},
			{query: "COMMIT"},
		}},
		{"PostgreSQL SERIALIZABLE: every access holds its row", SystemPostgres, []step{
			{query: "BEGIN ISOLATION LEVEL SERIALIZABLE"},
			{query: "SELECT stock FROM products WHERE id = $1", args: []any{int64(42)},
				columns: []string{"stock"}, rows: [][]driver.Value{{int64(10)}},
				want: []string{"R " + p42 + ".stock 10" + lock}},
			{query: "UPDATE products SET stock = $1 WHERE id = $2", args: []any{int64(9), int64(42)}, affected: 1,
				want: []string{"W " + p42 + ".stock 10->9" + lock}},
			{query: "COMMIT"},
		}},
		{"PostgreSQL REPEATABLE READ set inside the transaction", SystemPostgres, []step{
			{query: "BEGIN"},
			{query: "SET TRANSACTION ISOLATION LEVEL REPEATABLE READ"},
			{query: "SELECT stock FROM products WHERE id = $1", args: []any{int64(42)},
				columns: []string{"stock"}, rows: [][]driver.Value{{int64(10)}},
				want: []string{"R " + p42 + ".stock 10" + lock}},
			{query: "COMMIT"},
			{query: "SELECT stock FROM products WHERE id = $1", args: []any{int64(42)},
				columns: []string{"stock"}, rows: [][]driver.Value{{int64(10)}},
				want: []string{"R " + p42 + ".stock 10"}},
		}},
		{"GORM First with soft delete", SystemPostgres, []step{{
			query: `SELECT * FROM "products" WHERE "products"."id" = $1 AND "products"."deleted_at" IS NULL ORDER BY "products"."id" LIMIT $2`,
			args:  []any{int64(42), int64(1)}, columns: allProducts,
			rows: [][]driver.Value{{int64(42), "lamp", int64(10), 9.5, "2026-01-02", nil}},
			want: []string{"R " + p42 + ".id 42", "R " + p42 + ".name lamp", "R " + p42 + ".stock 10",
				"R " + p42 + ".price 9.5", "R " + p42 + ".updated_at 2026-01-02", "R " + p42 + ".deleted_at"},
		}}},
		{"GORM Save with soft delete", SystemPostgres, []step{{
			query: `UPDATE "products" SET "stock"=$1,"updated_at"=$2 WHERE "products"."deleted_at" IS NULL AND "id" = $3`,
			args:  []any{int64(9), "2026-01-02", int64(42)}, affected: 1,
			want: []string{"R " + p42 + ".deleted_at" + lock, "W " + p42 + ".stock ->9", "W " + p42 + ".updated_at ->2026-01-02"},
		}}},
		{"GORM Create returns the new id", SystemPostgres, []step{{
			query:   `INSERT INTO "products" ("name","stock","price","updated_at","deleted_at") VALUES ($1,$2,$3,$4,$5) RETURNING "id"`,
			args:    []any{"lamp", int64(10), 9.5, "2026-01-02", nil},
			columns: []string{"id"}, rows: [][]driver.Value{{int64(43)}},
			want: []string{"W postgres/shop/products/43.id ->43", "W postgres/shop/products/43.name ->lamp",
				"W postgres/shop/products/43.stock ->10", "W postgres/shop/products/43.price ->9.5",
				"W postgres/shop/products/43.updated_at ->2026-01-02", "W postgres/shop/products/43.deleted_at ->"},
		}}},
		{"GORM Locking FOR UPDATE and IN lists", SystemPostgres, []step{
			{query: "BEGIN"},
			{query: `SELECT * FROM "products" WHERE "products"."id" IN ($1,$2) AND "products"."deleted_at" IS NULL FOR UPDATE`,
				args: []any{int64(42), int64(43)}, columns: []string{"id", "stock"},
				rows: [][]driver.Value{{int64(42), int64(10)}},
				want: []string{"R " + p42 + ".id 42" + lock, "R " + p42 + ".stock 10" + lock, "R " + p42 + ".deleted_at" + lock}},
			{query: `UPDATE "products" SET "stock"=$1 WHERE "id" = $2`, args: []any{int64(1), int64(43)}, affected: 1,
				want: []string{"W postgres/shop/products/43.stock ->1 x[postgres/shop/products/43]"}},
			{query: "COMMIT"},
		}},
		{"sqlc: a leading comment, and = ANY of an array argument", SystemPostgres, []step{
			{query: "-- name: GetProduct :one\nSELECT id, name, stock FROM products\nWHERE id = $1 LIMIT 1",
				args: []any{int64(42)}, columns: []string{"id", "name", "stock"},
				rows: [][]driver.Value{{int64(42), "lamp", int64(10)}},
				want: []string{"R " + p42 + ".id 42", "R " + p42 + ".name lamp", "R " + p42 + ".stock 10"}},
			{query: "-- name: ListProducts :many\nSELECT id, stock FROM products WHERE id = ANY($1::bigint[])",
				args: []any{[]int64{1, 2}}, columns: []string{"id", "stock"},
				rows: [][]driver.Value{{int64(1), int64(5)}, {int64(2), int64(6)}},
				want: []string{"R postgres/shop/products/1.id 1", "R postgres/shop/products/1.stock 5",
					"R postgres/shop/products/2.id 2", "R postgres/shop/products/2.stock 6"}},
			{query: "-- name: SetStock :exec\nUPDATE products SET stock = $2 WHERE id = $1",
				args: []any{int64(42), int64(7)}, affected: 1,
				want: []string{"W " + p42 + ".stock 10->7"}},
		}},
		{"ent: qualified columns, an increment, RETURNING", SystemPostgres, []step{
			{query: `SELECT DISTINCT "products"."id", "products"."stock" FROM "products" WHERE "products"."id" = $1 LIMIT 2`,
				args: []any{int64(42)}, columns: []string{"id", "stock"}, rows: [][]driver.Value{{int64(42), int64(10)}},
				want: []string{"R " + p42 + ".id 42", "R " + p42 + ".stock 10"}},
			{query: `UPDATE "products" SET "stock" = COALESCE("products"."stock", 0) + $1 WHERE "id" = $2 RETURNING "id", "stock"`,
				args: []any{int64(-1), int64(42)}, columns: []string{"id", "stock"}, rows: [][]driver.Value{{int64(42), int64(9)}},
				want: []string{"R " + p42 + ".stock" + lock, "W " + p42 + ".stock ->9" + lock}},
		}},
		{"bun: aliases, inlined values, parenthesised WHERE", SystemPostgres, []step{
			{query: `SELECT "p"."id", "p"."name", "p"."stock" FROM "products" AS "p" WHERE ("p"."id" = 42)`,
				columns: []string{"id", "name", "stock"}, rows: [][]driver.Value{{int64(42), "lamp", int64(10)}},
				want: []string{"R " + p42 + ".id 42", "R " + p42 + ".name lamp", "R " + p42 + ".stock 10"}},
			{query: `UPDATE "products" AS "p" SET "stock" = 9 WHERE ("p"."id" = 42)`, affected: 1,
				want: []string{"W " + p42 + ".stock 10->9"}},
			{query: `DELETE FROM "products" AS "p" WHERE ("p"."id" = 42)`, affected: 1,
				// The old values are those this thread saw.
				want: []string{"W " + p42 + ".id 42->", "W " + p42 + ".name lamp->", "W " + p42 + ".stock 9->",
					"W " + p42 + ".price ->", "W " + p42 + ".updated_at ->", "W " + p42 + ".deleted_at ->"}},
		}},
		{"sqlx: IN rebound to positional parameters, rows without the key", SystemPostgres, []step{
			{query: "SELECT stock FROM products WHERE id IN ($1, $2)", args: []any{int64(1), int64(2)},
				columns: []string{"stock"}, rows: [][]driver.Value{{int64(5)}, {int64(6)}},
				want: []string{"R postgres/shop/products/1.stock", "R postgres/shop/products/2.stock"}},
			{query: "SELECT stock FROM products WHERE id IN ($1, $2)", args: []any{int64(1), int64(3)},
				columns: []string{"stock"}, rows: [][]driver.Value{{int64(5)}},
				skip: []string{reasonNoKey}},
		}},
		{"an UPDATE run as a query, without RETURNING, says nothing of its rows", SystemPostgres, []step{
			{query: "UPDATE products SET stock = $1 WHERE id = $2", args: []any{int64(9), int64(42)},
				columns: []string{}, skip: []string{reasonPartial}},
		}},
		{"advisory locks are the thread's shared locks", SystemPostgres, []step{
			{query: "BEGIN"},
			{query: "SELECT pg_advisory_xact_lock($1)", args: []any{int64(7)}, columns: []string{"x"}, rows: [][]driver.Value{{""}}},
			{query: "SELECT stock FROM products WHERE id = $1", args: []any{int64(42)}, columns: []string{"stock"},
				rows: [][]driver.Value{{int64(10)}}, want: []string{"R " + p42 + ".stock 10 x[postgres/shop/advisory/7]"}},
			{query: "COMMIT"},
			{query: "SELECT pg_advisory_lock(1, 2)", affected: 1},
			{query: "SELECT pg_try_advisory_lock_shared($1::bigint) AS locked", args: []any{int64(3)}, columns: []string{"locked"},
				rows: [][]driver.Value{{true}}},
			{query: "SELECT pg_try_advisory_lock($1)", args: []any{int64(4)}, columns: []string{"locked"}, rows: [][]driver.Value{{false}}},
			{query: "UPDATE products SET stock = stock - 1 WHERE id = $1", args: []any{int64(42)}, affected: 1,
				want: []string{"R " + p42 + ".stock x[postgres/shop/advisory/1,2 " + p42 + "] r[postgres/shop/advisory/3]",
					"W " + p42 + ".stock -> x[postgres/shop/advisory/1,2 " + p42 + "] r[postgres/shop/advisory/3]"}},
			{query: "SELECT pg_advisory_unlock(1, 2)", affected: 1},
			{query: "SELECT pg_advisory_unlock_all()", columns: []string{"x"}, rows: [][]driver.Value{{""}}},
			{query: "UPDATE products SET stock = $1 WHERE id = $2", args: []any{int64(5), int64(42)}, affected: 1,
				want: []string{"W " + p42 + ".stock ->5"}},
			{query: "SELECT pg_try_advisory_lock(5)", affected: 1, skip: []string{reasonLockResult}},
			{query: "SELECT pg_advisory_lock(hashtext('x'))", affected: 1, skip: []string{reasonArgument}},
		}},
		{"MySQL GET_LOCK", SystemMySQL, []step{
			{query: "SELECT GET_LOCK('cart/9', 5)", columns: []string{"x"}, rows: [][]driver.Value{{int64(1)}}},
			{query: "UPDATE products SET stock = ? WHERE id = ?", args: []any{int64(5), int64(42)}, affected: 1,
				want: []string{"W mysql/shop/products/42.stock ->5 x[mysql/lock/cart%2F9]"}},
			{query: "SELECT RELEASE_LOCK('cart/9')", columns: []string{"x"}, rows: [][]driver.Value{{int64(1)}}},
			{query: "UPDATE products SET stock = ? WHERE id = ?", args: []any{int64(4), int64(42)}, affected: 1,
				want: []string{"W mysql/shop/products/42.stock 5->4"}},
		}},
		{"composite key, text key, upsert", SystemPostgres, []step{
			{query: "UPDATE order_items SET qty = $1 WHERE order_id = $2 AND product_id = $3", args: []any{int64(2), int64(7), int64(3)},
				affected: 1, want: []string{"W postgres/shop/order_items/7,3.qty ->2"}},
			{query: "INSERT INTO kv (key, value) VALUES ('a/b', '1'), ('c', '2')", affected: 2,
				want: []string{"W postgres/shop/kv/a%2Fb.key ->a/b", "W postgres/shop/kv/a%2Fb.value ->1",
					"W postgres/shop/kv/c.key ->c", "W postgres/shop/kv/c.value ->2"}},
			{query: "INSERT INTO products (id, stock) VALUES ($1, $2) ON CONFLICT (id) DO UPDATE SET stock = products.stock + EXCLUDED.stock",
				args: []any{int64(42), int64(5)}, affected: 1,
				want: []string{"R " + p42 + ".stock" + lock, "W " + p42 + ".id ->", "W " + p42 + ".name ->",
					"W " + p42 + ".stock ->" + lock, "W " + p42 + ".price ->", "W " + p42 + ".updated_at ->", "W " + p42 + ".deleted_at ->"}},
			{query: "INSERT INTO kv (key, value) VALUES ($1, $2) ON CONFLICT DO NOTHING", args: []any{"a", "2"}, affected: 0},
		}},
		{"quoted mixed-case names", SystemPostgres, []step{
			{query: `SELECT "Balance" FROM "Accounts" WHERE "Id" = $1`, args: []any{int64(7)},
				columns: []string{"Balance"}, rows: [][]driver.Value{{int64(100)}},
				want: []string{"R postgres/shop/Accounts/7.Balance 100"}},
			{query: `SELECT balance FROM "Accounts" WHERE "Id" = $1`, args: []any{int64(7)},
				columns: []string{"balance"}, skip: []string{reasonColumn}},
		}},
		{"statements that touch no row", SystemPostgres, []step{
			{query: "SELECT 1"}, {query: "SELECT now(), version()", columns: []string{"now", "version"}},
			{query: "SET search_path TO public"}, {query: "SHOW server_version", columns: []string{"server_version"}},
			{query: "SAVEPOINT a"}, {query: ";"},
		}},
		{"statements the capture skips, and counts", SystemPostgres, []step{
			{query: "SELECT p.stock FROM products p JOIN order_items i ON i.product_id = p.id WHERE p.id = $1",
				args: []any{int64(1)}, columns: []string{"stock"}, skip: []string{reasonJoin}},
			{query: "SELECT stock FROM products WHERE id = (SELECT product_id FROM order_items LIMIT 1)",
				columns: []string{"stock"}, skip: []string{reasonSubquery}},
			{query: "SELECT count(*) FROM products", columns: []string{"count"}, skip: []string{reasonExpression}},
			{query: "SELECT stock * 2 FROM products WHERE id = $1", args: []any{int64(1)}, columns: []string{"x"}, skip: []string{reasonExpression}},
			{query: "UPDATE products SET stock = 0", affected: 3, skip: []string{reasonNoKey}},
			{query: "SELECT stock FROM products WHERE name = $1", args: []any{"lamp"}, columns: []string{"stock"}, skip: []string{reasonNoKey}},
			{query: "CREATE TABLE t (id int)", skip: []string{reasonDDL}},
			{query: "WITH x AS (SELECT 1) SELECT * FROM x", columns: []string{"x"}, skip: []string{reasonStatement}},
			{query: "SELECT 1; SELECT 2", columns: []string{"x"}, skip: []string{reasonSyntax}},
			{query: "SELECT stock FROM products WHERE id = $1", columns: []string{"stock"}, skip: []string{reasonArgument}},
			{query: "SELECT stock FROM nowhere WHERE id = $1", args: []any{int64(1)}, columns: []string{"stock"}, skip: []string{reasonCatalog}},
			{query: "UPDATE products SET stock = $1 WHERE id IN ($2, $3)", args: []any{int64(0), int64(1), int64(2)},
				affected: 1, skip: []string{reasonPartial}},
		}},
		{"a transaction whose locks are not all known is skipped to its end", SystemPostgres, []step{
			{query: "BEGIN"},
			{query: "UPDATE products SET stock = 0 WHERE name = $1", args: []any{"lamp"}, affected: 1, skip: []string{reasonNoKey}},
			{query: "UPDATE products SET stock = $1 WHERE id = $2", args: []any{int64(9), int64(42)}, affected: 1, skip: []string{reasonOpaque}},
			{query: "COMMIT"},
			{query: "UPDATE products SET stock = $1 WHERE id = $2", args: []any{int64(9), int64(42)}, affected: 1,
				want: []string{"W " + p42 + ".stock ->9"}},
			{query: "BEGIN"},
			{query: "LOCK TABLE products IN EXCLUSIVE MODE"},
			{query: "SELECT stock FROM products WHERE id = $1", args: []any{int64(42)}, columns: []string{"stock"}, skip: []string{reasonOpaque}},
			{query: "ROLLBACK"},
			{query: "BEGIN"},
			{query: "SELECT p.stock FROM products p, order_items i WHERE p.id = $1", args: []any{int64(42)},
				columns: []string{"stock"}, skip: []string{reasonJoin}}, // reads, locks nothing
			{query: "SELECT stock FROM products WHERE id = $1", args: []any{int64(42)}, columns: []string{"stock"},
				rows: [][]driver.Value{{int64(9)}}, want: []string{"R " + p42 + ".stock 9"}},
			{query: "COMMIT"},
		}},
		{"MySQL: backquotes, ? parameters, atomic conditional decrement", SystemMySQL, []step{
			{query: "SELECT `stock` FROM `products` WHERE `products`.`id` = ? ORDER BY `products`.`id` LIMIT ?",
				args: []any{int64(42), int64(1)}, columns: []string{"stock"}, rows: [][]driver.Value{{[]byte("10")}},
				want: []string{"R mysql/shop/products/42.stock 10"}},
			{query: "UPDATE `products` SET `stock`=?,`updated_at`=? WHERE `id` = ?", args: []any{int64(9), "t", int64(42)}, affected: 1,
				want: []string{"W mysql/shop/products/42.stock 10->9", "W mysql/shop/products/42.updated_at ->t"}},
			{query: "UPDATE products SET stock = stock - ? WHERE id = ? AND stock >= ?", args: []any{int64(1), int64(42), int64(1)}, affected: 1,
				want: []string{"R mysql/shop/products/42.stock x[mysql/shop/products/42]", "W mysql/shop/products/42.stock -> x[mysql/shop/products/42]"}},
			{query: `SELECT stock FROM products WHERE name = "id" AND id = 42 # a comment`,
				columns: []string{"stock"}, rows: [][]driver.Value{{int64(8)}},
				want: []string{"R mysql/shop/products/42.stock 8", "R mysql/shop/products/42.name"}},
			{query: "INSERT INTO products (name, stock) VALUES (?, ?)", args: []any{"lamp", int64(3)}, affected: 1, lastID: 44,
				want: []string{"W mysql/shop/products/44.id ->44", "W mysql/shop/products/44.name ->lamp", "W mysql/shop/products/44.stock ->3",
					"W mysql/shop/products/44.price ->", "W mysql/shop/products/44.updated_at ->", "W mysql/shop/products/44.deleted_at ->"}},
			{query: "INSERT INTO kv (`key`, value) VALUES (?, ?) ON DUPLICATE KEY UPDATE value = VALUES(value)", args: []any{"a", "1"}, affected: 2,
				want: []string{"W mysql/shop/kv/a.key ->", "W mysql/shop/kv/a.value ->"}},
			{query: "SELECT @@version", columns: []string{"v"}, skip: []string{reasonSyntax}},
		}},
		{"MySQL SERIALIZABLE: plain reads lock in share mode", SystemMySQL, []step{
			{query: "SET TRANSACTION ISOLATION LEVEL SERIALIZABLE"},
			{query: "START TRANSACTION"},
			{query: "SELECT stock FROM products WHERE id = ?", args: []any{int64(42)}, columns: []string{"stock"},
				rows: [][]driver.Value{{int64(10)}}, want: []string{"R mysql/shop/products/42.stock 10 r[mysql/shop/products/42]"}},
			{query: "UPDATE products SET stock = ? WHERE id = ?", args: []any{int64(9), int64(42)}, affected: 1,
				want: []string{"W mysql/shop/products/42.stock 10->9 x[mysql/shop/products/42]"}},
			{query: "COMMIT"},
			{query: "START TRANSACTION"}, // SET TRANSACTION was for one transaction only
			{query: "SELECT stock FROM products WHERE id = ?", args: []any{int64(42)}, columns: []string{"stock"},
				rows: [][]driver.Value{{int64(9)}}, want: []string{"R mysql/shop/products/42.stock 9"}},
			{query: "COMMIT"},
		}},
		{"MySQL autocommit off: an implicit transaction until COMMIT", SystemMySQL, []step{
			{query: "SET autocommit = 0"},
			{query: "SELECT stock FROM products WHERE id = ? LOCK IN SHARE MODE", args: []any{int64(42)}, columns: []string{"stock"},
				rows: [][]driver.Value{{int64(10)}}, want: []string{"R mysql/shop/products/42.stock 10 r[mysql/shop/products/42]"}},
			{query: "COMMIT"},
			{query: "SELECT stock FROM products WHERE id = ?", args: []any{int64(42)}, columns: []string{"stock"},
				rows: [][]driver.Value{{int64(10)}}, want: []string{"R mysql/shop/products/42.stock 10"}},
		}},
		{"SQLite: named parameters; transactions serialise writers on the database", SystemSQLite, []step{
			{query: "SELECT stock FROM products WHERE id = :id", args: []any{driver.NamedValue{Name: "id", Ordinal: 1, Value: int64(42)}},
				columns: []string{"stock"}, rows: [][]driver.Value{{int64(10)}},
				want: []string{"R sqlite//data/shop.db/products/42.stock 10"}},
			{query: "UPDATE products SET stock = stock - 1 WHERE id = ?1", args: []any{int64(42)}, affected: 1,
				want: []string{"R sqlite//data/shop.db/products/42.stock x[sqlite//data/shop.db]",
					"W sqlite//data/shop.db/products/42.stock -> x[sqlite//data/shop.db]"}},
			{query: "BEGIN IMMEDIATE"},
			{query: "SELECT [stock] FROM `products` WHERE \"id\" = $1", args: []any{int64(42)},
				columns: []string{"stock"}, rows: [][]driver.Value{{int64(9)}},
				want: []string{"R sqlite//data/shop.db/products/42.stock 9 x[sqlite//data/shop.db]"}},
			{query: "UPDATE products SET stock = ? WHERE id = ?", args: []any{int64(8), int64(42)}, affected: 1,
				want: []string{"W sqlite//data/shop.db/products/42.stock 9->8 x[sqlite//data/shop.db]"}},
			{query: "COMMIT"},
			{query: "INSERT OR REPLACE INTO kv VALUES (?, ?)", args: []any{"a", "1"}, affected: 1,
				want: []string{"W sqlite//data/shop.db/kv/a.key ->", "W sqlite//data/shop.db/kv/a.value ->"}},
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := newTestConn(t, tc.system)
			for _, s := range tc.steps {
				got, skipped := c.run(s)
				if !slices.Equal(got, s.want) {
					t.Errorf("%s\nrecords:%s\nwant:%s", s.query, lines(got), lines(s.want))
				}
				if !slices.Equal(skipped, s.skip) {
					t.Errorf("%s\nskipped %v, want %v", s.query, skipped, s.skip)
				}
			}
		})
	}
}
