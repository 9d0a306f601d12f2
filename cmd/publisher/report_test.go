package main

import (
	"bytes"
	"io"
	"strings"
	"sync/atomic"
	"testing"
)

// Off a terminal the progress bar draws nothing: piped and logged stderr
// stays clean.
func TestProgress_NothingOffATerminal(t *testing.T) {
	var buf bytes.Buffer
	for _, total := range []progressTotal{{total: 100}, {total: 1 << 20, bytes: true}, {total: -1}} {
		p := startProgress(&buf, total, func() int64 { return 50 })
		p.end()
	}
	if buf.Len() != 0 {
		t.Errorf("progress wrote %q off a terminal", buf.String())
	}
}

func TestCountingReader(t *testing.T) {
	var n atomic.Int64
	b, err := io.ReadAll(countingReader{r: strings.NewReader("hello, world"), n: &n})
	if err != nil || n.Load() != int64(len(b)) || len(b) != 12 {
		t.Errorf("read %d bytes, counted %d, err %v", len(b), n.Load(), err)
	}
}
