package story

import (
	"fmt"
	"os"
	"testing"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(mappingsReturned{m}) }

// mappingsReturned fails a passing run that leaves index memory mapped: a
// test (or benchmark) that drops an index without closing it, or a release
// that a code path forgot.
type mappingsReturned struct{ m *testing.M }

func (r mappingsReturned) Run() int {
	code := r.m.Run()
	if n := mappedBytes.Load(); code == 0 && n != 0 {
		fmt.Fprintf(os.Stderr, "story: %d bytes of index memory still mapped after the tests: an index was not closed\n", n)
		return 1
	}
	return code
}
