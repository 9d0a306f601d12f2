// Package natstest gives tests an isolated corner of a real NATS JetStream
// server: a connection to the shared loopback server (NEWSFLOW_TEST_NATS_URL,
// default nats://127.0.0.1:4222), unique stream, consumer and subject names
// derived from the test's name, streams that are deleted when the test ends,
// and a private nats-server process for tests that restart the server.
//
// It is test support only; production code must not import it.
package natstest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// DefaultURL is the shared loopback server used when NEWSFLOW_TEST_NATS_URL is unset.
const DefaultURL = "nats://127.0.0.1:4222"

// URL returns the NATS server tests use: NEWSFLOW_TEST_NATS_URL or DefaultURL.
func URL() string {
	if u := os.Getenv("NEWSFLOW_TEST_NATS_URL"); u != "" {
		return u
	}
	return DefaultURL
}

// Connect connects to url (URL() when empty) and closes the connection in
// t.Cleanup. It fails the test if the server is unreachable.
func Connect(t testing.TB, url string, opts ...nats.Option) *nats.Conn {
	t.Helper()
	if url == "" {
		url = URL()
	}
	opts = append([]nats.Option{nats.Name("newsflow-test " + t.Name())}, opts...)
	nc, err := nats.Connect(url, opts...)
	if err != nil {
		t.Fatalf("natstest: connect %s: %v", url, err)
	}
	t.Cleanup(nc.Close)
	return nc
}

// JetStream connects to URL() and returns a JetStream context on it; the
// connection is closed in t.Cleanup.
func JetStream(t testing.TB) (jetstream.JetStream, *nats.Conn) {
	t.Helper()
	nc := Connect(t, "")
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatalf("natstest: jetstream: %v", err)
	}
	return js, nc
}

// Name returns a name unique to this test run, built from t.Name() and a
// random suffix, safe as a stream name, a consumer name and a subject token
// (letters, digits and '_' only).
func Name(t testing.TB) string {
	var b strings.Builder
	for _, r := range t.Name() {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9':
			b.WriteRune(r)
		default:
			b.WriteByte('_')
		}
		if b.Len() >= 40 {
			break
		}
	}
	var suffix [4]byte
	_, _ = rand.Read(suffix[:])
	return b.String() + "_" + hex.EncodeToString(suffix[:])
}

// DeleteStreamOnCleanup deletes the stream name when the test ends, ignoring
// a stream that no longer exists.
func DeleteStreamOnCleanup(t testing.TB, js jetstream.JetStream, name string) {
	t.Helper()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := js.DeleteStream(ctx, name); err != nil && !isNotFound(err) {
			t.Errorf("natstest: delete stream %s: %v", name, err)
		}
	})
}

// Stream creates a file-backed stream with a unique name on the subjects
// "<name>.>" and deletes it in t.Cleanup. It returns the stream; its name is
// Stream.CachedInfo().Config.Name and its subject prefix is that name.
func Stream(t testing.TB, js jetstream.JetStream) jetstream.Stream {
	t.Helper()
	name := Name(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	s, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: name, Subjects: []string{name + ".>"}})
	if err != nil {
		t.Fatalf("natstest: create stream %s: %v", name, err)
	}
	DeleteStreamOnCleanup(t, js, name)
	return s
}

func isNotFound(err error) bool {
	return errors.Is(err, jetstream.ErrStreamNotFound)
}
