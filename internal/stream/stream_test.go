package stream_test

import (
	"strings"
	"testing"

	"newsflow/internal/stream"
)

func TestSubjects(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		filter, subject string
		want            bool
	}{
		{"news.>", "news.ingest.tg", true},
		{"news.>", "news", false},
		{"news.*", "news.a", true},
		{"news.*", "news.a.b", false},
		{"news.a", "news.a", true},
		{"news.a", "news.b", false},
	} {
		if got := stream.Matches(tc.filter, tc.subject); got != tc.want {
			t.Errorf("Matches(%q, %q) = %v, want %v", tc.filter, tc.subject, got, tc.want)
		}
	}
	for _, tc := range []struct {
		a, b string
		want bool
	}{
		{"news.>", "news-dlq.>", false},
		{"news.>", "news.dlq.>", true},
		{">", "x.y", true},
		{"a.*", "a.b.c", false},
	} {
		if got := stream.Collide(tc.a, tc.b); got != tc.want {
			t.Errorf("Collide(%q, %q) = %v, want %v", tc.a, tc.b, got, tc.want)
		}
	}
	for _, tc := range []struct {
		s          string
		wild, want bool
	}{
		{"news.a", false, true},
		{"news.>", true, true},
		{"news.>", false, false},
		{"news.*.x", false, false},
		{"news..a", true, false},
		{"news.>.a", true, false},
		{"news a", true, false},
		{"", true, false},
	} {
		if err := stream.ValidSubject("F", tc.s, tc.wild); (err == nil) != tc.want {
			t.Errorf("ValidSubject(%q, wild=%v) = %v, want ok=%v", tc.s, tc.wild, err, tc.want)
		} else if err != nil && !strings.Contains(err.Error(), "F") {
			t.Errorf("ValidSubject error %q does not name the field", err)
		}
	}
}

func TestDLQ_Validate(t *testing.T) {
	t.Parallel()
	of := stream.DefaultConfig()
	if err := stream.DefaultDLQ().Validate(of); err != nil {
		t.Fatalf("default DLQ rejected: %v", err)
	}
	for _, d := range []stream.DLQ{
		{Name: "NEWS", SubjectPrefix: "x"},
		{Name: "D", SubjectPrefix: "news.dlq"},
		{Name: "D", SubjectPrefix: "x.*"},
		{Name: "D.x", SubjectPrefix: "x"},
	} {
		if err := d.Validate(of); err == nil {
			t.Errorf("%+v accepted", d)
		}
	}
}
