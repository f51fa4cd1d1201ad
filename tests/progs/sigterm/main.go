// Command sigterm is the guest of tests/instance_test.go: a service that
// idles until it is asked to stop.
//
// It prints "ready", waits for SIGTERM with os/signal (mote stop sends it
// to the monitor, which delivers it into the guest), prints "got SIGTERM,
// cleaning up" and exits 0. With the argument "panic" it panics instead
// of waiting (a crash, for mote ps's crashed status); with "ignore" it
// ignores SIGTERM and waits forever (mote stop has to kill it).
package main

import (
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"
)

func main() {
	mode := ""
	if len(os.Args) > 1 {
		mode = os.Args[1]
	}
	c := make(chan os.Signal, 1)
	if mode == "ignore" {
		signal.Ignore(syscall.SIGTERM)
	} else {
		signal.Notify(c, syscall.SIGTERM)
	}
	fmt.Println("ready")
	switch mode {
	case "panic":
		panic("sigterm: asked to panic")
	case "ignore":
		for {
			time.Sleep(time.Hour) // not a channel: the runtime would call it a deadlock
		}
	}
	<-c
	fmt.Println("got SIGTERM, cleaning up")
	os.Exit(0)
}
