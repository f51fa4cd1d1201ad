package image

import (
	"bytes"
	"os"
	"strings"
	"testing"
)

// TestFileLine symbolizes the test binary itself (a real Go binary) with
// file:line, bypassing the mote-note validation.
func TestFileLine(t *testing.T) {
	exe, err := os.Executable()
	if err != nil {
		t.Skip(err)
	}
	raw, err := os.ReadFile(exe)
	if err != nil {
		t.Skip(err)
	}
	img := &Image{r: bytes.NewReader(raw), End: ^uint64(0)}
	var pc uint64
	for _, s := range img.Symbols() {
		if s.Name == "github.com/motevm/mote/image.TestFileLine" {
			pc = s.Addr + 8
		}
	}
	if pc == 0 {
		t.Skipf("test binary has no symbol table (%d symbols)", len(img.Symbols()))
	}
	name, off := img.Symbolize(pc)
	file, line, ok := img.FileLine(pc)
	if name != "github.com/motevm/mote/image.TestFileLine" || off != 8 || !ok || !strings.HasSuffix(file, "lines_test.go") || line < 10 {
		t.Fatalf("got %s+%d %s:%d %v", name, off, file, line, ok)
	}
}
