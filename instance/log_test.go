package instance

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// readBack returns what the records of the log at path give back per
// stream, and the records.
func readBack(t *testing.T, path string, timestamps bool) (stdout, stderr string, recs []Record) {
	t.Helper()
	fw := NewFollower(path)
	defer fw.Close()
	recs, err := fw.Next()
	if err != nil {
		t.Fatal(err)
	}
	var o, e bytes.Buffer
	p := &Printer{Stdout: &o, Stderr: &e, Timestamps: timestamps}
	for _, r := range recs {
		p.Print(r)
	}
	return o.String(), e.String(), recs
}

func TestLogWriterRecords(t *testing.T) {
	path := filepath.Join(t.TempDir(), "console.log")
	w, err := OpenLog(path)
	if err != nil {
		t.Fatal(err)
	}
	fixed := time.Date(2025, 1, 2, 15, 4, 5, 123456789, time.UTC)
	w.now = func() time.Time { return fixed }
	out, errs := w.Stream(StreamStdout), w.Stream(StreamStderr)
	fmt.Fprint(out, "hello, world\nsecond line\n")
	fmt.Fprint(out, "no newline yet")
	fmt.Fprint(out, " ... done\n")
	fmt.Fprint(errs, "panic: boom\n\ngoroutine 1 [running]:\n")
	fmt.Fprint(out, "ready") // a partial line, then the other stream
	fmt.Fprint(errs, "warning\n")
	fmt.Fprint(out, " steady\n")
	fmt.Fprint(out, "tail without newline")
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	fmt.Fprint(out, "after close\n") // dropped, not a crash

	file, _ := os.ReadFile(path)
	want := `2025-01-02T15:04:05.123456789Z out hello, world
2025-01-02T15:04:05.123456789Z out second line
2025-01-02T15:04:05.123456789Z out no newline yet ... done
2025-01-02T15:04:05.123456789Z err panic: boom
2025-01-02T15:04:05.123456789Z err 
2025-01-02T15:04:05.123456789Z err goroutine 1 [running]:
2025-01-02T15:04:05.123456789Z out+ ready
2025-01-02T15:04:05.123456789Z err warning
2025-01-02T15:04:05.123456789Z out  steady
2025-01-02T15:04:05.123456789Z out+ tail without newline
`
	if string(file) != want {
		t.Errorf("log file:\n%s\nwant:\n%s", file, want)
	}
	so, se, recs := readBack(t, path, false)
	if want := "hello, world\nsecond line\nno newline yet ... done\nready steady\ntail without newline"; so != want {
		t.Errorf("stdout back %q, want %q", so, want)
	}
	if want := "panic: boom\n\ngoroutine 1 [running]:\nwarning\n"; se != want {
		t.Errorf("stderr back %q, want %q", se, want)
	}
	// -t: a time at the start of each line, not inside one.
	so, _, _ = readBack(t, path, true)
	if !strings.HasPrefix(so, "2025-01-02T15:04:05.123456789Z hello, world\n") || !strings.Contains(so, "\n2025-01-02T15:04:05.123456789Z ready steady\n") {
		t.Errorf("stdout with timestamps:\n%s", so)
	}
	if tm, err := recs[0].ParseTime(); err != nil || !tm.Equal(fixed) {
		t.Errorf("record time %v, %v", tm, err)
	}
}

// TestLogWriterPartialFlush: output without a newline reaches the file
// after flushDelay, so mote logs shows a prompt or a progress line.
func TestLogWriterPartialFlush(t *testing.T) {
	path := filepath.Join(t.TempDir(), "console.log")
	w, err := OpenLog(path)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	fmt.Fprint(w.Stream(StreamStdout), "ready")
	deadline := time.Now().Add(5 * time.Second)
	for {
		b, _ := os.ReadFile(path)
		if strings.HasSuffix(string(b), " out+ ready\n") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("partial line not flushed: %q", b)
		}
		time.Sleep(10 * time.Millisecond)
	}
	fmt.Fprint(w.Stream(StreamStdout), "!\n")
	w.Close()
	if so, _, _ := readBack(t, path, false); so != "ready!\n" {
		t.Errorf("stdout back %q", so)
	}
	// A long line without a newline is cut into partial records.
	path2 := filepath.Join(t.TempDir(), "console.log")
	w2, _ := OpenLog(path2)
	long := strings.Repeat("x", 3*maxPartial+5)
	fmt.Fprint(w2.Stream(StreamStdout), long)
	w2.Close()
	if so, _, recs := readBack(t, path2, false); so != long || len(recs) != 1 || !recs[0].Partial {
		t.Errorf("long line: %d bytes back in %d records", len(so), len(recs))
	}
}

func TestParseRecord(t *testing.T) {
	for line, want := range map[string]Record{
		"2025-01-02T15:04:05Z out hi":         {Time: "2025-01-02T15:04:05Z", Text: []byte("hi")},
		"2025-01-02T15:04:05.5Z err+ a b":     {Time: "2025-01-02T15:04:05.5Z", Stream: StreamStderr, Partial: true, Text: []byte("a b")},
		"2025-01-02T15:04:05Z out ":           {Time: "2025-01-02T15:04:05Z", Text: []byte("")},
		"not a record":                        {Text: []byte("not a record")},
		"2025-01-02T15:04:05Z bogus text":     {Text: []byte("2025-01-02T15:04:05Z bogus text")},
		"fatal error: all goroutines are ...": {Text: []byte("fatal error: all goroutines are ...")},
	} {
		got := ParseRecord([]byte(line))
		if got.Time != want.Time || got.Stream != want.Stream || got.Partial != want.Partial || string(got.Text) != string(want.Text) {
			t.Errorf("ParseRecord(%q) = %+v, want %+v", line, got, want)
		}
	}
}

func TestTailRecords(t *testing.T) {
	r := func(s int, partial bool, text string) Record {
		return Record{Stream: s, Partial: partial, Text: []byte(text)}
	}
	recs := []Record{
		r(0, false, "1"),
		r(0, true, "2a"), r(1, false, "e1"), r(0, false, "2b"),
		r(0, false, "3"),
		r(0, true, "4 unfinished"),
	}
	text := func(rs []Record) string {
		var b []string
		for _, r := range rs {
			b = append(b, string(r.Text))
		}
		return strings.Join(b, ",")
	}
	for n, want := range map[int]string{
		-1: "1,2a,e1,2b,3,4 unfinished",
		0:  "",
		1:  "4 unfinished",
		2:  "3,4 unfinished",
		3:  "2b,3,4 unfinished", // line 2 began before the stderr line: cut
		4:  "2a,e1,2b,3,4 unfinished",
		5:  "1,2a,e1,2b,3,4 unfinished",
		9:  "1,2a,e1,2b,3,4 unfinished",
	} {
		if got := text(TailRecords(recs, n)); got != want {
			t.Errorf("TailRecords(%d) = %s, want %s", n, got, want)
		}
	}
}

// TestLogRotation writes past a small maximum size while a follower reads:
// the file is rotated (one old file kept, sizes bounded) and the follower
// sees every line once, in order.
func TestLogRotation(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "console.log")
	w, err := OpenLog(path)
	if err != nil {
		t.Fatal(err)
	}
	const maxSize = 1000
	w.maxSize = maxSize
	const lines = 500
	fw := NewFollower(path)
	defer fw.Close()
	var got []string
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 0; i < lines; i++ {
			fmt.Fprintf(w.Stream(StreamStdout), "line %d\n", i)
			if i%10 == 0 {
				time.Sleep(time.Millisecond)
			}
		}
	}()
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	// The follower starts after the writer: the first Next also reads
	// console.log.1 if a rotation happened already, like mote logs -f.
	for finished := false; !finished; {
		select {
		case <-done:
			finished = true
		default:
		}
		recs, err := fw.Next()
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range recs {
			got = append(got, string(r.Text))
		}
		time.Sleep(200 * time.Microsecond)
	}
	w.Close()
	recs, _ := fw.Next()
	for _, r := range recs {
		got = append(got, string(r.Text))
	}
	// Lines lost with a rotated-away file (a follower too slow for two
	// rotations) would show as gaps; with this pace there are none, but
	// the beginning may be gone if the follower started late.
	if len(got) == 0 {
		t.Fatal("follower read nothing")
	}
	first := 0
	fmt.Sscanf(got[0], "line %d", &first)
	for i, l := range got {
		if want := fmt.Sprintf("line %d", first+i); l != want {
			t.Fatalf("follower line %d is %q, want %q (got %d lines from %d)", i, l, want, len(got), first)
		}
	}
	if first+len(got) != lines {
		t.Errorf("follower ended at line %d, want %d", first+len(got)-1, lines-1)
	}
	for _, p := range []string{path, path + ".1"} {
		st, err := os.Stat(p)
		if err != nil || st.Size() > maxSize {
			t.Errorf("%s: size %v, %v (max %d)", p, st.Size(), err, maxSize)
		}
	}
	if _, err := os.Stat(path + ".2"); err == nil {
		t.Error("more than one old file kept")
	}
	// Read from scratch: the last lines, from both files, in order.
	_, _, recs = readBack(t, path, false)
	last := fmt.Sprintf("line %d", lines-1)
	if len(recs) == 0 || string(recs[len(recs)-1].Text) != last {
		t.Errorf("last record after rotation: %v", recs)
	}
	if len(recs) < maxSize/40 {
		t.Errorf("only %d records kept in the two files", len(recs))
	}
}
