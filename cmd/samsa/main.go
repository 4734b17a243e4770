// Command samsa is the Samsa streaming platform: a Kafka-compatible broker and its
// tools in one binary. See `samsa help`.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/samsa-io/samsa/internal/cli"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := cli.Run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "samsa:", err)
		stop()
		os.Exit(1)
	}
}
