// Command nettrain trains, evaluates and checks the cs231n two-layer network,
// and deeper fully connected nets, on CIFAR-10. Run "nettrain --help" for the commands.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	e := defaultEnv()
	ctx, cancel := context.WithCancel(context.Background())
	// The first SIGINT or SIGTERM cancels ctx: train stops after the current
	// iteration and saves what it has. A second one quits at once.
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	go func() {
		s := <-sigs
		if !e.graceful.Load() {
			fmt.Fprintf(os.Stderr, "\nnettrain: %v: quitting (nothing to save yet)\n", s)
			os.Exit(exitInterrupted)
		}
		fmt.Fprintf(os.Stderr, "\nnettrain: %v: stopping after this iteration and saving; %v again quits at once without saving\n", s, s)
		cancel()
		s = <-sigs
		fmt.Fprintf(os.Stderr, "nettrain: %v again: quitting now\n", s)
		os.Exit(exitInterrupted)
	}()
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr, e)
	cancel()
	os.Exit(code)
}
