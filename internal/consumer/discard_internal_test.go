package consumer

import "testing"

func TestDiscards_Note(t *testing.T) {
	t.Parallel()
	var d discards
	steps := []struct{ first, delivered, want uint64 }{
		{1, 0, 0},      // nothing discarded
		{0, 0, 0},      // empty stream
		{101, 0, 100},  // 1..100 gone before any delivery
		{101, 0, 0},    // the same gap, counted once
		{151, 120, 30}, // 121..150; 101..120 were delivered
		{151, 200, 0},  // the consumer is past the first sequence
		{300, 290, 9},  // 291..299
		{300, 299, 0},
	}
	for i, s := range steps {
		if got := d.note(s.first, s.delivered); got != s.want {
			t.Errorf("step %d: note(first %d, delivered %d) = %d, want %d", i, s.first, s.delivered, got, s.want)
		}
	}
}
