// Command hostsig is the guest of tests/signal_test.go: signals sent to the
// mote process reach the program's os/signal.
//
//	hostsig handle   prints each SIGTERM/SIGHUP it gets; exits 3 after SIGTERM
//	hostsig busy     the same, while every goroutine spins (no idle vCPU)
//	hostsig ignore   ignores SIGINT and waits
//	hostsig none     no handlers: waits (the default action ends it)
package main

import (
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"
)

func main() {
	mode := "handle"
	if len(os.Args) > 1 {
		mode = os.Args[1]
	}
	c := make(chan os.Signal, 4)
	switch mode {
	case "handle", "busy":
		signal.Notify(c, syscall.SIGTERM, syscall.SIGHUP)
	case "ignore":
		signal.Ignore(syscall.SIGINT)
	}
	if mode == "busy" {
		for i := 0; i < 4; i++ {
			go func() {
				for {
				}
			}()
		}
	}
	fmt.Println("ready")
	deadline := time.After(30 * time.Second)
	for {
		select {
		case s := <-c:
			fmt.Println("got", s)
			if s == syscall.SIGTERM {
				os.Exit(3)
			}
		case <-deadline:
			fmt.Println("no signal")
			os.Exit(1)
		}
	}
}
