// Command racewaydashboard prints Raceway's Grafana dashboard as JSON:
//
//	go run ./cmd/racewaydashboard > raceway.json
package main

import (
	"fmt"
	"os"

	"github.com/raceway-otel/raceway/dashboards"
)

func main() {
	out, err := dashboards.JSON()
	if err != nil {
		fmt.Fprintln(os.Stderr, "racewaydashboard:", err)
		os.Exit(1)
	}
	if _, err := os.Stdout.Write(out); err != nil {
		fmt.Fprintln(os.Stderr, "racewaydashboard:", err)
		os.Exit(1)
	}
}
