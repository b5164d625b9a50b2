# Thin aliases; the commands themselves need only Go.
.PHONY: demo test bench
demo:
	go run ./dev demo
test:
	go run ./dev test
bench:
	go run ./dev bench
