package natsflag

import (
	"io"
	"strings"
	"testing"

	"github.com/spf13/pflag"
)

func TestStream_ConfigChecksNameFlags(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--stream-storage=disk"}, "--stream-storage"},
		{[]string{"--stream-replicas=7"}, "--stream-replicas"},
		{[]string{"--stream-max-bytes=-1"}, "--stream-max-bytes"},
		{[]string{"--subjects= , "}, "--subjects"},
	} {
		fs := pflag.NewFlagSet("x", pflag.ContinueOnError)
		fs.SetOutput(io.Discard)
		var s Stream
		s.Register(fs)
		if err := fs.Parse(tc.args); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Config(); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: got %v, want an error naming %s", tc.args, err, tc.want)
		}
	}
}

func TestStream_Defaults(t *testing.T) {
	t.Parallel()
	fs := pflag.NewFlagSet("x", pflag.ContinueOnError)
	var s Stream
	s.Register(fs)
	if err := fs.Parse([]string{"--subjects", "a.>, b.>"}); err != nil {
		t.Fatal(err)
	}
	sc, err := s.Config()
	if err != nil {
		t.Fatal(err)
	}
	if sc.Name != "NEWS" || len(sc.Subjects) != 2 || sc.Subjects[1] != "b.>" || sc.MaxBytes != 0 {
		t.Fatalf("unexpected config %+v", sc)
	}
}

func TestRedactURL(t *testing.T) {
	t.Parallel()
	if got := RedactURL("nats://u:secret@h:4222"); strings.Contains(got, "secret") {
		t.Fatalf("password not redacted: %s", got)
	}
}
