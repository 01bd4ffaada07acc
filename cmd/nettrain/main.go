// Command nettrain trains, evaluates and checks the cs231n two-layer network
// on CIFAR-10. Run "nettrain --help" for the commands.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr, defaultEnv())
	stop()
	os.Exit(code)
}
