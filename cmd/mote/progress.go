package main

import (
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/motevm/mote/vmm"
)

// progressDelay is how long a step may take before mote says what it is
// doing: a cached build takes a fraction of a second and prints nothing,
// a first build of a large program takes tens of seconds.
const progressDelay = 700 * time.Millisecond

// progress reports a long step on a terminal: after progressDelay it
// prints "mote: WHAT..." and then the elapsed seconds in place, every
// second, until done, which ends the line with the total time. On
// anything but a terminal (a pipe, a log, a test) it prints nothing.
type progress struct {
	w    io.Writer
	what string
	stop chan struct{}
	wg   sync.WaitGroup
	t0   time.Time
	said bool
}

func startProgress(w io.Writer, what string) *progress {
	p := &progress{w: w, what: what, stop: make(chan struct{}), t0: time.Now()}
	if !isTerminal(w) {
		return p
	}
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		t := time.NewTimer(progressDelay)
		defer t.Stop()
		for {
			select {
			case <-p.stop:
				return
			case <-t.C:
				p.said = true
				fmt.Fprintf(p.w, "\rmote: %s... %.0fs", p.what, time.Since(p.t0).Seconds())
				t.Reset(time.Second)
			}
		}
	}()
	return p
}

// done ends the report (ok: the step succeeded).
func (p *progress) done(ok bool) {
	close(p.stop)
	p.wg.Wait()
	if !p.said {
		return
	}
	end := "done"
	if !ok {
		end = "failed"
	}
	fmt.Fprintf(p.w, "\rmote: %s... %s in %.1fs\n", p.what, end, time.Since(p.t0).Seconds())
}

// isTerminal reports whether w is a terminal (a variable for tests).
var isTerminal = func(w io.Writer) bool { return vmm.IsTerminal(w) }

// progressWriter is where a build's progress goes: nowhere when verbose
// (the steps are printed instead).
func progressWriter(stderr io.Writer, verbose bool) io.Writer {
	if verbose {
		return io.Discard
	}
	return stderr
}
