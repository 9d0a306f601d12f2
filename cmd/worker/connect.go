package main

import (
	"context"
	"fmt"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/spf13/pflag"
	"go.uber.org/zap"

	"newsflow/internal/cli"
	"newsflow/internal/natsflag"
	"newsflow/internal/stream"
)

// natsFlags are the connection flags of the subcommands that read a stream
// (lag, dlq, top): where NATS is and which stream.
type natsFlags struct {
	natsflag.Conn
	stream string
}

func (f *natsFlags) register(fs *pflag.FlagSet) {
	f.Conn.Register(fs)
	fs.StringVar(&f.stream, "stream", stream.DefaultName, "JetStream stream holding the news")
	cli.Config(fs, "Connections", "stream")
}

// connect dials NATS at --nats-url or, when that is empty, the embedded
// server a worker advertised in --data-dir.
func (f *natsFlags) connect(_ context.Context, log *zap.Logger, name string) (*nats.Conn, jetstream.JetStream, error) {
	nc, err := f.Conn.Connect(log, name)
	if err != nil {
		return nil, nil, err
	}
	js, err := jetstream.New(nc)
	if err != nil {
		nc.Close()
		return nil, nil, fmt.Errorf("jetstream: %w", err)
	}
	return nc, js, nil
}
