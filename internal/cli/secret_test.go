package cli

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// TestExecute_Redacts: the returned error and the command's stderr carry
// no secret of its flags or their variables, whatever form it takes there.
func TestExecute_Redacts(t *testing.T) {
	var url, key, other string
	var stderr bytes.Buffer
	cmd := &cobra.Command{Use: "x", RunE: func(c *cobra.Command, _ []string) error {
		fmt.Fprintf(c.ErrOrStderr(), "log: dialing %s with key %s (%s)\n", strings.ReplaceAll(url, "nats://", ""), key, other)
		return fmt.Errorf("line one: key %s\nline two: token TOKENVALUE1", key)
	}}
	fs := cmd.Flags()
	fs.StringVar(&url, "nats-url", "", "")
	fs.StringVar(&key, "openai-api-key", "", "")
	fs.StringVar(&other, "custom-token", "", "")
	Config(fs, "Connections", "nats-url", "openai-api-key", "custom-token")
	Secret(fs, "custom-token")
	root := &cobra.Command{Use: "root"}
	root.AddCommand(cmd)
	root.SetErr(&stderr)
	root.SetOut(&stderr)
	err := Execute(context.Background(), root, []string{"x", "--nats-url", "nats://u:PASSWORD1@h1, nats://TOKENVALUE1@h2", "--custom-token", "CUSTOM-SECRET"},
		env(map[string]string{"OPENAI_API_KEY": "sk-KEYVALUE1"}))
	if err == nil {
		t.Fatal("no error")
	}
	for _, out := range []string{err.Error(), stderr.String()} {
		for _, s := range []string{"PASSWORD1", "TOKENVALUE1", "KEYVALUE1", "CUSTOM-SECRET"} {
			if strings.Contains(out, s) {
				t.Errorf("%q printed: %q", s, out)
			}
		}
	}
	if want := "line one: key xxxxx; line two: token xxxxx"; err.Error() != want {
		t.Errorf("error = %q, want %q", err, want)
	}
	if ExitCode(err) != 1 {
		t.Errorf("exit code %d, want 1", ExitCode(err))
	}
	var ue *UsageError
	if err := Execute(context.Background(), root, []string{"x", "--nats-url", "nats://u:PASSWORD1@h", "--bogus"}, env(nil)); !errors.As(err, &ue) || strings.Contains(err.Error(), "PASSWORD1") {
		t.Errorf("usage error %v", err)
	}
}

func TestMasked(t *testing.T) {
	var url, key, plain string
	cmd := &cobra.Command{Use: "x"}
	fs := cmd.Flags()
	fs.StringVar(&url, "database-url", "host=h password='p w' user=u", "")
	fs.StringVar(&key, "gemini-api-key", "AIzaKEY", "")
	fs.StringVar(&plain, "stream", "NEWS", "")
	Config(fs, "Database", "database-url", "gemini-api-key", "stream")
	for name, want := range map[string]string{"database-url": "host=h password=xxxxx user=u", "gemini-api-key": "xxxxx", "stream": "NEWS"} {
		if got := Masked(fs.Lookup(name)); got != want {
			t.Errorf("Masked(--%s) = %q, want %q", name, got, want)
		}
	}
}

func TestLoad_PathMadeAbsolute(t *testing.T) {
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		args []string
		env  map[string]string
		want string
		src  Source
	}{
		{nil, nil, filepath.Join(wd, "data"), FromDefault},
		{[]string{"--data-dir", "x/y"}, nil, filepath.Join(wd, "x/y"), FromFlag},
		{nil, map[string]string{"NEWSFLOW_DATA_DIR": "../z"}, filepath.Join(filepath.Dir(wd), "z"), FromEnv},
		{[]string{"--data-dir", "/abs/dir"}, nil, "/abs/dir", FromFlag},
	} {
		var dir string
		fs := pflag.NewFlagSet("t", pflag.ContinueOnError)
		fs.StringVar(&dir, "data-dir", "./data", "")
		Config(fs, "Connections", "data-dir")
		Path(fs, "data-dir")
		if err := fs.Parse(c.args); err != nil {
			t.Fatal(err)
		}
		if err := Load(fs, env(c.env)); err != nil {
			t.Fatal(err)
		}
		if dir != c.want || SourceOf(fs, "data-dir") != c.src {
			t.Errorf("%v %v: got %q from %s, want %q from %s", c.args, c.env, dir, SourceOf(fs, "data-dir"), c.want, c.src)
		}
	}
}
