// Command nettrain trains, evaluates and checks the cs231n two-layer network
// on CIFAR-10. Run "nettrain --help" for the commands.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"sync/atomic"
	"syscall"
)

// graceful is set by a command from the moment it stops cleanly on a
// cancelled context with something worth keeping: training, a sweep, a
// download. Before that (loading data, fitting ZCA, a gradient check) a
// signal quits at once: there is nothing to save, and those stages do not
// watch the context.
var graceful atomic.Bool

func main() {
	ctx, cancel := context.WithCancel(context.Background())
	// The first SIGINT or SIGTERM cancels ctx: train stops after the current
	// iteration and saves what it has. A second one quits at once.
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	go func() {
		s := <-sigs
		if !graceful.Load() {
			fmt.Fprintf(os.Stderr, "\nnettrain: %v: quitting (nothing to save yet)\n", s)
			os.Exit(exitInterrupted)
		}
		fmt.Fprintf(os.Stderr, "\nnettrain: %v: stopping after this iteration and saving; %v again quits at once without saving\n", s, s)
		cancel()
		s = <-sigs
		fmt.Fprintf(os.Stderr, "nettrain: %v again: quitting now\n", s)
		os.Exit(exitInterrupted)
	}()
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr, defaultEnv())
	cancel()
	os.Exit(code)
}
