# Thin aliases; the commands themselves need only Go.
.PHONY: test bench
test:
	go run ./dev test
bench:
	go run ./dev bench
