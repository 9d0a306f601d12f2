package natsflag

import (
	"net"
	"strings"
	"testing"

	"go.uber.org/zap"

	"newsflow/internal/natstest"
)

// JetStream connects to a real server and the context talks to JetStream;
// a server that is not there is an error naming NATS_URL, with nothing open.
func TestConn_JetStream(t *testing.T) {
	t.Parallel()
	c := Conn{URL: natstest.URL()}
	nc, js, err := c.JetStream(zap.NewNop(), "natsflag-test")
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	if _, err := js.AccountInfo(t.Context()); err != nil {
		t.Fatalf("account info through the JetStream context: %v", err)
	}

	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := "nats://" + l.Addr().String()
	_ = l.Close()
	nc, js, err = (&Conn{URL: dead}).JetStream(zap.NewNop(), "natsflag-test")
	if err == nil || nc != nil || js != nil || !strings.Contains(err.Error(), "NATS_URL") {
		t.Fatalf("JetStream(%s) = %v, %v, %v; want only an error naming NATS_URL", dead, nc, js, err)
	}
}
