package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/spf13/cobra"
	"go.uber.org/zap"

	"newsflow/internal/cli"
	"newsflow/internal/news"
	"newsflow/internal/publish"
)

// newSendCmd is "publisher send": JSONL files (or stdin) to JetStream.
func newSendCmd(e *env) *cobra.Command {
	var (
		cf         commonFlags
		noValidate bool
	)
	cmd := &cobra.Command{
		Use:   "send [flags] [FILE...]",
		Short: "publish JSONL files (or stdin), one message per line",
		Long:  "Publishes JSONL, one message per line, from each FILE (- or none: stdin).",
		Args:  cobra.ArbitraryArgs,
	}
	fs := cmd.Flags()
	cf.register(fs)
	fs.BoolVar(&noValidate, "no-validate", false, "publish lines verbatim, without decoding or validating them")
	cli.Config(fs, "Publishing", "no-validate")
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		ctx := cmd.Context()
		if err := cf.validate(); err != nil {
			return err
		}
		names := args
		if len(names) == 0 {
			names = []string{"-"}
		}
		// Open everything first: a typo should fail before anything is published.
		inputs := make([]input, 0, len(names))
		defer func() {
			for _, in := range inputs {
				_ = in.close()
			}
		}()
		for _, name := range names {
			in, err := openInput(name, e.stdin)
			if err != nil {
				return err
			}
			inputs = append(inputs, in)
		}
		sess, p, err := cf.openEngine(ctx, e)
		if err != nil {
			return err
		}
		defer sess.close()

		start := time.Now()
		s := sender{p: p, subject: cf.subject, validate: !noValidate, stderr: e.stderr}
		// Regular files give a total in bytes; stdin or a pipe a running count.
		total, read := progressTotal{bytes: true}, new(atomic.Int64)
		for i, in := range inputs {
			if in.size < 0 {
				total = progressTotal{total: -1}
				break
			}
			total.total += in.size
			inputs[i].r = countingReader{r: in.r, n: read}
		}
		current := read.Load
		if total.total < 0 {
			current = func() int64 { return p.Counts().Settled() }
		}
		prog := startProgress(e.stderr, total, current)
		var readErr error
		for _, in := range inputs {
			if readErr = s.sendAll(ctx, in); readErr != nil {
				break
			}
		}
		c := p.Close()
		prog.end()
		elapsed := time.Since(start)
		fmt.Fprintln(e.stdout, summary(c, s.invalid.Load(), elapsed))
		sess.log.Info("send done", zap.Int64("published", c.Published), zap.Int64("retried", c.Retried), zap.Int64("duplicates", c.Duplicates),
			zap.Int64("invalid", s.invalid.Load()), zap.Int64("failed", c.Failed), zap.Int64("not_attempted", c.NotAttempted),
			zap.Duration("duration", elapsed))
		return outcome(ctx, readErr, c, s.invalid.Load())
	}
	return cmd
}

// outcome is the command's error: a read error, an interruption, or the
// messages that did not make it.
func outcome(ctx context.Context, readErr error, c publish.Counts, invalid int64) error {
	var errs []error
	if readErr != nil {
		errs = append(errs, readErr)
	}
	if err := ctx.Err(); err != nil {
		errs = append(errs, fmt.Errorf("interrupted: %w", err))
	}
	if invalid > 0 {
		errs = append(errs, fmt.Errorf("%d invalid lines skipped", invalid))
	}
	if c.Failed > 0 {
		errs = append(errs, fmt.Errorf("%d messages failed to publish", c.Failed))
	}
	return errors.Join(errs...)
}

// input is one named source of lines.
type input struct {
	name  string // as shown in errors: the file name or "stdin"
	size  int64  // bytes of a regular file, -1 for stdin or a pipe
	r     io.Reader
	close func() error
}

func openInput(name string, stdin io.Reader) (input, error) {
	if name == "-" {
		return input{name: "stdin", size: -1, r: stdin, close: func() error { return nil }}, nil
	}
	f, err := os.Open(name)
	if err != nil {
		return input{}, err
	}
	size := int64(-1)
	if fi, err := f.Stat(); err == nil && fi.Mode().IsRegular() {
		size = fi.Size()
	}
	return input{name: name, size: size, r: f, close: f.Close}, nil
}

// sender turns lines into publishes.
type sender struct {
	p        *publish.Engine
	invalid  atomic.Int64 // lines rejected by validation, never published
	subject  string       // override, or "" for news.ingest.<source>
	validate bool
	stderr   io.Writer
	subjects map[string]string // source → subject cache
}

// maxLine bounds one line; longer lines are reported invalid and skipped.
const maxLine = 16 << 20

// sendAll publishes every non-blank line of in. Invalid lines are reported
// on stderr as "<file>:<line>: <reason>" and counted; it returns an error
// only when reading fails or ctx ends.
func (s *sender) sendAll(ctx context.Context, in input) error {
	br := bufio.NewReaderSize(in.r, 1<<20)
	for lineNo := 1; ; lineNo++ {
		line, tooLong, err := readLine(br)
		if len(line) > 0 || tooLong {
			where := in.name + ":" + strconv.Itoa(lineNo)
			if tooLong {
				s.reject(where, fmt.Errorf("line longer than %d bytes", maxLine))
			} else if perr := s.sendLine(ctx, line, where); perr != nil {
				return perr
			}
		}
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return fmt.Errorf("read %s: %w", in.name, err)
		}
	}
}

// readLine returns the next line without its line ending and surrounding
// blanks, in a fresh slice (it is published asynchronously). A line over
// maxLine is consumed and reported with tooLong.
func readLine(br *bufio.Reader) (line []byte, tooLong bool, err error) {
	var buf []byte
	for {
		frag, e := br.ReadSlice('\n')
		if len(buf)+len(frag) > maxLine {
			tooLong = true
		} else {
			buf = append(buf, frag...)
		}
		if e == bufio.ErrBufferFull {
			continue
		}
		if tooLong {
			buf = nil
		}
		return bytes.TrimSpace(buf), tooLong, e
	}
}

func (s *sender) sendLine(ctx context.Context, line []byte, where string) error {
	// A byte-order mark (an editor's, at the start of a file) is no part of
	// the message; workers would ignore it too.
	line = bytes.TrimPrefix(line, news.BOM)
	var source, id string
	if s.validate {
		m, err := news.Decode(line)
		if err != nil {
			s.reject(where, err)
			return nil
		}
		source, id = m.Source, m.ID
	} else {
		source, id = lenientIDs(line)
	}
	return s.p.Publish(ctx, s.subjectOf(source), line, id, where)
}

func (s *sender) reject(where string, err error) {
	s.invalid.Add(1)
	fmt.Fprintf(s.stderr, "%s: %v\n", where, err)
}

func (s *sender) subjectOf(source string) string {
	if s.subject != "" {
		return s.subject
	}
	if s.subjects == nil {
		s.subjects = map[string]string{}
	}
	subj, ok := s.subjects[source]
	if !ok {
		subj = subjectFor(source, "")
		if len(s.subjects) < 10000 {
			s.subjects[source] = subj
		}
	}
	return subj
}

// lenientIDs extracts source and id from an unvalidated line when it is a
// JSON object with string fields of those names; "" otherwise.
func lenientIDs(line []byte) (source, id string) {
	var v struct {
		ID     any `json:"id"`
		Source any `json:"source"`
	}
	if json.Unmarshal(line, &v) != nil {
		return "", ""
	}
	id, _ = v.ID.(string)
	source, _ = v.Source.(string)
	id, source = strings.TrimSpace(id), strings.TrimSpace(source)
	if len(id) > news.MaxIDBytes {
		id = ""
	}
	return source, id
}
