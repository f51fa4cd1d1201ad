package main

import (
	"bytes"
	"io"
	"regexp"
	"testing"
	"time"
)

func TestProgress(t *testing.T) {
	// Not a terminal: nothing, however long it takes.
	var b bytes.Buffer
	p := startProgress(&b, "building x")
	time.Sleep(progressDelay + 100*time.Millisecond)
	p.done(true)
	if b.Len() != 0 {
		t.Errorf("wrote %q to a non-terminal", b.String())
	}

	orig := isTerminal
	defer func() { isTerminal = orig }()
	isTerminal = func(io.Writer) bool { return true }
	// Quick: nothing either.
	b.Reset()
	startProgress(&b, "building x").done(true)
	if b.Len() != 0 {
		t.Errorf("a quick step wrote %q", b.String())
	}
	// Slow: the step, then its end on the same line.
	b.Reset()
	p = startProgress(&b, "building x")
	time.Sleep(progressDelay + 1100*time.Millisecond)
	p.done(false)
	if !regexp.MustCompile(`^\rmote: building x\.\.\. 1s(\rmote: building x\.\.\. \ds)*\rmote: building x\.\.\. failed in \d\.\ds\n$`).MatchString(b.String()) {
		t.Errorf("slow step wrote %q", b.String())
	}
}
